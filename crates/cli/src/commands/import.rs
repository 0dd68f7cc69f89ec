//! `accesslog import --site DIR --doctype T FILE`

use std::io::IsTerminal;
use std::path::PathBuf;

use accesslog_app::naming::new_name;
use accesslog_app::values::document_values;
use accesslog_core::Clock;
use accesslog_core::SystemClock;
use accesslog_store::{ChildRows, Document, NewDocument, SqlValue};
use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Map, Value};

/// Import documents from a CSV or JSON file
///
/// CSV: a header row of fieldnames, then one document per row (no child tables). JSON: a
/// list of objects, each a document, with child tables as lists of objects. Every row is
/// checked first; if any is wrong, each problem is listed by line (CSV) or position
/// (JSON) and nothing is written. Otherwise all rows are written in one transaction.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// The document type, e.g. "Customer".
    #[arg(long)]
    doctype: String,
    /// The file: .csv or .json.
    file: PathBuf,
}

/// One row to import and where it came from ("line 7" or "item 3").
struct Row {
    at: String,
    object: Map<String, Value>,
}

fn read_rows(path: &std::path::Path) -> anyhow::Result<Vec<Row>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "json" => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let Value::Array(items) = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", path.display()))?
            else {
                bail!("{} must hold a JSON list of documents", path.display());
            };
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(object) => Ok(Row {
                        at: format!("item {}", i + 1),
                        object,
                    }),
                    _ => bail!("item {} of {} is not an object", i + 1, path.display()),
                })
                .collect()
        }
        "csv" => {
            let mut reader = csv::Reader::from_path(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let headers: Vec<String> = reader
                .headers()?
                .iter()
                .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
                .collect();
            let mut rows = Vec::new();
            for record in reader.records() {
                let record =
                    record.with_context(|| format!("{} is not valid CSV", path.display()))?;
                let line = record.position().map_or(0, |p| p.line());
                let object = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(h, v)| (h.clone(), Value::String(v.to_owned())))
                    .collect();
                rows.push(Row {
                    at: format!("line {line}"),
                    object,
                });
            }
            Ok(rows)
        }
        _ => bail!("{} must be a .csv or .json file", path.display()),
    }
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (settings, store) = opts.site.open().await?;
    let doctypes = crate::open::doctypes(&settings, &*store).await?;
    let doctype = doctypes
        .get(&opts.doctype)
        .filter(|d| !d.is_child)
        .with_context(|| format!("there is no document type {:?} in this site", opts.doctype))?;
    let rows = read_rows(&opts.file)?;

    // Check every row before writing any.
    let mut problems = Vec::new();
    let mut checked = Vec::with_capacity(rows.len());
    for row in &rows {
        let values = match document_values(doctype, &row.object, true) {
            Ok((values, tables)) => {
                let mut children = Vec::new();
                let mut bad = None;
                for (fieldname, json_rows) in tables {
                    let child = doctypes
                        .children_of(doctype)
                        .find(|(f, _)| f.fieldname == fieldname)
                        .map(|(_, d)| d);
                    match (child, json_rows) {
                        (Some(child), Value::Array(items)) => {
                            let mut out = Vec::new();
                            for (i, item) in items.iter().enumerate() {
                                match item.as_object().map(|o| document_values(child, o, true)) {
                                    Some(Ok((v, _))) => out.push(v),
                                    Some(Err(e)) => {
                                        bad = Some(format!("{fieldname} row {}: {e}", i + 1))
                                    }
                                    None => {
                                        bad = Some(format!(
                                            "{fieldname} row {}: not an object",
                                            i + 1
                                        ))
                                    }
                                }
                            }
                            children.push(ChildRows {
                                fieldname,
                                doctype: child,
                                rows: out,
                            });
                        }
                        _ => bad = Some(format!("{fieldname} must be a list of rows")),
                    }
                }
                match bad {
                    Some(b) => Err(b),
                    None => Ok((values, children)),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        match values {
            Ok(v) => checked.push(v),
            Err(e) => problems.push(format!("{}: {e}", row.at)),
        }
    }
    if !problems.is_empty() {
        for p in problems.iter().take(50) {
            eprintln!("  {p}");
        }
        if problems.len() > 50 {
            eprintln!("  … and {} more", problems.len() - 50);
        }
        bail!(
            "{} of {} rows are not valid; nothing was imported",
            problems.len(),
            rows.len()
        );
    }

    let bar = std::io::stderr()
        .is_terminal()
        .then(|| indicatif::ProgressBar::new(checked.len() as u64));
    let stamp = SystemClock
        .now()
        .to_rfc3339()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned();
    let mut docs = Vec::with_capacity(checked.len());
    for ((mut values, children), row) in checked.into_iter().zip(&rows) {
        let given = row.object.get("name").and_then(Value::as_str);
        let name = new_name(&*store, doctype, &values, given)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", row.at))?;
        for (k, v) in [
            ("owner", "import"),
            ("modified_by", "import"),
            ("creation", stamp.as_str()),
            ("modified", stamp.as_str()),
        ] {
            values.insert(k.to_owned(), SqlValue::Text(v.to_owned()));
        }
        docs.push(NewDocument {
            doc: Document {
                name,
                values,
                children: Default::default(),
            },
            children,
        });
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    store
        .insert_documents(doctype, &docs)
        .await
        .with_context(|| "nothing was imported".to_owned())?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    println!("Imported {} {} documents.", docs.len(), doctype.name);
    Ok(())
}
