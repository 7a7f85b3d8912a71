#!/usr/bin/env python3
"""Every request body the gateway sent to the AWS fakes, validated with botocore's own validator.

The Bedrock Runtime and SageMaker Runtime models are not OpenAPI, so Prism cannot check them;
../shared/conformance/aws_validate.py (botocore's ParamValidator over the service model in
../shared/specs/aws-*/service-2.json) can. This reads each fake's call log (GET /__fake/calls),
maps each call's path to its operation and URI members, and runs aws_validate.py on the body.
Bodies that InvokeModel / InvokeEndpoint* carry are opaque blobs to the service model: there
the blob and the URI members are checked (the Titan and container bodies are checked by the
fakes themselves).

  aws_calls.py SHARED_DIR bedrock=http://127.0.0.1:PORT sagemaker=http://127.0.0.1:PORT
  aws_calls.py SHARED_DIR --negative-control

--negative-control validates a Converse body that is invalid on purpose and exits 0 only if
the validator reports it, proving validation is on. Exit 1 when any sent body is invalid.
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

from util import fake_calls

SERVICE = {
    "bedrock": "aws-bedrock-runtime",
    "sagemaker": "aws-sagemaker-runtime",
}


def operation(provider, path, body):
    """(operation, params to validate, URI members) for a recorded call, or None."""
    parts = path.strip("/").split("/")
    if len(parts) != 3:
        return None
    kind, name, op = parts
    name = urllib.parse.unquote(name)
    if provider == "bedrock" and kind == "model":
        if op == "converse":
            return "Converse", body, {"modelId": name}
        if op == "converse-stream":
            return "ConverseStream", body, {"modelId": name}
        if op == "invoke":
            return "InvokeModel", {"body": json.dumps(body)}, {"modelId": name}
    if provider == "sagemaker" and kind == "endpoints":
        if op == "invocations":
            return "InvokeEndpoint", {"Body": json.dumps(body)}, {"EndpointName": name}
        if op == "invocations-response-stream":
            return "InvokeEndpointWithResponseStream", {"Body": json.dumps(body)}, {"EndpointName": name}
    return None


def validate(shared, provider, op, params, uri):
    model = os.path.join(shared, "specs", SERVICE[provider], "service-2.json")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(params, f)
        path = f.name
    try:
        args = [sys.executable, os.path.join(shared, "conformance", "aws_validate.py"), model, op, path]
        for k, v in uri.items():
            args += ["--uri", f"{k}={v}"]
        r = subprocess.run(args, capture_output=True, text=True)
        return r.returncode == 0, (r.stdout + r.stderr).strip()
    finally:
        os.unlink(path)


def main():
    shared = sys.argv[1]
    if sys.argv[2:] == ["--negative-control"]:
        ok, report = validate(
            shared, "bedrock", "Converse",
            {"messages": "must be a list", "maxTokens": 5},
            {"modelId": "negative-control"},
        )
        print(f"  negative control: {'accepted (validation is OFF)' if ok else 'rejected as it must be'}")
        for line in report.splitlines()[:4]:
            print(f"    {line}")
        return 1 if ok else 0
    failed = False
    for item in sys.argv[2:]:
        provider, url = item.split("=", 1)
        calls = fake_calls(url)
        seen = {}
        invalid = 0
        for call in calls:
            found = operation(provider, call.get("path", ""), call.get("body"))
            if found is None:
                print(f"  {provider}: unexpected call {call.get('method')} {call.get('path')}")
                failed = True
                continue
            op, params, uri = found
            key = (op, json.dumps(params, sort_keys=True), json.dumps(uri, sort_keys=True))
            if key in seen:
                continue
            ok, report = validate(shared, provider, op, params, uri)
            seen[key] = ok
            if not ok:
                invalid += 1
                print(f"  {provider}: INVALID {op} {uri}: {report}")
        ops = sorted({k[0] for k in seen})
        print(f"  {provider}: {len(calls)} calls, {len(seen)} distinct bodies validated "
              f"({', '.join(ops) or 'none'}), {invalid} invalid")
        failed |= invalid > 0 or not seen
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
