//! The union a black-box test works in ([`World`]: a demo tree, officials, workers, the
//! membership steps) and the assertions the suites share: the problem envelope with every
//! bad field, Chinese details, paging through a listing, and direct reads of the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use crate::{assert_problem, id_number, token, Shape, TestApp};
use diesel::prelude::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use yiwang_infra::db::schema::{audit_log, membership_applications, outbox};
use yiwang_infra::db::DbConnection;

pub const ORG_SEARCH: &str = "/api/v1/orgs";
pub const ADMIN_ORGS: &str = "/api/v1/admin/orgs";
pub const NOTICE: &str = "/api/v1/membership/privacy-notice";
pub const APPS: &str = "/api/v1/membership/applications";
pub const QUEUE: &str = "/api/v1/admin/membership/applications";
pub const BATCH: &str = "/api/v1/admin/membership/applications/batch-approve";
pub const MEMBERS: &str = "/api/v1/admin/members";
pub const CARD: &str = "/api/v1/me/member-card";
pub const VERIFY: &str = "/api/v1/member-cards/verify";
pub const PHONE: &str = "/api/v1/me/phone";
pub const LEAVE: &str = "/api/v1/membership/leave";

/// A valid unified social credit code (GB 32100-2015).
pub const CREDIT_CODE: &str = "91350100M000100Y43";

// ---------------------------------------------------------------------------------------------
// helpers

/// The valid ID number of test person `seq`: 北京市朝阳区, born 1990-03-07, sequence `seq`
/// (odd: male, even: female).
pub fn person(seq: u32) -> String {
    id_number(&format!("11010519900307{seq:03}"))
}

/// `number` with a wrong (but well-formed) check character.
pub fn with_wrong_check(number: &str) -> String {
    let last = number.chars().last().unwrap();
    let other = "0123456789X".chars().find(|c| *c != last).unwrap();
    format!("{}{other}", &number[..17])
}

/// The masked form the API shows: first 4 and last 4 characters, 10 `*` between.
pub fn masked(number: &str) -> String {
    format!("{}**********{}", &number[..4], &number[14..])
}

/// Whether `s` holds a CJK character (the default language of `detail`).
pub fn is_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A complete, valid application form.
pub fn apply_form(org_id: &str, id_number: &str, version: &str) -> Value {
    json!({
        "real_name": "王小明",
        "id_number": id_number,
        "phone": "13912345678",
        "employer_name": "顺丰速运郑州分公司",
        "credit_code": CREDIT_CODE,
        "industry": "快递物流",
        "employment_form": "courier",
        "city": "郑州市",
        "org_id": org_id,
        "consent": { "accepted": true, "version": version },
    })
}

/// `form` with the member at the dotted `path` set to `value` (or removed for `Null` on a
/// top-level key).
pub fn set(mut form: Value, path: &str, value: Value) -> Value {
    let pointer = format!("/{}", path.replace('.', "/"));
    if value.is_null() && !path.contains('.') {
        form.as_object_mut().unwrap().remove(path);
    } else {
        *form.pointer_mut(&pointer).unwrap() = value;
    }
    form
}

/// Reads a JSON answer after checking its status (the body is shown when it differs).
pub async fn expect(resp: Response, status: StatusCode) -> Value {
    let got = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The `(field, code)` pairs of a problem's `errors`.
pub fn field_errors(problem: &Value) -> HashSet<(String, String)> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap().to_owned(),
                        e["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts 422 `validation_failed` listing exactly `expected` `(field, code)` pairs, every
/// text in Chinese; returns the body.
pub async fn assert_invalid(resp: Response, expected: &[(&str, &str)]) -> Value {
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let want: HashSet<(String, String)> = expected
        .iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(field_errors(&body), want, "body: {body}");
    assert!(is_chinese(body["detail"].as_str().unwrap()), "{body}");
    for e in body["errors"].as_array().unwrap() {
        let detail = e["detail"].as_str().unwrap();
        assert!(is_chinese(detail), "{e}");
        // The field path is in `field`; the words a worker reads name it in Chinese.
        let name = e["field"]
            .as_str()
            .unwrap()
            .rsplit('.')
            .next()
            .unwrap_or_default();
        if name.len() > 1 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            assert!(
                !detail.contains(name),
                "an identifier in Chinese words: {e}"
            );
            let whole = body["detail"].as_str().unwrap();
            assert!(
                !whole.contains(name),
                "an identifier in Chinese words: {body}"
            );
        }
    }
    body
}

/// Asserts an error envelope whose `detail` is Chinese; returns the body.
pub async fn assert_problem_zh(resp: Response, status: StatusCode, code: &str) -> Value {
    let body = assert_problem(resp, status, code).await;
    assert!(is_chinese(body["detail"].as_str().unwrap()), "{body}");
    body
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id).collect()
}

