//! `GET /api/openapi.json`: an OpenAPI 3.1 description of the JSON API, generated from the
//! router's own route table (`egress::Routes`), so no route can be missing from it: each
//! `/api/…` route with its methods, path parameters, how it is recorded (or why it is
//! not), the ERPNext error shape, and the authentication schemes. The Access Log's entry,
//! proofs and checkpoint have schemas of their own; the entry's is made from core's list
//! of its 24 fields.

use accesslog_core::entry::schema::{FIELDS, Kind};
use axum::Json;
use axum::extract::State;
use axum::http::Method;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder,
};

use crate::egress::{RouteInfo, RouteKind};
use crate::state::AppState;

pub async fn serve(State(state): State<AppState>) -> Json<OpenApi> {
    let routes = crate::routes(state);
    Json(document(routes.table()))
}

/// Whether a route is part of the JSON API described.
pub fn is_json_api(path: &str) -> bool {
    path.starts_with("/api/")
}

fn method(m: &Method) -> Option<HttpMethod> {
    Some(match *m {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => return None,
    })
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// An entry as the API answers it (`log_query::entry_json`): every field of core's list,
/// `timestamp` as RFC 3339, `filters` and `columns` as JSON, `roles` a list.
fn entry_schema() -> Schema {
    let mut o = ObjectBuilder::new().description(Some(
        "An Access Log entry: the 24 fields of the canonical entry (docs/log-format.md).",
    ));
    for f in FIELDS {
        let s: Schema = match (f.name, f.kind) {
            ("timestamp", _) => string()
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::DateTime,
                )))
                .into(),
            ("roles", _) => ArrayBuilder::new().items(string()).into(),
            (_, Kind::Integer) => ObjectBuilder::new().schema_type(Type::Integer).into(),
            (_, Kind::Json) => ObjectBuilder::new()
                .description(Some("JSON (an object of filters, or a list of columns)"))
                .into(),
            (_, Kind::Text) => string().into(),
        };
        o = o.property(f.name, s);
        if f.required {
            o = o.required(f.name);
        }
    }
    o.into()
}

/// What is left of a pruned or redacted entry (`GET /api/access-log/archived`).
fn archived_entry_schema() -> Schema {
    let nullable = |description: &str| -> Schema {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .description(Some(description))
            .into()
    };
    let boolean = || -> Schema { ObjectBuilder::new().schema_type(Type::Boolean).into() };
    ObjectBuilder::new()
        .description(Some(
            "An entry whose payload was pruned after archiving, or redacted on request: its seq and leaf hash stay in the tree; time, user and activity are null when the site does not keep them",
        ))
        .property("seq", integer())
        .required("seq")
        .property("pruned", boolean())
        .required("pruned")
        .property("redacted", boolean())
        .required("redacted")
        .property("timestamp", nullable("RFC 3339, when kept"))
        .property("user", nullable("when kept"))
        .property("activity", nullable("when kept"))
        .property("leaf_hash", string())
        .required("leaf_hash")
        .property(
            "archived_in",
            ObjectBuilder::new()
                .description(Some("The bundle holding the entry (name, sha256, first, last), or null"))
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::Object,
                    Type::Null,
                ])),
        )
        .property("status", string())
        .required("status")
        .into()
}

fn hashes(description: &str) -> Schema {
    ArrayBuilder::new()
        .items(string().description(Some("64 lower-case hex digits")))
        .description(Some(description))
        .into()
}

fn object(props: &[(&str, Schema)], description: &str) -> Schema {
    let mut o = ObjectBuilder::new().description(Some(description));
    for (name, s) in props {
        o = o.property(*name, s.clone()).required(*name);
    }
    o.into()
}

fn integer() -> Schema {
    ObjectBuilder::new().schema_type(Type::Integer).into()
}

/// The 200 answer of a route: its own schema where it has one.
fn success(path: &str) -> (&'static str, RefOr<Schema>) {
    let data = |inner: RefOr<Schema>| -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("data", inner)
            .required("data")
            .into()
    };
    match path {
        "/api/access-log" => (
            "application/json",
            data(
                ArrayBuilder::new()
                    .items(schema_ref("AccessLogEntry"))
                    .into(),
            ),
        ),
        "/api/access-log/archived" => (
            "application/json",
            ObjectBuilder::new()
                .property(
                    "data",
                    ArrayBuilder::new().items(schema_ref("ArchivedEntry")),
                )
                .required("data")
                .property(
                    "next_before",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .description(Some("Present when there may be more: pass it as `before`")),
                )
                .into(),
        ),
        "/api/access-log/{seq}" => ("application/json", data(schema_ref("AccessLogEntry"))),
        "/api/access-log/{seq}/proof" => ("application/json", schema_ref("InclusionProof")),
        "/api/access-log/consistency" => ("application/json", schema_ref("ConsistencyProof")),
        "/api/access-log/checkpoint" | "/api/access-log/public-key" => (
            "text/plain",
            string()
                .description(Some("A C2SP signed note (checkpoint) or verifier key"))
                .into(),
        ),
        "/api/health" | "/api/ready" => ("application/json", schema_ref("Health")),
        _ => (
            "application/json",
            ObjectBuilder::new()
                .description(Some(
                    "ERPNext's shapes: {\"data\": …} for REST, {\"message\": …} for methods",
                ))
                .into(),
        ),
    }
}

