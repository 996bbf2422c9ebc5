#!/usr/bin/env python3
"""Copy the parts of Okta's OpenAPI specs the okta connector uses into fixtures/okta/.

Reads ../shared/specs/okta/{oauth,management}.yaml (okta/okta-management-openapi-spec @ fdda229e, spec 2026.06.3,
Apache-2.0) and writes:
  fixtures/okta/schemas.json   the component schemas the connector sends or parses, converted from OpenAPI 3.0 to
                               JSON Schema 2020-12 under $defs, every object closed to properties Okta does not define
  fixtures/okta/examples/*.json  Okta's own examples, verbatim
Run it again after the specs change: python3 scripts/okta-fixtures.py
"""
import json, pathlib, sys
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
specs = root.parent / "shared" / "specs" / "okta"
out = root / "fixtures" / "okta"
docs = {"oauth": yaml.safe_load(open(specs / "oauth.yaml")), "management": yaml.safe_load(open(specs / "management.yaml"))}

WANTED = {
    "oauth": ["Client", "OAuthError", "TokenResponse", "IntrospectionResponse", "OAuthKeys"],
    "management": ["OAuth2ClientSecret", "OAuth2ClientSecretRequestBody", "OAuth2Scope", "Error", "OpenIdConnectApplication"],
}
# Where Okta's spec disagrees with Okta (shared/specs/PROVIDERS.md §1.2): patched here, and recorded in $comment.
PATCHES = [
    ("oauth.Client", "properties.client_uri added ({type: [string, null]}): Okta's own request/response examples carry it"),
    ("oauth.Client", "properties.post_logout_redirect_uris: declared `type: string` with `items`; it is an array"),
]

defs, seen, allof_members = {}, set(), set()

def ref_name(doc, ref):
    return f"{doc}.{ref.split('/')[-1]}"

def collect_allof(doc, node):
    if isinstance(node, dict):
        for sub in node.get("allOf", []):
            if isinstance(sub, dict) and "$ref" in sub:
                allof_members.add(ref_name(doc, sub["$ref"]))
        for v in node.values():
            collect_allof(doc, v)
    elif isinstance(node, list):
        for v in node:
            collect_allof(doc, v)

