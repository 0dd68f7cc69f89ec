//! Events, as the server records them.

use super::*;

/// One person's day being written: their draws and what they have taken out today.
pub(super) struct Day {
    pub(super) d: Draw,
    pub(super) kind: Kind,
    pub(super) manager: bool,
    /// Corpus day (0-based) and local days since the epoch.
    pub(super) day: i64,
    pub(super) epoch_day: i64,
    /// Who acts: the person from today's address; each event sets its method and
    /// request id.
    pub(super) who: Actor,
    pub(super) rows_today: u64,
}

/// `p` acting from `ip` in the browser, logged in.
pub(super) fn who(p: &Person, ip: String) -> Actor {
    Actor {
        user: p.email.clone(),
        roles: p.roles.clone(),
        method: String::new(),
        auth: Some("session".to_owned()),
        ip: Some(ip),
        user_agent: Some(p.user_agent.clone()),
        request_id: None,
    }
}

pub(super) fn slug(doctype: &str) -> String {
    doctype.to_ascii_lowercase().replace(' ', "-")
}

pub(super) fn url(name: &str) -> String {
    name.replace(' ', "%20")
}

/// A report of the demo: its name, type and columns.
pub(super) struct Report {
    pub(super) name: &'static str,
    pub(super) doctype: &'static str,
    pub(super) columns: &'static [&'static str],
}

pub(super) const GENERAL_LEDGER: Report = Report {
    name: "General Ledger",
    doctype: "GL Entry",
    columns: &[
        "posting_date",
        "account",
        "party",
        "voucher_type",
        "voucher_no",
        "debit",
        "credit",
        "against",
        "remarks",
        "is_cancelled",
    ],
};
pub(super) const SALES_REGISTER: Report = Report {
    name: "Sales Register",
    doctype: "Sales Invoice",
    columns: &[
        "invoice",
        "posting_date",
        "customer",
        "status",
        "items",
        "grand_total",
    ],
};
pub(super) const ACCOUNTS_RECEIVABLE: Report = Report {
    name: "Accounts Receivable",
    doctype: "Sales Invoice",
    columns: &[
        "customer",
        "invoice",
        "posting_date",
        "due_date",
        "status",
        "outstanding_amount",
    ],
};
pub(super) const SALARY_REGISTER: Report = Report {
    name: "Salary Register",
    doctype: "Employee",
    columns: &[
        "employee",
        "employee_name",
        "department",
        "designation",
        "date_of_joining",
        "ctc",
        "monthly_gross",
    ],
};

/// The list columns of each type, as a list view or list export asks for them.
pub(super) fn list_fields(doctype: &str) -> &'static [&'static str] {
    match doctype {
        "Sales Invoice" => &["name", "customer", "posting_date", "status", "grand_total"],
        "Customer" => &["name", "customer_name", "customer_group", "territory"],
        "Employee" => &["name", "employee_name", "department", "designation"],
        "Item" => &["name", "item_code", "item_name", "standard_rate"],
        "Supplier" => &["name", "supplier_name", "supplier_group"],
        "GL Entry" => &[
            "name",
            "posting_date",
            "account",
            "debit",
            "credit",
            "voucher_no",
        ],
        _ => &["name"],
    }
}

impl Day {
    /// Who acts for a request to `method`, with a new request id.
    pub(super) fn actor(&mut self, method: String) -> &Actor {
        self.who.method = method;
        self.who.request_id = Some(self.d.hex(8));
        &self.who
    }

    /// The size and digest of what was sent.
    pub(super) fn sent(&mut self, mut e: Event, bytes: u64) -> Event {
        e.byte_count = Some(bytes);
        e.content_sha256 = Some(self.d.hex(32));
        if let Some(r) = e.row_count.filter(|_| e.activity != Activity::Read) {
            self.rows_today += r;
        }
        e
    }

    pub(super) fn today(&self) -> String {
        date(self.epoch_day)
    }

