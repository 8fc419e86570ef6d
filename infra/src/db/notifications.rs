//! [`NotificationStore`] on the shared schema (issue 20): the inbox (one row per event and
//! person, kept so by a unique index), the subscribe templates, the subscriptions each worker
//! has left and what was sent for each event, and the kinds switched off.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::notification::store::{
    NotificationStore, ReadMark, SendOutcome, Spend, MAX_SUBSCRIPTIONS,
};
use yiwang_domain::notification::template::SubscribeTemplate;
use yiwang_domain::notification::{Notification, NotificationKind};
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::codec::account_id;
use super::page::{page_of, start_after, TimeKey};
use super::schema::{
    notification_mutes as nm, notifications as n, subscribe_sends as ss, subscribe_templates as st,
    subscriptions as sub,
};
use super::{
    claim_writer, corrupt, execute_on, from_naive, record_change, to_naive, unexpected, Database,
    DbConnection, TxError,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = n)]
struct Row {
    id: String,
    account_id: String,
    event_id: String,
    kind: String,
    title: String,
    body: String,
    record_type: String,
    record_id: String,
    created_at: NaiveDateTime,
    read_at: Option<NaiveDateTime>,
}

impl Row {
    fn into_domain(self) -> Result<Notification, RepoError> {
        Ok(Notification {
            kind: NotificationKind::parse(&self.kind)
                .ok_or_else(|| corrupt("notification kind", &self.kind))?,
            account: account_id(&self.account_id)?,
            id: self.id,
            event_id: self.event_id,
            title: self.title,
            body: self.body,
            record_type: self.record_type,
            record_id: self.record_id,
            created_at: from_naive(self.created_at),
            read_at: self.read_at.map(from_naive),
        })
    }
}

fn unread_in(c: &mut DbConnection, account: &str) -> QueryResult<u64> {
    n::table
        .filter(n::account_id.eq(account))
        .filter(n::read_at.is_null())
        .count()
        .get_result::<i64>(c)
        .map(|k| u64::try_from(k).unwrap_or(0))
}

type TemplateRow = (String, String, String, String);

fn template_of(
    (topic, template_id, page, data): TemplateRow,
) -> Result<SubscribeTemplate, RepoError> {
    let data: BTreeMap<String, String> =
        serde_json::from_str(&data).map_err(|_| corrupt("template data", &topic))?;
    Ok(SubscribeTemplate {
        topic,
        template_id,
        page,
        data,
    })
}

fn counts(c: &mut DbConnection, account: &str) -> QueryResult<Vec<(String, u32)>> {
    let rows: Vec<(String, i32)> = sub::table
        .filter(sub::account_id.eq(account))
        .filter(sub::remaining.gt(0))
        .order(sub::template_id)
        .select((sub::template_id, sub::remaining))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(t, k)| (t, u32::try_from(k).unwrap_or(0)))
        .collect())
}

#[async_trait]
impl NotificationStore for Database {
    async fn deliver(&self, notification: &Notification) -> Result<bool, RepoError> {
        let x = notification.clone();
        self.run(move |c| {
            let insert = diesel::insert_into(n::table)
                .values((
                    n::id.eq(&x.id),
                    n::account_id.eq(x.account.to_string()),
                    n::event_id.eq(&x.event_id),
                    n::kind.eq(x.kind.as_str()),
                    n::title.eq(&x.title),
                    n::body.eq(&x.body),
                    n::record_type.eq(&x.record_type),
                    n::record_id.eq(&x.record_id),
                    n::created_at.eq(to_naive(x.created_at)),
                    n::read_at.eq(None::<NaiveDateTime>),
                ))
                .on_conflict_do_nothing();
            execute_on!(c, insert).map(|k| k > 0).map_err(unexpected)
        })
        .await
    }

