//! The employer early warning over HTTP: workers asking about one employer, however they
//! write its name, raise one alert at the rule's threshold, for the officials whose branch
//! holds it, with an outbox event; an official acknowledges it once; the rule is a
//! super_admin's, and bad input changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use yiwang_tests::views::assert_view;
use yiwang_tests::{both_shapes, Shape};

use yiwang_tests::world::{assert_invalid, assert_problem_zh, expect, outbox_payloads, World};

both_shapes!(workers_naming_one_employer_raise_one_alert_an_official_acknowledges);

const ASK: &str = "/api/v1/consultations";
const ALERTS: &str = "/api/v1/admin/early-warnings";
const RULE: &str = "/api/v1/admin/early-warnings/rule";

fn question(employer: &str, code: Option<&str>) -> Value {
    json!({ "category": "wage_arrears", "title": "欠薪", "message": "老板拖欠工资两个月",
            "employer": employer, "employer_credit_code": code })
}

async fn alerts(w: &World, tok: &str, query: &str) -> Vec<Value> {
    let page = expect(
        w.app.get(&format!("{ALERTS}{query}"), Some(tok)).await,
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

async fn workers_naming_one_employer_raise_one_alert_an_official_acknowledges(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (branch_admin, _) = w.official("zz-admin", &w.zz, "org_admin").await;

    // The rule: 5 in 7 days to start with; only a super_admin changes it, every field checked.
    let rule = expect(app.get(RULE, Some(&w.root)).await, StatusCode::OK).await;
    assert_eq!(rule, json!({ "threshold": 5, "window_days": 7 }));
    assert_view("early_warning_rule", &rule);
    let three = json!({ "threshold": 3, "window_days": 7 });
    let resp = app
        .request(Method::PUT, RULE, Some(&three), Some(&branch_admin))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let bad = json!({ "threshold": 1, "window_days": 0 });
    let resp = app
        .request(Method::PUT, RULE, Some(&bad), Some(&w.root))
        .await;
    assert_invalid(
        resp,
        &[
            ("threshold", "out_of_range"),
            ("window_days", "out_of_range"),
        ],
    )
    .await;
    let resp = app
        .request(Method::PUT, RULE, Some(&json!({})), Some(&w.root))
        .await;
    assert_invalid(
        resp,
        &[("threshold", "required"), ("window_days", "required")],
    )
    .await;
    // A whole number may come written with a zero fraction, as JSON Schema counts integers
    // (a generated client in a language without integers sends `3.0`).
    let written_as_floats: Value =
        serde_json::from_str(r#"{"threshold":3.0,"window_days":7.0}"#).unwrap();
    let saved = app
        .request(Method::PUT, RULE, Some(&written_as_floats), Some(&w.root))
        .await;
    assert_eq!(expect(saved, StatusCode::OK).await, three);
    let half = json!({ "threshold": 3.5, "window_days": 7 });
    let resp = app
        .request(Method::PUT, RULE, Some(&half), Some(&w.root))
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "3.5 is no whole number"
    );

    // A bad credit code is refused with nothing stored.
    let asker = w.worker("asker-0").await;
    let resp = app
        .post(
            ASK,
            &question("郑州某某快递有限公司", Some("91350100M000100Y44")),
            Some(&asker),
        )
        .await;
    assert_invalid(resp, &[("employer_credit_code", "credit_code_check")]).await;

    // One worker asking again and again is one worker, not a group forming (issue 18,
    // item 5): six questions about one employer raise nothing, though the rule is 3.
    let repeater = w.worker("asker-repeat").await;
    for _ in 0..6 {
        expect(
            app.post(
                ASK,
                &question("洛阳某某物流有限公司", None),
                Some(&repeater),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    assert!(alerts(&w, &w.root, "").await.is_empty());

    // Two workers, then a third writing the name another way: one alert, at the root
    // (non-members' consultations are the root's).
    for (i, name) in ["郑州某某快递有限公司", "郑州 某某快递"].iter().enumerate() {
        let tok = w.worker(&format!("asker-{}", i + 1)).await;
        expect(
            app.post(ASK, &question(name, None), Some(&tok)).await,
            StatusCode::CREATED,
        )
        .await;
    }
    assert!(alerts(&w, &w.root, "").await.is_empty());
    let third = w.worker("asker-3").await;
    let asked = app
        .post(
            ASK,
            &question("郑州某某快递（有限公司）", None),
            Some(&third),
        )
        .await;
    let asked = expect(asked, StatusCode::CREATED).await;
    assert_eq!(asked["employer_credit_code"], Value::Null);
    let raised = alerts(&w, &w.root, "").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let a = &raised[0];
    assert_eq!(
        (a["status"].as_str(), a["consultations"].as_u64()),
        (Some("open"), Some(3))
    );
    assert_eq!(a["employer_key"], "name:郑州某某快递");
    assert_view("admin_alerts", &json!(raised));
    assert_eq!(a["org_id"], w.root_org.as_str());
    assert!(
        alerts(&w, &branch_admin, "").await.is_empty(),
        "a branch below does not hold it"
    );
    let events = outbox_payloads(&w, "consultation.employer_alert").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["consultations"], 3);
    // The officials who hold it are told, once; the branch below is not.
    let told = crate::notifications::inbox_of(app, &w.root, 1).await;
    assert_eq!(told["items"][0]["kind"], "employer_alert", "{told}");
    assert_eq!(told["items"][0]["record_id"], a["id"]);
    assert!(
        told["items"][0]["body"].as_str().unwrap().contains("3 起"),
        "{told}"
    );
    crate::notifications::settled(app).await;
    let below = expect(
        app.get(crate::notifications::INBOX, Some(&branch_admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(below["items"], json!([]));

    // The root acknowledges it once; the filter follows.
    let id = a["id"].as_str().unwrap();
    let ack = format!("{ALERTS}/{id}/acknowledge");
    let resp = app
        .post(
            &ack,
            &json!({ "note": "已约谈企业负责人" }),
            Some(&branch_admin),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "outside the branch admin's scope"
    );
    let done = expect(
        app.post(&ack, &json!({ "note": "已约谈企业负责人" }), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (done["status"].as_str(), done["note"].as_str()),
        (Some("acknowledged"), Some("已约谈企业负责人"))
    );
    let resp = app.post(&ack, &json!({}), Some(&w.root)).await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "already_acknowledged").await;
    assert!(alerts(&w, &w.root, "?status=open").await.is_empty());
    assert_eq!(alerts(&w, &w.root, "?status=acknowledged").await.len(), 1);
    let resp = app
        .get(&format!("{ALERTS}?status=maybe"), Some(&w.root))
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