    // Names, recent ones more often.
    pub(super) fn invoice(&mut self) -> String {
        let newest = 1_000 + self.day * 40;
        let u = self.d.unit();
        let back = (u * u * u * 1_500.0) as i64;
        format!("SINV-{:05}", (newest - back).max(1))
    }
    pub(super) fn customer(&mut self) -> String {
        let i = self.d.below(200) as usize;
        format!(
            "{} {} {}",
            ADJECTIVES[i / 10],
            NOUNS[i % 10],
            SUFFIXES[i % 4]
        )
    }
    pub(super) fn employee(&mut self) -> String {
        format!("EMP-{:04}", self.d.range(1, 260))
    }
    pub(super) fn item(&mut self) -> String {
        format!("ITEM-{:03}", self.d.range(1, 400))
    }
    pub(super) fn supplier(&mut self) -> String {
        let i = self.d.below(20) as usize;
        format!("{} Supplies {}", ADJECTIVES[i], SUFFIXES[i % 4])
    }
    pub(super) fn gl_entry(&mut self) -> String {
        format!(
            "ACC-GLE-{:07}",
            (20_000 + self.day * 180 - self.d.below(3_000) as i64).max(1)
        )
    }
    pub(super) fn name_of(&mut self, doctype: &str) -> String {
        match doctype {
            "Sales Invoice" => self.invoice(),
            "Customer" => self.customer(),
            "Employee" => self.employee(),
            "Item" => self.item(),
            "Supplier" => self.supplier(),
            _ => self.gl_entry(),
        }
    }

    /// A form opened in the desk.
    pub(super) fn form_read(&mut self, doctype: &str, name: &str) -> Event {
        let actor = self.actor(format!("GET /app/{}/{}", slug(doctype), url(name)));
        let mut e = Event::read(actor, doctype, Some(name));
        e.row_count = Some(1);
        let bytes = self.d.range(14_000, 48_000);
        self.sent(e, bytes)
    }

    /// A list view's page, filtered or not, as `ListRead::describe` records it.
    pub(super) fn list_read(&mut self, doctype: &str) -> Event {
        let actor = self.actor(format!("GET /app/{}", slug(doctype)));
        let mut e = Event::read(actor, doctype, None);
        let conditions = self.list_conditions(doctype);
        let limit = *self.d.pick(&[20u64, 20, 20, 20, 50, 100]);
        let rows = if self.d.chance(0.7) {
            limit
        } else {
            self.d.range(1, limit)
        };
        let first = self.name_of(doctype);
        let last = self.name_of(doctype);
        let mut recorded = serde_json::Map::new();
        if !conditions.is_empty() {
            recorded.insert("filters".into(), Value::Array(conditions));
        }
        recorded.insert("order_by".into(), json!("modified desc"));
        recorded.insert("start".into(), json!(0));
        recorded.insert("limit".into(), json!(limit));
        recorded.insert("first".into(), json!(first));
        recorded.insert("last".into(), json!(last));
        e.filters = Some(CanonicalJson::from_value(&Value::Object(recorded)));
        e.columns = Some(CanonicalJson::from_value(&json!(list_fields(doctype))));
        e.row_count = Some(rows);
        let bytes = 9_000 + rows * self.d.range(300, 700);
        self.sent(e, bytes)
    }

    /// Frappe-style list conditions: `[[doctype, field, op, value]]`, sometimes none.
    pub(super) fn list_conditions(&mut self, doctype: &str) -> Vec<Value> {
        if self.d.chance(0.35) {
            return Vec::new();
        }
        let c = match doctype {
            "Sales Invoice" => {
                if self.d.chance(0.5) {
                    json!([
                        doctype,
                        "status",
                        "=",
                        *self.d.pick(&["Unpaid", "Overdue", "Paid"])
                    ])
                } else {
                    json!([doctype, "customer", "=", self.customer()])
                }
            }
            "Customer" => json!([doctype, "territory", "=", *self.d.pick(&TERRITORIES)]),
            "Employee" => json!([doctype, "department", "=", *self.d.pick(&DEPARTMENTS)]),
            "Item" => json!([doctype, "item_group", "=", *self.d.pick(&ITEM_GROUPS)]),
            "Supplier" => json!([
                doctype,
                "supplier_group",
                "=",
                *self.d.pick(&["Raw Material", "Services", "Hardware"])
            ]),
            _ => json!([doctype, "posting_date", ">=", self.month_start(1)]),
        };
        vec![c]
    }

