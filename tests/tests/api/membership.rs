//! Joining the union (入会), over HTTP: the organisation search, applying (every bad field at
//! once, nothing stored without consent or with a bad form), one open application per person,
//! the officials' queue with data scope and roles, decisions (also racing and in batches),
//! member numbers, the member card and its check, and ID numbers kept sealed at rest.

use std::collections::HashSet;
use yiwang_tests::views::{assert_view, sorted_by};

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use yiwang_infra::db::schema::{
    audit_log, members, membership_application_events, membership_applications, outbox,
};
use yiwang_tests::world::*;
use yiwang_tests::{assert_problem, both_shapes, id_number, Shape, TestApp};

both_shapes!(
    org_search_finds_where_individuals_can_join,
    apply_happy_path_masks_and_derives,
    apply_phone_falls_back_to_the_wechat_binding,
    bad_forms_list_every_field_and_store_nothing,
    one_open_application_per_person,
    review_queue_order_filters_paging_scope_and_roles,
    decisions_reject_return_resubmit_withdraw,
    racing_approvals_make_one_member,
    batch_approval_reports_each_outcome,
    member_card_and_its_check,
    id_numbers_are_sealed_at_rest_and_reveals_are_audited,
    member_search_filters,
    leaving_and_erasure_after_retention,
    me_follows_the_workers_standing,
    a_retried_application_files_once,
);