fn tag(path: &str) -> &'static str {
    if path.starts_with("/api/access-log") {
        "Access Log"
    } else if path.starts_with("/api/resource")
        || path.starts_with("/api/v2")
        || path.starts_with("/api/method")
    {
        "ERPNext"
    } else if path == "/api/health" || path == "/api/ready" {
        "Operations"
    } else {
        "Files and printing"
    }
}

/// The description of every JSON route in `routes`.
pub fn document(routes: &[RouteInfo]) -> OpenApi {
    let mut paths = Paths::new();
    for r in routes.iter().filter(|r| is_json_api(r.path)) {
        let Some(http) = method(&r.method) else {
            continue;
        };
        let how = match &r.kind {
            RouteKind::Egress(activity) => format!(
                "Recorded in the Access Log as `{}` before any data is sent; refused with 503 when it cannot be recorded, and a refusal is recorded too.",
                activity.as_str()
            ),
            RouteKind::Exempt(reason) => format!("Not recorded: {reason}."),
        };
        let id: String = format!("{}{}", r.method.as_str().to_lowercase(), r.path)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let (content_type, ok) = success(r.path);
        let mut op = OperationBuilder::new()
            .operation_id(Some(id))
            .summary(Some(format!("{} {}", r.method, r.path)))
            .description(Some(how))
            .tag(tag(r.path))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The answer")
                    .content(content_type, Content::new(Some(ok)))
                    .build(),
            );
        for (code, what) in [
            (
                "4XX",
                "Refused or bad input: the message names what was wrong",
            ),
            (
                "503",
                "The Access Log could not record the action, or the server is busy: nothing was sent",
            ),
        ] {
            op = op.response(
                code,
                ResponseBuilder::new()
                    .description(what)
                    .content("application/json", Content::new(Some(schema_ref("Error"))))
                    .build(),
            );
        }
        for segment in r.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name.trim_start_matches('*'))
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(string())),
                );
            }
        }
        if matches!(r.kind, RouteKind::Egress(_)) || r.path.starts_with("/api/access-log") {
            for scheme in ["session", "token", "basic"] {
                op = op.security(SecurityRequirement::new(scheme, Vec::<String>::new()));
            }
        }
        paths.add_path_operation(r.path.replace('*', ""), vec![http], op.build());
    }

    let components = ComponentsBuilder::new()
        .schema("AccessLogEntry", entry_schema())
        .schema("ArchivedEntry", archived_entry_schema())
        .schema(
            "InclusionProof",
            object(
                &[
                    ("seq", integer()),
                    ("leaf_index", integer()),
                    ("tree_size", integer()),
                    ("leaf_hash", string().into()),
                    (
                        "audit_path",
                        hashes("RFC 9162 inclusion path, deepest first"),
                    ),
                    ("root_hash", string().into()),
                    (
                        "entry",
                        string()
                            .description(Some("The canonical bytes, base64"))
                            .into(),
                    ),
                ],
                "An RFC 9162 inclusion proof of one entry in the tree of tree_size entries",
            ),
        )
        .schema(
            "ConsistencyProof",
            object(
                &[
                    ("first", integer()),
                    ("second", integer()),
                    ("first_root", string().into()),
                    ("second_root", string().into()),
                    ("path", hashes("RFC 9162 consistency path")),
                ],
                "An RFC 9162 consistency proof from the tree of first entries to that of second",
            ),
        )
        .schema(
            "Health",
            ObjectBuilder::new()
                .property("status", string())
                .required("status")
                .property("database", string())
                .property("checks", ObjectBuilder::new())
                .build(),
        )
        .schema(
            "Error",
            object(
                &[
                    ("message", string().into()),
                    ("exc_type", string().into()),
                    ("exception", string().into()),
                    ("exc", string().into()),
                    ("_server_messages", string().into()),
                ],
                "ERPNext's error shape, so Frappe clients raise on it",
            ),
        )
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sid",
                "The session cookie from POST /api/method/login",
            ))),
        )
        .security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "token KEY:SECRET (an API key made with accesslog user api-key create)",
            ))),
        )
        .security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("KEY as the user name, SECRET as the password"))
                    .build(),
            ),
        )
        .build();

    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Access Log")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A records server whose every read, print, export and download is recorded in a tamper-evident Access Log before data leaves. ERPNext-compatible REST and methods, the Access Log's own API, proofs and checkpoints.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}