    /// The first of this month, or of `back` months before.
    pub(super) fn month_start(&self, back: i64) -> String {
        month_bounds(self.epoch_day - back * 30).0
    }

    /// A report's filters as its run applies them.
    pub(super) fn report_filters(&mut self, r: &Report) -> Value {
        let back = if self.d.chance(0.7) { 0 } else { 1 };
        let (from, to) = month_bounds(self.epoch_day - back * 30);
        match r.name {
            "General Ledger" => {
                let mut f = json!({"from_date": from, "to_date": to});
                if self.d.chance(0.5) {
                    f["account"] = json!(*self.d.pick(&ACCOUNTS));
                } else if self.d.chance(0.3) {
                    f["party"] = json!(self.customer());
                }
                f
            }
            "Sales Register" => {
                let mut f = json!({"from_date": from, "to_date": to});
                if self.d.chance(0.4) {
                    f["customer"] = json!(self.customer());
                } else if self.d.chance(0.4) {
                    f["status"] = json!(*self.d.pick(&["Unpaid", "Paid", "Overdue"]));
                }
                f
            }
            "Accounts Receivable" => {
                if self.d.chance(0.5) {
                    json!({"customer": self.customer()})
                } else {
                    json!({"due_before": self.today()})
                }
            }
            _ => json!({"department": *self.d.pick(&DEPARTMENTS)}),
        }
    }

    /// Rows of a filtered export or report: tens to hundreds, rarely a larger filtered
    /// one, and never past the day's cap.
    pub(super) fn rows(&mut self, median: f64) -> u64 {
        let mut rows = self.d.log_normal(median, 0.8).clamp(3.0, 900.0) as u64;
        if self.d.chance(0.03) {
            rows = self.d.range(1_000, 2_400);
        }
        let room = QUIET_DAILY_ROWS_CAP.saturating_sub(self.rows_today);
        if rows > room {
            rows = (room / 2).max(3).min(rows);
        }
        rows
    }

    /// A report page viewed (a read of its rows).
    pub(super) fn report_view(&mut self, r: &Report) -> Event {
        let actor = self.actor(format!("GET /app/query-report/{}", url(r.name)));
        let mut e = Event::read(actor, r.doctype, None);
        e.report_name = Some(r.name.to_owned());
        let filters = self.report_filters(r);
        let total = self.d.log_normal(90.0, 0.9).clamp(1.0, 3_000.0) as u64;
        let shown = total.min(100);
        e.filters = Some(CanonicalJson::from_value(&json!({
            "filters": filters, "start": 0, "limit": 100, "total": total
        })));
        e.columns = Some(CanonicalJson::from_value(&json!(r.columns)));
        e.row_count = Some(shown);
        let bytes = 12_000 + shown * self.d.range(150, 260);
        self.sent(e, bytes)
    }

    pub(super) fn print_doc(&mut self, doctype: &str, name: &str) -> Event {
        let pdf = self.d.chance(0.4);
        let method = if pdf {
            "GET /api/method/frappe.utils.print_format.download_pdf"
        } else {
            "GET /printview"
        };
        let format = if doctype == "Sales Invoice" && self.d.chance(0.5) {
            "Classic"
        } else {
            "Standard"
        };
        let actor = self.actor(method.to_owned());
        let mut e = Event::print(actor, Activity::Print, doctype, name, format);
        e.file_type = Some(if pdf { "PDF" } else { "HTML" }.to_owned());
        let bytes = if pdf {
            self.d.range(38_000, 160_000)
        } else {
            self.d.range(9_000, 40_000)
        };
        self.sent(e, bytes)
    }

