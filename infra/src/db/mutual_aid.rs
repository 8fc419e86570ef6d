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
//! the unique index on the lines' `invoice_key`, which a rejection clears.
//!
//! Stored forms: enums by their `as_str` codes, plan rules and payout breakdowns as JSON. A
//! stored value that does not read back is reported as an unexpected error, never a panic.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::membership::member::{MemberId, MemberStatus};
use yiwang_domain::money::Fen;
use yiwang_domain::mutual_aid::claim::{
    Claim, ClaimAction, ClaimEvent, ClaimId, ClaimLine, ClaimStatus, Document, DocumentId, LineId,
    MediaType, Payee, Rejection, RejectionReason,
};
use yiwang_domain::mutual_aid::enrollment::{Enrollment, EnrollmentId, FeePayment, PaymentMethod};
use yiwang_domain::mutual_aid::payout::{Payout, YearToDate};
use yiwang_domain::mutual_aid::plan::{BenefitKind, DocumentKind, Plan, PlanId, PlanRules};
use yiwang_domain::mutual_aid::review::{decide, Command, Context, Outcome};
use yiwang_domain::mutual_aid::store::{
    ClaimFilter, CommandInput, Created, EnrollmentFilter, MutualAidConflict, MutualAidRepository,
    NewClaim,
};
use yiwang_domain::org::OrgPath;
use yiwang_domain::repo::{Page, PageRequest, RepoError};

use super::codec::{account_id, org_id};
use super::page::{page_of, start_after, DayKey, TimeKey};
use super::schema::{
    members as m, mutual_aid_claim_events as ev, mutual_aid_claim_lines as l,
    mutual_aid_claims as cl, mutual_aid_documents as d, mutual_aid_enrollments as e,
    mutual_aid_plan_versions as pv, mutual_aid_plans as p,
};
use super::{
    claim_writer, corrupt, decide_held, execute_on, from_naive, held_first, record_change,
    record_changes, to_naive, unexpected, Database, DbConnection, TxError,
};

fn json_of<T: serde::Serialize>(value: &T) -> Result<String, TxError> {
    serde_json::to_string(value).map_err(|e| TxError::Repo(RepoError::Unexpected(Box::new(e))))
}

fn read_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, RepoError> {
    serde_json::from_str(text).map_err(|_| corrupt(what, text))
}

fn fen(what: &str, value: i64) -> Result<Fen, RepoError> {
    Fen::new(value).ok_or_else(|| corrupt(what, &value.to_string()))
}

