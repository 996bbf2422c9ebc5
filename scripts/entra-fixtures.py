#!/usr/bin/env python3
"""Copy Microsoft Graph's published OpenAPI subset (shared/specs/entra/graph-subset.yaml, OpenAPI 3.0.1) into
fixtures/entra/graph-subset.json, readable as JSON Schema 2020-12 by the contract tests. Two changes, recorded in
the file's `$comment`: OpenAPI 3.0's `nullable: true` becomes a `"null"` member of `type`; OData's open-type marker
`additionalProperties: {type: object}` is dropped, because under JSON Schema's `allOf` each part would refuse the
other parts' members (the tests check instead that every member the connector sends is declared somewhere in the
schema's `allOf` chain).

    python3 scripts/entra-fixtures.py ../shared/specs/entra/graph-subset.yaml > fixtures/entra/graph-subset.json
"""
import json
import sys

import yaml


def convert(node):
    if isinstance(node, dict):
        out = {
            k: convert(v)
            for k, v in node.items()
            if k != "nullable" and not (k == "additionalProperties" and v == {"type": "object"})
        }
        if node.get("nullable") is True:
            t = out.get("type")
            if isinstance(t, str):
                out["type"] = [t, "null"]
            elif "$ref" in out:
                out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        return out
    if isinstance(node, list):
        return [convert(v) for v in node]
    return node


spec = convert(yaml.safe_load(open(sys.argv[1])))
spec["$comment"] = (
    "Converted by scripts/entra-fixtures.py from shared/specs/entra/graph-subset.yaml "
    "(microsoftgraph/msgraph-metadata v1.0 subset): nullable -> type [..., null]; "
    "additionalProperties {type: object} (OData open types) dropped."
)
json.dump(spec, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
