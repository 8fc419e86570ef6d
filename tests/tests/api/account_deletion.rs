//! Deleting a worker's account (注销账号, `DELETE /api/v1/me`), over HTTP: a member must leave
//! first; otherwise open applications are withdrawn, personal data is erased at once, every
//! token stops working, and the same WeChat user later starts a new, empty account. An
//! approval racing the deletion never lets both succeed.

use diesel::prelude::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use yiwang_infra::db::schema::{audit_log, members, membership_applications, workers};
use yiwang_tests::{assert_problem, both_shapes, token, Shape};

use yiwang_tests::world::{
    assert_problem_zh, db, expect, id, list, masked, outbox_payloads, person, World, APPS, CARD,
    LEAVE, MEMBERS, QUEUE,
};

both_shapes!(
    a_member_must_leave_first,
    deleting_with_an_open_application,
    deleting_after_leaving_erases_the_membership,
    deletion_racing_an_approval,
);

const ME: &str = "/api/v1/me";
const REFRESH: &str = "/api/v1/auth/refresh";

// ---------------------------------------------------------------------------------------------
// helpers

async fn delete_me(w: &World, tok: Option<&str>) -> Response {
    w.app.request(Method::DELETE, ME, None, tok).await
}

async fn me(w: &World, tok: &str) -> Value {
    expect(w.app.get(ME, Some(tok)).await, StatusCode::OK).await
}

async fn refresh(w: &World, refresh_token: &str) -> Response {
    w.app
        .post(REFRESH, &json!({ "refresh_token": refresh_token }), None)
        .await
}

/// `(phone, deleted_at is set, openid)` of worker `account`.
async fn worker_row(w: &World, account: &str) -> (Option<String>, bool, String) {
    let account = account.to_owned();
    db(&w.app, move |c| {
        workers::table
            .find(account)
            .select((
                workers::phone,
                workers::deleted_at.is_not_null(),
                workers::openid,
            ))
            .first(c)
            .unwrap()
    })
    .await
}

type PersonalData = (String, Option<String>, Option<String>, Option<String>, bool);

/// `(status, real_name, id_number_masked, phone, erased)` of `account`'s applications, oldest
/// first.
async fn application_rows(w: &World, account: &str) -> Vec<PersonalData> {
    let account = account.to_owned();
    db(&w.app, move |c| {
        membership_applications::table
            .filter(membership_applications::account_id.eq(account))
            .order(membership_applications::created_at.asc())
            .select((
                membership_applications::status,
                membership_applications::real_name,
                membership_applications::id_number_masked,
                membership_applications::phone,
                membership_applications::erased_at.is_not_null(),
            ))
            .load(c)
            .unwrap()
    })
    .await
}

/// `(status, real_name, id_number_masked, phone, erased)` of `account`'s memberships.
async fn member_rows(w: &World, account: &str) -> Vec<PersonalData> {
    let account = account.to_owned();
    db(&w.app, move |c| {
        members::table
            .filter(members::account_id.eq(account))
            .order(members::created_at.asc())
            .select((
                members::status,
                members::real_name,
                members::id_number_masked,
                members::phone,
                members::erased_at.is_not_null(),
            ))
            .load(c)
            .unwrap()
    })
    .await
}

/// `(actor_id, record_id)` of the audit rows of `action`.
async fn audits(w: &World, action: &'static str) -> Vec<(Option<String>, String)> {
    db(&w.app, move |c| {
        audit_log::table
            .filter(audit_log::action.eq(action))
            .select((audit_log::actor_id, audit_log::record_id))
            .load(c)
            .unwrap()
    })
    .await
}

