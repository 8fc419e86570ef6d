//! [`LegalAidRepository`] on the shared schema. A decision holds the application's row
//! (`SELECT … FOR UPDATE` on PostgreSQL; the transaction's write lock on SQLite) and is judged
//! on it, so of two officials deciding at once the second finds it decided.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::consultation::thread::ConsultationId;
use yiwang_domain::idempotency::AnswerOf;
use yiwang_domain::legal_aid::store::LegalAidRepository;
use yiwang_domain::legal_aid::{
    decide, Actor, AidKind, Command, LegalAidApplication, LegalAidId, LegalAidStatus, Request,
};
use yiwang_domain::membership::person::MobilePhone;
use yiwang_domain::money::Fen;
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::codec::{account_id, org_id};
use super::page::{page_of, start_after, TimeKey};
use super::schema::legal_aid_applications as la;
use super::{
    corrupt, decide_held, from_naive, held_first, record_change, to_naive, unexpected, Database,
    DbConnection, TxError,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = la)]
struct Row {
    id: String,
    account_id: String,
    org_id: String,
    org_path: String,
    consultation_id: Option<String>,
    applicant: String,
    phone: String,
    counterparty: String,
    summary: String,
    amount_fen: Option<i64>,
    aid: String,
    held: bool,
    status: String,
    lawyer_id: Option<String>,
    rejection_reason: Option<String>,
    outcome: Option<String>,
    decided_by: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_domain(self) -> Result<LegalAidApplication, RepoError> {
        let aid = self
            .aid
            .split(',')
            .map(|code| AidKind::parse(code).ok_or_else(|| corrupt("aid kind", code)))
            .collect::<Result<_, _>>()?;
        let amount_fen = self
            .amount_fen
            .map(|f| Fen::new(f).ok_or_else(|| corrupt("amount", &f.to_string())))
            .transpose()?;
        Ok(LegalAidApplication {
            id: LegalAidId::parse(&self.id).ok_or_else(|| corrupt("legal aid id", &self.id))?,
            account_id: account_id(&self.account_id)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            consultation_id: self
                .consultation_id
                .map(|c| ConsultationId::parse(&c).ok_or_else(|| corrupt("consultation id", &c)))
                .transpose()?,
            request: Request {
                applicant: self.applicant,
                phone: MobilePhone::parse(&self.phone).map_err(|_| corrupt("phone", "…"))?,
                counterparty: self.counterparty,
                summary: self.summary,
                amount_fen,
                aid,
            },
            held: self.held,
            status: LegalAidStatus::parse(&self.status)
                .ok_or_else(|| corrupt("legal aid status", &self.status))?,
            lawyer_id: self.lawyer_id.as_deref().map(account_id).transpose()?,
            rejection_reason: self.rejection_reason,
            outcome: self.outcome,
            decided_by: self.decided_by.as_deref().map(account_id).transpose()?,
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
        })
    }
}

/// Reads application `id` and holds its row until the transaction ends.
fn hold(c: &mut DbConnection, id: &str) -> Result<LegalAidApplication, TxError> {
    let row: Row = held_first!(c, la::table.find(id).select(Row::as_select()))?;
    Ok(row.into_domain()?)
}

fn all(rows: Vec<Row>) -> Result<Vec<LegalAidApplication>, RepoError> {
    rows.into_iter().map(Row::into_domain).collect()
}

