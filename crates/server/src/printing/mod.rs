//! Printing documents: the print view (HTML) and its PDF at ERPNext's URLs, and raw
//! printing (printer commands, to the client or to a network printer). Each one is
//! recorded through [`Audit`] before anything leaves; a refusal is recorded as denied.
//!
//! The steps every print shares live here: find the type and check `print` permission,
//! load the document, pick the format, and render it in the sandbox.

pub mod raw;
pub mod view;

use std::sync::Arc;

use accesslog_core::SYSTEM_MANAGER;
use accesslog_core::doctype::{Action, DocType};
use accesslog_core::entry::{Activity, Event};
use accesslog_print::{PrintFormat, formats};
use accesslog_store::Document;
use serde::Deserialize;

use crate::audit::Audit;
use crate::error::WebError;
use crate::state::AppState;

/// The query every print takes: `doctype`, `name`, and `format` (default `Standard`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PrintQuery {
    pub doctype: Option<String>,
    pub name: Option<String>,
    pub format: Option<String>,
    /// Raw printing only: the network printer to send to.
    pub printer: Option<String>,
}

/// A document that may be printed by this user, with the event that will record it.
pub struct Printable<'a> {
    pub doctype: &'a DocType,
    pub tables: Vec<(&'a str, &'a DocType)>,
    pub doc: Document,
    pub event: Event,
}

impl PrintQuery {
    fn required(value: &Option<String>, what: &str) -> Result<String, WebError> {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                WebError::BadRequest(format!(
                    "Say which {what} to print: the {what} parameter is missing."
                ))
            })
    }

    pub fn format_or_standard(&self) -> String {
        self.format
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .unwrap_or(accesslog_print::STANDARD)
            .to_owned()
    }
}

/// Finds the document behind `q`, checking that the user may print its type. A user
/// without `print` permission is refused, and the refusal is recorded.
pub async fn printable<'a>(
    state: &'a AppState,
    audit: &Audit,
    q: &PrintQuery,
    activity: Activity,
    format: &str,
) -> Result<Printable<'a>, WebError> {
    let doctype_name = PrintQuery::required(&q.doctype, "doctype")?;
    let name = PrintQuery::required(&q.name, "name")?;
    let doctype = state
        .doctypes
        .get(&doctype_name)
        .filter(|d| !d.is_child)
        .ok_or_else(|| {
            WebError::NotFound(format!("There is no document type named {doctype_name:?}."))
        })?;
    let event = Event::print(&audit.actor(), activity, &doctype.name, &name, format);
    if !doctype.allows(&audit.who.user.roles, Action::Print) {
        let error = WebError::Forbidden(format!(
            "You do not have permission to print {}.",
            doctype.name
        ));
        return Err(audit.deny(state, event, error).await);
    }
    let tables = state.doctypes.child_tables(doctype);
    let doc = state
        .store
        .get_document(doctype, &tables, &name)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("{} {name} does not exist.", doctype.name)))?;
    Ok(Printable {
        doctype,
        tables,
        doc,
        event,
    })
}

/// Renders `format` for `p` in the sandbox, off the async runtime. A template error is
/// shown in full (format, line, message) to System Managers and plainly to others.
pub async fn render(
    state: &AppState,
    audit: &Audit,
    p: &Printable<'_>,
    format: PrintFormat,
) -> Result<String, WebError> {
    let context = formats::context(
        p.doctype,
        &p.tables,
        &p.doc,
        &state.settings.name,
        &format.name,
        &printed_at(&state.clock.now().to_rfc3339()),
    );
    let printing = Arc::clone(&state.printing);
    let rendered = tokio::task::spawn_blocking(move || printing.formats.render(&format, context))
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    rendered.map_err(|e| {
        tracing::warn!(error = %e, "a print format failed");
        if audit.who.user.has_role(SYSTEM_MANAGER) {
            WebError::Template(e.to_string())
        } else {
            WebError::Template(accesslog_print::RenderError::PLAIN.to_owned())
        }
    })
}

/// `2026-11-29T12:56:50.405137Z` → `2026-11-29 12:56:50 UTC`, as a print shows it.
pub(crate) fn printed_at(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(s) => format!("{} UTC", s.replacen('T', " ", 1)),
        None => rfc3339.to_owned(),
    }
}

