//! [`MailboxRepository`] on the shared schema. An answer holds the letter's row
//! (`SELECT … FOR UPDATE` on PostgreSQL; the transaction's write lock on SQLite), so of two
//! officials replying at once the second finds it replied.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::idempotency::AnswerOf;
use yiwang_domain::mailbox::store::MailboxRepository;
use yiwang_domain::mailbox::{decide, Command, Letter, LetterId, LetterStatus};
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::codec::{account_id, org_id};
use super::page::{page_of, start_after, TimeKey};
use super::schema::mailbox_letters as ml;
use super::{
    corrupt, decide_held, from_naive, held_first, record_change, to_naive, unexpected, Database,
    DbConnection, TxError,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = ml)]
struct Row {
    id: String,
    account_id: String,
    org_id: String,
    org_path: String,
    name: String,
    subject: String,
    body: String,
    public: bool,
    anonymous: bool,
    held: bool,
    status: String,
    reply: Option<String>,
    replied_by: Option<String>,
    replied_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_domain(self) -> Result<Letter, RepoError> {
        Ok(Letter {
            id: LetterId::parse(&self.id).ok_or_else(|| corrupt("letter id", &self.id))?,
            account_id: account_id(&self.account_id)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            name: self.name,
            subject: self.subject,
            body: self.body,
            public: self.public,
            anonymous: self.anonymous,
            held: self.held,
            status: LetterStatus::parse(&self.status)
                .ok_or_else(|| corrupt("letter status", &self.status))?,
            reply: self.reply,
            replied_by: self.replied_by.as_deref().map(account_id).transpose()?,
            replied_at: self.replied_at.map(from_naive),
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
        })
    }
}

fn hold(c: &mut DbConnection, id: &str) -> Result<Letter, TxError> {
    let row: Row = held_first!(c, ml::table.find(id).select(Row::as_select()))?;
    Ok(row.into_domain()?)
}

fn all(rows: Vec<Row>) -> Result<Vec<Letter>, RepoError> {
    rows.into_iter().map(Row::into_domain).collect()
}

#[async_trait]
impl MailboxRepository for Database {
    async fn post_letter(&self, letter: &Letter, change: &Change) -> Result<(), RepoError> {
        let (l, change) = (letter.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                diesel::insert_into(ml::table)
                    .values((
                        ml::id.eq(l.id.to_string()),
                        ml::account_id.eq(l.account_id.to_string()),
                        ml::org_id.eq(l.org_id.to_string()),
                        ml::org_path.eq(l.org_path.as_str()),
                        ml::name.eq(&l.name),
                        ml::subject.eq(&l.subject),
                        ml::body.eq(&l.body),
                        ml::public.eq(l.public),
                        ml::anonymous.eq(l.anonymous),
                        ml::held.eq(l.held),
                        ml::status.eq(l.status.as_str()),
                        ml::created_at.eq(to_naive(l.created_at)),
                        ml::updated_at.eq(to_naive(l.updated_at)),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn letter(&self, id: LetterId) -> Result<Letter, RepoError> {
        self.run(move |c| {
            let row: Row = ml::table
                .find(id.to_string())
                .select(Row::as_select())
                .first(c)
                .map_err(unexpected)?;
            row.into_domain()
        })
        .await
    }

    async fn letters_of(&self, account: AccountId) -> Result<Vec<Letter>, RepoError> {
        self.run(move |c| {
            let rows: Vec<Row> = ml::table
                .filter(ml::account_id.eq(account.to_string()))
                .order((ml::created_at.desc(), ml::id.desc()))
                .select(Row::as_select())
                .load(c)
                .map_err(unexpected)?;
            all(rows)
        })
        .await
    }

    async fn letters(
        &self,
        scope: &OrgPath,
        statuses: &[LetterStatus],
        listed_only: bool,
        page: &PageRequest,
    ) -> Result<Page<Letter>, RepoError> {
        let (lower, upper) = scope.subtree_range();
        let statuses: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        let request = page.clone();
        self.run(move |c| {
            let mut q = ml::table
                .filter(ml::org_path.ge(lower))
                .filter(ml::org_path.lt(upper))
                .order((ml::created_at, ml::id))
                .limit(i64::from(request.limit))
                .select(Row::as_select())
                .into_boxed();
            if !statuses.is_empty() {
                q = q.filter(ml::status.eq_any(statuses));
            }
            if listed_only {
                q = q
                    .filter(ml::public.eq(true))
                    .filter(ml::held.eq(false))
                    .filter(ml::reply.is_not_null());
            }
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                q = q.filter(
                    ml::created_at
                        .gt(at)
                        .or(ml::created_at.eq(at).and(ml::id.gt(id))),
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

    async fn answer_letter(
        &self,
        id: LetterId,
        by: AccountId,
        command: Command,
        at: DateTime<Utc>,
        mut change: Change,
        answer: AnswerOf<Letter>,
    ) -> Result<Letter, RepoError> {
        self.run(move |c| {
            let key = id.to_string();
            decide_held(
                c,
                |c| hold(c, &key),
                |before| decide(before, by, &command, at).map_err(Into::into),
                |c, _, after| {
                    diesel::update(ml::table.find(&key))
                        .set((
                            ml::status.eq(after.status.as_str()),
                            ml::reply.eq(after.reply.as_deref()),
                            ml::replied_by.eq(after.replied_by.map(|b| b.to_string())),
                            ml::replied_at.eq(after.replied_at.map(to_naive)),
                            ml::updated_at.eq(to_naive(after.updated_at)),
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
