//! The gate's reading of a request (crates/gate/src/classify.rs, compiled in by path):
//! any method, path, query and form or JSON body.
//!
//! Properties: no panic; deterministic; `make_access_log` as `cmd` is always a write to
//! the Access Log, whatever else the request says; a write method on the Access Log's
//! REST resource is always one too.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/gate/src/classify.rs"]
mod classify;

use classify::{Params, Route, classify};

#[derive(Arbitrary, Debug)]
struct Request {
    method: u8,
    prefix: u8,
    path: String,
    query: String,
    body: Vec<u8>,
    json: bool,
    forge: bool,
}

const PREFIXES: [&str; 10] = [
    "/",
    "/api/method/",
    "/api/v2/method/",
    "/api/resource/",
    "/api/resource/Access%20Log/",
    "/api/v2/document/",
    "/private/files/",
    "/backups/",
    "/printview",
    "/app/",
];

fuzz_target!(|r: Request| {
    let methods = [
        http::Method::GET,
        http::Method::POST,
        http::Method::PUT,
        http::Method::DELETE,
        http::Method::PATCH,
        http::Method::HEAD,
    ];
    let method = &methods[usize::from(r.method) % methods.len()];
    let path = format!("{}{}", PREFIXES[usize::from(r.prefix) % PREFIXES.len()], r.path);
    let read = |forge: bool| {
        let mut params = Params::from_query(&r.query);
        if r.json {
            params.add_json(&r.body);
        } else {
            params.add_urlencoded(&r.body);
        }
        if forge {
            params.push(
                "cmd".into(),
                "frappe.core.doctype.access_log.access_log.make_access_log".into(),
            );
        }
        params
    };
    let route = classify(method, &path, &read(false));
    assert_eq!(route, classify(method, &path, &read(false)), "deterministic");
    if r.forge {
        assert!(matches!(classify(method, &path, &read(true)), Route::LogWrite(_)));
    }
    if path.starts_with("/api/resource/Access%20Log/")
        && *method != http::Method::GET
        && *method != http::Method::HEAD
        && read(false).get("cmd").is_none()
    {
        assert!(matches!(route, Route::LogWrite(_)), "{method} {path}");
    }
});
