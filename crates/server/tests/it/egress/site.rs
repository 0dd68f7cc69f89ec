//! The egress tests' site: its permissions and reports, the seeded data, and the rules
//! (what each route needs, and who has it).

// ---------------------------------------------------------------------------------------
// The site: its permissions and reports, and the data every test starts with.
// ---------------------------------------------------------------------------------------

pub(super) const SYSTEM_MANAGER: &str = "System Manager";
pub(super) const EMPLOYEE: &str = "Employee";
pub(super) const CUSTOMER: &str = "Customer";
pub(super) const SALES_INVOICE: &str = "Sales Invoice";
pub(super) const GL_ENTRY: &str = "GL Entry";

/// The test site's permissions (`tests/it/site/*.toml`), by type and role; System Managers
/// may do everything. [`the_permission_table_is_the_test_sites`] keeps it equal to the files.
pub(super) const PERMISSIONS: &[(&str, &str, &[&str])] = &[
    (CUSTOMER, "Accounts User", &["read"]),
    (CUSTOMER, "Sales User", &["create", "print", "read"]),
    (EMPLOYEE, "HR User", &["create", "read"]),
    (
        GL_ENTRY,
        "Accounts User",
        &["export", "print", "read", "report"],
    ),
    (
        SALES_INVOICE,
        "Accounts User",
        &["create", "export", "print", "read", "write"],
    ),
    (SALES_INVOICE, "Sales User", &["create", "print", "read"]),
];

pub(super) const GENERAL_LEDGER: &str = "General Ledger";
pub(super) const SALES_REGISTER: &str = "Sales Register";
pub(super) const CUSTOMER_DIRECTORY: &str = "Customer Directory";

/// The reports of the test site: (name, ref_doctype, roles). The first two are the demo's
/// (as `common.rs` copies them); the third is added here so that a role of the report
/// without the permission on its type is in the matrix (Sales User may read and print
/// customers but not export them; HR User has the role and no permission at all).
pub(super) const REPORTS: &[(&str, &str, &[&str])] = &[
    (GENERAL_LEDGER, GL_ENTRY, &["Accounts User"]),
    (SALES_REGISTER, SALES_INVOICE, &["Accounts User"]),
    (CUSTOMER_DIRECTORY, CUSTOMER, &["HR User", "Sales User"]),
];

pub(super) const CUSTOMER_DIRECTORY_TOML: &str = r#"
name = "Customer Directory"
ref_doctype = "Customer"
roles = ["Sales User", "HR User"]
query = """
SELECT name AS customer, customer_group, territory FROM tab_customer
WHERE (:territory IS NULL OR territory = :territory)
ORDER BY name
"""

[[filters]]
fieldname = "territory"
label = "Territory"
fieldtype = "data"

[[columns]]
fieldname = "customer"
label = "Customer"
fieldtype = "link"
width = 30

[[columns]]
fieldname = "customer_group"
label = "Customer Group"
fieldtype = "data"
width = 14

[[columns]]
fieldname = "territory"
label = "Territory"
fieldtype = "data"
width = 14
"#;

/// Words that appear only in the seeded data and in no refusal: a body that holds one
/// released that data. (A customer is named by its `customer_name`, so [`CUSTOMER_MARK`]
/// is also in the URLs of the customer; no answer repeats a URL.)
pub(super) const EMPLOYEE_MARK: &str = "Wombat";
pub(super) const CUSTOMER_MARK: &str = "Quokka";
pub(super) const INVOICE_MARK: &str = "Numbat";
pub(super) const LEDGER_MARK: &str = "Bilby";
pub(super) const EMPLOYEE_FILE_MARK: &str = "Platypus";
pub(super) const INVOICE_FILE_MARK: &str = "Echidna";
pub(super) const BACKUP_MARK: &str = "Dingo";
pub(super) const LOG_MARK: &str = "Kookaburra";

