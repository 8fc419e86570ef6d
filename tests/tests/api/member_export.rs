//! The member search exported to Excel, read back with calamine: the official's subtree and
//! filters, masked ID and phone numbers, real dates, the audit row; and ID numbers and phones
//! typed in full-width digits accepted when applying.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use yiwang_infra::db::schema::audit_log;
use yiwang_tests::{assert_problem, both_shapes, Shape};

use yiwang_tests::world::{db, expect, id, masked, person, World, LEAVE, MEMBERS};

both_shapes!(
    export_holds_the_filtered_subtree_masked,
    full_width_digits_are_accepted_when_applying,
);

const EXPORT: &str = "/api/v1/admin/members/export";

const HEADINGS: [&str; 9] = [
    "会员编号",
    "姓名",
    "身份证号码",
    "手机号码",
    "就业形态",
    "所属工会",
    "入会日期",
    "状态",
    "退会日期",
];

/// A cell as text; dates as `YYYY-MM-DD`.
fn cell(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::DateTime(d) => d.as_datetime().unwrap().date().to_string(),
        other => panic!("unexpected cell {other:?}"),
    }
}

/// Downloads the export at `query` as `tok`: the rows of sheet 会员 as text, heading first.
async fn export(w: &World, tok: &str, query: &str) -> Vec<Vec<String>> {
    let resp = w.app.get(&format!("{EXPORT}{query}"), Some(tok)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment") && disposition.contains("members-"),
        "{disposition}"
    );
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("会员").unwrap();
    sheet
        .rows()
        .map(|row| row.iter().map(cell).collect())
        .collect()
}

/// Today in China Standard Time.
fn china_today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string()
}

/// Makes the worker `user` a member of `org` (application approved by the super_admin).
async fn member(w: &World, user: &str, org: &Value, name: &str, seq: u32) -> String {
    let tok = w.worker(user).await;
    let phone = format!("1391234{seq:04}");
    let mut form = w.form_of(name, &person(seq), &phone);
    form["org_id"] = json!(id(org));
    let app = w.submit(&tok, &form).await;
    w.approved(&id(&app)).await;
    tok
}

async fn export_holds_the_filtered_subtree_masked(shape: Shape) {
    let w = World::new(shape).await;
    member(&w, "ann", &w.zz_joint, "张晓燕", 201).await;
    let left = member(&w, "bob", &w.zz_joint, "李建国", 202).await;
    member(&w, "cai", &w.ly_joint, "王海", 203).await;
    expect(
        w.app.post(LEAVE, &json!({}), Some(&left)).await,
        StatusCode::OK,
    )
    .await;
    let numbers: Vec<String> = expect(
        w.app
            .get(&format!("{MEMBERS}?limit=100"), Some(&w.root))
            .await,
        StatusCode::OK,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member_number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), 3);

    // Everything the root official sees, by member number, masked.
    let rows = export(&w, &w.root, "").await;
    assert_eq!(rows[0], HEADINGS);
    assert_eq!(rows.len(), 4, "{rows:?}");
    let body = &rows[1..];
    assert_eq!(
        body.iter().map(|r| r[0].clone()).collect::<Vec<_>>(),
        numbers
    );
    let today = china_today();
    let by_name = |name: &str| body.iter().find(|r| r[1] == name).unwrap().clone();
    let ann = by_name("张晓燕");
    assert_eq!(ann[2], masked(&person(201)));
    assert_eq!(ann[3], "139****0201");
    assert_eq!(ann[4], "快递员");
    assert_eq!(ann[5], "郑州市快递行业联合工会");
    assert_eq!(
        (ann[6].as_str(), ann[7].as_str(), ann[8].as_str()),
        (today.as_str(), "正常", "")
    );
    let bob = by_name("李建国");
    assert_eq!(
        (bob[7].as_str(), bob[8].as_str()),
        ("已退会", today.as_str())
    );
    assert_eq!(by_name("王海")[5], "洛阳市新就业形态联合工会");
    for (seq, phone) in [
        (201, "13912340201"),
        (202, "13912340202"),
        (203, "13912340203"),
    ] {
        let full = person(seq);
        assert!(
            rows.iter()
                .flatten()
                .all(|c| !c.contains(&full) && !c.contains(phone)),
            "a full ID number or phone leaked: {rows:?}"
        );
    }

    // Filters: status, organisation, text.
    let active = export(&w, &w.root, "?status=active").await;
    assert_eq!(active.len(), 3, "{active:?}");
    assert!(active[1..].iter().all(|r| r[7] == "正常"));
    let ly = export(&w, &w.root, &format!("?org_id={}", w.ly)).await;
    assert_eq!(ly.len(), 2);
    assert_eq!(ly[1][1], "王海");
    let found = export(&w, &w.root, "?q=%E6%99%93%E7%87%95").await; // 晓燕
    assert_eq!(found.len(), 2);
    assert_eq!(found[1][1], "张晓燕");

    // An official's export holds their own subtree only; an auditor may export.
    let (zz_reviewer, _) = w.official("zz-reviewer", &w.zz, "reviewer").await;
    let zz = export(&w, &zz_reviewer, "").await;
    assert_eq!(zz.len(), 3, "{zz:?}");
    assert!(zz[1..].iter().all(|r| r[5] == "郑州市快递行业联合工会"));
    let (auditor, _) = w.official("zz-auditor", &w.zz, "auditor").await;
    assert_eq!(export(&w, &auditor, "").await.len(), 3);

    // Refusals.
    assert_problem(
        w.app
            .get(&format!("{EXPORT}?org_id={}", w.ly), Some(&zz_reviewer))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let (finance, _) = w.official("zz-finance", &w.zz, "finance").await;
    assert_problem(
        w.app.get(EXPORT, Some(&finance)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let worker = w.worker("dan").await;
    assert_eq!(
        w.app.get(EXPORT, Some(&worker)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_problem(
        w.app
            .get(&format!("{EXPORT}?status=gone"), Some(&w.root))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // Every export is in the audit log with its row count; refusals are not.
    let details: Vec<String> = db(&w.app, |c| {
        audit_log::table
            .filter(audit_log::action.eq("members.export"))
            .order(audit_log::at.asc())
            .select(audit_log::detail)
            .load(c)
            .unwrap()
    })
    .await;
    let rows: Vec<u64> = details
        .iter()
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["rows"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(rows, vec![3, 2, 1, 1, 2, 2]);
}

async fn full_width_digits_are_accepted_when_applying(shape: Shape) {
    let w = World::new(shape).await;
    let tok = w.worker("eve").await;
    let ascii = person(211);
    let full_width: String = ascii
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap(),
            'X' => 'Ｘ',
            other => other,
        })
        .collect();
    let form = w.form_of(
        "赵敏",
        &format!("\u{3000}{full_width}"),
        "１３９１２３４０２１１",
    );
    let app = w.submit(&tok, &form).await;
    assert_eq!(app["id_number"], masked(&ascii).as_str());
    assert_eq!(app["phone"], "139****0211");
    // The same person typing ASCII is recognised as the same person.
    let other = w.worker("eve2").await;
    assert_problem(
        w.apply(&other, &w.form_of("赵敏", &ascii, "13912340211"))
            .await,
        StatusCode::CONFLICT,
        "application_open",
    )
    .await;
}
