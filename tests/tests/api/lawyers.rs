//! The lawyer roster (云律团) over HTTP: the twelve categories a worker picks from and a
//! super_admin edits; an administrator writes a lawyer official's profile; the lawyer goes on
//! duty; a worker browses lawyers by specialty, on duty first. Roles, scope and bad input are
//! refused with nothing changed.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use yiwang_tests::views::assert_view;
use yiwang_tests::{both_shapes, Shape};

use yiwang_tests::world::{assert_invalid, assert_problem_zh, expect, World};

both_shapes!(
    categories_are_data_a_super_admin_edits,
    lawyers_are_written_put_on_duty_and_browsed_by_specialty,
);

const CATEGORIES: &str = "/api/v1/consultation-categories";
const ADMIN_CATEGORIES: &str = "/api/v1/admin/consultation-categories";
const LAWYERS: &str = "/api/v1/lawyers";
const ADMIN_LAWYERS: &str = "/api/v1/admin/lawyers";
const DUTY: &str = "/api/v1/admin/lawyers/me/duty";

fn codes(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect()
}

fn profile(name: &str, licence: &str, specialties: &[&str]) -> Value {
    json!({ "name": name, "law_firm": "山东垦利律师事务所", "licence_number": licence,
            "specialties": specialties, "years_in_practice": 12,
            "bio": "专注劳动争议与欠薪追讨十余年" })
}

