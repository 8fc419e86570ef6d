//! Legal-aid applications over HTTP: a worker applies (from a consultation or directly); an
//! official accepts by assigning a lawyer or rejects with a reason; the lawyer closes it with
//! the outcome; the worker follows the status. Every illegal step is a 409, bad input a 422
//! naming the fields, other people's records a 404.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use yiwang_tests::views::assert_view;
use yiwang_tests::{both_shapes, Shape};

use yiwang_tests::world::{assert_invalid, assert_problem_zh, expect, World};

use crate::consultations::lawyer;

both_shapes!(an_application_is_accepted_closed_or_rejected);

const APPLY: &str = "/api/v1/legal-aid/applications";
const ADMIN: &str = "/api/v1/admin/legal-aid/applications";

fn form(summary: &str) -> Value {
    json!({ "applicant": "王建军", "phone": "138 0013 8000", "counterparty": "郑州某某快递有限公司",
            "summary": summary, "amount_fen": 1_200_000, "aid": ["mediation", "representation"] })
}

async fn an_application_is_accepted_closed_or_rejected(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("aid-asker").await;
    let (lawyer_tok, lawyer) = w.official("aid-lawyer", &w.root_org, "lawyer").await;
    let profile = json!({ "name": "张明", "law_firm": "河南郑州律师事务所",
                          "licence_number": "14101201010123456", "specialties": ["wage_arrears"],
                          "years_in_practice": 8 });
    expect(
        app.request(
            Method::PUT,
            &format!("/api/v1/admin/lawyers/{lawyer}"),
            Some(&profile),
            Some(&w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let (other_lawyer_tok, _) = w.official("aid-lawyer-2", &w.root_org, "lawyer").await;
    let (zz_admin, _) = w.official("zz-aid-admin", &w.zz, "org_admin").await;
    let post = |path: String, body: Value, tok: &str, key: Option<&str>| {
        let mut req = app
            .client
            .post(format!("{}{path}", app.base))
            .bearer_auth(tok)
            .json(&body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        async move { req.send().await.unwrap() }
    };

    // Applied once, though tapped twice.
    let first = post(
        APPLY.into(),
        form("拖欠工资三个月，共一万二千元"),
        &worker,
        Some("aid-1"),
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let applied: Value = first.json().await.unwrap();
    let again = post(
        APPLY.into(),
        form("拖欠工资三个月，共一万二千元"),
        &worker,
        Some("aid-1"),
    )
    .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(applied["status"], "submitted");
    assert_eq!(applied["phone"], "13800138000");
    assert_eq!(applied["aid"], json!(["mediation", "representation"]));
    let mine = expect(app.get(APPLY, Some(&worker)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let id = applied["id"].as_str().unwrap().to_owned();
    let at = |action: &str| format!("{ADMIN}/{id}/{action}");

    // Bad input, every field named; risky text refused; nothing stored.
    let bad = json!({ "applicant": "", "phone": "12345", "counterparty": "某公司", "summary": "欠薪",
                      "amount_fen": -5, "aid": ["lawsuit"],
                      "consultation_id": "00000000-0000-0000-0000-000000000000" });
    let resp = post(APPLY.into(), bad, &worker, None).await;
    assert_invalid(
        resp,
        &[
            ("applicant", "required"),
            ("phone", "invalid"),
            ("amount_fen", "negative"),
            ("aid.0", "not_allowed"),
            ("consultation_id", "not_allowed"),
        ],
    )
    .await;
    let resp = post(APPLY.into(), form("这是 risky 内容"), &worker, None).await;
    assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "content_risky").await;
    let mine = expect(app.get(APPLY, Some(&worker)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);

    // Outside the root's branch, an official finds nothing; a lawyer may not decide.
    let resp = post(
        at("accept"),
        json!({ "lawyer_id": lawyer }),
        &zz_admin,
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = post(at("close"), json!({ "outcome": "结案" }), &lawyer_tok, None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = post(at("close"), json!({ "outcome": "结案" }), &w.root, None).await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "not_accepted").await;

    // Accepted with a lawyer; decided once. With an Idempotency-Key the retry of a lost
    // answer gets the first answer, not 409.
    let accepted = expect(
        post(
            at("accept"),
            json!({ "lawyer_id": lawyer }),
            &w.root,
            Some("accept-1"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let again = post(
        at("accept"),
        json!({ "lawyer_id": lawyer }),
        &w.root,
        Some("accept-1"),
    )
    .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect(again, StatusCode::OK).await, accepted);
    assert_eq!(
        (accepted["status"].as_str(), accepted["lawyer_id"].as_str()),
        (Some("accepted"), Some(lawyer.as_str()))
    );
    let resp = post(
        at("reject"),
        json!({ "reason": "不符合条件" }),
        &w.root,
        None,
    )
    .await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "not_submitted").await;

    // The lawyer sees it among theirs and closes it; another lawyer cannot.
    let theirs = expect(app.get(ADMIN, Some(&lawyer_tok)).await, StatusCode::OK).await;
    assert_eq!(theirs["items"][0]["id"], id.as_str());
    assert_view("admin_legal_aid", &theirs);
    let resp = post(
        at("close"),
        json!({ "outcome": "结案" }),
        &other_lawyer_tok,
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = post(at("close"), json!({ "outcome": " " }), &lawyer_tok, None).await;
    assert_invalid(resp, &[("outcome", "required")]).await;
    let closed = expect(
        post(
            at("close"),
            json!({ "outcome": "调解成功，追回工资一万二千元" }),
            &lawyer_tok,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["status"], "closed");
    let seen = expect(
        app.get(&format!("{APPLY}/{id}"), Some(&worker)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen["outcome"], "调解成功，追回工资一万二千元");
    assert_eq!(seen["status_label"], "已结案");
    assert_view("legal_aid_closed", &seen);

    // A second application is rejected with the reason the worker reads.
    let second = expect(
        post(APPLY.into(), form("工伤认定被拒"), &worker, None).await,
        StatusCode::CREATED,
    )
    .await;
    let second_id = second["id"].as_str().unwrap();
    // Two officials decide at once: one wins, the other is told it is decided.
    let (root2, _) = w.official("root-aid-admin", &w.root_org, "org_admin").await;
    let reason = json!({ "reason": "请先申请工伤认定行政复议" });
    let path = format!("{ADMIN}/{second_id}/reject");
    let (x, y) = tokio::join!(
        post(path.clone(), reason.clone(), &w.root, None),
        post(path.clone(), reason.clone(), &root2, None)
    );
    let mut statuses = [x.status(), y.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let rejected = expect(
        app.get(&format!("{APPLY}/{second_id}"), Some(&worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rejected["rejection_reason"], "请先申请工伤认定行政复议");
    assert_eq!(rejected["status"], "rejected");
    let queue = expect(
        app.get(&format!("{ADMIN}?status=rejected"), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
    let other = w.worker("aid-nosy").await;
    let resp = app.get(&format!("{APPLY}/{second_id}"), Some(&other)).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

both_shapes!(a_worker_withdraws_an_application_still_open);

async fn a_worker_withdraws_an_application_still_open(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("aid-withdrawer").await;
    let other = w.worker("aid-other").await;
    let (_, lawyer) = lawyer(
        &w,
        "aid-lawyer-w",
        "张明",
        "14101201010123457",
        &["wage_arrears"],
    )
    .await;
    let me = worker.as_str();
    let apply = |summary: &'static str| async move {
        let resp = app.post(APPLY, &form(summary), Some(me)).await;
        expect(resp, StatusCode::CREATED).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let withdraw = |id: String, tok: String| async move {
        app.post(&format!("{APPLY}/{id}/withdraw"), &json!({}), Some(&tok))
            .await
    };

    // Someone else's application is not found; the worker's own is withdrawn, once.
    let waiting = apply("老板拖欠两个月工资").await;
    let resp = withdraw(waiting.clone(), other.clone()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let withdrawn = expect(
        withdraw(waiting.clone(), worker.clone()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            withdrawn["status"].as_str(),
            withdrawn["status_label"].as_str()
        ),
        (Some("withdrawn"), Some("已撤回"))
    );
    let again = withdraw(waiting.clone(), worker.clone()).await;
    assert_problem_zh(again, StatusCode::CONFLICT, "not_open").await;
    // An official can no longer accept it, and finds it under its state.
    let resp = app
        .post(
            &format!("{ADMIN}/{waiting}/accept"),
            &json!({ "lawyer_id": lawyer }),
            Some(&w.root),
        )
        .await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "not_submitted").await;
    let queue = expect(
        app.get(&format!("{ADMIN}?status=withdrawn"), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(queue["items"][0]["id"], waiting.as_str());

    // Accepted and not closed: still the worker's to withdraw; closed, no longer.
    let accepted = apply("公司未缴社保").await;
    expect(
        app.post(
            &format!("{ADMIN}/{accepted}/accept"),
            &json!({ "lawyer_id": lawyer }),
            Some(&w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let dropped = expect(
        withdraw(accepted.clone(), worker.clone()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(dropped["status"], "withdrawn");
    let closed = apply("工伤赔偿未到位").await;
    expect(
        app.post(
            &format!("{ADMIN}/{closed}/accept"),
            &json!({ "lawyer_id": lawyer }),
            Some(&w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    expect(
        app.post(
            &format!("{ADMIN}/{closed}/close"),
            &json!({ "outcome": "调解成功" }),
            Some(&w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let resp = withdraw(closed.clone(), worker.clone()).await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "not_open").await;
    let mine = expect(app.get(APPLY, Some(&worker)).await, StatusCode::OK).await;
    let mut states: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    states.sort_unstable();
    assert_eq!(states, ["closed", "withdrawn", "withdrawn"]);
}
