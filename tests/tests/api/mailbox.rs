//! The chairman mailbox over HTTP: a worker writes to an organisation's chairman, publicly or
//! privately, signed or anonymous to the public; its officials (and those above) reply once
//! and close; the public list shows public, answered, unheld letters with names masked.

use reqwest::StatusCode;
use serde_json::{json, Value};
use yiwang_tests::views::{assert_view, sorted_by};
use yiwang_tests::{both_shapes, Shape};

use yiwang_tests::world::{assert_invalid, assert_problem_zh, expect, id, World};

both_shapes!(letters_are_answered_once_and_public_ones_listed_with_names_masked);

const LETTERS: &str = "/api/v1/mailbox/letters";
const PUBLIC: &str = "/api/v1/mailbox/public";
const ADMIN: &str = "/api/v1/admin/mailbox/letters";

async fn letters_are_answered_once_and_public_ones_listed_with_names_masked(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("letter-writer").await;
    let zz_joint = id(&w.zz_joint);
    let (zz_admin, _) = w.official("zz-mail-admin", &w.zz, "org_admin").await;
    let (ly_admin, _) = w.official("ly-mail-admin", &w.ly, "org_admin").await;
    let (reviewer, _) = w.official("zz-mail-reviewer", &w.zz, "reviewer").await;
    let letter = |subject: &str, body: &str, public: bool, anonymous: bool| {
        json!({ "org_id": zz_joint, "name": "王建军", "subject": subject, "body": body,
                "public": public, "anonymous": anonymous })
    };

    // Three letters: public and signed, public and anonymous, private.
    let signed = expect(
        app.post(
            LETTERS,
            &letter("快递驿站没有饮水点", "希望在驿站旁设置饮水点", true, false),
            Some(&worker),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(signed["status"], "received");
    let anonymous = expect(
        app.post(
            LETTERS,
            &letter("夜班补贴", "夜班补贴长期未发放", true, true),
            Some(&worker),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let private = expect(
        app.post(
            LETTERS,
            &letter("个人困难", "家中有病人需要帮扶", false, false),
            Some(&worker),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Held text is answered but never listed.
    let held = expect(
        app.post(
            LETTERS,
            &letter("投诉", "这封信需要 review 一下", true, false),
            Some(&worker),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(held["held"], true);
    let mine = expect(app.get(LETTERS, Some(&worker)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 4);

    // Bad input, every field named; risky text refused; nothing stored.
    let bad = json!({ "org_id": "00000000-0000-0000-0000-000000000000", "name": "",
                      "subject": "主".repeat(51), "body": " " });
    let resp = app.post(LETTERS, &bad, Some(&worker)).await;
    assert_invalid(
        resp,
        &[
            ("org_id", "not_allowed"),
            ("name", "required"),
            ("subject", "too_long"),
            ("body", "required"),
        ],
    )
    .await;
    let resp = app
        .post(
            LETTERS,
            &letter("问题", "risky 内容", true, false),
            Some(&worker),
        )
        .await;
    assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "content_risky").await;
    let mine = expect(app.get(LETTERS, Some(&worker)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 4);

    // The officials above the organisation read them all, the writer's name always shown.
    let inbox = expect(app.get(ADMIN, Some(&zz_admin)).await, StatusCode::OK).await;
    let names: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["王建军"; 4]);
    assert_view(
        "admin_letters",
        &json!(sorted_by(inbox["items"].as_array().unwrap(), "subject")),
    );
    let theirs = expect(app.get(ADMIN, Some(&ly_admin)).await, StatusCode::OK).await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
    let resp = app.get(ADMIN, Some(&reviewer)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // One letter, read by its id: the anonymous writer's name shown to the officials above;
    // outside the subtree it does not exist; a role without the mailbox may not read it.
    let one = format!("{ADMIN}/{}", id(&anonymous));
    let read = expect(app.get(&one, Some(&zz_admin)).await, StatusCode::OK).await;
    assert_eq!(
        (read["name"].as_str(), read["anonymous"].as_bool()),
        (Some("王建军"), Some(true)),
        "{read}"
    );
    assert_eq!(read["subject"], "夜班补贴");
    assert_problem_zh(
        app.get(&one, Some(&ly_admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get(&one, Some(&reviewer)).await.status(),
        StatusCode::FORBIDDEN
    );
    let unknown = format!("{ADMIN}/{}", uuid::Uuid::now_v7());
    assert_eq!(
        app.get(&unknown, Some(&zz_admin)).await.status(),
        StatusCode::NOT_FOUND
    );

    // Replied once, then closed; another branch cannot reach it.
    let reply = |letter: &Value, tok: &str, text: &str| {
        let path = format!("{ADMIN}/{}/reply", id(letter));
        let (tok, text) = (tok.to_owned(), text.to_owned());
        async move { app.post(&path, &json!({ "text": text }), Some(&tok)).await }
    };
    let resp = reply(&signed, &ly_admin, "不是我们的").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let admin = zz_admin.as_str();
    let close = |letter: &Value| {
        let path = format!("{ADMIN}/{}/close", id(letter));
        async move { app.post(&path, &json!({}), Some(admin)).await }
    };
    assert_problem_zh(close(&signed).await, StatusCode::CONFLICT, "not_replied").await;
    // With an Idempotency-Key, the retry of a lost answer gets the first answer, not 409.
    let keyed = format!("{ADMIN}/{}/reply", id(&signed));
    let body = json!({ "text": "已协调驿站本月内设置饮水点" });
    let replied = expect(
        app.post_keyed(&keyed, &body, &zz_admin, Some("reply-1"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replied["status"], "replied");
    let retried = app
        .post_keyed(&keyed, &body, &zz_admin, Some("reply-1"))
        .await;
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(expect(retried, StatusCode::OK).await, replied);
    let again = reply(&signed, &zz_admin, "再答").await;
    assert_problem_zh(again, StatusCode::CONFLICT, "already_replied").await;
    let resp = reply(&private, &zz_admin, "").await;
    assert_invalid(resp, &[("text", "required")]).await;
    for l in [&anonymous, &private, &held] {
        expect(
            reply(l, &zz_admin, "已收到，正在处理").await,
            StatusCode::OK,
        )
        .await;
    }
    let closed = expect(close(&signed).await, StatusCode::OK).await;
    assert_eq!(closed["status"], "closed");
    assert_view("letter_closed", &closed);

    // The public list, from the city union down: public, answered, not held; names masked.
    let listed = expect(
        app.get(&format!("{PUBLIC}?org_id={}", w.zz), None).await,
        StatusCode::OK,
    )
    .await;
    let shown: Vec<(&str, &str)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), l["subject"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [("王**", "快递驿站没有饮水点"), ("匿名职工", "夜班补贴")]
    );
    assert_eq!(listed["items"][0]["reply"], "已协调驿站本月内设置饮水点");
    assert_view("public_letters", &listed);
    let resp = app
        .get(
            &format!("{PUBLIC}?org_id=00000000-0000-0000-0000-000000000000"),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

both_shapes!(the_writer_withdraws_a_letter_before_its_reply);

async fn the_writer_withdraws_a_letter_before_its_reply(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("letter-withdrawer").await;
    let other = w.worker("letter-other").await;
    let (zz_admin, _) = w.official("zz-mail-admin-w", &w.zz, "org_admin").await;
    let letter = |subject: &str| {
        json!({ "org_id": id(&w.zz_joint), "name": "王建军", "subject": subject,
                "body": "夜班补贴长期未发放", "public": true, "anonymous": false })
    };
    let write = |subject: &'static str| {
        let body = letter(subject);
        let tok = worker.clone();
        async move {
            expect(
                app.post(LETTERS, &body, Some(&tok)).await,
                StatusCode::CREATED,
            )
            .await
        }
    };
    let withdraw = |l: &Value, tok: &str| {
        let path = format!("{LETTERS}/{}/withdraw", id(l));
        let tok = tok.to_owned();
        async move { app.post(&path, &json!({}), Some(&tok)).await }
    };
    let reply = |l: &Value| {
        let path = format!("{ADMIN}/{}/reply", id(l));
        let tok = zz_admin.clone();
        async move {
            app.post(&path, &json!({ "text": "已收到" }), Some(&tok))
                .await
        }
    };

    // Not the writer's: not found. The writer's: withdrawn, and no one replies to it after.
    let first = write("夜班补贴").await;
    assert_eq!(
        withdraw(&first, &other).await.status(),
        StatusCode::NOT_FOUND
    );
    let withdrawn = expect(withdraw(&first, &worker).await, StatusCode::OK).await;
    assert_eq!(
        (
            withdrawn["status"].as_str(),
            withdrawn["status_label"].as_str()
        ),
        (Some("withdrawn"), Some("已撤回"))
    );
    assert_problem_zh(reply(&first).await, StatusCode::CONFLICT, "withdrawn").await;
    assert_problem_zh(
        withdraw(&first, &worker).await,
        StatusCode::CONFLICT,
        "not_withdrawable",
    )
    .await;

    // Once replied, it stays: the reply is the union's answer on record.
    let second = write("食堂").await;
    expect(reply(&second).await, StatusCode::OK).await;
    assert_problem_zh(
        withdraw(&second, &worker).await,
        StatusCode::CONFLICT,
        "not_withdrawable",
    )
    .await;
    let inbox = expect(
        app.get(&format!("{ADMIN}?status=withdrawn"), Some(&zz_admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(inbox["items"][0]["id"], first["id"]);
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1);
}
