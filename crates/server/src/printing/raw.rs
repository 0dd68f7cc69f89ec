//! Raw printing (`/api/raw-print`): a raw format rendered to printer commands (ZPL for
//! label printers, ESC/POS for receipt printers, plain text), either handed to a print
//! client (`GET`) or sent to a network printer named in `site.toml` (`POST`, `printer=`).
//!
//! Either way the entry (`activity = raw_print`) carries the commands in `page`, so the
//! log shows exactly what was printed. For a network printer the entry's `method` also
//! names the printer and its address. The printer is connected to before anything is
//! recorded as sent: if it cannot be reached, the entry says `outcome = failed` and why.

use accesslog_core::entry::{Activity, Event};
use accesslog_print::{FormatKind, RawKind, printer};
use axum::extract::{Query, State};
use serde_json::json;

use super::{PrintQuery, format_named, known, printable, render};
use crate::audit::{Audit, AuditedResponse, Confirmation, Payload};
use crate::error::WebError;
use crate::request::FormDict;
use crate::state::AppState;

/// The commands of the raw format named in `q`, and the event that will record them.
async fn commands(
    state: &AppState,
    audit: &Audit,
    q: &PrintQuery,
) -> Result<(String, Event, RawKind), WebError> {
    let format_name = q
        .format
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            WebError::BadRequest(
                "Say which raw format to print: the format parameter is missing.".to_owned(),
            )
        })?
        .to_owned();
    let p = printable(state, audit, q, Activity::RawPrint, &format_name).await?;
    let formats = state.printing.formats.raw_formats(&p.doctype.name);
    let format = format_named(formats, "raw", &p.doctype.name, &format_name)?;
    let FormatKind::Raw(kind) = format.kind else {
        return Err(WebError::Internal(anyhow::anyhow!(
            "{format_name} is listed as raw but is not"
        )));
    };
    let text = render(state, audit, &p, format).await?;
    let mut event = p.event;
    event.file_type = Some("RAW".to_owned());
    event.page = Some(text.clone());
    Ok((text, event, kind))
}

/// `GET /api/raw-print?doctype=T&name=N&format=F`: the commands, for a print client to
/// send to its printer.
pub async fn download(
    State(state): State<AppState>,
    audit: Audit,
    Query(q): Query<PrintQuery>,
) -> Result<AuditedResponse, WebError> {
    let (text, event, kind) = commands(&state, &audit, &q).await?;
    let file_name = format!(
        "{}-{}.{}",
        event.reference_document.as_deref().unwrap_or("print"),
        event.print_format.as_deref().unwrap_or("raw"),
        kind.extension()
    );
    audit
        .release(
            &state,
            event,
            Payload::new(text, "application/octet-stream").download_as(&file_name),
        )
        .await
}

/// `POST /api/raw-print` with `doctype`, `name`, `format` and `printer` (in the query, a
/// form body or a JSON body): sends the commands to that network printer.
pub async fn send(
    State(state): State<AppState>,
    audit: Audit,
    FormDict(mut p): FormDict,
) -> Result<Confirmation, WebError> {
    let q = PrintQuery {
        doctype: p.remove("doctype"),
        name: p.remove("name"),
        format: p.remove("format"),
        printer: p.remove("printer"),
    };
    let printer_name = q
        .printer
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            WebError::BadRequest(
                "Say which printer to send to: the printer parameter is missing (GET this URL instead to receive the commands).".to_owned(),
            )
        })?
        .to_owned();
    let printer = state.settings.printers.get(&printer_name).ok_or_else(|| {
        WebError::NotFound(format!(
            "There is no printer named {printer_name:?} (printers: {}).",
            known(state.settings.printers.keys().cloned())
        ))
    })?;
    let (text, mut event, _) = commands(&state, &audit, &q).await?;
    event.method = format!(
        "{} to printer {printer_name:?} ({}:{})",
        event.method, printer.host, printer.port
    );
    let connection = match printer::connect(&printer_name, printer).await {
        Ok(c) => c,
        Err(e) => {
            let error = WebError::BadGateway(format!("{e}. Nothing was printed."));
            return Err(audit.fail(&state, event, error).await);
        }
    };
    let after = event.clone();
    let audited = audit
        .release(
            &state,
            event,
            Payload::new(text, "application/octet-stream"),
        )
        .await?;
    let seq = audited.receipt().map_or(0, |r| r.seq());
    if let Err(e) = connection.send(audited.bytes()).await {
        let error = WebError::BadGateway(format!(
            "{e}. Entry {seq} had recorded the commands as sent; the printer may have printed part of them."
        ));
        return Err(audit.fail(&state, after, error).await);
    }
    let body = json!({
        "message": {
            "printer": printer_name,
            "byte_count": audited.bytes().len(),
            "access_log_seq": seq,
        }
    });
    Ok(audited.confirmation(&body))
}
