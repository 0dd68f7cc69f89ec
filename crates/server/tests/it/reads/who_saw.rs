//! "Who saw EMP-0042?": the review's `document` filter.

use crate::common::{Backend, session};
use serde_json::json;

use super::*;

// ----- 4. who saw EMP-0042? -----

pub(super) async fn who_saw_a_document(backend: Backend) {
    let Some(owned) = start(backend, "who_saw", "", "").await else {
        return;
    };
    let server = &owned;
    // Names close to EMP-0042's, returned by reads that must not count.
    insert_employees(server, &["EMP-00420", "XEMP-0042"]).await;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let get = |c: &reqwest::Client, path: &str| c.get(server.at(path));
    let rest = |filters: &str| {
        with_query(
            "/api/resource/Employee",
            &[("filters", filters), ("limit_page_length", "0")],
        )
    };

    // Who saw it: hr's form, admin's REST list, hr's list page.
    let (form, ..) = recorded(server, HR.0, get(&hr, "/app/employee/EMP-0042"), "form").await;
    let (rest_list, _, body) = recorded(
        server,
        ADMIN.0,
        get(&admin, &rest(r#"[["department","=","Sales"]]"#)),
        "REST list",
    )
    .await;
    assert!(data_names(&body).contains(&"EMP-0042".to_owned()));
    let (page_list, _, body) = recorded(
        server,
        HR.0,
        get(&hr, "/app/employee?department=Sales"),
        "list page",
    )
    .await;
    assert!(String::from_utf8_lossy(&body).contains("EMP-0042"));

    // Reads that did not return it.
    for (what, user, client, path) in [
        (
            "another form",
            HR.0,
            &hr,
            "/app/employee/EMP-0040".to_owned(),
        ),
        (
            "a list without it",
            HR.0,
            &hr,
            rest(r#"[["department","=","Accounts"]]"#),
        ),
        (
            "a list whose filters name it but that returned nothing",
            ADMIN.0,
            &admin,
            rest(r#"[["name","=","EMP-0042"],["department","=","Accounts"]]"#),
        ),
        (
            "a list of similar names",
            HR.0,
            &hr,
            rest(r#"[["name","in",["EMP-00420","XEMP-0042"]]]"#),
        ),
        (
            "a list page without it",
            HR.0,
            &hr,
            "/app/employee?department=Operations".to_owned(),
        ),
        (
            "the report (which records no names)",
            HR.0,
            &hr,
            format!("{SALARY_REGISTER}?department=Accounts"),
        ),
    ] {
        let (_, _, body) = recorded(server, user, get(client, &path), what).await;
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("\"EMP-0042\"") && !text.contains(">EMP-0042<"),
            "{what}"
        );
    }

    let saw = vec![page_list, rest_list, form];
    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        get(&admin, "/api/access-log?document=EMP-0042"),
        "who saw, API",
    )
    .await;
    assert_eq!(data_seqs(&body), saw, "newest first, exactly those three");
    assert_eq!(
        e.filters.unwrap().to_value(),
        json!({"document": "EMP-0042", "names": strings(&saw)})
    );
    // With another filter.
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        get(
            &admin,
            "/api/access-log?document=EMP-0042&user=hr%40example.com",
        ),
        "who saw, hr only",
    )
    .await;
    assert_eq!(data_seqs(&body), [page_list, form]);

    // The review page says the same, with its counts.
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        get(&admin, "/app/access-log?document=EMP-0042"),
        "who saw, page",
    )
    .await;
    let html = String::from_utf8_lossy(&body);
    assert_eq!(page_seqs(&html), saw, "{html}");
    assert!(
        html.contains(r#"name="document" value="EMP-0042""#),
        "{html}"
    );
    assert!(
        html.contains(">hr@example.com</a> <span class=\"muted\">2</span>")
            && html.contains(">admin@example.com</a> <span class=\"muted\">1</span>"),
        "{html}"
    );
    // A name nobody saw.
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        get(&admin, "/api/access-log?document=EMP-0099"),
        "nobody saw it",
    )
    .await;
    assert_eq!(data_seqs(&body), Vec::<u64>::new());
    owned.stop().await;
}

/// An auditor's search of the log records its parameters beside the entry numbers it
/// returned; one whose parameter holds the document's name did not return the document.
pub(super) async fn who_saw_is_not_fooled_by_searches_of_the_log(backend: Backend) {
    let Some(owned) = start(backend, "who_saw_searches", "", "").await else {
        return;
    };
    let server = &owned;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let (form, ..) = recorded(
        server,
        HR.0,
        hr.get(server.at("/app/employee/EMP-0042")),
        "form",
    )
    .await;
    // Searches of the log whose parameters name EMP-0042: each returned log entries (the
    // form read), not the employee.
    for path in [
        "/api/access-log?reference_document=EMP-0042",
        "/api/access-log?q=EMP-0042",
        "/app/access-log?reference_document=EMP-0042",
    ] {
        let (_, e, _) = recorded(server, ADMIN.0, admin.get(server.at(path)), path).await;
        assert_eq!(e.row_count, Some(1), "{path}");
    }
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/api/access-log?document=EMP-0042")),
        "who saw",
    )
    .await;
    assert_eq!(
        data_seqs(&body),
        [form],
        "only the form read saw EMP-0042; the searches of the log did not"
    );
    owned.stop().await;
}

/// Names are matched exactly, as the documents' names are: `emp-0042` is another employee.
pub(super) async fn who_saw_matches_the_name_exactly(backend: Backend) {
    let Some(owned) = start(backend, "who_saw_exact", "", "").await else {
        return;
    };
    let server = &owned;
    insert_employees(server, &["emp-0042"]).await;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let path = with_query(
        "/api/resource/Employee",
        &[("filters", r#"[["name","=","emp-0042"]]"#)],
    );
    let (other, _, body) = recorded(server, HR.0, hr.get(server.at(&path)), "emp-0042").await;
    assert_eq!(data_names(&body), ["emp-0042"]);
    let path = with_query(
        "/api/resource/Employee",
        &[("filters", r#"[["name","=","EMP-0042"]]"#)],
    );
    let (this, _, body) = recorded(server, HR.0, hr.get(server.at(&path)), "EMP-0042").await;
    assert_eq!(data_names(&body), ["EMP-0042"]);
    for (document, expected) in [("EMP-0042", this), ("emp-0042", other)] {
        let (_, _, body) = recorded(
            server,
            ADMIN.0,
            admin.get(server.at(&format!("/api/access-log?document={document}"))),
            document,
        )
        .await;
        assert_eq!(data_seqs(&body), [expected], "who saw {document}");
    }
    owned.stop().await;
}