fn parsed<T>(what: &str, value: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, RepoError> {
    parse(value).ok_or_else(|| corrupt(what, value))
}

// ---------------------------------------------------------------------------------------
// Plans

#[derive(Queryable, Selectable)]
#[diesel(table_name = p)]
struct PlanRow {
    id: String,
    org_id: String,
    org_path: String,
    version: i32,
    rules: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl PlanRow {
    fn into_domain(self) -> Result<Plan, RepoError> {
        Ok(Plan {
            id: parsed("plan id", &self.id, PlanId::parse)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            rules: read_json("plan rules", &self.rules)?,
            version: self.version,
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
        })
    }
}

fn load_plan(c: &mut DbConnection, id: &str) -> Result<Plan, TxError> {
    let row: PlanRow = p::table.find(id).select(PlanRow::as_select()).first(c)?;
    row.into_domain().map_err(TxError::Repo)
}

fn insert_version(
    c: &mut DbConnection,
    plan: &str,
    version: i32,
    rules: &str,
    by: AccountId,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(pv::table)
        .values((
            pv::plan_id.eq(plan),
            pv::version.eq(version),
            pv::rules.eq(rules),
            pv::saved_by.eq(by.to_string()),
            pv::saved_at.eq(at),
        ))
        .execute(c)
}

// ---------------------------------------------------------------------------------------
// Enrolments

#[derive(Queryable, Selectable)]
#[diesel(table_name = e)]
struct EnrollmentRow {
    id: String,
    plan_id: String,
    member_id: String,
    account_id: String,
    org_id: String,
    org_path: String,
    requested_on: NaiveDate,
    payment_method: Option<String>,
    amount_fen: Option<i64>,
    payment_reference: Option<String>,
    recorded_by: Option<String>,
    activated_on: Option<NaiveDate>,
}

impl EnrollmentRow {
    fn into_domain(self) -> Result<Enrollment, RepoError> {
        let payment = match (
            self.payment_method,
            self.amount_fen,
            self.recorded_by,
            self.activated_on,
        ) {
            (Some(method), Some(amount), Some(by), Some(on)) => Some(FeePayment {
                method: parsed("payment method", &method, PaymentMethod::parse)?,
                amount_fen: fen("fee", amount)?,
                reference: self.payment_reference,
                recorded_by: account_id(&by)?,
                activated_on: on,
            }),
            _ => None,
        };
        Ok(Enrollment {
            id: parsed("enrolment id", &self.id, EnrollmentId::parse)?,
            plan_id: parsed("plan id", &self.plan_id, PlanId::parse)?,
            member_id: parsed("member id", &self.member_id, MemberId::parse)?,
            account_id: account_id(&self.account_id)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            requested_on: self.requested_on,
            payment,
        })
    }
}

fn load_enrollment(c: &mut DbConnection, id: &str) -> Result<Enrollment, TxError> {
    let row: EnrollmentRow = e::table
        .find(id)
        .select(EnrollmentRow::as_select())
        .first(c)?;
    row.into_domain().map_err(TxError::Repo)
}

// ---------------------------------------------------------------------------------------
// Claims

#[derive(Queryable, Selectable)]
#[diesel(table_name = cl)]
struct ClaimRow {
    id: String,
    plan_id: String,
    plan_version: i32,
    enrollment_id: String,
    member_id: String,
    account_id: String,
    org_id: String,
    org_path: String,
    status: String,
    claimed_fen: Option<i64>,
    approved_fen: Option<i64>,
    paid_fen: Option<i64>,
    breakdown: Option<String>,
    first_reviewer: Option<String>,
    second_reviewer: Option<String>,
    return_note: Option<String>,
    rejection_code: Option<String>,
    rejection_text: Option<String>,
    bank_reference: Option<String>,
    submitted_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    payee_name: Option<String>,
    payee_bank: Option<String>,
    payee_account_kid: Option<String>,
    payee_account_sealed: Option<String>,
    payee_account_masked: Option<String>,
}

/// The payee columns of `payee` (all `NULL` without one).
#[allow(clippy::type_complexity)]
fn payee_columns(
    payee: Option<&Payee>,
) -> (
    diesel::dsl::Eq<cl::payee_name, Option<String>>,
    diesel::dsl::Eq<cl::payee_bank, Option<String>>,
    diesel::dsl::Eq<cl::payee_account_kid, Option<String>>,
    diesel::dsl::Eq<cl::payee_account_sealed, Option<String>>,
    diesel::dsl::Eq<cl::payee_account_masked, Option<String>>,
) {
    (
        cl::payee_name.eq(payee.map(|p| p.account_name.clone())),
        cl::payee_bank.eq(payee.map(|p| p.bank.clone())),
        cl::payee_account_kid.eq(payee.map(|p| p.account_kid.clone())),
        cl::payee_account_sealed.eq(payee.map(|p| p.account_sealed.clone())),
        cl::payee_account_masked.eq(payee.map(|p| p.account_masked.clone())),
    )
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = l)]
struct LineRow {
    id: String,
    claim_id: String,
    hospital: String,
    invoice_number: String,
    treated_on: NaiveDate,
    kind: String,
    total_fen: i64,
    insurance_fen: i64,
    out_of_pocket_fen: i64,
    approved_fen: Option<i64>,
    cut_reason: Option<String>,
}

impl LineRow {
    fn into_domain(self) -> Result<ClaimLine, RepoError> {
        Ok(ClaimLine {
            id: parsed("line id", &self.id, LineId::parse)?,
            hospital: self.hospital,
            invoice_number: self.invoice_number,
            treated_on: self.treated_on,
            kind: parsed("benefit kind", &self.kind, |s| s.parse().ok())?,
            total_fen: fen("line total", self.total_fen)?,
            insurance_fen: fen("line insurance part", self.insurance_fen)?,
            out_of_pocket_fen: fen("line out-of-pocket part", self.out_of_pocket_fen)?,
            approved_fen: self
                .approved_fen
                .map(|v| fen("line approved", v))
                .transpose()?,
            cut_reason: self.cut_reason,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = d)]
struct DocumentRow {
    id: String,
    claim_id: String,
    kind: String,
    media_type: String,
    size_bytes: i64,
    object_key: String,
    file_name: String,
    sha256: String,
    uploaded_at: NaiveDateTime,
}

impl DocumentRow {
    fn into_domain(self) -> Result<Document, RepoError> {
        Ok(Document {
            id: parsed("document id", &self.id, DocumentId::parse)?,
            claim_id: parsed("claim id", &self.claim_id, ClaimId::parse)?,
            kind: parsed("document kind", &self.kind, |s| {
                s.parse::<DocumentKind>().ok()
            })?,
            media_type: parsed("media type", &self.media_type, MediaType::parse)?,
            size_bytes: self.size_bytes,
            object_key: self.object_key,
            file_name: self.file_name,
            sha256: self.sha256,
            uploaded_at: from_naive(self.uploaded_at),
        })
    }
}

impl ClaimRow {
    fn into_domain(
        self,
        lines: Vec<ClaimLine>,
        documents: Vec<Document>,
    ) -> Result<Claim, RepoError> {
        let rejection = match (self.rejection_code, self.rejection_text) {
            (Some(code), text) => Some(Rejection {
                reason: parsed("rejection reason", &code, RejectionReason::parse)?,
                text: text.unwrap_or_default(),
            }),
            (None, _) => None,
        };
        let payee = match (
            self.payee_name,
            self.payee_bank,
            self.payee_account_kid,
            self.payee_account_sealed,
            self.payee_account_masked,
        ) {
            (
                Some(account_name),
                Some(bank),
                Some(account_kid),
                Some(account_sealed),
                Some(masked),
            ) => Some(Payee {
                account_name,
                bank,
                account_kid,
                account_sealed,
                account_masked: masked,
            }),
            _ => None,
        };
        Ok(Claim {
            id: parsed("claim id", &self.id, ClaimId::parse)?,
            plan_id: parsed("plan id", &self.plan_id, PlanId::parse)?,
            plan_version: self.plan_version,
            enrollment_id: parsed("enrolment id", &self.enrollment_id, EnrollmentId::parse)?,
            member_id: parsed("member id", &self.member_id, MemberId::parse)?,
            account_id: account_id(&self.account_id)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            status: parsed("claim status", &self.status, ClaimStatus::parse)?,
            lines,
            documents,
            claimed_fen: self.claimed_fen.map(|v| fen("claimed", v)).transpose()?,
            approved_fen: self.approved_fen.map(|v| fen("approved", v)).transpose()?,
            paid_fen: self.paid_fen.map(|v| fen("paid", v)).transpose()?,
            breakdown: self
                .breakdown
                .as_deref()
                .map(|b| read_json::<Payout>("payout breakdown", b))
                .transpose()?,
            first_reviewer: self.first_reviewer.as_deref().map(account_id).transpose()?,
            second_reviewer: self
                .second_reviewer
                .as_deref()
                .map(account_id)
                .transpose()?,
            return_note: self.return_note,
            rejection,
            payee,
            bank_reference: self.bank_reference,
            submitted_at: self.submitted_at.map(from_naive),
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
        })
    }
}

/// The claims of `rows` with their lines and documents, in the rows' order.
fn with_details(c: &mut DbConnection, rows: Vec<ClaimRow>) -> Result<Vec<Claim>, TxError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut lines: HashMap<String, Vec<ClaimLine>> = HashMap::new();
    let line_rows: Vec<LineRow> = l::table
        .filter(l::claim_id.eq_any(&ids))
        .order((l::claim_id, l::position))
        .select(LineRow::as_select())
        .load(c)?;
    for row in line_rows {
        let claim = row.claim_id.clone();
        lines
            .entry(claim)
            .or_default()
            .push(row.into_domain().map_err(TxError::Repo)?);
    }
    let mut documents: HashMap<String, Vec<Document>> = HashMap::new();
    let document_rows: Vec<DocumentRow> = d::table
        .filter(d::claim_id.eq_any(&ids))
        .filter(d::removed_at.is_null())
        .order((d::claim_id, d::uploaded_at, d::id))
        .select(DocumentRow::as_select())
        .load(c)?;
    for row in document_rows {
        let claim = row.claim_id.clone();
        documents
            .entry(claim)
            .or_default()
            .push(row.into_domain().map_err(TxError::Repo)?);
    }
    rows.into_iter()
        .map(|row| {
            let (ls, ds) = (
                lines.remove(&row.id).unwrap_or_default(),
                documents.remove(&row.id).unwrap_or_default(),
            );
            row.into_domain(ls, ds).map_err(TxError::Repo)
        })
        .collect()
}

fn load_claim(c: &mut DbConnection, id: &str) -> Result<Claim, TxError> {
    let row: ClaimRow = cl::table.find(id).select(ClaimRow::as_select()).first(c)?;
    with_details_of(c, row)
}

/// The claim of `row` with its lines and documents.
fn with_details_of(c: &mut DbConnection, row: ClaimRow) -> Result<Claim, TxError> {
    with_details(c, vec![row])?
        .pop()
        .ok_or(TxError::Repo(RepoError::NotFound))
}

/// Reads claim `id` and holds its row until the transaction ends ([`held_first`]).
fn hold_claim(c: &mut DbConnection, id: &str) -> Result<Claim, TxError> {
    let row: ClaimRow = held_first!(c, cl::table.find(id).select(ClaimRow::as_select()))?;
    with_details_of(c, row)
}

/// What a claim command is judged on, read with the claim's row held.
struct HeldClaim {
    claim: Claim,
    enrollment: Enrollment,
    rules: PlanRules,
    version: i32,
    member_in_scope: bool,
    earlier: BTreeMap<BenefitKind, YearToDate>,
}

/// Holds claim `key` and reads what its command is judged on: for a submission, the
/// enrolment, the plan's current rules and whether the member is in its subtree; for a
/// review or payment, the enrolment (held first — the one order every such command locks
/// in, so two approvals under one member's annual cap run one after the other) and the
/// rules of the claim's plan version.
fn hold_for_decision(
    c: &mut DbConnection,
    key: &str,
    submission: bool,
) -> Result<HeldClaim, TxError> {
    if !submission {
        let held = diesel::update(
            e::table.filter(e::id.eq_any(cl::table.find(key).select(cl::enrollment_id))),
        )
        .set(e::updated_at.eq(e::updated_at))
        .execute(c)?;
        if held == 0 {
            return Err(TxError::Repo(RepoError::NotFound));
        }
    }
    let claim = hold_claim(c, key)?;
    let enrollment_key = claim.enrollment_id.to_string();
    let (enrollment, rules, version, member_in_scope) = if submission {
        let (enrollment, plan, in_scope) = enrollment_with_plan(c, &enrollment_key)?;
        (enrollment, plan.rules, plan.version, in_scope)
    } else {
        let enrollment = load_enrollment(c, &enrollment_key)?;
        let text: String = pv::table
            .find((claim.plan_id.to_string(), claim.plan_version))
            .select(pv::rules)
            .first(c)?;
        let rules: PlanRules = read_json("plan rules", &text)?;
        (enrollment, rules, claim.plan_version, true)
    };
    let earlier = year_to_date(c, &enrollment_key, key)?;
    Ok(HeldClaim {
        claim,
        enrollment,
        rules,
        version,
        member_in_scope,
        earlier,
    })
}

/// `hospital|invoice`, the key an invoice is claimed once by.
fn invoice_key(line: &ClaimLine) -> String {
    format!("{}|{}", line.hospital_key(), line.invoice_number)
}

/// Inserts `lines` of claim `claim` in one statement (a batch insert, which the multi-backend
/// DSL lacks, so it runs on the concrete connection).
fn insert_lines(c: &mut DbConnection, claim: &str, lines: &[ClaimLine]) -> QueryResult<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(position, line)| {
            (
                l::id.eq(line.id.to_string()),
                l::claim_id.eq(claim),
                l::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
                l::hospital.eq(&line.hospital),
                l::invoice_number.eq(&line.invoice_number),
                l::invoice_key.eq(invoice_key(line)),
                l::treated_on.eq(line.treated_on),
                l::kind.eq(line.kind.as_str()),
                l::total_fen.eq(line.total_fen.get()),
                l::insurance_fen.eq(line.insurance_fen.get()),
                l::out_of_pocket_fen.eq(line.out_of_pocket_fen.get()),
                l::approved_fen.eq(line.approved_fen.map(Fen::get)),
                l::cut_reason.eq(line.cut_reason.as_deref()),
            )
        })
        .collect();
    let query = diesel::insert_into(l::table).values(rows);
    execute_on!(c, query)?;
    Ok(())
}

