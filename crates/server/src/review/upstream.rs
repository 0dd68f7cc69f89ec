//! Show Document and Show Report for entries of an ERPNext site: recorded by the gate in
//! front of it (`source` = `gate:<host>`) or imported from its own Access Log
//! (`frappe:<host>`). The buttons open the upstream's own `/app/…` pages, since the
//! records are there, not here.
//!
//! A gate entry's host comes from the client's `Host` unless `[gate] public_url` is set,
//! so a link is made for it only when it is that URL's host: a client cannot make the
//! review link to a site of its choosing. An import's host is the URL the operator gave.

use accesslog_core::entry::Event;
use accesslog_site::gate::{GateSettings, is_host, public_host};
use serde_json::Value;

use crate::percent::percent;
use crate::records::pages::slug;

/// Where the upstream's pages are for an entry, if it is an upstream's entry: the base URL,
/// or why there is no link.
pub fn base_of(gate: &GateSettings, source: &str) -> Option<Result<String, String>> {
    let (kind, host) = source
        .strip_prefix("gate:")
        .map(|h| ("gate", h))
        .or_else(|| source.strip_prefix("frappe:").map(|h| ("frappe", h)))?;
    if let Some(public) = gate.public_url.as_deref()
        && public_host(public) == Some(host)
    {
        return Some(Ok(public.trim_end_matches('/').to_owned()));
    }
    if kind == "gate" || !is_host(host) {
        return Some(Err(format!(
            "Recorded for the ERPNext site {host}; set [gate] public_url to its address to link to its pages."
        )));
    }
    let local =
        host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
    let scheme = if local { "http" } else { "https" };
    Some(Ok(format!("{scheme}://{host}")))
}

/// Show Document: the document's form on the upstream (a file's, for a private file).
pub fn document(base: &Result<String, String>, ev: &Event) -> Option<Result<String, String>> {
    let name = ev.reference_document.as_deref()?;
    let base = match base {
        Ok(b) => b,
        Err(why) => return Some(Err(why.clone())),
    };
    match ev.export_from.as_deref() {
        Some("File") => Some(Ok(format!("{base}/app/file?file_url={}", percent(name)))),
        Some(doctype) => Some(Ok(format!(
            "{base}/app/{}/{}",
            slug(doctype),
            percent(name)
        ))),
        None => None,
    }
}

/// Show Report: the report on the upstream, with the logged filters where they are a
/// plain object (a JSON `filters` parameter, or an import's parsed filters).
pub fn report(base: &Result<String, String>, ev: &Event) -> Option<String> {
    let report = ev.report_name.as_deref()?;
    let base = base.as_ref().ok()?;
    let recorded = ev.filters.as_ref().map(|f| f.to_value());
    // The gate keeps the request's `filters` parameter under `filters`; an import keeps
    // ERPNext's text as `raw` and, where it reads as a literal, `parsed`.
    let filters = match &recorded {
        Some(Value::Object(o)) => match (o.get("filters"), o.get("parsed"), o.get("raw")) {
            (Some(Value::Object(inner)), _, _) => Some(inner),
            (None, Some(Value::Object(parsed)), _) => Some(parsed),
            (None, None, None) => Some(o),
            _ => None,
        },
        _ => None,
    };
    let pairs: Vec<(String, String)> = filters
        .map(|f| {
            f.iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Number(n) => Some((k.clone(), n.to_string())),
                    Value::Bool(b) => Some((k.clone(), u8::from(*b).to_string())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let url = format!("{base}/app/query-report/{}", percent(report));
    Some(crate::percent::with_query(&url, pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accesslog_core::entry::{Activity, CanonicalJson};
    use serde_json::json;

    fn gate(public: Option<&str>) -> GateSettings {
        GateSettings {
            public_url: public.map(str::to_owned),
            ..GateSettings::default()
        }
    }

    #[test]
    fn links_go_to_the_upstream_only_when_its_address_is_known() {
        let g = gate(Some("https://erp.example.com"));
        assert_eq!(
            base_of(&g, "gate:erp.example.com"),
            Some(Ok("https://erp.example.com".into()))
        );
        assert!(base_of(&g, "gate:evil.example").unwrap().is_err());
        assert!(
            base_of(&gate(None), "gate:erp.example.com")
                .unwrap()
                .is_err()
        );
        assert_eq!(
            base_of(&gate(None), "frappe:erp.example.com"),
            Some(Ok("https://erp.example.com".into()))
        );
        assert_eq!(
            base_of(&gate(None), "frappe:127.0.0.1:8000"),
            Some(Ok("http://127.0.0.1:8000".into()))
        );
        assert_eq!(base_of(&gate(None), "local"), None);
    }

    #[test]
    fn documents_and_reports_open_on_the_upstream() {
        let base = Ok("https://erp.example.com".to_owned());
        let mut ev = Event::new("hr@example.com", Activity::Export, "POST /");
        ev.export_from = Some("Sales Invoice".into());
        ev.reference_document = Some("SINV 1".into());
        ev.report_name = Some("General Ledger".into());
        ev.filters = Some(CanonicalJson::from_value(
            &json!({"filters": {"company": "Acme", "x": [1]}, "csv_quoting": "2"}),
        ));
        assert_eq!(
            document(&base, &ev),
            Some(Ok(
                "https://erp.example.com/app/sales-invoice/SINV%201".into()
            ))
        );
        assert_eq!(
            report(&base, &ev).as_deref(),
            Some("https://erp.example.com/app/query-report/General%20Ledger?company=Acme")
        );
        ev.filters = Some(CanonicalJson::from_value(
            &json!({"raw": "{'company': 'Acme'}", "parsed": {"company": "Acme"}}),
        ));
        assert_eq!(
            report(&base, &ev).as_deref(),
            Some("https://erp.example.com/app/query-report/General%20Ledger?company=Acme")
        );
        ev.filters = Some(CanonicalJson::from_value(&json!({"raw": "garbled("})));
        assert_eq!(
            report(&base, &ev).as_deref(),
            Some("https://erp.example.com/app/query-report/General%20Ledger")
        );
        ev.export_from = Some("File".into());
        ev.reference_document = Some("/private/files/a.pdf".into());
        assert!(
            document(&base, &ev)
                .unwrap()
                .unwrap()
                .starts_with("https://erp.example.com/app/file?file_url=")
        );
    }
}
