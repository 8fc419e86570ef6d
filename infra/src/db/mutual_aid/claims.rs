//! Claims with their lines and timeline, and the one transaction a command on a claim runs.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::membership::member::MemberId;
use yiwang_domain::money::Fen;
use yiwang_domain::mutual_aid::claim::invoice_identity;
use yiwang_domain::mutual_aid::claim::{
    Claim, ClaimAction, ClaimEvent, ClaimId, ClaimLine, ClaimStatus, Document, DocumentId, LineId,
    MediaType, Payee, Rejection, RejectionReason,
};
use yiwang_domain::mutual_aid::enrolment::{Enrolment, EnrolmentId};
use yiwang_domain::mutual_aid::payout::{Payout, YearToDate};
use yiwang_domain::mutual_aid::plan::{BenefitKind, DocumentKind, PlanId, PlanRules};
use yiwang_domain::mutual_aid::review::{decide, preview, Command, Context, Outcome, Preview};
use yiwang_domain::mutual_aid::similar::{similar, OtherDocument, OtherLine, Similar};
use yiwang_domain::mutual_aid::store::{
    ClaimFilter, CommandInput, Created, MutualAidConflict, NewClaim,
};
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use crate::db::codec::{account_id, org_id};
use crate::db::page::{page_of, start_after, TimeKey};
use crate::db::schema::{
    mutual_aid_claim_events as ev, mutual_aid_claim_lines as l, mutual_aid_claims as cl,
    mutual_aid_documents as d, mutual_aid_enrollments as e, mutual_aid_plan_versions as pv,
};
use crate::db::{
    claim_writer, decide_held, execute_on, from_naive, held_first, record_change, record_changes,
    to_naive, unexpected, Database, DbConnection, TxError,
};

use super::*;
use yiwang_domain::mutual_aid::store::ClaimRepository;

