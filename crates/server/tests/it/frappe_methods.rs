//! ERPNext's `frappe.client` methods: each one's answer in ERPNext's shape, its error shape
//! for a missing document, a refused permission and a bad filter, and what it records.

use accesslog_core::entry::{Activity, Outcome};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestServer, last_event, log_size, on_both_backends, session};

on_both_backends!(
    run: crate::common::with_server;
    reads_answer_in_erpnexts_shape_and_are_recorded,
    writes_answer_the_document_and_are_recorded_as_reads_of_it,
    errors_have_erpnexts_shape,
    delete_needs_its_permission_and_rename_is_refused_with_why,
    posts_to_root_with_cmd_reach_the_method,
    the_desks_list_calls_answer_and_are_recorded,
    the_v2_document_api_and_rest_delete_work,
    the_data_export_tool_is_recorded_as_an_export,
    v2_methods_answer_under_data_and_err_as_a_list,
    every_method_errs_in_erpnexts_shape,
);

async fn call(
    server: &TestServer,
    c: &reqwest::Client,
    method: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = c
        .post(server.at(&format!("/api/method/frappe.client.{method}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn seed(server: &TestServer) -> reqwest::Client {
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    for (name, territory) in [
        ("Acme Corp", "North"),
        ("Bolt Ltd", "South"),
        ("Crane Co", "North"),
    ] {
        let (status, body) = call(
            server,
            &sales,
            "insert",
            json!({"doc": {"doctype": "Customer", "customer_name": name, "territory": territory}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    sales
}

async fn reads_answer_in_erpnexts_shape_and_are_recorded(server: &TestServer) {
    let sales = seed(server).await;
    let (status, body) = call(
        server,
        &sales,
        "get_list",
        json!({"doctype": "Customer", "fields": ["name", "territory"], "filters": {"territory": "North"}, "order_by": "name asc"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"message": [{"name": "Acme Corp", "territory": "North"}, {"name": "Crane Co", "territory": "North"}]})
    );
    let e = last_event(server).await;
    assert_eq!((e.activity, e.row_count), (Activity::Read, Some(2)));
    assert_eq!(e.method, "POST /api/method/frappe.client.get_list");
    assert!(
        e.filters
            .unwrap()
            .as_str()
            .contains(r#""names":["Acme Corp","Crane Co"]"#)
    );

    // or_filters: at least one of them, besides every filter.
    let (_, body) = call(
        server,
        &sales,
        "get_list",
        json!({"doctype": "Customer", "filters": {"territory": ["!=", "East"]}, "or_filters": [["Customer", "name", "=", "Bolt Ltd"], ["Customer", "name", "=", "Crane Co"]], "order_by": "name asc"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"message": [{"name": "Bolt Ltd"}, {"name": "Crane Co"}]})
    );
    assert!(
        last_event(server)
            .await
            .filters
            .unwrap()
            .as_str()
            .contains("or_filters")
    );
    let (_, body) = call(
        server,
        &sales,
        "get_count",
        json!({"doctype": "Customer", "or_filters": {"territory": "South", "name": "Acme Corp"}}),
    )
    .await;
    assert_eq!(body, json!({"message": 2}));

    // group_by, with aggregates, as ERPNext answers it.
    let (status, body) = call(
        server,
        &sales,
        "get_list",
        json!({"doctype": "Customer", "fields": ["territory", "count(name) as count", "max(customer_name)"], "group_by": "territory", "order_by": "territory desc"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"message": [
            {"territory": "South", "count": 1, "max(customer_name)": "Bolt Ltd"},
            {"territory": "North", "count": 2, "max(customer_name)": "Crane Co"}
        ]})
    );
    let e = last_event(server).await;
    assert_eq!(e.row_count, Some(2));
    assert!(
        e.filters
            .unwrap()
            .as_str()
            .contains(r#""group_by":"territory""#)
    );

    // GET, with the parameters in the query string.
    let r = sales
        .get(server.at("/api/method/frappe.client.get_count?doctype=Customer&filters=%7B%22territory%22%3A%22North%22%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": 2}));
    let e = last_event(server).await;
    assert_eq!(
        (e.activity, e.export_from.as_deref()),
        (Activity::Read, Some("Customer"))
    );

    let (_, body) = call(
        server,
        &sales,
        "get",
        json!({"doctype": "Customer", "name": "Bolt Ltd"}),
    )
    .await;
    assert_eq!(body["message"]["territory"], "South");
    assert_eq!(body["message"]["doctype"], "Customer");
    assert_eq!(
        last_event(server).await.reference_document.as_deref(),
        Some("Bolt Ltd")
    );

    let (_, body) = call(
        server,
        &sales,
        "get_value",
        json!({"doctype": "Customer", "fieldname": "territory", "filters": "Bolt Ltd"}),
    )
    .await;
    assert_eq!(body, json!({"message": {"territory": "South"}}));
    let (_, body) = call(
        server,
        &sales,
        "get_value",
        json!({"doctype": "Customer", "fieldname": ["name", "territory"], "filters": {"territory": "Nowhere"}}),
    )
    .await;
    assert_eq!(body, json!({"message": {}}), "no match: an empty object");
}

async fn writes_answer_the_document_and_are_recorded_as_reads_of_it(server: &TestServer) {
    let sales = seed(server).await;
    let before = log_size(server).await;
    let (status, body) = call(
        server,
        &sales,
        "insert_many",
        json!({"docs": [
            {"doctype": "Customer", "customer_name": "Delta AG"},
            {"doctype": "Customer", "customer_name": "Echo SA"}
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"message": ["Delta AG", "Echo SA"]}));
    assert_eq!(log_size(server).await, before + 1);
    let e = last_event(server).await;
    assert_eq!((e.activity, e.row_count), (Activity::Read, Some(2)));

    let too_many: Vec<Value> = (0..201)
        .map(|i| json!({"doctype": "Customer", "customer_name": format!("N{i}")}))
        .collect();
    let (status, body) = call(server, &sales, "insert_many", json!({"docs": too_many})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("at most 200"));

    // Accounts may write invoices; sales may not (only create).
    let (accounts, _) = session(server, "accounts@example.com", "accounts").await;
    let (_, inv) = call(
        server,
        &accounts,
        "insert",
        json!({"doc": {"doctype": "Sales Invoice", "customer": "Acme Corp", "grand_total": 10, "status": "Draft"}}),
    )
    .await;
    let name = inv["message"]["name"].as_str().unwrap().to_owned();
    let (status, body) = call(
        server,
        &accounts,
        "set_value",
        json!({"doctype": "Sales Invoice", "name": name, "fieldname": "grand_total", "value": 12.5}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["grand_total"], 12.5);
    let (_, body) = call(
        server,
        &accounts,
        "set_value",
        json!({"doctype": "Sales Invoice", "name": name, "fieldname": {"status": "Unpaid", "grand_total": 13}}),
    )
    .await;
    assert_eq!(
        (
            body["message"]["status"].as_str(),
            body["message"]["grand_total"].as_f64()
        ),
        (Some("Unpaid"), Some(13.0))
    );
    let mut doc = body["message"].clone();
    doc["status"] = json!("Paid");
    let (status, body) = call(server, &accounts, "save", json!({"doc": doc})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["status"], "Paid");
    let e = last_event(server).await;
    assert_eq!(
        (
            e.activity,
            e.method.as_str(),
            e.reference_document.as_deref()
        ),
        (
            Activity::Read,
            "POST /api/method/frappe.client.save",
            Some(name.as_str())
        )
    );
}

async fn errors_have_erpnexts_shape(server: &TestServer) {
    let sales = seed(server).await;
    let check = |status: StatusCode, body: &Value, want: StatusCode, exc_type: &str, says: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["exc_type"], exc_type, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}");
        assert_eq!(
            body["exception"],
            format!("frappe.exceptions.{exc_type}: {message}")
        );
        let exc: Vec<String> = serde_json::from_str(body["exc"].as_str().unwrap()).unwrap();
        assert_eq!(exc.len(), 1);
        let messages: Vec<String> =
            serde_json::from_str(body["_server_messages"].as_str().unwrap()).unwrap();
        let first: Value = serde_json::from_str(&messages[0]).unwrap();
        assert_eq!(
            (first["message"].as_str(), first["indicator"].as_str()),
            (Some(message), Some("red"))
        );
    };
    // A missing document.
    let (s, b) = call(
        server,
        &sales,
        "get",
        json!({"doctype": "Customer", "name": "Nobody"}),
    )
    .await;
    check(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "DoesNotExistError",
        "Customer Nobody not found",
    );
    let (s, b) = call(
        server,
        &sales,
        "set_value",
        json!({"doctype": "Customer", "name": "Nobody", "fieldname": "territory", "value": "X"}),
    )
    .await;
    check(
        s,
        &b,
        StatusCode::FORBIDDEN,
        "PermissionError",
        "permission to write Customer",
    );
    // A refused permission (HR may not read customers), recorded as denied.
    let (hr, _) = session(server, "hr@example.com", "hr").await;
    for method in ["get_list", "get_count", "get", "get_value"] {
        let (s, b) = call(
            server,
            &hr,
            method,
            json!({"doctype": "Customer", "name": "Acme Corp", "fieldname": "name"}),
        )
        .await;
        check(
            s,
            &b,
            StatusCode::FORBIDDEN,
            "PermissionError",
            "permission to read Customer",
        );
        let e = last_event(server).await;
        assert_eq!(
            (e.outcome, e.method),
            (
                Outcome::Denied,
                format!("POST /api/method/frappe.client.{method}")
            )
        );
    }
    // A bad filter.
    for method in ["get_list", "get_count", "get_value"] {
        let (s, b) = call(
            server,
            &sales,
            method,
            json!({"doctype": "Customer", "fieldname": "name", "filters": {"no_such_field": 1}}),
        )
        .await;
        check(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "no_such_field",
        );
    }
    let (s, b) = call(
        server,
        &sales,
        "get_list",
        json!({"doctype": "Customer", "group_by": "territory", "fields": ["territory", "customer_name"]}),
    )
    .await;
    check(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "ValidationError",
        "neither the grouped column",
    );
    let (s, b) = call(
        server,
        &sales,
        "get_list",
        json!({"doctype": "Customer", "group_by": "territory", "fields": ["territory", "group_concat(name)"]}),
    )
    .await;
    check(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "ValidationError",
        "group_concat",
    );
    let (s, b) = call(
        server,
        &sales,
        "get_single_value",
        json!({"doctype": "Customer", "field": "territory"}),
    )
    .await;
    check(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "ValidationError",
        "not a Single",
    );
}

async fn delete_needs_its_permission_and_rename_is_refused_with_why(server: &TestServer) {
    let sales = seed(server).await;
    let (s, b) = call(
        server,
        &sales,
        "delete",
        json!({"doctype": "Customer", "name": "Acme Corp"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("permission to delete Customer")
    );
    let (admin, _) = session(server, "admin@example.com", "admin").await;
    let before = log_size(server).await;
    let (s, b) = call(
        server,
        &admin,
        "delete",
        json!({"doctype": "Customer", "name": "Acme Corp"}),
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));
    assert_eq!(
        log_size(server).await,
        before,
        "a delete releases no record data"
    );
    let (s, b) = call(
        server,
        &admin,
        "get",
        json!({"doctype": "Customer", "name": "Acme Corp"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, _) = call(
        server,
        &admin,
        "delete",
        json!({"doctype": "Customer", "name": "Acme Corp"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = call(
        server,
        &admin,
        "rename_doc",
        json!({"doctype": "Customer", "old_name": "Bolt Ltd", "new_name": "B"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("history"), "{b}");
}

async fn posts_to_root_with_cmd_reach_the_method(server: &TestServer) {
    seed(server).await;
    // A client that follows redirects, as Frappe clients (requests) do.
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .referer(false)
        .build()
        .unwrap();
    server.login(&c, "sales@example.com", "sales").await;
    let r = c
        .post(server.at("/"))
        .form(&[
            ("cmd", "frappe.client.get_value"),
            ("doctype", "Customer"),
            ("fieldname", "territory"),
            ("filters", "Bolt Ltd"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": {"territory": "South"}})
    );
    assert_eq!(
        last_event(server).await.method,
        "POST /api/method/frappe.client.get_value"
    );
}

async fn the_desks_list_calls_answer_and_are_recorded(server: &TestServer) {
    let sales = seed(server).await;
    let r = sales
        .post(server.at("/api/method/frappe.desk.reportview.get"))
        .form(&[
            ("doctype", "Customer"),
            (
                "fields",
                r#"["`tabCustomer`.`name`", "`tabCustomer`.`territory`"]"#,
            ),
            ("filters", r#"[["Customer", "territory", "=", "North"]]"#),
            ("order_by", "name desc"),
            ("start", "0"),
            ("page_length", "20"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"]["keys"], json!(["name", "territory"]));
    assert_eq!(
        body["message"]["values"],
        json!([["Crane Co", "North"], ["Acme Corp", "North"]])
    );
    let e = last_event(server).await;
    assert_eq!((e.activity, e.row_count), (Activity::Read, Some(2)));
    assert_eq!(e.method, "POST /api/method/frappe.desk.reportview.get");

    let (_, body) = {
        let r = sales
            .get(server.at("/api/method/frappe.desk.reportview.get_list?doctype=Customer&fields=%5B%22name%22%5D&order_by=name%20asc&start=1&page_length=1"))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(body, json!({"message": [{"name": "Bolt Ltd"}]}));
}

async fn the_v2_document_api_and_rest_delete_work(server: &TestServer) {
    let sales = seed(server).await;
    let r = sales
        .get(server.at(
            "/api/v2/document/Customer?fields=%5B%22name%22%5D&order_by=name%20asc&limit=2&start=1",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"data": [{"name": "Bolt Ltd"}, {"name": "Crane Co"}]})
    );
    assert_eq!(
        last_event(server).await.method,
        "GET /api/v2/document/Customer"
    );
    let r = sales
        .post(server.at("/api/v2/document/Customer"))
        .json(&json!({"customer_name": "Fox Ltd", "territory": "East"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["territory"],
        "East"
    );
    let r = sales
        .get(server.at("/api/v2/document/Customer/Fox%20Ltd"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["data"]["name"], "Fox Ltd");
    // Sales may not write customers, only create them.
    let r = sales
        .patch(server.at("/api/v2/document/Customer/Fox%20Ltd"))
        .json(&json!({"territory": "West"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = sales
        .get(server.at("/api/v2/document/Customer/Fox%20Ltd"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["territory"],
        "East",
        "the refused write changed nothing"
    );
    let (admin, _) = session(server, "admin@example.com", "admin").await;
    let r = admin
        .patch(server.at("/api/v2/document/Customer/Fox%20Ltd"))
        .json(&json!({"territory": "West"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["territory"],
        "West"
    );
    for path in [
        "/api/v2/document/Customer/Fox%20Ltd",
        "/api/resource/Customer/Crane%20Co",
    ] {
        let r = sales.delete(server.at(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let r = admin.get(server.at(path)).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{path}: still there after the refusal"
        );
        let r = admin.delete(server.at(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"data": "ok"}));
        let r = admin.get(server.at(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

async fn the_data_export_tool_is_recorded_as_an_export(server: &TestServer) {
    seed(server).await;
    let (accounts, _) = session(server, "accounts@example.com", "accounts").await;
    for total in [10, 20] {
        let (status, body) = call(
            server,
            &accounts,
            "insert",
            json!({"doc": {"doctype": "Sales Invoice", "customer": "Acme Corp", "grand_total": total}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let export = |with_data: &'static str, columns: Value| {
        let accounts = accounts.clone();
        let url = server.at("/api/method/frappe.core.doctype.data_export.exporter.export_data");
        async move {
            accounts
                .post(url)
                .form(&[
                    ("doctype", "Sales Invoice"),
                    ("select_columns", &columns.to_string()),
                    ("file_type", "CSV"),
                    ("with_data", with_data),
                    ("filters", r#"{"customer": "Acme Corp"}"#),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = export("1", json!({"Sales Invoice": ["name", "grand_total"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("Sales Invoice.csv")
    );
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    let e = last_event(server).await;
    assert_eq!(
        (
            e.activity,
            e.file_type.as_deref(),
            e.row_count,
            e.export_from.as_deref()
        ),
        (
            Activity::Export,
            Some("CSV"),
            Some(2),
            Some("Sales Invoice")
        )
    );
    assert_eq!(
        e.method,
        "POST /api/method/frappe.core.doctype.data_export.exporter.export_data"
    );

    let r = export("0", json!({"Sales Invoice": ["name"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.text().await.unwrap().lines().count(),
        1,
        "the header alone"
    );
    assert_eq!(last_event(server).await.row_count, Some(0));

    let r = export(
        "1",
        json!({"Sales Invoice": ["name"], "Sales Invoice Item": ["item_code"]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("Sales Invoice Item"));

    // Sales may not export invoices: refused, and the refusal recorded.
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales
        .post(server.at("/api/method/frappe.core.doctype.data_export.exporter.export_data"))
        .form(&[("doctype", "Sales Invoice"), ("file_type", "CSV")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let e = last_event(server).await;
    assert_eq!((e.activity, e.outcome), (Activity::Export, Outcome::Denied));
}

async fn v2_methods_answer_under_data_and_err_as_a_list(server: &TestServer) {
    let sales = seed(server).await;
    let r = sales
        .post(server.at("/api/v2/method/frappe.client.get_value"))
        .json(&json!({"doctype": "Customer", "fieldname": "territory", "filters": "Bolt Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"data": {"territory": "South"}})
    );
    let e = last_event(server).await;
    assert_eq!(e.method, "POST /api/v2/method/frappe.client.get_value");
    let r = sales
        .get(server.at("/api/v2/method/frappe.auth.get_logged_user"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"data": "sales@example.com"})
    );

    let (hr, _) = session(server, "hr@example.com", "hr").await;
    let r = hr
        .post(server.at("/api/v2/method/frappe.client.get_list"))
        .json(&json!({"doctype": "Customer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["type"], "PermissionError", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("permission to read Customer")
    );
    assert!(body.get("exc_type").is_none(), "v2 has no exc_type: {body}");
    let e = last_event(server).await;
    assert_eq!(
        (e.outcome, e.method.as_str()),
        (
            Outcome::Denied,
            "POST /api/v2/method/frappe.client.get_list"
        )
    );
}

/// Every frappe.client method against each error that applies to it: a missing document,
/// a refused permission, a bad filter; each answered in ERPNext's error shape.
async fn every_method_errs_in_erpnexts_shape(server: &TestServer) {
    let sales = seed(server).await;
    let (hr, _) = session(server, "hr@example.com", "hr").await;
    let shape = |what: &str, status: StatusCode, body: &Value, want: StatusCode, exc_type: &str| {
        assert_eq!(status, want, "{what}: {body}");
        assert_eq!(body["exc_type"], exc_type, "{what}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{what}: {body}");
        assert_eq!(
            body["exception"],
            format!("frappe.exceptions.{exc_type}: {message}"),
            "{what}"
        );
        assert!(
            body["exc"].as_str().is_some() && body["_server_messages"].as_str().is_some(),
            "{what}: {body}"
        );
    };
    let nobody = "No Such Customer";
    let missing: Vec<(&str, Value)> = vec![
        ("get", json!({"doctype": "Customer", "name": nobody})),
        (
            "set_value",
            json!({"doctype": "Sales Invoice", "name": nobody, "fieldname": "status", "value": "Paid"}),
        ),
        (
            "save",
            json!({"doc": {"doctype": "Sales Invoice", "name": nobody, "status": "Paid"}}),
        ),
        ("delete", json!({"doctype": "Customer", "name": nobody})),
    ];
    let (admin, _) = session(server, "admin@example.com", "admin").await;
    for (method, body) in missing {
        let (s, b) = call(server, &admin, method, body).await;
        shape(
            &format!("{method}, missing"),
            s,
            &b,
            StatusCode::NOT_FOUND,
            "DoesNotExistError",
        );
    }
    let refused: Vec<(&str, &reqwest::Client, Value)> = vec![
        ("get_list", &hr, json!({"doctype": "Customer"})),
        ("get_count", &hr, json!({"doctype": "Customer"})),
        (
            "get",
            &hr,
            json!({"doctype": "Customer", "name": "Acme Corp"}),
        ),
        (
            "get_value",
            &hr,
            json!({"doctype": "Customer", "fieldname": "name", "filters": "Acme Corp"}),
        ),
        (
            "insert",
            &hr,
            json!({"doc": {"doctype": "Customer", "customer_name": "X"}}),
        ),
        (
            "insert_many",
            &hr,
            json!({"docs": [{"doctype": "Customer", "customer_name": "X"}]}),
        ),
        (
            "save",
            &sales,
            json!({"doc": {"doctype": "Customer", "name": "Acme Corp", "territory": "X"}}),
        ),
        (
            "set_value",
            &sales,
            json!({"doctype": "Customer", "name": "Acme Corp", "fieldname": "territory", "value": "X"}),
        ),
        (
            "bulk_update",
            &sales,
            json!({"docs": [{"doctype": "Customer", "name": "Acme Corp", "territory": "X"}]}),
        ),
        (
            "delete",
            &sales,
            json!({"doctype": "Customer", "name": "Acme Corp"}),
        ),
    ];
    for (method, who, body) in refused {
        let (s, b) = call(server, who, method, body).await;
        shape(
            &format!("{method}, refused"),
            s,
            &b,
            StatusCode::FORBIDDEN,
            "PermissionError",
        );
    }
    let bad_filter = json!({"no_such_field": 1});
    for method in ["get_list", "get_count", "get_value"] {
        let (s, b) = call(
            server,
            &sales,
            method,
            json!({"doctype": "Customer", "fieldname": "name", "filters": bad_filter}),
        )
        .await;
        shape(
            &format!("{method}, bad filter"),
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "ValidationError",
        );
    }
}
