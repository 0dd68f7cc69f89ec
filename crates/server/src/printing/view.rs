//! The print view (`GET /printview`) and its PDF
//! (`GET /api/method/frappe.utils.print_format.download_pdf`), at ERPNext's URLs.

use accesslog_core::entry::Activity;
use askama::Template;
use axum::extract::{Query, State};

use super::{PrintQuery, format_named, printable, render};
use crate::audit::{Audit, AuditedResponse, Payload};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::percent::percent;
use crate::records::pages::slug;
use crate::state::AppState;

/// The printable page around a rendered format: A4 print CSS, and on screen a toolbar with
/// the format picker, Print and PDF.
#[derive(Template)]
#[template(path = "printview.html")]
struct PrintPage<'a> {
    doctype: &'a str,
    name: &'a str,
    format: &'a str,
    formats: Vec<String>,
    /// Off for the PDF.
    toolbar: bool,
    form_url: String,
    pdf_url: String,
    content: &'a str,
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The HTML of the print (checked, loaded, rendered) and the event that will record it;
/// `toolbar` is off for PDFs.
async fn page_for(
    state: &AppState,
    audit: &Audit,
    q: &PrintQuery,
    toolbar: bool,
) -> Result<(String, accesslog_core::entry::Event), WebError> {
    let format_name = q.format_or_standard();
    let p = printable(state, audit, q, Activity::Print, &format_name).await?;
    let formats = state.printing.formats.html_formats(&p.doctype.name);
    let format = format_named(&formats, "print", &p.doctype.name, &format_name)?;
    let content = render(state, audit, &p, format).await?;
    let doctype = p.doctype.name.as_str();
    let name = p.doc.name.as_str();
    let page = PrintPage {
        doctype,
        name,
        format: &format_name,
        formats: formats.into_iter().map(|f| f.name).collect(),
        toolbar,
        form_url: format!("/app/{}/{}", slug(doctype), percent(name)),
        pdf_url: format!(
            "/api/method/frappe.utils.print_format.download_pdf?{}",
            query_string(&[
                ("doctype", doctype),
                ("name", name),
                ("format", &format_name)
            ])
        ),
        content: &content,
    }
    .render()
    .map_err(|e| WebError::Internal(e.into()))?;
    Ok((page, p.event))
}

/// `GET /printview?doctype=T&name=N&format=F`: the printable page, recorded as
/// `activity = print`, `file_type = HTML`.
pub async fn printview(
    State(state): State<AppState>,
    _page: PageUser,
    audit: Audit,
    Query(q): Query<PrintQuery>,
) -> Result<AuditedResponse, WebError> {
    let (html, mut event) = page_for(&state, &audit, &q, true).await?;
    event.file_type = Some("HTML".to_owned());
    audit
        .release(&state, event, Payload::print_view(html))
        .await
}

/// `GET /api/method/frappe.utils.print_format.download_pdf?doctype=T&name=N&format=F`: the
/// same page as a PDF made by Chromium, recorded as `file_type = PDF`. Without a Chromium
/// the answer is 503, saying how to enable PDFs, and the refusal is recorded.
pub async fn download_pdf(
    State(state): State<AppState>,
    audit: Audit,
    Query(q): Query<PrintQuery>,
) -> Result<AuditedResponse, WebError> {
    let (html, mut event) = page_for(&state, &audit, &q, false).await?;
    event.file_type = Some("PDF".to_owned());
    let file_name = format!(
        "{}.pdf",
        event.reference_document.as_deref().unwrap_or("print")
    );
    super::release_pdf(&state, &audit, event, &html, &file_name).await
}
