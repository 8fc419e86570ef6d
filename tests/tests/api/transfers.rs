//! Membership transfer (会籍转移), over HTTP: a member asks to move to another organisation,
//! follows and withdraws the request; the receiving organisation's reviewers see their queue
//! and decide; approval moves the member (same member number) and is recorded in the history,
//! the outbox and the audit log; racing approvals move the member once; leaving withdraws a
//! waiting request.

use diesel::prelude::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use yiwang_infra::db::schema::{audit_log, members, membership_history};
use yiwang_tests::views::assert_view;
use yiwang_tests::{assert_problem, both_shapes, Shape};

use yiwang_tests::world::{
    all_pages, assert_invalid, assert_problem_zh, db, expect, id, ids, is_chinese, list, new_org,
    outbox_payloads, person, set, World, CARD, LEAVE, MEMBERS,
};

both_shapes!(
    requesting_following_and_withdrawing,
    the_receiving_organisation_decides,
    transfer_queue_scope_filters_and_paging,
    racing_approvals_move_the_member_once,
    leaving_withdraws_a_waiting_transfer,
    leaving_racing_an_approval,
    requesting_racing_leaving,
    a_retried_request_files_once,
);

const TRANSFERS: &str = "/api/v1/membership/transfers";
const HISTORY: &str = "/api/v1/membership/history";
const ADMIN_TRANSFERS: &str = "/api/v1/admin/membership/transfers";
const VERIFY: &str = "/api/v1/member-cards/verify";

// ---------------------------------------------------------------------------------------------
// helpers

/// The transfer steps of a test, on the shared [`World`].
trait TransferSteps {
    /// A worker who is a member of 郑州市快递行业联合工会: `(token, member number)`. `seq`
    /// picks the ID number and the phone `1391234{seq:04}`.
    async fn member(&self, user: &str, name: &str, seq: u32) -> (String, String);
    async fn request_transfer(&self, tok: &str, body: &Value) -> Response;
    /// Asks to move to `to`; the answer must be 201.
    async fn transfer_to(&self, tok: &str, to: &str) -> Value;
    async fn my_transfers(&self, tok: &str) -> Vec<Value>;
    async fn withdraw_transfer(&self, tok: &str, transfer: &str) -> Response;
    async fn history(&self, tok: &str) -> Value;
    async fn approve_transfer(&self, tok: &str, transfer: &str) -> Response;
    async fn reject_transfer(&self, tok: &str, transfer: &str, body: &Value) -> Response;
    async fn show_transfer(&self, tok: &str, transfer: &str) -> Response;
    /// The member card's organisation id and member number.
    async fn card_org(&self, tok: &str) -> (String, String);
    /// The member numbers the official behind `tok` finds with `q`.
    async fn members_found(&self, tok: &str, q: &str) -> Vec<Value>;
}

impl TransferSteps for World {
    /// A worker who is a member of 郑州市快递行业联合工会: `(token, member number)`. `seq`
    /// picks the ID number and the phone `1391234{seq:04}`.
    async fn member(&self, user: &str, name: &str, seq: u32) -> (String, String) {
        let tok = self.worker(user).await;
        let form = self.form_of(name, &person(seq), &phone(seq));
        let app_id = id(&self.submit(&tok, &form).await);
        let number = self.approved(&app_id).await;
        (tok, number)
    }

    async fn request_transfer(&self, tok: &str, body: &Value) -> Response {
        self.app.post(TRANSFERS, body, Some(tok)).await
    }

    /// Asks to move to `to`; the answer must be 201.
    async fn transfer_to(&self, tok: &str, to: &str) -> Value {
        expect(
            self.request_transfer(tok, &json!({ "to_org_id": to }))
                .await,
            StatusCode::CREATED,
        )
        .await
    }

    async fn my_transfers(&self, tok: &str) -> Vec<Value> {
        let v = expect(self.app.get(TRANSFERS, Some(tok)).await, StatusCode::OK).await;
        v["items"].as_array().unwrap().clone()
    }

    async fn withdraw_transfer(&self, tok: &str, transfer: &str) -> Response {
        self.app
            .request(
                Method::POST,
                &format!("{TRANSFERS}/{transfer}/withdraw"),
                None,
                Some(tok),
            )
            .await
    }

    async fn history(&self, tok: &str) -> Value {
        expect(self.app.get(HISTORY, Some(tok)).await, StatusCode::OK).await
    }

    async fn approve_transfer(&self, tok: &str, transfer: &str) -> Response {
        self.app
            .request(
                Method::POST,
                &format!("{ADMIN_TRANSFERS}/{transfer}/approve"),
                None,
                Some(tok),
            )
            .await
    }

    async fn reject_transfer(&self, tok: &str, transfer: &str, body: &Value) -> Response {
        self.app
            .post(
                &format!("{ADMIN_TRANSFERS}/{transfer}/reject"),
                body,
                Some(tok),
            )
            .await
    }

    async fn show_transfer(&self, tok: &str, transfer: &str) -> Response {
        self.app
            .get(&format!("{ADMIN_TRANSFERS}/{transfer}"), Some(tok))
            .await
    }

