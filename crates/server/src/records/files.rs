//! Files attached to documents: uploaded through ERPNext's `upload_file`, kept in the
//! site's `files/` folder under their SHA-256 (so a name can never reach the disk and
//! traversal is impossible by construction), and served at ERPNext's URLs. Every private
//! download or view is recorded before a byte leaves; refusals are recorded as denied.

use std::path::Path as FsPath;

use accesslog_core::doctype::Action;
use accesslog_core::entry::{Activity, CanonicalJson, Event, file_type_of};
use accesslog_store::{FileRecord, StoreError};
use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use accesslog_app::blobs::blob_path;

use crate::audit::{Audit, AuditedResponse, Disposition, Payload, content_disposition};
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::state::AppState;

/// Uploads larger than this are refused with 413.
pub const MAX_UPLOAD: usize = 25 * 1024 * 1024;

/// A file name as the client gave it, made safe to show and to use as a URL segment: the
/// last path component, no control characters, not hidden, at most 140 characters.
pub fn clean_file_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw).trim();
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let ok = !clean.is_empty() && !clean.starts_with('.') && clean.chars().count() <= 140;
    ok.then_some(clean)
}

/// Whether a name from a URL could be one of ours (anything else is a probe: 404).
fn plausible_file_name(name: &str) -> bool {
    clean_file_name(name).as_deref() == Some(name) && !name.contains("..")
}

fn content_type(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Inline only for types a browser shows without running anything on the site's origin;
/// everything else (HTML, SVG, unknown types) is a download.
fn disposition_of(content_type: &str) -> Disposition {
    let safe = ["application/pdf", "image/png", "image/jpeg", "text/plain"];
    if safe.iter().any(|t| content_type.starts_with(t)) {
        Disposition::Inline
    } else {
        Disposition::Attachment
    }
}

pub fn file_json(f: &FileRecord) -> Value {
    json!({
        "name": f.name,
        "doctype": "File",
        "file_name": f.file_name,
        "file_url": f.file_url(),
        "is_private": i64::from(f.is_private),
        "attached_to_doctype": f.attached_to_doctype,
        "attached_to_name": f.attached_to_name,
        "file_size": f.file_size,
        "content_hash": f.content_sha256,
        "owner": f.owner,
    })
}

/// Where an upload is attached, as the query string or the form names it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AttachTo {
    doctype: Option<String>,
    docname: Option<String>,
}

/// The document type `doctype`, when `who` may attach files to its document `docname` and
/// that document exists.
async fn check_attach<'a>(
    state: &'a AppState,
    who: &CurrentUser,
    doctype: &str,
    docname: &str,
) -> Result<&'a accesslog_core::doctype::DocType, WebError> {
    let dt = state
        .doctypes
        .get(doctype)
        .filter(|d| !d.is_child)
        .ok_or_else(|| WebError::NotFound(format!("DocType {doctype} not found")))?;
    let roles = &who.0.user.roles;
    if !(dt.allows(roles, Action::Write) || dt.allows(roles, Action::Create)) {
        return Err(WebError::Forbidden(format!(
            "You do not have permission to attach files to {doctype}"
        )));
    }
    if state.store.get_document(dt, &[], docname).await?.is_none() {
        return Err(WebError::NotFound(format!("{doctype} {docname} not found")));
    }
    Ok(dt)
}

/// An upload on its way to disk: written to a temporary file beside the blobs, hashed as
/// it comes, and refused as soon as it passes the limit.
struct Incoming {
    tmp: tempfile::NamedTempFile,
    len: usize,
    sha: Sha256,
}

async fn receive_file(
    site_dir: &FsPath,
    field: &mut axum::extract::multipart::Field<'_>,
    too_large: impl Fn() -> WebError,
) -> Result<Incoming, WebError> {
    use tokio::io::AsyncWriteExt;
    let dir = site_dir.join("files");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!("creating {}: {e}", dir.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix(".upload-")
        .tempfile_in(&dir)
        .map_err(|e| WebError::Internal(anyhow::anyhow!("a temporary file for an upload: {e}")))?;
    let mut out = tokio::fs::File::from_std(
        tmp.reopen()
            .map_err(|e| WebError::Internal(anyhow::anyhow!("reopening an upload: {e}")))?,
    );
    let mut incoming = Incoming {
        tmp,
        len: 0,
        sha: Sha256::new(),
    };
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            WebError::BadRequest(format!("reading the file: {e}"))
        }
    })? {
        incoming.len += chunk.len();
        if incoming.len > MAX_UPLOAD {
            return Err(too_large());
        }
        incoming.sha.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| WebError::Unavailable(format!("The upload could not be stored: {e}.")))?;
    }
    out.sync_all()
        .await
        .map_err(|e| WebError::Unavailable(format!("The upload could not be stored: {e}.")))?;
    Ok(incoming)
}

