//! Admin API: the organisation tree, data scope, roles, officials (create, list, read,
//! disable), and the audit log and outbox rows every admin action leaves behind.

use std::collections::{HashMap, HashSet};
use yiwang_tests::views::{assert_view, sorted_by};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use yiwang_infra::db::schema::{audit_log, outbox};
use yiwang_infra::db::DbConnection;
use yiwang_tests::world::expect;
use yiwang_tests::{assert_problem, both_shapes, token, Shape, TestApp, PASSWORD};

both_shapes!(
    org_tree_create_list_get_update,
    org_list_pages_with_a_cursor,
    data_scope_hides_what_lies_outside,
    roles_decide_what_an_official_may_do,
    official_creation_is_checked,
    officials_are_listed_by_role_in_scope,
    disabling_ends_every_session_at_once,
    disabling_respects_self_rank_and_scope,
    admin_actions_write_one_audit_row_and_one_event,
    refused_requests_write_no_audit_row_and_no_event,
    weak_passwords_are_refused_and_passwords_change,
);

const ORGS: &str = "/api/v1/admin/orgs";
const OFFICIALS: &str = "/api/v1/admin/officials";

/// The `X-Request-Id` header of an answer.
fn request_id(resp: &Response) -> String {
    resp.headers()["x-request-id"].to_str().unwrap().to_owned()
}

async fn post_org(app: &TestApp, tok: &str, parent: &str, name: &str, kind: &str) -> Response {
    app.post(
        ORGS,
        &json!({ "parent_id": parent, "name": name, "kind": kind }),
        Some(tok),
    )
    .await
}

async fn new_org(app: &TestApp, tok: &str, parent: &str, name: &str, kind: &str) -> Value {
    expect(
        post_org(app, tok, parent, name, kind).await,
        StatusCode::CREATED,
    )
    .await
}

async fn post_official(
    app: &TestApp,
    tok: &str,
    username: &str,
    password: &str,
    org: &str,
    role: &str,
) -> Response {
    app.post(
        OFFICIALS,
        &json!({
            "username": username, "password": password, "display_name": "张三",
            "org_id": org, "role": role,
        }),
        Some(tok),
    )
    .await
}

async fn patch(app: &TestApp, path: &str, body: &Value, tok: &str) -> Response {
    app.request(Method::PATCH, path, Some(body), Some(tok))
        .await
}

async fn disable(app: &TestApp, tok: &str, id: &str) -> Response {
    app.request(
        Method::POST,
        &format!("{OFFICIALS}/{id}/disable"),
        None,
        Some(tok),
    )
    .await
}

/// Logs an official in; their access token.
async fn login(app: &TestApp, username: &str) -> String {
    token(&app.login_admin(username).await)
}

/// The id of the account behind a token.
async fn me_id(app: &TestApp, tok: &str) -> String {
    let me = expect(app.get("/api/v1/me", Some(tok)).await, StatusCode::OK).await;
    me["id"].as_str().unwrap().to_owned()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(items: &[Value]) -> HashSet<String> {
    items.iter().map(id).collect()
}

/// Every item of a list, following `next_cursor` with pages of `limit`; each page is checked
/// to hold at most `limit` items.
async fn all_pages(app: &TestApp, tok: &str, path: &str, limit: u32) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            None => format!("{path}{sep}limit={limit}"),
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
        };
        let page = expect(app.get(&url, Some(tok)).await, StatusCode::OK).await;
        let got = page["items"].as_array().unwrap();
        assert!(
            got.len() <= limit as usize,
            "page larger than limit: {page}"
        );
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
    panic!("paging did not end");
}