    /// The member card's organisation id and member number.
    async fn card_org(&self, tok: &str) -> (String, String) {
        let card = expect(self.app.get(CARD, Some(tok)).await, StatusCode::OK).await;
        (
            card["org"]["id"].as_str().unwrap().to_owned(),
            card["member_number"].as_str().unwrap().to_owned(),
        )
    }

    /// The member numbers the official behind `tok` finds with `q`.
    async fn members_found(&self, tok: &str, q: &str) -> Vec<Value> {
        list(&self.app, Some(tok), &format!("{MEMBERS}?q={q}")).await
    }
}

fn phone(seq: u32) -> String {
    format!("1391234{seq:04}")
}

fn masked_phone(seq: u32) -> String {
    format!("139****{seq:04}")
}

fn org_ref(id: &str, name: &str) -> Value {
    json!({ "id": id, "name": name })
}

/// `(event, org id, from org id)` of each history item.
fn events(history: &Value) -> Vec<(String, String, Option<String>)> {
    history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["org"]["id"].as_str().unwrap().to_owned(),
                e["from_org"]["id"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn ev(event: &str, org: &str, from: Option<&str>) -> (String, String, Option<String>) {
    (event.to_owned(), org.to_owned(), from.map(str::to_owned))
}

/// How many `transferred` rows the history table holds.
async fn transferred_rows(w: &World) -> i64 {
    db(&w.app, |c| {
        membership_history::table
            .filter(membership_history::event.eq("transferred"))
            .count()
            .get_result(c)
            .unwrap()
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// the member's side

async fn requesting_following_and_withdrawing(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (zz_joint, ly_joint) = (id(&w.zz_joint), id(&w.ly_joint));

    // Not a member yet, even with an application waiting.
    let tok = w.worker("amy").await;
    assert_problem_zh(
        w.request_transfer(&tok, &json!({ "to_org_id": ly_joint }))
            .await,
        StatusCode::NOT_FOUND,
        "not_a_member",
    )
    .await;
    assert_problem_zh(
        app.get(HISTORY, Some(&tok)).await,
        StatusCode::NOT_FOUND,
        "not_a_member",
    )
    .await;
    let app_id = id(&w
        .submit(&tok, &w.form_of("张美玲", &person(1), &phone(5678)))
        .await);
    assert_problem_zh(
        w.request_transfer(&tok, &json!({ "to_org_id": ly_joint }))
            .await,
        StatusCode::NOT_FOUND,
        "not_a_member",
    )
    .await;
    assert!(w.my_transfers(&tok).await.is_empty());
    let number = w.approved(&app_id).await;

    // The history starts with joining.
    let history = w.history(&tok).await;
    assert_eq!(history["member_number"], number.as_str());
    assert_view("membership_history", &history);
    assert_eq!(events(&history), [ev("joined", &zz_joint, None)]);
    let joined = &history["items"][0];
    assert_eq!(joined["org"]["name"], "郑州市快递行业联合工会");
    assert!(joined["from_org"].is_null(), "{joined}");
    assert!(is_chinese(joined["event_label"].as_str().unwrap()));
    assert!(joined["at"].is_string());

    // Authentication and account kind.
    assert_problem(
        app.post(TRANSFERS, &json!({ "to_org_id": ly_joint }), None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let (official, _) = w.official("ly-reviewer", &w.ly, "reviewer").await;
    assert_problem(
        w.request_transfer(&official, &json!({ "to_org_id": ly_joint }))
            .await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;
    assert_problem(
        app.get(TRANSFERS, Some(&official)).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;

    // Bad requests store nothing.
    for bad in [
        json!("not-a-uuid"),
        json!(""),
        json!(uuid::Uuid::now_v7().to_string()),
    ] {
        assert_invalid(
            w.request_transfer(&tok, &json!({ "to_org_id": bad })).await,
            &[("to_org_id", "unknown")],
        )
        .await;
    }
    // An organisation that takes no individual members: refused, as applying there is
    // (issue 18, item 15). 郑州市总工会 is a federation of unions, not a union to join.
    let refused = assert_invalid(
        w.request_transfer(&tok, &json!({ "to_org_id": w.zz }))
            .await,
        &[("to_org_id", "not_accepting_individuals")],
    )
    .await;
    assert!(is_chinese(refused["detail"].as_str().unwrap()), "{refused}");
    let applicant = w.worker("federation-applicant").await;
    let applied = assert_invalid(
        w.apply(&applicant, &set(w.form(&person(2)), "org_id", json!(w.zz)))
            .await,
        &[("org_id", "not_accepting_individuals")],
    )
    .await;
    assert_eq!(
        applied["errors"][0]["detail"], refused["errors"][0]["detail"],
        "one rule, one message"
    );
    let same = assert_problem_zh(
        w.request_transfer(&tok, &json!({ "to_org_id": zz_joint }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "same_organisation",
    )
    .await;
    assert!(
        same["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["field"] == "to_org_id")),
        "{same}"
    );
    assert_invalid(
        w.request_transfer(
            &tok,
            &json!({ "to_org_id": ly_joint, "reason": "换".repeat(201) }),
        )
        .await,
        &[("reason", "too_long")],
    )
    .await;
    let unknown_field = w
        .request_transfer(&tok, &json!({ "to_org_id": ly_joint, "org": "洛阳" }))
        .await;
    assert_eq!(unknown_field.status(), StatusCode::BAD_REQUEST);
    let missing = w.request_transfer(&tok, &json!({})).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(w.my_transfers(&tok).await.is_empty(), "nothing stored");

    // A valid request, with a reason of exactly 200 characters.
    let reason = format!("{}{}", "去洛阳送外卖", "。".repeat(194));
    assert_eq!(reason.chars().count(), 200);
    let t = expect(
        w.request_transfer(&tok, &json!({ "to_org_id": ly_joint, "reason": reason }))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(
        uuid::Uuid::parse_str(t["id"].as_str().unwrap()).is_ok(),
        "{t}"
    );
    assert_eq!(t["status"], "requested");
    let requested_label = t["status_label"].as_str().unwrap().to_owned();
    assert!(is_chinese(&requested_label), "{t}");
    assert_eq!(t["member_number"], number.as_str());
    assert_eq!(t["name"], "张美玲");
    assert_eq!(t["phone"], masked_phone(5678));
    assert_eq!(t["from_org"], org_ref(&zz_joint, "郑州市快递行业联合工会"));
    assert_eq!(t["to_org"], org_ref(&ly_joint, "洛阳市新就业形态联合工会"));
    assert_eq!(t["reason"], reason.as_str());
    assert!(t["requested_at"].is_string());
    assert!(t["decided_at"].is_null());
    assert!(t["decision_reason"].is_null());
    let first = id(&t);

    // One waiting request at a time, whatever the target.
    let ly_other = id(&new_org(
        app,
        &w.root,
        &w.ly,
        "洛阳市外卖行业联合工会",
        "joint_union",
        true,
        Some("洛阳市"),
    )
    .await);
    for to in [&ly_joint, &ly_other] {
        assert_problem_zh(
            w.request_transfer(&tok, &json!({ "to_org_id": to })).await,
            StatusCode::CONFLICT,
            "transfer_open",
        )
        .await;
    }
    let mine = w.my_transfers(&tok).await;
    assert_eq!(
        mine,
        std::slice::from_ref(&t),
        "the list shows what the request answered"
    );
    // Still a member where they were.
    assert_eq!(w.card_org(&tok).await, (zz_joint.clone(), number.clone()));

    // Withdrawing: only one's own, and only once.
    let (other, _) = w.member("bob", "李国强", 2).await;
    assert!(w.my_transfers(&other).await.is_empty(), "only the caller's");
    assert_problem(
        w.withdraw_transfer(&other, &first).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for unknown in [uuid::Uuid::now_v7().to_string(), "nope".to_owned()] {
        assert_problem(
            w.withdraw_transfer(&tok, &unknown).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let withdrawn = expect(w.withdraw_transfer(&tok, &first).await, StatusCode::OK).await;
    assert_eq!(withdrawn["id"], first.as_str());
    assert_eq!(withdrawn["status"], "withdrawn");
    let withdrawn_label = withdrawn["status_label"].as_str().unwrap();
    assert!(is_chinese(withdrawn_label));
    assert_ne!(withdrawn_label, requested_label);
    assert!(withdrawn["decided_at"].is_string(), "{withdrawn}");
    assert_problem_zh(
        w.withdraw_transfer(&tok, &first).await,
        StatusCode::CONFLICT,
        "transfer_status",
    )
    .await;
    assert_eq!(w.card_org(&tok).await, (zz_joint.clone(), number.clone()));
    assert_eq!(
        events(&w.history(&tok).await),
        [ev("joined", &zz_joint, None)]
    );

    // Now another request may be made, to any organisation that takes individual members.
    let second = w.transfer_to(&tok, &ly_other).await;
    assert_eq!(
        second["to_org"],
        org_ref(&ly_other, "洛阳市外卖行业联合工会")
    );
    assert!(second["reason"].is_null());
    assert_eq!(
        ids(&w.my_transfers(&tok).await),
        [id(&second), first],
        "newest first"
    );
    assert!(w.my_transfers(&other).await.is_empty(), "only the caller's");
}

// ---------------------------------------------------------------------------------------------
// the officials' side

async fn the_receiving_organisation_decides(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (zz_joint, ly_joint) = (id(&w.zz_joint), id(&w.ly_joint));
    let (tok, number) = w.member("cara", "陈晓燕", 3).await;
    let (zz_reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let (ly_reviewer, ly_reviewer_id) = w.official("ly-reviewer", &w.ly, "reviewer").await;
    let (ly_auditor, _) = w.official("ly-auditor", &w.ly, "auditor").await;

    let t = w.transfer_to(&tok, &ly_joint).await;
    let tid = id(&t);

    // Before: the old organisation lists the member, the new one does not.
    assert_eq!(w.members_found(&zz_reviewer, &number).await.len(), 1);
    assert!(w.members_found(&ly_reviewer, &number).await.is_empty());

    // The reviewer of the receiving organisation sees it, with the full phone in the detail.
    let queue = list(app, Some(&ly_reviewer), ADMIN_TRANSFERS).await;
    assert_eq!(
        queue,
        std::slice::from_ref(&t),
        "the queue shows masked data"
    );
    let detail = expect(w.show_transfer(&ly_reviewer, &tid).await, StatusCode::OK).await;
    assert_eq!(detail["transfer"]["id"], tid.as_str());
    assert_eq!(detail["transfer"]["phone"], phone(3));
    assert_view("transfer_detail_requested", &detail);
    assert_eq!(detail["transfer"]["status"], "requested");
    assert_eq!(detail["history"]["member_number"], number.as_str());
    assert_eq!(events(&detail["history"]), [ev("joined", &zz_joint, None)]);

    // The old organisation is not the one to decide.
    assert!(list(app, Some(&zz_reviewer), ADMIN_TRANSFERS)
        .await
        .is_empty());
    for resp in [
        w.show_transfer(&zz_reviewer, &tid).await,
        w.approve_transfer(&zz_reviewer, &tid).await,
        w.reject_transfer(&zz_reviewer, &tid, &json!({ "reason": "不同意" }))
            .await,
    ] {
        assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    // An auditor reads but does not decide; other roles do not even read.
    assert_eq!(
        ids(&list(app, Some(&ly_auditor), ADMIN_TRANSFERS).await),
        std::slice::from_ref(&tid)
    );
    expect(w.show_transfer(&ly_auditor, &tid).await, StatusCode::OK).await;
    assert_problem(
        w.approve_transfer(&ly_auditor, &tid).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        w.reject_transfer(&ly_auditor, &tid, &json!({ "reason": "不同意" }))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for (username, role) in [("ly-finance", "finance"), ("ly-lawyer", "lawyer")] {
        let (other, _) = w.official(username, &w.ly, role).await;
        for resp in [
            app.get(ADMIN_TRANSFERS, Some(&other)).await,
            w.show_transfer(&other, &tid).await,
            w.approve_transfer(&other, &tid).await,
        ] {
            assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    // A worker's token is no official's.
    for resp in [
        app.get(ADMIN_TRANSFERS, Some(&tok)).await,
        w.show_transfer(&tok, &tid).await,
        w.approve_transfer(&tok, &tid).await,
        w.reject_transfer(&tok, &tid, &json!({ "reason": "不同意" }))
            .await,
    ] {
        assert_problem(resp, StatusCode::FORBIDDEN, "wrong_account_kind").await;
    }
    // Unknown ids.
    for unknown in [uuid::Uuid::now_v7().to_string(), "nope".to_owned()] {
        assert_problem(
            w.approve_transfer(&ly_reviewer, &unknown).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // None of that changed anything.
    assert_eq!(w.card_org(&tok).await, (zz_joint.clone(), number.clone()));
    assert_eq!(w.my_transfers(&tok).await[0]["status"], "requested");
    assert_eq!(transferred_rows(&w).await, 0);

    // Approval.
    // Approved with an Idempotency-Key: the retry after a lost answer gets the first answer
    // (and moves nobody twice), not 409.
    let approve = format!("{ADMIN_TRANSFERS}/{tid}/approve");
    let approved = expect(
        app.post_keyed(&approve, &json!({}), &ly_reviewer, Some("move-1"))
            .await,
        StatusCode::OK,
    )
    .await;
    let again = app
        .post_keyed(&approve, &json!({}), &ly_reviewer, Some("move-1"))
        .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect(again, StatusCode::OK).await, approved);
    assert_eq!(approved["id"], tid.as_str());
    assert_eq!(approved["status"], "approved");
    assert!(is_chinese(approved["status_label"].as_str().unwrap()));
    assert_ne!(approved["status_label"], t["status_label"]);
    assert!(approved["decided_at"].is_string());
    assert!(approved["decision_reason"].is_null());

    // The member is told; so is the old organisation (its nearest reviewer, 郑州市总工会's:
    // the joint union has none), and the deciding side is not told its own decision.
    let told = crate::notifications::inbox_of(app, &tok, 2).await;
    assert_eq!(told["items"][0]["title"], "转会申请已通过", "{told}");
    let old = crate::notifications::inbox_of(app, &zz_reviewer, 1).await;
    assert_eq!(old["items"][0]["kind"], "transfer_out", "{old}");
    assert_eq!(old["items"][0]["record_id"], tid.as_str());
    crate::notifications::settled(app).await;
    let deciders = expect(
        app.get(crate::notifications::INBOX, Some(&ly_reviewer))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(deciders["unread"], 0);

    // The member now belongs to the new organisation, with the same member number.
    let card = expect(app.get(CARD, Some(&tok)).await, StatusCode::OK).await;
    assert_eq!(card["org"], org_ref(&ly_joint, "洛阳市新就业形态联合工会"));
    assert_eq!(card["member_number"], number.as_str());
    assert_eq!(card["status"], "active");
    // Whoever checks the card sees the new organisation.
    let check = expect(
        app.post(
            VERIFY,
            &json!({ "token": card["qr_token"] }),
            Some(&zz_reviewer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(check["valid"], true);
    assert_eq!(check["member_number"], number.as_str());
    assert_eq!(check["org"]["id"], ly_joint.as_str());
    assert!(w.members_found(&zz_reviewer, &number).await.is_empty());
    let found = w.members_found(&ly_reviewer, &number).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["org"]["id"], ly_joint.as_str());
    assert_eq!(found[0]["member_number"], number.as_str());
    assert_eq!(found[0]["name"], "陈晓燕");

    let history = w.history(&tok).await;
    assert_eq!(history["member_number"], number.as_str());
    assert_eq!(
        events(&history),
        [
            ev("joined", &zz_joint, None),
            ev("transferred", &ly_joint, Some(&zz_joint)),
        ]
    );
    let moved = &history["items"][1];
    assert_eq!(moved["from_org"]["name"], "郑州市快递行业联合工会");
    assert_eq!(moved["org"]["name"], "洛阳市新就业形态联合工会");
    assert!(is_chinese(moved["event_label"].as_str().unwrap()));
    assert_ne!(moved["event_label"], history["items"][0]["event_label"]);
    assert!(
        moved["at"].as_str().unwrap() >= history["items"][0]["at"].as_str().unwrap(),
        "{history}"
    );
    let detail = expect(w.show_transfer(&ly_reviewer, &tid).await, StatusCode::OK).await;
    assert_eq!(detail["transfer"]["status"], "approved");
    assert_eq!(events(&detail["history"]), events(&history));
    assert_view("transfer_detail_approved", &detail);

    let mine = w.my_transfers(&tok).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "approved");
    assert_eq!(mine[0]["decided_at"], approved["decided_at"]);
    assert_view("my_transfers", &json!(mine));

    // The old organisation is told through the outbox; the decision is audited.
    let payloads = outbox_payloads(&w, "membership.transfer.approved").await;
    assert_eq!(payloads.len(), 1, "{payloads:?}");
    assert_eq!(payloads[0]["from_org_id"], zz_joint.as_str());
    assert_eq!(payloads[0]["to_org_id"], ly_joint.as_str());
    let tid2 = tid.clone();
    let audits: Vec<(Option<String>, String)> = db(app, move |c| {
        audit_log::table
            .filter(audit_log::action.eq("membership.transfer.approve"))
            .filter(audit_log::record_id.eq(tid2))
            .select((audit_log::actor_id, audit_log::record_type))
            .load(c)
            .unwrap()
    })
    .await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0].0.as_deref(), Some(ly_reviewer_id.as_str()));

    // Deciding again.
    assert_problem_zh(
        w.approve_transfer(&ly_reviewer, &tid).await,
        StatusCode::CONFLICT,
        "transfer_status",
    )
    .await;
    assert_problem_zh(
        w.reject_transfer(&ly_reviewer, &tid, &json!({ "reason": "重复" }))
            .await,
        StatusCode::CONFLICT,
        "transfer_status",
    )
    .await;
    assert_problem(
        w.withdraw_transfer(&tok, &tid).await,
        StatusCode::CONFLICT,
        "transfer_status",
    )
    .await;
    assert_eq!(transferred_rows(&w).await, 1);
    assert_eq!(
        outbox_payloads(&w, "membership.transfer.approved")
            .await
            .len(),
        1
    );

    // Back to 郑州: now the request starts from 洛阳, and 郑州's reviewer decides.
    let back = w.transfer_to(&tok, &zz_joint).await;
    let back_id = id(&back);
    assert_eq!(back["from_org"]["id"], ly_joint.as_str());
    assert_eq!(back["member_number"], number.as_str());
    assert_eq!(
        ids(&list(app, Some(&zz_reviewer), ADMIN_TRANSFERS).await),
        std::slice::from_ref(&back_id)
    );
    assert_eq!(
        ids(&list(app, Some(&ly_reviewer), ADMIN_TRANSFERS).await),
        std::slice::from_ref(&tid),
        "洛阳 sees only what came into 洛阳"
    );
    assert_problem(
        w.approve_transfer(&ly_reviewer, &back_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Rejection needs a reason.
    for bad in [json!({ "reason": "" }), json!({ "reason": "   " })] {
        let body = assert_problem(
            w.reject_transfer(&zz_reviewer, &back_id, &bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            body["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == "reason")),
            "{body}"
        );
    }
    let no_body = w.reject_transfer(&zz_reviewer, &back_id, &json!({})).await;
    assert_eq!(no_body.status(), StatusCode::BAD_REQUEST);
    assert_eq!(w.my_transfers(&tok).await[0]["status"], "requested");

    let rejected = expect(
        w.reject_transfer(
            &zz_reviewer,
            &back_id,
            &json!({ "reason": "请先与原单位办理离职手续" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["decision_reason"], "请先与原单位办理离职手续");
    assert!(rejected["decided_at"].is_string());
    let mine = w.my_transfers(&tok).await;
    assert_eq!(ids(&mine), [back_id.clone(), tid.clone()]);
    assert_eq!(mine[0]["status"], "rejected");
    assert!(is_chinese(mine[0]["status_label"].as_str().unwrap()));
    assert_eq!(mine[0]["decision_reason"], "请先与原单位办理离职手续");
    // The member stays in 洛阳.
    assert_eq!(w.card_org(&tok).await, (ly_joint.clone(), number.clone()));
    assert_eq!(events(&w.history(&tok).await).len(), 2);
    assert_eq!(transferred_rows(&w).await, 1);
    for resp in [
        w.approve_transfer(&zz_reviewer, &back_id).await,
        w.reject_transfer(&zz_reviewer, &back_id, &json!({ "reason": "再次" }))
            .await,
    ] {
        assert_problem(resp, StatusCode::CONFLICT, "transfer_status").await;
    }

    // A withdrawn request cannot be decided.
    let third = id(&w.transfer_to(&tok, &zz_joint).await);
    expect(w.withdraw_transfer(&tok, &third).await, StatusCode::OK).await;
    for resp in [
        w.approve_transfer(&zz_reviewer, &third).await,
        w.reject_transfer(&zz_reviewer, &third, &json!({ "reason": "不同意" }))
            .await,
    ] {
        assert_problem(resp, StatusCode::CONFLICT, "transfer_status").await;
    }
    assert_eq!(w.card_org(&tok).await, (ly_joint.clone(), number.clone()));
    assert_eq!(w.my_transfers(&tok).await[0]["status"], "withdrawn");
    assert_eq!(transferred_rows(&w).await, 1);
}

async fn transfer_queue_scope_filters_and_paging(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (zz_joint, ly_joint) = (id(&w.zz_joint), id(&w.ly_joint));
    let (ly_reviewer, _) = w.official("ly-reviewer", &w.ly, "reviewer").await;
    let (zz_reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let ly_other = id(&new_org(
        app,
        &w.root,
        &w.ly,
        "洛阳市外卖行业联合工会",
        "joint_union",
        true,
        Some("洛阳市"),
    )
    .await);

    // Four members ask, one after another: three into 洛阳 (two different organisations),
    // and one who first moved to 洛阳 asks back into 郑州.
    let mut into_ly = Vec::new();
    let mut toks = Vec::new();
    for (i, (user, name, to)) in [
        ("dora", "赵一", &ly_joint),
        ("eddy", "钱二", &ly_other),
        ("fred", "孙三", &ly_joint),
    ]
    .into_iter()
    .enumerate()
    {
        let (tok, _) = w.member(user, name, 10 + i as u32).await;
        let t = w.transfer_to(&tok, to).await;
        assert_eq!(t["phone"], masked_phone(10 + i as u32));
        into_ly.push(id(&t));
        toks.push(tok);
    }
    let (gina, _) = w.member("gina", "李四", 20).await;
    let moved = id(&w.transfer_to(&gina, &ly_joint).await);
    expect(
        w.approve_transfer(&ly_reviewer, &moved).await,
        StatusCode::OK,
    )
    .await;
    let into_zz = id(&w.transfer_to(&gina, &zz_joint).await);

    // Oldest first, the receiving organisation's subtree only, phones masked.
    let ly_all = list(app, Some(&ly_reviewer), ADMIN_TRANSFERS).await;
    assert_eq!(
        ids(&ly_all),
        [
            into_ly[0].clone(),
            into_ly[1].clone(),
            into_ly[2].clone(),
            moved.clone()
        ]
    );
    for t in &ly_all {
        assert!(t["phone"].as_str().unwrap().contains("****"), "{t}");
    }
    assert_eq!(
        ids(&list(app, Some(&zz_reviewer), ADMIN_TRANSFERS).await),
        std::slice::from_ref(&into_zz)
    );
    let everything = list(app, Some(&w.root), ADMIN_TRANSFERS).await;
    assert_eq!(
        ids(&everything),
        [
            into_ly[0].clone(),
            into_ly[1].clone(),
            into_ly[2].clone(),
            moved.clone(),
            into_zz.clone()
        ]
    );
    // An official of 洛阳市新就业形态联合工会 itself does not see what goes to its sibling.
    let (joint_reviewer, _) = w.official("lyj-reviewer", &ly_joint, "reviewer").await;
    assert_eq!(
        ids(&list(app, Some(&joint_reviewer), ADMIN_TRANSFERS).await),
        [into_ly[0].clone(), into_ly[2].clone(), moved.clone()]
    );
    assert_problem(
        w.approve_transfer(&joint_reviewer, &into_ly[1]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Statuses: one withdrawn, one rejected, one approved (above), one waiting.
    expect(
        w.withdraw_transfer(&toks[0], &into_ly[0]).await,
        StatusCode::OK,
    )
    .await;
    expect(
        w.reject_transfer(&ly_reviewer, &into_ly[1], &json!({ "reason": "材料不全" }))
            .await,
        StatusCode::OK,
    )
    .await;
    let by_status = |status: &str| format!("{ADMIN_TRANSFERS}?status={status}");
    for (status, want) in [
        ("requested", vec![into_ly[2].clone()]),
        ("withdrawn", vec![into_ly[0].clone()]),
        ("rejected", vec![into_ly[1].clone()]),
        ("approved", vec![moved.clone()]),
    ] {
        let got = list(app, Some(&ly_reviewer), &by_status(status)).await;
        assert_eq!(ids(&got), want, "status={status}");
        assert!(got.iter().all(|t| t["status"] == status));
    }
    assert_eq!(
        ids(&list(app, Some(&w.root), &by_status("requested")).await),
        [into_ly[2].clone(), into_zz.clone()]
    );
    for bad in ["pending", "REQUESTED", "approved,rejected"] {
        assert_problem(
            app.get(&by_status(bad), Some(&ly_reviewer)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }

    // Keyset paging gives every request once, in order.
    for limit in [1, 2, 3] {
        let paged = all_pages(app, Some(&w.root), ADMIN_TRANSFERS, limit).await;
        assert_eq!(ids(&paged), ids(&everything), "limit {limit}");
    }
    let paged = all_pages(app, Some(&ly_reviewer), &by_status("requested"), 1).await;
    assert_eq!(ids(&paged), [into_ly[2].clone()]);
    assert_invalid(
        app.get(&format!("{ADMIN_TRANSFERS}?cursor=bm9wZQ"), Some(&w.root))
            .await,
        &[("cursor", "invalid")],
    )
    .await;
}

async fn racing_approvals_move_the_member_once(shape: Shape) {
    let w = World::new(shape).await;
    let (zz_joint, ly_joint) = (id(&w.zz_joint), id(&w.ly_joint));
    let (tok, number) = w.member("hank", "周五", 30).await;
    // Two officials whose scope covers both organisations.
    let (admin, _) = w.official("root-org-admin", &w.root_org, "org_admin").await;
    let (reviewer, _) = w.official("root-reviewer", &w.root_org, "reviewer").await;

    let mut expected = vec![ev("joined", &zz_joint, None)];
    let rounds = 4;
    for round in 0..rounds {
        let (from, to) = if round % 2 == 0 {
            (&zz_joint, &ly_joint)
        } else {
            (&ly_joint, &zz_joint)
        };
        let tid = id(&w.transfer_to(&tok, to).await);
        let (a, b) = tokio::join!(
            w.approve_transfer(&admin, &tid),
            w.approve_transfer(&reviewer, &tid)
        );
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );
        for resp in [a, b] {
            if resp.status() == StatusCode::CONFLICT {
                assert_problem(resp, StatusCode::CONFLICT, "transfer_status").await;
            } else {
                assert_eq!(expect(resp, StatusCode::OK).await["status"], "approved");
            }
        }
        expected.push(ev("transferred", to, Some(from)));
        assert_eq!(w.card_org(&tok).await, (to.clone(), number.clone()));
        assert_eq!(events(&w.history(&tok).await), expected, "round {round}");
        assert_eq!(transferred_rows(&w).await, round + 1);
    }
    assert_eq!(
        outbox_payloads(&w, "membership.transfer.approved")
            .await
            .len(),
        rounds as usize
    );
    let active: i64 = db(&w.app, |c| {
        members::table
            .filter(members::status.eq("active"))
            .count()
            .get_result(c)
            .unwrap()
    })
    .await;
    assert_eq!(active, 1, "one membership, moved");
}

// ---------------------------------------------------------------------------------------------
// leaving

async fn leaving_withdraws_a_waiting_transfer(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (zz_joint, ly_joint) = (id(&w.zz_joint), id(&w.ly_joint));
    let (tok, number) = w.member("ivan", "吴六", 40).await;
    let (ly_reviewer, _) = w.official("ly-reviewer", &w.ly, "reviewer").await;
    let tid = id(&w.transfer_to(&tok, &ly_joint).await);

    let ended = expect(
        app.post(LEAVE, &json!({}), Some(&tok)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ended["member_number"], number.as_str());

    let mine = w.my_transfers(&tok).await;
    assert_eq!(ids(&mine), std::slice::from_ref(&tid));
    assert_eq!(mine[0]["status"], "withdrawn");
    assert!(mine[0]["decided_at"].is_string(), "{mine:?}");
    for resp in [
        w.approve_transfer(&ly_reviewer, &tid).await,
        w.reject_transfer(&ly_reviewer, &tid, &json!({ "reason": "已退会" }))
            .await,
    ] {
        assert_problem(resp, StatusCode::CONFLICT, "transfer_status").await;
    }
    assert_problem(
        w.withdraw_transfer(&tok, &tid).await,
        StatusCode::CONFLICT,
        "transfer_status",
    )
    .await;
    assert!(list(
        app,
        Some(&ly_reviewer),
        &format!("{ADMIN_TRANSFERS}?status=requested")
    )
    .await
    .is_empty());

    // No longer a member: no card, no history, no new request; nobody moved.
    for resp in [
        app.get(CARD, Some(&tok)).await,
        app.get(HISTORY, Some(&tok)).await,
        w.request_transfer(&tok, &json!({ "to_org_id": ly_joint }))
            .await,
    ] {
        assert_problem_zh(resp, StatusCode::NOT_FOUND, "not_a_member").await;
    }
    assert!(w.members_found(&ly_reviewer, &number).await.is_empty());
    assert_eq!(transferred_rows(&w).await, 0);

    // The reviewer still reads the request, and the history ends with leaving 郑州.
    let detail = expect(w.show_transfer(&ly_reviewer, &tid).await, StatusCode::OK).await;
    assert_eq!(detail["transfer"]["status"], "withdrawn");
    assert_eq!(
        events(&detail["history"]),
        [ev("joined", &zz_joint, None), ev("ended", &zz_joint, None)]
    );
    let ended_row = &detail["history"]["items"][1];
    assert!(is_chinese(ended_row["event_label"].as_str().unwrap()));
}

/// A member leaves while the receiving organisation approves: either the approval comes
/// first (and the membership ends in the new organisation) or the leaving does (and the
/// approval is refused); never an error, never a membership left active.
async fn leaving_racing_an_approval(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let ly_joint = id(&w.ly_joint);
    let (ly_reviewer, _) = w.official("ly-reviewer", &w.ly, "reviewer").await;
    for round in 0..12u32 {
        let (tok, number) = w.member(&format!("racer{round}"), "郑七", 50 + round).await;
        let tid = id(&w.transfer_to(&tok, &ly_joint).await);
        let empty = json!({});
        let (approve, leave) = tokio::join!(
            w.approve_transfer(&ly_reviewer, &tid),
            app.post(LEAVE, &empty, Some(&tok))
        );
        let (approve_status, leave_status) = (approve.status(), leave.status());
        let approve_body = approve.text().await.unwrap();
        let leave_body = leave.text().await.unwrap();
        assert_eq!(
            leave_status,
            StatusCode::OK,
            "round {round}: leave answered {leave_body}"
        );
        let ended = list(
            app,
            Some(&w.root),
            &format!("{MEMBERS}?q={number}&status=ended"),
        )
        .await;
        assert_eq!(ended.len(), 1, "round {round}: {ended:?}");
        let status = &w.my_transfers(&tok).await[0]["status"];
        match approve_status {
            StatusCode::OK => {
                assert_eq!(status, "approved", "round {round}");
                assert_eq!(ended[0]["org"]["id"], ly_joint.as_str(), "round {round}");
            }
            StatusCode::CONFLICT => {
                assert!(approve_body.contains("transfer_status"), "{approve_body}");
                assert_eq!(status, "withdrawn", "round {round}");
                assert_eq!(ended[0]["org"]["id"], w.zz_joint["id"], "round {round}");
            }
            other => panic!("round {round}: approval answered {other}: {approve_body}"),
        }
        assert_problem(
            app.get(CARD, Some(&tok)).await,
            StatusCode::NOT_FOUND,
            "not_a_member",
        )
        .await;
    }
}

/// A member asks to move while leaving: if the request is taken, it must not stay waiting for
/// someone who is no longer a member.
async fn requesting_racing_leaving(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let ly_joint = id(&w.ly_joint);
    let (ly_reviewer, _) = w.official("ly-reviewer", &w.ly, "reviewer").await;
    let empty = json!({});
    let body = json!({ "to_org_id": ly_joint });
    for round in 0..8u32 {
        let (tok, _) = w
            .member(&format!("leaver{round}"), "冯八", 60 + round)
            .await;
        let (request, leave) = tokio::join!(
            w.request_transfer(&tok, &body),
            app.post(LEAVE, &empty, Some(&tok))
        );
        let leave_status = leave.status();
        assert_eq!(
            leave_status,
            StatusCode::OK,
            "round {round}: leave answered {}",
            leave.text().await.unwrap()
        );
        match request.status() {
            StatusCode::CREATED => {
                let t = expect(request, StatusCode::CREATED).await;
                let mine = w.my_transfers(&tok).await;
                assert_eq!(ids(&mine), [id(&t)], "round {round}");
                assert_eq!(
                    mine[0]["status"], "withdrawn",
                    "round {round}: a request of a member who left still waits"
                );
            }
            StatusCode::NOT_FOUND => {
                assert_problem(request, StatusCode::NOT_FOUND, "not_a_member").await;
                assert!(w.my_transfers(&tok).await.is_empty(), "round {round}");
            }
            other => panic!(
                "round {round}: the request answered {other}: {}",
                request.text().await.unwrap()
            ),
        }
    }
    let waiting = list(
        app,
        Some(&ly_reviewer),
        &format!("{ADMIN_TRANSFERS}?status=requested"),
    )
    .await;
    assert!(
        waiting.is_empty(),
        "requests of members who left: {waiting:?}"
    );
}

/// Tapped twice with one `Idempotency-Key`: one request, both taps answer it; without a key
/// the second is `transfer_open`.
async fn a_retried_request_files_once(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (tok, _) = w.member("zoe", "赵依", 97).await;
    let ly_joint = id(&w.ly_joint);
    let body = json!({ "to_org_id": ly_joint, "reason": "换了工作" });
    let send = |key: Option<&'static str>| app.post_keyed(TRANSFERS, &body, &tok, key);
    let first = send(Some("move-1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let retry = send(Some("move-1")).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry, first);
    assert_problem_zh(send(None).await, StatusCode::CONFLICT, "transfer_open").await;
    assert_eq!(w.my_transfers(&tok).await.len(), 1);
}