    pub(super) fn raw_print(&mut self, name: &str) -> Event {
        let (printer, addr) = *self.d.pick(&PRINTERS);
        let actor = self.actor(format!(
            "POST /api/raw-print to printer {printer:?} ({addr})"
        ));
        let mut e = Event::print(
            actor,
            Activity::RawPrint,
            "Sales Invoice",
            name,
            "Shipping Label",
        );
        e.file_type = Some("RAW".to_owned());
        e.page = Some(format!(
            "^XA^CF0,40^FO40,40^FD{name}^FS^FO40,100^BCN,80^FD{name}^FS^XZ"
        ));
        if self.d.chance(0.02) {
            e.outcome = Outcome::Failed;
            e.reason = Some(format!(
                "The printer {printer} at {addr} did not answer. Nothing was printed."
            ));
            return e;
        }
        let bytes = e.page.as_ref().map_or(0, |p| p.len() as u64);
        self.sent(e, bytes)
    }

    pub(super) fn report_print(&mut self, r: &Report) -> Event {
        let pdf = self.d.chance(0.6);
        let actor = self.actor(format!(
            "GET /app/query-report/{}/{}",
            url(r.name),
            if pdf { "pdf" } else { "print" }
        ));
        let mut e = Event::report_print(actor, r.name, if pdf { "PDF" } else { "HTML" });
        e.export_from = Some(r.doctype.to_owned());
        let filters = self.report_filters(r);
        e.filters = Some(CanonicalJson::from_value(&filters));
        e.columns = Some(CanonicalJson::from_value(&json!(r.columns)));
        let rows = self.rows(60.0).min(500);
        e.row_count = Some(rows);
        let bytes = 20_000 + rows * if pdf { 420 } else { 180 };
        self.sent(e, bytes)
    }

    pub(super) fn export_report(&mut self, r: &Report, filters: Value, rows: u64) -> Event {
        let xlsx = self.d.chance(0.35);
        let actor = self.actor("POST /api/method/frappe.desk.query_report.export_query".to_owned());
        let mut e = Event::export(actor, if xlsx { "XLSX" } else { "CSV" });
        e.report_name = Some(r.name.to_owned());
        e.export_from = Some(r.doctype.to_owned());
        e.filters = Some(CanonicalJson::from_value(&filters));
        e.columns = Some(CanonicalJson::from_value(&json!(r.columns)));
        e.row_count = Some(rows);
        let per_row = self.d.range(70, 140);
        let bytes = if xlsx {
            6_500 + rows * per_row / 2
        } else {
            200 + rows * per_row
        };
        self.sent(e, bytes)
    }

    pub(super) fn export_list(&mut self, doctype: &str, conditions: Value, rows: u64) -> Event {
        let xlsx = self.d.chance(0.3);
        let actor = self.actor("POST /api/method/frappe.desk.reportview.export_query".to_owned());
        let mut e = Event::export(actor, if xlsx { "XLSX" } else { "CSV" });
        e.export_from = Some(doctype.to_owned());
        e.filters = Some(CanonicalJson::from_value(&conditions));
        e.columns = Some(CanonicalJson::from_value(&json!(list_fields(doctype))));
        e.row_count = Some(rows);
        let per_row = self.d.range(50, 110);
        let bytes = if xlsx {
            6_000 + rows * per_row / 2
        } else {
            100 + rows * per_row
        };
        self.sent(e, bytes)
    }

    /// A filtered list export (never without conditions in the quiet corpus).
    pub(super) fn filtered_list_export(&mut self, doctype: &str, median: f64) -> Event {
        let mut conditions = self.list_conditions(doctype);
        if conditions.is_empty() {
            conditions = vec![json!([doctype, "modified", ">=", self.month_start(2)])];
        }
        let rows = self.rows(median);
        self.export_list(doctype, Value::Array(conditions), rows)
    }

    pub(super) fn file_download(&mut self, file_name: &str, private: bool) -> Event {
        let method = if private {
            format!("GET /private/files/{}", url(file_name))
        } else {
            format!("GET /api/file/{}", self.d.hex(5))
        };
        let actor = self.actor(method);
        let mut e = Event::file_download(actor, file_name);
        e.file_type = accesslog_core::entry::file_type_of(file_name);
        let bytes = self.d.range(18_000, 900_000);
        self.sent(e, bytes)
    }

