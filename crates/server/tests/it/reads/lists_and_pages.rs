//! Reads recorded with what they showed: REST lists and documents, every kind of read,
//! and `read_names_max`.

use crate::common::{Backend, log_size, session};
use serde_json::{Value, json};

use super::*;

// ----- 1. REST -----

pub(super) async fn rest_reads_record_the_names_they_returned(backend: Backend) {
    let Some(owned) = start(backend, "rest_reads", "", "").await else {
        return;
    };
    let server = &owned;
    let (hr, token) = session(server, HR.0, HR.1).await;

    // Every employee, every field.
    let path = with_query(
        "/api/resource/Employee",
        &[("fields", r#"["*"]"#), ("limit_page_length", "0")],
    );
    let (_, e, body) = recorded(server, HR.0, hr.get(server.at(&path)), "all employees").await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let rows = v["data"].as_array().unwrap();
    let mut names = data_names(&body);
    assert_eq!(rows.len(), 4);
    let columns = json!([
        "name",
        "owner",
        "creation",
        "modified",
        "modified_by",
        "employee_name",
        "department",
        "designation",
        "date_of_joining",
        "ctc"
    ]);
    let mut keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut recorded_columns: Vec<&str> = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    keys.sort_unstable();
    recorded_columns.sort_unstable();
    assert_eq!(
        keys, recorded_columns,
        "the columns are the fields returned"
    );
    check(
        &e,
        &Expect {
            export_from: Some("Employee"),
            filters: Some(json!({"limit": 10000, "names": names, "start": 0})),
            columns: Some(columns),
            row_count: Some(4),
            method: "GET /api/resource/Employee",
            ..Expect::default()
        },
        "all employees",
    );
    assert_eq!(e.roles, ["HR User"]);
    names.sort();
    assert_eq!(names, EMPLOYEES.map(|e| e.0), "every employee was returned");

    // Filters, order, paging and fields, each as asked and with what came back.
    let cases: [ListCase; 4] = [
        (
            &[
                ("filters", r#"[["department","=","Sales"]]"#),
                ("order_by", "employee_name asc"),
            ],
            &["EMP-0040", "EMP-0042"],
            json!({"filters": [["department", "=", "Sales"]], "order_by": "employee_name asc", "limit": 20, "start": 0}),
            json!(["name"]),
        ),
        (
            &[
                ("filters", r#"{"department":"Operations"}"#),
                ("fields", r#"["name","employee_name"]"#),
                ("limit_start", "0"),
                ("limit_page_length", "5"),
            ],
            &["EMP-0043"],
            json!({"filters": {"department": "Operations"}, "limit": 5, "start": 0}),
            json!(["name", "employee_name"]),
        ),
        (
            &[
                ("order_by", "name asc"),
                ("limit_start", "1"),
                ("limit_page_length", "2"),
            ],
            &["EMP-0041", "EMP-0042"],
            json!({"order_by": "name asc", "limit": 2, "start": 1}),
            json!(["name"]),
        ),
        (
            &[("filters", r#"[["department","=","Management"]]"#)],
            &[],
            json!({"filters": [["department", "=", "Management"]], "limit": 20, "start": 0}),
            json!(["name"]),
        ),
    ];
    for (params, expected, mut filters, columns) in cases {
        let path = with_query("/api/resource/Employee", params);
        let (_, e, body) = recorded(server, HR.0, hr.get(server.at(&path)), &path).await;
        assert_eq!(data_names(&body), expected, "{path}");
        filters["names"] = json!(expected);
        check(
            &e,
            &Expect {
                export_from: Some("Employee"),
                filters: Some(filters),
                columns: Some(columns),
                row_count: Some(expected.len() as u64),
                method: "GET /api/resource/Employee",
                ..Expect::default()
            },
            &path,
        );
    }

    // One document.
    let (_, e, body) = recorded(
        server,
        HR.0,
        hr.get(server.at("/api/resource/Employee/EMP-0042")),
        "one employee",
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["data"]["employee_name"], "Cy Diaz");
    check(
        &e,
        &Expect {
            export_from: Some("Employee"),
            reference_document: Some("EMP-0042".into()),
            row_count: Some(1),
            method: "GET /api/resource/Employee/EMP-0042",
            ..Expect::default()
        },
        "one employee",
    );

    // A create answers with the document created: a read of it.
    let (_, e, body) = recorded(
        server,
        HR.0,
        hr.post(server.at("/api/resource/Employee"))
            .header("x-frappe-csrf-token", &token)
            .json(&json!({"employee_name": "Eve", "department": "Sales"})),
        "create",
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let name = v["data"]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("EMP-"), "{name}");
    check(
        &e,
        &Expect {
            export_from: Some("Employee"),
            reference_document: Some(name),
            row_count: Some(1),
            method: "POST /api/resource/Employee",
            ..Expect::default()
        },
        "create",
    );
    owned.stop().await;
}

// ----- 2. every kind of read -----

pub(super) async fn every_kind_of_read_is_recorded_with_what_it_showed(backend: Backend) {
    let Some(owned) = start(backend, "every_read", "", "").await else {
        return;
    };
    let server = &owned;
    let (hr, token) = session(server, HR.0, HR.1).await;
    let sr_columns = json!(SR_COLUMNS);
    let list_columns = json!(["name", "employee_name", "department", "modified"]);
    let run = "/api/method/frappe.desk.query_report.run";

    let cases: Vec<(&str, reqwest::RequestBuilder, Expect, &[&str])> = vec![
        (
            "form page",
            hr.get(server.at("/app/employee/EMP-0042")),
            Expect {
                export_from: Some("Employee"),
                reference_document: Some("EMP-0042".into()),
                row_count: Some(1),
                method: "GET /app/employee/EMP-0042",
                ..Expect::default()
            },
            &["Cy Diaz"],
        ),
        (
            "list page",
            hr.get(server.at("/app/employee")),
            Expect {
                export_from: Some("Employee"),
                filters: Some(json!({
                    "limit": 50,
                    "names": ["EMP-0043", "EMP-0042", "EMP-0041", "EMP-0040"],
                    "order_by": "modified desc",
                    "start": 0
                })),
                columns: Some(list_columns.clone()),
                row_count: Some(4),
                method: "GET /app/employee",
                ..Expect::default()
            },
            &["Ana Ruiz", "Bo Chen", "Cy Diaz", "Di Eng"],
        ),
        (
            "list page, filtered and sorted",
            hr.get(server.at("/app/employee?department=Sales&order_by=name%20asc")),
            Expect {
                export_from: Some("Employee"),
                filters: Some(json!({
                    "filters": [["department", "=", "Sales"]],
                    "limit": 50,
                    "names": ["EMP-0040", "EMP-0042"],
                    "order_by": "name asc",
                    "start": 0
                })),
                columns: Some(list_columns.clone()),
                row_count: Some(2),
                method: "GET /app/employee",
                ..Expect::default()
            },
            &["Ana Ruiz", "Cy Diaz"],
        ),
        (
            "report page",
            hr.get(server.at(SALARY_REGISTER)),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({"filters": {}, "limit": 100, "start": 0, "total": 4})),
                columns: Some(sr_columns.clone()),
                row_count: Some(4),
                method: "GET /app/query-report/Salary%20Register",
                ..Expect::default()
            },
            &["Ana Ruiz", "Bo Chen", "Cy Diaz", "Di Eng"],
        ),
        (
            "report page, filtered and sorted",
            hr.get(server.at(&format!(
                "{SALARY_REGISTER}?department=Sales&sort=ctc&order=desc"
            ))),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({
                    "filters": {"department": "Sales"},
                    "order_by": "ctc desc",
                    "limit": 100,
                    "start": 0,
                    "total": 2
                })),
                columns: Some(sr_columns.clone()),
                row_count: Some(2),
                method: "GET /app/query-report/Salary%20Register",
                ..Expect::default()
            },
            &["Ana Ruiz", "Cy Diaz"],
        ),
        (
            "query_report.run GET",
            hr.get(server.at(&with_query(
                run,
                &[
                    ("report_name", "Salary Register"),
                    ("filters", r#"{"department":"Sales"}"#),
                ],
            ))),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({"filters": {"department": "Sales"}})),
                columns: Some(sr_columns.clone()),
                row_count: Some(2),
                method: "GET /api/method/frappe.desk.query_report.run",
                ..Expect::default()
            },
            &["\"EMP-0040\"", "\"EMP-0042\""],
        ),
        (
            "query_report.run POST (form)",
            hr.post(server.at(run))
                .header("x-frappe-csrf-token", &token)
                .form(&[("report_name", "Salary Register"), ("filters", "{}")]),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({"filters": {}})),
                columns: Some(sr_columns.clone()),
                row_count: Some(4),
                method: "POST /api/method/frappe.desk.query_report.run",
                ..Expect::default()
            },
            &["\"EMP-0041\"", "\"EMP-0043\""],
        ),
        (
            "query_report.run POST (JSON)",
            hr.post(server.at(run))
                .header("x-frappe-csrf-token", &token)
                .json(&json!({"report_name": "Salary Register", "filters": {"department": "Operations"}})),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({"filters": {"department": "Operations"}})),
                columns: Some(sr_columns.clone()),
                row_count: Some(1),
                method: "POST /api/method/frappe.desk.query_report.run",
                ..Expect::default()
            },
            &["\"EMP-0043\""],
        ),
    ];
    let mut hr_seqs = Vec::new();
    for (what, req, expect, shown) in cases {
        let (seq, e, body) = recorded(server, HR.0, req, what).await;
        check(&e, &expect, what);
        let text = String::from_utf8_lossy(&body);
        for s in shown {
            assert!(text.contains(s), "{what}: shows {s}");
        }
        hr_seqs.push(seq);
    }
    // The report data are the rows the entry counts.
    let (seq, e, body) = recorded(
        server,
        HR.0,
        hr.get(server.at(&with_query(run, &[("report_name", "Salary Register")]))),
        "query_report.run, every row",
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let result = v["message"]["result"].as_array().unwrap();
    assert_eq!(Some(result.len() as u64), e.row_count);
    assert_eq!(result.len(), 4);
    assert_eq!(result[0]["employee"], "EMP-0041", "ordered by department");
    hr_seqs.push(seq);

    // The auditor's reads of the log are reads too.
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let size = log_size(server).await;
    let form_seq = hr_seqs[0];
    let newest = |n: u64| -> Vec<u64> { (size + 1 - n..=size).rev().collect() };
    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/api/access-log?activity=read&limit=3")),
        "/api/access-log",
    )
    .await;
    assert_eq!(data_seqs(&body), newest(3));
    check(
        &e,
        &Expect {
            export_from: Some("Access Log"),
            filters: Some(json!({"activity": "read", "limit": "3", "names": strings(&newest(3))})),
            row_count: Some(3),
            method: "GET /api/access-log",
            ..Expect::default()
        },
        "/api/access-log",
    );

    let size = log_size(server).await;
    let path = with_query(
        "/api/resource/Access Log",
        &[("fields", r#"["name","user"]"#), ("limit_page_length", "2")],
    );
    let (_, e, body) = recorded(server, ADMIN.0, admin.get(server.at(&path)), &path).await;
    let two = [size, size - 1];
    assert_eq!(data_names(&body), strings(&two));
    check(
        &e,
        &Expect {
            export_from: Some("Access Log"),
            filters: Some(json!({
                "fields": r#"["name","user"]"#,
                "limit_page_length": "2",
                "names": strings(&two)
            })),
            row_count: Some(2),
            method: "GET /api/resource/Access%20Log",
            ..Expect::default()
        },
        &path,
    );

    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log?user=hr%40example.com")),
        "/app/access-log",
    )
    .await;
    let newest_first: Vec<u64> = hr_seqs.iter().rev().copied().collect();
    assert_eq!(page_seqs(&String::from_utf8_lossy(&body)), newest_first);
    check(
        &e,
        &Expect {
            export_from: Some("Access Log"),
            filters: Some(json!({"user": HR.0, "names": strings(&newest_first)})),
            row_count: Some(hr_seqs.len() as u64),
            method: "GET /app/access-log",
            ..Expect::default()
        },
        "/app/access-log",
    );

    for path in [
        format!("/api/access-log/{form_seq}"),
        format!("/api/resource/Access%20Log/{form_seq}"),
        format!("/api/access-log/{form_seq}/proof"),
        format!("/app/access-log/{form_seq}"),
    ] {
        let (_, e, body) = recorded(server, ADMIN.0, admin.get(server.at(&path)), &path).await;
        assert!(
            String::from_utf8_lossy(&body).contains(&form_seq.to_string()),
            "{path}"
        );
        check(
            &e,
            &Expect {
                export_from: Some("Access Log"),
                reference_document: Some(form_seq.to_string()),
                row_count: Some(1),
                ..Expect::default()
            },
            &path,
        );
        assert_eq!(e.method, format!("GET {path}"));
    }
    let (_, e, _) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log/dashboard")),
        "dashboard",
    )
    .await;
    check(
        &e,
        &Expect {
            export_from: Some("Access Log"),
            report_name: Some("Access Log Dashboard"),
            filters: Some(json!({"days": 30, "reads": "show"})),
            method: "GET /app/access-log/dashboard",
            ..Expect::default()
        },
        "dashboard",
    );
    owned.stop().await;
}

