//! A storage failure in the middle of a request is the server's failure: 500 with the problem
//! envelope, never "not found" or a form error that would send the worker to fix what they
//! typed (ARCHITECTURE.md item 4). Each route below looks up a record a form names; the table
//! it reads is taken away under the running server first. A full disk is its own answer: 507
//! `storage_full`, said in `/readyz` until a write succeeds again (issue 18, item 20).

use reqwest::StatusCode;
use serde_json::json;
use yiwang_tests::{assert_problem, both_shapes, Shape};

use yiwang_tests::world::{assert_problem_zh, expect, id, World};

both_shapes!(
    a_lookup_the_store_cannot_answer_is_a_500_not_a_form_error,
    a_full_disk_answers_507_is_reported_ready_and_recovers,
);

async fn a_lookup_the_store_cannot_answer_is_a_500_not_a_form_error(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("outage-worker").await;
    let org = id(&w.zz_joint);
    let unknown = uuid::Uuid::new_v4().to_string();

    // Mailbox: the letter names an organisation; the organisations cannot be read.
    let letter = json!({ "org_id": org, "name": "王建军", "subject": "饮水点",
                         "body": "希望在驿站旁设置饮水点", "public": false, "anonymous": false });
    // Legal aid: the application names a consultation; the consultations cannot be read.
    let aid = json!({ "consultation_id": unknown, "applicant": "王建军", "phone": "13800138000",
                      "counterparty": "郑州某某快递有限公司", "summary": "拖欠三个月工资",
                      "aid": ["mediation"] });
    // Consultations: the question names a lawyer; the roster cannot be read.
    let question = json!({ "category": "wage_arrears", "title": "快递站拖欠工资",
                           "message": "快递站拖欠三个月工资怎么办", "lawyer_id": unknown });

    // While the store answers, each names the field (the record does not exist) …
    for (path, body, field) in [
        ("/api/v1/legal-aid/applications", &aid, "consultation_id"),
        ("/api/v1/consultations", &question, "lawyer_id"),
    ] {
        let refused = assert_problem(
            app.post(path, body, Some(&worker)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], field, "{refused}");
    }

    // … and once it cannot, each is the server's failure, with the envelope.
    app.break_table("organisations").await;
    app.break_table("consultations").await;
    app.break_table("lawyers").await;
    for (path, body) in [
        ("/api/v1/mailbox/letters", &letter),
        ("/api/v1/legal-aid/applications", &aid),
        ("/api/v1/consultations", &question),
    ] {
        let failed = assert_problem(
            app.post(path, body, Some(&worker)).await,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
        )
        .await;
        assert!(failed["request_id"].is_string(), "{failed}");
        assert!(failed.get("errors").is_none(), "{path}: {failed}");
    }
}

async fn a_full_disk_answers_507_is_reported_ready_and_recovers(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("disk-full-worker").await;
    let letter = |subject: &str| {
        json!({ "org_id": id(&w.zz_joint), "name": "王建军", "subject": subject,
                "body": "希望在驿站旁设置饮水点", "public": false, "anonymous": false })
    };
    const LETTERS: &str = "/api/v1/mailbox/letters";
    let first = letter("饮水点");
    expect(
        app.post(LETTERS, &first, Some(&worker)).await,
        StatusCode::CREATED,
    )
    .await;

    let full = ["mailbox_letters", "storage_probe"];
    app.fill_disk(&full).await;
    let resp = app.post(LETTERS, &letter("充电桩"), Some(&worker)).await;
    assert_eq!(resp.headers()["retry-after"], "60");
    let problem = assert_problem_zh(resp, StatusCode::INSUFFICIENT_STORAGE, "storage_full").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("存储空间已满"),
        "{problem}"
    );

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["database"]["ok"], false, "{ready}");
    assert_eq!(ready["database"]["problem"], "storage_full", "{ready}");
    assert_eq!(ready["documents"]["ok"], true, "{ready}");
    // Reads still work.
    let mine = expect(app.get(LETTERS, Some(&worker)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");

    // Space returns: ready again at once, and the same letter is taken; the refused one
    // left nothing behind.
    app.free_disk(&full).await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    expect(
        app.post(LETTERS, &letter("充电桩"), Some(&worker)).await,
        StatusCode::CREATED,
    )
    .await;
    let mine = expect(app.get(LETTERS, Some(&worker)).await, StatusCode::OK).await;
    let subjects: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 2, "{mine}");
    assert!(
        subjects.contains(&"充电桩") && subjects.contains(&"饮水点"),
        "{mine}"
    );
}