/// Locks a claim's row while it is editable by its owner; `NotFound` when there is no such
/// claim, `Conflict(NOT_EDITABLE)` when it is not editable.
fn lock_editable(c: &mut DbConnection, id: &str, at: NaiveDateTime) -> Result<(), TxError> {
    claim_writer(c)?;
    let editable: Vec<&str> = ClaimStatus::ALL
        .into_iter()
        .filter(|s| s.editable())
        .map(ClaimStatus::as_str)
        .collect();
    let n = diesel::update(cl::table.find(id).filter(cl::status.eq_any(editable)))
        .set(cl::updated_at.eq(at))
        .execute(c)?;
    if n == 0 {
        let exists: i64 = cl::table.find(id).count().get_result(c)?;
        return Err(if exists == 0 {
            TxError::Repo(RepoError::NotFound)
        } else {
            TxError::refused(MutualAidConflict::NotEditable)
        });
    }
    Ok(())
}

/// What the member's approved or paid claims of `enrollment` (other than `except`) used,
/// per kind, from their approved breakdowns.
fn year_to_date(
    c: &mut DbConnection,
    enrollment: &str,
    except: &str,
) -> Result<BTreeMap<BenefitKind, YearToDate>, TxError> {
    let done = [ClaimStatus::Approved.as_str(), ClaimStatus::Paid.as_str()];
    let breakdowns: Vec<Option<String>> = cl::table
        .filter(cl::enrollment_id.eq(enrollment))
        .filter(cl::status.eq_any(done))
        .filter(cl::id.ne(except))
        .select(cl::breakdown)
        .load(c)?;
    let mut used: BTreeMap<BenefitKind, YearToDate> = BTreeMap::new();
    for text in breakdowns.into_iter().flatten() {
        let payout: Payout = read_json("payout breakdown", &text).map_err(TxError::Repo)?;
        for b in payout.benefits {
            let entry = used.entry(b.kind).or_default();
            entry.costs_fen = entry.costs_fen.plus(b.claim_costs_fen);
            entry.paid_fen = entry.paid_fen.plus(b.payout_fen);
        }
    }
    Ok(used)
}