async fn org_search_finds_where_individuals_can_join(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    assert_view(
        "privacy_notice",
        &expect(app.get(NOTICE, None).await, StatusCode::OK).await,
    );
    let qianxi_joint = new_org(
        app,
        &w.root,
        &w.root_org,
        "黔西市快递行业联合工会",
        "joint_union",
        true,
        Some("黔西市"),
    )
    .await;
    let qianxi_company = new_org(
        app,
        &w.root,
        &w.root_org,
        "黔西市顺达快递有限公司工会",
        "enterprise_union",
        false,
        Some("黔西市"),
    )
    .await;
    assert_eq!(qianxi_company["accepts_individuals"], false);

    // No login: a worker looks before logging in.
    let found = list(
        app,
        None,
        &format!("{ORG_SEARCH}?accepts_individuals=true&city=黔西市&q=快递"),
    )
    .await;
    assert_eq!(found.len(), 1, "{found:?}");
    let o = &found[0];
    assert_eq!(o["id"], qianxi_joint["id"]);
    assert_eq!(o["name"], "黔西市快递行业联合工会");
    assert_eq!(o["kind"], "joint_union");
    assert_eq!(o["city"], "黔西市");
    assert_eq!(o["accepts_individuals"], true);

    // Each filter on its own.
    let by_city = list(app, None, &format!("{ORG_SEARCH}?city=黔西市")).await;
    assert_eq!(
        ids(&by_city).into_iter().collect::<HashSet<_>>(),
        HashSet::from([id(&qianxi_joint), id(&qianxi_company)])
    );
    let by_name = list(app, None, &format!("{ORG_SEARCH}?q=顺达")).await;
    assert_eq!(ids(&by_name), [id(&qianxi_company)]);
    let accepting = list(app, None, &format!("{ORG_SEARCH}?accepts_individuals=true")).await;
    let want: HashSet<String> = [id(&qianxi_joint), id(&w.zz_joint), id(&w.ly_joint)].into();
    assert_eq!(ids(&accepting).into_iter().collect::<HashSet<_>>(), want);
    assert!(accepting.iter().all(|o| o["accepts_individuals"] == true));
    let none = list(
        app,
        None,
        &format!("{ORG_SEARCH}?accepts_individuals=true&city=黔西市&q=外卖"),
    )
    .await;
    assert!(none.is_empty(), "{none:?}");

    // Paging: one per page, every organisation exactly once.
    let first = expect(
        app.get(
            &format!("{ORG_SEARCH}?accepts_individuals=true&limit=1"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    assert_view("org_search_page", &first);
    assert!(first["next_cursor"].is_string(), "{first}");
    let paged = all_pages(
        app,
        None,
        &format!("{ORG_SEARCH}?accepts_individuals=true"),
        1,
    )
    .await;
    assert_eq!(ids(&paged), ids(&accepting), "paged = unpaged, in order");
}

// ---------------------------------------------------------------------------------------------
// applying

async fn apply_happy_path_masks_and_derives(shape: Shape) {
    let w = World::new(shape).await;
    let tok = w.worker("bob").await;
    assert!(w.my_list(&tok).await.is_empty());
    let number = person(2);

    let resp = w.apply(&tok, &w.form(&number)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let raw = resp.text().await.unwrap();
    assert!(
        !raw.contains(&number),
        "full ID number in the answer: {raw}"
    );
    assert!(
        !raw.contains("13912345678"),
        "full phone in the answer: {raw}"
    );
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["status"], "submitted");
    assert_eq!(v["status_label"], "审核中");
    assert_eq!(v["id_number"], masked(&number));
    assert!(v["id_number"]
        .as_str()
        .unwrap()
        .starts_with("1101**********"));
    assert_eq!(v["birth_date"], "1990-03-07");
    assert_eq!(v["sex"], "female", "17th digit 2 is even");
    assert_eq!(v["phone"], "139****5678");
    assert_eq!(v["real_name"], "王小明");
    assert_eq!(v["employer_name"], "顺丰速运郑州分公司");
    assert_eq!(v["credit_code"], CREDIT_CODE);
    assert_eq!(v["industry"], "快递物流");
    assert_eq!(v["employment_form"], "courier");
    assert_eq!(v["city"], "郑州市");
    assert_eq!(v["org"]["id"], w.zz_joint["id"]);
    assert_eq!(v["org"]["name"], "郑州市快递行业联合工会");
    assert_eq!(v["consent_version"], w.version.as_str());
    assert!(v["decided_at"].is_null());
    let app_id = id(&v);

    // Listed, and readable with its history.
    let mine = w.my_list(&tok).await;
    assert_eq!(ids(&mine), [app_id.as_str()]);
    assert_eq!(mine[0]["id_number"], masked(&number));
    let one = expect(
        w.app.get(&format!("{APPS}/{app_id}"), Some(&tok)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["status"], "submitted");
    assert_eq!(history_actions(&one), ["submitted"]);
    assert_view("membership_application", &one);

    // A male applicant: odd 17th digit.
    let tok2 = w.worker("bill").await;
    let v = w.submit(&tok2, &w.form(&person(3))).await;
    assert_eq!(v["sex"], "male");

    // A check character X typed in lower case; a name with a middle dot; no credit code.
    let with_x = (100..1000).map(person).find(|n| n.ends_with('X')).unwrap();
    let tok3 = w.worker("abdulla").await;
    let form = set(
        w.form(&with_x.to_lowercase()),
        "real_name",
        json!("阿卜杜拉·艾买提"),
    );
    let v = w
        .submit(&tok3, &set(form, "credit_code", Value::Null))
        .await;
    assert_eq!(v["id_number"], masked(&with_x));
    assert!(v["id_number"].as_str().unwrap().ends_with('X'));
    assert_eq!(v["real_name"], "阿卜杜拉·艾买提");
    assert!(v["credit_code"].is_null());

    // An official's token cannot apply.
    let (official, _) = w.official("zz-admin", &w.zz, "org_admin").await;
    assert_problem(
        w.apply(&official, &w.form(&person(5))).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;
}

async fn apply_phone_falls_back_to_the_wechat_binding(shape: Shape) {
    let w = World::new(shape).await;

    // Without a bound phone and without a number: 422 on `phone`, nothing stored.
    let tok = w.worker("dave").await;
    let no_phone = set(w.form(&person(11)), "phone", Value::Null);
    assert_invalid(w.apply(&tok, &no_phone).await, &[("phone", "required")]).await;
    assert!(w.my_list(&tok).await.is_empty());
    assert_eq!(stored_applications(&w.app).await, 0);

    // With the WeChat-bound phone.
    let tok = w.worker("carol").await;
    expect(
        w.app
            .post(PHONE, &json!({ "code": "phone-13800138000" }), Some(&tok))
            .await,
        StatusCode::OK,
    )
    .await;
    let v = w.submit(&tok, &no_phone).await;
    assert_eq!(v["phone"], "138****8000");
    // The official handling it sees the whole number to call the applicant.
    let full = expect(
        w.app
            .get(&format!("{QUEUE}/{}", id(&v)), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(full["phone"], "13800138000");

    // A number given in the form wins over the bound one.
    let tok = w.worker("cathy").await;
    expect(
        w.app
            .post(PHONE, &json!({ "code": "phone-13700137000" }), Some(&tok))
            .await,
        StatusCode::OK,
    )
    .await;
    let v = w
        .submit(
            &tok,
            &set(w.form(&person(13)), "phone", json!("13612345678")),
        )
        .await;
    assert_eq!(v["phone"], "136****5678");
}

async fn bad_forms_list_every_field_and_store_nothing(shape: Shape) {
    let w = World::new(shape).await;
    let tok = w.worker("erin").await;
    let good = person(21);
    let unknown_org = uuid::Uuid::now_v7().to_string();

    // Many mistakes at once: every one is listed in one answer.
    let mut form = w.form(&with_wrong_check(&good));
    form = set(form, "real_name", json!("张三3"));
    form = set(form, "phone", json!("12345"));
    form = set(form, "credit_code", json!("91350100M000100Y44"));
    form = set(form, "employment_form", json!("astronaut"));
    form = set(form, "org_id", json!(unknown_org));
    form = set(form, "industry", json!("  "));
    form = set(form, "city", json!(""));
    form = set(form, "consent.version", json!("2020-01-01"));
    let body = assert_invalid(
        w.apply(&tok, &form).await,
        &[
            ("consent.version", "outdated"),
            ("industry", "required"),
            ("city", "required"),
            ("real_name", "name_has_digits"),
            ("id_number", "id_number_check"),
            ("phone", "phone_format"),
            ("credit_code", "credit_code_check"),
            ("employment_form", "not_allowed"),
            ("org_id", "unknown"),
        ],
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().starts_with("请求内容有误"),
        "{body}"
    );
    // English on request.
    let resp = w
        .app
        .client
        .post(format!("{}{APPS}", w.app.base))
        .bearer_auth(&tok)
        .header("Accept-Language", "en")
        .json(&form)
        .send()
        .await
        .unwrap();
    let en = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(!is_chinese(en["detail"].as_str().unwrap()), "{en}");
    assert_eq!(field_errors(&en), field_errors(&body));

    // One mistake at a time.
    let long_name = "张".repeat(31);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            set(w.form(&good), "id_number", json!(&good[..17])),
            "id_number",
            "id_number_length",
        ),
        (
            w.form(&id_number("11010519900230001")),
            "id_number",
            "id_number_birth_date",
        ),
        (
            w.form(&id_number("11010520990101001")),
            "id_number",
            "id_number_future_birth_date",
        ),
        (
            w.form(&id_number("11010520150601001")),
            "id_number",
            "under_minimum_age",
        ),
        (
            set(w.form(&good), "real_name", json!("王小明2号")),
            "real_name",
            "name_has_digits",
        ),
        (
            set(w.form(&good), "real_name", json!(long_name)),
            "real_name",
            "name_too_long",
        ),
        (
            set(w.form(&good), "phone", json!("+85291234567")),
            "phone",
            "phone_format",
        ),
        (
            set(w.form(&good), "phone", json!("010-62345678")),
            "phone",
            "phone_format",
        ),
        (
            set(w.form(&good), "credit_code", json!("91350100M000100Y44")),
            "credit_code",
            "credit_code_check",
        ),
        (
            set(w.form(&good), "org_id", json!(unknown_org)),
            "org_id",
            "unknown",
        ),
        (
            set(w.form(&good), "org_id", json!("not-a-uuid")),
            "org_id",
            "unknown",
        ),
        (
            set(w.form(&good), "org_id", json!(w.zz)),
            "org_id",
            "not_accepting_individuals",
        ),
        (
            set(w.form(&good), "employment_form", json!("Courier")),
            "employment_form",
            "not_allowed",
        ),
    ];
    for (form, field, code) in &cases {
        assert_invalid(w.apply(&tok, form).await, &[(field, code)]).await;
    }

    // No consent: refused, with every other problem listed beside it (issue 19), and
    // nothing kept.
    let no_consent = set(w.form(&good), "consent.accepted", json!(false));
    let body = assert_invalid(
        w.apply(&tok, &no_consent).await,
        &[("consent.accepted", "consent_required")],
    )
    .await;
    assert!(is_chinese(body["detail"].as_str().unwrap()));
    let mut no_consent_and_bad = set(no_consent, "real_name", json!("张三3"));
    no_consent_and_bad = set(no_consent_and_bad, "id_number", json!("123"));
    assert_invalid(
        w.apply(&tok, &no_consent_and_bad).await,
        &[
            ("consent.accepted", "consent_required"),
            ("real_name", "name_has_digits"),
            ("id_number", "id_number_length"),
        ],
    )
    .await;

    // Nothing stored: not in the worker's list, not in the queue, not in the database.
    assert!(w.my_list(&tok).await.is_empty());
    assert!(list(&w.app, Some(&w.root), QUEUE).await.is_empty());
    assert_eq!(stored_applications(&w.app).await, 0);
    let submits: i64 = db(&w.app, |c| {
        audit_log::table
            .filter(audit_log::action.eq("membership.application.submit"))
            .count()
            .get_result(c)
            .unwrap()
    })
    .await;
    assert_eq!(submits, 0);

    // The same person, with the form put right, is accepted.
    let v = w.submit(&tok, &w.form(&good)).await;
    assert_eq!(v["status"], "submitted");
}

// ---------------------------------------------------------------------------------------------
// one open application, one membership

async fn one_open_application_per_person(shape: Shape) {
    let w = World::new(shape).await;
    let x = person(31);
    let first = w.worker("frank").await;
    let app_x = id(&w.submit(&first, &w.form(&x)).await);

    // The same person from another account.
    let second = w.worker("frank-new-phone").await;
    assert_problem_zh(
        w.apply(&second, &w.form(&x)).await,
        StatusCode::CONFLICT,
        "application_open",
    )
    .await;
    assert!(w.my_list(&second).await.is_empty());

    // The same account again, one after the other.
    assert_problem_zh(
        w.apply(&first, &w.form(&x)).await,
        StatusCode::CONFLICT,
        "application_open",
    )
    .await;
    assert_eq!(w.my_list(&first).await.len(), 1);

    // A double tap on a weak network: both requests at once, a few times over, and each time
    // exactly one is stored and the other is told it is already open.
    for round in 0..5u32 {
        let tapper = w.worker(&format!("gina{round}")).await;
        let form = w.form(&person(32 + 100 * (round + 1)));
        let (a, b) = tokio::join!(w.apply(&tapper, &form), w.apply(&tapper, &form));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        let bodies = [a.text().await.unwrap(), b.text().await.unwrap()];
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "double tap, round {round}: {bodies:?}"
        );
        assert!(
            bodies.iter().any(|b| b.contains("\"application_open\"")),
            "{bodies:?}"
        );
        assert_eq!(w.my_list(&tapper).await.len(), 1);
    }

    // Once a member, neither the person (any account) nor the account may apply again.
    w.approved(&app_x).await;
    assert_problem_zh(
        w.apply(&second, &w.form(&x)).await,
        StatusCode::CONFLICT,
        "already_member",
    )
    .await;
    assert_problem_zh(
        w.apply(&first, &w.form(&person(33))).await,
        StatusCode::CONFLICT,
        "already_member",
    )
    .await;
    assert!(w.my_list(&second).await.is_empty());
    assert_eq!(w.my_list(&first).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// the officials' queue

async fn review_queue_order_filters_paging_scope_and_roles(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let mut zz_apps = Vec::new();
    for (i, (user, name)) in [("hank", "王一"), ("iris", "李二"), ("jack", "张三")]
        .into_iter()
        .enumerate()
    {
        let tok = w.worker(user).await;
        let phone = format!("1391234{:04}", 1000 + i);
        let v = w
            .submit(&tok, &w.form_of(name, &person(41 + i as u32), &phone))
            .await;
        zz_apps.push(id(&v));
    }
    let ly_tok = w.worker("kate").await;
    let ly_form = set(
        w.form_of("赵四", &person(49), "13912349999"),
        "org_id",
        w.ly_joint["id"].clone(),
    );
    let ly_app = id(&w.submit(&ly_tok, &ly_form).await);

    let (zz_reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let (ly_reviewer, _) = w.official("ly-reviewer", &w.ly, "reviewer").await;

    // Oldest first; the root sees everything, a city only its own subtree.
    let all = list(app, Some(&w.root), QUEUE).await;
    let mut want = zz_apps.clone();
    want.push(ly_app.clone());
    assert_eq!(ids(&all), want);
    let zz_rows = list(app, Some(&zz_reviewer), QUEUE).await;
    assert_eq!(ids(&zz_rows), zz_apps);
    for row in &zz_rows {
        assert_eq!(row["status"], "submitted");
        assert_eq!(row["waited_working_days"], 0, "{row}");
        assert_eq!(row["overdue"], false, "{row}");
        let phone = row["phone"].as_str().unwrap();
        assert!(phone.starts_with("139****"), "masked in the list: {row}");
        assert!(row["id_number"].as_str().unwrap().contains("**********"));
        assert!(row.get("history").is_none(), "no history in lists: {row}");
    }
    let ly_rows = list(app, Some(&ly_reviewer), QUEUE).await;
    assert_eq!(ids(&ly_rows), [ly_app.as_str()]);

    // One application in full: whole phone number and history.
    let one = expect(
        app.get(&format!("{QUEUE}/{}", zz_apps[1]), Some(&zz_reviewer))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["phone"], "13912341001");
    assert_view("membership_queue_row", &one);
    assert_eq!(one["real_name"], "李二");
    assert_eq!(one["id_number"], masked(&person(42)));
    assert_eq!(history_actions(&one), ["submitted"]);
    assert_eq!(one["waited_working_days"], 0);
    assert_eq!(one["overdue"], false);

    // Outside the subtree: as if it did not exist.
    for path in [
        format!("{QUEUE}/{}", zz_apps[0]),
        format!("{QUEUE}/{}", uuid::Uuid::now_v7()),
        format!("{QUEUE}/not-a-uuid"),
    ] {
        assert_problem(
            app.get(&path, Some(&ly_reviewer)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_problem(
        w.approve(&ly_reviewer, &zz_apps[0]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let org_filter_outside = app
        .get(
            &format!("{QUEUE}?org_id={}", id(&w.zz_joint)),
            Some(&ly_reviewer),
        )
        .await;
    assert_problem(org_filter_outside, StatusCode::NOT_FOUND, "not_found").await;

    // A reviewer decides.
    let v = expect(w.approve(&zz_reviewer, &zz_apps[0]).await, StatusCode::OK).await;
    assert_eq!(v["application"]["status"], "approved");

    // Status filter.
    let submitted = list(
        app,
        Some(&zz_reviewer),
        &format!("{QUEUE}?status=submitted"),
    )
    .await;
    assert_eq!(ids(&submitted), zz_apps[1..]);
    let approved = list(app, Some(&zz_reviewer), &format!("{QUEUE}?status=approved")).await;
    assert_eq!(ids(&approved), [zz_apps[0].clone()]);
    assert_eq!(approved[0]["overdue"], false);
    assert_invalid(
        app.get(&format!("{QUEUE}?status=pending"), Some(&zz_reviewer))
            .await,
        &[("status", "not_allowed")],
    )
    .await;

    // Search by name.
    let by_name = list(app, Some(&w.root), &format!("{QUEUE}?q=李二")).await;
    assert_eq!(ids(&by_name), [zz_apps[1].clone()]);
    let by_name_outside = list(app, Some(&ly_reviewer), &format!("{QUEUE}?q=李二")).await;
    assert!(by_name_outside.is_empty());
    // By organisation.
    let by_org = list(
        app,
        Some(&w.root),
        &format!("{QUEUE}?org_id={}", id(&w.ly_joint)),
    )
    .await;
    assert_eq!(ids(&by_org), [ly_app.as_str()]);

    // Keyset paging: each application exactly once, in the same order.
    let paged = all_pages(app, Some(&w.root), QUEUE, 1).await;
    assert_eq!(ids(&paged), want);
    let paged = all_pages(app, Some(&w.root), QUEUE, 3).await;
    assert_eq!(ids(&paged), want);
    assert_invalid(
        app.get(&format!("{QUEUE}?cursor=bm9wZQ"), Some(&w.root))
            .await,
        &[("cursor", "invalid")],
    )
    .await;

    // Roles.
    for (username, role) in [
        ("zz-finance", "finance"),
        ("zz-lawyer", "lawyer"),
        ("zz-station", "station_manager"),
    ] {
        let (tok, _) = w.official(username, &w.zz, role).await;
        assert_problem(
            app.get(QUEUE, Some(&tok)).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_problem(
            app.get(&format!("{QUEUE}/{}", zz_apps[1]), Some(&tok))
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_problem(
            w.approve(&tok, &zz_apps[1]).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let (auditor, _) = w.official("zz-auditor", &w.zz, "auditor").await;
    assert_eq!(ids(&list(app, Some(&auditor), QUEUE).await), zz_apps);
    expect(
        app.get(&format!("{QUEUE}/{}", zz_apps[1]), Some(&auditor))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_problem(
        w.approve(&auditor, &zz_apps[1]).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        w.reject(
            &auditor,
            &zz_apps[1],
            &json!({ "reason_code": "other", "reason": "审计不应能驳回" }),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Still undecided after the refused attempts.
    let still = list(
        app,
        Some(&zz_reviewer),
        &format!("{QUEUE}?status=submitted"),
    )
    .await;
    assert_eq!(ids(&still), zz_apps[1..]);

    // A worker's token is refused.
    assert_problem(
        app.get(QUEUE, Some(&ly_tok)).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;
    assert_problem(
        app.get(QUEUE, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// decisions

async fn decisions_reject_return_resubmit_withdraw(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let code = w.zz_joint["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8, "{code}");
    assert!(
        code.chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "{code}"
    );

    let mut workers = Vec::new();
    let mut apps = Vec::new();
    for (i, user) in ["lily", "mike", "nina", "oscar", "paul"]
        .into_iter()
        .enumerate()
    {
        let tok = w.worker(user).await;
        let v = w.submit(&tok, &w.form(&person(51 + i as u32))).await;
        apps.push(id(&v));
        workers.push(tok);
    }

    // Approvals number the organisation's members in order.
    let v = expect(w.approve(&reviewer, &apps[0]).await, StatusCode::OK).await;
    assert_eq!(v["member_number"], format!("{code}-000001"));
    assert_eq!(v["application"]["status"], "approved");
    assert!(v["application"]["decided_at"].is_string());
    // With an Idempotency-Key, a retry after a lost answer gets the first answer (the same
    // member number), not 409; the same key on another decision is refused.
    let approve = format!("{QUEUE}/{}/approve", apps[1]);
    let v = expect(
        app.post_keyed(&approve, &json!({}), &reviewer, Some("approve-1"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["member_number"], format!("{code}-000002"));
    let again = app
        .post_keyed(&approve, &json!({}), &reviewer, Some("approve-1"))
        .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect(again, StatusCode::OK).await, v);
    let mine = expect(
        app.get(&format!("{APPS}/{}", apps[0]), Some(&workers[0]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["status"], "approved");
    assert_eq!(mine["status_label"], "已通过");
    assert_eq!(history_actions(&mine), ["submitted", "approved"]);

    // Deciding twice.
    assert_problem_zh(
        w.approve(&reviewer, &apps[0]).await,
        StatusCode::CONFLICT,
        "already_decided",
    )
    .await;
    assert_problem_zh(
        w.reject(
            &reviewer,
            &apps[0],
            &json!({ "reason_code": "other", "reason": "重复操作" }),
        )
        .await,
        StatusCode::CONFLICT,
        "already_decided",
    )
    .await;
    assert_problem_zh(
        w.send_back(&reviewer, &apps[0], "补充材料").await,
        StatusCode::CONFLICT,
        "already_decided",
    )
    .await;

    // Rejection: a known reason code and a text.
    assert_invalid(
        w.reject(
            &reviewer,
            &apps[2],
            &json!({ "reason_code": "too_young", "reason": "不符合条件" }),
        )
        .await,
        &[("reason_code", "not_allowed")],
    )
    .await;
    assert_invalid(
        w.reject(
            &reviewer,
            &apps[2],
            &json!({ "reason_code": "not_eligible", "reason": "   " }),
        )
        .await,
        &[("reason", "invalid")],
    )
    .await;
    let v = expect(
        w.reject(
            &reviewer,
            &apps[2],
            &json!({ "reason_code": "wrong_organisation", "reason": "所在企业已建会，请向企业工会申请" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(v["member_number"].is_null());
    let mine = expect(
        app.get(&format!("{APPS}/{}", apps[2]), Some(&workers[2]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["status"], "rejected");
    assert_eq!(mine["status_label"], "未通过");
    assert_eq!(mine["reason_code"], "wrong_organisation");
    assert_eq!(mine["reason"], "所在企业已建会，请向企业工会申请");
    assert_eq!(history_actions(&mine), ["submitted", "rejected"]);
    assert_eq!(mine["history"][1]["reason_code"], "wrong_organisation");

    // Return for what is missing; the worker edits and submits again.
    let missing = "请补充劳动合同或平台接单记录截图";
    let v = expect(
        w.send_back(&reviewer, &apps[3], missing).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["application"]["status"], "returned");
    let mine = expect(
        app.get(&format!("{APPS}/{}", apps[3]), Some(&workers[3]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["status"], "returned");
    assert_eq!(mine["status_label"], "待补充材料");
    assert_eq!(mine["missing"], missing);
    // Still open: no second application beside it.
    assert_problem(
        w.apply(&workers[3], &w.form(&person(54))).await,
        StatusCode::CONFLICT,
        "application_open",
    )
    .await;
    let corrected = set(
        w.form(&person(54)),
        "employer_name",
        json!("郑州顺捷同城配送有限公司"),
    );
    let v = expect(
        w.resubmit(&workers[3], &apps[3], &corrected).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["id"], apps[3].as_str());
    assert_eq!(v["status"], "submitted");
    assert_eq!(v["employer_name"], "郑州顺捷同城配送有限公司");
    assert_eq!(
        history_actions(&v),
        ["submitted", "returned", "resubmitted"]
    );
    assert_eq!(v["history"][1]["missing"], missing);
    let mine = expect(
        app.get(&format!("{APPS}/{}", apps[3]), Some(&workers[3]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        history_actions(&mine),
        ["submitted", "returned", "resubmitted"]
    );
    assert_eq!(w.my_list(&workers[3]).await.len(), 1);
    // Back in the queue.
    let queued = list(app, Some(&reviewer), &format!("{QUEUE}?status=submitted")).await;
    assert!(ids(&queued).contains(&apps[3]));
    // Editing a submitted application is refused; a bad form is checked as on apply.
    assert_problem_zh(
        w.resubmit(&workers[3], &apps[3], &corrected).await,
        StatusCode::CONFLICT,
        "application_status",
    )
    .await;
    let v = expect(
        w.send_back(&reviewer, &apps[3], "请上传身份证照片").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["application"]["status"], "returned");
    assert_invalid(
        w.resubmit(
            &workers[3],
            &apps[3],
            &set(corrected.clone(), "real_name", json!("王2")),
        )
        .await,
        &[("real_name", "name_has_digits")],
    )
    .await;

    // A rejected application can also be put right and submitted again.
    let v = expect(
        w.resubmit(&workers[2], &apps[2], &w.form(&person(53)))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["status"], "submitted");
    assert_eq!(
        history_actions(&v),
        ["submitted", "rejected", "resubmitted"]
    );

    // Withdrawal while submitted, then never again.
    let v = expect(w.withdraw(&workers[4], &apps[4]).await, StatusCode::OK).await;
    assert_eq!(v["status"], "withdrawn");
    assert_eq!(v["status_label"], "已撤回");
    assert_problem_zh(
        w.withdraw(&workers[4], &apps[4]).await,
        StatusCode::CONFLICT,
        "application_status",
    )
    .await;
    assert_problem(
        w.resubmit(&workers[4], &apps[4], &w.form(&person(55)))
            .await,
        StatusCode::CONFLICT,
        "application_status",
    )
    .await;
    assert_problem(
        w.approve(&reviewer, &apps[4]).await,
        StatusCode::CONFLICT,
        "already_decided",
    )
    .await;
    // A withdrawn application no longer blocks the person.
    let again = w.submit(&workers[4], &w.form(&person(55))).await;
    assert_eq!(again["status"], "submitted");
    let mine = w.my_list(&workers[4]).await;
    assert_eq!(ids(&mine), [id(&again), apps[4].clone()], "newest first");
    assert_eq!(mine[1]["status"], "withdrawn");
    // An approved one cannot be withdrawn.
    assert_problem(
        w.withdraw(&workers[0], &apps[0]).await,
        StatusCode::CONFLICT,
        "application_status",
    )
    .await;

    // Someone else's application: as if it did not exist.
    let path = format!("{APPS}/{}", apps[3]);
    assert_problem(
        app.get(&path, Some(&workers[0])).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        w.resubmit(&workers[0], &apps[3], &w.form(&person(54)))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        w.withdraw(&workers[0], &apps[3]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(
            &format!("{APPS}/{}", uuid::Uuid::now_v7()),
            Some(&workers[0]),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&format!("{APPS}/not-a-uuid"), Some(&workers[0]))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The other worker's application is untouched.
    let theirs = expect(app.get(&path, Some(&workers[3])).await, StatusCode::OK).await;
    assert_eq!(theirs["status"], "returned");
}

async fn racing_approvals_make_one_member(shape: Shape) {
    let w = World::new(shape).await;
    let (reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let (admin, _) = w.official("zz-admin", &w.zz, "org_admin").await;
    let code = w.zz_joint["code"].as_str().unwrap().to_owned();

    for round in 0..3u32 {
        let tok = w.worker(&format!("racer{round}")).await;
        let app_id = id(&w.submit(&tok, &w.form(&person(61 + round))).await);
        let (a, b) = tokio::join!(w.approve(&reviewer, &app_id), w.approve(&admin, &app_id));
        let (sa, sb) = (a.status(), b.status());
        let bodies = [a.text().await.unwrap(), b.text().await.unwrap()];
        let mut statuses = [sa, sb];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{bodies:?}"
        );
        let winner: Value = serde_json::from_str(if sa == StatusCode::OK {
            bodies[0].as_str()
        } else {
            bodies[1].as_str()
        })
        .unwrap();
        let loser: Value = serde_json::from_str(if sa == StatusCode::OK {
            bodies[1].as_str()
        } else {
            bodies[0].as_str()
        })
        .unwrap();
        assert_eq!(loser["code"], "already_decided", "{loser}");
        assert_eq!(
            winner["member_number"],
            format!("{code}-{:06}", round + 1),
            "{winner}"
        );
        let card = expect(w.app.get(CARD, Some(&tok)).await, StatusCode::OK).await;
        assert_eq!(card["member_number"], winner["member_number"]);
    }

    let all = list(&w.app, Some(&w.root), MEMBERS).await;
    assert_eq!(all.len(), 3, "one member per application: {all:?}");
    let numbers: HashSet<&str> = all
        .iter()
        .map(|m| m["member_number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), 3);
    let approvals: i64 = db(&w.app, |c| {
        membership_application_events::table
            .filter(membership_application_events::action.eq("approved"))
            .count()
            .get_result(c)
            .unwrap()
    })
    .await;
    assert_eq!(approvals, 3, "one approval in each history");
}

async fn batch_approval_reports_each_outcome(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let code = w.zz_joint["code"].as_str().unwrap().to_owned();
    let mut workers = Vec::new();
    let mut apps = Vec::new();
    for (i, user) in ["quinn", "rosa", "sam"].into_iter().enumerate() {
        let tok = w.worker(user).await;
        apps.push(id(&w.submit(&tok, &w.form(&person(71 + i as u32))).await));
        workers.push(tok);
    }
    let ly_tok = w.worker("tina").await;
    let ly_app = id(&w
        .submit(
            &ly_tok,
            &set(w.form(&person(79)), "org_id", w.ly_joint["id"].clone()),
        )
        .await);

    let unknown = uuid::Uuid::now_v7().to_string();
    let v = expect(
        app.post(
            BATCH,
            &json!({ "ids": [apps[0], apps[1], unknown] }),
            Some(&reviewer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["approved"], 2, "{v}");
    let results = v["results"].as_array().unwrap();
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["approved", "approved", "not_found"]);
    assert_eq!(results[0]["id"], apps[0].as_str());
    assert_eq!(results[2]["id"], unknown.as_str());
    assert_eq!(results[0]["member_number"], format!("{code}-000001"));
    assert_eq!(results[1]["member_number"], format!("{code}-000002"));
    assert!(results[2]["member_number"].is_null());
    for tok in &workers[..2] {
        let card = expect(app.get(CARD, Some(tok)).await, StatusCode::OK).await;
        assert_eq!(card["status"], "active");
    }

    // Already decided, out of scope, and fine, in one batch: only the last is approved.
    let v = expect(
        app.post(
            BATCH,
            &json!({ "ids": [apps[0], ly_app, apps[2]] }),
            Some(&reviewer),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["approved"], 1, "{v}");
    let outcomes: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["already_decided", "not_found", "approved"]);
    let ly_view = expect(
        app.get(&format!("{APPS}/{ly_app}"), Some(&ly_tok)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ly_view["status"], "submitted", "out of scope: untouched");

    // Size limits.
    let too_many: Vec<String> = (0..101).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    assert_invalid(
        app.post(BATCH, &json!({ "ids": too_many }), Some(&reviewer))
            .await,
        &[("ids", "out_of_range")],
    )
    .await;
    assert_invalid(
        app.post(BATCH, &json!({ "ids": [] }), Some(&reviewer))
            .await,
        &[("ids", "out_of_range")],
    )
    .await;
    // An id that is no application id is refused before anything is done; one named twice
    // is approved once and answered once.
    assert_invalid(
        app.post(BATCH, &json!({ "ids": [ly_app, "nope"] }), Some(&w.root))
            .await,
        &[("ids.1", "invalid")],
    )
    .await;
    let v = expect(
        app.post(BATCH, &json!({ "ids": [ly_app, ly_app] }), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["approved"], 1, "{v}");
    assert_eq!(v["results"].as_array().unwrap().len(), 1, "{v}");
    // A hundred is fine (all unknown here).
    let hundred: Vec<String> = (0..100).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let v = expect(
        app.post(BATCH, &json!({ "ids": hundred }), Some(&reviewer))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["approved"], 0);
    assert_eq!(v["results"].as_array().unwrap().len(), 100);

    // Roles that may not review.
    let (auditor, _) = w.official("zz-auditor", &w.zz, "auditor").await;
    assert_problem(
        app.post(BATCH, &json!({ "ids": [ly_app] }), Some(&auditor))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // quinn, rosa, sam and tina (approved by the root, named twice).
    assert_eq!(list(app, Some(&w.root), MEMBERS).await.len(), 4);
}

// ---------------------------------------------------------------------------------------------
// member card

async fn member_card_and_its_check(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let tok = w.worker("uma").await;
    let number = person(81);

    assert_problem_zh(
        app.get(CARD, Some(&tok)).await,
        StatusCode::NOT_FOUND,
        "not_a_member",
    )
    .await;
    let app_id = id(&w
        .submit(&tok, &w.form_of("欧阳娜娜", &number, "13912340081"))
        .await);
    assert_problem(
        app.get(CARD, Some(&tok)).await,
        StatusCode::NOT_FOUND,
        "not_a_member",
    )
    .await;
    let member_number = w.approved(&app_id).await;

    let card = expect(app.get(CARD, Some(&tok)).await, StatusCode::OK).await;
    assert_eq!(card["member_number"], member_number.as_str());
    assert_eq!(card["name"], "欧阳娜娜");
    assert_eq!(card["id_number"], masked(&number));
    assert_eq!(card["org"]["id"], w.zz_joint["id"]);
    assert_eq!(card["org"]["name"], "郑州市快递行业联合工会");
    assert_eq!(card["joined_on"], china_today());
    assert_eq!(card["status"], "active");
    assert_eq!(card["status_label"], "正常");
    assert!(card["qr_expires_at"].is_string());
    let qr = card["qr_token"].as_str().unwrap().to_owned();
    assert!(!qr.is_empty());
    assert!(!qr.contains(&number));
    assert_view("member_card", &card);

    // Any official may check it, even service-point staff of an unrelated organisation.
    let (station, _) = w.official("ly-station", &w.ly, "station_manager").await;
    let resp = app
        .post(VERIFY, &json!({ "token": qr }), Some(&station))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = resp.text().await.unwrap();
    assert!(!raw.contains(&number), "full ID number in the check: {raw}");
    assert!(
        !raw.contains(&masked(&number)),
        "masked ID number in the check: {raw}"
    );
    let check: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(check["member_number"], member_number.as_str());
    assert_eq!(check["name"], "欧阳娜娜");
    assert_eq!(check["org"]["id"], w.zz_joint["id"]);
    assert_eq!(check["org"]["name"], "郑州市快递行业联合工会");
    assert_eq!(check["status"], "active");
    assert_eq!(check["valid"], true);
    assert_view("member_card_check", &check);
    assert!(check.get("id_number").is_none());

    // A fresh card works as well.
    let card2 = expect(app.get(CARD, Some(&tok)).await, StatusCode::OK).await;
    let check2 = expect(
        app.post(
            VERIFY,
            &json!({ "token": card2["qr_token"] }),
            Some(&w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(check2["valid"], true);

    // Workers cannot check cards; officials have no card.
    assert_problem(
        app.post(VERIFY, &json!({ "token": qr }), Some(&tok)).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;
    assert_problem(
        app.post(VERIFY, &json!({ "token": qr }), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_problem(
        app.get(CARD, Some(&station)).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;

    // Tampered, or not a card token at all.
    let mut chars: Vec<char> = qr.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let other_worker = w.worker("victor").await;
    for bad in [
        tampered.as_str(),
        tok.as_str(),
        other_worker.as_str(),
        station.as_str(),
        "not-a-token",
    ] {
        let body = assert_problem_zh(
            app.post(VERIFY, &json!({ "token": bad }), Some(&station))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "card_token_invalid",
        )
        .await;
        assert_eq!(
            field_errors(&body),
            HashSet::from([("token".to_owned(), "invalid".to_owned())])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// personal data

async fn id_numbers_are_sealed_at_rest_and_reveals_are_audited(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let number = person(91);
    let tok = w.worker("wendy").await;
    let app_id = id(&w
        .submit(&tok, &w.form_of("李晓雯", &number, "13912340091"))
        .await);
    // A second application of someone else, left undecided, and one returned.
    let other = person(92);
    let tok2 = w.worker("xander").await;
    let other_app = id(&w.submit(&tok2, &w.form(&other)).await);
    expect(
        w.send_back(&w.root, &other_app, "请补充材料").await,
        StatusCode::OK,
    )
    .await;
    w.approved(&app_id).await;

    // Nowhere in the stored rows is an ID number in clear.
    type AppText = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    type MemberText = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let (app_rows, member_rows, audit, events) = db(app, |c| {
        let apps: Vec<AppText> = membership_applications::table
            .select((
                membership_applications::real_name,
                membership_applications::id_number_kid,
                membership_applications::id_number_sealed,
                membership_applications::id_number_index,
                membership_applications::id_number_masked,
                membership_applications::phone,
                membership_applications::employer_name,
                membership_applications::credit_code,
                membership_applications::industry,
                membership_applications::city,
                membership_applications::reason,
                membership_applications::missing,
            ))
            .load(c)
            .unwrap();
        let members: Vec<MemberText> = members::table
            .select((
                members::member_number,
                members::real_name,
                members::id_number_kid,
                members::id_number_sealed,
                members::id_number_index,
                members::id_number_masked,
                members::phone,
            ))
            .load(c)
            .unwrap();
        let audit: Vec<String> = audit_log::table.select(audit_log::detail).load(c).unwrap();
        let mut events: Vec<String> = outbox::table.select(outbox::payload).load(c).unwrap();
        events.extend(audit.iter().cloned());
        (apps, members, audit, events)
    })
    .await;
    assert_eq!(app_rows.len(), 2);
    assert_eq!(member_rows.len(), 1);
    let dump = format!("{app_rows:?}\n{member_rows:?}\n{events:?}");
    for secret in [&number, &other] {
        assert!(
            !dump.contains(secret.as_str()),
            "{secret} stored in clear: {dump}"
        );
        assert!(
            !dump.contains(&secret[..17]),
            "the first 17 characters of {secret} stored in clear: {dump}"
        );
    }
    // What is stored is the masked form, a sealed value and an index.
    let stored = &member_rows[0];
    assert_eq!(stored.5.as_deref(), Some(masked(&number).as_str()));
    assert!(stored.3.as_deref().is_some_and(|s| !s.is_empty()));
    assert!(stored.4.as_deref().is_some_and(|s| !s.is_empty()));
    assert!(!audit.is_empty());

    // The members list shows masked values only.
    let (zz_admin, zz_admin_id) = w.official("zz-admin", &w.zz, "org_admin").await;
    let resp = app.get(MEMBERS, Some(&zz_admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = resp.text().await.unwrap();
    assert!(!raw.contains(&number), "{raw}");
    assert!(!raw.contains("13912340091"), "{raw}");
    let page: Value = serde_json::from_str(&raw).unwrap();
    let member = &page["items"][0];
    assert_eq!(member["id_number"], masked(&number));
    assert_eq!(member["phone"], "139****0091");
    assert_eq!(member["name"], "李晓雯");
    let member_id = id(member);
    let reveal = format!("{MEMBERS}/{member_id}/reveal-id");

    let reveals = |app: &TestApp| {
        let url = app.database_url();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut c = yiwang_infra::db::connect_once(&url).unwrap();
                audit_log::table
                    .filter(audit_log::action.eq("member.reveal_id_number"))
                    .select((
                        audit_log::actor_id,
                        audit_log::record_type,
                        audit_log::record_id,
                        audit_log::detail,
                    ))
                    .load::<(Option<String>, String, String, String)>(&mut c)
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };

    // Roles that may not see the whole number, and officials of another subtree.
    let (finance, _) = w.official("zz-finance", &w.zz, "finance").await;
    let (auditor, _) = w.official("zz-auditor", &w.zz, "auditor").await;
    let (ly_admin, _) = w.official("ly-admin", &w.ly, "org_admin").await;
    for tok in [&finance, &auditor] {
        assert_problem(
            app.request(Method::POST, &reveal, None, Some(tok)).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    assert_problem(
        app.request(Method::POST, &reveal, None, Some(&ly_admin))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.request(Method::POST, &reveal, None, Some(&tok)).await,
        StatusCode::FORBIDDEN,
        "wrong_account_kind",
    )
    .await;
    assert_problem(
        app.request(
            Method::POST,
            &format!("{MEMBERS}/{}/reveal-id", uuid::Uuid::now_v7()),
            None,
            Some(&zz_admin),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        reveals(app).await.is_empty(),
        "refused reveals are not logged as reads"
    );

    // An org_admin in scope sees it, never kept by a cache; the read is in the audit log.
    let resp = app
        .request(Method::POST, &reveal, None, Some(&zz_admin))
        .await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v = expect(resp, StatusCode::OK).await;
    assert_eq!(v["id_number"], number.as_str());
    let rows = reveals(app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (actor, record_type, record_id, detail) = &rows[0];
    assert_eq!(actor.as_deref(), Some(zz_admin_id.as_str()));
    assert_eq!(record_type, "member");
    assert_eq!(record_id, &member_id);
    assert!(!detail.contains(&number), "{detail}");
    // Every read is logged.
    expect(
        app.request(Method::POST, &reveal, None, Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(reveals(app).await.len(), 2);
}

async fn member_search_filters(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let mut numbers = Vec::new();
    for (i, (user, name, org)) in [
        ("yara", "王一", &w.zz_joint),
        ("zack", "李二", &w.zz_joint),
        ("abby", "赵四", &w.ly_joint),
    ]
    .into_iter()
    .enumerate()
    {
        let tok = w.worker(user).await;
        let phone = format!("1381234000{i}");
        let form = set(
            w.form_of(name, &person(101 + i as u32), &phone),
            "org_id",
            org["id"].clone(),
        );
        let app_id = id(&w.submit(&tok, &form).await);
        numbers.push(w.approved(&app_id).await);
    }
    // One left undecided is not a member.
    let tok = w.worker("bert").await;
    w.submit(&tok, &w.form_of("钱五", &person(109), "13812349999"))
        .await;

    let all = list(app, Some(&w.root), MEMBERS).await;
    let mut sorted = numbers.clone();
    sorted.sort();
    let listed: Vec<&str> = all
        .iter()
        .map(|m| m["member_number"].as_str().unwrap())
        .collect();
    assert_eq!(listed, sorted, "by member number");
    assert_view("members", &json!(sorted_by(&all, "name")));
    for m in &all {
        assert_eq!(m["status"], "active");
        assert!(m["ended_at"].is_null());
        assert_eq!(m["employment_form"], "courier");
        assert_eq!(m["joined_on"], china_today());
        assert!(m["phone"].as_str().unwrap().contains("****"));
        assert!(m["id_number"].as_str().unwrap().contains("**********"));
    }

    let names = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let active = list(
        app,
        Some(&w.root),
        &format!("{MEMBERS}?q=王一&status=active"),
    )
    .await;
    assert_eq!(names(&active), ["王一"]);
    let by_number = list(app, Some(&w.root), &format!("{MEMBERS}?q={}", numbers[1])).await;
    assert_eq!(names(&by_number), ["李二"]);
    let by_phone = list(app, Some(&w.root), &format!("{MEMBERS}?q=13812340002")).await;
    assert_eq!(names(&by_phone), ["赵四"]);
    // LIKE wildcards are matched literally.
    for wildcard in ["%25", "_", "%25%25"] {
        let none = list(app, Some(&w.root), &format!("{MEMBERS}?q={wildcard}")).await;
        assert!(none.is_empty(), "q={wildcard}: {none:?}");
        let none = list(app, Some(&w.root), &format!("{QUEUE}?q={wildcard}")).await;
        assert!(none.is_empty(), "q={wildcard}: {none:?}");
    }
    let nobody = list(app, Some(&w.root), &format!("{MEMBERS}?q=钱五")).await;
    assert!(nobody.is_empty(), "an applicant is not a member");
    let active = list(app, Some(&w.root), &format!("{MEMBERS}?status=active")).await;
    assert_eq!(active.len(), 3);
    let ended = list(app, Some(&w.root), &format!("{MEMBERS}?status=ended")).await;
    assert!(ended.is_empty());
    assert_invalid(
        app.get(&format!("{MEMBERS}?status=left"), Some(&w.root))
            .await,
        &[("status", "not_allowed")],
    )
    .await;
    assert_invalid(
        app.get(&format!("{MEMBERS}?q={}", "王".repeat(51)), Some(&w.root))
            .await,
        &[("q", "too_long")],
    )
    .await;
    let by_org = list(
        app,
        Some(&w.root),
        &format!("{MEMBERS}?org_id={}", id(&w.ly_joint)),
    )
    .await;
    assert_eq!(names(&by_org), ["赵四"]);

    // Scope: a city sees its own members only.
    let (zz_reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let mut zz = names(&list(app, Some(&zz_reviewer), MEMBERS).await);
    zz.sort();
    let mut want = vec!["李二".to_owned(), "王一".to_owned()];
    want.sort();
    assert_eq!(zz, want);
    let outside = list(app, Some(&zz_reviewer), &format!("{MEMBERS}?q=赵四")).await;
    assert!(outside.is_empty());

    // Paging by member number.
    let paged = all_pages(app, Some(&w.root), MEMBERS, 1).await;
    assert_eq!(ids(&paged), ids(&all));

    // Roles.
    let (lawyer, _) = w.official("zz-lawyer", &w.zz, "lawyer").await;
    assert_problem(
        app.get(MEMBERS, Some(&lawyer)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let (auditor, _) = w.official("zz-auditor", &w.zz, "auditor").await;
    assert_eq!(list(app, Some(&auditor), MEMBERS).await.len(), 2);
}

/// A member leaves: the card is gone and leaving again is 404. Erasure with a zero-day
/// retention then forgets the names and ID numbers of the ended membership and of a withdrawn
/// application, but keeps the records; an open application is left alone.
async fn leaving_and_erasure_after_retention(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (tok, other) = (w.worker("vera").await, w.worker("walt").await);
    let (number, other_number) = (person(91), person(92));
    let app_id = id(&w
        .submit(&tok, &w.form_of("林小雨", &number, "13912340091"))
        .await);
    let member_number = w.approved(&app_id).await;

    assert_problem(
        app.post(LEAVE, &json!({}), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let ended = expect(
        app.post(LEAVE, &json!({}), Some(&tok)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ended["member_number"], member_number.as_str());
    assert_eq!(ended["status"], "ended");
    assert!(ended["ended_at"].is_string());
    assert_problem_zh(
        app.get(CARD, Some(&tok)).await,
        StatusCode::NOT_FOUND,
        "not_a_member",
    )
    .await;
    assert_problem(
        app.post(LEAVE, &json!({}), Some(&tok)).await,
        StatusCode::NOT_FOUND,
        "not_a_member",
    )
    .await;
    let listed = list(app, Some(&w.root), &format!("{MEMBERS}?status=ended")).await;
    assert_eq!(listed.len(), 1, "{listed:?}");

    // Another person withdraws; a third application stays open.
    let withdrawn = id(&w
        .submit(&other, &w.form_of("周大海", &other_number, "13912340092"))
        .await);
    expect(
        app.post(
            &format!("{APPS}/{withdrawn}/withdraw"),
            &json!({}),
            Some(&other),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let open_tok = w.worker("xena").await;
    let open_number = person(93);
    w.submit(&open_tok, &w.form_of("吴晓", &open_number, "13912340093"))
        .await;

    let url = app.database_url();
    let store = tokio::task::spawn_blocking(move || yiwang_infra::db::Database::connect(&url, 2))
        .await
        .unwrap()
        .unwrap();
    let erased = yiwang_api::retention::erase_expired(&store, 0)
        .await
        .unwrap();
    assert_eq!(
        erased, 3,
        "the ended member, its application, the withdrawn application"
    );

    let rows: Vec<(String, Option<String>, Option<String>, bool)> = db(app, |c| {
        membership_applications::table
            .select((
                membership_applications::status,
                membership_applications::real_name,
                membership_applications::id_number_masked,
                membership_applications::erased_at.is_not_null(),
            ))
            .order(membership_applications::created_at.asc())
            .load(c)
            .unwrap()
    })
    .await;
    assert_eq!(
        rows,
        vec![
            ("approved".into(), None, None, true),
            ("withdrawn".into(), None, None, true),
            (
                "submitted".into(),
                Some("吴晓".into()),
                Some(masked(&open_number)),
                false
            ),
        ]
    );
    let listed = list(app, Some(&w.root), &format!("{MEMBERS}?status=ended")).await;
    assert_eq!(listed[0]["member_number"], member_number.as_str());
    assert!(
        listed[0]["name"].is_null() && listed[0]["id_number"].is_null(),
        "{listed:?}"
    );
    let audited: i64 = db(app, |c| {
        audit_log::table
            .filter(audit_log::action.eq("personal_data.erase_expired"))
            .count()
            .get_result(c)
            .unwrap()
    })
    .await;
    assert_eq!(audited, 1);
}

/// `GET /me` tells the worker where they stand with the union, and follows every change: it is
/// read (and so cached) before each step, and must show the step right after it.
async fn me_follows_the_workers_standing(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let (reviewer, _) = w.official("zz-standing-reviewer", &w.zz, "reviewer").await;
    let tok = w.worker("xena").await;
    let standing = || async {
        expect(app.get("/api/v1/me", Some(&tok)).await, StatusCode::OK).await["membership"].clone()
    };
    let none = standing().await;
    assert_eq!(
        none,
        json!({ "status": "none", "status_label": "未入会", "member_number": null, "org": null,
                "application_id": null })
    );

    let form = w.form_of("夏雨", &person(95), "13912340095");
    let app_id = id(&w.submit(&tok, &form).await);
    let applied = standing().await;
    assert_eq!(
        (
            &applied["status"],
            &applied["status_label"],
            &applied["application_id"]
        ),
        (&json!("applied"), &json!("审核中"), &json!(app_id))
    );
    assert_eq!(applied["org"]["name"], w.zz_joint["name"]);

    expect(
        w.send_back(&reviewer, &app_id, "请补充工作单位").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(standing().await["status"], "returned");
    expect(w.resubmit(&tok, &app_id, &form).await, StatusCode::OK).await;
    assert_eq!(standing().await["status"], "applied");

    let decided = expect(w.approve(&reviewer, &app_id).await, StatusCode::OK).await;
    let member = standing().await;
    assert_eq!(
        (
            &member["status"],
            &member["status_label"],
            &member["member_number"]
        ),
        (&json!("member"), &json!("会员"), &decided["member_number"])
    );
    assert_eq!(member["application_id"], Value::Null);

    expect(
        app.post(LEAVE, &json!({}), Some(&tok)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(standing().await, none);
}

/// Tapped twice on a weak network with one `Idempotency-Key`: one application, both taps
/// answer it; the same key with another form is refused; without a key, the second filing is
/// the open-application refusal.
async fn a_retried_application_files_once(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let tok = w.worker("yuri").await;
    let form = w.form_of("于立", &person(96), "13912340096");
    let send = |key: Option<&'static str>, body: Value| {
        let tok = tok.clone();
        async move { app.post_keyed(APPS, &body, &tok, key).await }
    };
    let first = send(Some("join-1"), form.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let retry = send(Some("join-1"), form.clone()).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(retry["id_number"], first["id_number"]);
    let other = set(form.clone(), "employer_name", json!("另一家快递"));
    assert_invalid(
        send(Some("join-1"), other).await,
        &[("Idempotency-Key", "idempotency_key_reused")],
    )
    .await;
    let resp = send(None, form).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let mine = expect(app.get(APPS, Some(&tok)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
}
