//! The demo site's data: a small company's customers, items, invoices with their items,
//! employees with their salaries and contracts, and general-ledger entries, made up
//! deterministically so that every demo looks the same.

pub mod history;

use std::path::Path;

use accesslog_app::sample_names::{
    ACCOUNTS, ADJECTIVES, DEPARTMENTS, FIRST, LAST, NOUNS, SUFFIXES, TERRITORIES,
};
use accesslog_core::Timestamp;
use accesslog_site::doctypes::DocTypes;
use accesslog_store::{ChildRows, Document, FileRecord, NewDocument, SqlValue, Store};
use anyhow::Context;
use std::collections::BTreeMap;

/// The demo's document types, as `doctypes/*.toml` files.
pub const DOCTYPES: [(&str, &str); 7] = [
    ("customer.toml", include_str!("doctypes/customer.toml")),
    ("supplier.toml", include_str!("doctypes/supplier.toml")),
    ("item.toml", include_str!("doctypes/item.toml")),
    (
        "sales_invoice.toml",
        include_str!("doctypes/sales_invoice.toml"),
    ),
    (
        "sales_invoice_item.toml",
        include_str!("doctypes/sales_invoice_item.toml"),
    ),
    ("employee.toml", include_str!("doctypes/employee.toml")),
    ("gl_entry.toml", include_str!("doctypes/gl_entry.toml")),
];

/// The demo's print formats and raw formats, by their path in the site.
pub const FORMATS: [(&str, &str); 3] = [
    (
        "print_formats/Sales Invoice/Classic.html",
        include_str!("print/sales_invoice_classic.html"),
    ),
    (
        "raw_formats/Sales Invoice/Shipping Label.zpl",
        include_str!("print/sales_invoice_shipping_label.zpl"),
    ),
    (
        "raw_formats/Sales Invoice/Receipt.escpos",
        include_str!("print/sales_invoice_receipt.escpos"),
    ),
];

/// The demo's query reports, as `reports/*.toml` files.
pub const REPORTS: [(&str, &str); 4] = [
    (
        "general_ledger.toml",
        include_str!("reports/general_ledger.toml"),
    ),
    (
        "sales_register.toml",
        include_str!("reports/sales_register.toml"),
    ),
    (
        "accounts_receivable.toml",
        include_str!("reports/accounts_receivable.toml"),
    ),
    (
        "salary_register.toml",
        include_str!("reports/salary_register.toml"),
    ),
];

