#!/usr/bin/env python3
"""Copy the parts of Keycloak's admin REST OpenAPI the keycloak connector uses into fixtures/keycloak/schemas.json.

Reads ../shared/specs/keycloak/admin-rest-26.6.json (Keycloak 26.6, as Keycloak publishes it; Apache-2.0, see
shared/specs/keycloak/LICENSE.txt) and writes the component schemas the connector sends or parses, with everything
they reference, as JSON Schema 2020-12 under $defs; every object refuses properties Keycloak does not define.
Run it again after the spec changes: python3 scripts/keycloak-fixtures.py
"""
import json, pathlib

root = pathlib.Path(__file__).resolve().parent.parent
spec = json.load(open(root.parent / "shared" / "specs" / "keycloak" / "admin-rest-26.6.json"))
schemas = spec["components"]["schemas"]
WANTED = ["ClientRepresentation", "CredentialRepresentation", "ClientScopeRepresentation", "ErrorRepresentation"]
defs = {}

def convert(node):
    if isinstance(node, list):
        return [convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        visit(name)
        return {"$ref": f"#/$defs/{name}"}
    res = {k: (convert(v) if k in ("items", "additionalProperties", "oneOf", "anyOf", "allOf") else
               {pk: convert(pv) for pk, pv in v.items()} if k == "properties" else v)
           for k, v in node.items() if not k.startswith("x-") and k not in ("example", "deprecated", "nullable")}
    if "properties" in res and "additionalProperties" not in res:
        res["unevaluatedProperties"] = False
    return res

def visit(name):
    if name in defs:
        return
    defs[name] = {}
    defs[name] = convert(schemas[name])

for n in WANTED:
    visit(n)
PATCHES = []
defs["ClientRepresentation"]["required"] = ["clientId"]
PATCHES.append("ClientRepresentation.required = [clientId]: Keycloak refuses a client without one (ClientsResource, "
               "shared/specs/PROVIDERS.md K2); the published spec marks nothing required")
out = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$comment": {
        "source": "shared/specs/keycloak/admin-rest-26.6.json: Keycloak's own published OpenAPI for 26.6",
        "licence": "Apache-2.0 (shared/specs/keycloak/LICENSE.txt)",
        "generated_by": "scripts/keycloak-fixtures.py",
        "patches": PATCHES,
    },
    "$defs": dict(sorted(defs.items())),
}
(root / "fixtures" / "keycloak" / "schemas.json").write_text(json.dumps(out, indent=1) + "\n")
print(f"{len(defs)} schemas")