/// The customer's name (Customer is named by `customer_name`).
pub(super) const CUSTOMER_NAME: &str = "Quokka Customer Marker";
pub(super) const BACKUP: &str = "backup-20260101-000000.sqlite3";
/// The user of the one log entry that carries [`LOG_MARK`], which log reads filter on.
pub(super) const LOG_USER: &str = "log-marker@example.com";
pub(super) const PRINTER: &str = "dock";

/// What a request acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Target {
    /// The seeded document of this type.
    Doc(&'static str),
    Report(&'static str),
    /// The private file attached to the seeded document of this type.
    File(&'static str),
    Backup,
    Log,
}
pub(super) use Target::{Backup, Doc, File, Log, Report};

impl Target {
    pub(super) fn doctype(self) -> &'static str {
        match self {
            Doc(d) | File(d) => d,
            other => panic!("{other:?} is not a document"),
        }
    }

    pub(super) fn report(self) -> &'static str {
        match self {
            Report(r) => r,
            other => panic!("{other:?} is not a report"),
        }
    }

    /// The word that shows this target's data.
    pub(super) fn mark(self) -> &'static str {
        match self {
            Doc(EMPLOYEE) => EMPLOYEE_MARK,
            Doc(CUSTOMER) | Report(CUSTOMER_DIRECTORY) => CUSTOMER_MARK,
            Doc(SALES_INVOICE) | Report(SALES_REGISTER) => INVOICE_MARK,
            Doc(GL_ENTRY) | Report(GENERAL_LEDGER) => LEDGER_MARK,
            File(EMPLOYEE) => EMPLOYEE_FILE_MARK,
            File(SALES_INVOICE) => INVOICE_FILE_MARK,
            Backup => BACKUP_MARK,
            Log => LOG_MARK,
            other => panic!("no data seeded for {other:?}"),
        }
    }
}

pub(super) const DOCS: &[Target] = &[
    Doc(EMPLOYEE),
    Doc(CUSTOMER),
    Doc(SALES_INVOICE),
    Doc(GL_ENTRY),
];
pub(super) const ALL_REPORTS: &[Target] = &[
    Report(GENERAL_LEDGER),
    Report(SALES_REGISTER),
    Report(CUSTOMER_DIRECTORY),
];
pub(super) const FILES: &[Target] = &[File(EMPLOYEE), File(SALES_INVOICE)];

// ---------------------------------------------------------------------------------------
// The rules: what each route needs, and who has it.
// ---------------------------------------------------------------------------------------

/// What a route needs of the caller, on its target, by ERPNext's rules.
#[derive(Clone, Copy, Debug)]
pub(super) enum Needs {
    /// This permission on the target's type.
    Doc(&'static str),
    /// A role of the report, and on its ref_doctype `report` or `read` (the page and its
    /// data), `print` (prints) or `export` (exports).
    Report(ReportUse),
    /// `read` on the type the file is attached to.
    FileRead,
    /// Backups and the Access Log.
    SystemManager,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum ReportUse {
    View,
    Print,
    Export,
}

pub(super) fn may(role: &str, doctype: &str, permission: &str) -> bool {
    role == SYSTEM_MANAGER
        || PERMISSIONS
            .iter()
            .any(|(d, r, p)| *d == doctype && *r == role && p.contains(&permission))
}

/// Whether `role` may use a route that `needs` this on `target`.
pub(super) fn allowed(role: &str, needs: Needs, target: Target) -> bool {
    match needs {
        Needs::Doc(permission) => may(role, target.doctype(), permission),
        Needs::FileRead => may(role, target.doctype(), "read"),
        Needs::SystemManager => role == SYSTEM_MANAGER,
        Needs::Report(use_) => {
            let (_, ref_doctype, roles) = REPORTS
                .iter()
                .find(|(name, _, _)| *name == target.report())
                .expect("a report of REPORTS");
            let has_role = role == SYSTEM_MANAGER || roles.contains(&role);
            has_role
                && match use_ {
                    ReportUse::View => {
                        may(role, ref_doctype, "report") || may(role, ref_doctype, "read")
                    }
                    ReportUse::Print => may(role, ref_doctype, "print"),
                    ReportUse::Export => may(role, ref_doctype, "export"),
                }
        }
    }
}
