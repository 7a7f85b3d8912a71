#!/usr/bin/env python3
"""Validates the admin API's OpenAPI document as the gateway serves it.

Usage: admin_openapi.py GATEWAY_URL

Fetches GATEWAY_URL/admin/v1/openapi.json (no token), validates it with openapi-spec-validator
(OpenAPI 3.1 rules, every $ref resolved), and, as a negative control, checks that the same
validator rejects a copy with a broken reference, so a validator that accepts anything cannot
pass this. Exits non-zero on any failure.
"""
import copy
import json
import sys
import urllib.request

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError


def main() -> int:
    url = sys.argv[1].rstrip("/") + "/admin/v1/openapi.json"
    with urllib.request.urlopen(url, timeout=30) as response:
        document = json.load(response)
    validate(document)
    operations = sum(len(item) for item in document["paths"].values())
    print(f"{url}: valid OpenAPI {document['openapi']}, {len(document['paths'])} paths, {operations} operations")

    broken = copy.deepcopy(document)
    schemas = broken["components"]["schemas"]
    schemas["KeyView"] = {"$ref": "#/components/schemas/NoSuchSchema"}
    try:
        validate(broken)
    except Exception as error:  # the validator reports unresolvable refs with several types
        print(f"negative control rejected as expected: {type(error).__name__}")
        return 0
    print("negative control: a document with a broken $ref was accepted", file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OpenAPIValidationError as error:
        print(f"invalid OpenAPI document: {error}", file=sys.stderr)
        sys.exit(1)