/// Moves a received upload to its place under its SHA-256; returns the digest.
async fn keep_file(site_dir: &FsPath, incoming: Incoming) -> Result<String, WebError> {
    let sha = hex::encode(incoming.sha.finalize());
    let path = blob_path(site_dir, &sha);
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if path.exists() {
            return Ok(());
        }
        std::fs::create_dir_all(path.parent().unwrap_or(FsPath::new(".")))?;
        incoming.tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    })
    .await
    .map_err(|e| WebError::Internal(e.into()))?;
    result.map_err(|e| WebError::Internal(anyhow::anyhow!("storing an upload: {e}")))?;
    Ok(sha)
}

/// `POST /api/method/upload_file` (multipart: `file`, `is_private`, `doctype`, `docname`;
/// `doctype` and `docname` may also come in the query string). The caller must be allowed
/// to write (or create) documents of the type, and the document must exist. That is
/// checked before the file's bytes are read whenever the type and name come first (in the
/// query, or as fields before `file`, as browsers and ERPNext's clients send them); a
/// caller who may attach to nothing is refused before any of the body is read. The file
/// goes to disk as it arrives, never whole into memory, and is cut off at [`MAX_UPLOAD`].
/// Files are private unless `is_private=0`.
pub async fn upload(
    State(state): State<AppState>,
    who: CurrentUser,
    headers: axum::http::HeaderMap,
    Query(target): Query<AttachTo>,
    mut form: Multipart,
) -> Result<Json<Value>, WebError> {
    let too_large = || {
        WebError::TooLarge(format!(
            "The file is larger than the {} MiB allowed.",
            MAX_UPLOAD / (1024 * 1024)
        ))
    };
    let roles = &who.0.user.roles;
    let may_attach_somewhere = state.doctypes.iter().any(|d| {
        !d.is_child && (d.allows(roles, Action::Write) || d.allows(roles, Action::Create))
    });
    if !may_attach_somewhere {
        return Err(WebError::Forbidden(
            "You do not have permission to attach files to any document.".to_owned(),
        ));
    }
    // Refuse an announced oversize body at once, rather than after reading 25 MiB of it.
    let announced = crate::request::header_text(&headers, header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > MAX_UPLOAD + 64 * 1024) {
        return Err(too_large());
    }
    let AttachTo {
        mut doctype,
        mut docname,
    } = target;
    let mut checked = false;
    if let (Some(dt), Some(dn)) = (&doctype, &docname) {
        check_attach(&state, &who, dt, dn).await?;
        checked = true;
    }
    let (mut file, mut is_private) = (None, true);
    while let Some(mut field) = form.next_field().await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            WebError::BadRequest(format!("The upload is not valid multipart: {e}"))
        }
    })? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                if file.is_some() {
                    return Err(WebError::BadRequest(
                        "Send one file per upload (the field `file` came twice).".to_owned(),
                    ));
                }
                if !checked && let (Some(dt), Some(dn)) = (&doctype, &docname) {
                    check_attach(&state, &who, dt, dn).await?;
                    checked = true;
                }
                let file_name = field.file_name().map(str::to_owned).unwrap_or_default();
                let incoming =
                    receive_file(&state.settings.site_dir, &mut field, too_large).await?;
                file = Some((file_name, incoming));
            }
            other => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| WebError::BadRequest(format!("reading {other}: {e}")))?;
                if text.len() > 1024 {
                    return Err(WebError::BadRequest(format!(
                        "The field `{}` is longer than 1024 bytes.",
                        other.chars().take(100).collect::<String>()
                    )));
                }
                match other {
                    "is_private" => is_private = !matches!(text.trim(), "0" | "false" | "False"),
                    "doctype" if !checked => doctype = Some(text),
                    "docname" if !checked => docname = Some(text),
                    _ => {}
                }
            }
        }
    }
    let (raw_name, incoming) = file.ok_or_else(|| {
        WebError::BadRequest("No file: send it in the multipart field `file`.".to_owned())
    })?;
    let file_name = clean_file_name(&raw_name)
        .ok_or_else(|| WebError::BadRequest(format!("{raw_name:?} cannot be a file name.")))?;
    let (Some(doctype), Some(docname)) = (doctype, docname) else {
        return Err(WebError::BadRequest(
            "Say which document the file belongs to: `doctype` and `docname`.".to_owned(),
        ));
    };
    if !checked {
        check_attach(&state, &who, &doctype, &docname).await?;
    }
    let size = incoming.len as u64;
    let sha = keep_file(&state.settings.site_dir, incoming).await?;
    let mut record = FileRecord {
        name: accesslog_core::secrets::random_hex(5),
        file_name: file_name.clone(),
        is_private,
        attached_to_doctype: Some(doctype),
        attached_to_name: Some(docname),
        file_size: size,
        content_sha256: sha,
        owner: who.0.user.email.clone(),
        creation: state.clock.now(),
    };
    // A taken name gets a short suffix before its extension, as ERPNext does.
    for attempt in 0..5 {
        match state.store.add_file(&record).await {
            Ok(()) => return Ok(Json(json!({ "message": file_json(&record) }))),
            Err(StoreError::Conflict(_)) if attempt < 4 => {
                let suffix = accesslog_core::secrets::random_hex(3);
                record.file_name = match file_name.rsplit_once('.') {
                    Some((stem, ext)) => format!("{stem}-{suffix}.{ext}"),
                    None => format!("{file_name}-{suffix}"),
                };
                record.name = accesslog_core::secrets::random_hex(5);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(WebError::Conflict(format!(
        "Could not find a free name for {file_name}."
    )))
}

/// `GET /private/files/{*file_name}`: only for users who may read the document the file is
/// attached to; every attempt is recorded, including paths of several segments (`../…`),
/// which name no file and are refused as probes.
pub async fn download_private(
    State(state): State<AppState>,
    audit: Audit,
    Path(file_name): Path<String>,
) -> Result<AuditedResponse, WebError> {
    let not_found = || WebError::NotFound(format!("There is no private file {file_name}."));
    if !plausible_file_name(&file_name) {
        let asked: String = file_name.chars().take(140).collect();
        let event = Event::file_download(&audit.actor(), &asked);
        return Err(audit.deny(&state, event, not_found()).await);
    }
    let mut event = Event::file_download(&audit.actor(), &file_name);
    event.file_type = file_type_of(&file_name);
    let Some(file) = state.store.file_by_url(true, &file_name).await? else {
        return Err(audit.deny(&state, event, not_found()).await);
    };
    send_file(&state, &audit, event, file).await
}

/// `GET /api/file/{id}`: a file by its id, private or public, on the same terms as by URL;
/// every attempt is recorded.
pub async fn download_by_id(
    State(state): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<AuditedResponse, WebError> {
    let asked: String = id.chars().take(140).collect();
    let mut event = Event::file_download(&audit.actor(), &asked);
    let file = match state.store.file_by_id(&id).await? {
        Some(f) if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => f,
        _ => {
            return Err(audit
                .deny(
                    &state,
                    event,
                    WebError::NotFound(format!("There is no file {id}.")),
                )
                .await);
        }
    };
    event.file_type = file_type_of(&file.file_name);
    send_file(&state, &audit, event, file).await
}

/// Checks that the caller may read the file's document, records, and sends.
async fn send_file(
    state: &AppState,
    audit: &Audit,
    mut event: accesslog_core::entry::Event,
    file: FileRecord,
) -> Result<AuditedResponse, WebError> {
    event.reference_document = Some(file.name.clone());
    event.filters = Some(CanonicalJson::from_value(&json!({
        "attached_to_doctype": file.attached_to_doctype,
        "attached_to_name": file.attached_to_name,
        "file_name": file.file_name,
    })));
    let roles = &audit.who.user.roles;
    let allowed = match file
        .attached_to_doctype
        .as_deref()
        .and_then(|d| state.doctypes.get(d))
    {
        Some(dt) => dt.allows(roles, Action::Read),
        None => {
            roles.iter().any(|r| r == accesslog_core::SYSTEM_MANAGER)
                || file.owner == audit.who.user.email
        }
    };
    if !allowed {
        let why = WebError::Forbidden(format!(
            "You may not read {} {}, so not its files either.",
            file.attached_to_doctype
                .as_deref()
                .unwrap_or("the document"),
            file.attached_to_name.as_deref().unwrap_or("")
        ));
        return Err(audit.deny(state, event, why).await);
    }
    let path = blob_path(&state.settings.site_dir, &file.content_sha256);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!("reading {}: {e}", path.display())))?;
    if hex::encode(Sha256::digest(&bytes)) != file.content_sha256 {
        return Err(WebError::Internal(anyhow::anyhow!(
            "the stored bytes of file {} no longer match their hash",
            file.name
        )));
    }
    let content_type = content_type(&file.file_name);
    let payload =
        Payload::new(bytes, content_type).file_named(&file.file_name, disposition_of(content_type));
    audit.release(state, event, payload).await
}

/// `GET /files/{file_name}`: public files, for anyone, not recorded.
pub async fn download_public(
    State(state): State<AppState>,
    Path(file_name): Path<String>,
) -> Result<Response, WebError> {
    let not_found = || WebError::NotFound(format!("There is no public file {file_name}."));
    if !plausible_file_name(&file_name) {
        return Err(not_found());
    }
    let file = state
        .store
        .file_by_url(false, &file_name)
        .await?
        .ok_or_else(not_found)?;
    let bytes = tokio::fs::read(blob_path(&state.settings.site_dir, &file.content_sha256))
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    let content_type = content_type(&file.file_name);
    let disposition = content_disposition(disposition_of(content_type), &file.file_name);
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, crate::headers::FILE_CSP),
        ],
        bytes,
    )
        .into_response();
    if let Ok(v) = header::HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[derive(serde::Deserialize)]
