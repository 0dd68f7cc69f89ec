//! A site's print formats and raw formats, checked and compiled when the site opens, so a
//! syntax error names its file and line at startup rather than at the first print.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use accesslog_core::doctype::{DocType, FieldType};
use accesslog_site::SiteError;
use accesslog_site::doctypes::DocTypes;
use accesslog_store::{Document, SqlValue};
use minijinja::{Environment, ErrorKind, Value};

use crate::sandbox::{self, CappedOutput};

/// The generated format every document type has.
pub const STANDARD: &str = "Standard";

const STANDARD_TEMPLATE: &str = include_str!("standard.html");

/// The printer language of a raw format, from its file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawKind {
    Zpl,
    EscPos,
    Text,
}

impl RawKind {
    fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "zpl" => Some(RawKind::Zpl),
            "escpos" => Some(RawKind::EscPos),
            "txt" => Some(RawKind::Text),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            RawKind::Zpl => "zpl",
            RawKind::EscPos => "escpos",
            RawKind::Text => "txt",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RawKind::Zpl => "ZPL",
            RawKind::EscPos => "ESC/POS",
            RawKind::Text => "text",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatKind {
    /// An HTML print format (print view, PDF).
    Html,
    /// Printer commands.
    Raw(RawKind),
}

/// One format of one document type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintFormat {
    pub doctype: String,
    pub name: String,
    pub kind: FormatKind,
    /// Its file, relative to the site folder (`None` for `Standard`).
    pub file: Option<PathBuf>,
}

impl PrintFormat {
    fn template_name(&self) -> String {
        match (self.kind, &self.file) {
            (FormatKind::Html, None) => "print/Standard".to_owned(),
            (FormatKind::Html, Some(_)) => format!("print/{}/{}", self.doctype, self.name),
            (FormatKind::Raw(_), _) => format!("raw/{}/{}", self.doctype, self.name),
        }
    }
}

/// Why a render failed: the format, the line (when known) and what went wrong. Its
/// `Display` is for System Managers; [`RenderError::PLAIN`] is what others are told.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("print format {format:?}{at}: {message}", at = .line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct RenderError {
    pub format: String,
    pub line: Option<usize>,
    pub message: String,
}

impl RenderError {
    pub const PLAIN: &'static str =
        "This print format could not be rendered. A System Manager can see why on the same page.";
}

/// Every print and raw format of a site, compiled.
#[derive(Debug)]
pub struct PrintFormats {
    env: Environment<'static>,
    html: BTreeMap<String, Vec<PrintFormat>>,
    raw: BTreeMap<String, Vec<PrintFormat>>,
}

impl Default for PrintFormats {
    fn default() -> Self {
        Self::new()
    }
}

impl PrintFormats {
    /// Only the generated `Standard` format.
    pub fn new() -> Self {
        let mut env = sandbox::environment();
        // The built-in template is ours and tested; failing to compile it is a bug.
        if let Err(e) = env.add_template("print/Standard", STANDARD_TEMPLATE) {
            tracing::error!(error = %e, "the Standard print format does not compile");
        }
        Self {
            env,
            html: BTreeMap::new(),
            raw: BTreeMap::new(),
        }
    }