def convert(doc, node, top=False, in_allof=False):
    if isinstance(node, list):
        return [convert(doc, v) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = ref_name(doc, node["$ref"])
        visit(doc, node["$ref"].split("/")[-1])
        return {"$ref": f"#/$defs/{name}"}
    res = {}
    for k, v in node.items():
        if k.startswith("x-") or k in ("example", "examples", "discriminator", "xml", "externalDocs", "nullable", "deprecated"):
            continue
        if k == "allOf":
            res[k] = [convert(doc, s, in_allof=True) for s in v]
        elif k in ("properties", "patternProperties", "$defs"):
            res[k] = {pk: convert(doc, pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            res[k] = convert(doc, v) if isinstance(v, dict) else v
        elif k in ("oneOf", "anyOf"):
            res[k] = [convert(doc, s) for s in v]
        else:
            res[k] = v
    if node.get("nullable"):
        t = res.get("type")
        if isinstance(t, str):
            res["type"] = [t, "null"]
        elif "enum" in res:
            res["enum"] = list(res["enum"]) + [None]
        else:
            res = {"anyOf": [res, {"type": "null"}]}
    # Close objects: a property Okta does not define fails (base schemas extended through allOf stay open, the
    # schema doing the extending is closed instead).
    if (("properties" in res or "allOf" in res) and "additionalProperties" not in res and not in_allof
            and not top):
        res["unevaluatedProperties"] = False
    return res

def visit(doc, name):
    key = f"{doc}.{name}"
    if key in seen:
        return
    seen.add(key)
    schema = docs[doc]["components"]["schemas"][name]
    converted = convert(doc, schema, top=key in allof_members)
    defs[key] = converted

for doc in docs:
    collect_allof(doc, docs[doc]["components"]["schemas"])
for doc, names in WANTED.items():
    for n in names:
        visit(doc, n)

client = defs["oauth.Client"]
client["properties"]["client_uri"] = {"type": ["string", "null"], "description": "patched in: see $comment"}
client["properties"]["post_logout_redirect_uris"] = {"type": "array", "items": {"type": "string"}}
for s in ("logo_uri", "policy_uri", "tos_uri", "initiate_login_uri", "jwks_uri"):
    p = client["properties"].get(s)
    if p and p.get("type") == "string":
        p["type"] = ["string", "null"]
PATCHES.append(("oauth.Client", "logo_uri and the other optional URIs accept null, as Okta's list response (ListClientsResponse) shows"))

# Okta's own examples carry fields its schemas lack or mistype: patched here, each one recorded.
jwk = defs["oauth.JsonWebKey"]["properties"]
for member in ("n", "e", "x", "y", "crv", "x5u", "x5t", "x5t#S256"):
    jwk.setdefault(member, {"type": "string"})
jwk.setdefault("x5c", {"type": "array", "items": {"type": "string"}})
PATCHES.append(("oauth.JsonWebKey", "RFC 7517/7518 key members (n, e, x, y, crv, x5c, x5t, x5t#S256, x5u) added: OAuthKeysExample carries them"))
defs["management.ApplicationLinks"]["properties"].setdefault("uploadLogo", {"$ref": "#/$defs/management.HrefObject"})
PATCHES.append(("management.ApplicationLinks", "uploadLogo added: OpenidConnectResponseEx carries it"))
settings = defs["management.ApplicationSettings"]["properties"]
settings.setdefault("app", {"type": "object"})
settings.setdefault("manualProvisioning", {"type": "boolean"})
PATCHES.append(("management.ApplicationSettings", "app (object) and manualProvisioning (boolean) added: OpenidConnectResponseEx carries them"))
for def_name, props in {
    "management.ApplicationAccessibility": ["errorRedirectUrl", "loginRedirectUrl"],
    "management.ApplicationSettingsNotes": ["admin", "enduser"],
    "management.ApplicationSettingsNotificationsVpn": ["helpUrl", "message"],
}.items():
    for prop in props:
        schema_prop = defs[def_name]["properties"][prop]
        if schema_prop.get("type") == "string":
            schema_prop["type"] = ["string", "null"]
    PATCHES.append((def_name, f"{', '.join(props)} accept null: OpenidConnectResponseEx returns null for them"))

schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$comment": {
        "source": "okta/okta-management-openapi-spec dist/current/{oauth,management}-oneOfInheritance.yaml @ fdda229e82940cf5af4611ad673ca6a27974e31b (spec 2026.06.3), as copied in shared/specs/okta/",
        "licence": "Apache-2.0 (the specs' info.license)",
        "generated_by": "scripts/okta-fixtures.py",
        "patches": [f"{k}: {v}" for k, v in PATCHES],
    },
    "$defs": dict(sorted(defs.items())),
}
(out / "schemas.json").write_text(json.dumps(schema, indent=1) + "\n")

EXAMPLES = {
    "oauth": ["ClientResponseWeb", "ClientResponseWebUpdate", "ClientResponseWebUpdateNewSecret", "ListClientsResponse",
              "ErrorInvalidClientMetadata", "ErrorResourceNotFound", "ErrorTooManyRequests", "IntrospectionAccessToken",
              "IntrospectionInactiveToken", "OAuthError401InvalidClient_InvalidClientId", "OAuthError400InvalidScope_MissingScopes",
              "OAuthKeysExample", "TokenResponseExample"],
    "management": ["oAuthClientSecretListResponse", "oAuth2ClientSecretResponse", "deactivateOAuth2ClientSecretResponse",
                   "ExampleOAuth2Scope", "ExampleOAuth2Scopes", "ErrorApiValidationFailed", "ErrorMaxNumberOfSecrets",
                   "ErrorDeleteActiveSecret", "ErrorDeactivateTheOnlyClientSecret", "ErrorInvalidTokenProvided",
                   "ErrorAccessDenied", "ErrorResourceNotFound", "ErrorTooManyRequests", "OpenidConnectResponseEx"],
}
(out / "examples").mkdir(exist_ok=True)
for doc, names in EXAMPLES.items():
    for n in names:
        value = docs[doc]["components"]["examples"][n]["value"]
        (out / "examples" / f"{doc}.{n}.json").write_text(json.dumps(value, indent=1) + "\n")
print(f"{len(defs)} schemas, {sum(len(v) for v in EXAMPLES.values())} examples", file=sys.stderr)