/// The columns of a claim that its commands change, written whole by an insert and by an
/// update alike (`NULL` for what the claim does not have).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = cl, treat_none_as_null = true)]
struct ClaimState<'a> {
    status: &'a str,
    plan_version: i32,
    claimed_fen: Option<i64>,
    approved_fen: Option<i64>,
    paid_fen: Option<i64>,
    breakdown: Option<String>,
    first_reviewer: Option<String>,
    second_reviewer: Option<String>,
    return_note: Option<&'a str>,
    rejection_code: Option<&'a str>,
    rejection_text: Option<&'a str>,
    bank_reference: Option<&'a str>,
    submitted_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

impl<'a> ClaimState<'a> {
    fn of(claim: &'a Claim) -> Result<Self, TxError> {
        Ok(ClaimState {
            status: claim.status.as_str(),
            plan_version: claim.plan_version,
            claimed_fen: claim.claimed_fen.map(Fen::get),
            approved_fen: claim.approved_fen.map(Fen::get),
            paid_fen: claim.paid_fen.map(Fen::get),
            breakdown: claim.breakdown.as_ref().map(json_of).transpose()?,
            first_reviewer: claim.first_reviewer.map(|a| a.to_string()),
            second_reviewer: claim.second_reviewer.map(|a| a.to_string()),
            return_note: claim.return_note.as_deref(),
            rejection_code: claim.rejection.as_ref().map(|r| r.reason.as_str()),
            rejection_text: claim.rejection.as_ref().map(|r| r.text.as_str()),
            bank_reference: claim.bank_reference.as_deref(),
            submitted_at: claim.submitted_at.map(to_naive),
            updated_at: to_naive(claim.updated_at),
        })
    }
}