    /// Reads `print_formats/` and `raw_formats/` under `site_dir` (either may be absent).
    /// Each folder in them is named after a document type of `doctypes`; each file is a
    /// format named after the file. Every template is compiled here, so errors name the
    /// file and line now.
    pub fn load(site_dir: &Path, doctypes: &DocTypes) -> Result<Self, SiteError> {
        let mut formats = Self::new();
        for (folder, raw) in [("print_formats", false), ("raw_formats", true)] {
            for (doctype, path, stem, ext) in scan(site_dir, folder, doctypes)? {
                let kind = if raw {
                    FormatKind::Raw(RawKind::from_extension(&ext).ok_or_else(|| {
                        SiteError::Parse(
                            path.clone(),
                            "a raw format ends in .zpl, .escpos or .txt".to_owned(),
                        )
                    })?)
                } else if ext == "html" {
                    FormatKind::Html
                } else {
                    return Err(SiteError::Parse(
                        path,
                        "a print format is an .html file".to_owned(),
                    ));
                };
                if !raw && stem == STANDARD {
                    return Err(SiteError::Parse(
                        path,
                        "\"Standard\" is the format every type has already; give this one another name".to_owned(),
                    ));
                }
                let list = if raw {
                    formats.raw.entry(doctype.clone()).or_default()
                } else {
                    formats.html.entry(doctype.clone()).or_default()
                };
                if list.iter().any(|f| f.name == stem) {
                    return Err(SiteError::Parse(
                        path,
                        format!("{doctype} has two formats named {stem:?}"),
                    ));
                }
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| SiteError::Io(path.clone(), e.to_string()))?;
                let format = PrintFormat {
                    doctype,
                    name: stem,
                    kind,
                    file: path.strip_prefix(site_dir).ok().map(Path::to_path_buf),
                };
                formats
                    .env
                    .add_template_owned(format.template_name(), source)
                    .map_err(|e| {
                        let at = e.line().map(|l| format!("line {l}: ")).unwrap_or_default();
                        SiteError::Parse(path.clone(), format!("{at}{}", message(&e)))
                    })?;
                list.push(format);
            }
        }
        Ok(formats)
    }

    /// The HTML formats of `doctype`: `Standard` first, then the site's by name.
    pub fn html_formats(&self, doctype: &str) -> Vec<PrintFormat> {
        let mut all = vec![PrintFormat {
            doctype: doctype.to_owned(),
            name: STANDARD.to_owned(),
            kind: FormatKind::Html,
            file: None,
        }];
        all.extend(self.html.get(doctype).into_iter().flatten().cloned());
        all
    }

    /// The raw formats of `doctype`, by name.
    pub fn raw_formats(&self, doctype: &str) -> &[PrintFormat] {
        self.raw.get(doctype).map(Vec::as_slice).unwrap_or_default()
    }

    /// Renders `format` with `context` inside the sandbox. CPU-bound: call it off the
    /// async runtime.
    pub fn render(&self, format: &PrintFormat, context: Value) -> Result<String, RenderError> {
        let fail = |line, message| RenderError {
            format: format!("{}/{}", format.doctype, format.name),
            line,
            message,
        };
        let template = self
            .env
            .get_template(&format.template_name())
            .map_err(|e| fail(None, message(&e)))?;
        let mut out = CappedOutput::new();
        match template.render_captured_to(context, &mut out) {
            Ok(_) => {
                let text = String::from_utf8(out.bytes)
                    .map_err(|_| fail(None, "the output is not UTF-8 text".to_owned()))?;
                if text.contains('\0') {
                    return Err(fail(None, "the output contains a NUL character (code 0), which the Access Log cannot record; where a printer command takes 0, ESC/POS also takes '0' (code 48)".to_owned()));
                }
                Ok(text)
            }
            Err(_) if out.overflowed => Err(fail(
                None,
                format!(
                    "the output grew past {} MiB and was stopped",
                    sandbox::MAX_OUTPUT >> 20
                ),
            )),
            Err(e) => Err(fail(e.line(), message(&e))),
        }
    }
}

/// A minijinja error in words, naming the sandbox's limits plainly.
fn message(e: &minijinja::Error) -> String {
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    match e.kind() {
        ErrorKind::OutOfFuel => "the template ran too long (it used up its budget of work) and was stopped; look for a loop that does not end or a very large range".to_owned(),
        ErrorKind::TemplateNotFound => format!(
            "templates cannot read files; include, import and extends reach only this site's other formats by name (print/DocType/Name){detail}"
        ),
        _ => format!("{}{detail}", e.kind()),
    }
}