/// The format `name` among `formats` (of `what`, e.g. "raw", for `doctype`); 404 naming
/// those there are when it is none of them.
fn format_named(
    formats: &[PrintFormat],
    what: &str,
    doctype: &str,
    name: &str,
) -> Result<PrintFormat, WebError> {
    formats
        .iter()
        .find(|f| f.name == name)
        .cloned()
        .ok_or_else(|| {
            WebError::NotFound(format!(
                "{doctype} has no {what} format named {name:?} (it has: {}).",
                known(formats.iter().map(|f| f.name.clone()))
            ))
        })
}

/// The names of the formats, for a "no such format" message.
fn known(formats: impl IntoIterator<Item = String>) -> String {
    let names: Vec<String> = formats.into_iter().collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// A print format in the menu: its print view and its PDF.
#[derive(Clone, Debug)]
pub struct PrintFormatLink {
    pub name: String,
    pub view_url: String,
    pub pdf_url: String,
}

/// A raw format in the menu: the printer language and where to download the commands.
#[derive(Clone, Debug)]
pub struct RawFormatLink {
    pub name: String,
    pub language: &'static str,
    pub url: String,
}

/// A network printer raw formats can be sent to.
#[derive(Clone, Debug)]
pub struct PrinterChoice {
    pub name: String,
    /// Its description, or its address.
    pub about: String,
}

/// The Print menu of a form: the print formats (each as a print view and a PDF), the raw
/// formats, and the network printers they can be sent to.
#[derive(Clone, Debug)]
pub struct PrintMenu {
    pub formats: Vec<PrintFormatLink>,
    pub raw: Vec<RawFormatLink>,
    pub printers: Vec<PrinterChoice>,
    /// Why PDFs are off, if they are.
    pub pdf_off: Option<String>,
}

impl PrintMenu {
    pub fn new(state: &AppState, doctype: &str, name: &str) -> Self {
        use crate::percent::percent;
        let q = |format: &str| {
            format!(
                "doctype={}&name={}&format={}",
                percent(doctype),
                percent(name),
                percent(format)
            )
        };
        let formats = state
            .printing
            .formats
            .html_formats(doctype)
            .into_iter()
            .map(|f| {
                let query = q(&f.name);
                PrintFormatLink {
                    name: f.name,
                    view_url: format!("/printview?{query}"),
                    pdf_url: format!("/api/method/frappe.utils.print_format.download_pdf?{query}"),
                }
            })
            .collect();
        let raw = state
            .printing
            .formats
            .raw_formats(doctype)
            .iter()
            .map(|f| {
                let label = match f.kind {
                    accesslog_print::FormatKind::Raw(k) => k.label(),
                    accesslog_print::FormatKind::Html => "HTML",
                };
                RawFormatLink {
                    name: f.name.clone(),
                    language: label,
                    url: format!("/api/raw-print?{}", q(&f.name)),
                }
            })
            .collect();
        let printers = state
            .settings
            .printers
            .iter()
            .map(|(n, p)| {
                let about = p
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("{}:{}", p.host, p.port));
                PrinterChoice {
                    name: n.clone(),
                    about,
                }
            })
            .collect();
        Self {
            formats,
            raw,
            printers,
            pdf_off: state.printing.pdf.as_ref().err().cloned(),
        }
    }
}

/// Turns `html` into a PDF with the site's Chromium and releases it as `file_name`, recorded
/// by `event` (which should say `file_type = PDF`). Without a Chromium the answer is 503,
/// saying how to enable PDFs, and the refusal is recorded.
pub async fn release_pdf(
    state: &AppState,
    audit: &Audit,
    event: Event,
    html: &str,
    file_name: &str,
) -> Result<crate::audit::AuditedResponse, WebError> {
    let renderer = match &state.printing.pdf {
        Ok(r) => r,
        Err(why) => {
            return Err(audit
                .deny(state, event, WebError::Unavailable(why.clone()))
                .await);
        }
    };
    let pdf = renderer.render(html).await.map_err(|e| {
        tracing::error!(error = %e, "PDF failed");
        WebError::Unavailable(format!(
            "The PDF could not be made: {e}. Try again; if it persists, tell your administrator."
        ))
    })?;
    audit
        .release(
            state,
            event,
            crate::audit::Payload::new(pdf, "application/pdf").download_as(file_name),
        )
        .await
}
