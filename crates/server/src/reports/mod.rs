//! Query reports and exports over HTTP: the report pages, their data and prints, and the
//! export routes. Running a report with checked filters and writing an export file are
//! the application's (`accesslog_app::reports`); every export is written to a temporary
//! file, hashed, recorded, and only then sent.

pub mod data;
pub mod export;
pub mod page;
pub mod print;

use accesslog_site::reports::QueryReport;

use crate::auth::Authenticated;
use crate::error::WebError;
use crate::state::AppState;

/// `General Ledger` → `/app/query-report/General%20Ledger`.
pub fn report_url(name: &str) -> String {
    format!("/app/query-report/{}", crate::percent::percent(name))
}

pub use accesslog_app::reports::{ReportUse, Run};

/// The report named `name`, if this user may use it so (the app's `report_for`, with the
/// site's reports and types).
pub fn report_for<'a>(
    state: &'a AppState,
    name: &str,
    who: &Authenticated,
    use_: ReportUse,
) -> Result<&'a QueryReport, WebError> {
    let reports = &state.reports;
    Ok(accesslog_app::reports::report_for(
        reports,
        &state.doctypes,
        &who.user.roles,
        name,
        use_,
    )?)
}
