//! [`MutualAidRepository`] on the shared schema: plans and their versions, enrolments, claims
//! with their lines, documents and timeline.
//!
//! Races are settled by the database. A plan save is one `UPDATE … WHERE version = expected`.
//! A review or payment command ([`MutualAidRepository::decide`]) first locks the member's
//! enrolment (a write that changes nothing) and then the claim (`SELECT … FOR UPDATE`; on
//! SQLite the transaction's write lock holds both), in that order everywhere, and judges the
//! claim as it finds it: of two reviewers deciding at once the second is judged on what the
//! first wrote, and two approvals for one member read each other's payouts under the annual
//! cap. A submission holds the claim only: it changes nothing the annual cap is judged by. An invoice is claimed once through
//! the unique indexes on the lines' `invoice_key` and `invoice_day_key`, which a rejection
//! clears.
//!
//! Stored forms: enums by their `as_str` codes, plan rules and payout breakdowns as JSON. A
//! stored value that does not read back is reported as an unexpected error, never a panic.

mod claims;
mod documents;
mod enrolments;
mod plans;

use yiwang_domain::money::Fen;
use yiwang_domain::store::RepoError;

use super::{corrupt, TxError};

pub(super) fn json_of<T: serde::Serialize>(value: &T) -> Result<String, TxError> {
    serde_json::to_string(value).map_err(|e| TxError::Repo(RepoError::Unexpected(Box::new(e))))
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, RepoError> {
    serde_json::from_str(text).map_err(|_| corrupt(what, text))
}

pub(super) fn fen(what: &str, value: i64) -> Result<Fen, RepoError> {
    Fen::new(value).ok_or_else(|| corrupt(what, &value.to_string()))
}

pub(super) fn parsed<T>(
    what: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, RepoError> {
    parse(value).ok_or_else(|| corrupt(what, value))
}

#[allow(unused_imports)]
use claims::*;
#[allow(unused_imports)]
use enrolments::*;
#[allow(unused_imports)]
use plans::*;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {

    use chrono::{DateTime, NaiveDate, Utc};
    use diesel::prelude::*;
    use serde_json::json;
    use uuid::Uuid;
    use yiwang_domain::account::AccountId;
    use yiwang_domain::audit::Change;
    use yiwang_domain::membership::member::MemberId;
    use yiwang_domain::money::Fen;
    use yiwang_domain::mutual_aid::claim::{
        Claim, ClaimAction, ClaimId, ClaimLine, ClaimStatus, Document, DocumentId, MediaType,
        Payee, Rejection, RejectionReason,
    };
    use yiwang_domain::mutual_aid::enrolment::{Enrolment, EnrolmentId, FeePayment, PaymentMethod};

    use yiwang_domain::mutual_aid::plan::{DocumentKind, Plan, PlanId, PlanRules};
    use yiwang_domain::mutual_aid::review::{Command, Outcome};
    use yiwang_domain::mutual_aid::store::{
        ClaimFilter, CommandInput, Created, EnrolmentFilter, MutualAidConflict, NewClaim,
    };

    use yiwang_domain::store::{PageRequest, RepoError};

    use crate::db::{to_naive, unexpected, Database};

    use chrono::TimeZone;
    use yiwang_domain::audit::{Actor, AuditEntry};
    use yiwang_domain::mutual_aid::claim::LineInput;
    use yiwang_domain::mutual_aid::plan::{BenefitInput, PlanInput};
    use yiwang_domain::mutual_aid::review::LineApproval;
    use yiwang_domain::mutual_aid::store::{
        ClaimDocumentRepository, ClaimRepository, EnrolmentRepository, PlanRepository,
    };
    use yiwang_domain::org::{OrgKind, OrgName, Organisation};
    use yiwang_domain::refusal::RefusalKind;
    use yiwang_domain::store::{OrgRepository, WorkerRepository};

    use crate::db::schema::{members, membership_applications};
    use crate::db::test_env::backends;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, day, 8, 0, 0).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn change() -> Change {
        Change {
            audit: AuditEntry {
                actor: Actor::System,
                action: "mutual_aid.test".into(),
                record_type: "claim".into(),
                record_id: "-".into(),
                ip: None,
                request_id: None,
                detail: json!({}),
                at: at(1),
            },
            event: None,
            answer: None,
        }
    }

    fn rules() -> PlanRules {
        let benefit = BenefitInput {
            kind: Some("inpatient".into()),
            threshold_fen: Some(json!(900_000)),
            deductible_fen: Some(json!(0)),
            rate_basis_points: Some(json!(5_000)),
            minimum_fen: Some(json!(30_000)),
            maximum_fen: Some(json!(3_000_000)),
            annual_cap_fen: Some(json!(3_000_000)),
            required_documents: vec!["invoice".into()],
        };
        PlanInput {
            name: Some("大病医疗互助".into()),
            starts_on: Some("2027-01-01".into()),
            ends_on: Some("2027-12-31".into()),
            enrolment_opens_on: Some("2027-01-01".into()),
            enrolment_closes_on: Some("2027-03-31".into()),
            fee_fen: Some(json!(5_000)),
            employment_forms: vec![],
            waiting_days: Some(json!(0)),
            second_review_from_fen: Some(json!(1_000_000)),
            benefits: vec![benefit],
        }
        .validate()
        .unwrap()
    }

    struct Fixture {
        root: Organisation,
        child: Organisation,
        plan: Plan,
        enrollment: Enrolment,
    }

    /// A city union with a district below it, a plan of the city's, and a member of the
    /// district enrolled in it (not paid).
    async fn seed(db: &Database) -> Fixture {
        let name = |n: &str| OrgName::parse(n).unwrap();
        let root = Organisation::new_root(name("晋城市总工会"), OrgKind::CityFederation, at(1));
        let child = root.new_child(name("城区总工会"), OrgKind::CountyFederation, true, at(1));
        for org in [&root, &child] {
            OrgRepository::create(db, org, &change()).await.unwrap();
        }
        let worker = db.login_by_openid("o-1", None, at(1)).await.unwrap().0.id;
        let member = MemberId::new();
        let (child_id, child_path) = (child.id.to_string(), child.path.as_str().to_owned());
        db.run(move |c| {
            let now = to_naive(at(1));
            let application = Uuid::now_v7().to_string();
            diesel::insert_into(membership_applications::table)
                .values((
                    membership_applications::id.eq(&application),
                    membership_applications::account_id.eq(worker.to_string()),
                    membership_applications::org_id.eq(&child_id),
                    membership_applications::org_path.eq(&child_path),
                    membership_applications::status.eq("approved"),
                    membership_applications::employment_form.eq("delivery_rider"),
                    membership_applications::consent_version.eq("1"),
                    membership_applications::consented_at.eq(now),
                    membership_applications::submitted_at.eq(now),
                    membership_applications::created_at.eq(now),
                    membership_applications::updated_at.eq(now),
                ))
                .execute(c)
                .map_err(unexpected)?;
            diesel::insert_into(members::table)
                .values((
                    members::id.eq(member.to_string()),
                    members::account_id.eq(worker.to_string()),
                    members::application_id.eq(&application),
                    members::member_number.eq("JC-000001"),
                    members::org_id.eq(&child_id),
                    members::org_path.eq(&child_path),
                    members::status.eq("active"),
                    members::employment_form.eq("delivery_rider"),
                    members::joined_on.eq(day("2027-01-01")),
                    members::created_at.eq(now),
                    members::updated_at.eq(now),
                ))
                .execute(c)
                .map_err(unexpected)?;
            Ok(())
        })
        .await
        .unwrap();
        let plan = Plan {
            id: PlanId::new(),
            org_id: root.id,
            org_path: root.path.clone(),
            rules: rules(),
            version: 1,
            created_at: at(1),
            updated_at: at(1),
        };
        db.create_plan(&plan, AccountId::new(), &change())
            .await
            .unwrap();
        let enrollment = Enrolment {
            id: EnrolmentId::new(),
            plan_id: plan.id,
            member_id: member,
            account_id: worker,
            org_id: child.id,
            org_path: child.path.clone(),
            requested_on: day("2027-01-02"),
            payment: None,
        };
        db.enrol(&enrollment, &change()).await.unwrap();
        Fixture {
            root,
            child,
            plan,
            enrollment,
        }
    }

    fn payment(on: &str) -> FeePayment {
        FeePayment {
            method: PaymentMethod::PaidByUnion,
            amount_fen: Fen::yuan(50),
            reference: None,
            recorded_by: AccountId::new(),
            activated_on: day(on),
        }
    }

    fn line(invoice: &str, yuan: i64) -> ClaimLine {
        LineInput {
            hospital: Some("晋城市 人民医院".into()),
            invoice_number: Some(invoice.into()),
            treated_on: Some("2027-05-01".into()),
            kind: Some("inpatient".into()),
            total_fen: Some(json!(yuan * 100)),
            insurance_fen: Some(json!(0)),
            out_of_pocket_fen: Some(json!(yuan * 100)),
        }
        .validate("", day("2027-06-01"))
        .unwrap()
    }

    /// Starts a claim of the fixture's worker with `lines` and a payee, filed at once when
    /// `submit`.
    async fn create(
        db: &Database,
        f: &Fixture,
        lines: Vec<ClaimLine>,
        submit: bool,
    ) -> Result<Created, RepoError> {
        let payee = Payee {
            account_name: "王师傅".into(),
            bank: "中国工商银行晋城分行".into(),
            account_kid: "k1".into(),
            account_sealed: "c2VhbGVk".into(),
            account_masked: "6222********1234".into(),
        };
        let new = NewClaim {
            account: f.enrollment.account_id,
            enrollment: f.enrollment.id,
            lines,
            payee: Some(payee),
            submit,
            at: at(2),
        };
        db.create_claim(new, Box::new(|_| vec![change()])).await
    }

    /// Files a draft claim of the fixture's worker with `lines`.
    async fn file(db: &Database, f: &Fixture, lines: Vec<ClaimLine>) -> Result<Claim, RepoError> {
        match create(db, f, lines, false).await {
            Ok(created) => Ok(created.draft),
            Err(e) => Err(e),
        }
    }

    fn document(claim: ClaimId) -> Document {
        Document {
            id: DocumentId::new(),
            claim_id: claim,
            kind: DocumentKind::Invoice,
            media_type: MediaType::Pdf,
            size_bytes: 10,
            object_key: format!("claims/{claim}/x.pdf"),
            file_name: "发票.pdf".into(),
            sha256: "00".into(),
            uploaded_at: at(3),
        }
    }

    fn input(command: Command, actor: AccountId) -> CommandInput {
        CommandInput {
            command,
            actor,
            at: at(5),
        }
    }

    async fn run(
        db: &Database,
        id: ClaimId,
        command: Command,
        actor: AccountId,
    ) -> Result<Outcome, RepoError> {
        db.decide(id, &input(command, actor), Box::new(|_| change()))
            .await
    }

    #[tokio::test]
    async fn plans_keep_every_version_and_refuse_a_stale_save() {
        for env in backends() {
            let db = &env.db;
            let f = seed(db).await;
            let mut changed = f.plan.rules.clone();
            changed.fee_fen = Fen::yuan(60);
            let saved = db
                .save_plan(f.plan.id, 1, &changed, AccountId::new(), at(2), &change())
                .await
                .unwrap();
            assert_eq!((saved.version, saved.rules.fee_fen), (2, Fen::yuan(60)));
            let stale = db
                .save_plan(f.plan.id, 1, &changed, AccountId::new(), at(3), &change())
                .await;
            assert!(
                matches!(&stale, Err(RepoError::Refused(r)) if r.is(&MutualAidConflict::PlanVersion))
            );
            assert_eq!(
                db.plan_version(f.plan.id, 1).await.unwrap().fee_fen,
                Fen::yuan(50)
            );
            assert_eq!(db.plan(f.plan.id).await.unwrap().version, 2);
            let open: Vec<PlanId> = db
                .plans_for(&f.child.path)
                .await
                .unwrap()
                .iter()
                .map(|p| p.id)
                .collect();
            assert_eq!(
                open,
                vec![f.plan.id],
                "a district member sees the city's plan"
            );
            assert!(db
                .plans(
                    &f.child.path,
                    &PageRequest {
                        after: None,
                        limit: 10
                    }
                )
                .await
                .unwrap()
                .items
                .is_empty());
            assert_eq!(
                db.plans(
                    &f.root.path,
                    &PageRequest {
                        after: None,
                        limit: 10
                    }
                )
                .await
                .unwrap()
                .items
                .len(),
                1
            );
        }
    }

    #[tokio::test]
    async fn an_enrolment_is_made_and_paid_once() {
        for env in backends() {
            let db = &env.db;
            let f = seed(db).await;
            let again = Enrolment {
                id: EnrolmentId::new(),
                ..f.enrollment.clone()
            };
            let twice = db.enrol(&again, &change()).await;
            assert!(
                matches!(&twice, Err(RepoError::Refused(r)) if r.is(&MutualAidConflict::AlreadyEnrolled))
            );
            let unknown = db
                .record_payments(
                    &[f.enrollment.id, EnrolmentId::new()],
                    &payment("2027-01-05"),
                    &change(),
                )
                .await;
            assert!(matches!(unknown, Err(RepoError::NotFound)));
            assert!(
                db.enrollment(f.enrollment.id)
                    .await
                    .unwrap()
                    .payment
                    .is_none(),
                "nothing half-paid"
            );
            let paid = db
                .record_payments(&[f.enrollment.id], &payment("2027-01-05"), &change())
                .await
                .unwrap();
            assert!(paid[0].1);
            let again = db
                .record_payments(&[f.enrollment.id], &payment("2027-02-01"), &change())
                .await
                .unwrap();
            assert!(!again[0].1, "recorded once");
            assert_eq!(
                again[0].0.payment.as_ref().unwrap().activated_on,
                day("2027-01-05")
            );
            let unpaid = EnrolmentFilter {
                plan: Some(f.plan.id),
                paid: Some(false),
                member: None,
            };
            let page = PageRequest {
                after: None,
                limit: 10,
            };
            assert!(db
                .enrollments(&f.root.path, &unpaid, &page)
                .await
                .unwrap()
                .items
                .is_empty());
        }
    }

    #[tokio::test]
    async fn a_claim_filed_at_once_is_submitted_whole_or_not_stored() {
        for env in backends() {
            let db = &env.db;
            let f = seed(db).await;
            db.record_payments(&[f.enrollment.id], &payment("2027-01-05"), &change())
                .await
                .unwrap();
            let worker = f.enrollment.account_id;
            // The plan asks for an invoice: refused with the submission's code, nothing stored.
            match create(db, &f, vec![line("F-1", 12_000)], true).await {
                Err(RepoError::Refused(r)) if r.kind == RefusalKind::Invalid => {
                    assert_eq!(r.code, "documents_missing");
                }
                other => panic!("{other:?}"),
            }
            assert!(db.claims_of(worker).await.unwrap().is_empty());

            let mut rules = f.plan.rules.clone();
            rules.benefits[0].required_documents.clear();
            db.save_plan(f.plan.id, 1, &rules, AccountId::new(), at(2), &change())
                .await
                .unwrap();
            let created = create(db, &f, vec![line("F-1", 12_000)], true)
                .await
                .unwrap();
            let filed = created.claim();
            assert_eq!(created.draft.status, ClaimStatus::Draft);
            assert_eq!(filed.status, ClaimStatus::Submitted);
            assert_eq!(filed.plan_version, 2);
            assert_eq!(filed.claimed_fen, Some(Fen::yuan(6_000)));
            assert_eq!(db.claim(filed.id).await.unwrap(), *filed);
            let steps: Vec<(ClaimAction, ClaimStatus, ClaimStatus)> = db
                .claim_events(filed.id)
                .await
                .unwrap()
                .iter()
                .map(|e| (e.action, e.from, e.to))
                .collect();
            assert_eq!(
                steps,
                vec![(
                    ClaimAction::Submit,
                    ClaimStatus::Draft,
                    ClaimStatus::Submitted
                )]
            );
            // Its invoice is claimed: filing it again conflicts, and a member whose
            // membership ended is refused; neither stores anything.
            let again = create(db, &f, vec![line("F-1", 12_000)], true).await;
            assert!(
                matches!(&again, Err(RepoError::Refused(r)) if r.is(&MutualAidConflict::DuplicateInvoice)),
                "{again:?}"
            );
            db.run(move |c| {
                diesel::update(members::table.filter(members::account_id.eq(worker.to_string())))
                    .set(members::status.eq("ended"))
                    .execute(c)
                    .map_err(unexpected)
            })
            .await
            .unwrap();
            match create(db, &f, vec![line("F-2", 12_000)], true).await {
                Err(RepoError::Refused(r)) if r.kind == RefusalKind::Invalid => {
                    assert_eq!(r.code, "not_member");
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(db.claims_of(worker).await.unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn claims_move_one_step_at_a_time_and_invoices_are_claimed_once() {
        for env in backends() {
            let db = &env.db;
            let f = seed(db).await;
            db.record_payments(&[f.enrollment.id], &payment("2027-01-05"), &change())
                .await
                .unwrap();
            let first = file(db, &f, vec![line("A-1", 12_000), line("A-2", 30_000)])
                .await
                .unwrap();
            assert_eq!(first.plan_version, 1);
            assert_eq!(db.claim(first.id).await.unwrap(), first);
            let dup = file(db, &f, vec![line(" a-1 ", 100)]).await;
            assert!(
                matches!(&dup, Err(RepoError::Refused(r)) if r.is(&MutualAidConflict::DuplicateInvoice))
            );
            // Under someone else's enrolment: no such enrolment, nothing stored.
            let stranger = NewClaim {
                account: AccountId::new(),
                enrollment: f.enrollment.id,
                lines: vec![line("S-1", 100)],
                payee: None,
                submit: false,
                at: at(2),
            };
            let refused = db
                .create_claim(stranger, Box::new(|_| vec![change()]))
                .await;
            assert!(matches!(refused, Err(RepoError::NotFound)), "{refused:?}");
            assert_eq!(
                db.claims_of(f.enrollment.account_id).await.unwrap().len(),
                1
            );
            let worker = f.enrollment.account_id;
            // No invoice document yet: refused, nothing written.
            match run(db, first.id, Command::Submit, worker).await {
                Err(RepoError::Refused(r)) if r.kind == RefusalKind::Invalid => {
                    assert_eq!(r.code, "documents_missing");
                }
                other => panic!("{other:?}"),
            }
            db.add_document(&document(first.id), &change())
                .await
                .unwrap();
            // Someone else's submission finds no such claim.
            let stranger = run(db, first.id, Command::Submit, AccountId::new()).await;
            assert!(matches!(
                stranger,
                Err(RepoError::Refused(r)) if r.kind == RefusalKind::NotFound
            ));
            // A member whose membership ended is no longer in the plan's subtree.
            let set_status = |status: &'static str| {
                db.run(move |c| {
                    diesel::update(
                        members::table.filter(members::account_id.eq(worker.to_string())),
                    )
                    .set(members::status.eq(status))
                    .execute(c)
                    .map_err(unexpected)
                })
            };
            set_status("ended").await.unwrap();
            match run(db, first.id, Command::Submit, worker).await {
                Err(RepoError::Refused(r)) if r.kind == RefusalKind::Invalid => {
                    assert_eq!(r.code, "not_member");
                }
                other => panic!("{other:?}"),
            }
            set_status("active").await.unwrap();
            let submitted = run(db, first.id, Command::Submit, worker).await.unwrap();
            assert_eq!(submitted.claim.status, ClaimStatus::Submitted);
            assert_eq!(submitted.claim.claimed_fen, Some(Fen::yuan(21_000)));
            assert!(submitted.claim.submitted_at.is_some());
            let late = db
                .update_draft(
                    first.id,
                    &[line("A-3", 1)],
                    first.payee.as_ref(),
                    at(6),
                    &change(),
                )
                .await;
            assert!(
                matches!(&late, Err(RepoError::Refused(r)) if r.is(&MutualAidConflict::NotEditable))
            );

            // Two reviewers take it at once: one wins, the other finds it taken.
            let (a, b) = (AccountId::new(), AccountId::new());
            let (x, y) = tokio::join!(
                run(db, first.id, Command::Take, a),
                run(db, first.id, Command::Take, b)
            );
            let refused = [&x, &y]
                .iter()
                .filter(
                    |r| matches!(r, Err(RepoError::Refused(r)) if r.kind == RefusalKind::Conflict),
                )
                .count();
            assert_eq!((x.is_ok() as u8 + y.is_ok() as u8, refused), (1, 1));

            let cut = LineApproval {
                line_id: first.lines[1].id,
                approved_fen: Fen::yuan(20_000),
                reason: Some("自费药品".into()),
            };
            let approved = run(db, first.id, Command::Approve { cuts: vec![cut] }, a)
                .await
                .unwrap();
            assert_eq!(approved.claim.status, ClaimStatus::SecondReview);
            assert_eq!(approved.claim.approved_fen, Some(Fen::yuan(16_000)));
            assert_eq!(
                approved.claim.lines[1].approved_fen,
                Some(Fen::yuan(20_000))
            );
            let done = run(db, first.id, Command::Approve { cuts: vec![] }, b)
                .await
                .unwrap();
            assert_eq!(done.claim.status, ClaimStatus::Approved);

            // The annual cap of 30,000 yuan: the second claim gets what is left.
            let second = file(db, &f, vec![line("B-1", 60_000)]).await.unwrap();
            db.add_document(&document(second.id), &change())
                .await
                .unwrap();
            run(db, second.id, Command::Submit, worker).await.unwrap();
            run(db, second.id, Command::Take, a).await.unwrap();
            let capped = run(db, second.id, Command::Approve { cuts: vec![] }, a)
                .await
                .unwrap();
            assert_eq!(capped.claim.approved_fen, Some(Fen::yuan(14_000)));

            // A rejected claim frees its invoice.
            let third = file(db, &f, vec![line("C-1", 100)]).await.unwrap();
            db.add_document(&document(third.id), &change())
                .await
                .unwrap();
            run(db, third.id, Command::Submit, worker).await.unwrap();
            run(db, third.id, Command::Take, a).await.unwrap();
            let rejection = Rejection {
                reason: RejectionReason::BelowThreshold,
                text: "不足起付线".into(),
            };
            run(db, third.id, Command::Reject { rejection }, a)
                .await
                .unwrap();
            file(db, &f, vec![line("C-1", 100)]).await.unwrap();

            // Paid once; the timeline tells every step.
            let paid = run(
                db,
                first.id,
                Command::MarkPaid {
                    bank_reference: "B-001".into(),
                },
                a,
            )
            .await
            .unwrap();
            assert_eq!(paid.claim.paid_fen, Some(Fen::yuan(16_000)));
            let again = run(
                db,
                first.id,
                Command::MarkPaid {
                    bank_reference: "B-001".into(),
                },
                a,
            )
            .await
            .unwrap();
            assert!(!again.changed);
            let steps: Vec<ClaimAction> = db
                .claim_events(first.id)
                .await
                .unwrap()
                .iter()
                .map(|e| e.action)
                .collect();
            use ClaimAction::*;
            assert_eq!(steps, vec![Submit, Take, Approve, Approve, MarkPaid]);
            let queue = db
                .claim_queue(
                    &f.root.path,
                    &ClaimFilter::default(),
                    &PageRequest {
                        after: None,
                        limit: 10,
                    },
                )
                .await
                .unwrap()
                .items;
            assert_eq!(queue.len(), 3, "drafts are not in the queue");
            assert_eq!(db.claims_of(worker).await.unwrap().len(), 4);
        }
    }
}