/// The files in `site_dir/folder/{DocType}/`, as (doctype, path, stem, extension), sorted.
fn scan(
    site_dir: &Path,
    folder: &str,
    doctypes: &DocTypes,
) -> Result<Vec<(String, PathBuf, String, String)>, SiteError> {
    let root = site_dir.join(folder);
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for dir in sorted_entries(&root)? {
        if !dir.is_dir() {
            continue;
        }
        let doctype = file_name(&dir);
        match doctypes.get(&doctype) {
            Some(d) if !d.is_child => {}
            _ => {
                return Err(SiteError::Parse(
                    dir,
                    format!(
                        "there is no document type named {doctype:?} to print; name the folder after one"
                    ),
                ));
            }
        }
        for path in sorted_entries(&dir)? {
            let name = file_name(&path);
            if name.starts_with('.') || !path.is_file() {
                continue;
            }
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name.as_str(), ""));
            if stem.is_empty() || stem.chars().any(|c| c.is_control() || c == '/') {
                return Err(SiteError::Parse(
                    path.clone(),
                    "not a format name".to_owned(),
                ));
            }
            found.push((
                doctype.clone(),
                path.clone(),
                stem.to_owned(),
                ext.to_owned(),
            ));
        }
    }
    Ok(found)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, SiteError> {
    let read =
        std::fs::read_dir(dir).map_err(|e| SiteError::Io(dir.to_path_buf(), e.to_string()))?;
    let mut paths = Vec::new();
    for entry in read {
        paths.push(
            entry
                .map_err(|e| SiteError::Io(dir.to_path_buf(), e.to_string()))?
                .path(),
        );
    }
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What a template sees: `doc` (the document's fields, `name`, `doctype`, and each child
/// table as a list of rows), `meta` (the type's fields and tables, for generic formats),
/// `site_name`, `print_format` and `printed_at`.
pub fn context(
    doctype: &DocType,
    tables: &[(&str, &DocType)],
    doc: &Document,
    site_name: &str,
    format: &str,
    printed_at: &str,
) -> Value {
    let mut fields: BTreeMap<String, Value> = doc
        .values
        .iter()
        .map(|(k, v)| (k.clone(), value(v)))
        .collect();
    fields.insert("name".to_owned(), Value::from(doc.name.as_str()));
    fields.insert("doctype".to_owned(), Value::from(doctype.name.as_str()));
    for (fieldname, _) in tables {
        let rows: Vec<Value> = doc
            .children
            .get(*fieldname)
            .into_iter()
            .flatten()
            .map(|row| {
                Value::from(
                    row.iter()
                        .map(|(k, v)| (k.clone(), value(v)))
                        .collect::<BTreeMap<String, Value>>(),
                )
            })
            .collect();
        fields.insert((*fieldname).to_owned(), Value::from(rows));
    }

    let meta_tables: Vec<Value> = tables
        .iter()
        .map(|(fieldname, child)| {
            let label = doctype
                .field(fieldname)
                .map(|f| f.label.clone())
                .unwrap_or_default();
            Value::from(BTreeMap::from([
                ("fieldname".to_owned(), Value::from(*fieldname)),
                ("label".to_owned(), Value::from(label)),
                ("fields".to_owned(), meta_fields(child)),
            ]))
        })
        .collect();
    let meta = BTreeMap::from([
        ("name".to_owned(), Value::from(doctype.name.as_str())),
        ("fields".to_owned(), meta_fields(doctype)),
        ("tables".to_owned(), Value::from(meta_tables)),
    ]);
    Value::from(BTreeMap::from([
        ("doc".to_owned(), Value::from(fields)),
        ("meta".to_owned(), Value::from(meta)),
        ("site_name".to_owned(), Value::from(site_name)),
        ("print_format".to_owned(), Value::from(format)),
        ("printed_at".to_owned(), Value::from(printed_at)),
    ]))
}

fn meta_fields(doctype: &DocType) -> Value {
    doctype
        .fields
        .iter()
        .filter(|f| f.fieldtype != FieldType::Table)
        .map(|f| {
            Value::from(BTreeMap::from([
                ("fieldname".to_owned(), Value::from(f.fieldname.as_str())),
                ("label".to_owned(), Value::from(f.label.as_str())),
                ("fieldtype".to_owned(), Value::from(f.fieldtype.as_str())),
            ]))
        })
        .collect()
}

fn value(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::from(()),
        SqlValue::Int(i) => Value::from(*i),
        SqlValue::Float(f) => Value::from(*f),
        SqlValue::Text(s) => Value::from(s.as_str()),
    }
}

#[cfg(test)]
impl PrintFormats {
    fn html_format(&self, doctype: &str, name: &str) -> Option<PrintFormat> {
        self.html_formats(doctype)
            .into_iter()
            .find(|f| f.name == name)
    }

    fn raw_format(&self, doctype: &str, name: &str) -> Option<&PrintFormat> {
        self.raw_formats(doctype).iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use accesslog_core::doctype::{Field, Naming};

    use super::*;

    fn field(name: &str, fieldtype: FieldType, options: Option<&str>) -> Field {
        Field {
            fieldname: name.into(),
            label: name.replace('_', " "),
            fieldtype,
            options: options.map(Into::into),
            reqd: false,
            in_list_view: false,
            search_index: false,
        }
    }

    fn doctypes() -> DocTypes {
        let invoice = DocType {
            name: "Sales Invoice".into(),
            is_child: false,
            naming: Naming::Prompt,
            fields: vec![
                field("customer", FieldType::Data, None),
                field("grand_total", FieldType::Currency, None),
                field("paid", FieldType::Check, None),
                field("items", FieldType::Table, Some("Sales Invoice Item")),
            ],
            permissions: Default::default(),
            log_reads: true,
        };
        let item = DocType {
            name: "Sales Invoice Item".into(),
            is_child: true,
            naming: Naming::Hash,
            fields: vec![field("item_code", FieldType::Data, None)],
            permissions: Default::default(),
            log_reads: true,
        };
        DocTypes::from_types(vec![invoice, item]).unwrap()
    }

    fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn invoice_context(types: &DocTypes, customer: &str) -> Value {
        let doctype = types.get("Sales Invoice").unwrap();
        let tables = types.child_tables(doctype);
        let doc = Document {
            name: "SINV-1".into(),
            values: BTreeMap::from([
                ("customer".into(), SqlValue::Text(customer.into())),
                ("grand_total".into(), SqlValue::Float(1234.5)),
                ("paid".into(), SqlValue::Int(1)),
            ]),
            children: BTreeMap::from([(
                "items".into(),
                vec![BTreeMap::from([(
                    "item_code".into(),
                    SqlValue::Text("W-1".into()),
                )])],
            )]),
        };
        context(
            doctype,
            &tables,
            &doc,
            "Site",
            "Standard",
            "2026-11-29T00:00:00Z",
        )
    }

    #[test]
    fn every_type_has_a_standard_format_that_escapes_data() {
        let types = doctypes();
        let formats = PrintFormats::load(site(&[]).path(), &types).unwrap();
        let standard = formats.html_format("Sales Invoice", STANDARD).unwrap();
        let html = formats
            .render(&standard, invoice_context(&types, "<script>x</script>"))
            .unwrap();
        assert!(html.contains("<h1>Sales Invoice</h1>"), "{html}");
        assert!(html.contains("1,234.50") && html.contains(">Yes<") && html.contains("W-1"));
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
        assert!(formats.raw_formats("Sales Invoice").is_empty());
    }

    #[test]
    fn site_formats_are_listed_after_standard_and_raw_ones_are_not_escaped() {
        let types = doctypes();
        let dir = site(&[
            (
                "print_formats/Sales Invoice/Plain.html",
                "<b>{{ doc.customer }}</b>",
            ),
            (
                "raw_formats/Sales Invoice/Label.zpl",
                "^XA^FD{{ doc.customer|zpl }}^FS^XZ",
            ),
            ("raw_formats/Sales Invoice/.hidden.txt", "ignored"),
        ]);
        let formats = PrintFormats::load(dir.path(), &types).unwrap();
        let names: Vec<String> = formats
            .html_formats("Sales Invoice")
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["Standard", "Plain"]);
        let plain = formats.html_format("Sales Invoice", "Plain").unwrap();
        assert_eq!(
            plain.file.as_deref(),
            Some(Path::new("print_formats/Sales Invoice/Plain.html"))
        );
        assert_eq!(
            formats
                .render(&plain, invoice_context(&types, "A&B"))
                .unwrap(),
            "<b>A&amp;B</b>"
        );
        let label = formats
            .raw_format("Sales Invoice", "Label")
            .unwrap()
            .clone();
        assert_eq!(label.kind, FormatKind::Raw(RawKind::Zpl));
        assert_eq!(
            formats
                .render(&label, invoice_context(&types, "A&B^XZ"))
                .unwrap(),
            "^XA^FDA&B XZ^FS^XZ"
        );
    }

    #[test]
    fn mistakes_in_the_site_are_named_with_file_and_line() {
        let types = doctypes();
        for (files, says) in [
            (
                vec![(
                    "print_formats/Sales Invoice/Bad.html",
                    "<p>\n{% for x in %}\n",
                )],
                "Bad.html: line 2: syntax error",
            ),
            (
                vec![("print_formats/Nope/A.html", "x")],
                "no document type named \"Nope\"",
            ),
            (
                vec![("print_formats/Sales Invoice Item/A.html", "x")],
                "no document type named \"Sales Invoice Item\"",
            ),
            (
                vec![("print_formats/Sales Invoice/Standard.html", "x")],
                "\"Standard\" is the format every type has already",
            ),
            (
                vec![("print_formats/Sales Invoice/A.txt", "x")],
                "a print format is an .html file",
            ),
            (
                vec![("raw_formats/Sales Invoice/A.pdf", "x")],
                "a raw format ends in .zpl, .escpos or .txt",
            ),
            (
                vec![
                    ("raw_formats/Sales Invoice/A.zpl", "x"),
                    ("raw_formats/Sales Invoice/A.txt", "x"),
                ],
                "two formats named \"A\"",
            ),
        ] {
            let err = PrintFormats::load(site(&files).path(), &types)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
    }

    #[test]
    fn render_errors_name_the_format_and_line() {
        let types = doctypes();
        let dir = site(&[
            (
                "print_formats/Sales Invoice/Broken.html",
                "ok\n{{ doc.customer|nosuchfilter }}",
            ),
            ("raw_formats/Sales Invoice/Nul.txt", "{{ doc.customer }}"),
        ]);
        let formats = PrintFormats::load(dir.path(), &types).unwrap();
        let broken = formats.html_format("Sales Invoice", "Broken").unwrap();
        let err = formats
            .render(&broken, invoice_context(&types, "A"))
            .unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("unknown filter"), "{err}");
        // NUL cannot be recorded (PostgreSQL text cannot hold it), so it cannot be printed.
        let nul = formats.raw_format("Sales Invoice", "Nul").unwrap().clone();
        let err = formats
            .render(&nul, invoice_context(&types, "A\0B"))
            .unwrap_err();
        assert!(err.message.contains("NUL"), "{err}");

        let dir = site(&[(
            "print_formats/Sales Invoice/Loop.html",
            "x\n{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
        )]);
        let formats = PrintFormats::load(dir.path(), &types).unwrap();
        let looping = formats.html_format("Sales Invoice", "Loop").unwrap();
        let err = formats
            .render(&looping, invoice_context(&types, "A"))
            .unwrap_err();
        assert_eq!(
            (err.format.as_str(), err.line),
            ("Sales Invoice/Loop", Some(2))
        );
        assert!(
            err.to_string().starts_with(
                "print format \"Sales Invoice/Loop\", line 2: the template ran too long"
            ),
            "{err}"
        );
    }
}