    pub(super) fn backup(&mut self) -> Event {
        let (y, m, dd) = civil(self.epoch_day);
        let file = format!(
            "backup-{y:04}{m:02}{dd:02}-{:02}{:02}00.sqlite3",
            self.d.range(2, 4),
            self.d.range(0, 59)
        );
        let actor = self.actor(format!("GET /app/backups/{file}"));
        let e = Event::backup_download(actor, &file);
        let bytes = self.d.range(180_000_000, 260_000_000);
        self.sent(e, bytes)
    }

    pub(super) fn log_review(&mut self) -> Event {
        let dashboard = self.d.chance(0.3);
        let actor = self.actor(
            if dashboard {
                "GET /app/access-log/dashboard"
            } else {
                "GET /app/access-log"
            }
            .to_owned(),
        );
        let mut e = Event::log_access(actor, Activity::Read, dashboard.then_some("dashboard"));
        if !dashboard {
            e.row_count = Some(50);
        }
        let bytes = self.d.range(20_000, 90_000);
        self.sent(e, bytes)
    }

    /// A refusal, as `Audit::deny` records it: nothing sent, the error as the reason.
    pub(super) fn refusal(&mut self) -> Event {
        let (doctype, what) = match self.kind {
            Kind::Sales => (*self.d.pick(&["GL Entry", "Employee", "Supplier"]), "read"),
            Kind::Accounts => ("Employee", "read"),
            Kind::Hr => (*self.d.pick(&["Sales Invoice", "GL Entry"]), "read"),
            Kind::Stock | Kind::Purchasing => {
                (*self.d.pick(&["Sales Invoice", "Customer"]), "export")
            }
            Kind::It | Kind::Other => ("Employee", "export"),
        };
        let mut e = if what == "read" {
            let actor = self.actor(format!("GET /app/{}", slug(doctype)));
            Event::read(actor, doctype, None)
        } else {
            let actor =
                self.actor("POST /api/method/frappe.desk.reportview.export_query".to_owned());
            let mut e = Event::export(actor, "CSV");
            e.export_from = Some(doctype.to_owned());
            e
        };
        e.outcome = Outcome::Denied;
        e.reason = Some(format!("You do not have permission to {what} {doctype}."));
        e
    }

    /// One task: a few entries, to be spaced seconds apart ([`Day::pause`]).
    pub(super) fn task(&mut self, out: &mut Vec<Event>) {
        match self.kind {
            Kind::Sales => self.sales_task(out),
            Kind::Accounts => self.accounts_task(out),
            Kind::Hr => self.hr_task(out),
            Kind::Stock | Kind::Purchasing => self.stock_task(out),
            Kind::It => self.it_task(out),
            Kind::Other => self.browse(out, "Item", 2),
        }
    }

    /// The time between two entries of a task: 4 to 100 seconds.
    pub(super) fn pause(&mut self) -> i64 {
        self.d.range(4, 100) as i64 * SEC + self.d.below(1_000_000) as i64
    }

    /// A list page, then up to `docs` of its documents.
    pub(super) fn browse(&mut self, out: &mut Vec<Event>, doctype: &str, docs: u64) {
        if self.d.chance(0.6) {
            out.push(self.list_read(doctype));
        }
        for _ in 0..self.d.range(1, docs) {
            let name = self.name_of(doctype);
            out.push(self.form_read(doctype, &name));
        }
    }

    pub(super) fn open_and_print(&mut self, out: &mut Vec<Event>, doctype: &str) {
        let name = self.name_of(doctype);
        out.push(self.form_read(doctype, &name));
        out.push(self.print_doc(doctype, &name));
    }