async fn categories_are_data_a_super_admin_edits(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("cat-worker").await;
    let (org_admin, _) = w.official("zz-cat-admin", &w.zz, "org_admin").await;

    // The twelve modules of 云律团, in order.
    let list = expect(app.get(CATEGORIES, Some(&worker)).await, StatusCode::OK).await;
    let all = codes(&list);
    assert_eq!(all.len(), 12, "{list}");
    assert_eq!(all[..2], ["labour_dispute", "wage_arrears"]);
    assert_eq!(list["items"][1]["name"], "欠薪");
    assert_eq!(list["items"][1]["watched"], true);
    assert_eq!(list["items"][1]["clock"], "all_hours");
    assert_view("consultation_categories", &list);

    // A super_admin changes one and retires another; workers no longer see the retired one.
    let path = format!("{ADMIN_CATEGORIES}/wage_arrears");
    let form = json!({ "name": "欠薪", "position": 2, "accept_minutes": 10,
                       "first_response_minutes": 60, "resolution_minutes": 1440,
                       "clock": "business_hours", "watched": true });
    let saved = expect(
        app.request(Method::PUT, &path, Some(&form), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(saved["clock"], "business_hours");
    assert_eq!(saved["first_response_minutes"], 60);
    let retired = json!({ "name": "刑事", "position": 11, "active": false, "accept_minutes": 15,
                          "first_response_minutes": 120, "resolution_minutes": 4320 });
    expect(
        app.request(
            Method::PUT,
            &format!("{ADMIN_CATEGORIES}/criminal"),
            Some(&retired),
            Some(&w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let new = json!({ "name": "平台用工", "position": 13, "accept_minutes": 15,
                      "first_response_minutes": 120, "resolution_minutes": 4320 });
    expect(
        app.request(
            Method::PUT,
            &format!("{ADMIN_CATEGORIES}/platform_work"),
            Some(&new),
            Some(&w.root),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let list = expect(app.get(CATEGORIES, Some(&worker)).await, StatusCode::OK).await;
    let shown = codes(&list);
    assert_eq!(shown.len(), 12);
    assert!(!shown.contains(&"criminal".to_owned()));
    assert_eq!(shown.last().unwrap(), "platform_work");
    let everything = expect(
        app.get(ADMIN_CATEGORIES, Some(&org_admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(codes(&everything).len(), 13);

    // An org_admin may read but not edit the installation's categories.
    let resp = app
        .request(Method::PUT, &path, Some(&form), Some(&org_admin))
        .await;
    assert_problem_zh(resp, StatusCode::FORBIDDEN, "forbidden").await;
    // Bad settings: every field named, nothing changed.
    let bad = json!({ "name": "", "position": -1, "accept_minutes": 0,
                      "first_response_minutes": 120, "resolution_minutes": 60, "clock": "office" });
    let resp = app
        .request(Method::PUT, &path, Some(&bad), Some(&w.root))
        .await;
    assert_invalid(
        resp,
        &[
            ("name", "required"),
            ("position", "out_of_range"),
            ("accept_minutes", "out_of_range"),
            ("clock", "not_allowed"),
            ("resolution_minutes", "out_of_order"),
        ],
    )
    .await;
    let resp = app
        .request(
            Method::PUT,
            &format!("{ADMIN_CATEGORIES}/Bad-Code"),
            Some(&form),
            Some(&w.root),
        )
        .await;
    assert_invalid(resp, &[("code", "invalid")]).await;
    let list = expect(
        app.get(ADMIN_CATEGORIES, Some(&w.root)).await,
        StatusCode::OK,
    )
    .await;
    let wage = &list["items"][1];
    assert_eq!(
        (
            wage["code"].as_str(),
            wage["first_response_minutes"].as_i64()
        ),
        (Some("wage_arrears"), Some(60))
    );
}

async fn lawyers_are_written_put_on_duty_and_browsed_by_specialty(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("law-worker").await;
    let (zz_admin, _) = w.official("zz-law-admin", &w.zz, "org_admin").await;
    let (zhang_tok, zhang) = w.official("zz-lawyer-zhang", &w.zz, "lawyer").await;
    let (li_tok, li) = w.official("zz-lawyer-li", &w.zz, "lawyer").await;
    let (_, ly_lawyer) = w.official("ly-lawyer", &w.ly, "lawyer").await;
    let (_, reviewer) = w.official("zz-law-reviewer", &w.zz, "reviewer").await;
    let put = |path: String, body: Value, tok: &str| {
        let tok = tok.to_owned();
        async move {
            app.request(Method::PUT, &path, Some(&body), Some(&tok))
                .await
        }
    };

    // Before a profile, a lawyer cannot go on duty.
    let resp = put(DUTY.into(), json!({ "on_duty": true }), &zhang_tok).await;
    assert_problem_zh(resp, StatusCode::NOT_FOUND, "no_profile").await;

    let zhang_profile = profile(
        "张明",
        "13705 2010 1012 3456",
        &["wage_arrears", "labour_dispute"],
    );
    let saved = expect(
        put(
            format!("{ADMIN_LAWYERS}/{zhang}"),
            zhang_profile.clone(),
            &zz_admin,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(saved["licence_number"], "13705201010123456");
    assert_eq!(saved["on_duty"], false);
    assert_eq!(saved["rating_average"], Value::Null);
    assert_eq!(
        saved["specialties"],
        json!([{ "code": "labour_dispute", "name": "劳动争议" }, { "code": "wage_arrears", "name": "欠薪" }])
    );
    expect(
        put(
            format!("{ADMIN_LAWYERS}/{li}"),
            profile(
                "李静",
                "13705201110654321",
                &["marriage_family", "wage_arrears"],
            ),
            &zz_admin,
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // Refusals, nothing written: a licence already listed, a non-lawyer, outside the scope,
    // bad fields, a reviewer writing profiles.
    let resp = put(
        format!("{ADMIN_LAWYERS}/{li}"),
        profile("李静", "13705201010123456", &["debt"]),
        &zz_admin,
    )
    .await;
    assert_problem_zh(resp, StatusCode::CONFLICT, "licence_taken").await;
    let resp = put(
        format!("{ADMIN_LAWYERS}/{reviewer}"),
        zhang_profile.clone(),
        &zz_admin,
    )
    .await;
    assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "not_a_lawyer").await;
    let resp = put(
        format!("{ADMIN_LAWYERS}/{ly_lawyer}"),
        zhang_profile.clone(),
        &zz_admin,
    )
    .await;
    assert_problem_zh(resp, StatusCode::NOT_FOUND, "not_found").await;
    let bad = json!({ "name": "王", "law_firm": "所", "licence_number": "123",
                      "specialties": ["wage_arrears", "tax"], "years_in_practice": 99 });
    let resp = put(format!("{ADMIN_LAWYERS}/{li}"), bad, &zz_admin).await;
    assert_invalid(
        resp,
        &[
            ("law_firm", "too_short"),
            ("licence_number", "invalid"),
            ("specialties.1", "not_allowed"),
            ("years_in_practice", "out_of_range"),
        ],
    )
    .await;
    let resp = put(
        format!("{ADMIN_LAWYERS}/{li}"),
        zhang_profile.clone(),
        &li_tok,
    )
    .await;
    assert_problem_zh(resp, StatusCode::FORBIDDEN, "forbidden").await;

    // Li goes on duty and comes first; the wage-arrears list has both, marriage only Li.
    let on = expect(
        put(DUTY.into(), json!({ "on_duty": true }), &li_tok).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(on["on_duty"], true);
    let wage = expect(
        app.get(&format!("{LAWYERS}?category=wage_arrears"), Some(&worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&wage), ["李静", "张明"], "{wage}");
    assert_view("lawyers_for_wage_arrears", &wage);
    let marriage = expect(
        app.get(
            &format!("{LAWYERS}?category=marriage_family"),
            Some(&worker),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&marriage), ["李静"]);
    let one = expect(
        app.get(&format!("{LAWYERS}/{zhang}"), Some(&worker)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["law_firm"], "山东垦利律师事务所");
    let resp = app
        .get(&format!("{LAWYERS}?category=tax"), Some(&worker))
        .await;
    assert_invalid(resp, &[("category", "not_allowed")]).await;
    // Paging one at a time walks both, on duty first.
    let first = expect(
        app.get(&format!("{LAWYERS}?limit=1"), Some(&worker)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&first), ["李静"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = expect(
        app.get(&format!("{LAWYERS}?limit=1&cursor={cursor}"), Some(&worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&second), ["张明"]);

    // The officials' list is the caller's subtree; an official's token cannot browse as a
    // worker, nor a worker's as an official.
    let (ly_admin, _) = w.official("ly-law-admin", &w.ly, "org_admin").await;
    let theirs = expect(
        app.get(ADMIN_LAWYERS, Some(&ly_admin)).await,
        StatusCode::OK,
    )
    .await;
    assert!(names(&theirs).is_empty(), "{theirs}");
    let ours = expect(
        app.get(ADMIN_LAWYERS, Some(&zz_admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&ours).len(), 2);
    assert_view("admin_lawyers", &ours);
    let resp = app.get(LAWYERS, Some(&zz_admin)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app.get(ADMIN_LAWYERS, Some(&worker)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}
