//! The management API's OpenAPI 3.1 document, derived — never written by hand — from the one route table
//! (`ROUTE_DOCS`, written beside [`ROUTES`](super::ROUTES): method, path, who may call it, summary, parameters,
//! body, answer) and from the types themselves (their `utoipa::ToSchema` and `utoipa::IntoParams` derives read the
//! same serde attributes the wire uses, and the fields' doc comments). A route added to the table is in the
//! document; a field added to a DTO is in its schema.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::access::Access;
use super::dto::ErrorDto;

/// Schemas met while describing a route, to go into `components.schemas`.
pub(crate) type Schemas = Vec<(String, RefOr<Schema>)>;
/// A type's schema: a reference to its component (recorded in the [`Schemas`]), or the schema itself for a generic
/// type (whose component name would not say which instance it is).
pub(crate) type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;
/// The query or header parameters a type declares.
pub(crate) type ParamsFn = fn() -> Vec<utoipa::openapi::path::Parameter>;

/// What a route answers on success.
pub(crate) enum Answer {
    /// No body (`204`).
    Empty,
    /// A JSON body of this type.
    Json(SchemaFn),
    /// A stream of this media type.
    Stream(&'static str),
}

/// One route as the document describes it; the route table writes one per route.
pub(crate) struct RouteDoc {
    /// `get`, `post`, `put`, `delete`.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
    /// Who may call it: becomes the operation's `security`.
    pub access: Access,
    /// The entry's doc comment: the first paragraph is the summary, the rest the description.
    pub text: &'static str,
    /// Its query or header parameters.
    pub params: Option<ParamsFn>,
    /// Its JSON body.
    pub body: Option<SchemaFn>,
    /// The success status.
    pub status: u16,
    /// The success answer.
    pub answer: Answer,
}

/// A type's schema for the document (see [`SchemaFn`]).
pub(crate) fn schema_of<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    T::schemas(schemas);
    if std::any::type_name::<T>().contains('<') {
        T::schema()
    } else {
        schemas.push((T::name().into_owned(), T::schema()));
        Ref::from_schema_name(T::name()).into()
    }
}

/// A type's parameters for the document (see [`ParamsFn`]); the type says where each goes.
pub(crate) fn params_of<T: IntoParams>() -> Vec<utoipa::openapi::path::Parameter> {
    T::into_params(|| None)
}

/// The security scheme of admin tokens.
const ADMIN_TOKEN: &str = "adminToken";
/// The security scheme of key managers' access tokens.
const ACCESS_TOKEN: &str = "accessToken";

/// Who may call a route, as OpenAPI security requirements: any admin token, or an access token with one of the
/// scopes [`Access::scopes`] names (the same list the access middleware decides by). A public route has none.
fn security(access: Access) -> Vec<SecurityRequirement> {
    if access.scopes().is_empty() {
        return Vec::new();
    }
    std::iter::once(SecurityRequirement::new(ADMIN_TOKEN, Vec::<String>::new()))
        .chain(
            access
                .scopes()
                .iter()
                .map(|s| SecurityRequirement::new(ACCESS_TOKEN, [*s])),
        )
        .collect()
}

fn method_of(method: &str) -> HttpMethod {
    match method {
        "post" => HttpMethod::Post,
        "put" => HttpMethod::Put,
        "delete" => HttpMethod::Delete,
        "patch" => HttpMethod::Patch,
        _ => HttpMethod::Get,
    }
}

/// The `{name}` segments of a path template, as required string path parameters.
fn path_params(path: &str) -> impl Iterator<Item = utoipa::openapi::path::Parameter> + '_ {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build()
        })
}

fn json(schema: RefOr<Schema>) -> utoipa::openapi::content::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn error_response(description: &str) -> utoipa::openapi::response::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json(Ref::from_schema_name(ErrorDto::name()).into()))
        .build()
}

/// Builds the document.
pub fn document() -> OpenApi {
    let mut schemas: Schemas = Vec::new();
    schemas.push((ErrorDto::name().into_owned(), ErrorDto::schema()));
    ErrorDto::schemas(&mut schemas);
    let mut paths = PathsBuilder::new();
    for route in super::ROUTE_DOCS {
        let (summary, description) = match route.text.trim().split_once("\n\n") {
            Some((s, d)) => (s.trim(), Some(d.trim())),
            None => (route.text.trim(), None),
        };
        let mut op = OperationBuilder::new()
            .summary(Some(summary.replace('\n', "").trim_end_matches('.').to_owned()))
            .description(description.map(|d| d.replace("\n ", "\n").replace('\n', " ")))
            .operation_id(Some(format!("{} {}", route.method, route.path)))
            .parameters(Some(path_params(route.path)))
            .securities(Some(security(route.access)));
        if let Some(params) = route.params {
            op = op.parameters(Some(params()));
        }
        if let Some(body) = route.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", json(body(&mut schemas)))
                    .build(),
            ));
        }
        let ok = match &route.answer {
            Answer::Empty => ResponseBuilder::new().description("Done; no body"),
            Answer::Json(answer) => ResponseBuilder::new()
                .description("OK")
                .content("application/json", json(answer(&mut schemas))),
            Answer::Stream(media) => ResponseBuilder::new().description("The stream").content(
                media.to_string(),
                json(ObjectBuilder::new().schema_type(Type::String).into()),
            ),
        };
        op = op
            .response(route.status.to_string(), ok.build())
            .response(
                "4XX",
                error_response(
                    "Refused: the body says why, naming the field where one is at fault. 401 carries \
                     `WWW-Authenticate: Bearer`; 403 names the scope missing; 429 carries `Retry-After`",
                ),
            )
            .response(
                "5XX",
                error_response("The key manager or the store failed (502, 503 with `Retry-After`, 504)"),
            );
        paths = paths.path(route.path, PathItem::new(method_of(route.method), op.build()));
    }
    // One entry per name; every type's schema is the same wherever it was met.
    let schemas: BTreeMap<String, RefOr<Schema>> = schemas.into_iter().collect();
    let bearer = |description: &str, format: Option<&str>| {
        let mut http = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(description));
        if let Some(f) = format {
            http = http.bearer_format(f);
        }
        SecurityScheme::Http(http.build())
    };
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            ADMIN_TOKEN,
            bearer(
                "A named admin token (`keymanager admin-tokens`), `[server] admin_token`, or the generated \
                 `DATA_DIR/admin-token`",
                None,
            ),
        )
        .security_scheme(
            ACCESS_TOKEN,
            bearer(
                "An access token of a key manager in `[server] api_identity` (default: the resident), with the \
                 scope the operation names: `keymanager:apps` (one's own applications), `keymanager:admin` \
                 (everything) or `keymanager:gateway` (the revocation events)",
                Some("JWT"),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("keymanager management API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Applications, their keys (OAuth clients at any configured key manager), tokens and secrets.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

/// The document as JSON, built once.
pub(crate) fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_string(&document()).unwrap_or_else(|_| "{}".to_owned()))
}