/// Inserts `claim` with its lines.
fn insert_claim(c: &mut DbConnection, claim: &Claim) -> Result<(), TxError> {
    let id = claim.id.to_string();
    diesel::insert_into(cl::table)
        .values((
            cl::id.eq(&id),
            cl::plan_id.eq(claim.plan_id.to_string()),
            cl::enrollment_id.eq(claim.enrollment_id.to_string()),
            cl::member_id.eq(claim.member_id.to_string()),
            cl::account_id.eq(claim.account_id.to_string()),
            cl::org_id.eq(claim.org_id.to_string()),
            cl::org_path.eq(claim.org_path.as_str()),
            cl::created_at.eq(to_naive(claim.created_at)),
            ClaimState::of(claim)?,
            payee_columns(claim.payee.as_ref()),
        ))
        .execute(c)?;
    insert_lines(c, &id, &claim.lines)?;
    Ok(())
}

/// The enrolment `id` with its plan at the plan's current version, and whether its member
/// is in force in the plan's subtree ([`Plan::takes_members_of`]): what a submission is
/// judged by, read in one statement.
fn enrollment_with_plan(
    c: &mut DbConnection,
    id: &str,
) -> Result<(Enrollment, Plan, bool), TxError> {
    let active = m::account_id
        .eq(e::account_id)
        .and(m::status.eq(MemberStatus::Active.as_str()));
    let (row, plan, member_org): (EnrollmentRow, PlanRow, Option<String>) = e::table
        .inner_join(p::table)
        .left_join(m::table.on(active))
        .filter(e::id.eq(id))
        .select((
            EnrollmentRow::as_select(),
            PlanRow::as_select(),
            m::org_path.nullable(),
        ))
        .first(c)?;
    let plan = plan.into_domain().map_err(TxError::Repo)?;
    let in_scope = member_org.is_some_and(|org| plan.takes_members_of(&OrgPath::from_stored(org)));
    Ok((row.into_domain().map_err(TxError::Repo)?, plan, in_scope))
}

/// Writes what a command changed: the claim's columns, the approvals of the lines that differ
/// from `before` (a submission changes none), the timeline entry; a rejection frees the
/// claim's invoices.
fn write_outcome(
    c: &mut DbConnection,
    before: &Claim,
    outcome: &Outcome,
    action: ClaimAction,
    actor: AccountId,
) -> Result<(), TxError> {
    let claim = &outcome.claim;
    let id = claim.id.to_string();
    diesel::update(cl::table.find(&id))
        .set(ClaimState::of(claim)?)
        .execute(c)?;
    for line in claim.lines.iter().filter(|l| !before.lines.contains(l)) {
        diesel::update(l::table.find(line.id.to_string()))
            .set((
                l::approved_fen.eq(line.approved_fen.map(Fen::get)),
                l::cut_reason.eq(line.cut_reason.as_deref()),
            ))
            .execute(c)?;
    }
    if claim.status == ClaimStatus::Rejected {
        diesel::update(l::table.filter(l::claim_id.eq(&id)))
            .set(l::invoice_key.eq(None::<String>))
            .execute(c)?;
    }
    insert_event(c, outcome, action, actor)
}

/// Writes the timeline entry of `outcome`.
fn insert_event(
    c: &mut DbConnection,
    outcome: &Outcome,
    action: ClaimAction,
    actor: AccountId,
) -> Result<(), TxError> {
    let claim = &outcome.claim;
    diesel::insert_into(ev::table)
        .values((
            ev::id.eq(Uuid::now_v7().to_string()),
            ev::claim_id.eq(claim.id.to_string()),
            ev::action.eq(action.as_str()),
            ev::from_status.eq(outcome.from.as_str()),
            ev::to_status.eq(claim.status.as_str()),
            ev::actor_id.eq(actor.to_string()),
            ev::note.eq(outcome.note.as_deref()),
            ev::at.eq(to_naive(claim.updated_at)),
        ))
        .execute(c)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = ev)]
struct EventRow {
    action: String,
    from_status: String,
    to_status: String,
    actor_id: String,
    note: Option<String>,
    at: NaiveDateTime,
}

#[async_trait]
impl MutualAidRepository for Database {
    async fn create_plan(
        &self,
        plan: &Plan,
        by: AccountId,
        change: &Change,
    ) -> Result<(), RepoError> {
        let (plan, change) = (plan.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let rules = json_of(&plan.rules)?;
                let id = plan.id.to_string();
                diesel::insert_into(p::table)
                    .values((
                        p::id.eq(&id),
                        p::org_id.eq(plan.org_id.to_string()),
                        p::org_path.eq(plan.org_path.as_str()),
                        p::version.eq(1),
                        p::rules.eq(&rules),
                        p::starts_on.eq(plan.rules.starts_on),
                        p::created_at.eq(to_naive(plan.created_at)),
                        p::updated_at.eq(to_naive(plan.updated_at)),
                    ))
                    .execute(c)?;
                insert_version(c, &id, 1, &rules, by, to_naive(plan.created_at))?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn save_plan(
        &self,
        id: PlanId,
        expected_version: i32,
        rules: &PlanRules,
        by: AccountId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Plan, RepoError> {
        let (rules, change) = (rules.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let key = id.to_string();
                let text = json_of(&rules)?;
                let now = to_naive(at);
                let next = expected_version.saturating_add(1);
                let n = diesel::update(p::table.find(&key).filter(p::version.eq(expected_version)))
                    .set((
                        p::version.eq(next),
                        p::rules.eq(&text),
                        p::starts_on.eq(rules.starts_on),
                        p::updated_at.eq(now),
                    ))
                    .execute(c)?;
                if n == 0 {
                    load_plan(c, &key)?;
                    return Err(TxError::refused(MutualAidConflict::PlanVersion));
                }
                insert_version(c, &key, next, &text, by, now)?;
                record_change(c, &change)?;
                load_plan(c, &key)
            })
            .map_err(|e| e.unique_as(MutualAidConflict::PlanVersion))
        })
        .await
    }

