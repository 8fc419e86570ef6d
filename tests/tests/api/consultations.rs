//! Online consultation over HTTP: a worker asks about unpaid wages of a lawyer they picked;
//! the pick has the first minutes, the first accept wins; the lawyer asks for the contract
//! (pending), the worker answers, the lawyer resolves, the worker rates once and the lawyer's
//! average follows. Text WeChat holds waits for an official; risky text is refused. Bad input
//! and other people's threads are refused with nothing changed.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use yiwang_tests::views::assert_view;
use yiwang_tests::{both_shapes, Shape};

use yiwang_tests::world::{assert_invalid, assert_problem_zh, expect, World};

both_shapes!(
    a_worker_asks_a_lawyer_answers_and_is_rated,
    held_text_waits_for_an_official_and_bad_input_changes_nothing,
);

const ASK: &str = "/api/v1/consultations";
const ADMIN: &str = "/api/v1/admin/consultations";
const LAWYERS: &str = "/api/v1/lawyers";
const ADMIN_LAWYERS: &str = "/api/v1/admin/lawyers";
const DUTY: &str = "/api/v1/admin/lawyers/me/duty";

/// A lawyer official with a profile, on duty: `(token, id)`.
pub(crate) async fn lawyer(
    w: &World,
    user: &str,
    name: &str,
    licence: &str,
    specialties: &[&str],
) -> (String, String) {
    let (tok, id) = w.official(user, &w.zz, "lawyer").await;
    let profile = json!({ "name": name, "law_firm": "河南郑州律师事务所", "licence_number": licence,
                          "specialties": specialties, "years_in_practice": 8 });
    expect(
        w.app
            .request(
                Method::PUT,
                &format!("{ADMIN_LAWYERS}/{id}"),
                Some(&profile),
                Some(&w.root),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        w.app
            .request(
                Method::PUT,
                DUTY,
                Some(&json!({ "on_duty": true })),
                Some(&tok),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    (tok, id)
}

fn bodies(list: &Value) -> Vec<(String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author"].as_str().unwrap().to_owned(),
                m["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn count(w: &World, tok: &str) -> usize {
    let mine = expect(w.app.get(ASK, Some(tok)).await, StatusCode::OK).await;
    mine["items"].as_array().unwrap().len()
}

async fn a_worker_asks_a_lawyer_answers_and_is_rated(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("asker").await;
    let (zhang_tok, zhang) = lawyer(
        &w,
        "zz-zhang",
        "张明",
        "14101201010123456",
        &["wage_arrears"],
    )
    .await;
    let (li_tok, _) = lawyer(
        &w,
        "zz-li",
        "李静",
        "14101201110654321",
        &["wage_arrears", "debt"],
    )
    .await;
    let (wang_tok, _) = lawyer(&w, "zz-wang", "王刚", "14101201210777777", &["criminal"]).await;
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

    // The worker asks Zhang (点单); a double tap files once.
    let question = json!({ "category": "wage_arrears", "title": "快递站拖欠三个月工资",
                           "message": "我在快递站干了半年，老板拖欠三个月工资共一万二，怎么办？",
                           "employer": "郑州某某快递有限公司", "lawyer_id": zhang });
    let first = post(ASK.into(), question.clone(), &worker, Some("ask-1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let asked: Value = first.json().await.unwrap();
    let again = post(ASK.into(), question.clone(), &worker, Some("ask-1")).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), asked);
    assert_eq!(count(&w, &worker).await, 1);
    assert_eq!(asked["status"], "waiting", "{asked}");
    assert_eq!(asked["chosen_lawyer_id"], zhang.as_str());
    assert!(asked["reserved_until"].is_string() && asked["first_response_due"].is_string());
    assert_view("consultation_asked", &asked);
    let id = asked["id"].as_str().unwrap().to_owned();
    let at = |action: &str| format!("{ADMIN}/{id}/{action}");

    // Li sees it in the pool but must wait for Zhang's minutes; Wang is outside the specialty.
    let pool = expect(app.get(ADMIN, Some(&li_tok)).await, StatusCode::OK).await;
    assert_eq!(pool["items"][0]["id"], id.as_str());
    assert_view("admin_consultations", &pool);
    let resp = post(at("accept"), json!({}), &li_tok, None).await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "reserved").await;
    let resp = post(at("accept"), json!({}), &wang_tok, None).await;
    assert_problem_zh(resp, StatusCode::FORBIDDEN, "not_your_specialty").await;
    let resp = app.get(&format!("{ADMIN}/{id}"), Some(&wang_tok)).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Zhang accepts (his retry of a lost answer, with the same Idempotency-Key, gets that
    // answer); another lawyer's accept finds it taken.
    let open = expect(
        post(at("accept"), json!({}), &zhang_tok, Some("take-1")).await,
        StatusCode::OK,
    )
    .await;
    let retried = post(at("accept"), json!({}), &zhang_tok, Some("take-1")).await;
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(expect(retried, StatusCode::OK).await, open);
    assert_eq!(
        (open["status"].as_str(), open["lawyer_id"].as_str()),
        (Some("open"), Some(zhang.as_str()))
    );
    let resp = post(at("accept"), json!({}), &li_tok, None).await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "already_taken").await;

    // Zhang asks for the contract: pending, the resolution clock stands.
    let ask_back = json!({ "text": "请上传劳动合同和工资条照片", "asks_worker": true });
    let pending = expect(
        post(at("messages"), ask_back, &zhang_tok, Some("z-1")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(pending["status"], "pending");
    assert!(
        pending["resolution_due"].is_null()
            && pending["resolution_left_seconds"].as_i64().unwrap() > 0
    );
    // Rating now is too early.
    let resp = post(
        format!("{ASK}/{id}/rating"),
        json!({ "stars": 5 }),
        &worker,
        None,
    )
    .await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "not_resolved").await;
    // The worker answers: open again, with a deadline.
    let reply = json!({ "text": "没有签劳动合同，只有微信转账记录" });
    let reopened = expect(
        post(format!("{ASK}/{id}/messages"), reply, &worker, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(reopened["status"], "open");
    assert!(reopened["resolution_due"].is_string());
    let resolved = expect(
        post(at("resolve"), json!({}), &zhang_tok, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(resolved["status"], "resolved");

    // Zhang finds it among past work, not in the work in hand; Li, who never took it, does
    // not; a state that does not exist is refused, for a lawyer as for an official.
    let ids = |list: &Value| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let listed = |path: String, tok: &str| {
        let app = &app;
        let tok = tok.to_owned();
        async move { expect(app.get(&path, Some(&tok)).await, StatusCode::OK).await }
    };
    let past = listed(format!("{ADMIN}?status=resolved,closed"), &zhang_tok).await;
    assert_eq!(ids(&past), std::slice::from_ref(&id), "{past}");
    let in_hand = listed(ADMIN.to_owned(), &zhang_tok).await;
    assert!(!ids(&in_hand).contains(&id), "{in_hand}");
    // An empty `status=` names no state (the contract asks for at least one).
    let resp = app.get(&format!("{ADMIN}?status="), Some(&zhang_tok)).await;
    assert_invalid(resp, &[("status", "not_allowed")]).await;
    let not_li = listed(format!("{ADMIN}?status=resolved"), &li_tok).await;
    assert!(ids(&not_li).is_empty(), "{not_li}");
    let resp = app
        .get(&format!("{ADMIN}?status=xyz"), Some(&zhang_tok))
        .await;
    assert_invalid(resp, &[("status", "not_allowed")]).await;

    // The thread as the worker reads it, and only newer ones after a message id.
    let thread = expect(
        app.get(&format!("{ASK}/{id}/messages"), Some(&worker))
            .await,
        StatusCode::OK,
    )
    .await;
    let authors: Vec<String> = bodies(&thread).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        authors,
        ["worker", "system", "lawyer", "worker", "system"],
        "{thread}"
    );
    assert_eq!(bodies(&thread)[1].1, "张明 律师已接单");
    assert_view("consultation_messages", &thread);
    let second = thread["items"][1]["id"].as_str().unwrap();
    let newer = expect(
        app.get(
            &format!("{ASK}/{id}/messages?after={second}"),
            Some(&worker),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bodies(&newer).len(), 3);

    // Rated once; the lawyer's average follows.
    let rated = expect(
        post(
            format!("{ASK}/{id}/rating"),
            json!({ "stars": 5, "comment": "解答清楚" }),
            &worker,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rated["rating"], 5);
    let resp = post(
        format!("{ASK}/{id}/rating"),
        json!({ "stars": 1 }),
        &worker,
        None,
    )
    .await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "already_rated").await;
    // The comment is for the officials: the lawyer reads the stars only.
    let as_lawyer = expect(
        app.get(&format!("{ADMIN}/{id}"), Some(&zhang_tok)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            as_lawyer["rating"].as_i64(),
            as_lawyer["rating_comment"].as_str()
        ),
        (Some(5), None)
    );
    let as_official = expect(
        app.get(&format!("{ADMIN}/{id}"), Some(&w.root)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(as_official["rating_comment"], "解答清楚");
    assert_view(
        "worker_consultations",
        &expect(app.get(ASK, Some(&worker)).await, StatusCode::OK).await,
    );
    assert_view("lawyer_consultation_rated", &as_lawyer);
    assert_view("admin_consultation_rated", &as_official);
    let shown = expect(
        app.get(&format!("{LAWYERS}/{zhang}"), Some(&worker)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            shown["rating_average"].as_f64(),
            shown["rating_count"].as_i64()
        ),
        (Some(5.0), Some(1))
    );

    // Someone else's thread does not exist for another worker.
    let other = w.worker("nosy").await;
    assert_view("lawyer_profile", &shown);
    let resp = post(
        format!("{ASK}/{id}/messages"),
        json!({ "text": "你好" }),
        &other,
        None,
    )
    .await;
    assert_problem_zh(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app.get(&format!("{ASK}/{id}"), Some(&other)).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

async fn held_text_waits_for_an_official_and_bad_input_changes_nothing(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("held-asker").await;
    let (zhang_tok, _) = lawyer(
        &w,
        "zz-zhang2",
        "张明",
        "14101201010123456",
        &["labour_dispute"],
    )
    .await;
    let (zz_admin, _) = w.official("zz-cons-admin", &w.zz, "org_admin").await;

    // Risky text is refused and nothing is stored.
    let risky =
        json!({ "category": "labour_dispute", "title": "问题", "message": "这是 risky 内容" });
    let resp = app.post(ASK, &risky, Some(&worker)).await;
    let problem = assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "content_risky").await;
    assert_eq!(problem["errors"][0]["field"], "message");
    // Bad fields, every one named.
    let bad = json!({ "category": "tax", "title": "", "message": "欠".repeat(2_001),
                      "lawyer_id": "00000000-0000-0000-0000-000000000000" });
    let resp = app.post(ASK, &bad, Some(&worker)).await;
    assert_invalid(
        resp,
        &[
            ("category", "not_allowed"),
            ("title", "required"),
            ("message", "too_long"),
            ("lawyer_id", "not_allowed"),
        ],
    )
    .await;
    assert_eq!(count(&w, &worker).await, 0);

    // Text WeChat wants reviewed is held: no lawyer sees it until an official releases it.
    let review = json!({ "category": "labour_dispute", "title": "被辞退", "message": "公司 review 无故辞退我" });
    let held = expect(
        app.post(ASK, &review, Some(&worker)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(held["status"], "held");
    assert!(held["first_response_due"].is_null());
    let id = held["id"].as_str().unwrap().to_owned();
    let pool = expect(app.get(ADMIN, Some(&zhang_tok)).await, StatusCode::OK).await;
    assert!(pool["items"].as_array().unwrap().is_empty(), "{pool}");
    let resp = app
        .request(
            Method::POST,
            &format!("{ADMIN}/{id}/accept"),
            None,
            Some(&zhang_tok),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // The worker is not a member: the root's officials handle it, not a branch's.
    let resp = app
        .request(
            Method::POST,
            &format!("{ADMIN}/{id}/release"),
            None,
            Some(&zz_admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let queue = expect(
        app.get(&format!("{ADMIN}?status=held"), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(queue["items"][0]["id"], id.as_str());
    let resp = app
        .request(
            Method::POST,
            &format!("{ADMIN}/{id}/release"),
            None,
            Some(&zhang_tok),
        )
        .await;
    assert_problem_zh(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let released = expect(
        app.request(
            Method::POST,
            &format!("{ADMIN}/{id}/release"),
            None,
            Some(&w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(released["status"], "waiting");
    assert!(released["first_response_due"].is_string());
    let resp = app
        .request(
            Method::POST,
            &format!("{ADMIN}/{id}/release"),
            None,
            Some(&w.root),
        )
        .await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "not_held").await;
    let pool = expect(app.get(ADMIN, Some(&zhang_tok)).await, StatusCode::OK).await;
    assert_eq!(pool["items"][0]["id"], id.as_str());

    // Messages: empty and overlong text refused; an unknown state filter named.
    let resp = app
        .post(
            &format!("{ASK}/{id}/messages"),
            &json!({ "text": "  " }),
            Some(&worker),
        )
        .await;
    assert_invalid(resp, &[("text", "required")]).await;
    let resp = app
        .get(&format!("{ADMIN}?status=lost"), Some(&w.root))
        .await;
    assert_invalid(resp, &[("status", "not_allowed")]).await;
}
