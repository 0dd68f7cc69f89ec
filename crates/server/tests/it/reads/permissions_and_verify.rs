//! ERPNext's report permissions, and a log full of reads that still verifies.

use crate::common::{Backend, log_size, session};
use accesslog_core::entry::{Activity, Outcome};
use reqwest::StatusCode;

use super::*;

// ----- 7. report permissions -----

/// A refused request: what it is, the request, and the entry's activity, report name,
/// file type and (part of its) reason.
pub(super) type Refusal<'a> = (
    &'a str,
    reqwest::RequestBuilder,
    Activity,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
);

pub(super) async fn report_permissions_are_erpnexts(backend: Backend) {
    let Some(owned) = start(backend, "report_permissions", "", "").await else {
        return;
    };
    let server = &owned;
    let (hr, token) = session(server, HR.0, HR.1).await;
    // hr may run the report (HR User, read on Employee)...
    recorded(
        server,
        HR.0,
        hr.get(server.at(SALARY_REGISTER)),
        "report page",
    )
    .await;

    // ...but not export it, print it, or export the list of its type.
    let export_query = "/api/method/frappe.desk.query_report.export_query";
    let list_export = "/api/method/frappe.desk.reportview.export_query";
    let cases: Vec<Refusal> = vec![
        (
            "report export",
            hr.post(server.at(export_query))
                .header("x-frappe-csrf-token", &token)
                .form(&[
                    ("report_name", "Salary Register"),
                    ("file_format_type", "CSV"),
                ]),
            Activity::Export,
            Some("Salary Register"),
            Some("CSV"),
            "it needs export permission on Employee",
        ),
        (
            "report print",
            hr.get(server.at(&format!("{SALARY_REGISTER}/print"))),
            Activity::ReportPrint,
            Some("Salary Register"),
            Some("HTML"),
            "it needs print permission on Employee",
        ),
        (
            "report PDF",
            hr.get(server.at(&format!("{SALARY_REGISTER}/pdf"))),
            Activity::ReportPrint,
            Some("Salary Register"),
            Some("PDF"),
            "it needs print permission on Employee",
        ),
        (
            "list export",
            hr.post(server.at(list_export))
                .header("x-frappe-csrf-token", &token)
                .form(&[("doctype", "Employee"), ("file_format_type", "CSV")]),
            Activity::Export,
            None,
            Some("CSV"),
            "You do not have permission to export Employee",
        ),
    ];
    for (what, req, activity, report, file_type, reason) in cases {
        let before = log_size(server).await;
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
        let seq: u64 = r.headers()[SEQ].to_str().unwrap().parse().unwrap();
        let body = r.text().await.unwrap();
        assert!(body.contains(reason), "{what}: {body}");
        assert!(!body.contains("Cy Diaz"), "{what}: nothing released");
        assert_eq!(
            (seq, log_size(server).await),
            (before + 1, before + 1),
            "{what}"
        );
        let e = server.store.entry(seq).await.unwrap().unwrap().event;
        assert_eq!(
            (e.activity, e.outcome, e.user.as_str()),
            (activity, Outcome::Denied, HR.0),
            "{what}"
        );
        assert_eq!(e.report_name.as_deref(), report, "{what}");
        assert_eq!(e.file_type.as_deref(), file_type, "{what}");
        assert!(
            e.reason.as_deref().is_some_and(|r| r.contains(reason)),
            "{what}: {:?}",
            e.reason
        );
        assert_eq!((e.byte_count, e.content_sha256), (None, None), "{what}");
        if report.is_none() {
            assert_eq!(e.export_from.as_deref(), Some("Employee"), "{what}");
        }
    }

    // A System Manager may do all three; sales (without the report's role) may not even
    // run it.
    let (admin, admin_token) = session(server, ADMIN.0, ADMIN.1).await;
    let r = admin
        .post(server.at(export_query))
        .header("x-frappe-csrf-token", &admin_token)
        .form(&[
            ("report_name", "Salary Register"),
            ("file_format_type", "CSV"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = admin
        .get(server.at(&format!("{SALARY_REGISTER}/print")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales.get(server.at(SALARY_REGISTER)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("permission to run the report Salary Register")
    );
    owned.stop().await;
}

// ----- 8. verification -----

pub(super) async fn a_log_of_reads_verifies(backend: Backend) {
    let Some(owned) = start(backend, "reads_verify", "", "read_names_max = 3").await else {
        return;
    };
    let server = &owned;
    let (hr, token) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    for (client, path) in [
        (
            &hr,
            "/api/resource/Employee?fields=%5B%22*%22%5D&limit_page_length=0".to_owned(),
        ),
        (&hr, "/api/resource/Employee/EMP-0041".to_owned()),
        (&hr, "/app/employee".to_owned()),
        (&hr, "/app/employee/EMP-0042".to_owned()),
        (&hr, SALARY_REGISTER.to_owned()),
        (&sales, "/api/resource/Employee".to_owned()),
        (&admin, "/api/access-log".to_owned()),
        (&admin, "/api/access-log/2".to_owned()),
        (&admin, "/app/access-log?document=EMP-0042".to_owned()),
        (&admin, "/app/access-log/3".to_owned()),
        (&admin, "/api/access-log/3/proof".to_owned()),
        (&admin, "/app/access-log/dashboard".to_owned()),
    ] {
        let r = client.get(server.at(&path)).send().await.unwrap();
        assert!(r.headers().get(SEQ).is_some(), "{path}");
    }
    let r = hr
        .post(server.at("/api/method/frappe.desk.query_report.run"))
        .header("x-frappe-csrf-token", &token)
        .form(&[("report_name", "Salary Register")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    server.state.recorder.checkpoint_now().await;
    let size = log_size(server).await;
    assert_eq!(size, 14, "the settings' entry, 12 reads and a refusal");
    let verifier =
        accesslog_core::checkpoint::NoteVerifier::from_verifier_key(&server.state.verifier_key)
            .unwrap();
    let log = std::fs::read_to_string(server.settings.site_dir.join("checkpoints.log")).unwrap();
    let notes: Vec<_> = accesslog_engine::verify::split_checkpoints_log(&log)
        .into_iter()
        .map(|note| accesslog_engine::verify::SignedCheckpoint {
            origin: accesslog_engine::verify::CheckpointOrigin::CheckpointsLog,
            note,
        })
        .collect();
    assert!(!notes.is_empty(), "checkpoints.log has the checkpoint");
    let verified = accesslog_engine::verify::verify(&*server.store, &verifier, notes, |_, _| {})
        .await
        .unwrap_or_else(|e| panic!("a log of reads does not verify: {e}"));
    assert_eq!(verified.entries, size);
    assert!(verified.checkpoints >= 2, "{verified:?}");
    assert_eq!(
        server
            .store
            .latest_checkpoint()
            .await
            .unwrap()
            .unwrap()
            .size,
        size,
        "the last checkpoint covers every read"
    );
    owned.stop().await;
}
