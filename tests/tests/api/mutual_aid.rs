//! Mutual aid (互助保障), over HTTP: an official writes a plan; a member enrols and the fee is
//! recorded; the worker files a claim with lines, a payee account and uploaded documents
//! (typed by their bytes), previews the payout, submits (idempotently); two reviewers decide
//! (four eyes); finance exports the payment list and marks the claim paid (once). Bad input
//! changes nothing; data scope, roles and racing reviewers hold.

use std::io::Cursor;
use yiwang_tests::views::assert_view;

use calamine::{Reader, Xlsx};
use chrono::{Days, NaiveDate, Utc};
use diesel::prelude::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use yiwang_infra::db::schema::{audit_log, mutual_aid_claims, outbox};
use yiwang_tests::{assert_problem, both_shapes, multipart, Shape};

use yiwang_tests::world::{assert_invalid, assert_problem_zh, db, expect, id, person, World};

both_shapes!(
    a_claim_from_enrolment_to_payment,
    bad_input_is_refused_and_changes_nothing,
    submission_checks_name_what_is_missing,
    retried_create_and_submit_act_once,
    a_claim_needing_no_documents_is_filed_in_one_request,
    invoices_are_claimed_once_and_racing_reviewers_one_wins,
    scope_and_roles_guard_claims_and_documents,
    a_returned_claim_is_completed_and_filed_again,
    payouts_count_total_costs_and_never_exceed_the_loss,
    an_upload_form_carries_each_field_once,
    preview_and_submit_run_the_same_checks,
    an_invoice_is_claimed_once_however_typed_and_lookalikes_are_flagged,
    a_worker_not_yet_a_member_reads_the_plans_they_could_join,
    officials_see_members_by_name_and_who_acted,
    a_retried_enrolment_enrols_once,
    the_member_is_told_at_each_step_of_a_claim,
);

const PLANS: &str = "/api/v1/mutual-aid/plans";
const ENROL: &str = "/api/v1/mutual-aid/enrollments";
const CLAIMS: &str = "/api/v1/mutual-aid/claims";
const ADMIN_PLANS: &str = "/api/v1/admin/mutual-aid/plans";
const PAYMENTS: &str = "/api/v1/admin/mutual-aid/enrollments/payments";
const QUEUE: &str = "/api/v1/admin/mutual-aid/claims";
const PAYMENT_LIST: &str = "/api/v1/admin/mutual-aid/payment-list";

/// A tiny PDF (the bytes are what count).
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
/// The signature of a PNG file.
const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];

/// Today in China Standard Time, `days` away.
fn day(days: i64) -> NaiveDate {
    let today = (Utc::now() + chrono::TimeDelta::hours(8)).date_naive();
    if days >= 0 {
        today + Days::new(days.unsigned_abs())
    } else {
        today - Days::new(days.unsigned_abs())
    }
}

/// The 晋城 plan (DOMAIN.md) with the assumed 50 % rate: plan year around today, enrolment
/// open, no waiting period unless `waiting_days`; second review from 10,000 yuan.
fn plan_form(name: &str, waiting_days: u32) -> Value {
    json!({
        "name": name,
        "starts_on": day(-30).to_string(),
        "ends_on": day(300).to_string(),
        "enrolment_opens_on": day(-30).to_string(),
        "enrolment_closes_on": day(30).to_string(),
        "fee_fen": 5_000,
        "waiting_days": waiting_days,
        "second_review_from_fen": 1_000_000,
        "benefits": [
            { "kind": "inpatient", "threshold_fen": 900_000, "deductible_fen": 0,
              "rate_basis_points": 5_000, "minimum_fen": 30_000, "maximum_fen": 3_000_000,
              "annual_cap_fen": 6_000_000,
              "required_documents": ["invoice", "diagnosis_certificate"] },
            { "kind": "chronic", "threshold_fen": 500_000, "deductible_fen": 0,
              "rate_basis_points": 5_000, "minimum_fen": 30_000, "maximum_fen": 1_000_000,
              "annual_cap_fen": 2_000_000, "required_documents": ["invoice"] }
        ]
    })
}

/// A line of `yuan` total, of which 20 % insurance and 80 % out of pocket, treated today.
fn line(invoice: &str, yuan: i64) -> Value {
    let total = yuan * 100;
    json!({
        "hospital": "晋城市人民医院", "invoice_number": invoice,
        "treated_on": day(0).to_string(), "kind": "inpatient",
        "total_fen": total, "insurance_fen": total / 5, "out_of_pocket_fen": total - total / 5,
    })
}

fn payee() -> Value {
    json!({ "account_name": "王建军", "bank": "中国工商银行晋城分行", "account_number": "6222 0212 3456 7890 123" })
}

/// The mutual-aid world: the membership world plus a plan run by 郑州市总工会, its officials
/// and an enrolled, paid-up member.
struct Aid {
    w: World,
    plan: String,
    /// An `org_admin` of 郑州市总工会.
    admin: String,
    /// Two reviewers and a finance official of 郑州市总工会.
    reviewer_a: String,
    reviewer_b: String,
    finance: String,
    /// The enrolled member's token and enrolment id.
    worker: String,
    enrollment: String,
}

impl Aid {
    async fn new(shape: Shape) -> Aid {
        let w = World::new(shape).await;
        let (admin, _) = w.official("zz-admin", &w.zz, "org_admin").await;
        let (reviewer_a, _) = w.official("zz-review-a", &w.zz, "reviewer").await;
        let (reviewer_b, _) = w.official("zz-review-b", &w.zz, "reviewer").await;
        let (finance, _) = w.official("zz-finance", &w.zz, "finance").await;
        let plan = id(&expect(
            w.app
                .post(
                    ADMIN_PLANS,
                    &plan_form("2027 年度大病医疗互助", 0),
                    Some(&admin),
                )
                .await,
            StatusCode::CREATED,
        )
        .await);
        let mut aid = Aid {
            w,
            plan,
            admin,
            reviewer_a,
            reviewer_b,
            finance,
            worker: String::new(),
            enrollment: String::new(),
        };
        let (worker, enrollment) = aid.paid_member("wang", "王建军", 1).await;
        aid.worker = worker;
        aid.enrollment = enrollment;
        aid
    }