#[derive(Queryable, Selectable)]
#[diesel(table_name = cl)]
pub(super) struct ClaimRow {
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
pub(super) fn payee_columns(
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
pub(super) struct LineRow {
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
    pub(super) fn into_domain(self) -> Result<ClaimLine, RepoError> {
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
pub(super) struct DocumentRow {
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
    pub(super) fn into_domain(self) -> Result<Document, RepoError> {
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
    pub(super) fn into_domain(
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
            enrollment_id: parsed("enrolment id", &self.enrollment_id, EnrolmentId::parse)?,
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
pub(super) fn with_details(
    c: &mut DbConnection,
    rows: Vec<ClaimRow>,
) -> Result<Vec<Claim>, TxError> {
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

pub(super) fn load_claim(c: &mut DbConnection, id: &str) -> Result<Claim, TxError> {
    let row: ClaimRow = cl::table.find(id).select(ClaimRow::as_select()).first(c)?;
    with_details_of(c, row)
}

/// The claim of `row` with its lines and documents.
pub(super) fn with_details_of(c: &mut DbConnection, row: ClaimRow) -> Result<Claim, TxError> {
    with_details(c, vec![row])?
        .pop()
        .ok_or(TxError::Repo(RepoError::NotFound))
}

/// Reads claim `id` and holds its row until the transaction ends ([`held_first`]).
pub(super) fn hold_claim(c: &mut DbConnection, id: &str) -> Result<Claim, TxError> {
    let row: ClaimRow = held_first!(c, cl::table.find(id).select(ClaimRow::as_select()))?;
    with_details_of(c, row)
}

/// What a claim command is judged on, read with the claim's row held.
pub(super) struct HeldClaim {
    claim: Claim,
    enrollment: Enrolment,
    rules: PlanRules,
    version: i32,
    member_in_scope: bool,
    earlier: BTreeMap<BenefitKind, YearToDate>,
}

/// Holds claim `key` and reads what its command is judged on ([`judged_on`]); for a review
/// or payment the enrolment is held first — the one order every such command locks in, so
/// two approvals under one member's annual cap run one after the other.
pub(super) fn hold_for_decision(
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
    judged_on(c, claim, submission)
}

/// What a command on `claim` is judged on: for a submission, the enrolment, the plan's
/// current rules and whether the member is in its subtree; otherwise the enrolment and the
/// rules of the claim's plan version; and the member's earlier approved or paid claims.
fn judged_on(c: &mut DbConnection, claim: Claim, submission: bool) -> Result<HeldClaim, TxError> {
    let enrolment_key = claim.enrollment_id.to_string();
    let (enrollment, rules, version, member_in_scope) = if submission {
        let (enrollment, plan, in_scope) = enrolment_with_plan(c, &enrolment_key)?;
        (enrollment, plan.rules, plan.version, in_scope)
    } else {
        let enrollment = load_enrolment(c, &enrolment_key)?;
        let text: String = pv::table
            .find((claim.plan_id.to_string(), claim.plan_version))
            .select(pv::rules)
            .first(c)?;
        let rules: PlanRules = read_json("plan rules", &text)?;
        (enrollment, rules, claim.plan_version, true)
    };
    let earlier = year_to_date(c, &enrolment_key, &claim.id.to_string())?;
    Ok(HeldClaim {
        claim,
        enrollment,
        rules,
        version,
        member_in_scope,
        earlier,
    })
}

impl HeldClaim {
    /// The context `actor` acting at `at` is judged in.
    fn context(&self, actor: AccountId, at: DateTime<Utc>) -> Context<'_> {
        Context {
            claim: &self.claim,
            enrollment: &self.enrollment,
            rules: &self.rules,
            rules_version: self.version,
            earlier: &self.earlier,
            member_in_scope: self.member_in_scope,
            actor,
            at,
        }
    }
}

/// Inserts `lines` of claim `claim` in one statement (a batch insert, which the multi-backend
/// DSL lacks, so it runs on the concrete connection).
pub(super) fn insert_lines(
    c: &mut DbConnection,
    claim: &str,
    lines: &[ClaimLine],
) -> QueryResult<()> {
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
                l::invoice_key.eq(line.invoice_key()),
                l::invoice_day_key.eq(line.invoice_day_key()),
                l::invoice_identity.eq(invoice_identity(&line.invoice_number)),
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
pub(super) fn lock_editable(
    c: &mut DbConnection,
    id: &str,
    at: NaiveDateTime,
) -> Result<(), TxError> {
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
pub(super) fn year_to_date(
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
pub(super) struct ClaimState<'a> {
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
pub(super) fn insert_claim(c: &mut DbConnection, claim: &Claim) -> Result<(), TxError> {
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

/// Writes what a command changed: the claim's columns, the approvals of the lines that differ
/// from `before` (a submission changes none), the timeline entry; a rejection frees the
/// claim's invoices.
pub(super) fn write_outcome(
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
            .set((
                l::invoice_key.eq(None::<String>),
                l::invoice_day_key.eq(None::<String>),
            ))
            .execute(c)?;
    }
    insert_event(c, outcome, action, actor)
}

/// Writes the timeline entry of `outcome`.
pub(super) fn insert_event(
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
pub(super) struct EventRow {
    action: String,
    from_status: String,
    to_status: String,
    actor_id: String,
    note: Option<String>,
    at: NaiveDateTime,
}

#[async_trait]
impl ClaimRepository for Database {
    async fn create_claim(
        &self,
        new: NewClaim,
        changes: Box<dyn for<'c> FnOnce(&'c Created) -> Vec<Change> + Send + 'static>,
    ) -> Result<Created, RepoError> {
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let enrolment_key = new.enrollment.to_string();
                let (enrollment, plan, member_in_scope) = enrolment_with_plan(c, &enrolment_key)?;
                if enrollment.account_id != new.account {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                let draft = Claim::draft(&enrollment, plan.version, new.lines, new.payee, new.at);
                let submission = if new.submit {
                    let earlier = year_to_date(c, &enrolment_key, &draft.id.to_string())?;
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
    async fn preview(&self, claim: &Claim) -> Result<Preview, RepoError> {
        let claim = claim.clone();
        self.run(move |c| {
            let (actor, at, editable) =
                (claim.account_id, claim.updated_at, claim.status.editable());
            let held = judged_on(c, claim, editable).map_err(|e| e.into_repo())?;
            Ok(preview(&held.context(actor, at)))
        })
        .await
    }
    async fn similar_to(&self, claim: &Claim) -> Result<Vec<Similar>, RepoError> {
        let claim = claim.clone();
        self.run(move |c| {
            let key = claim.id.to_string();
            let draft = ClaimStatus::Draft.as_str();
            let identities: Vec<String> = claim
                .lines
                .iter()
                .map(|line| invoice_identity(&line.invoice_number))
                .collect();
            let days: Vec<NaiveDate> = claim.lines.iter().map(|line| line.treated_on).collect();
            let totals: Vec<i64> = claim
                .lines
                .iter()
                .map(|line| line.total_fen.get())
                .collect();
            type LineRow = (String, String, i32, String, String, NaiveDate, i64);
            let rows: Vec<LineRow> = l::table
                .inner_join(cl::table)
                .filter(l::claim_id.ne(&key))
                .filter(cl::status.ne(draft))
                .filter(
                    l::invoice_identity.eq_any(&identities).or(l::treated_on
                        .eq_any(&days)
                        .and(l::total_fen.eq_any(&totals))),
                )
                .select((
                    l::claim_id,
                    cl::status,
                    l::position,
                    l::hospital,
                    l::invoice_number,
                    l::treated_on,
                    l::total_fen,
                ))
                .load(c)
                .map_err(unexpected)?;
            let lines = rows
                .into_iter()
                .map(
                    |(id, status, position, hospital, invoice_number, treated_on, total)| {
                        Ok(OtherLine {
                            claim_id: parsed("claim id", &id, ClaimId::parse)?,
                            status: parsed("claim status", &status, ClaimStatus::parse)?,
                            position: usize::try_from(position)
                                .map_err(|_| corrupt("line position", &position.to_string()))?,
                            hospital,
                            invoice_number,
                            treated_on,
                            total_fen: fen("line total", total)?,
                        })
                    },
                )
                .collect::<Result<Vec<_>, RepoError>>()?;
            let digests: Vec<&str> = claim.documents.iter().map(|d| d.sha256.as_str()).collect();
            let rows: Vec<(String, String, String)> = d::table
                .inner_join(cl::table)
                .filter(d::claim_id.ne(&key))
                .filter(cl::status.ne(draft))
                .filter(d::sha256.eq_any(&digests))
                .select((d::claim_id, cl::status, d::sha256))
                .load(c)
                .map_err(unexpected)?;
            let documents = rows
                .into_iter()
                .map(|(id, status, sha256)| {
                    Ok(OtherDocument {
                        claim_id: parsed("claim id", &id, ClaimId::parse)?,
                        status: parsed("claim status", &status, ClaimStatus::parse)?,
                        sha256,
                    })
                })
                .collect::<Result<Vec<_>, RepoError>>()?;
            Ok(similar(&claim, &lines, &documents))
        })
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
                |held| decide(&held.context(input.actor, input.at), &input.command),
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