    async fn inbox(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> Result<Page<Notification>, RepoError> {
        let request = page.clone();
        self.run(move |c| {
            // Newest first by when it happened (the event's time), then id: events handled
            // together or retried later still list in the order they happened.
            let mut q = n::table
                .filter(n::account_id.eq(account.to_string()))
                .order((n::created_at.desc(), n::id.desc()))
                .limit(i64::from(request.limit))
                .select(Row::as_select())
                .into_boxed();
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                q = q.filter(
                    n::created_at
                        .lt(at)
                        .or(n::created_at.eq(at).and(n::id.lt(id))),
                );
            }
            let rows: Vec<Row> = q.load(c).map_err(unexpected)?;
            let items = rows
                .into_iter()
                .map(Row::into_domain)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(items, &request, |x| {
                TimeKey::new(x.created_at, &x.id)
            }))
        })
        .await
    }

    async fn unread(&self, account: AccountId) -> Result<u64, RepoError> {
        self.run(move |c| unread_in(c, &account.to_string()).map_err(unexpected))
            .await
    }

    async fn mark_read(
        &self,
        account: AccountId,
        mark: &ReadMark,
        at: DateTime<Utc>,
    ) -> Result<u64, RepoError> {
        let (mark, at) = (mark.clone(), to_naive(at));
        let account = account.to_string();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let id = match &mark {
                    ReadMark::One(id) | ReadMark::UpTo(id) => id,
                };
                let Some(when) = n::table
                    .filter(n::account_id.eq(&account))
                    .filter(n::id.eq(id))
                    .select(n::created_at)
                    .first::<NaiveDateTime>(c)
                    .optional()?
                else {
                    return Err(TxError::Repo(RepoError::NotFound));
                };
                let mine = n::table
                    .filter(n::account_id.eq(&account))
                    .filter(n::read_at.is_null());
                match &mark {
                    ReadMark::One(id) => diesel::update(mine.filter(n::id.eq(id)))
                        .set(n::read_at.eq(at))
                        .execute(c)?,
                    // This one and every one listed after it (the inbox's order).
                    ReadMark::UpTo(id) => diesel::update(
                        mine.filter(
                            n::created_at
                                .lt(when)
                                .or(n::created_at.eq(when).and(n::id.le(id))),
                        ),
                    )
                    .set(n::read_at.eq(at))
                    .execute(c)?,
                };
                Ok(unread_in(c, &account)?)
            })
            .map_err(TxError::into_repo)
        })
        .await
    }

    async fn templates(&self) -> Result<Vec<SubscribeTemplate>, RepoError> {
        self.run(|c| {
            let rows: Vec<TemplateRow> = st::table
                .order(st::topic)
                .select((st::topic, st::template_id, st::page, st::data))
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter().map(template_of).collect()
        })
        .await
    }

    async fn template(&self, topic: &str) -> Result<Option<SubscribeTemplate>, RepoError> {
        let topic = topic.to_owned();
        self.run(move |c| {
            let row: Option<TemplateRow> = st::table
                .find(&topic)
                .select((st::topic, st::template_id, st::page, st::data))
                .first(c)
                .optional()
                .map_err(unexpected)?;
            row.map(template_of).transpose()
        })
        .await
    }

    async fn save_template(
        &self,
        template: &SubscribeTemplate,
        change: &Change,
    ) -> Result<(), RepoError> {
        let (t, change) = (template.clone(), change.clone());
        let data =
            serde_json::to_string(&t.data).map_err(|e| RepoError::Unexpected(Box::new(e)))?;
        self.run(move |c| {
            c.transaction(|c| {
                let at = to_naive(change.audit.at);
                let upsert = diesel::insert_into(st::table)
                    .values((
                        st::topic.eq(&t.topic),
                        st::template_id.eq(&t.template_id),
                        st::page.eq(&t.page),
                        st::data.eq(&data),
                        st::updated_at.eq(at),
                    ))
                    .on_conflict(st::topic)
                    .do_update()
                    .set((
                        st::template_id.eq(&t.template_id),
                        st::page.eq(&t.page),
                        st::data.eq(&data),
                        st::updated_at.eq(at),
                    ));
                execute_on!(c, upsert)?;
                record_change(c, &change)
            })
            .map_err(TxError::into_repo)
        })
        .await
    }

    async fn remove_template(&self, topic: &str, change: &Change) -> Result<(), RepoError> {
        let (topic, change) = (topic.to_owned(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let gone = diesel::delete(st::table.find(&topic)).execute(c)?;
                if gone == 0 {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                record_change(c, &change)
            })
            .map_err(TxError::into_repo)
        })
        .await
    }

    async fn subscriptions(&self, account: AccountId) -> Result<Vec<(String, u32)>, RepoError> {
        self.run(move |c| counts(c, &account.to_string()).map_err(unexpected))
            .await
    }

    async fn subscribe(
        &self,
        account: AccountId,
        accepted: &[String],
        at: DateTime<Utc>,
    ) -> Result<Vec<(String, u32)>, RepoError> {
        let (accepted, at) = (accepted.to_vec(), to_naive(at));
        let account = account.to_string();
        let cap = i32::try_from(MAX_SUBSCRIPTIONS).unwrap_or(i32::MAX);
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                for template in &accepted {
                    let upsert = diesel::insert_into(sub::table)
                        .values((
                            sub::account_id.eq(&account),
                            sub::template_id.eq(template),
                            sub::remaining.eq(1),
                            sub::updated_at.eq(at),
                        ))
                        .on_conflict((sub::account_id, sub::template_id))
                        .do_update()
                        .set((
                            sub::remaining.eq(sub::remaining + 1),
                            sub::updated_at.eq(at),
                        ));
                    execute_on!(c, upsert)?;
                    diesel::update(sub::table.find((&account, template)))
                        .filter(sub::remaining.gt(cap))
                        .set(sub::remaining.eq(cap))
                        .execute(c)?;
                }
                Ok(counts(c, &account)?)
            })
            .map_err(TxError::into_repo)
        })
        .await
    }

    async fn spend(
        &self,
        event_id: &str,
        account: AccountId,
        template_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Spend, RepoError> {
        let (event_id, template_id, at) =
            (event_id.to_owned(), template_id.to_owned(), to_naive(at));
        let account = account.to_string();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let before: Option<String> = ss::table
                    .find((&event_id, &account))
                    .select(ss::outcome)
                    .first(c)
                    .optional()?;
                match before.as_deref() {
                    Some("sending") => return Ok(Spend::Resend),
                    Some(_) => return Ok(Spend::Settled),
                    None => {}
                }
                // One statement decides: of two relays spending at once, one finds none left.
                let spent = diesel::update(
                    sub::table
                        .find((&account, &template_id))
                        .filter(sub::remaining.gt(0)),
                )
                .set((
                    sub::remaining.eq(sub::remaining - 1),
                    sub::updated_at.eq(at),
                ))
                .execute(c)?;
                if spent == 0 {
                    return Ok(Spend::NoneLeft);
                }
                diesel::insert_into(ss::table)
                    .values((
                        ss::event_id.eq(&event_id),
                        ss::account_id.eq(&account),
                        ss::template_id.eq(&template_id),
                        ss::outcome.eq("sending"),
                        ss::at.eq(at),
                    ))
                    .execute(c)?;
                Ok(Spend::Spent)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn sent(
        &self,
        event_id: &str,
        account: AccountId,
        template_id: &str,
        outcome: SendOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let (event_id, template_id, at) =
            (event_id.to_owned(), template_id.to_owned(), to_naive(at));
        let account = account.to_string();
        self.run(move |c| {
            c.transaction(|c| {
                claim_writer(c)?;
                let send = ss::table.find((&event_id, &account));
                match outcome {
                    SendOutcome::Sent | SendOutcome::Refused => {
                        diesel::update(send)
                            .set((ss::outcome.eq(outcome.as_str()), ss::at.eq(at)))
                            .execute(c)?;
                    }
                    SendOutcome::NotSent => {
                        let forgotten = diesel::delete(send).execute(c)?;
                        if forgotten > 0 {
                            diesel::update(sub::table.find((&account, &template_id)))
                                .set((
                                    sub::remaining.eq(sub::remaining + 1),
                                    sub::updated_at.eq(at),
                                ))
                                .execute(c)?;
                        }
                    }
                }
                if outcome == SendOutcome::Refused {
                    diesel::update(sub::table.find((&account, &template_id)))
                        .set((sub::remaining.eq(0), sub::updated_at.eq(at)))
                        .execute(c)?;
                }
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn muted(&self, account: AccountId) -> Result<Vec<NotificationKind>, RepoError> {
        self.run(move |c| {
            let kinds: Vec<String> = nm::table
                .filter(nm::account_id.eq(account.to_string()))
                .select(nm::kind)
                .load(c)
                .map_err(unexpected)?;
            let mut kinds: Vec<NotificationKind> = kinds
                .iter()
                .map(|k| NotificationKind::parse(k).ok_or_else(|| corrupt("notification kind", k)))
                .collect::<Result<_, _>>()?;
            kinds.sort();
            Ok(kinds)
        })
        .await
    }

    async fn set_muted(
        &self,
        account: AccountId,
        kinds: &[NotificationKind],
    ) -> Result<(), RepoError> {
        let kinds = kinds.to_vec();
        let account = account.to_string();
        self.run(move |c| {
            c.transaction(|c| {
                diesel::delete(nm::table.filter(nm::account_id.eq(&account))).execute(c)?;
                for kind in &kinds {
                    let insert = diesel::insert_into(nm::table)
                        .values((nm::account_id.eq(&account), nm::kind.eq(kind.as_str())))
                        .on_conflict_do_nothing();
                    execute_on!(c, insert)?;
                }
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
}

/// Erases everything of a deleted account's notifications (issue 20, item 5), inside the
/// deletion's transaction.
pub(crate) fn erase_account(c: &mut DbConnection, account: &str) -> QueryResult<()> {
    diesel::delete(n::table.filter(n::account_id.eq(account))).execute(c)?;
    diesel::delete(sub::table.filter(sub::account_id.eq(account))).execute(c)?;
    diesel::delete(ss::table.filter(ss::account_id.eq(account))).execute(c)?;
    diesel::delete(nm::table.filter(nm::account_id.eq(account))).execute(c)?;
    Ok(())
}
