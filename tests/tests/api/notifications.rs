//! Issue 20: what happened reaches the people it concerns — in their inbox, on their live
//! socket, and as a WeChat subscribe message while a one-time subscription is left — through
//! the outbox relay, which retries, parks and shares its work between replicas.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use yiwang_infra::db::schema::{notifications, outbox, subscribe_templates};
use yiwang_tests::world::{assert_invalid, db, expect, id, World};
use yiwang_tests::{assert_problem, both_shapes, Shape, TestApp};

pub(crate) const TEMPLATES: &str = "/api/v1/admin/notification-templates";
pub(crate) const SUBSCRIPTIONS: &str = "/api/v1/me/subscriptions";
pub(crate) const INBOX: &str = "/api/v1/me/notifications";
const FAILURES: &str = "/api/v1/admin/outbox/failures";

/// Waits (up to 10 s) until `ready` holds for what `look` returns; returns that.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut look: F, ready: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
    T: std::fmt::Debug,
{
    let start = Instant::now();
    loop {
        let seen = look().await;
        if ready(&seen) {
            return seen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: still {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sets the template `topic` sends, as the super_admin.
pub(crate) async fn save_template(
    app: &TestApp,
    root: &str,
    topic: &str,
    template_id: &str,
    page: &str,
) {
    let body = json!({
        "template_id": template_id,
        "page": page,
        "data": { "thing1": "{title}", "phrase2": "{status}", "thing3": "{reason}",
                  "time4": "{time}" },
    });
    let resp = app
        .request(
            reqwest::Method::PUT,
            &format!("{TEMPLATES}/{topic}"),
            Some(&body),
            Some(root),
        )
        .await;
    expect(resp, StatusCode::OK).await;
}

/// Makes `topics` send template `tpl` and logs worker `user` in, who accepts it once: the
/// worker's token.
async fn subscribed(w: &World, topics: &[&str], tpl: &str, user: &str) -> String {
    for topic in topics {
        save_template(&w.app, &w.root, topic, tpl, "pages/a?id={id}").await;
    }
    let worker = w.worker(user).await;
    assert_eq!(accept(&w.app, &worker, tpl).await, 1);
    worker
}

/// Reports `wx.requestSubscribeMessage` accepting `template_id`; returns what is left of it.
pub(crate) async fn accept(app: &TestApp, tok: &str, template_id: &str) -> u64 {
    let body = json!({ "errMsg": "requestSubscribeMessage:ok", template_id: "accept" });
    let v = expect(
        app.post(SUBSCRIPTIONS, &body, Some(tok)).await,
        StatusCode::OK,
    )
    .await;
    remaining_in(&v, template_id)
}

fn remaining_in(v: &Value, template_id: &str) -> u64 {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["template_id"] == template_id)
        .map_or(0, |t| t["remaining"].as_u64().unwrap())
}

/// What the worker has left of `template_id`.
pub(crate) async fn remaining(app: &TestApp, tok: &str, template_id: &str) -> u64 {
    let v = expect(app.get(SUBSCRIPTIONS, Some(tok)).await, StatusCode::OK).await;
    remaining_in(&v, template_id)
}

/// The worker's inbox once it holds `count` notifications.
pub(crate) async fn inbox_of(app: &TestApp, tok: &str, count: usize) -> Value {
    eventually(
        "the inbox",
        || async { expect(app.get(INBOX, Some(tok)).await, StatusCode::OK).await },
        |v: &Value| v["items"].as_array().unwrap().len() >= count,
    )
    .await
}

/// The subscribe messages the emulator took, once there are `count`.
pub(crate) async fn sent(app: &TestApp, count: usize) -> Vec<Value> {
    eventually(
        "the messages sent",
        || async { app.emulator.sent_messages() },
        |m: &Vec<Value>| m.len() >= count,
    )
    .await
}

/// Every outbox event handled (published): the relay is idle.
pub(crate) async fn settled(app: &TestApp) {
    eventually(
        "the outbox",
        || async {
            db(app, |c| {
                outbox::table
                    .filter(outbox::published_at.is_null())
                    .count()
                    .get_result::<i64>(c)
                    .unwrap()
            })
            .await
        },
        |left: &i64| *left == 0,
    )
    .await;
}

both_shapes!(
    a_membership_decision_reaches_inbox_and_wechat_spending_one_subscription,
    wechat_refusal_43101_empties_the_count_and_is_not_retried,
    a_failing_send_is_retried_then_parked_and_retried_on_request,
    a_template_wechat_refuses_is_parked_at_once_and_the_subscription_kept,
    templates_are_held_to_wechat_rules_and_only_a_super_admin_edits_them,
    a_worker_switches_a_kind_off_and_deleting_the_account_erases_the_inbox,
    a_crashed_relay_loses_nothing,
    a_lawyers_reply_goes_to_wechat_only_while_the_app_is_closed,
);

async fn a_membership_decision_reaches_inbox_and_wechat_spending_one_subscription(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let tpl = "tpl-Membership_1";
    for topic in [
        "membership.application.approved",
        "membership.application.returned",
        "membership.application.rejected",
    ] {
        save_template(app, &w.root, topic, tpl, "pages/membership/detail?id={id}").await;
    }
    let worker = w.worker("li").await;

    // The mini-program learns which templates to ask for, and reports the worker's answer.
    let offered = expect(app.get(SUBSCRIPTIONS, Some(&worker)).await, StatusCode::OK).await;
    assert_eq!(offered["items"][0]["template_id"], tpl, "{offered}");
    assert_eq!(offered["items"][0]["remaining"], 0);
    assert_eq!(
        offered["items"][0]["events"],
        json!(["入会申请通过", "入会申请退回补充", "入会申请未通过"])
    );
    assert_eq!(accept(app, &worker, tpl).await, 1);

    // Sent back for a missing document: the message names the page and what is missing. The
    // access token has expired meanwhile: WeChat answers 42001, the token is fetched again
    // once and the message goes.
    app.emulator.expire_access_tokens();
    let application = id(&w
        .submit(&worker, &w.form(&yiwang_tests::world::person(1)))
        .await);
    expect(
        w.send_back(&w.root, &application, "劳动合同照片").await,
        StatusCode::OK,
    )
    .await;
    let messages = sent(app, 1).await;
    let m = &messages[0];
    assert_eq!(m["template_id"], tpl);
    assert_eq!(m["touser"], yiwang_wechat_emulator::openid_for("li"));
    assert_eq!(
        m["page"],
        format!("pages/membership/detail?id={application}")
    );
    assert_eq!(m["data"]["thing1"]["value"], "入会申请需补充材料");
    assert_eq!(m["data"]["phrase2"]["value"], "待补充");
    assert_eq!(m["data"]["thing3"]["value"], "劳动合同照片");
    assert!(m["data"]["time4"]["value"].as_str().unwrap().contains('年'));
    assert_eq!(m["miniprogram_state"], "formal");
    assert_eq!(m["lang"], "zh_CN");
    assert_eq!(
        remaining(app, &worker, tpl).await,
        0,
        "one subscription spent"
    );
    let inbox = inbox_of(app, &worker, 1).await;
    assert_eq!(inbox["unread"], 1);
    assert_eq!(inbox["items"][0]["kind"], "application");
    assert_eq!(inbox["items"][0]["record_id"], application.as_str());
    assert!(inbox["items"][0]["body"]
        .as_str()
        .unwrap()
        .contains("劳动合同照片"));

    // Filed again and approved: the inbox has it, and the open app hears it on its socket;
    // WeChat does not (no subscription left).
    let mut socket = app.socket(Some(&worker)).await;
    assert_eq!(socket.frame().await["type"], "ready");
    let resubmitted = w
        .resubmit(
            &worker,
            &application,
            &w.form(&yiwang_tests::world::person(1)),
        )
        .await;
    assert_eq!(resubmitted.status(), StatusCode::OK);
    w.approved(&application).await;
    let inbox = inbox_of(app, &worker, 2).await;
    assert_eq!(
        inbox["items"][0]["title"], "入会申请已通过",
        "newest first: {inbox}"
    );
    assert_eq!(inbox["unread"], 2);
    let pushed = socket.notification().await;
    assert_eq!(pushed["notification"], inbox["items"][0]);
    assert_eq!(pushed["unread"], 2);
    settled(app).await;
    assert_eq!(app.emulator.sent_messages().len(), 1);

    // Read up to the newest: nothing unread. Another's notification is not theirs to mark.
    let newest = inbox["items"][0]["id"].as_str().unwrap().to_owned();
    let read = expect(
        app.post(
            &format!("{INBOX}/read"),
            &json!({ "up_to": newest }),
            Some(&worker),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["unread"], 0);
    let other = w.worker("zhao").await;
    assert_problem(
        app.post(
            &format!("{INBOX}/read"),
            &json!({ "id": newest }),
            Some(&other),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_invalid(
        app.post(&format!("{INBOX}/read"), &json!({}), Some(&worker))
            .await,
        &[("id", "one_of")],
    )
    .await;
    // An official's inbox works the same way (empty here).
    let official = expect(app.get(INBOX, Some(&w.root)).await, StatusCode::OK).await;
    assert_eq!(official["unread"], 0);
}

async fn wechat_refusal_43101_empties_the_count_and_is_not_retried(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let tpl = "tpl-returned";
    // The emulator refuses every message to a user named `nosub…` with 43101.
    let worker = subscribed(&w, &["membership.application.returned"], tpl, "nosub-chen").await;
    assert_eq!(accept(app, &worker, tpl).await, 2);
    let application = id(&w
        .submit(&worker, &w.form(&yiwang_tests::world::person(2)))
        .await);
    expect(
        w.send_back(&w.root, &application, "身份证照片").await,
        StatusCode::OK,
    )
    .await;
    inbox_of(app, &worker, 1).await;
    settled(app).await;
    assert_eq!(
        remaining(app, &worker, tpl).await,
        0,
        "43101 means none is left"
    );
    assert!(app.emulator.sent_messages().is_empty());
    let failures = expect(app.get(FAILURES, Some(&w.root)).await, StatusCode::OK).await;
    assert_eq!(failures["items"], json!([]), "not retried, not parked");
}

async fn a_failing_send_is_retried_then_parked_and_retried_on_request(shape: Shape) {
    let app = TestApp::spawn_with(shape, |s| {
        s.outbox_retry_base_ms = 50;
        s.outbox_max_attempts = 3;
    })
    .await;
    let w = World::on(app).await;
    let app = &w.app;
    let tpl = "tpl-rejected";
    let worker = subscribed(&w, &["membership.application.rejected"], tpl, "sun").await;
    let application = id(&w
        .submit(&worker, &w.form(&yiwang_tests::world::person(3)))
        .await);
    // WeChat is busy for three sends: the third attempt parks the delivery.
    app.emulator.fail_next_sends(3);
    expect(
        w.reject(
            &w.root,
            &application,
            &json!({ "reason_code": "not_eligible", "reason": "不属于本会受理范围" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let failures = eventually(
        "a parked delivery",
        || async { expect(app.get(FAILURES, Some(&w.root)).await, StatusCode::OK).await },
        |v: &Value| !v["items"].as_array().unwrap().is_empty(),
    )
    .await;
    let f = &failures["items"][0];
    assert_eq!(f["topic"], "membership.application.rejected");
    assert_eq!(f["consumer"], "notifications");
    assert_eq!(f["attempts"], 3);
    assert!(f["last_error"].as_str().unwrap().contains("busy"), "{f}");
    assert!(app.emulator.sent_messages().is_empty());
    assert_eq!(
        remaining(app, &worker, tpl).await,
        1,
        "an unsent message spends nothing"
    );
    // The inbox did not wait for WeChat, and holds the rejection once.
    let inbox = inbox_of(app, &worker, 1).await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1);

    // Retried on request: sent once, the subscription spent, nothing parked.
    let retry = format!(
        "{FAILURES}/{}/notifications/retry",
        f["event_id"].as_str().unwrap()
    );
    let resp = app.post(&retry, &json!({}), Some(&w.root)).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let messages = sent(app, 1).await;
    assert_eq!(messages[0]["data"]["thing3"]["value"], "不属于本会受理范围");
    settled(app).await;
    assert_eq!(remaining(app, &worker, tpl).await, 0);
    let failures = expect(app.get(FAILURES, Some(&w.root)).await, StatusCode::OK).await;
    assert_eq!(failures["items"], json!([]));
    assert_eq!(
        inbox_of(app, &worker, 1).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Retrying what is not parked is a 404.
    assert_problem(
        app.post(&retry, &json!({}), Some(&w.root)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn a_template_wechat_refuses_is_parked_at_once_and_the_subscription_kept(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    // A template id WeChat does not know (40037), and one whose saved fields no longer match
    // WeChat's (47003: a number field given words), written as a template saved before its
    // fields changed on WeChat's side.
    save_template(
        app,
        &w.root,
        "membership.application.returned",
        "bad-template",
        "pages/a?id={id}",
    )
    .await;
    db(app, |c| {
        diesel::insert_into(subscribe_templates::table)
            .values((
                subscribe_templates::topic.eq("membership.application.approved"),
                subscribe_templates::template_id.eq("tpl-stale"),
                subscribe_templates::page.eq("pages/a?id={id}"),
                subscribe_templates::data.eq(r#"{"number1":"{title}"}"#),
                subscribe_templates::updated_at.eq(chrono::Utc::now().naive_utc()),
            ))
            .execute(c)
            .unwrap();
    })
    .await;
    let worker = w.worker("zhou").await;
    accept(app, &worker, "bad-template").await;
    accept(app, &worker, "tpl-stale").await;
    let application = id(&w
        .submit(&worker, &w.form(&yiwang_tests::world::person(4)))
        .await);
    expect(
        w.send_back(&w.root, &application, "照片").await,
        StatusCode::OK,
    )
    .await;
    let resubmitted = w
        .resubmit(
            &worker,
            &application,
            &w.form(&yiwang_tests::world::person(4)),
        )
        .await;
    assert_eq!(resubmitted.status(), StatusCode::OK);
    w.approved(&application).await;
    let failures = eventually(
        "two parked deliveries",
        || async { expect(app.get(FAILURES, Some(&w.root)).await, StatusCode::OK).await },
        |v: &Value| v["items"].as_array().unwrap().len() == 2,
    )
    .await;
    let errors: Vec<&str> = failures["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["attempts"], 1, "parked at once: {f}");
            f["last_error"].as_str().unwrap()
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("47003") && e.contains("number1")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("40037")), "{errors:?}");
    assert_eq!(remaining(app, &worker, "bad-template").await, 1);
    assert_eq!(remaining(app, &worker, "tpl-stale").await, 1);
    assert_eq!(inbox_of(app, &worker, 2).await["unread"], 2);
}

async fn templates_are_held_to_wechat_rules_and_only_a_super_admin_edits_them(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let catalogue = expect(app.get(TEMPLATES, Some(&w.root)).await, StatusCode::OK).await;
    let topics = catalogue["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 16);
    assert!(topics.iter().all(|t| t["template"].is_null()));
    assert!(catalogue["facts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "amount"));

    let bad = json!({
        "template_id": "has space",
        "page": "/pages/x?id={record}",
        "data": { "thing": "{title}", "amount1": "共 {amount}", "thing2": "{id_number}" },
    });
    let resp = app
        .request(
            reqwest::Method::PUT,
            &format!("{TEMPLATES}/mutual_aid.claim.paid"),
            Some(&bad),
            Some(&w.root),
        )
        .await;
    assert_invalid(
        resp,
        &[
            ("template_id", "invalid"),
            ("page", "invalid"),
            ("data.thing", "invalid"),
            ("data.amount1", "invalid"),
            ("data.thing2", "invalid"),
        ],
    )
    .await;
    let unknown = app
        .request(
            reqwest::Method::PUT,
            &format!("{TEMPLATES}/worker.deleted"),
            Some(
                &json!({ "template_id": "t", "page": "pages/a", "data": { "thing1": "{title}" } }),
            ),
            Some(&w.root),
        )
        .await;
    assert_invalid(unknown, &[("topic", "not_allowed")]).await;

    // An org_admin may not edit them, nor see the failures.
    let (admin, _) = w.official("zz-admin", &w.zz, "org_admin").await;
    let good = json!({ "template_id": "tpl-paid", "page": "pages/claim/detail?id={id}",
                       "data": { "amount1": "{amount}", "thing2": "{title}" } });
    for resp in [
        app.request(
            reqwest::Method::PUT,
            &format!("{TEMPLATES}/mutual_aid.claim.paid"),
            Some(&good),
            Some(&admin),
        )
        .await,
        app.get(FAILURES, Some(&admin)).await,
    ] {
        assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let saved = expect(
        app.request(
            reqwest::Method::PUT,
            &format!("{TEMPLATES}/mutual_aid.claim.paid"),
            Some(&good),
            Some(&w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(saved["data"]["amount1"], "{amount}");
    let resp = app
        .request(
            reqwest::Method::DELETE,
            &format!("{TEMPLATES}/mutual_aid.claim.paid"),
            None,
            Some(&w.root),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .request(
            reqwest::Method::DELETE,
            &format!("{TEMPLATES}/mutual_aid.claim.paid"),
            None,
            Some(&w.root),
        )
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;

    // A worker may report only templates the server sends, with WeChat's answers.
    let worker = w.worker("qian").await;
    assert_invalid(
        app.post(
            SUBSCRIPTIONS,
            &json!({ "tpl-none": "accept", "x": "maybe" }),
            Some(&worker),
        )
        .await,
        &[("tpl-none", "unknown_template"), ("x", "not_allowed")],
    )
    .await;
}

async fn a_worker_switches_a_kind_off_and_deleting_the_account_erases_the_inbox(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let tpl = "tpl-m";
    let worker = subscribed(&w, &["membership.application.rejected"], tpl, "wu").await;
    let settings = "/api/v1/me/notification-settings";
    let saved = expect(
        app.request(
            reqwest::Method::PUT,
            settings,
            Some(&json!({ "muted": ["application"] })),
            Some(&worker),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let application_kind = saved["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "application")
        .unwrap()
        .clone();
    assert_eq!(application_kind["wechat"], false);
    assert_eq!(application_kind["label"], "入会审核");
    assert_invalid(
        app.request(
            reqwest::Method::PUT,
            settings,
            Some(&json!({ "muted": ["spam"] })),
            Some(&worker),
        )
        .await,
        &[("muted.0", "not_allowed")],
    )
    .await;
    let application = id(&w
        .submit(&worker, &w.form(&yiwang_tests::world::person(5)))
        .await);
    expect(
        w.reject(
            &w.root,
            &application,
            &json!({ "reason_code": "duplicate", "reason": "重复申请" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    inbox_of(app, &worker, 1).await;
    settled(app).await;
    assert!(app.emulator.sent_messages().is_empty(), "switched off");
    assert_eq!(remaining(app, &worker, tpl).await, 1);

    // Deleting the account erases its inbox.
    let resp = app
        .request(reqwest::Method::DELETE, "/api/v1/me", None, Some(&worker))
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let left: i64 = db(app, |c| notifications::table.count().get_result(c).unwrap()).await;
    assert_eq!(left, 0);
}

async fn a_crashed_relay_loses_nothing(shape: Shape) {
    let app = TestApp::spawn_with(shape, |s| s.outbox_lease_secs = 1).await;
    let w = World::on(app).await;
    let app = &w.app;
    let worker = w.worker("he").await;
    let me = expect(app.get("/api/v1/me", Some(&worker)).await, StatusCode::OK).await;
    let account = me["id"].as_str().unwrap().to_owned();
    // What a relay that claimed 50 events and died leaves: each leased for a while, unsettled.
    let now = chrono::Utc::now().naive_utc();
    let lease_ends = now + chrono::TimeDelta::milliseconds(1500);
    let rows: Vec<_> = (0..50)
        .map(|i| {
            (
                outbox::id.eq(uuid::Uuid::now_v7().to_string()),
                outbox::topic.eq("mailbox.letter.reply"),
                outbox::payload
                    .eq(json!({ "id": format!("letter-{i}"), "account_id": account }).to_string()),
                outbox::created_at.eq(now),
                outbox::attempts.eq(0),
                outbox::not_before.eq(Some(lease_ends)),
            )
        })
        .collect();
    db(app, move |c| {
        for row in rows {
            diesel::insert_into(outbox::table)
                .values(row)
                .execute(c)
                .unwrap();
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let early = expect(app.get(INBOX, Some(&worker)).await, StatusCode::OK).await;
    assert_eq!(early["unread"], 0, "leased events wait for their lease");
    let inbox = eventually(
        "the leased events",
        || async {
            expect(
                app.get(&format!("{INBOX}?limit=100"), Some(&worker)).await,
                StatusCode::OK,
            )
            .await
        },
        |v: &Value| v["unread"] == 50,
    )
    .await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 50);
    settled(app).await;
}

/// Two replicas on one PostgreSQL and Redis share 10,000 events: each is handled once
/// between them (counted by their metrics), every one reaches the inbox, and both worked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_handle_each_event_once() {
    let a = TestApp::spawn_with(Shape::Production, |s| {
        s.metrics_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let worker = yiwang_tests::token(&a.login_worker("ma.1").await);
    let me = expect(a.get("/api/v1/me", Some(&worker)).await, StatusCode::OK).await;
    let account = me["id"].as_str().unwrap().to_owned();
    let b = a.replica().await;
    const EVENTS: usize = 10_000;
    let now = chrono::Utc::now().naive_utc();
    db(&a, move |c| {
        for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(1000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|i| {
                    (
                        outbox::id.eq(uuid::Uuid::now_v7().to_string()),
                        outbox::topic.eq("mailbox.letter.reply"),
                        outbox::payload.eq(
                            json!({ "id": format!("letter-{i}"), "account_id": account })
                                .to_string(),
                        ),
                        outbox::created_at.eq(now),
                        outbox::attempts.eq(0),
                    )
                })
                .collect();
            let yiwang_infra::db::DbConnection::Pg(pg) = &mut *c else {
                panic!("replicas share PostgreSQL");
            };
            diesel::insert_into(outbox::table)
                .values(rows)
                .execute(pg)
                .unwrap();
        }
    })
    .await;
    let start = Instant::now();
    loop {
        let left: i64 = db(&a, |c| {
            outbox::table
                .filter(outbox::published_at.is_null())
                .count()
                .get_result(c)
                .unwrap()
        })
        .await;
        if left == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{left} events left"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let handled = |app: &TestApp| {
        let base = app.metrics_base.clone().unwrap();
        async move {
            let text = reqwest::get(format!("{base}/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.lines()
                .find(|l| l.starts_with("yiwang_outbox_handled_total{consumer=\"notifications\"}"))
                .and_then(|l| l.rsplit(' ').next())
                .map_or(0, |n| n.parse::<u64>().unwrap())
        }
    };
    let (by_a, by_b) = (handled(&a).await, handled(&b).await);
    assert_eq!(by_a + by_b, EVENTS as u64, "a {by_a}, b {by_b}");
    assert!(
        by_a > 0 && by_b > 0,
        "both replicas worked: a {by_a}, b {by_b}"
    );
    let told: i64 = db(&a, |c| notifications::table.count().get_result(c).unwrap()).await;
    assert_eq!(told, EVENTS as i64);
}

async fn a_lawyers_reply_goes_to_wechat_only_while_the_app_is_closed(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let tpl = "tpl-reply";
    let topics = ["consultation.answer", "consultation.resolve"];
    let worker = subscribed(&w, &topics, tpl, "tian").await;
    accept(app, &worker, tpl).await;
    let (lawyer, lawyer_id) = crate::consultations::lawyer(
        &w,
        "zz-zhao",
        "赵律师",
        "14101201010999999",
        &["wage_arrears"],
    )
    .await;
    let question = json!({ "category": "wage_arrears", "title": "拖欠工资",
                           "message": "老板拖欠三个月工资", "lawyer_id": lawyer_id });
    let asked = expect(
        app.post("/api/v1/consultations", &question, Some(&worker))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = asked["id"].as_str().unwrap().to_owned();
    let admin = format!("/api/v1/admin/consultations/{id}");
    expect(
        app.post(&format!("{admin}/accept"), &json!({}), Some(&lawyer))
            .await,
        StatusCode::OK,
    )
    .await;

    // The app is open: the reply reaches the socket and the inbox, no WeChat message.
    let mut socket = app.socket(Some(&worker)).await;
    assert_eq!(socket.frame().await["type"], "ready");
    expect(
        app.post(
            &format!("{admin}/messages"),
            &json!({ "text": "请提供工资条" }),
            Some(&lawyer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let pushed = socket.notification().await;
    assert_eq!(pushed["notification"]["title"], "律师回复了您的咨询");
    settled(app).await;
    assert!(app.emulator.sent_messages().is_empty(), "the app is open");

    // Closed: the lawyer's question goes to WeChat, spending one subscription.
    socket.close().await;
    assert!(matches!(
        socket.hear(5_000).await,
        yiwang_tests::Heard::Closed(_)
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    expect(
        app.post(
            &format!("{admin}/messages"),
            &json!({ "text": "有劳动合同吗？", "asks_worker": true }),
            Some(&lawyer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let messages = sent(app, 1).await;
    assert_eq!(messages[0]["data"]["thing1"]["value"], "律师向您提问");
    assert_eq!(messages[0]["page"], format!("pages/a?id={id}"));
    assert_eq!(remaining(app, &worker, tpl).await, 1);
    let inbox = inbox_of(app, &worker, 2).await;
    assert_eq!(inbox["items"][0]["kind"], "consultation");
}