#[async_trait]
impl LegalAidRepository for Database {
    async fn file(
        &self,
        application: &LegalAidApplication,
        change: &Change,
    ) -> Result<(), RepoError> {
        let (a, change) = (application.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let r = &a.request;
                let aid: Vec<&str> = r.aid.iter().map(|k| k.as_str()).collect();
                diesel::insert_into(la::table)
                    .values((
                        la::id.eq(a.id.to_string()),
                        la::account_id.eq(a.account_id.to_string()),
                        la::org_id.eq(a.org_id.to_string()),
                        la::org_path.eq(a.org_path.as_str()),
                        la::consultation_id.eq(a.consultation_id.map(|c| c.to_string())),
                        la::applicant.eq(&r.applicant),
                        la::phone.eq(r.phone.as_str()),
                        la::counterparty.eq(&r.counterparty),
                        la::summary.eq(&r.summary),
                        la::amount_fen.eq(r.amount_fen.map(Fen::get)),
                        la::aid.eq(aid.join(",")),
                        la::held.eq(a.held),
                        la::status.eq(a.status.as_str()),
                        la::created_at.eq(to_naive(a.created_at)),
                        la::updated_at.eq(to_naive(a.updated_at)),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn legal_aid(&self, id: LegalAidId) -> Result<LegalAidApplication, RepoError> {
        self.run(move |c| {
            let row: Row = la::table
                .find(id.to_string())
                .select(Row::as_select())
                .first(c)
                .map_err(unexpected)?;
            row.into_domain()
        })
        .await
    }

    async fn legal_aid_of(
        &self,
        account: AccountId,
    ) -> Result<Vec<LegalAidApplication>, RepoError> {
        self.run(move |c| {
            let rows: Vec<Row> = la::table
                .filter(la::account_id.eq(account.to_string()))
                .order((la::created_at.desc(), la::id.desc()))
                .select(Row::as_select())
                .load(c)
                .map_err(unexpected)?;
            all(rows)
        })
        .await
    }

    async fn legal_aid_queue(
        &self,
        scope: Option<&OrgPath>,
        lawyer: Option<AccountId>,
        statuses: &[LegalAidStatus],
        page: &PageRequest,
    ) -> Result<Page<LegalAidApplication>, RepoError> {
        let range = scope.map(OrgPath::subtree_range);
        let statuses: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        let request = page.clone();
        self.run(move |c| {
            let mut q = la::table
                .order((la::created_at, la::id))
                .limit(i64::from(request.limit))
                .select(Row::as_select())
                .into_boxed();
            if let Some((lower, upper)) = range {
                q = q
                    .filter(la::org_path.ge(lower))
                    .filter(la::org_path.lt(upper));
            }
            if let Some(lawyer) = lawyer {
                q = q.filter(la::lawyer_id.eq(lawyer.to_string()));
            }
            if !statuses.is_empty() {
                q = q.filter(la::status.eq_any(statuses));
            }
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                q = q.filter(
                    la::created_at
                        .gt(at)
                        .or(la::created_at.eq(at).and(la::id.gt(id))),
                );
            }
            let rows: Vec<Row> = q.load(c).map_err(unexpected)?;
            let rows = all(rows)?;
            Ok(page_of(rows, &request, |r| {
                TimeKey::new(r.created_at, r.id)
            }))
        })
        .await
    }

    async fn decide_legal_aid(
        &self,
        id: LegalAidId,
        actor: Actor,
        command: Command,
        at: DateTime<Utc>,
        mut change: Change,
        answer: AnswerOf<LegalAidApplication>,
    ) -> Result<LegalAidApplication, RepoError> {
        self.run(move |c| {
            let key = id.to_string();
            decide_held(
                c,
                |c| hold(c, &key),
                |before| decide(before, actor, &command, at),
                |c, _, after| {
                    diesel::update(la::table.find(&key))
                        .set((
                            la::status.eq(after.status.as_str()),
                            la::lawyer_id.eq(after.lawyer_id.map(|l| l.to_string())),
                            la::rejection_reason.eq(after.rejection_reason.as_deref()),
                            la::outcome.eq(after.outcome.as_deref()),
                            la::decided_by.eq(after.decided_by.map(|d| d.to_string())),
                            la::updated_at.eq(to_naive(after.updated_at)),
                        ))
                        .execute(c)?;
                    change.answer = answer(&after);
                    Ok((after, vec![change]))
                },
            )
            .map_err(TxError::into_repo)
        })
        .await
    }
}