    pub(super) fn sales_task(&mut self, out: &mut Vec<Event>) {
        let m = if self.manager { 3.0 } else { 1.0 };
        let weights = [
            30.0,
            20.0,
            12.0,
            10.0,
            5.0 * m,
            1.5 * m,
            2.0 * m,
            0.7,
            3.0,
            1.5,
            1.5 * m,
        ];
        match self.d.weighted(&weights) {
            0 => self.browse(out, "Sales Invoice", 3),
            1 => self.browse(out, "Customer", 2),
            2 => self.open_and_print(out, "Sales Invoice"),
            3 => self.browse(out, "Item", 2),
            4 => out.push(self.report_view(&SALES_REGISTER)),
            5 => out.push(self.report_print(&SALES_REGISTER)),
            6 => {
                let f = self.report_filters(&SALES_REGISTER);
                let rows = self.rows(80.0);
                out.push(self.report_view(&SALES_REGISTER));
                out.push(self.export_report(&SALES_REGISTER, f, rows));
            }
            7 => out.push(self.filtered_list_export("Customer", 40.0)),
            8 => {
                let name = self.invoice();
                out.push(self.form_read("Sales Invoice", &name));
                out.push(self.raw_print(&name));
            }
            9 => {
                let file = if self.d.chance(0.5) {
                    "price-list.txt"
                } else {
                    "catalogue.txt"
                };
                out.push(self.file_download(file, false));
            }
            _ => out.push(self.report_view(&ACCOUNTS_RECEIVABLE)),
        }
    }

    pub(super) fn accounts_task(&mut self, out: &mut Vec<Event>) {
        let m = if self.manager { 2.5 } else { 1.0 };
        let weights = [
            22.0,
            10.0,
            4.0,
            12.0 * m,
            8.0 * m,
            8.0,
            4.0 * m,
            2.0 * m,
            1.5 * m,
            1.5 * m,
            6.0,
            4.0,
            0.5,
        ];
        match self.d.weighted(&weights) {
            0 => self.browse(out, "Sales Invoice", 3),
            1 => out.push(self.list_read("GL Entry")),
            2 => {
                let name = self.gl_entry();
                out.push(self.form_read("GL Entry", &name));
            }
            3 => out.push(self.report_view(&GENERAL_LEDGER)),
            4 => out.push(self.report_view(&ACCOUNTS_RECEIVABLE)),
            5 => self.open_and_print(out, "Sales Invoice"),
            6 => {
                let f = self.report_filters(&GENERAL_LEDGER);
                let rows = self.rows(180.0);
                out.push(self.report_view(&GENERAL_LEDGER));
                out.push(self.export_report(&GENERAL_LEDGER, f, rows));
            }
            7 => {
                let f = self.report_filters(&ACCOUNTS_RECEIVABLE);
                let rows = self.rows(70.0);
                out.push(self.export_report(&ACCOUNTS_RECEIVABLE, f, rows));
            }
            8 => out.push(self.report_print(&GENERAL_LEDGER)),
            9 => out.push(self.report_print(&ACCOUNTS_RECEIVABLE)),
            10 => self.browse(out, "Customer", 2),
            11 => self.browse(out, "Supplier", 1),
            _ => out.push(self.filtered_list_export("Supplier", 15.0)),
        }
    }

    pub(super) fn hr_task(&mut self, out: &mut Vec<Event>) {
        // Payroll runs in the last week of a month: the register is viewed then, and a
        // manager prints or exports it once in a while. Taking Employee data out is rare
        // (R5 counts it as sensitive on the demo site): the quiet corpus keeps it to
        // about one HR person-day in a hundred.
        let (_, _, dom) = civil(self.epoch_day);
        let payroll = dom >= 24;
        let m = if self.manager { 1.0 } else { 0.0 };
        let p = if payroll { 1.0 } else { 0.0 };
        let weights = [
            45.0,
            3.0 + 6.0 * p,
            0.03,
            6.0,
            0.12 * m * p,
            0.12 * m * p,
            0.03 * m,
            3.0,
        ];
        match self.d.weighted(&weights) {
            0 => self.browse(out, "Employee", 3),
            1 => out.push(self.report_view(&SALARY_REGISTER)),
            2 => self.open_and_print(out, "Employee"),
            3 => {
                let id = self.employee();
                out.push(self.form_read("Employee", &id));
                out.push(self.file_download(&format!("contract-{id}.pdf"), true));
            }
            4 => out.push(self.report_print(&SALARY_REGISTER)),
            5 => {
                let f = self.report_filters(&SALARY_REGISTER);
                let rows = self.d.range(8, 60);
                out.push(self.report_view(&SALARY_REGISTER));
                out.push(self.export_report(&SALARY_REGISTER, f, rows));
            }
            6 => out.push(self.filtered_list_export("Employee", 25.0)),
            _ => self.browse(out, "Employee", 1),
        }
    }