/// One unpaged list (at most 100 items, which these tests never exceed).
async fn list(app: &TestApp, tok: &str, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let page = expect(
        app.get(&format!("{path}{sep}limit=100"), Some(tok)).await,
        StatusCode::OK,
    )
    .await;
    assert!(page["next_cursor"].is_null(), "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Asserts that `items` is the pre-order listing of a subtree: the first item is its top, every
/// later item's parent is the item before it or one of that item's ancestors, and each depth is
/// its parent's plus one.
fn assert_tree_order(items: &[Value]) {
    assert!(!items.is_empty());
    let mut stack: Vec<&Value> = vec![&items[0]];
    for item in &items[1..] {
        let parent = item["parent_id"]
            .as_str()
            .expect("a non-top item has a parent");
        while stack.last().is_some_and(|top| top["id"] != parent) {
            stack.pop();
        }
        let top = stack.last().unwrap_or_else(|| {
            panic!(
                "{} is not listed right after its parent's subtree: {items:?}",
                item["name"]
            )
        });
        assert_eq!(item["depth"], top["depth"].as_u64().unwrap() + 1, "{item}");
        stack.push(item);
    }
}

/// 河南省 → {郑州市 → 金水区, 洛阳市} under the root.
struct Tree {
    root: String,
    henan: String,
    zhengzhou: String,
    jinshui: String,
    luoyang: String,
}

async fn tree(app: &TestApp, tok: &str, root: &str) -> Tree {
    let henan = id(&new_org(app, tok, root, "河南省", "provincial_federation").await);
    let zhengzhou = id(&new_org(app, tok, &henan, "郑州市", "city_federation").await);
    let jinshui = id(&new_org(app, tok, &zhengzhou, "金水区", "county_federation").await);
    let luoyang = id(&new_org(app, tok, &henan, "洛阳市", "city_federation").await);
    Tree {
        root: root.to_owned(),
        henan,
        zhengzhou,
        jinshui,
        luoyang,
    }
}

/// Runs a blocking diesel query on a fresh connection to the app's database.
async fn db<T, F>(app: &TestApp, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> T + Send + 'static,
{
    let url = app.database_url();
    tokio::task::spawn_blocking(move || {
        let mut conn = yiwang_infra::db::connect_once(&url).unwrap();
        f(&mut conn)
    })
    .await
    .unwrap()
}

/// `(audit rows, outbox rows)`.
async fn counts(app: &TestApp) -> (i64, i64) {
    db(app, |c| {
        let a: i64 = audit_log::table.count().get_result(c).unwrap();
        let o: i64 = outbox::table.count().get_result(c).unwrap();
        (a, o)
    })
    .await
}

async fn org_tree_create_list_get_update(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (tok, root) = app.root_admin().await;

    let henan = new_org(&app, &tok, &root, "河南省", "provincial_federation").await;
    assert_eq!(henan["parent_id"], root.as_str());
    assert_eq!(henan["name"], "河南省");
    assert_eq!(henan["kind"], "provincial_federation");
    assert_eq!(henan["accepts_individuals"], false);
    assert_eq!(henan["depth"], 2);
    let zhengzhou = new_org(&app, &tok, &id(&henan), "郑州市", "city_federation").await;
    assert_eq!(zhengzhou["parent_id"], henan["id"]);
    assert_eq!(zhengzhou["depth"], 3);
    let jinshui = new_org(&app, &tok, &id(&zhengzhou), "金水区", "county_federation").await;
    assert_eq!(jinshui["parent_id"], zhengzhou["id"]);
    assert_eq!(jinshui["depth"], 4);

    // The whole subtree, root first, in tree order.
    let items = list(&app, &tok, ORGS).await;
    assert_eq!(names(&items), ["总工会", "河南省", "郑州市", "金水区"]);
    let depths: Vec<u64> = items.iter().map(|o| o["depth"].as_u64().unwrap()).collect();
    assert_eq!(depths, [1, 2, 3, 4]);
    assert_eq!(items[0]["id"], root.as_str());
    assert!(items[0]["parent_id"].is_null(), "{}", items[0]);
    assert_tree_order(&items);
    assert_view("admin_orgs", &json!(items));

    // A second branch still lists in tree order: 洛阳市 after the whole 郑州市 subtree or
    // before it, never between 郑州市 and 金水区.
    let luoyang = new_org(&app, &tok, &id(&henan), "洛阳市", "city_federation").await;
    new_org(&app, &tok, &id(&luoyang), "西工区", "county_federation").await;
    new_org(&app, &tok, &id(&zhengzhou), "二七区", "county_federation").await;
    let items = list(&app, &tok, ORGS).await;
    assert_eq!(items.len(), 7);
    assert_tree_order(&items);

    // One organisation.
    let got = expect(
        app.get(&format!("{ORGS}/{}", id(&zhengzhou)), Some(&tok))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got, zhengzhou);
    assert_view("admin_org", &got);

    // Change name and flag; the answer and a later read show it.
    let path = format!("{ORGS}/{}", id(&jinshui));
    let changed = expect(
        patch(
            &app,
            &path,
            &json!({ "name": "金水区总工会", "accepts_individuals": true }),
            &tok,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["name"], "金水区总工会");
    assert_eq!(changed["accepts_individuals"], true);
    assert_eq!(changed["kind"], "county_federation");
    assert_eq!(changed["parent_id"], zhengzhou["id"]);
    assert_eq!(changed["depth"], 4);
    let read = expect(app.get(&path, Some(&tok)).await, StatusCode::OK).await;
    assert_eq!(read["name"], "金水区总工会");
    assert_eq!(read["accepts_individuals"], true);
    assert_eq!(read, changed);
    // Only the flag this time.
    let changed = expect(
        patch(&app, &path, &json!({ "accepts_individuals": false }), &tok).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["accepts_individuals"], false);
    assert_eq!(changed["name"], "金水区总工会");

    // A sibling with a taken name: on create and on rename. Another parent may reuse it.
    let body = assert_problem(
        post_org(&app, &tok, &id(&henan), "郑州市", "city_federation").await,
        StatusCode::CONFLICT,
        "org_name_taken",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "name");
    assert_problem(
        patch(
            &app,
            &format!("{ORGS}/{}", id(&luoyang)),
            &json!({ "name": "郑州市" }),
            &tok,
        )
        .await,
        StatusCode::CONFLICT,
        "org_name_taken",
    )
    .await;
    let still = expect(
        app.get(&format!("{ORGS}/{}", id(&luoyang)), Some(&tok))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["name"], "洛阳市");
    new_org(&app, &tok, &id(&luoyang), "金水区", "county_federation").await;

    // Unknown kind: 422 naming the field and listing the allowed kinds.
    let body = assert_problem(
        post_org(&app, &tok, &id(&henan), "开封市", "city").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "kind");
    // The official reads Chinese words; the identifier is in `field` (issue 19).
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("类别") && detail.contains("不在可选范围内") && !detail.contains("kind"),
        "{detail}"
    );
    // Unknown kind on PATCH too; an empty name.
    let body = assert_problem(
        patch(&app, &path, &json!({ "kind": "galaxy" }), &tok).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "kind");
    let body = assert_problem(
        post_org(&app, &tok, &id(&henan), "   ", "city_federation").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "name");

    // Nothing to change.
    assert_problem(
        patch(&app, &path, &json!({}), &tok).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // None of the refused requests changed the tree.
    let items = list(&app, &tok, ORGS).await;
    assert_eq!(items.len(), 8);
    assert!(!names(&items).contains(&"开封市".to_owned()));
}

async fn org_list_pages_with_a_cursor(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (tok, root) = app.root_admin().await;
    let city = id(&new_org(&app, &tok, &root, "郑州市", "city_federation").await);
    for i in 0..3 {
        new_org(
            &app,
            &tok,
            &root,
            &format!("直属工会{i}"),
            "enterprise_union",
        )
        .await;
        new_org(&app, &tok, &city, &format!("{i}区"), "county_federation").await;
    }
    let whole = list(&app, &tok, ORGS).await;
    assert_eq!(whole.len(), 8);

    for limit in [2, 3] {
        let paged = all_pages(&app, &tok, ORGS, limit).await;
        let seen: Vec<String> = paged.iter().map(id).collect();
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "an org was listed twice: {seen:?}"
        );
        assert_eq!(paged, whole, "pages of {limit} differ from the whole list");
    }
    // A page of 2 has a cursor; the next page starts after it.
    let first = expect(
        app.get(&format!("{ORGS}?limit=2"), Some(&tok)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = expect(
        app.get(&format!("{ORGS}?limit=2&cursor={cursor}"), Some(&tok))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["items"][0], whole[2]);

    for q in ["limit=0", "limit=101"] {
        let body = assert_problem(
            app.get(&format!("{ORGS}?{q}"), Some(&tok)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "limit", "{q}");
    }
    // Not base64; base64 of bytes that are not text; base64 of text that is no key of this
    // list ("foo", and an official's id): all refused, never taken for the end of the list.
    let official_key = URL_SAFE_NO_PAD.encode(me_id(&app, &tok).await);
    for cursor in [
        "not%20a%20cursor!",
        "%2B%2F%2B%2F",
        "_w",
        "Zm9v",
        &official_key,
    ] {
        let body = assert_problem(
            app.get(&format!("{ORGS}?cursor={cursor}"), Some(&tok))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "cursor", "{cursor}");
    }
    // A limit that is not a number is a malformed query.
    assert_problem(
        app.get(&format!("{ORGS}?limit=two"), Some(&tok)).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;

    // Officials page the same way.
    for i in 0..4 {
        app.create_official(&tok, &format!("official-{i}"), &city, "reviewer")
            .await;
    }
    let whole = list(&app, &tok, OFFICIALS).await;
    assert_eq!(whole.len(), 5);
    let paged = all_pages(&app, &tok, OFFICIALS, 2).await;
    assert_eq!(paged, whole);
    assert_problem(
        app.get(&format!("{OFFICIALS}?limit=0"), Some(&tok)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // An organisation's key is no cursor for officials.
    let org_key = first["next_cursor"].as_str().unwrap();
    for cursor in ["Zm9v", "_w", org_key] {
        let body = assert_problem(
            app.get(&format!("{OFFICIALS}?cursor={cursor}"), Some(&tok))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "cursor", "{cursor}");
    }
}

async fn data_scope_hides_what_lies_outside(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (root_tok, root) = app.root_admin().await;
    let t = tree(&app, &root_tok, &root).await;
    app.create_official(&root_tok, "zz-admin", &t.zhengzhou, "org_admin")
        .await;
    let ly_reviewer = app
        .create_official(&root_tok, "ly-reviewer", &t.luoyang, "reviewer")
        .await;
    let zz = login(&app, "zz-admin").await;

    // The list holds 郑州市 and below only.
    let items = list(&app, &zz, ORGS).await;
    assert_eq!(names(&items), ["郑州市", "金水区"]);
    assert_eq!(items[0]["depth"], 3);
    assert_tree_order(&items);

    // Inside: readable.
    for org in [&t.zhengzhou, &t.jinshui] {
        expect(
            app.get(&format!("{ORGS}/{org}"), Some(&zz)).await,
            StatusCode::OK,
        )
        .await;
    }

    // Outside, above or beside: 404, not 403 — the same answer as for an id that does not
    // exist.
    let missing = uuid::Uuid::now_v7().to_string();
    let reference = assert_problem(
        app.get(&format!("{ORGS}/{missing}"), Some(&zz)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    let reference = strip(reference);
    for org in [&t.root, &t.henan, &t.luoyang] {
        let body = assert_problem(
            app.get(&format!("{ORGS}/{org}"), Some(&zz)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(strip(body), reference, "GET {org}");
    }

    // Writing outside: 404 too, and nothing happens.
    let body = assert_problem(
        post_org(&app, &zz, &t.luoyang, "西工区", "county_federation").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(strip(body), reference);
    assert_problem(
        post_org(&app, &zz, &missing, "西工区", "county_federation").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        patch(
            &app,
            &format!("{ORGS}/{}", t.luoyang),
            &json!({ "name": "洛阳" }),
            &zz,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        post_official(
            &app,
            &zz,
            "spy-in-luoyang",
            PASSWORD,
            &t.luoyang,
            "reviewer",
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&format!("{OFFICIALS}/{ly_reviewer}"), Some(&zz))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let all = list(&app, &root_tok, ORGS).await;
    assert_eq!(all.len(), 5, "{:?}", names(&all));
    let luoyang = expect(
        app.get(&format!("{ORGS}/{}", t.luoyang), Some(&root_tok))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(luoyang["name"], "洛阳市");
    let officials = list(&app, &root_tok, OFFICIALS).await;
    assert!(officials.iter().all(|o| o["username"] != "spy-in-luoyang"));

    // Malformed ids in the path: 404 as well.
    for path in [
        format!("{ORGS}/not-a-uuid"),
        format!("{ORGS}/%E9%83%91%E5%B7%9E"),
        format!("{OFFICIALS}/not-a-uuid"),
    ] {
        let body = assert_problem(
            app.get(&path, Some(&zz)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(strip(body), reference, "GET {path}");
    }
    assert_problem(
        disable(&app, &zz, "not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        patch(&app, &format!("{ORGS}/12345"), &json!({ "name": "x" }), &zz).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Inside, writing works.
    new_org(&app, &zz, &t.jinshui, "花园路街道", "township_union").await;
    app.create_official(&zz, "zz-reviewer", &t.jinshui, "reviewer")
        .await;
}

async fn roles_decide_what_an_official_may_do(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (root_tok, root) = app.root_admin().await;
    let t = tree(&app, &root_tok, &root).await;
    app.create_official(&root_tok, "zz-reviewer", &t.zhengzhou, "reviewer")
        .await;
    app.create_official(&root_tok, "zz-auditor", &t.zhengzhou, "auditor")
        .await;
    app.create_official(&root_tok, "zz-admin", &t.zhengzhou, "org_admin")
        .await;
    let reviewer = login(&app, "zz-reviewer").await;
    let auditor = login(&app, "zz-auditor").await;
    let admin = login(&app, "zz-admin").await;

    // A reviewer reads organisations in scope but changes nothing and sees no officials.
    assert_problem(
        post_org(&app, &reviewer, &t.zhengzhou, "二七区", "county_federation").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        patch(
            &app,
            &format!("{ORGS}/{}", t.jinshui),
            &json!({ "name": "金水" }),
            &reviewer,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        post_official(
            &app,
            &reviewer,
            "rev-made",
            PASSWORD,
            &t.zhengzhou,
            "reviewer",
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(OFFICIALS, Some(&reviewer)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let items = list(&app, &reviewer, ORGS).await;
    assert_eq!(names(&items), ["郑州市", "金水区"]);
    let got = expect(
        app.get(&format!("{ORGS}/{}", t.jinshui), Some(&reviewer))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["name"], "金水区");
    assert_problem(
        app.get(&format!("{ORGS}/{}", t.luoyang), Some(&reviewer))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // An auditor lists and reads officials, creates none.
    let officials = list(&app, &auditor, OFFICIALS).await;
    let usernames: HashSet<&str> = officials
        .iter()
        .map(|o| o["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        usernames,
        HashSet::from(["zz-reviewer", "zz-auditor", "zz-admin"])
    );
    let one = &officials[0];
    let got = expect(
        app.get(&format!("{OFFICIALS}/{}", id(one)), Some(&auditor))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(&got, one);
    assert_problem(
        post_official(
            &app,
            &auditor,
            "aud-made",
            PASSWORD,
            &t.zhengzhou,
            "reviewer",
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        post_org(&app, &auditor, &t.zhengzhou, "二七区", "county_federation").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // An org_admin never grants a role above their own.
    let body = assert_problem(
        post_official(
            &app,
            &admin,
            "zz-boss",
            PASSWORD,
            &t.zhengzhou,
            "super_admin",
        )
        .await,
        StatusCode::FORBIDDEN,
        "role_too_high",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().chars().any(is_cjk),
        "{body}"
    );
    let made = expect(
        post_official(&app, &admin, "zz-admin2", PASSWORD, &t.jinshui, "org_admin").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(made["role"], "org_admin");
    assert_eq!(made["org_id"], t.jinshui.as_str());
    let made = expect(
        post_official(
            &app,
            &admin,
            "zz-reviewer2",
            PASSWORD,
            &t.zhengzhou,
            "reviewer",
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(made["role"], "reviewer");
    // The new org_admin can log in and acts in their own subtree.
    let admin2 = login(&app, "zz-admin2").await;
    assert_eq!(names(&list(&app, &admin2, ORGS).await), ["金水区"]);
    // A super_admin may grant super_admin.
    let made = expect(
        post_official(
            &app,
            &root_tok,
            "zz-super",
            PASSWORD,
            &t.zhengzhou,
            "super_admin",
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(made["role"], "super_admin");

    // A role that does not exist.
    let body = assert_problem(
        post_official(&app, &admin, "zz-x", PASSWORD, &t.zhengzhou, "chairman").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "role");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("角色") && !detail.contains("role"),
        "{body}"
    );
    let body = assert_problem(
        app.get(&format!("{OFFICIALS}?role=chairman"), Some(&admin))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "role");

    // None of the refused creations exist.
    let all: HashSet<String> = list(&app, &root_tok, OFFICIALS)
        .await
        .iter()
        .map(|o| o["username"].as_str().unwrap().to_owned())
        .collect();
    for refused in ["rev-made", "aud-made", "zz-boss", "zz-x"] {
        assert!(!all.contains(refused), "{refused} was created");
    }
    assert_eq!(list(&app, &root_tok, ORGS).await.len(), 5);
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

async fn official_creation_is_checked(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (tok, root) = app.root_admin().await;

    let made = expect(
        post_official(&app, &tok, "Zhang", PASSWORD, &root, "reviewer").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(made["username"], "zhang");
    assert_eq!(made["display_name"], "张三");
    assert_eq!(made["org_id"], root.as_str());
    assert_eq!(made["role"], "reviewer");
    assert!(made["disabled_at"].is_null());
    assert!(made.get("password").is_none() && made.get("password_hash").is_none());
    let got = expect(
        app.get(&format!("{OFFICIALS}/{}", id(&made)), Some(&tok))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got, made);
    // The new official logs in with either case.
    let login = app.login_admin("ZHANG").await;
    assert_eq!(login["account"]["id"], made["id"]);

    // Usernames are unique regardless of case.
    for taken in ["zhang", "ZHANG", " Zhang "] {
        let body = assert_problem(
            post_official(&app, &tok, taken, PASSWORD, &root, "reviewer").await,
            StatusCode::CONFLICT,
            "username_taken",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "username", "{taken}");
    }
    // Also against an official made by the CLI.
    assert_problem(
        post_official(&app, &tok, "Root-Admin", PASSWORD, &root, "reviewer").await,
        StatusCode::CONFLICT,
        "username_taken",
    )
    .await;

    // Short password, bad usernames, empty display name.
    let body = assert_problem(
        post_official(&app, &tok, "li-si", "short pw 11", &root, "reviewer").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "password");
    for bad in ["a b", "ab", "张三丰", "a/b/c"] {
        let body = assert_problem(
            post_official(&app, &tok, bad, PASSWORD, &root, "reviewer").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "username", "{bad}");
    }
    let body = assert_problem(
        app.post(
            OFFICIALS,
            &json!({
                "username": "wang-wu", "password": PASSWORD, "display_name": "  ",
                "org_id": root, "role": "reviewer",
            }),
            Some(&tok),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "display_name");
    // An organisation that does not exist.
    assert_problem(
        post_official(
            &app,
            &tok,
            "wang-wu",
            PASSWORD,
            &uuid::Uuid::now_v7().to_string(),
            "reviewer",
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Only the CLI's root admin and 'zhang' exist.
    let usernames: HashSet<String> = list(&app, &tok, OFFICIALS)
        .await
        .iter()
        .map(|o| o["username"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        usernames,
        HashSet::from(["root-admin".to_owned(), "zhang".to_owned()])
    );
}

async fn officials_are_listed_by_role_in_scope(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (root_tok, root) = app.root_admin().await;
    let t = tree(&app, &root_tok, &root).await;
    let r_zz = app
        .create_official(&root_tok, "r-zz", &t.zhengzhou, "reviewer")
        .await;
    let r_js = app
        .create_official(&root_tok, "r-js", &t.jinshui, "reviewer")
        .await;
    let r_ly = app
        .create_official(&root_tok, "r-ly", &t.luoyang, "reviewer")
        .await;
    let a_zz = app
        .create_official(&root_tok, "a-zz", &t.zhengzhou, "auditor")
        .await;
    let adm = app
        .create_official(&root_tok, "zz-admin", &t.zhengzhou, "org_admin")
        .await;
    let zz = login(&app, "zz-admin").await;

    let reviewers = list(&app, &zz, &format!("{OFFICIALS}?role=reviewer")).await;
    assert!(
        reviewers.iter().all(|o| o["role"] == "reviewer"),
        "{reviewers:?}"
    );
    assert_eq!(ids(&reviewers), HashSet::from([r_zz.clone(), r_js.clone()]));

    let everyone = list(&app, &zz, OFFICIALS).await;
    assert_view("admin_officials", &json!(sorted_by(&everyone, "username")));
    assert_eq!(
        ids(&everyone),
        HashSet::from([r_zz.clone(), r_js.clone(), a_zz.clone(), adm.clone()])
    );
    let auditors = list(&app, &zz, &format!("{OFFICIALS}?role=auditor")).await;
    assert_eq!(ids(&auditors), HashSet::from([a_zz.clone()]));
    assert!(list(&app, &zz, &format!("{OFFICIALS}?role=finance"))
        .await
        .is_empty());

    // The root sees every reviewer, with paging and the filter together.
    let all_reviewers = all_pages(&app, &root_tok, &format!("{OFFICIALS}?role=reviewer"), 1).await;
    assert_eq!(all_reviewers.len(), 3);
    assert_eq!(
        ids(&all_reviewers),
        HashSet::from([r_zz.clone(), r_js.clone(), r_ly.clone()])
    );

    // Reading one: in scope yes, outside no.
    let got = expect(
        app.get(&format!("{OFFICIALS}/{r_js}"), Some(&zz)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["username"], "r-js");
    assert_eq!(got["org_id"], t.jinshui.as_str());
    assert_eq!(got["role"], "reviewer");
    assert!(got["disabled_at"].is_null());
    assert_problem(
        app.get(&format!("{OFFICIALS}/{r_ly}"), Some(&zz)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let root_id = me_id(&app, &root_tok).await;
    assert_problem(
        app.get(&format!("{OFFICIALS}/{root_id}"), Some(&zz)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&format!("{OFFICIALS}/{}", uuid::Uuid::now_v7()), Some(&zz))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn disabling_ends_every_session_at_once(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (tok, root) = app.root_admin().await;
    let victim = app.create_official(&tok, "li-si", &root, "reviewer").await;
    let bystander = app
        .create_official(&tok, "wang-wu", &root, "reviewer")
        .await;
    let first = app.login_admin("li-si").await;
    let second = app.login_admin("li-si").await;
    let other = token(&app.login_admin("wang-wu").await);
    for login in [&first, &second] {
        let me = expect(
            app.get("/api/v1/me", Some(&token(login))).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(me["id"], victim.as_str());
    }

    let resp = disable(&app, &tok, &victim).await;
    let disabled = expect(resp, StatusCode::OK).await;
    assert_eq!(disabled["id"], victim.as_str());
    assert_eq!(disabled["username"], "li-si");
    let at = disabled["disabled_at"]
        .as_str()
        .expect("disabled_at set")
        .to_owned();

    // Every session of the official ends at once: access and refresh tokens alike.
    for login in [&first, &second] {
        assert_problem(
            app.get("/api/v1/me", Some(&token(login))).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        assert_problem(
            app.post(
                "/api/v1/auth/refresh",
                &json!({ "refresh_token": login["refresh_token"] }),
                None,
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "refresh_token_invalid",
        )
        .await;
    }
    // Nor can they log in again.
    let resp = app
        .post(
            "/api/v1/admin/auth/login",
            &json!({ "username": "li-si", "password": PASSWORD }),
            None,
        )
        .await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Other officials are untouched.
    let me = expect(app.get("/api/v1/me", Some(&other)).await, StatusCode::OK).await;
    assert_eq!(me["id"], bystander.as_str());
    expect(app.get("/api/v1/me", Some(&tok)).await, StatusCode::OK).await;

    // Idempotent: the same answer, the same time.
    let again = expect(disable(&app, &tok, &victim).await, StatusCode::OK).await;
    assert_eq!(again["disabled_at"], at.as_str());
    assert_eq!(again, disabled);
    let read = expect(
        app.get(&format!("{OFFICIALS}/{victim}"), Some(&tok)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["disabled_at"], at.as_str());
    let bystander_now = expect(
        app.get(&format!("{OFFICIALS}/{bystander}"), Some(&tok))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(bystander_now["disabled_at"].is_null());
}

async fn disabling_respects_self_rank_and_scope(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (root_tok, root) = app.root_admin().await;
    let t = tree(&app, &root_tok, &root).await;
    let zz_admin = app
        .create_official(&root_tok, "zz-admin", &t.zhengzhou, "org_admin")
        .await;
    let zz_super = app
        .create_official(&root_tok, "zz-super", &t.zhengzhou, "super_admin")
        .await;
    let ly_reviewer = app
        .create_official(&root_tok, "ly-reviewer", &t.luoyang, "reviewer")
        .await;
    let js_reviewer = app
        .create_official(&root_tok, "js-reviewer", &t.jinshui, "reviewer")
        .await;
    app.create_official(&root_tok, "zz-auditor", &t.zhengzhou, "auditor")
        .await;
    let zz = login(&app, "zz-admin").await;
    let super_tok = login(&app, "zz-super").await;
    let auditor = login(&app, "zz-auditor").await;

    // Not oneself.
    let root_id = me_id(&app, &root_tok).await;
    assert_problem(
        disable(&app, &root_tok, &root_id).await,
        StatusCode::CONFLICT,
        "cannot_disable_self",
    )
    .await;
    assert_problem(
        disable(&app, &zz, &zz_admin).await,
        StatusCode::CONFLICT,
        "cannot_disable_self",
    )
    .await;
    expect(app.get("/api/v1/me", Some(&root_tok)).await, StatusCode::OK).await;
    expect(app.get("/api/v1/me", Some(&zz)).await, StatusCode::OK).await;

    // Not a role above one's own, even inside the subtree.
    assert_problem(
        disable(&app, &zz, &zz_super).await,
        StatusCode::FORBIDDEN,
        "role_too_high",
    )
    .await;
    expect(
        app.get("/api/v1/me", Some(&super_tok)).await,
        StatusCode::OK,
    )
    .await;

    // Not outside the subtree: 404; the official stays active.
    assert_problem(
        disable(&app, &zz, &ly_reviewer).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        disable(&app, &zz, &root_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        disable(&app, &zz, &uuid::Uuid::now_v7().to_string()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A role without the permission: 403.
    assert_problem(
        disable(&app, &auditor, &js_reviewer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for (who, id) in [
        ("zz-super", &zz_super),
        ("ly-reviewer", &ly_reviewer),
        ("js-reviewer", &js_reviewer),
    ] {
        let got = expect(
            app.get(&format!("{OFFICIALS}/{id}"), Some(&root_tok)).await,
            StatusCode::OK,
        )
        .await;
        assert!(got["disabled_at"].is_null(), "{who} was disabled: {got}");
    }

    // Inside the subtree and not above: allowed.
    let done = expect(disable(&app, &zz, &js_reviewer).await, StatusCode::OK).await;
    assert!(done["disabled_at"].is_string());
    // And a super_admin may disable the org_admin below them.
    let done = expect(disable(&app, &super_tok, &zz_admin).await, StatusCode::OK).await;
    assert!(done["disabled_at"].is_string());
    assert_problem(
        app.get("/api/v1/me", Some(&zz)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

/// One audit row as read back: `(actor_kind, actor_id, record_type, record_id, request_id)`.
type AuditRow = (String, Option<String>, String, String, Option<String>);

async fn audit_rows(app: &TestApp) -> HashMap<String, Vec<AuditRow>> {
    let rows: Vec<(String, AuditRow)> = db(app, |c| {
        audit_log::table
            .select((
                audit_log::action,
                (
                    audit_log::actor_kind,
                    audit_log::actor_id,
                    audit_log::record_type,
                    audit_log::record_id,
                    audit_log::request_id,
                ),
            ))
            .load(c)
            .unwrap()
    })
    .await;
    let mut by_action: HashMap<String, Vec<AuditRow>> = HashMap::new();
    for (action, row) in rows {
        by_action.entry(action).or_default().push(row);
    }
    by_action
}

async fn outbox_rows(app: &TestApp) -> Vec<(String, Value)> {
    let rows: Vec<(String, String)> = db(app, |c| {
        outbox::table
            .select((outbox::topic, outbox::payload))
            .load(c)
            .unwrap()
    })
    .await;
    rows.into_iter()
        .map(|(t, p)| (t, serde_json::from_str(&p).unwrap()))
        .collect()
}

async fn admin_actions_write_one_audit_row_and_one_event(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (tok, root) = app.root_admin().await;
    let root_id = me_id(&app, &tok).await;
    // What the CLI wrote for the root organisation and its admin (actor: system).
    let before_audit = audit_rows(&app).await;
    let before_outbox = outbox_rows(&app).await;
    for rows in before_audit.values() {
        assert!(
            rows.iter().all(|r| r.0 == "system" && r.1.is_none()),
            "{before_audit:?}"
        );
    }

    let resp = post_org(&app, &tok, &root, "郑州市", "city_federation").await;
    let org_req = request_id(&resp);
    let org = id(&expect(resp, StatusCode::CREATED).await);

    let resp = post_official(&app, &tok, "li-si", PASSWORD, &org, "reviewer").await;
    let off_req = request_id(&resp);
    let official = id(&expect(resp, StatusCode::CREATED).await);

    // A request id the client sends is the one recorded.
    let resp = app
        .client
        .post(format!("{}{OFFICIALS}/{official}/disable", app.base))
        .bearer_auth(&tok)
        .header("x-request-id", "disable-li-si-0001")
        .send()
        .await
        .unwrap();
    let dis_req = request_id(&resp);
    assert_eq!(dis_req, "disable-li-si-0001");
    expect(resp, StatusCode::OK).await;
    // Disabling again changes nothing and records nothing.
    expect(disable(&app, &tok, &official).await, StatusCode::OK).await;

    let after = audit_rows(&app).await;
    let mine: Vec<(&String, &AuditRow)> = after
        .iter()
        .flat_map(|(a, rows)| rows.iter().map(move |r| (a, r)))
        .filter(|(_, r)| r.1.as_deref() == Some(root_id.as_str()))
        .collect();
    assert_eq!(mine.len(), 3, "{mine:?}");
    for (action, record_type, record, req) in [
        ("organisation.create", "organisation", &org, &org_req),
        ("official.create", "official", &official, &off_req),
        ("official.disable", "official", &official, &dis_req),
    ] {
        let rows: Vec<&AuditRow> = mine
            .iter()
            .filter(|(a, _)| a.as_str() == action)
            .map(|(_, r)| *r)
            .collect();
        assert_eq!(rows.len(), 1, "{action}: {rows:?}");
        let (kind, actor, rtype, rid, rreq) = rows[0];
        assert_eq!(kind, "admin", "{action}");
        assert_eq!(actor.as_deref(), Some(root_id.as_str()), "{action}");
        assert_eq!(rtype, record_type, "{action}");
        assert_eq!(rid, record, "{action}");
        assert_eq!(rreq.as_deref(), Some(req.as_str()), "{action}");
    }
    // Nothing else changed in the log.
    let total_before: usize = before_audit.values().map(Vec::len).sum();
    let total_after: usize = after.values().map(Vec::len).sum();
    assert_eq!(total_after, total_before + 3);

    // One event per action, beside the CLI's.
    let events = outbox_rows(&app).await;
    assert_eq!(events.len(), before_outbox.len() + 3, "{events:?}");
    let new: Vec<&(String, Value)> = events
        .iter()
        .filter(|e| !before_outbox.contains(e))
        .collect();
    let mut topics: Vec<&str> = new.iter().map(|(t, _)| t.as_str()).collect();
    topics.sort_unstable();
    assert_eq!(
        topics,
        [
            "official.created",
            "official.disabled",
            "organisation.created"
        ]
    );
    for (topic, payload) in new {
        let expected = if topic == "organisation.created" {
            &org
        } else {
            &official
        };
        assert_eq!(payload["id"], expected.as_str(), "{topic}: {payload}");
    }
}

async fn refused_requests_write_no_audit_row_and_no_event(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (tok, root) = app.root_admin().await;
    let t = tree(&app, &tok, &root).await;
    let reviewer = app
        .create_official(&tok, "zz-reviewer", &t.zhengzhou, "reviewer")
        .await;
    app.create_official(&tok, "zz-admin", &t.zhengzhou, "org_admin")
        .await;
    let super_id = app
        .create_official(&tok, "zz-super", &t.zhengzhou, "super_admin")
        .await;
    let zz = login(&app, "zz-admin").await;
    let rev = login(&app, "zz-reviewer").await;
    let before = counts(&app).await;
    // The fixture itself was recorded: 4 organisations and 3 officials, plus the CLI's 2.
    assert_eq!(before, (9, 9));

    let refusals: Vec<(Response, StatusCode, &str)> = vec![
        (
            post_org(&app, &tok, &t.henan, "郑州市", "city_federation").await,
            StatusCode::CONFLICT,
            "org_name_taken",
        ),
        (
            patch(
                &app,
                &format!("{ORGS}/{}", t.luoyang),
                &json!({ "name": "郑州市" }),
                &tok,
            )
            .await,
            StatusCode::CONFLICT,
            "org_name_taken",
        ),
        (
            post_org(&app, &tok, &t.henan, "开封市", "city").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            post_org(&app, &rev, &t.zhengzhou, "二七区", "county_federation").await,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            post_org(&app, &zz, &t.luoyang, "西工区", "county_federation").await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            post_official(&app, &tok, "ZZ-Admin", PASSWORD, &t.zhengzhou, "reviewer").await,
            StatusCode::CONFLICT,
            "username_taken",
        ),
        (
            post_official(&app, &zz, "zz-boss", PASSWORD, &t.zhengzhou, "super_admin").await,
            StatusCode::FORBIDDEN,
            "role_too_high",
        ),
        (
            disable(&app, &zz, &super_id).await,
            StatusCode::FORBIDDEN,
            "role_too_high",
        ),
        (
            disable(&app, &tok, &me_id(&app, &tok).await).await,
            StatusCode::CONFLICT,
            "cannot_disable_self",
        ),
        (
            disable(&app, &rev, &reviewer).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ];
    for (resp, status, code) in refusals {
        assert_problem(resp, status, code).await;
    }
    assert_eq!(counts(&app).await, before);

    // A request that succeeds afterwards is recorded (the counts above can move).
    new_org(&app, &tok, &t.henan, "开封市", "city_federation").await;
    assert_eq!(counts(&app).await, (before.0 + 1, before.1 + 1));
}

/// Logs `username` in with `password`; the answer.
async fn login_with(app: &TestApp, username: &str, password: &str) -> Response {
    app.post(
        "/api/v1/admin/auth/login",
        &json!({ "username": username, "password": password }),
        None,
    )
    .await
}

/// Issue 18, item 13.
async fn weak_passwords_are_refused_and_passwords_change(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (tok, root) = app.root_admin().await;

    // Easily guessed passwords are refused, each with the reason, and nothing is created.
    for (weak, code) in [
        ("password1234", "too_weak"),
        ("zhengzhou-reviewer", "too_weak"),
        ("123456789012", "too_weak"),
        ("short", "too_short"),
    ] {
        let body = assert_problem(
            post_official(&app, &tok, "zhengzhou-reviewer", weak, &root, "reviewer").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "password", "{weak}");
        assert_eq!(body["errors"][0]["code"], code, "{weak}");
    }
    let reviewer = app
        .create_official(&tok, "zhengzhou-reviewer", &root, "reviewer")
        .await;

    // Changing one's own password asks for the current one and ends every other session.
    let first = app.login_admin("zhengzhou-reviewer").await;
    let second = token(&app.login_admin("zhengzhou-reviewer").await);
    const CHANGE: &str = "/api/v1/admin/me/password";
    const NEW: &str = "晋城审核组新的长密码2027";
    let wrong = json!({ "current_password": "not my password at all", "new_password": NEW });
    assert_problem(
        app.post(CHANGE, &wrong, Some(&token(&first))).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let weak = json!({ "current_password": PASSWORD, "new_password": "password1234" });
    let body = assert_problem(
        app.post(CHANGE, &weak, Some(&token(&first))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "new_password");
    let good = json!({ "current_password": PASSWORD, "new_password": NEW });
    let resp = app.post(CHANGE, &good, Some(&token(&first))).await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let changed = expect(resp, StatusCode::OK).await;
    let fresh = token(&changed);
    for ended in [token(&first), second] {
        assert_problem(
            app.get("/api/v1/me", Some(&ended)).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    expect(app.get("/api/v1/me", Some(&fresh)).await, StatusCode::OK).await;
    assert_problem(
        login_with(&app, "zhengzhou-reviewer", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    expect(
        login_with(&app, "zhengzhou-reviewer", NEW).await,
        StatusCode::OK,
    )
    .await;

    // An administrator's reset ends the official's sessions and forces a change first.
    const TEMPORARY: &str = "临时密码请尽快修改-4711";
    let reset = format!("{OFFICIALS}/{reviewer}/password");
    let resp = app
        .post(&reset, &json!({ "new_password": TEMPORARY }), Some(&tok))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get("/api/v1/me", Some(&fresh)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let login = expect(
        login_with(&app, "zhengzhou-reviewer", TEMPORARY).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(login["account"]["password_change_required"], true);
    let pending = token(&login);
    assert_problem(
        app.get("/api/v1/admin/mutual-aid/claims", Some(&pending))
            .await,
        StatusCode::FORBIDDEN,
        "password_change_required",
    )
    .await;
    let next = json!({ "current_password": TEMPORARY, "new_password": "审核组第三个长密码-2028" });
    let done = expect(
        app.post(CHANGE, &next, Some(&pending)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["account"]["password_change_required"], false);
    expect(
        app.get("/api/v1/admin/mutual-aid/claims", Some(&token(&done)))
            .await,
        StatusCode::OK,
    )
    .await;

    // Not one's own account, nor an official above one.
    let own = me_id(&app, &tok).await;
    assert_problem(
        app.post(
            &format!("{OFFICIALS}/{own}/password"),
            &json!({ "new_password": TEMPORARY }),
            Some(&tok),
        )
        .await,
        StatusCode::CONFLICT,
        "own_account",
    )
    .await;
    let reviewer_tok = token(&done);
    assert_problem(
        app.post(
            &format!("{OFFICIALS}/{own}/password"),
            &json!({ "new_password": TEMPORARY }),
            Some(&reviewer_tok),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}