pub struct FileListParams {
    filters: Option<String>,
    limit_start: Option<String>,
    limit_page_length: Option<String>,
}

/// `GET /api/resource/File`: the files of one document (filter on `attached_to_doctype`
/// and `attached_to_name`, for whoever may read it), or every file for System Managers.
pub async fn list(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    axum::extract::Query(p): axum::extract::Query<FileListParams>,
) -> Result<AuditedResponse, WebError> {
    let mut event = audit.event(Activity::Read);
    event.export_from = Some("File".to_owned());
    let filters: serde_json::Map<String, Value> = match p.filters.as_deref() {
        None | Some("") => serde_json::Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Array(list)) => list
                .iter()
                .filter_map(|c| {
                    let c = c.as_array()?;
                    let (field, op, value) = match c.len() {
                        3 => (&c[0], &c[1], &c[2]),
                        4 => (&c[1], &c[2], &c[3]),
                        _ => return None,
                    };
                    (op.as_str() == Some("="))
                        .then(|| (field.as_str().unwrap_or_default().to_owned(), value.clone()))
                })
                .collect(),
            _ => {
                return Err(WebError::BadRequest(
                    "`filters` is not valid JSON".to_owned(),
                ));
            }
        },
    };
    let text = |k: &str| filters.get(k).and_then(Value::as_str).map(str::to_owned);
    let files = match (text("attached_to_doctype"), text("attached_to_name")) {
        (Some(doctype), Some(name)) => {
            let dt = state
                .doctypes
                .get(&doctype)
                .ok_or_else(|| WebError::NotFound(format!("DocType {doctype} not found")))?;
            if !dt.allows(&who.0.user.roles, Action::Read) {
                return Err(WebError::Forbidden(format!(
                    "You do not have permission to read {doctype}"
                )));
            }
            state.store.files_of(&doctype, &name).await?
        }
        _ if who.0.user.has_role(accesslog_core::SYSTEM_MANAGER) => {
            use crate::request::{MAX_OFFSET, whole_number_in};
            let limit = match whole_number_in(
                "limit_page_length",
                p.limit_page_length.as_deref(),
                20,
                u64::MAX,
            )? {
                0 => 20,
                n => n.min(10_000),
            };
            let start = whole_number_in("limit_start", p.limit_start.as_deref(), 0, MAX_OFFSET)?;
            state
                .store
                .list_files(u32::try_from(limit).unwrap_or(10_000), start)
                .await?
        }
        _ => {
            return Err(WebError::BadRequest(
                "Say whose files: filters {\"attached_to_doctype\": …, \"attached_to_name\": …}"
                    .to_owned(),
            ));
        }
    };
    let mut recorded = serde_json::Map::new();
    recorded.insert("filters".into(), Value::Object(filters.clone()));
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    crate::records::api::returned_names(&mut recorded, &names, state.settings.log.read_names_max);
    event.filters = Some(accesslog_core::entry::CanonicalJson::from_value(
        &Value::Object(recorded),
    ));
    event.row_count = Some(files.len() as u64);
    let body = json!({ "data": files.iter().map(file_json).collect::<Vec<_>>() });
    audit
        .release_read(
            &state,
            event,
            Payload::json(&body),
            crate::audit::Read::Report,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(
            clean_file_name("contract.pdf").as_deref(),
            Some("contract.pdf")
        );
        assert_eq!(
            clean_file_name(r"C:\Users\x\cv.pdf").as_deref(),
            Some("cv.pdf")
        );
        assert_eq!(
            clean_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(clean_file_name("a\u{0}b.txt").as_deref(), Some("ab.txt"));
        for bad in ["", "..", ".env", "a/", "   "] {
            assert!(clean_file_name(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn url_names_that_are_not_plain_are_refused() {
        assert!(plausible_file_name("contract.pdf"));
        for probe in ["../x", "a/b", "..", "a..b", ".hidden", r"a\b", "a\u{0}b"] {
            assert!(!plausible_file_name(probe), "{probe:?}");
        }
    }
}