// ----- 3. read_names_max -----

pub(super) async fn read_names_max_records_first_and_last(backend: Backend) {
    let Some(owned) = start(backend, "read_names_max", "", "read_names_max = 2").await else {
        return;
    };
    let server = &owned;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let first = server.store.entry(1).await.unwrap().unwrap().event;
    assert_eq!(
        first.filters.map(|f| f.to_value()),
        Some(json!({
            "before": {"log.reads": "all", "log.read_names_max": 100, "log_reads = false": []},
            "after": {"log.reads": "all", "log.read_names_max": 2, "log_reads = false": []},
        })),
        "the change is recorded"
    );

    // More than two: the first and the last.
    let path = with_query("/api/resource/Employee", &[("order_by", "name asc")]);
    let (_, e, body) = recorded(server, HR.0, hr.get(server.at(&path)), "REST, 4 rows").await;
    assert_eq!(data_names(&body).len(), 4);
    check(
        &e,
        &Expect {
            export_from: Some("Employee"),
            filters: Some(json!({
                "first": "EMP-0040",
                "last": "EMP-0043",
                "order_by": "name asc",
                "limit": 20,
                "start": 0
            })),
            columns: Some(json!(["name"])),
            row_count: Some(4),
            ..Expect::default()
        },
        "REST, 4 rows",
    );
    let (_, e, _) = recorded(
        server,
        HR.0,
        hr.get(server.at("/app/employee")),
        "page, 4 rows",
    )
    .await;
    let f = e.filters.unwrap().to_value();
    assert_eq!(
        (&f["first"], &f["last"], f.get("names")),
        (&json!("EMP-0043"), &json!("EMP-0040"), None),
        "page, 4 rows"
    );
    assert_eq!(e.row_count, Some(4));

    // Two or fewer: every name.
    let path = with_query(
        "/api/resource/Employee",
        &[
            ("filters", r#"{"department":"Sales"}"#),
            ("order_by", "name asc"),
        ],
    );
    let (_, e, _) = recorded(server, HR.0, hr.get(server.at(&path)), "REST, 2 rows").await;
    let f = e.filters.unwrap().to_value();
    assert_eq!(f["names"], json!(["EMP-0040", "EMP-0042"]));
    assert_eq!((f.get("first"), f.get("last")), (None, None));

    // The Access Log's own lists too.
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let size = log_size(server).await;
    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/api/access-log?limit=3")),
        "log, 3 entries",
    )
    .await;
    assert_eq!(data_seqs(&body), [size, size - 1, size - 2]);
    assert_eq!(
        e.filters.unwrap().to_value(),
        json!({"limit": "3", "first": size.to_string(), "last": (size - 2).to_string()})
    );
    owned.stop().await;
}