/// Writes the demo's document types, formats and reports into a new site.
pub fn write_site_files(site_dir: &Path) -> anyhow::Result<()> {
    let doctypes = DOCTYPES.map(|(file, text)| (format!("doctypes/{file}"), text));
    let formats = FORMATS.map(|(path, text)| (path.to_owned(), text));
    let reports = REPORTS.map(|(file, text)| (format!("reports/{file}"), text));
    for (relative, text) in doctypes.into_iter().chain(formats).chain(reports) {
        let path = site_dir.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A small deterministic generator (xorshift64*), so the demo is the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn text(s: impl Into<String>) -> SqlValue {
    SqlValue::Text(s.into())
}

fn date(days_after_new_year: i64) -> String {
    let start =
        time::Date::from_calendar_date(2026, time::Month::January, 1).unwrap_or(time::Date::MIN);
    let d = start.saturating_add(time::Duration::days(days_after_new_year));
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn money(cents: u64) -> SqlValue {
    SqlValue::Float(cents as f64 / 100.0)
}

/// What `seed` made.
#[derive(Debug, Default)]
pub struct Seeded {
    pub customers: usize,
    pub invoices: usize,
    pub employees: usize,
    pub gl_entries: usize,
    pub files: usize,
}

/// A new record without child rows.
fn doc<'a>(name: String, values: Vec<(&str, SqlValue)>, now: &str) -> NewDocument<'a> {
    let mut map: BTreeMap<String, SqlValue> =
        values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    for (k, v) in [
        ("owner", "admin@example.com"),
        ("modified_by", "admin@example.com"),
    ] {
        map.insert(k.to_owned(), text(v));
    }
    map.insert("creation".to_owned(), text(now));
    map.insert("modified".to_owned(), text(now));
    NewDocument {
        doc: Document {
            name,
            values: map,
            children: BTreeMap::new(),
        },
        children: Vec::new(),
    }
}

async fn insert_all(
    store: &dyn Store,
    doctypes: &DocTypes,
    doctype: &str,
    docs: Vec<NewDocument<'_>>,
) -> anyhow::Result<()> {
    let dt = doctypes
        .get(doctype)
        .with_context(|| format!("the demo needs the type {doctype}"))?;
    for chunk in docs.chunks(500) {
        store
            .insert_documents(dt, chunk)
            .await
            .with_context(|| format!("inserting demo {doctype} records"))?;
    }
    Ok(())
}

/// Fills a fresh demo site: 200 customers, 30 items, 20 suppliers, 2,000 invoices with
/// 1–4 items each, 50 employees (the first ten with a private employment contract),
/// `gl_rows` general-ledger entries, and two public files.
pub async fn seed(
    store: &dyn Store,
    doctypes: &DocTypes,
    site_dir: &Path,
    now: Timestamp,
    gl_rows: u64,
) -> anyhow::Result<Seeded> {
    let stamp = now
        .to_rfc3339()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned();
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let mut seeded = Seeded::default();

    let items: Vec<(String, u64)> = (1..=30)
        .map(|i| (format!("ITEM-{i:03}"), 500 + rng.below(20_000)))
        .collect();
    let item_docs = items
        .iter()
        .map(|(code, rate)| {
            doc(
                code.clone(),
                vec![
                    ("item_code", text(code)),
                    ("item_name", text(format!("Product {code}"))),
                    ("standard_rate", money(*rate)),
                ],
                &stamp,
            )
        })
        .collect();
    insert_all(store, doctypes, "Item", item_docs).await?;

    let mut customers = Vec::new();
    'names: for a in ADJECTIVES {
        for n in NOUNS {
            customers.push(format!(
                "{a} {n} {}",
                SUFFIXES[customers.len() % SUFFIXES.len()]
            ));
            if customers.len() == 200 {
                break 'names;
            }
        }
    }
    let groups = ["Commercial", "Government", "Individual", "Non Profit"];
    let customer_docs = customers
        .iter()
        .map(|c| {
            doc(
                c.clone(),
                vec![
                    ("customer_name", text(c)),
                    ("customer_group", text(rng.pick(&groups))),
                    ("territory", text(rng.pick(&TERRITORIES))),
                ],
                &stamp,
            )
        })
        .collect();
    insert_all(store, doctypes, "Customer", customer_docs).await?;
    seeded.customers = customers.len();

    let supplier_groups = ["Raw Material", "Services", "Hardware"];
    let supplier_docs = (0..20)
        .map(|i| {
            let name = format!("{} Supplies {}", ADJECTIVES[i % 20], SUFFIXES[i % 4]);
            doc(
                name.clone(),
                vec![
                    ("supplier_name", text(name)),
                    ("supplier_group", text(supplier_groups[i % 3])),
                ],
                &stamp,
            )
        })
        .collect();
    insert_all(store, doctypes, "Supplier", supplier_docs).await?;

    let invoice_item = doctypes
        .get("Sales Invoice Item")
        .context("the demo needs Sales Invoice Item")?;
    let first = store.reserve_in_series("SINV-", 2000).await?;
    let statuses = ["Paid", "Paid", "Unpaid", "Overdue", "Paid", "Cancelled"];
    let mut invoices = Vec::with_capacity(2000);
    let mut invoice_totals = Vec::with_capacity(2000);
    for n in first..first + 2000 {
        let name = format!("SINV-{n:05}");
        let customer = customers[rng.below(customers.len() as u64) as usize].clone();
        let day = rng.below(330) as i64;
        let mut rows = Vec::new();
        let mut total = 0u64;
        for _ in 0..1 + rng.below(4) {
            let (code, rate) = &items[rng.below(items.len() as u64) as usize];
            let qty = 1 + rng.below(20);
            total += qty * rate;
            rows.push(BTreeMap::from([
                ("item_code".to_owned(), text(code)),
                ("qty".to_owned(), SqlValue::Float(qty as f64)),
                ("rate".to_owned(), money(*rate)),
                ("amount".to_owned(), money(qty * rate)),
            ]));
        }
        invoice_totals.push((name.clone(), customer.clone(), day, total));
        let mut invoice = doc(
            name,
            vec![
                ("customer", text(customer)),
                ("posting_date", text(date(day))),
                ("due_date", text(date(day + 30))),
                ("status", text(rng.pick(&statuses))),
                ("grand_total", money(total)),
            ],
            &stamp,
        );
        invoice.children = vec![ChildRows {
            fieldname: "items",
            doctype: invoice_item,
            rows,
        }];
        invoices.push(invoice);
    }
    seeded.invoices = invoices.len();
    insert_all(store, doctypes, "Sales Invoice", invoices).await?;

    let designations = ["Analyst", "Manager", "Associate", "Director", "Clerk"];
    let first_emp = store.reserve_in_series("EMP-", 50).await?;
    let employees: Vec<(String, String)> = (0..50u64)
        .map(|i| {
            (
                format!("EMP-{:04}", first_emp + i),
                format!("{} {}", FIRST[(i % 25) as usize], LAST[(i % 12) as usize]),
            )
        })
        .collect();
    let employee_docs = employees
        .iter()
        .map(|(id, name)| {
            doc(
                id.clone(),
                vec![
                    ("employee_name", text(name)),
                    ("department", text(rng.pick(&DEPARTMENTS))),
                    ("designation", text(rng.pick(&designations))),
                    ("date_of_joining", text(date(-(rng.below(3000) as i64)))),
                    ("ctc", money(3_000_000 + rng.below(12_000_000))),
                ],
                &stamp,
            )
        })
        .collect();
    insert_all(store, doctypes, "Employee", employee_docs).await?;
    seeded.employees = employees.len();

    let first_gl = store.reserve_in_series("ACC-GLE-", gl_rows.max(1)).await?;
    let mut gl = Vec::with_capacity(gl_rows as usize);
    for i in 0..gl_rows {
        let (voucher, customer, day, total) =
            &invoice_totals[(i as usize / 2) % invoice_totals.len()];
        let debit_side = i % 2 == 0;
        let account = if debit_side {
            "Debtors"
        } else {
            ACCOUNTS[1 + rng.below(7) as usize]
        };
        let amount = if i < 2 * invoice_totals.len() as u64 {
            *total
        } else {
            100 + rng.below(500_000)
        };
        gl.push(doc(
            format!("ACC-GLE-{:07}", first_gl + i),
            vec![
                ("posting_date", text(date(*day))),
                ("account", text(account)),
                ("party", text(customer)),
                ("debit", money(if debit_side { amount } else { 0 })),
                ("credit", money(if debit_side { 0 } else { amount })),
                ("voucher_type", text("Sales Invoice")),
                ("voucher_no", text(voucher)),
                (
                    "against",
                    text(if debit_side {
                        "Sales"
                    } else {
                        customer.as_str()
                    }),
                ),
                ("remarks", text(format!("Against {voucher} for {customer}"))),
                ("is_cancelled", SqlValue::Int(0)),
            ],
            &stamp,
        ));
    }
    seeded.gl_entries = gl.len();
    insert_all(store, doctypes, "GL Entry", gl).await?;

    for (id, name) in employees.iter().take(10) {
        let pdf = contract_pdf(id, name);
        seeded.files += attach(
            store,
            site_dir,
            now,
            &format!("contract-{id}.pdf"),
            true,
            ("Employee", id),
            pdf,
        )
        .await?;
    }
    for (file_name, item, content) in [
        (
            "price-list.txt",
            "ITEM-001",
            &b"ITEM-001 list price 12.00\n"[..],
        ),
        ("catalogue.txt", "ITEM-002", b"Our catalogue\n"),
    ] {
        let to = ("Item", item);
        seeded.files +=
            attach(store, site_dir, now, file_name, false, to, content.to_vec()).await?;
    }
    Ok(seeded)
}

async fn attach(
    store: &dyn Store,
    site_dir: &Path,
    now: Timestamp,
    file_name: &str,
    is_private: bool,
    (doctype, name): (&str, &str),
    bytes: Vec<u8>,
) -> anyhow::Result<usize> {
    let size = bytes.len() as u64;
    let sha = accesslog_app::blobs::store_blob(site_dir, bytes)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store
        .add_file(&FileRecord {
            name: format!("demo-{}", &sha[..10]),
            file_name: file_name.to_owned(),
            is_private,
            attached_to_doctype: Some(doctype.to_owned()),
            attached_to_name: Some(name.to_owned()),
            file_size: size,
            content_sha256: sha,
            owner: "hr@example.com".to_owned(),
            creation: now,
        })
        .await?;
    Ok(1)
}

/// A one-page PDF saying whose contract it is (valid enough for any reader).
fn contract_pdf(id: &str, name: &str) -> Vec<u8> {
    let text = format!("Employment contract {id} - {name}").replace(['(', ')', '\\'], " ");
    let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}