    pub(super) fn stock_task(&mut self, out: &mut Vec<Event>) {
        let purchasing = self.kind == Kind::Purchasing;
        let s = if purchasing { 3.0 } else { 1.0 };
        let weights = [45.0, 12.0 * s, 3.0, 1.0 * s, 6.0 / s, 2.0, 1.5 * s];
        match self.d.weighted(&weights) {
            0 => self.browse(out, "Item", 3),
            1 => self.browse(out, "Supplier", 2),
            2 => out.push(self.filtered_list_export("Item", 60.0)),
            3 => out.push(self.filtered_list_export("Supplier", 12.0)),
            4 => {
                let name = self.invoice();
                out.push(self.raw_print(&name));
            }
            5 => out.push(self.file_download("catalogue.txt", false)),
            _ => {
                let supplier = self.supplier().replace(' ', "-").to_ascii_lowercase();
                let n = self.d.range(100, 999);
                out.push(self.file_download(&format!("quotation-{supplier}-{n}.pdf"), true));
            }
        }
    }

    pub(super) fn it_task(&mut self, out: &mut Vec<Event>) {
        let weights = [14.0, 8.0, 6.0, 6.0, 4.0, 1.0, 0.01];
        match self.d.weighted(&weights) {
            0 => out.push(self.log_review()),
            1 => self.browse(out, "Item", 2),
            2 => self.browse(out, "Customer", 1),
            3 => self.browse(out, "Sales Invoice", 2),
            4 => self.browse(out, "Supplier", 1),
            5 => out.push(self.filtered_list_export("Item", 30.0)),
            _ => out.push(self.backup()),
        }
    }
}

/// Whether `p` works on weekday `wd` (Monday = 0), before absences and holidays.
pub(super) fn works_on(p: &Person, wd: u8) -> bool {
    if p.works_weekends { wd >= 2 } else { wd < 5 }
}