    /// A member of 郑州市快递行业联合工会, enrolled in the plan with the fee recorded:
    /// `(token, enrolment id)`.
    async fn paid_member(&self, user: &str, name: &str, seq: u32) -> (String, String) {
        let tok = self.member(user, name, seq).await;
        let enrollment = id(&expect(
            self.w
                .app
                .post(ENROL, &json!({ "plan_id": self.plan }), Some(&tok))
                .await,
            StatusCode::CREATED,
        )
        .await);
        let paid = expect(
            self.w
                .app
                .post(
                    PAYMENTS,
                    &json!({ "enrollment_ids": [enrollment], "method": "paid_by_union" }),
                    Some(&self.finance),
                )
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(paid["items"][0]["enrollment"]["status"], "active", "{paid}");
        (tok, enrollment)
    }

    /// A member of 郑州市快递行业联合工会 (not enrolled): the token.
    async fn member(&self, user: &str, name: &str, seq: u32) -> String {
        let tok = self.w.worker(user).await;
        let form = self
            .w
            .form_of(name, &person(seq), &format!("1381234{seq:04}"));
        let app_id = id(&self.w.submit(&tok, &form).await);
        self.w.approved(&app_id).await;
        tok
    }

    async fn create(&self, tok: &str, body: &Value) -> Response {
        self.w.app.post(CLAIMS, body, Some(tok)).await
    }

    /// A draft with `lines` and the payee; must be 201.
    async fn draft(&self, lines: Vec<Value>) -> Value {
        let body = json!({ "enrollment_id": self.enrollment, "lines": lines, "payee": payee() });
        expect(self.create(&self.worker, &body).await, StatusCode::CREATED).await
    }

    async fn upload(
        &self,
        tok: &str,
        claim: &str,
        kind: &str,
        name: &str,
        bytes: &[u8],
    ) -> Response {
        let (content_type, body) = multipart(&[("kind", kind)], name, bytes);
        self.w
            .app
            .client
            .post(format!("{}{CLAIMS}/{claim}/documents", self.w.app.base))
            .bearer_auth(tok)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Attaches the invoice and diagnosis certificate PDFs.
    async fn documents(&self, claim: &str) {
        for kind in ["invoice", "diagnosis_certificate"] {
            expect(
                self.upload(&self.worker, claim, kind, &format!("{kind}.pdf"), PDF)
                    .await,
                StatusCode::CREATED,
            )
            .await;
        }
    }

    async fn submit(&self, tok: &str, claim: &str, key: Option<&str>) -> Response {
        let mut req = self
            .w
            .app
            .client
            .post(format!("{}{CLAIMS}/{claim}/submit", self.w.app.base))
            .bearer_auth(tok);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.unwrap()
    }

    /// A submitted claim of `lines` with its documents: its id.
    async fn submitted(&self, lines: Vec<Value>) -> String {
        let claim = id(&self.draft(lines).await);
        self.documents(&claim).await;
        let v = expect(
            self.submit(&self.worker, &claim, None).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(v["status"], "submitted", "{v}");
        claim
    }

    async fn act(&self, tok: &str, claim: &str, action: &str, body: Option<&Value>) -> Response {
        self.w
            .app
            .request(
                Method::POST,
                &format!("{QUEUE}/{claim}/{action}"),
                body,
                Some(tok),
            )
            .await
    }

    async fn stored_claims(&self) -> i64 {
        db(&self.w.app, |c| {
            mutual_aid_claims::table.count().get_result(c).unwrap()
        })
        .await
    }
}

fn actions(claim: &Value) -> Vec<String> {
    claim["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------

async fn a_claim_from_enrolment_to_payment(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;

    // The worker sees the plan, and the enrolment as active and covered from today.
    let plans = expect(app.get(PLANS, Some(&aid.worker)).await, StatusCode::OK).await;
    assert_eq!(plans["items"][0]["id"], aid.plan.as_str());
    assert_eq!(plans["items"][0]["enrolment_open"], true);
    assert_view("worker_plans", &plans);
    let mine = expect(app.get(ENROL, Some(&aid.worker)).await, StatusCode::OK).await;
    assert_eq!(mine["items"][0]["status"], "active");
    assert_eq!(mine["items"][0]["covered_from"], day(0).to_string());
    assert_eq!(mine["items"][0]["payment"]["method"], "paid_by_union");
    assert_eq!(mine["items"][0]["payment"]["amount_fen"], 5_000);
    assert_view(
        "admin_enrolments",
        &expect(
            app.get("/api/v1/admin/mutual-aid/enrollments", Some(&aid.admin))
                .await,
            StatusCode::OK,
        )
        .await,
    );
    assert_view("worker_enrolments", &mine);

    // Three lines, 30,000 yuan in all, 24,000 out of pocket: 50 % is 12,000 yuan, which
    // reaches the 10,000-yuan second-review amount.
    let draft = aid
        .draft(vec![
            line("A-001", 10_000),
            line("A-002", 10_000),
            line("a 003", 10_000),
        ])
        .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["lines"][2]["invoice_number"], "A003");
    assert_eq!(draft["payee"]["account_masked"], "6222***********0123");
    let claim = id(&draft);

    // Uploads are typed by their bytes: a PDF named .jpg is a PDF, and its name says so
    // (issue 18, item 16: a download never names one type and holds another).
    let doc = expect(
        aid.upload(&aid.worker, &claim, "invoice", "发票.jpg", PDF)
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(doc["media_type"], "application/pdf");
    assert_eq!(doc["file_name"], "发票.pdf");
    let png = expect(
        aid.upload(
            &aid.worker,
            &claim,
            "diagnosis_certificate",
            "诊断.html",
            PNG,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(png["media_type"], "image/png");
    assert_eq!(png["file_name"], "诊断.png");

    // The preview explains the payout.
    let preview = expect(
        app.get(&format!("{CLAIMS}/{claim}/preview"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(preview["total_fen"], 1_200_000, "{preview}");
    assert_view("claim_preview", &preview);
    assert_eq!(preview["benefits"][0]["threshold_met"], true);
    assert_eq!(preview["benefits"][0]["limit"], "none");
    assert!(preview["benefits"][0]["explanation"]
        .as_str()
        .unwrap()
        .contains("按 50% 计 12,000.00 元，给付 12,000.00 元"));

    // Submit.
    let submitted = expect(
        aid.submit(&aid.worker, &claim, Some("tap-1")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["claimed_fen"], 1_200_000);
    assert_eq!(submitted["overdue"], false);

    // The worker can no longer change it.
    let put = app
        .request(
            Method::PUT,
            &format!("{CLAIMS}/{claim}"),
            Some(&json!({ "lines": [line("A-009", 1)] })),
            Some(&aid.worker),
        )
        .await;
    assert_problem_zh(put, StatusCode::CONFLICT, "not_editable").await;

    // The queue shows it; reviewer A takes and approves, which needs a second review.
    let queue = expect(app.get(QUEUE, Some(&aid.reviewer_a)).await, StatusCode::OK).await;
    assert_eq!(queue["items"][0]["id"], claim.as_str());
    assert_view("admin_claims", &queue);
    // A filter naming states: an empty one names none; drafts are their member's alone.
    assert_invalid(
        app.get(&format!("{QUEUE}?status="), Some(&aid.reviewer_a))
            .await,
        &[("status", "not_allowed")],
    )
    .await;
    let drafts = expect(
        app.get(&format!("{QUEUE}?status=draft"), Some(&aid.reviewer_a))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(drafts["items"], json!([]));
    // Taken with an Idempotency-Key: the retry of a lost answer gets the first answer, not
    // 409; without the key a second take is refused.
    let take = format!("{QUEUE}/{claim}/take");
    let taken = app
        .post_keyed(&take, &json!({}), &aid.reviewer_a, Some("take-1"))
        .await;
    assert_eq!(taken.status(), StatusCode::OK);
    let taken: Value = taken.json().await.unwrap();
    assert_eq!(taken["status"], "first_review");
    let again = app
        .post_keyed(&take, &json!({}), &aid.reviewer_a, Some("take-1"))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), taken);
    assert_problem(
        app.post_keyed(&take, &json!({}), &aid.reviewer_a, None)
            .await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    let first = expect(
        aid.act(
            &aid.reviewer_a,
            &claim,
            "approve",
            Some(&json!({ "cuts": [] })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["status"], "second_review", "{first}");
    assert_view("admin_claim_second_review", &first);

    // Four eyes: reviewer A cannot decide the second review.
    let again = aid
        .act(
            &aid.reviewer_a,
            &claim,
            "approve",
            Some(&json!({ "cuts": [] })),
        )
        .await;
    assert_problem_zh(again, StatusCode::FORBIDDEN, "four_eyes").await;

    // Reviewer B cuts one line to 6,000 yuan out of pocket (with a reason) and approves.
    let line_id = first["lines"][0]["id"].as_str().unwrap().to_owned();
    let approved = expect(
        aid.act(
            &aid.reviewer_b,
            &claim,
            "approve",
            Some(&json!({ "cuts": [{ "line_id": line_id, "approved_fen": 600_000, "reason": "自费药品不在互助范围" }] })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(approved["approved_fen"], 1_100_000);
    assert_eq!(approved["claimed_fen"], 1_200_000);
    assert_eq!(approved["lines"][0]["cut_reason"], "自费药品不在互助范围");

    // Finance exports the payment list: the full account number, the amount in yuan.
    let resp = app.get(PAYMENT_LIST, Some(&aid.finance)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("互助金支付清单").unwrap();
    let row: Vec<String> = sheet
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(row[1], claim);
    assert_eq!(row[2], "王建军");
    assert_eq!(row[4], "6222021234567890123");
    assert_eq!(row[5], "11000");
    let exports: i64 = db(app, |c| {
        audit_log::table
            .filter(audit_log::action.eq("mutual_aid.payment_list.export"))
            .count()
            .get_result(c)
            .unwrap()
    })
    .await;
    assert_eq!(exports, 1);

    // Paid, once: the same reference again changes nothing, another one is refused.
    let paid = expect(
        aid.act(
            &aid.finance,
            &claim,
            "paid",
            Some(&json!({ "bank_reference": "ICBC-20271201-0001" })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_fen"], 1_100_000);
    let twice = expect(
        aid.act(
            &aid.finance,
            &claim,
            "paid",
            Some(&json!({ "bank_reference": "ICBC-20271201-0001" })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(twice["updated_at"], paid["updated_at"]);
    let other = aid
        .act(
            &aid.finance,
            &claim,
            "paid",
            Some(&json!({ "bank_reference": "OTHER" })),
        )
        .await;
    assert_problem(other, StatusCode::CONFLICT, "illegal_transition").await;

    // The worker follows it on the timeline.
    let mine = expect(
        app.get(&format!("{CLAIMS}/{claim}"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        actions(&mine),
        ["submit", "take", "approve", "approve", "mark_paid"]
    );
    assert_eq!(mine["status_label"], "已打款");
    assert_view("worker_claim_paid", &mine);

    // Every transition went to the outbox.
    let topics: Vec<String> = db(app, |c| {
        outbox::table
            .filter(outbox::topic.like("mutual_aid.claim.%"))
            .select(outbox::topic)
            .load(c)
            .unwrap()
    })
    .await;
    for topic in [
        "submitted",
        "first_review",
        "second_review",
        "approved",
        "paid",
    ] {
        assert!(
            topics.contains(&format!("mutual_aid.claim.{topic}")),
            "{topics:?}"
        );
    }

    // A document comes back through a short-lived signed link, audited.
    let link = expect(
        app.post(
            &format!("{CLAIMS}/{claim}/documents/{}/link", id(&doc)),
            &json!({}),
            Some(&aid.worker),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let url = link["url"].as_str().unwrap();
    // Its expiry is a time like every other (RFC 3339), five minutes on.
    let expires = chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::minutes(4) && left <= chrono::TimeDelta::minutes(5),
        "{link}"
    );
    let resp = app.get(url, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf"),
        "{disposition}"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PDF);
    let reads: i64 = db(app, |c| {
        audit_log::table
            .filter(audit_log::action.eq("mutual_aid.document.read"))
            .count()
            .get_result(c)
            .unwrap()
    })
    .await;
    assert_eq!(reads, 1);
    let tampered = app.get(&format!("{url}x"), None).await;
    assert_problem_zh(tampered, StatusCode::NOT_FOUND, "link_expired").await;
}

async fn bad_input_is_refused_and_changes_nothing(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let mut bad = line("B-1", 100);
    bad["total_fen"] = json!(-5);
    let mut fraction = line("B-2", 100);
    fraction["insurance_fen"] = json!(10.5);
    let mut absurd = line("B-3", 100);
    absurd["total_fen"] = json!(10_000_001);
    let mut over = line("B-4", 100);
    over["out_of_pocket_fen"] = json!(9_000);
    let mut future = line("B-5", 100);
    future["treated_on"] = json!(day(3).to_string());
    let body = json!({
        "enrollment_id": aid.enrollment,
        "lines": [bad, fraction, absurd, over, future],
        "payee": { "account_name": "王建军", "bank": "工行", "account_number": "12ab" },
    });
    assert_invalid(
        aid.create(&aid.worker, &body).await,
        &[
            ("lines.0.total_fen", "negative"),
            ("lines.1.insurance_fen", "not_integer"),
            ("lines.2.total_fen", "too_large"),
            ("lines.3.out_of_pocket_fen", "exceeds_total"),
            ("lines.4.treated_on", "in_future"),
            ("payee.account_number", "invalid"),
        ],
    )
    .await;
    assert_eq!(aid.stored_claims().await, 0);

    // Files: not JPEG/PNG/PDF by content → 415; over 10 MB → 413; nothing attached.
    let claim = id(&aid.draft(vec![line("B-6", 100)]).await);
    let html = aid
        .upload(
            &aid.worker,
            &claim,
            "invoice",
            "invoice.pdf",
            b"<html><script>x</script></html>",
        )
        .await;
    assert_problem_zh(
        html,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
    )
    .await;
    let mut big = PDF.to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    let large = aid
        .upload(&aid.worker, &claim, "invoice", "big.pdf", &big)
        .await;
    assert_problem_zh(large, StatusCode::PAYLOAD_TOO_LARGE, "file_too_large").await;
    let unknown = aid.upload(&aid.worker, &claim, "x-ray", "a.pdf", PDF).await;
    assert_invalid(unknown, &[("kind", "not_allowed")]).await;
    let shown = expect(
        app.get(&format!("{CLAIMS}/{claim}"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["documents"].as_array().unwrap().len(), 0);

    // A plan with bad rules lists every problem and is not stored.
    let mut rules = plan_form("坏计划", 0);
    rules["fee_fen"] = json!(-1);
    rules["benefits"][0]["minimum_fen"] = json!(4_000_000);
    let resp = app.post(ADMIN_PLANS, &rules, Some(&aid.admin)).await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"fee_fen"), "{body}");
    assert!(
        fields.iter().any(|f| f.starts_with("benefits.0.")),
        "{body}"
    );
    let plans = expect(app.get(ADMIN_PLANS, Some(&aid.admin)).await, StatusCode::OK).await;
    assert_eq!(plans["items"].as_array().unwrap().len(), 1);
    assert_view("admin_plans", &plans);

    // A stale plan save is refused.
    let mut update = plan_form("2027 年度大病医疗互助（修订）", 0);
    update["version"] = json!(1);
    let path = format!("{ADMIN_PLANS}/{}", aid.plan);
    let saved = expect(
        app.request(Method::PUT, &path, Some(&update), Some(&aid.admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(saved["version"], 2);
    let stale = app
        .request(Method::PUT, &path, Some(&update), Some(&aid.admin))
        .await;
    assert_problem_zh(stale, StatusCode::CONFLICT, "plan_version").await;
}

async fn submission_checks_name_what_is_missing(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;

    // Documents missing: the error names them.
    let claim = id(&aid.draft(vec![line("C-1", 10_000)]).await);
    let resp = aid.submit(&aid.worker, &claim, None).await;
    let body = assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "documents_missing").await;
    assert!(body["detail"].as_str().unwrap().contains("发票"), "{body}");

    // Treated before the coverage started.
    let mut early = line("C-2", 10_000);
    early["treated_on"] = json!(day(-1).to_string());
    let claim = id(&aid.draft(vec![early]).await);
    aid.documents(&claim).await;
    let resp = aid.submit(&aid.worker, &claim, None).await;
    assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "not_covered").await;

    // In the waiting period of a plan with one.
    let waiting = id(&expect(
        app.post(ADMIN_PLANS, &plan_form("等待期计划", 30), Some(&aid.admin))
            .await,
        StatusCode::CREATED,
    )
    .await);
    let enrollment = id(&expect(
        app.post(ENROL, &json!({ "plan_id": waiting }), Some(&aid.worker))
            .await,
        StatusCode::CREATED,
    )
    .await);
    expect(
        app.post(
            PAYMENTS,
            &json!({ "enrollment_ids": [enrollment], "method": "cash", "reference": "收据 0001" }),
            Some(&aid.finance),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let body =
        json!({ "enrollment_id": enrollment, "lines": [line("C-3", 10_000)], "payee": payee() });
    let claim = id(&expect(aid.create(&aid.worker, &body).await, StatusCode::CREATED).await);
    aid.documents(&claim).await;
    let resp = aid.submit(&aid.worker, &claim, None).await;
    assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "waiting_period").await;

    // Fee not paid.
    let unpaid = aid.member("li", "李国强", 2).await;
    let enrollment = id(&expect(
        app.post(ENROL, &json!({ "plan_id": aid.plan }), Some(&unpaid))
            .await,
        StatusCode::CREATED,
    )
    .await);
    let again = app
        .post(ENROL, &json!({ "plan_id": aid.plan }), Some(&unpaid))
        .await;
    assert_problem_zh(again, StatusCode::CONFLICT, "already_enrolled").await;
    let body =
        json!({ "enrollment_id": enrollment, "lines": [line("C-4", 10_000)], "payee": payee() });
    let claim = id(&expect(aid.create(&unpaid, &body).await, StatusCode::CREATED).await);
    for kind in ["invoice", "diagnosis_certificate"] {
        expect(
            aid.upload(&unpaid, &claim, kind, "a.pdf", PDF).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let resp = aid.submit(&unpaid, &claim, None).await;
    assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "not_enrolled").await;

    // A worker who is not a member cannot enrol.
    let stranger = aid.w.worker("stranger").await;
    let resp = app
        .post(ENROL, &json!({ "plan_id": aid.plan }), Some(&stranger))
        .await;
    assert_problem_zh(resp, StatusCode::NOT_FOUND, "not_a_member").await;

    // Nothing of this reached the queue.
    let queue = expect(app.get(QUEUE, Some(&aid.reviewer_a)).await, StatusCode::OK).await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 0, "{queue}");
}

async fn retried_create_and_submit_act_once(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let body = json!({ "enrollment_id": aid.enrollment, "lines": [line("D-1", 10_000)], "payee": payee() });
    let send = |key: &'static str, body: Value| {
        let req = app
            .client
            .post(format!("{}{CLAIMS}", app.base))
            .bearer_auth(&aid.worker)
            .header("Idempotency-Key", key)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let first = send("3f1c-retry", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let retry = send("3f1c-retry", body.clone()).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(aid.stored_claims().await, 1);
    let mut other = body.clone();
    other["lines"][0]["invoice_number"] = json!("D-2");
    let reused = send("3f1c-retry", other).await;
    assert_invalid(reused, &[("Idempotency-Key", "idempotency_key_reused")]).await;
    assert_eq!(aid.stored_claims().await, 1);

    // Two taps at once with one key (a draft without lines, so no invoice can collide): both
    // answer the one claim, the second replayed once the first has committed.
    let draft = json!({ "enrollment_id": aid.enrollment, "payee": payee() });
    let (x, y) = tokio::join!(send("twin", draft.clone()), send("twin", draft.clone()));
    assert_eq!(
        (x.status(), y.status()),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    let replayed = [&x, &y]
        .iter()
        .filter(|r| r.headers().get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, 1);
    let (x, y): (Value, Value) = (x.json().await.unwrap(), y.json().await.unwrap());
    assert_eq!(x, y);
    assert_eq!(aid.stored_claims().await, 2);

    // Submit twice with one key: one submission, the same answer.
    let claim = id(&first);
    aid.documents(&claim).await;
    let a = expect(
        aid.submit(&aid.worker, &claim, Some("tap")).await,
        StatusCode::OK,
    )
    .await;
    let b = expect(
        aid.submit(&aid.worker, &claim, Some("tap")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a, b);
    let shown = expect(
        app.get(&format!("{CLAIMS}/{claim}"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(actions(&shown), ["submit"]);
    // Without the key, a second submit is an illegal transition, not a second filing.
    let c = aid.submit(&aid.worker, &claim, None).await;
    assert_problem(c, StatusCode::CONFLICT, "illegal_transition").await;
}

async fn a_claim_needing_no_documents_is_filed_in_one_request(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let file = |enrollment: &str, invoice: &str, key: &'static str| {
        let body = json!({ "enrollment_id": enrollment, "lines": [line(invoice, 10_000)],
                           "payee": payee(), "submit": true });
        let req = app
            .client
            .post(format!("{}{CLAIMS}", app.base))
            .bearer_auth(&aid.worker)
            .header("Idempotency-Key", key)
            .json(&body);
        async move { req.send().await.unwrap() }
    };

    // The plan asks for documents: refused as a submission would be, and nothing is stored.
    let resp = file(&aid.enrollment, "E-1", "one-go-1").await;
    let body = assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "documents_missing").await;
    assert!(body["detail"].as_str().unwrap().contains("发票"), "{body}");
    assert_eq!(aid.stored_claims().await, 0);

    // A plan that asks for none: filed at once; a retry answers the same claim.
    let mut form = plan_form("免材料互助", 0);
    for benefit in form["benefits"].as_array_mut().unwrap() {
        benefit["required_documents"] = json!([]);
    }
    let plan = id(&expect(
        app.post(ADMIN_PLANS, &form, Some(&aid.admin)).await,
        StatusCode::CREATED,
    )
    .await);
    let enrollment = id(&expect(
        app.post(ENROL, &json!({ "plan_id": plan }), Some(&aid.worker))
            .await,
        StatusCode::CREATED,
    )
    .await);
    expect(
        app.post(
            PAYMENTS,
            &json!({ "enrollment_ids": [enrollment], "method": "paid_by_union" }),
            Some(&aid.finance),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let first = file(&enrollment, "E-1", "one-go-2").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "submitted", "{first}");
    assert_eq!(first["claimed_fen"], 400_000, "{first}");
    let retry = file(&enrollment, "E-1", "one-go-2").await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(aid.stored_claims().await, 1);

    // The worker follows it and a reviewer finds it in the queue.
    let claim = id(&first);
    let shown = expect(
        app.get(&format!("{CLAIMS}/{claim}"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(actions(&shown), ["submit"]);
    let queue = expect(app.get(QUEUE, Some(&aid.reviewer_a)).await, StatusCode::OK).await;
    assert_eq!(queue["items"][0]["id"], first["id"], "{queue}");
    // Its creation and its submission are both in the audit log.
    let mut audited: Vec<String> = db(app, move |c| {
        audit_log::table
            .filter(audit_log::record_id.eq(claim))
            .select(audit_log::action)
            .load(c)
            .unwrap()
    })
    .await;
    audited.sort();
    assert_eq!(
        audited,
        ["mutual_aid.claim.create", "mutual_aid.claim.submit"]
    );
}

async fn invoices_are_claimed_once_and_racing_reviewers_one_wins(shape: Shape) {
    let aid = Aid::new(shape).await;
    let claim = aid.submitted(vec![line("E-1", 10_000)]).await;

    // The same invoice of the same hospital (typed differently) cannot be claimed again.
    let body =
        json!({ "enrollment_id": aid.enrollment, "lines": [line(" e-1 ", 500)], "payee": payee() });
    let dup = aid.create(&aid.worker, &body).await;
    assert_problem_zh(dup, StatusCode::CONFLICT, "duplicate_invoice").await;
    assert_eq!(aid.stored_claims().await, 1);

    // Two reviewers take the claim at once: one wins, the other gets 409.
    let (a, b) = tokio::join!(
        aid.act(&aid.reviewer_a, &claim, "take", None),
        aid.act(&aid.reviewer_b, &claim, "take", None)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);

    // Rejected with a numbered reason, its invoice may be claimed again.
    let reviewer = if a.status() == StatusCode::OK {
        &aid.reviewer_a
    } else {
        &aid.reviewer_b
    };
    let rejected = expect(
        aid.act(
            reviewer,
            &claim,
            "reject",
            Some(&json!({ "reason": "invalid_documents", "text": "发票模糊无法辨认" })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rejected["rejection"]["code"], "invalid_documents");
    assert_eq!(rejected["rejection"]["number"], 6);
    expect(aid.create(&aid.worker, &body).await, StatusCode::CREATED).await;
}

async fn scope_and_roles_guard_claims_and_documents(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let claim = aid.submitted(vec![line("F-1", 10_000)]).await;
    let shown = expect(
        app.get(&format!("{CLAIMS}/{claim}"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    let doc = id(&shown["documents"][0]);

    // Another worker sees neither the claim nor its documents.
    let other = aid.member("zhao", "赵敏", 3).await;
    let resp = app.get(&format!("{CLAIMS}/{claim}"), Some(&other)).await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .post(
            &format!("{CLAIMS}/{claim}/documents/{doc}/link"),
            &json!({}),
            Some(&other),
        )
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;

    // An official of 洛阳 (another branch) does not find it.
    let (ly, _) = aid.w.official("ly-review", &aid.w.ly, "reviewer").await;
    let resp = app.get(&format!("{QUEUE}/{claim}"), Some(&ly)).await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let queue = expect(app.get(QUEUE, Some(&ly)).await, StatusCode::OK).await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 0);
    let resp = aid.act(&ly, &claim, "take", None).await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .get(&format!("{ADMIN_PLANS}/{}", aid.plan), Some(&ly))
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    // A member of 洛阳 does not see the 郑州 plan and cannot enrol in it.
    let ly_worker = aid.w.worker("ly-worker").await;
    let form = json!({
        "real_name": "孙丽", "id_number": person(9), "phone": "13812340009",
        "employer_name": "某某外卖", "industry": "外卖配送", "employment_form": "delivery_rider",
        "city": "洛阳市", "org_id": id(&aid.w.ly_joint),
        "consent": { "accepted": true, "version": "2026-11-20" },
    });
    let application = expect(
        app.post("/api/v1/membership/applications", &form, Some(&ly_worker))
            .await,
        StatusCode::CREATED,
    )
    .await;
    aid.w.approved(&id(&application)).await;
    let plans = expect(app.get(PLANS, Some(&ly_worker)).await, StatusCode::OK).await;
    assert_eq!(plans["items"].as_array().unwrap().len(), 0, "{plans}");
    let resp = app
        .post(ENROL, &json!({ "plan_id": aid.plan }), Some(&ly_worker))
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;

    // Roles: an auditor reads but does not decide; finance does not review; a reviewer does
    // not pay or export; a worker's token is not an official's.
    let (auditor, _) = aid.w.official("zz-audit", &aid.w.zz, "auditor").await;
    expect(
        app.get(&format!("{QUEUE}/{claim}"), Some(&auditor)).await,
        StatusCode::OK,
    )
    .await;
    let resp = aid.act(&auditor, &claim, "take", None).await;
    assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = aid.act(&aid.finance, &claim, "take", None).await;
    assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = app.get(PAYMENT_LIST, Some(&aid.reviewer_a)).await;
    assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = app.get(QUEUE, Some(&aid.worker)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // An official in scope gets a link too; the read is audited under that official.
    let link = expect(
        app.post(
            &format!("{QUEUE}/{claim}/documents/{doc}/link"),
            &json!({}),
            Some(&aid.reviewer_a),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let resp = app.get(link["url"].as_str().unwrap(), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let actors: Vec<String> = db(app, |c| {
        audit_log::table
            .filter(audit_log::action.eq("mutual_aid.document.read"))
            .select(audit_log::actor_kind)
            .load(c)
            .unwrap()
    })
    .await;
    assert_eq!(actors, ["admin"]);

    // The documents are encrypted at rest: both of the claim's files are stored under their
    // generated names, and neither holds the PDF's bytes.
    let stored = app
        .settings
        .data_dir
        .join(format!("documents/claims/{claim}"));
    let mut files = 0;
    for file in std::fs::read_dir(&stored).unwrap().flatten() {
        let bytes = std::fs::read(file.path()).unwrap();
        assert!(!bytes.windows(8).any(|w| w == b"%PDF-1.4"), "{file:?}");
        files += 1;
    }
    assert_eq!(files, 2, "{stored:?}");
}

async fn a_returned_claim_is_completed_and_filed_again(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let claim = aid.submitted(vec![line("G-1", 10_000)]).await;
    expect(
        aid.act(&aid.reviewer_a, &claim, "take", None).await,
        StatusCode::OK,
    )
    .await;
    let returned = expect(
        aid.act(
            &aid.reviewer_a,
            &claim,
            "return",
            Some(&json!({ "note": "请补充出院小结" })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(returned["status"], "returned");
    assert_eq!(returned["return_note"], "请补充出院小结");

    // The worker adds a line and a document, and files it again; the clock of the first
    // submission keeps running.
    let edited = expect(
        app.request(
            Method::PUT,
            &format!("{CLAIMS}/{claim}"),
            Some(&json!({ "lines": [line("G-1", 10_000), line("G-2", 2_000)], "payee": payee() })),
            Some(&aid.worker),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["lines"].as_array().unwrap().len(), 2);
    expect(
        aid.upload(
            &aid.worker,
            &claim,
            "discharge_summary",
            "出院小结.pdf",
            PDF,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let again = expect(aid.submit(&aid.worker, &claim, None).await, StatusCode::OK).await;
    assert_eq!(again["status"], "submitted");
    assert_eq!(again["submitted_at"], returned["submitted_at"]);
    assert_eq!(again["claimed_fen"], 480_000, "{again}");
    let shown = expect(
        app.get(&format!("{CLAIMS}/{claim}"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(actions(&shown), ["submit", "take", "return", "submit"]);
}

/// A chronic-disease line of `total` yuan of which the member paid `paid` yuan (insurance the
/// rest), treated today.
fn chronic(invoice: &str, total: i64, paid: i64) -> Value {
    json!({
        "hospital": "晋城市人民医院", "invoice_number": invoice,
        "treated_on": day(0).to_string(), "kind": "chronic",
        "total_fen": total * 100, "insurance_fen": (total - paid) * 100,
        "out_of_pocket_fen": paid * 100,
    })
}

/// Issue 18, items 1 and 2: the threshold is on total costs (晋城: 总费用), so a line insurance
/// paid in full counts towards it; and the minimum payout never pays more than the member paid.
async fn payouts_count_total_costs_and_never_exceed_the_loss(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let worker = aid.worker.as_str();
    let preview = |claim: String| async move {
        expect(
            app.get(&format!("{CLAIMS}/{claim}/preview"), Some(worker))
                .await,
            StatusCode::OK,
        )
        .await
    };

    // 3,000 yuan paid by insurance and 3,000 by the worker: 6,000 in costs reach the 5,000
    // threshold, and half of what the worker paid is 1,500 yuan.
    let both = aid
        .draft(vec![
            chronic("C-001", 3_000, 0),
            chronic("C-002", 3_000, 3_000),
        ])
        .await;
    let p = preview(id(&both)).await;
    assert_eq!(p["total_fen"], 150_000, "{p}");
    assert_eq!(p["benefits"][0]["claim_costs_fen"], 600_000);
    assert_eq!(p["benefits"][0]["threshold_met"], true);
    assert_eq!(p["benefits"][0]["lines"], json!([0, 1]));

    // 5,000 yuan of costs, 100 paid by the worker: the 300-yuan minimum would pay more than the
    // loss; it pays the 100.
    let small = aid.draft(vec![chronic("C-003", 5_000, 100)]).await;
    let p = preview(id(&small)).await;
    assert_eq!(p["total_fen"], 10_000, "{p}");
    assert_eq!(p["benefits"][0]["limit"], "out_of_pocket");
    assert!(p["benefits"][0]["explanation"]
        .as_str()
        .unwrap()
        .contains("给付不超过个人自付金额"));
}

/// Issue 18, item 7: a form with a field repeated (2,000 `kind` parts, or a second `file`) is
/// refused at the first repeat, and nothing is stored.
async fn an_upload_form_carries_each_field_once(shape: Shape) {
    let aid = Aid::new(shape).await;
    let claim = id(&aid.draft(vec![line("U-001", 10_000)]).await);
    let post = |(content_type, body): (String, Vec<u8>)| {
        let aid = &aid;
        let claim = claim.clone();
        async move {
            aid.w
                .app
                .client
                .post(format!("{}{CLAIMS}/{claim}/documents", aid.w.app.base))
                .bearer_auth(&aid.worker)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let many_kinds = vec![("kind", "invoice"); 2_000];
    assert_problem_zh(
        post(multipart(&many_kinds, "发票.pdf", PDF)).await,
        StatusCode::BAD_REQUEST,
        "duplicate_field",
    )
    .await;
    let two_files = [("kind", "invoice"), ("file", "不是文件")];
    assert_problem_zh(
        post(multipart(&two_files, "发票.pdf", PDF)).await,
        StatusCode::BAD_REQUEST,
        "duplicate_field",
    )
    .await;
    let shown = expect(
        aid.w
            .app
            .get(&format!("{CLAIMS}/{claim}"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["documents"], json!([]), "{shown}");
}

/// The fields a problem names, in order.
fn fields_of(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn preview_and_submit_run_the_same_checks(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;

    // Two lines treated the day before cover began, one inside it; no documents yet.
    let mut early = line("P-1", 10_000);
    early["treated_on"] = json!(day(-1).to_string());
    let mut also_early = line("P-2", 5_000);
    also_early["treated_on"] = json!(day(-1).to_string());
    let claim = id(&aid.draft(vec![early, line("P-3", 2_000), also_early]).await);

    // The preview still shows the amount, and says what submitting would be refused for.
    let preview = expect(
        app.get(&format!("{CLAIMS}/{claim}/preview"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    let refusal = &preview["refusal"];
    assert_eq!(refusal["code"], "not_covered", "{preview}");
    assert_eq!(refusal["status"], 422, "{preview}");
    let expected = ["lines.0.treated_on", "lines.2.treated_on", "documents"];
    assert_eq!(fields_of(refusal), expected, "{preview}");
    let detail = refusal["detail"].as_str().unwrap();
    assert!(
        detail.contains("第 1 条") && detail.contains("第 3 条") && detail.contains("诊断证明"),
        "{detail}"
    );

    // Submitting is refused for exactly those, every line named.
    let resp = aid.submit(&aid.worker, &claim, None).await;
    let body = assert_problem_zh(resp, StatusCode::UNPROCESSABLE_ENTITY, "not_covered").await;
    assert_eq!(fields_of(&body), expected, "{body}");
    assert_eq!(body["detail"], refusal["detail"], "{body}");

    // Fixed — dates inside the cover, documents attached — the preview has nothing to say
    // and the submission goes through.
    let fixed = vec![line("P-1", 10_000), line("P-3", 2_000), line("P-2", 5_000)];
    expect(
        app.request(
            Method::PUT,
            &format!("{CLAIMS}/{claim}"),
            Some(&json!({ "lines": fixed, "payee": payee() })),
            Some(&aid.worker),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    aid.documents(&claim).await;
    let preview = expect(
        app.get(&format!("{CLAIMS}/{claim}/preview"), Some(&aid.worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(preview.get("refusal").is_none(), "{preview}");
    let submitted = expect(aid.submit(&aid.worker, &claim, None).await, StatusCode::OK).await;
    assert_eq!(
        submitted["claimed_fen"], preview["total_fen"],
        "{submitted}"
    );
}

/// A line of `yuan` like [`line`], at `hospital`.
fn line_at(invoice: &str, yuan: i64, hospital: &str) -> Value {
    let mut line = line(invoice, yuan);
    line["hospital"] = json!(hospital);
    line
}

/// The `(likeness, line, other claim)` flags of a reviewer's view of a claim.
fn flags(view: &Value) -> Vec<(String, Value, String)> {
    let mut flags: Vec<_> = view["similar"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["likeness"].as_str().unwrap().to_owned(),
                f["line"].clone(),
                f["other_claim_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    flags.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
    flags
}

async fn an_invoice_is_claimed_once_however_typed_and_lookalikes_are_flagged(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let first = aid
        .submitted(vec![line_at("00123456", 10_000, "晋城市人民医院")])
        .await;

    // The same invoice — separators, no leading zeros, punctuation, full-width digits, the
    // hospital's longer name or another amount — is refused, and nothing is stored.
    for (typed, hospital, yuan) in [
        ("0012-3456", "晋城市人民医院", 10_000),
        ("123456", "山西省晋城市人民医院", 10_000),
        ("12.34.56", "晋城市人民医院（东院）", 10_000),
        ("１２３４５６", "晋城市 人民医院", 9_000),
    ] {
        let body = json!({ "enrollment_id": aid.enrollment,
            "lines": [line_at(typed, yuan, hospital)], "payee": payee() });
        let dup = aid.create(&aid.worker, &body).await;
        assert_problem_zh(dup, StatusCode::CONFLICT, "duplicate_invoice").await;
    }
    assert_eq!(aid.stored_claims().await, 1);

    // Another invoice number, but the same amount and day at the same hospital by another
    // name, with the very same document bytes: filed, and flagged to the reviewer naming
    // the first claim.
    let lookalike = aid
        .submitted(vec![line_at("7788", 10_000, "晋城人民医院")])
        .await;
    // The same number at a hospital of another name, another amount: filed and flagged.
    let renamed = line_at("0123456", 8_000, "晋城市第一人民医院东院");
    let same_number = aid
        .submitted(vec![line_at("7799", 100, "晋城市中医院"), renamed])
        .await;

    let reviewer = aid.reviewer_a.as_str();
    let view = |claim: String| async move {
        expect(
            app.get(&format!("{QUEUE}/{claim}"), Some(reviewer)).await,
            StatusCode::OK,
        )
        .await
    };
    let seen = view(lookalike.clone()).await;
    let expected = vec![
        ("same_amount_and_day".to_owned(), json!(0), first.clone()),
        ("same_document".to_owned(), Value::Null, first.clone()),
        ("same_document".to_owned(), Value::Null, same_number.clone()),
    ];
    assert_eq!(flags(&seen), expected, "{seen}");
    assert_eq!(seen["similar"][0]["other_status"], "submitted", "{seen}");
    let seen = view(same_number.clone()).await;
    let numbers: Vec<_> = flags(&seen)
        .into_iter()
        .filter(|f| f.0 == "same_invoice_number")
        .collect();
    assert_eq!(
        numbers,
        vec![("same_invoice_number".to_owned(), json!(1), first.clone())],
        "{seen}"
    );
    assert!(seen["similar"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["likeness_label"] == "发票号码相同"));
}

/// A worker deciding whether to join reads the plans: of the organisation they name, then of
/// the one their application went to; enrolling still waits for the membership.
async fn a_worker_not_yet_a_member_reads_the_plans_they_could_join(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let stranger = aid.w.worker("stranger").await;
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // Nothing says which union: the refusal asks for one, in Chinese.
    let resp = app.get(PLANS, Some(&stranger)).await;
    assert_invalid(resp, &[("org_id", "org_required")]).await;

    // The union they would join (below 郑州市总工会, which runs the plan) shows it; another
    // city's union does not; an unknown one is not found.
    let joint = id(&aid.w.zz_joint);
    let at = |org: &str| format!("{PLANS}?org_id={org}");
    let plans = expect(app.get(&at(&joint), Some(&stranger)).await, StatusCode::OK).await;
    assert_eq!(names(&plans), ["2027 年度大病医疗互助"], "{plans}");
    let plans = expect(
        app.get(&at(&aid.w.ly), Some(&stranger)).await,
        StatusCode::OK,
    )
    .await;
    assert!(names(&plans).is_empty(), "{plans}");
    let resp = app
        .get(&at(&uuid::Uuid::new_v4().to_string()), Some(&stranger))
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;

    // Once they have applied, their application's union is used without asking.
    let form = aid.w.form_of("陈小明", &person(7), "13812340007");
    aid.w.submit(&stranger, &form).await;
    let plans = expect(app.get(PLANS, Some(&stranger)).await, StatusCode::OK).await;
    assert_eq!(names(&plans), ["2027 年度大病医疗互助"], "{plans}");

    // Enrolling still needs the membership.
    let resp = app
        .post(ENROL, &json!({ "plan_id": aid.plan }), Some(&stranger))
        .await;
    assert_problem_zh(resp, StatusCode::NOT_FOUND, "not_a_member").await;
}

/// Finance and reviewers work with names: the enrolment list names each member and finds a
/// walk-in payer by name, phone or member number; a claim names its member, flags a payee who
/// is someone else, and its timeline says which official acted. Workers' answers stay as they
/// were.
async fn officials_see_members_by_name_and_who_acted(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let enrolments = "/api/v1/admin/mutual-aid/enrollments";

    let found = expect(
        app.get(
            &format!("{enrolments}?q=%E7%8E%8B%E5%BB%BA"),
            Some(&aid.finance),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{found}");
    let member = &items[0]["member"];
    assert_eq!(member["name"], "王建军", "{found}");
    assert_eq!(member["org_name"], "郑州市快递行业联合工会", "{found}");
    let number = member["member_number"].as_str().unwrap().to_owned();
    let by_number = expect(
        app.get(&format!("{enrolments}?q={number}"), Some(&aid.finance))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        by_number["items"].as_array().unwrap().len(),
        1,
        "{by_number}"
    );
    let by_phone = expect(
        app.get(&format!("{enrolments}?q=13812340001"), Some(&aid.finance))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_phone["items"].as_array().unwrap().len(), 1, "{by_phone}");
    let nobody = expect(
        app.get(
            &format!("{enrolments}?q=%E6%9D%8E%E5%9B%9B"),
            Some(&aid.finance),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(nobody["items"].as_array().unwrap().is_empty(), "{nobody}");
    let mine = expect(app.get(ENROL, Some(&aid.worker)).await, StatusCode::OK).await;
    assert!(mine["items"][0].get("member").is_none(), "{mine}");

    // A claim paid to the member's own account, then one to a relative's.
    let own = aid.submitted(vec![line("INV-N-1", 20_000)]).await;
    let body = json!({ "enrollment_id": aid.enrollment, "lines": [line("INV-N-2", 20_000)],
        "payee": { "account_name": "王小丽", "bank": "中国工商银行晋城分行", "account_number": "6222 0212 3456 7890 123" } });
    let other = id(&expect(aid.create(&aid.worker, &body).await, StatusCode::CREATED).await);
    aid.documents(&other).await;
    expect(aid.submit(&aid.worker, &other, None).await, StatusCode::OK).await;
    let queue = expect(app.get(QUEUE, Some(&aid.reviewer_a)).await, StatusCode::OK).await;
    let flag = |claim: &str| {
        let item = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == claim)
            .unwrap();
        assert_eq!(item["member"]["name"], "王建军", "{item}");
        item["payee_not_member"].as_bool().unwrap()
    };
    assert!(!flag(&own), "{queue}");
    assert!(flag(&other), "{queue}");

    expect(
        aid.act(&aid.reviewer_a, &own, "take", None).await,
        StatusCode::OK,
    )
    .await;
    let shown = expect(
        app.get(&format!("{QUEUE}/{own}"), Some(&aid.reviewer_a))
            .await,
        StatusCode::OK,
    )
    .await;
    let steps: Vec<(bool, Option<&str>)> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["by_member"].as_bool().unwrap(), t["actor_name"].as_str()))
        .collect();
    assert_eq!(
        steps,
        [(true, None), (false, Some("zz-review-a"))],
        "{shown}"
    );

    // The worker reads that the union acted, not who, and nothing about the flags.
    let theirs = expect(
        app.get(&format!("{CLAIMS}/{own}"), Some(&aid.worker)).await,
        StatusCode::OK,
    )
    .await;
    let steps: Vec<bool> = theirs["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["by_member"].as_bool().unwrap())
        .collect();
    assert_eq!(steps, [true, false], "{theirs}");
    assert!(
        theirs["timeline"][1].get("actor_name").is_none(),
        "{theirs}"
    );
    assert!(
        theirs.get("member").is_none() && theirs.get("payee_not_member").is_none(),
        "{theirs}"
    );
}

/// A worker on a weak network taps "enrol" twice, with one `Idempotency-Key`: one enrolment,
/// and both taps answer it; without the key a second enrolment is `already_enrolled`.
async fn a_retried_enrolment_enrols_once(shape: Shape) {
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    let tok = aid.member("li", "李四", 2).await;
    let body = json!({ "plan_id": aid.plan });
    let send = |key: Option<&'static str>| app.post_keyed(ENROL, &body, &tok, key);
    let first = send(Some("enrol-1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let retry = send(Some("enrol-1")).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry, first);
    let mine = expect(app.get(ENROL, Some(&tok)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
    assert_problem_zh(send(None).await, StatusCode::CONFLICT, "already_enrolled").await;
}

/// Issue 20: the member hears of their enrolment and of each decision on their claim — in
/// the inbox, and on WeChat while subscriptions last — with the amount as WeChat's `amount`.
async fn the_member_is_told_at_each_step_of_a_claim(shape: Shape) {
    use crate::notifications::{accept, inbox_of, save_template, sent};
    let aid = Aid::new(shape).await;
    let app = &aid.w.app;
    // Approved and the fee recorded while setting up: the member was told both.
    let inbox = inbox_of(app, &aid.worker, 2).await;
    assert_eq!(inbox["items"][1]["kind"], "application", "{inbox}");
    assert_eq!(inbox["items"][0]["kind"], "enrolment", "{inbox}");
    assert!(
        inbox["items"][0]["body"]
            .as_str()
            .unwrap()
            .contains("50.00 元"),
        "{inbox}"
    );

    let tpl = "tpl-claim";
    for topic in ["mutual_aid.claim.returned", "mutual_aid.claim.approved"] {
        save_template(app, &aid.w.root, topic, tpl, "pages/claim/detail?id={id}").await;
    }
    let paid_template = json!({ "template_id": tpl, "page": "pages/claim/detail?id={id}",
                                "data": { "thing1": "{title}", "amount2": "{amount}" } });
    expect(
        app.request(
            Method::PUT,
            "/api/v1/admin/notification-templates/mutual_aid.claim.paid",
            Some(&paid_template),
            Some(&aid.w.root),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    for _ in 0..3 {
        accept(app, &aid.worker, tpl).await;
    }
    let claim = aid.submitted(vec![line("N-1", 10_000)]).await;
    expect(
        aid.act(&aid.reviewer_a, &claim, "take", None).await,
        StatusCode::OK,
    )
    .await;
    expect(
        aid.act(
            &aid.reviewer_a,
            &claim,
            "return",
            Some(&json!({ "note": "请补充出院小结" })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    expect(aid.submit(&aid.worker, &claim, None).await, StatusCode::OK).await;
    expect(
        aid.act(&aid.reviewer_a, &claim, "take", None).await,
        StatusCode::OK,
    )
    .await;
    let approved = expect(
        aid.act(
            &aid.reviewer_a,
            &claim,
            "approve",
            Some(&json!({ "cuts": [] })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(approved["status"], "approved", "{approved}");
    let paid = expect(
        aid.act(
            &aid.finance,
            &claim,
            "paid",
            Some(&json!({ "bank_reference": "ICBC-N-1" })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let fen = paid["paid_fen"].as_i64().unwrap();

    let messages = sent(app, 3).await;
    let titles: Vec<&str> = messages
        .iter()
        .map(|m| m["data"]["thing1"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["理赔申请需补充材料", "理赔申请已核准", "互助金已支付"]
    );
    assert_eq!(messages[0]["data"]["thing3"]["value"], "请补充出院小结");
    assert_eq!(
        messages[2]["data"]["amount2"]["value"],
        format!("¥{}.{:02}", fen / 100, fen % 100)
    );
    assert!(messages
        .iter()
        .all(|m| m["page"] == format!("pages/claim/detail?id={claim}")));
    // No diagnosis, no account number in what WeChat carries.
    let text = serde_json::to_string(&messages).unwrap();
    assert!(!text.contains("6222") && !text.contains("诊断"), "{text}");
    let inbox = inbox_of(app, &aid.worker, 5).await;
    assert_eq!(inbox["items"][0]["title"], "互助金已支付");
    assert_eq!(inbox["unread"], 5);
}
