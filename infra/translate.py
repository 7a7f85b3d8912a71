#!/usr/bin/env python3
"""Translates infra/template.yaml from AWS SAM to plain CloudFormation, offline.

    python infra/translate.py infra/template.yaml OUT.json

The SAM transform is what CloudFormation runs on deploy (AWS::Serverless-2016-10-31); running
the same library (aws-sam-translator) here lets cfn-lint check the resources a deploy would
create, e.g. the Lambda::Url's InvokeMode, which it cannot see in the SAM form. No AWS call is
made: the template names no managed policy, so the loader of managed-policy ARNs is never
asked for one (it fails loudly if it is).
"""

import json
import os
import sys

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    def load(self):
        raise SystemExit("the template names a managed policy: the offline translation cannot resolve it")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    source, out = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        template, matches = decode_str(f.read())
    if matches or template is None:
        raise SystemExit(f"{source} does not parse: {matches}")
    # The pseudo parameters (AWS::Region, AWS::Partition) need a region; the translation is the
    # same in every commercial region.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = json.loads(json.dumps(template))
    # `sam deploy` uploads each function's build and puts its S3 location in CodeUri before the
    # transform runs; stand-in locations do the same here.
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and not str(properties.get("CodeUri", "s3://")).startswith("s3://"):
            properties["CodeUri"] = f"s3://offline-translation/{name}.zip"
    translated = transform(template, {}, NoManagedPolicies())
    with open(out, "w", encoding="utf-8") as f:
        json.dump(translated, f, indent=2, sort_keys=True)
        f.write("\n")
    resources = translated.get("Resources", {})
    urls = {k: v["Properties"].get("InvokeMode") for k, v in resources.items() if v["Type"] == "AWS::Lambda::Url"}
    print(f"{out}: {len(resources)} resources; function URLs and their invoke modes: {urls}")


if __name__ == "__main__":
    main()