pub fn history_actions(view: &Value) -> Vec<String> {
    view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap().to_owned())
        .collect()
}

/// Every item of a list, following `next_cursor` with pages of `limit`.
pub async fn all_pages(app: &TestApp, tok: Option<&str>, path: &str, limit: u32) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            None => format!("{path}{sep}limit={limit}"),
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
        };
        let page = expect(app.get(&url, tok).await, StatusCode::OK).await;
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

/// One page of at most 100 items (these tests never have more).
pub async fn list(app: &TestApp, tok: Option<&str>, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let page = expect(
        app.get(&format!("{path}{sep}limit=100"), tok).await,
        StatusCode::OK,
    )
    .await;
    assert!(page["next_cursor"].is_null(), "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Runs a blocking diesel query on a fresh connection to the app's database.
pub async fn db<T, F>(app: &TestApp, f: F) -> T
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

/// The payloads of the outbox rows with `topic`.
pub async fn outbox_payloads(w: &World, topic: &'static str) -> Vec<Value> {
    let rows: Vec<String> = db(&w.app, move |c| {
        outbox::table
            .filter(outbox::topic.eq(topic))
            .select(outbox::payload)
            .load(c)
            .unwrap()
    })
    .await;
    rows.iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect()
}

/// How many audit rows have `action`.
pub async fn audit_actions(w: &World, action: &'static str) -> i64 {
    db(&w.app, move |c| {
        audit_log::table
            .filter(audit_log::action.eq(action))
            .count()
            .get_result(c)
            .unwrap()
    })
    .await
}

pub async fn stored_applications(app: &TestApp) -> i64 {
    db(app, |c| {
        membership_applications::table
            .count()
            .get_result(c)
            .unwrap()
    })
    .await
}

/// Today in China Standard Time.
pub fn china_today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string()
}

/// The app with a small tree and the privacy-notice version:
/// 总工会 → { 郑州市总工会 → 郑州市快递行业联合工会 (accepts individuals),
///            洛阳市总工会 → 洛阳市新就业形态联合工会 (accepts individuals) }.
pub struct World {
    pub app: TestApp,
    /// The super_admin's token.
    pub root: String,
    pub root_org: String,
    pub zz: String,
    /// 郑州市快递行业联合工会, as created (`OrgView`).
    pub zz_joint: Value,
    pub ly: String,
    pub ly_joint: Value,
    pub version: String,
}

pub async fn new_org(
    app: &TestApp,
    tok: &str,
    parent: &str,
    name: &str,
    kind: &str,
    accepts_individuals: bool,
    city: Option<&str>,
) -> Value {
    let mut body = json!({
        "parent_id": parent, "name": name, "kind": kind,
        "accepts_individuals": accepts_individuals,
    });
    if let Some(city) = city {
        body["city"] = json!(city);
    }
    expect(
        app.post(ADMIN_ORGS, &body, Some(tok)).await,
        StatusCode::CREATED,
    )
    .await
}

impl World {
    pub async fn new(shape: Shape) -> World {
        Self::on(TestApp::spawn(shape).await).await
    }

    /// The same organisations on an app started with settings of the test's own.
    pub async fn on(app: TestApp) -> World {
        let (root, root_org) = app.root_admin().await;
        let zz = id(&new_org(
            &app,
            &root,
            &root_org,
            "郑州市总工会",
            "city_federation",
            false,
            Some("郑州市"),
        )
        .await);
        let zz_joint = new_org(
            &app,
            &root,
            &zz,
            "郑州市快递行业联合工会",
            "joint_union",
            true,
            Some("郑州市"),
        )
        .await;
        assert_eq!(zz_joint["accepts_individuals"], true);
        assert_eq!(zz_joint["city"], "郑州市");
        let ly = id(&new_org(
            &app,
            &root,
            &root_org,
            "洛阳市总工会",
            "city_federation",
            false,
            Some("洛阳市"),
        )
        .await);
        let ly_joint = new_org(
            &app,
            &root,
            &ly,
            "洛阳市新就业形态联合工会",
            "joint_union",
            true,
            Some("洛阳市"),
        )
        .await;
        let notice = expect(app.get(NOTICE, None).await, StatusCode::OK).await;
        assert!(is_chinese(notice["text"].as_str().unwrap()));
        let version = notice["version"].as_str().unwrap().to_owned();
        World {
            app,
            root,
            root_org,
            zz,
            zz_joint,
            ly,
            ly_joint,
            version,
        }
    }

    /// A valid form for 郑州市快递行业联合工会.
    pub fn form(&self, id_number: &str) -> Value {
        apply_form(&id(&self.zz_joint), id_number, &self.version)
    }

    /// A valid form for 郑州市快递行业联合工会 in `name`, with `phone`.
    pub fn form_of(&self, name: &str, id_number: &str, phone: &str) -> Value {
        let form = set(self.form(id_number), "real_name", json!(name));
        set(form, "phone", json!(phone))
    }

    /// A logged-in worker's access token (`user` must be fresh in the test).
    pub async fn worker(&self, user: &str) -> String {
        token(&self.app.login_worker(&format!("{user}.1")).await)
    }

    /// An official of `role` in `org`, logged in: `(token, official id)`.
    pub async fn official(&self, username: &str, org: &str, role: &str) -> (String, String) {
        let official = self
            .app
            .create_official(&self.root, username, org, role)
            .await;
        (token(&self.app.login_admin(username).await), official)
    }

    pub async fn apply(&self, tok: &str, form: &Value) -> Response {
        self.app.post(APPS, form, Some(tok)).await
    }

    /// Files `form` as the worker behind `tok`; the answer must be 201.
    pub async fn submit(&self, tok: &str, form: &Value) -> Value {
        expect(self.apply(tok, form).await, StatusCode::CREATED).await
    }

    pub async fn resubmit(&self, tok: &str, app_id: &str, form: &Value) -> Response {
        self.app
            .request(
                Method::PUT,
                &format!("{APPS}/{app_id}"),
                Some(form),
                Some(tok),
            )
            .await
    }

    pub async fn withdraw(&self, tok: &str, app_id: &str) -> Response {
        self.app
            .request(
                Method::POST,
                &format!("{APPS}/{app_id}/withdraw"),
                None,
                Some(tok),
            )
            .await
    }

    pub async fn my_list(&self, tok: &str) -> Vec<Value> {
        let v = expect(self.app.get(APPS, Some(tok)).await, StatusCode::OK).await;
        v["items"].as_array().unwrap().clone()
    }

    pub async fn approve(&self, tok: &str, app_id: &str) -> Response {
        self.app
            .request(
                Method::POST,
                &format!("{QUEUE}/{app_id}/approve"),
                None,
                Some(tok),
            )
            .await
    }

    pub async fn reject(&self, tok: &str, app_id: &str, body: &Value) -> Response {
        self.app
            .post(&format!("{QUEUE}/{app_id}/reject"), body, Some(tok))
            .await
    }

    pub async fn send_back(&self, tok: &str, app_id: &str, missing: &str) -> Response {
        self.app
            .post(
                &format!("{QUEUE}/{app_id}/return"),
                &json!({ "missing": missing }),
                Some(tok),
            )
            .await
    }

    /// Approves as the super_admin; the answer must be 200; returns the member number.
    pub async fn approved(&self, app_id: &str) -> String {
        let v = expect(self.approve(&self.root, app_id).await, StatusCode::OK).await;
        assert_eq!(v["application"]["status"], "approved", "{v}");
        v["member_number"].as_str().unwrap().to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// organisation search