/// One person's quiet history.
pub(super) fn person_events(
    cfg: &CorpusConfig,
    index: usize,
    p: &Person,
    holidays: &[i64],
) -> Vec<(Timestamp, Event)> {
    let mut d = Draw::stream(cfg.seed, 1 + index as u64);
    let days = i64::from(cfg.days);
    let start = cfg.start.as_micros();
    let offset = i64::from(cfg.utc_offset_minutes) * MIN;
    let epoch0 = start.div_euclid(DAY);
    // Vacations: none, one or two working weeks.
    let mut off = vec![false; cfg.days as usize];
    let vacations = d.weighted(&[0.4, 0.45, 0.15]);
    for _ in 0..vacations {
        let first = d.below(cfg.days.max(1) as u64) as usize;
        for day in off.iter_mut().skip(first).take(7) {
            *day = true;
        }
    }
    let first_day = p
        .joined_at
        .map_or(0, |j| (j.as_micros() - start).div_euclid(DAY).max(0));
    let mut out = Vec::with_capacity((f64::from(cfg.days) * 20.0 * p.volume) as usize);
    let mut buf: Vec<Event> = Vec::with_capacity(8);
    let mut last = i64::MIN;
    let kind = kind_of(&p.roles);
    for day in first_day..days {
        let local_midnight = start + day * DAY - offset;
        if p.disabled_at
            .is_some_and(|t| t.as_micros() <= local_midnight)
        {
            break;
        }
        let epoch_day = epoch0 + day;
        let wd = weekday(epoch_day);
        let sick = d.chance(0.025);
        if !works_on(p, wd) || holidays.contains(&day) || off[day as usize] || sick {
            continue;
        }
        let home = p.home_weekday == Some(wd);
        let ip = match (&p.home_ip_prefix, home) {
            (Some(prefix), true) => format!("{prefix}.{}", 2 + p.ip_host % 250),
            _ => p.office_ip(),
        };
        let mut g = Day {
            d: Draw::stream(cfg.seed, (1 + index as u64) << 20 | day as u64),
            kind,
            manager: is_manager(&p.roles),
            day,
            epoch_day,
            who: who(p, ip),
            rows_today: 0,
        };
        // The weekly cycle: busy Mondays, light Fridays; weekends lighter still.
        let cycle = [1.1, 1.05, 1.0, 0.97, 0.85, 0.7, 0.6][usize::from(wd)];
        let target = BASE_ENTRIES_PER_DAY * p.volume * cycle * d.log_normal(1.0, 0.3);
        let target = target.round().max(2.0) as usize;
        // The working day, in µs after local midnight.
        // Kept within 07:05–19:40, so nobody's egress is outside Mon–Fri 07–20 (R7's
        // cold start) except weekend workers' on their weekends.
        let begin = (i64::from(p.work_start_hour) * HOUR + (d.normal() * 12.0) as i64 * MIN)
            .clamp(7 * HOUR + 5 * MIN, 12 * HOUR);
        let mut end = (i64::from(p.work_end_hour) * HOUR + (5.0 + d.normal() * 20.0) as i64 * MIN)
            .clamp(14 * HOUR, 19 * HOUR + 40 * MIN);
        let relieving_day = p
            .relieving_date
            .is_some_and(|r| (r.as_micros() - start).div_euclid(DAY) == day);
        if relieving_day {
            end = end.min(15 * HOUR);
        }
        // The tasks' start times, drawn and sorted (the lunch dip: most drawn at lunch
        // move to the afternoon). One task at a time: a task drawn while the last is
        // still going starts when that one ends. Made in time order, the day needs no
        // sorting.
        let tasks = (target as f64 / AVERAGE_TASK_ENTRIES).round().max(1.0) as usize;
        let span = (end - begin).max(HOUR) as u64;
        let mut starts: Vec<i64> = (0..tasks)
            .map(|_| {
                let mut at = begin + g.d.below(span) as i64;
                if (12 * HOUR..13 * HOUR).contains(&at) && g.d.chance(0.7) {
                    at += HOUR;
                }
                at.min(end - 10 * MIN)
            })
            .collect();
        starts.sort_unstable();
        // One refusal on about one working day in fifty.
        let mut refusal_at = g.d.chance(0.02).then(|| begin + g.d.below(span) as i64);
        let disabled = p.disabled_at.map_or(i64::MAX, Timestamp::as_micros);
        // Local µs after midnight: when the person is free again.
        let mut free = i64::MIN;
        let mut emit = |t: i64, e: Event| {
            // Never two entries of one person in the same microsecond.
            let t = (local_midnight + t).max(last + 1);
            last = t;
            if t < disabled {
                out.push((Timestamp::from_micros(t), e));
            }
        };
        for start in starts {
            if let Some(r) = refusal_at.filter(|r| *r <= start) {
                let e = g.refusal();
                emit(r.max(free), e);
                refusal_at = None;
            }
            let mut t = start.max(free);
            buf.clear();
            g.task(&mut buf);
            for e in buf.drain(..) {
                emit(t, e);
                t += g.pause();
            }
            free = t;
        }
        if let Some(r) = refusal_at {
            let e = g.refusal();
            emit(r.max(free), e);
        }
        // Now and then a short evening look from home or VPN: reads only.
        if g.d.chance(0.02) {
            let mut at = (20 * HOUR + g.d.below(90 * MIN as u64) as i64).max(free);
            for _ in 0..g.d.range(2, 5) {
                let doctype = match kind {
                    Kind::Hr => "Employee",
                    Kind::Stock | Kind::Purchasing => "Item",
                    _ => "Sales Invoice",
                };
                let name = g.name_of(doctype);
                let e = g.form_read(doctype, &name);
                emit(at, e);
                at += g.d.range(20, 240) as i64 * SEC;
            }
        }
    }
    out
}