    async fn plan(&self, id: PlanId) -> Result<Plan, RepoError> {
        self.run(move |c| load_plan(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }

    async fn plan_version(&self, id: PlanId, version: i32) -> Result<PlanRules, RepoError> {
        self.run(move |c| {
            let text: String = pv::table
                .find((id.to_string(), version))
                .select(pv::rules)
                .first(c)
                .map_err(unexpected)?;
            read_json("plan rules", &text)
        })
        .await
    }

    async fn plans(&self, scope: &OrgPath, page: &PageRequest) -> Result<Page<Plan>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        let request = page.clone();
        self.run(move |c| {
            let mut q = p::table
                .filter(p::org_path.ge(lower))
                .filter(p::org_path.lt(upper))
                .order((p::starts_on.desc(), p::id.desc()))
                .limit(i64::from(request.limit))
                .select(PlanRow::as_select())
                .into_boxed();
            if let Some(DayKey { day, id }) = start_after::<DayKey>(&request)? {
                q = q.filter(
                    p::starts_on
                        .lt(day)
                        .or(p::starts_on.eq(day).and(p::id.lt(id))),
                );
            }
            let rows: Vec<PlanRow> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(PlanRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                DayKey::new(r.rules.starts_on, r.id)
            }))
        })
        .await
    }

    async fn plans_for(&self, member_path: &OrgPath) -> Result<Vec<Plan>, RepoError> {
        let paths: Vec<String> = member_path
            .ancestors()
            .into_iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        self.run(move |c| {
            let rows: Vec<PlanRow> = p::table
                .filter(p::org_path.eq_any(&paths))
                .order((p::starts_on.desc(), p::id.desc()))
                .select(PlanRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter().map(PlanRow::into_domain).collect()
        })
        .await
    }

    async fn enrol(&self, enrollment: &Enrollment, change: &Change) -> Result<(), RepoError> {
        let (en, change) = (enrollment.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let now = to_naive(change.audit.at);
                diesel::insert_into(e::table)
                    .values((
                        e::id.eq(en.id.to_string()),
                        e::plan_id.eq(en.plan_id.to_string()),
                        e::member_id.eq(en.member_id.to_string()),
                        e::account_id.eq(en.account_id.to_string()),
                        e::org_id.eq(en.org_id.to_string()),
                        e::org_path.eq(en.org_path.as_str()),
                        e::requested_on.eq(en.requested_on),
                        e::created_at.eq(now),
                        e::updated_at.eq(now),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.unique_as(MutualAidConflict::AlreadyEnrolled))
        })
        .await
    }

    async fn enrollment(&self, id: EnrollmentId) -> Result<Enrollment, RepoError> {
        self.run(move |c| load_enrollment(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }

    async fn enrollments_of(&self, account: AccountId) -> Result<Vec<Enrollment>, RepoError> {
        self.run(move |c| {
            let rows: Vec<EnrollmentRow> = e::table
                .filter(e::account_id.eq(account.to_string()))
                .order((e::requested_on.desc(), e::id.desc()))
                .select(EnrollmentRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter().map(EnrollmentRow::into_domain).collect()
        })
        .await
    }

    async fn enrollments(
        &self,
        scope: &OrgPath,
        filter: &EnrollmentFilter,
        page: &PageRequest,
    ) -> Result<Page<Enrollment>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        let (filter, request) = (filter.clone(), page.clone());
        self.run(move |c| {
            let mut q = e::table
                .filter(e::org_path.ge(lower))
                .filter(e::org_path.lt(upper))
                .order((e::requested_on.asc(), e::id.asc()))
                .limit(i64::from(request.limit))
                .select(EnrollmentRow::as_select())
                .into_boxed();
            if let Some(plan) = filter.plan {
                q = q.filter(e::plan_id.eq(plan.to_string()));
            }
            match filter.paid {
                Some(true) => q = q.filter(e::activated_on.is_not_null()),
                Some(false) => q = q.filter(e::activated_on.is_null()),
                None => {}
            }
            if let Some(DayKey { day, id }) = start_after::<DayKey>(&request)? {
                q = q.filter(
                    e::requested_on
                        .gt(day)
                        .or(e::requested_on.eq(day).and(e::id.gt(id))),
                );
            }
            let rows: Vec<EnrollmentRow> = q.load(c).map_err(unexpected)?;
            let rows = rows
                .into_iter()
                .map(EnrollmentRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(rows, &request, |r| {
                DayKey::new(r.requested_on, r.id)
            }))
        })
        .await
    }

    async fn record_payments(
        &self,
        ids: &[EnrollmentId],
        payment: &FeePayment,
        change: &Change,
    ) -> Result<Vec<(Enrollment, bool)>, RepoError> {
        let (ids, payment, change) = (ids.to_vec(), payment.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let now = to_naive(change.audit.at);
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    let key = id.to_string();
                    let n = diesel::update(e::table.find(&key).filter(e::activated_on.is_null()))
                        .set((
                            e::payment_method.eq(payment.method.as_str()),
                            e::amount_fen.eq(payment.amount_fen.get()),
                            e::payment_reference.eq(payment.reference.as_deref()),
                            e::recorded_by.eq(payment.recorded_by.to_string()),
                            e::activated_on.eq(payment.activated_on),
                            e::updated_at.eq(now),
                        ))
                        .execute(c)?;
                    let enrollment = load_enrollment(c, &key)?;
                    if n > 0 {
                        let mut each = change.clone();
                        each.audit.record_id.clone_from(&key);
                        if let Some(event) = &mut each.event {
                            event.payload = json!({
                                "enrollment_id": key,
                                "plan_id": enrollment.plan_id.to_string(),
                                "member_id": enrollment.member_id.to_string(),
                                "method": payment.method.as_str(),
                                "amount_fen": payment.amount_fen.get(),
                            });
                        }
                        record_change(c, &each)?;
                    }
                    out.push((enrollment, n > 0));
                }
                Ok(out)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn create_claim(
        &self,
        new: NewClaim,
        changes: Box<dyn for<'c> FnOnce(&'c Created) -> Vec<Change> + Send + 'static>,
    ) -> Result<Created, RepoError> {
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let enrollment_key = new.enrollment.to_string();
                let (enrollment, plan, member_in_scope) = enrollment_with_plan(c, &enrollment_key)?;
                if enrollment.account_id != new.account {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                let draft = Claim::draft(&enrollment, plan.version, new.lines, new.payee, new.at);
                let submission = if new.submit {
                    let earlier = year_to_date(c, &enrollment_key, &draft.id.to_string())?;
                    let ctx = Context {
                        claim: &draft,
                        enrollment: &enrollment,
                        rules: &plan.rules,
                        rules_version: plan.version,
                        earlier: &earlier,
                        member_in_scope,
                        actor: new.account,
                        at: new.at,
                    };
                    Some(decide(&ctx, &Command::Submit).map_err(TxError::refused)?)
                } else {
                    None
                };
                let created = Created { draft, submission };
                insert_claim(c, created.claim())?;
                if let Some(outcome) = &created.submission {
                    insert_event(c, outcome, ClaimAction::Submit, new.account)?;
                }
                record_changes(c, &changes(&created))?;
                Ok(created)
            })
            .map_err(|e: TxError| e.unique_as(MutualAidConflict::DuplicateInvoice))
        })
        .await
    }

    async fn claim(&self, id: ClaimId) -> Result<Claim, RepoError> {
        self.run(move |c| load_claim(c, &id.to_string()).map_err(|e| e.into_repo()))
            .await
    }

    async fn claims_of(&self, account: AccountId) -> Result<Vec<Claim>, RepoError> {
        self.run(move |c| {
            let rows: Vec<ClaimRow> = cl::table
                .filter(cl::account_id.eq(account.to_string()))
                .order((cl::created_at.desc(), cl::id.desc()))
                .select(ClaimRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            with_details(c, rows).map_err(|e| e.into_repo())
        })
        .await
    }

    async fn claim_queue(
        &self,
        scope: &OrgPath,
        filter: &ClaimFilter,
        page: &PageRequest,
    ) -> Result<Page<Claim>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        let (filter, request) = (filter.clone(), page.clone());
        self.run(move |c| {
            let mut q = cl::table
                .filter(cl::submitted_at.is_not_null())
                .filter(cl::org_path.ge(lower))
                .filter(cl::org_path.lt(upper))
                .order((cl::submitted_at.asc(), cl::id.asc()))
                .limit(i64::from(request.limit))
                .select(ClaimRow::as_select())
                .into_boxed();
            if !filter.statuses.is_empty() {
                let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
                q = q.filter(cl::status.eq_any(statuses));
            }
            if let Some(plan) = filter.plan {
                q = q.filter(cl::plan_id.eq(plan.to_string()));
            }
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                q = q.filter(
                    cl::submitted_at
                        .gt(at)
                        .or(cl::submitted_at.eq(at).and(cl::id.gt(id))),
                );
            }
            let rows: Vec<ClaimRow> = q.load(c).map_err(unexpected)?;
            let rows = with_details(c, rows).map_err(|e| e.into_repo())?;
            Ok(page_of(rows, &request, |r| {
                TimeKey::new(r.submitted_at.unwrap_or(r.created_at), r.id)
            }))
        })
        .await
    }

    async fn claim_events(&self, id: ClaimId) -> Result<Vec<ClaimEvent>, RepoError> {
        self.run(move |c| {
            let rows: Vec<EventRow> = ev::table
                .filter(ev::claim_id.eq(id.to_string()))
                .order((ev::at.asc(), ev::id.asc()))
                .select(EventRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter()
                .map(|r| {
                    Ok(ClaimEvent {
                        at: from_naive(r.at),
                        actor: account_id(&r.actor_id)?,
                        action: parsed("claim action", &r.action, ClaimAction::parse)?,
                        from: parsed("claim status", &r.from_status, ClaimStatus::parse)?,
                        to: parsed("claim status", &r.to_status, ClaimStatus::parse)?,
                        note: r.note,
                    })
                })
                .collect()
        })
        .await
    }

    async fn update_draft(
        &self,
        id: ClaimId,
        lines: &[ClaimLine],
        payee: Option<&Payee>,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Claim, RepoError> {
        let (lines, payee, change) = (lines.to_vec(), payee.cloned(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let key = id.to_string();
                lock_editable(c, &key, to_naive(at))?;
                diesel::update(cl::table.find(&key))
                    .set(payee_columns(payee.as_ref()))
                    .execute(c)?;
                diesel::delete(l::table.filter(l::claim_id.eq(&key))).execute(c)?;
                insert_lines(c, &key, &lines)?;
                record_change(c, &change)?;
                load_claim(c, &key)
            })
            .map_err(|e| e.unique_as(MutualAidConflict::DuplicateInvoice))
        })
        .await
    }

    async fn add_document(&self, document: &Document, change: &Change) -> Result<(), RepoError> {
        let (doc, change) = (document.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                lock_editable(c, &doc.claim_id.to_string(), to_naive(doc.uploaded_at))?;
                diesel::insert_into(d::table)
                    .values((
                        d::id.eq(doc.id.to_string()),
                        d::claim_id.eq(doc.claim_id.to_string()),
                        d::kind.eq(doc.kind.as_str()),
                        d::media_type.eq(doc.media_type.as_str()),
                        d::size_bytes.eq(doc.size_bytes),
                        d::object_key.eq(&doc.object_key),
                        d::file_name.eq(&doc.file_name),
                        d::sha256.eq(&doc.sha256),
                        d::uploaded_at.eq(to_naive(doc.uploaded_at)),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn remove_document(
        &self,
        claim: ClaimId,
        document: DocumentId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let now = to_naive(at);
                lock_editable(c, &claim.to_string(), now)?;
                let n = diesel::update(
                    d::table
                        .find(document.to_string())
                        .filter(d::claim_id.eq(claim.to_string()))
                        .filter(d::removed_at.is_null()),
                )
                .set(d::removed_at.eq(now))
                .execute(c)?;
                if n == 0 {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn document(&self, claim: ClaimId, document: DocumentId) -> Result<Document, RepoError> {
        self.run(move |c| {
            let row: DocumentRow = d::table
                .find(document.to_string())
                .filter(d::claim_id.eq(claim.to_string()))
                .filter(d::removed_at.is_null())
                .select(DocumentRow::as_select())
                .first(c)
                .map_err(unexpected)?;
            row.into_domain()
        })
        .await
    }

    async fn year_to_date(
        &self,
        claim: &Claim,
    ) -> Result<BTreeMap<BenefitKind, YearToDate>, RepoError> {
        let (enrollment, id) = (claim.enrollment_id.to_string(), claim.id.to_string());
        self.run(move |c| year_to_date(c, &enrollment, &id).map_err(|e| e.into_repo()))
            .await
    }

    async fn decide(
        &self,
        id: ClaimId,
        input: &CommandInput,
        change: Box<dyn for<'o> FnOnce(&'o Outcome) -> Change + Send + 'static>,
    ) -> Result<Outcome, RepoError> {
        let input = input.clone();
        self.run(move |c| {
            let key = id.to_string();
            decide_held(
                c,
                |c| hold_for_decision(c, &key, input.command.action() == ClaimAction::Submit),
                |held| {
                    let ctx = Context {
                        claim: &held.claim,
                        enrollment: &held.enrollment,
                        rules: &held.rules,
                        rules_version: held.version,
                        earlier: &held.earlier,
                        member_in_scope: held.member_in_scope,
                        actor: input.actor,
                        at: input.at,
                    };
                    decide(&ctx, &input.command)
                },
                |c, held, outcome| {
                    if !outcome.changed {
                        return Ok((outcome, Vec::new()));
                    }
                    let action = input.command.action();
                    write_outcome(c, &held.claim, &outcome, action, input.actor)?;
                    let changes = vec![change(&outcome)];
                    Ok((outcome, changes))
                },
            )
            .map_err(|e: TxError| e.unique_as(MutualAidConflict::DuplicateInvoice))
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;
    use yiwang_domain::audit::{Actor, AuditEntry};
    use yiwang_domain::mutual_aid::claim::LineInput;
    use yiwang_domain::mutual_aid::plan::{BenefitInput, PlanInput};
    use yiwang_domain::mutual_aid::review::{Command, LineApproval};
    use yiwang_domain::org::{OrgKind, OrgName, Organisation};
    use yiwang_domain::refusal::RefusalKind;
    use yiwang_domain::repo::{OrgRepository, WorkerRepository};

    use super::*;
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
        enrollment: Enrollment,
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
        let enrollment = Enrollment {
            id: EnrollmentId::new(),
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
            let again = Enrollment {
                id: EnrollmentId::new(),
                ..f.enrollment.clone()
            };
            let twice = db.enrol(&again, &change()).await;
            assert!(
                matches!(&twice, Err(RepoError::Refused(r)) if r.is(&MutualAidConflict::AlreadyEnrolled))
            );
            let unknown = db
                .record_payments(
                    &[f.enrollment.id, EnrollmentId::new()],
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
            let unpaid = EnrollmentFilter {
                plan: Some(f.plan.id),
                paid: Some(false),
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
