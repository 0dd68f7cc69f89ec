//! The Access Log itself as CSV or JSON Lines (`/app/access-log/export`, and
//! `accesslog log-export` on the command line), oldest first, with the review's filters.
//! The caller records the export (`log_export_event`) before it releases the file: the
//! auditors are audited.

use std::collections::BTreeMap;
use std::io::Write;

use accesslog_core::entry::{ACCESS_LOG, CanonicalJson, Entry, Event};
use accesslog_export::{Column, Exporter, FieldType, Format};
use accesslog_store::log_search::{EntryPage, EntryQuery};
use accesslog_store::{SqlValue, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::log_query::entry_json;
use crate::{AppError, AppResult};

/// The formats the log is exported in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Csv,
    JsonLines,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(LogFormat::Csv),
            "jsonl" | "json" | "ndjson" => Some(LogFormat::JsonLines),
            _ => None,
        }
    }

    pub fn file_type(self) -> &'static str {
        match self {
            LogFormat::Csv => "CSV",
            LogFormat::JsonLines => "JSONL",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            LogFormat::Csv => "csv",
            LogFormat::JsonLines => "jsonl",
        }
    }

    /// The media type of a file in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            LogFormat::Csv => "text/csv; charset=utf-8",
            LogFormat::JsonLines => "application/x-ndjson",
        }
    }
}

/// A written export of the log.
pub struct LogFile {
    pub path: tempfile::TempPath,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// What a failed write of the export file was doing.
const TEMP: &str = "writing the log export to a temporary file";

impl crate::gate::Content for LogFile {
    fn byte_count(&self) -> u64 {
        self.bytes
    }

    fn sha256(&self) -> String {
        self.sha256.clone()
    }
}

const FIELDS: [&str; 24] = accesslog_store::log::ENTRY_FIELDS;

fn csv_row(e: &Entry) -> Vec<SqlValue> {
    let Value::Object(map) = entry_json(e) else {
        return Vec::new();
    };
    FIELDS
        .iter()
        .map(|f| match map.get(*f) {
            None | Some(Value::Null) => SqlValue::Null,
            Some(Value::String(s)) => SqlValue::Text(s.clone()),
            Some(Value::Number(n)) => n
                .as_i64()
                .map_or_else(|| SqlValue::Text(n.to_string()), SqlValue::Int),
            Some(other) => SqlValue::Text(other.to_string()),
        })
        .collect()
}

/// Writes every entry matching `q`, oldest first, to a temporary file.
pub async fn write_log(store: &dyn Store, q: &EntryQuery, format: LogFormat) -> AppResult<LogFile> {
    enum Sink {
        Csv(Box<Exporter>),
        Json {
            out: std::io::BufWriter<tempfile::NamedTempFile>,
            hash: Sha256,
            bytes: u64,
        },
    }
    let mut sink = match format {
        LogFormat::Csv => {
            let columns = FIELDS
                .iter()
                .map(|f| Column {
                    label: (*f).to_owned(),
                    fieldtype: if matches!(*f, "seq" | "row_count" | "byte_count") {
                        FieldType::Int
                    } else {
                        FieldType::Data
                    },
                    width: None,
                })
                .collect();
            Sink::Csv(Box::new(Exporter::new(
                Format::Csv,
                columns,
                "Access Log",
                None,
            )?))
        }
        LogFormat::JsonLines => Sink::Json {
            out: std::io::BufWriter::with_capacity(
                256 * 1024,
                tempfile::NamedTempFile::new().map_err(AppError::io(TEMP))?,
            ),
            hash: Sha256::new(),
            bytes: 0,
        },
    };
    let mut rows = 0u64;
    let mut after = 0u64;
    loop {
        let batch = store
            .search_entries(q, EntryPage::After { after_seq: after }, 1000)
            .await?;
        for e in &batch {
            match &mut sink {
                Sink::Csv(x) => x.write_row(&csv_row(e))?,
                Sink::Json { out, hash, bytes } => {
                    let mut line = entry_json(e).to_string();
                    line.push('\n');
                    out.write_all(line.as_bytes()).map_err(AppError::io(TEMP))?;
                    hash.update(line.as_bytes());
                    *bytes += line.len() as u64;
                }
            }
            rows += 1;
        }
        match batch.last() {
            Some(last) if batch.len() == 1000 => after = last.seq,
            _ => break,
        }
    }
    Ok(match sink {
        Sink::Csv(x) => {
            let file = tokio::task::spawn_blocking(move || x.finish()).await??;
            LogFile {
                path: file.path,
                rows,
                bytes: file.byte_count,
                sha256: file.sha256,
            }
        }
        Sink::Json { out, hash, bytes } => {
            let file = out
                .into_inner()
                .map_err(|e| AppError::io(TEMP)(e.into_error()))?;
            LogFile {
                path: file.into_temp_path(),
                rows,
                bytes,
                sha256: hex::encode(hash.finalize()),
            }
        }
    })
}

/// The event that records an export of the log.
pub fn log_export_event(
    mut event: Event,
    params: &BTreeMap<String, String>,
    format: LogFormat,
    rows: u64,
) -> Event {
    event.export_from = Some(ACCESS_LOG.to_owned());
    event.file_type = Some(format.file_type().to_owned());
    let applied: serde_json::Map<String, Value> = params
        .iter()
        .filter(|(k, v)| k.as_str() != "format" && !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), Value::String(v.trim().to_owned())))
        .collect();
    event.filters = Some(CanonicalJson::from_value(&Value::Object(applied)));
    event.columns = Some(CanonicalJson::from_value(&Value::Array(
        FIELDS
            .iter()
            .map(|f| Value::String((*f).to_owned()))
            .collect(),
    )));
    event.row_count = Some(rows);
    event
}