/// Logs `user` in with code `{user}.{n}`: `(access token, refresh token, account id)`.
async fn login(w: &World, user: &str, n: u32) -> (String, String, String) {
    let v = w.app.login_worker(&format!("{user}.{n}")).await;
    (
        token(&v),
        v["refresh_token"].as_str().unwrap().to_owned(),
        v["account"]["id"].as_str().unwrap().to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// tests

async fn a_member_must_leave_first(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (tok, refresh_token, account) = login(&w, "anna", 1).await;
    let app_id = id(&w
        .submit(&tok, &w.form_of("王丽", &person(1), "13912340001"))
        .await);
    let number = w.approved(&app_id).await;

    assert_problem(
        delete_me(&w, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let (official, _) = w.official("zz-admin", &w.zz, "org_admin").await;
    assert_problem(
        delete_me(&w, Some(&official)).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;
    assert_eq!(
        me(&w, &official).await["kind"],
        "admin",
        "the official is untouched"
    );

    assert_problem_zh(
        delete_me(&w, Some(&tok)).await,
        StatusCode::CONFLICT,
        "member_active",
    )
    .await;
    // Nothing changed: the account, the card, the session, the stored data.
    assert_eq!(me(&w, &tok).await["id"], account.as_str());
    let card = expect(app.get(CARD, Some(&tok)).await, StatusCode::OK).await;
    assert_eq!(card["member_number"], number.as_str());
    assert_eq!(card["status"], "active");
    assert_eq!(card["name"], "王丽");
    let (_, deleted, _) = worker_row(&w, &account).await;
    assert!(!deleted);
    assert_eq!(
        member_rows(&w, &account).await,
        [(
            "active".into(),
            Some("王丽".into()),
            Some(masked(&person(1))),
            Some("13912340001".into()),
            false
        )]
    );
    assert!(audits(&w, "worker.delete").await.is_empty());
    assert!(outbox_payloads(&w, "worker.deleted").await.is_empty());
    let refreshed = refresh(&w, &refresh_token).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let found = list(app, Some(&official), &format!("{MEMBERS}?q={number}")).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["name"], "王丽");
}

async fn deleting_with_an_open_application(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (tok, refresh_token, account) = login(&w, "bella", 1).await;
    // A second session of the same account ends as well.
    let (other_session, _, same) = login(&w, "bella", 2).await;
    assert_eq!(same, account);
    let number = person(2);
    expect(
        app.post(
            "/api/v1/me/phone",
            &json!({ "code": "phone-13800138000" }),
            Some(&tok),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me(&w, &tok).await["phone"], "138****8000");
    let (bound, _, original_openid) = worker_row(&w, &account).await;
    assert_eq!(bound.as_deref(), Some("13800138000"));
    let app_id = id(&w
        .submit(&tok, &w.form_of("刘芳", &number, "13912340002"))
        .await);
    let resp = delete_me(&w, Some(&tok)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.text().await.unwrap().is_empty());

    // Every token of the account stops working.
    for t in [&tok, &other_session] {
        assert_problem(
            app.get(ME, Some(t)).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        assert_eq!(
            app.get(APPS, Some(t)).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        refresh(&w, &refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        delete_me(&w, Some(&tok)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The application is withdrawn and forgets the person; so does the account.
    assert_eq!(
        application_rows(&w, &account).await,
        [("withdrawn".into(), None, None, None, true)]
    );
    let (phone, deleted, openid) = worker_row(&w, &account).await;
    assert_eq!(phone, None);
    assert!(deleted);
    assert_ne!(openid, original_openid);
    // The reviewers' queue keeps the record but shows nothing of the person.
    let resp = app.get(&format!("{QUEUE}/{app_id}"), Some(&w.root)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = resp.text().await.unwrap();
    for secret in ["刘芳", &number, &masked(&number), "13912340002"] {
        assert!(!raw.contains(secret), "{secret} still shown: {raw}");
    }
    let open = list(app, Some(&w.root), &format!("{QUEUE}?status=submitted")).await;
    assert!(open.is_empty(), "{open:?}");

    // Audited, and announced.
    let rows = audits(&w, "worker.delete").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, account);
    let events = outbox_payloads(&w, "worker.deleted").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let raw_events = events[0].to_string();
    assert!(!raw_events.contains(&number), "{raw_events}");

    // The same WeChat user logs in again: a new, empty account.
    let (fresh, _, fresh_id) = login(&w, "bella", 3).await;
    assert_ne!(fresh_id, account);
    let fresh_me = me(&w, &fresh).await;
    assert_eq!(fresh_me["id"], fresh_id.as_str());
    assert!(fresh_me["phone"].is_null(), "{fresh_me}");
    let mine = expect(app.get(APPS, Some(&fresh)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "{mine}");
    assert_problem(
        app.get(CARD, Some(&fresh)).await,
        StatusCode::NOT_FOUND,
        "not_a_member",
    )
    .await;
    // …who may apply again with the same ID number.
    let again = w
        .submit(&fresh, &w.form_of("刘芳", &number, "13912340002"))
        .await;
    assert_eq!(again["status"], "submitted");
    assert_ne!(id(&again), app_id);
    // The old account is still gone.
    assert_eq!(
        app.get(ME, Some(&tok)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn deleting_after_leaving_erases_the_membership(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (tok, _, account) = login(&w, "u_cindy", 1).await;
    assert_eq!(me(&w, &tok).await["has_unionid"], true);
    let number = person(3);
    let app_id = id(&w
        .submit(&tok, &w.form_of("何静", &number, "13912340003"))
        .await);
    let member_number = w.approved(&app_id).await;
    expect(
        app.post(LEAVE, &json!({}), Some(&tok)).await,
        StatusCode::OK,
    )
    .await;
    // Before deletion the ended membership still holds the data (retention period).
    assert_eq!(
        member_rows(&w, &account).await[0].1.as_deref(),
        Some("何静")
    );

    let resp = delete_me(&w, Some(&tok)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Erased at once, the records kept.
    assert_eq!(
        member_rows(&w, &account).await,
        [("ended".into(), None, None, None, true)]
    );
    assert_eq!(
        application_rows(&w, &account).await,
        [("approved".into(), None, None, None, true)]
    );
    let ended = list(
        app,
        Some(&w.root),
        &format!("{MEMBERS}?q={member_number}&status=ended"),
    )
    .await;
    assert_eq!(ended.len(), 1, "the member number stays on record");
    assert!(ended[0]["name"].is_null(), "{ended:?}");
    assert!(ended[0]["id_number"].is_null(), "{ended:?}");
    assert!(ended[0]["phone"].is_null(), "{ended:?}");
    let by_name = list(app, Some(&w.root), &format!("{MEMBERS}?q=何静")).await;
    assert!(by_name.is_empty(), "{by_name:?}");
    let (phone, deleted, _) = worker_row(&w, &account).await;
    assert!(phone.is_none() && deleted);
    assert_eq!(audits(&w, "worker.delete").await.len(), 1);
    assert_eq!(outbox_payloads(&w, "worker.deleted").await.len(), 1);

    // The person may come back and join again.
    // (A WeChat user with a unionid: that is not how the old account is found either.)
    let (fresh, _, fresh_id) = login(&w, "u_cindy", 2).await;
    assert_ne!(fresh_id, account);
    let fresh_me = me(&w, &fresh).await;
    assert_eq!(fresh_me["id"], fresh_id.as_str());
    assert_eq!(fresh_me["has_unionid"], true);
    let again = id(&w
        .submit(&fresh, &w.form_of("何静", &number, "13912340003"))
        .await);
    let new_number = w.approved(&again).await;
    assert_ne!(new_number, member_number);
    let card = expect(app.get(CARD, Some(&fresh)).await, StatusCode::OK).await;
    assert_eq!(card["member_number"], new_number.as_str());
}

/// An official approves the open application while the worker deletes the account: one of
/// the two wins, never both.
async fn deletion_racing_an_approval(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let mut outcomes = Vec::new();
    for round in 0..5u32 {
        let user = format!("racer{round}");
        let (tok, _, account) = login(&w, &user, 1).await;
        let app_id = id(&w
            .submit(
                &tok,
                &w.form_of("赵敏", &person(10 + round), &format!("1391234{round:04}")),
            )
            .await);
        let (approve, delete) =
            tokio::join!(w.approve(&reviewer, &app_id), delete_me(&w, Some(&tok)));
        let (approve_status, delete_status) = (approve.status(), delete.status());
        match (approve_status, delete_status) {
            (StatusCode::OK, StatusCode::CONFLICT) => {
                assert_problem_zh(delete, StatusCode::CONFLICT, "member_active").await;
                // The member keeps the account and the card.
                assert_eq!(me(&w, &tok).await["id"], account.as_str());
                expect(app.get(CARD, Some(&tok)).await, StatusCode::OK).await;
                let rows = member_rows(&w, &account).await;
                assert_eq!(rows.len(), 1);
                assert_eq!(rows[0].0, "active");
                assert_eq!(rows[0].1.as_deref(), Some("赵敏"));
                assert!(!worker_row(&w, &account).await.1);
            }
            (StatusCode::CONFLICT, StatusCode::NO_CONTENT) => {
                assert_problem_zh(approve, StatusCode::CONFLICT, "already_decided").await;
                assert!(member_rows(&w, &account).await.is_empty());
                assert_eq!(
                    application_rows(&w, &account).await,
                    [("withdrawn".into(), None, None, None, true)]
                );
                assert!(worker_row(&w, &account).await.1);
                assert_eq!(
                    app.get(ME, Some(&tok)).await.status(),
                    StatusCode::UNAUTHORIZED
                );
            }
            other => {
                let a = approve.text().await.unwrap();
                let d = delete.text().await.unwrap();
                panic!("round {round}: approve/delete answered {other:?}: {a} / {d}");
            }
        }
        outcomes.push((approve_status, delete_status));
    }
    // Whoever won, the stored state agrees: one member per approval that succeeded.
    let approvals = outcomes
        .iter()
        .filter(|(a, _)| *a == StatusCode::OK)
        .count() as i64;
    let members: i64 = db(app, |c| members::table.count().get_result(c).unwrap()).await;
    assert_eq!(members, approvals, "{outcomes:?}");
}
