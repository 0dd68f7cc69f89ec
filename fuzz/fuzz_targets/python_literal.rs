//! ERPNext's Access Log filters as Python literals (crates/frappe-import/src/pyrepr.rs,
//! compiled in by path: the importer's crate would bring an HTTP client and TLS).
//!
//! Properties: no panic on any text; deterministic; an error points inside the text; what
//! it reads, written back as JSON, reads as the same value (it reads JSON too).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/frappe-import/src/pyrepr.rs"]
mod pyrepr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = pyrepr::parse(text);
    assert_eq!(first, pyrepr::parse(text), "deterministic");
    match first {
        Ok(value) => {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(pyrepr::parse(&json), Ok(value), "{json}");
        }
        Err(e) => assert!(e.at <= text.len(), "{e} in {} bytes", text.len()),
    }
});
