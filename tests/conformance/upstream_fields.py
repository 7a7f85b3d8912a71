#!/usr/bin/env python3
"""Top-level request fields the gateway sent upstream that the provider's spec does not define.

Prism cannot see these (the specs have no `additionalProperties: false`, so a typo such as
`max_token` or an OpenAI-only field sent to Mistral passes), while several real providers
reject unknown fields outright (OpenAI: 400 "Unrecognized request argument"; Mistral: 422
"Extra inputs are not permitted"; Anthropic: 400 "Extra inputs are not permitted"). This reads every call the fake providers recorded
(GET /__fake/calls) and compares each chat/embeddings body (Anthropic: messages) with the
request schema of the same operation in the provider's prepared spec, matched by the last
segment of the path.

  upstream_fields.py SPECS_DIR PROVIDER=FAKE_URL... [--strict openai,together,mistral,anthropic,cohere,gemini]
                     [--ignore-model NAME]

Providers in --strict fail the check. For the others the findings are printed as
information: Groq's published spec lags its API (it defines ChatCompletionStreamOptions
but references it nowhere, while the API takes `stream_options`). Prism still reports any
field a spec closes with `additionalProperties: false`. Exit 1 if a strict provider got
an unknown field.
"""
import argparse
import json
import sys

import yaml

from util import fake_calls


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def properties(doc, node):
    node = resolve(doc, node)
    out = set(node.get("properties", {}))
    for sub in node.get("allOf", []):
        out |= properties(doc, sub)
    return out


def operation(path):
    """The operation a path names: its last segment, or for Google's `{resource}:{method}`
    paths (Gemini) the method after the colon."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[-1]


def allowed_fields(spec_path):
    with open(spec_path) as f:
        doc = yaml.safe_load(f)
    allowed = {}
    for path, item in doc.get("paths", {}).items():
        op = item.get("post") if isinstance(item, dict) else None
        if not op or "requestBody" not in op:
            continue
        schema = op["requestBody"].get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            allowed[operation(path)] = (path, properties(doc, schema))
    return allowed  # {"completions": (spec path, fields), "embeddings": (...), ...}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("specs_dir")
    p.add_argument("fakes", nargs="+", help="provider=http://127.0.0.1:PORT")
    p.add_argument("--strict", default="openai,together,mistral,anthropic,cohere,gemini")
    p.add_argument("--ignore-model", action="append", default=[])
    a = p.parse_args()
    strict = set(filter(None, a.strict.split(",")))
    failed = False
    for item in a.fakes:
        provider, url = item.split("=", 1)
        allowed = allowed_fields(f"{a.specs_dir}/{provider}-prism.yaml")
        calls = fake_calls(url)
        unknown = {}  # (spec path, field) -> count
        checked = 0
        for call in calls:
            if call.get("method", "").upper() != "POST":
                continue
            op = operation(call.get("path", ""))
            if op not in allowed:
                continue
            body = call.get("body")
            try:
                body = json.loads(body) if isinstance(body, str) else body
            except ValueError:
                continue
            if not isinstance(body, dict) or body.get("model") in a.ignore_model:
                continue
            checked += 1
            spec_path, fields = allowed[op]
            for key in body:
                if key not in fields:
                    unknown[(spec_path, key)] = unknown.get((spec_path, key), 0) + 1
        bad = bool(unknown) and provider in strict
        failed |= bad
        detail = ", ".join(f"{k} on {sp} x{n}" for (sp, k), n in sorted(unknown.items())) or "none"
        note = " <- not accepted by this provider" if bad else (" (information only)" if unknown else "")
        print(f"  {provider}: {checked} request bodies; fields outside its spec: {detail}{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
