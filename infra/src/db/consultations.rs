//! [`ConsultationRepository`] on the shared schema: consultations and their messages.
//!
//! Races are settled by the database: a command holds the consultation's row
//! (`SELECT … FOR UPDATE` on PostgreSQL; the transaction's write lock on SQLite) and is judged
//! on the row as it finds it, so of two lawyers accepting at once the second finds the
//! consultation taken.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use yiwang_domain::account::AccountId;
use yiwang_domain::audit::Change;
use yiwang_domain::consultation::category::CategoryCode;
use yiwang_domain::consultation::early_warning::EmployerKey;
use yiwang_domain::consultation::message::{
    Attachment, AttachmentType, Author, Message, MessageId, ReadMark,
};
use yiwang_domain::consultation::store::{Act, ConsultationRepository, QueueScope, Step};
use yiwang_domain::consultation::thread::{
    decide, Command, Consultation, ConsultationId, ConsultationStatus, Context, Outcome, Rating,
    REOPEN_DAYS,
};
use yiwang_domain::membership::identity::CreditCode;
use yiwang_domain::org::OrgPath;
use yiwang_domain::store::{Page, PageRequest, RepoError};

use super::codec::{account_id, org_id};
use super::early_warning;
use super::page::{page_of, start_after, TimeKey};
use super::roster::load_category;
use super::schema::{
    consultation_messages as msg, consultation_read_marks as rm, consultations as co, lawyers as lw,
};
use super::{
    corrupt, decide_held, execute_on, from_naive, held_first, record_change, to_naive, unexpected,
    Database, DbConnection, TxError,
};

/// Most rows of a lawyer's queue.

#[derive(Queryable, Selectable)]
#[diesel(table_name = co)]
struct ConsultationRow {
    id: String,
    account_id: String,
    org_id: String,
    org_path: String,
    category_code: String,
    title: String,
    employer: Option<String>,
    status: String,
    chosen_lawyer_id: Option<String>,
    reserved_until: Option<NaiveDateTime>,
    lawyer_id: Option<String>,
    first_response_due: Option<NaiveDateTime>,
    first_response_at: Option<NaiveDateTime>,
    resolution_due: Option<NaiveDateTime>,
    resolution_left_seconds: Option<i64>,
    resolved_at: Option<NaiveDateTime>,
    rating_stars: Option<i32>,
    rating_comment: Option<String>,
    rated_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    employer_credit_code: Option<String>,
    employer_key: Option<String>,
}

impl ConsultationRow {
    fn into_domain(self) -> Result<Consultation, RepoError> {
        let rating = match (self.rating_stars, self.rated_at) {
            (Some(stars), Some(at)) => Some(Rating {
                stars: u8::try_from(stars).map_err(|_| corrupt("rating", &stars.to_string()))?,
                comment: self.rating_comment,
                at: from_naive(at),
            }),
            _ => None,
        };
        Ok(Consultation {
            id: ConsultationId::parse(&self.id)
                .ok_or_else(|| corrupt("consultation id", &self.id))?,
            account_id: account_id(&self.account_id)?,
            org_id: org_id(&self.org_id)?,
            org_path: OrgPath::from_stored(self.org_path),
            category: CategoryCode::parse(&self.category_code)
                .ok_or_else(|| corrupt("category code", &self.category_code))?,
            title: self.title,
            employer: self.employer,
            employer_credit_code: self
                .employer_credit_code
                .map(|code| CreditCode::parse(&code).map_err(|_| corrupt("credit code", &code)))
                .transpose()?,
            employer_key: self.employer_key.map(EmployerKey::from_stored),
            status: ConsultationStatus::parse(&self.status)
                .ok_or_else(|| corrupt("consultation status", &self.status))?,
            chosen_lawyer: self
                .chosen_lawyer_id
                .as_deref()
                .map(account_id)
                .transpose()?,
            reserved_until: self.reserved_until.map(from_naive),
            lawyer: self.lawyer_id.as_deref().map(account_id).transpose()?,
            first_response_due: self.first_response_due.map(from_naive),
            first_response_at: self.first_response_at.map(from_naive),
            resolution_due: self.resolution_due.map(from_naive),
            resolution_left_seconds: self.resolution_left_seconds,
            resolved_at: self.resolved_at.map(from_naive),
            rating,
            created_at: from_naive(self.created_at),
            updated_at: from_naive(self.updated_at),
        })
    }
}

/// The columns a command changes, written whole by an insert and an update alike.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = co, treat_none_as_null = true)]
struct ConsultationState<'a> {
    status: &'a str,
    reserved_until: Option<NaiveDateTime>,
    lawyer_id: Option<String>,
    first_response_due: Option<NaiveDateTime>,
    first_response_at: Option<NaiveDateTime>,
    resolution_due: Option<NaiveDateTime>,
    resolution_left_seconds: Option<i64>,
    resolved_at: Option<NaiveDateTime>,
    rating_stars: Option<i32>,
    rating_comment: Option<&'a str>,
    rated_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

impl<'a> ConsultationState<'a> {
    fn of(c: &'a Consultation) -> Self {
        ConsultationState {
            status: c.status.as_str(),
            reserved_until: c.reserved_until.map(to_naive),
            lawyer_id: c.lawyer.map(|l| l.to_string()),
            first_response_due: c.first_response_due.map(to_naive),
            first_response_at: c.first_response_at.map(to_naive),
            resolution_due: c.resolution_due.map(to_naive),
            resolution_left_seconds: c.resolution_left_seconds,
            resolved_at: c.resolved_at.map(to_naive),
            rating_stars: c.rating.as_ref().map(|r| i32::from(r.stars)),
            rating_comment: c.rating.as_ref().and_then(|r| r.comment.as_deref()),
            rated_at: c.rating.as_ref().map(|r| to_naive(r.at)),
            updated_at: to_naive(c.updated_at),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = msg)]
struct MessageRow {
    id: String,
    consultation_id: String,
    author: String,
    author_id: Option<String>,
    body: String,
    held: bool,
    trace_id: Option<String>,
    created_at: NaiveDateTime,
    attachment_key: Option<String>,
    attachment_type: Option<String>,
    attachment_bytes: Option<i64>,
    attachment_seconds: Option<i32>,
}

impl MessageRow {
    fn into_domain(self) -> Result<Message, RepoError> {
        let attachment = match (self.attachment_key, self.attachment_type) {
            (Some(key), Some(media_type)) => Some(Attachment {
                media_type: AttachmentType::parse(&media_type)
                    .ok_or_else(|| corrupt("attachment type", &media_type))?,
                bytes: self
                    .attachment_bytes
                    .and_then(|b| u64::try_from(b).ok())
                    .unwrap_or(0),
                seconds: self.attachment_seconds.and_then(|s| u32::try_from(s).ok()),
                key,
            }),
            _ => None,
        };
        Ok(Message {
            id: MessageId::parse(&self.id).ok_or_else(|| corrupt("message id", &self.id))?,
            consultation_id: ConsultationId::parse(&self.consultation_id)
                .ok_or_else(|| corrupt("consultation id", &self.consultation_id))?,
            author: Author::parse(&self.author).ok_or_else(|| corrupt("author", &self.author))?,
            author_id: self.author_id.as_deref().map(account_id).transpose()?,
            body: self.body,
            attachment,
            held: self.held,
            trace_id: self.trace_id,
            created_at: from_naive(self.created_at),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = rm)]
struct ReadMarkRow {
    consultation_id: String,
    account_id: String,
    reader: String,
    message_id: String,
    at: NaiveDateTime,
}

impl ReadMarkRow {
    fn into_domain(self) -> Result<ReadMark, RepoError> {
        Ok(ReadMark {
            consultation_id: ConsultationId::parse(&self.consultation_id)
                .ok_or_else(|| corrupt("consultation id", &self.consultation_id))?,
            reader: Author::parse(&self.reader).ok_or_else(|| corrupt("reader", &self.reader))?,
            account_id: account_id(&self.account_id)?,
            message_id: MessageId::parse(&self.message_id)
                .ok_or_else(|| corrupt("message id", &self.message_id))?,
            at: from_naive(self.at),
        })
    }
}

/// Inserts `messages` in one statement (a batch insert runs on the concrete connection).
fn insert_messages(c: &mut DbConnection, messages: &[Message]) -> QueryResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = messages
        .iter()
        .map(|m| {
            (
                msg::id.eq(m.id.to_string()),
                msg::consultation_id.eq(m.consultation_id.to_string()),
                msg::author.eq(m.author.as_str()),
                msg::author_id.eq(m.author_id.map(|a| a.to_string())),
                msg::body.eq(&m.body),
                msg::held.eq(m.held),
                msg::trace_id.eq(m.trace_id.as_deref()),
                msg::created_at.eq(to_naive(m.created_at)),
                msg::attachment_key.eq(m.attachment.as_ref().map(|a| a.key.as_str())),
                msg::attachment_type.eq(m.attachment.as_ref().map(|a| a.media_type.as_str())),
                msg::attachment_bytes.eq(m
                    .attachment
                    .as_ref()
                    .map(|a| i64::try_from(a.bytes).unwrap_or(i64::MAX))),
                msg::attachment_seconds.eq(m
                    .attachment
                    .as_ref()
                    .and_then(|a| a.seconds)
                    .map(|s| i32::try_from(s).unwrap_or(i32::MAX))),
            )
        })
        .collect();
    let query = diesel::insert_into(msg::table).values(rows);
    execute_on!(c, query)?;
    Ok(())
}

/// Reads consultation `id` and holds its row until the transaction ends (`FOR UPDATE` on
/// PostgreSQL; on SQLite the transaction's write lock holds it).
fn hold(c: &mut DbConnection, id: &str) -> Result<Consultation, TxError> {
    let row: ConsultationRow =
        held_first!(c, co::table.find(id).select(ConsultationRow::as_select()))?;
    Ok(row.into_domain()?)
}

fn all(rows: Vec<ConsultationRow>) -> Result<Vec<Consultation>, RepoError> {
    rows.into_iter().map(ConsultationRow::into_domain).collect()
}

#[async_trait]
impl ConsultationRepository for Database {
    async fn open(
        &self,
        consultation: &Consultation,
        first: &Message,
        change: &Change,
    ) -> Result<(), RepoError> {
        let (consultation, first, change) = (consultation.clone(), first.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                let k = &consultation;
                diesel::insert_into(co::table)
                    .values((
                        co::id.eq(k.id.to_string()),
                        co::account_id.eq(k.account_id.to_string()),
                        co::org_id.eq(k.org_id.to_string()),
                        co::org_path.eq(k.org_path.as_str()),
                        co::category_code.eq(k.category.as_str()),
                        co::title.eq(&k.title),
                        co::employer.eq(k.employer.as_deref()),
                        co::employer_credit_code
                            .eq(k.employer_credit_code.as_ref().map(|c| c.as_str())),
                        co::employer_key.eq(k.employer_key.as_ref().map(|e| e.as_str())),
                        co::chosen_lawyer_id.eq(k.chosen_lawyer.map(|l| l.to_string())),
                        co::created_at.eq(to_naive(k.created_at)),
                        ConsultationState::of(k),
                    ))
                    .execute(c)?;
                insert_messages(c, std::slice::from_ref(&first))?;
                record_change(c, &change)?;
                early_warning::watch(c, k)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn consultation(&self, id: ConsultationId) -> Result<Consultation, RepoError> {
        self.run(move |c| {
            let row: ConsultationRow = co::table
                .find(id.to_string())
                .select(ConsultationRow::as_select())
                .first(c)
                .map_err(|e| TxError::from(e).into_repo())?;
            row.into_domain()
        })
        .await
    }

    async fn act(
        &self,
        id: ConsultationId,
        act: Act,
        change: Box<dyn for<'o> FnOnce(&'o Outcome) -> Change + Send + 'static>,
    ) -> Result<Step, RepoError> {
        self.run(move |c| {
            let key = id.to_string();
            decide_held(
                c,
                |c| {
                    let before = hold(c, &key)?;
                    let category = load_category(c, before.category.as_str())?;
                    Ok((before, category))
                },
                |(before, category)| {
                    let ctx = Context {
                        category,
                        calendar: &act.calendar,
                        at: act.at,
                    };
                    decide(before, &act.actor, &act.command, &ctx)
                },
                |c, (before, _), outcome| {
                    diesel::update(co::table.find(&key))
                        .set(ConsultationState::of(&outcome.consultation))
                        .execute(c)?;
                    let mut messages: Vec<Message> = act.message.into_iter().collect();
                    if let Some(note) = &outcome.note {
                        messages.push(Message::new(id, Author::System, None, note.clone(), act.at));
                    }
                    insert_messages(c, &messages)?;
                    if let (Command::Rate(rating), Some(lawyer)) = (&act.command, before.lawyer) {
                        diesel::update(lw::table.find(lawyer.to_string()))
                            .set((
                                lw::rating_sum.eq(lw::rating_sum + i64::from(rating.stars)),
                                lw::rating_count.eq(lw::rating_count + 1),
                            ))
                            .execute(c)?;
                    }
                    let changes = vec![change(&outcome)];
                    Ok((Step { outcome, messages }, changes))
                },
            )
            .map_err(TxError::into_repo)
        })
        .await
    }

    async fn messages(
        &self,
        id: ConsultationId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>, RepoError> {
        self.run(move |c| {
            let mut q = msg::table
                .filter(msg::consultation_id.eq(id.to_string()))
                .order(msg::id)
                .limit(i64::from(limit))
                .select(MessageRow::as_select())
                .into_boxed();
            if let Some(after) = after {
                q = q.filter(msg::id.gt(after.to_string()));
            }
            let rows: Vec<MessageRow> = q.load(c).map_err(unexpected)?;
            rows.into_iter().map(MessageRow::into_domain).collect()
        })
        .await
    }

    async fn mark_read(&self, mark: &ReadMark) -> Result<ReadMark, RepoError> {
        let mark = mark.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let (thread, reader) = (
                    mark.consultation_id.to_string(),
                    mark.account_id.to_string(),
                );
                let message = mark.message_id.to_string();
                let in_thread: i64 = msg::table
                    .filter(msg::id.eq(&message))
                    .filter(msg::consultation_id.eq(&thread))
                    .count()
                    .get_result(c)?;
                if in_thread == 0 {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                let row = (
                    rm::consultation_id.eq(&thread),
                    rm::account_id.eq(&reader),
                    rm::reader.eq(mark.reader.as_str()),
                    rm::message_id.eq(&message),
                    rm::at.eq(to_naive(mark.at)),
                );
                let insert = diesel::insert_into(rm::table).values(row);
                execute_on!(c, insert.on_conflict_do_nothing())?;
                // Message ids are UUIDv7 text: their order is the thread's.
                diesel::update(rm::table.find((&thread, &reader)))
                    .filter(rm::message_id.lt(&message))
                    .set((rm::message_id.eq(&message), rm::at.eq(to_naive(mark.at))))
                    .execute(c)?;
                let row: ReadMarkRow = rm::table
                    .find((&thread, &reader))
                    .select(ReadMarkRow::as_select())
                    .first(c)?;
                row.into_domain().map_err(TxError::Repo)
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }

    async fn message(&self, id: ConsultationId, message: MessageId) -> Result<Message, RepoError> {
        self.run(move |c| {
            let row: MessageRow = msg::table
                .find(message.to_string())
                .filter(msg::consultation_id.eq(id.to_string()))
                .select(MessageRow::as_select())
                .first(c)
                .map_err(|e| TxError::from(e).into_repo())?;
            row.into_domain()
        })
        .await
    }

    async fn read_marks(&self, id: ConsultationId) -> Result<Vec<ReadMark>, RepoError> {
        self.run(move |c| {
            let rows: Vec<ReadMarkRow> = rm::table
                .filter(rm::consultation_id.eq(id.to_string()))
                .order(rm::account_id)
                .select(ReadMarkRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            rows.into_iter().map(ReadMarkRow::into_domain).collect()
        })
        .await
    }

    async fn consultations_of(&self, account: AccountId) -> Result<Vec<Consultation>, RepoError> {
        self.run(move |c| {
            let rows: Vec<ConsultationRow> = co::table
                .filter(co::account_id.eq(account.to_string()))
                .order((co::created_at.desc(), co::id.desc()))
                .select(ConsultationRow::as_select())
                .load(c)
                .map_err(unexpected)?;
            all(rows)
        })
        .await
    }

    async fn queue(
        &self,
        whose: &QueueScope,
        statuses: &[ConsultationStatus],
        at: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<Consultation>, RepoError> {
        let whose = whose.clone();
        // A stored `resolved` reads `closed` once REOPEN_DAYS have passed: a filter on
        // either state splits the resolved rows at that cutoff.
        let want = |s: ConsultationStatus| statuses.contains(&s);
        let (closed, resolved) = (
            want(ConsultationStatus::Closed),
            want(ConsultationStatus::Resolved),
        );
        let mut stored: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        if closed && !resolved {
            stored.push(ConsultationStatus::Resolved.as_str());
        }
        let lapsed = if closed == resolved {
            None
        } else {
            Some((closed, to_naive(at - TimeDelta::days(REOPEN_DAYS))))
        };
        let request = page.clone();
        self.run(move |c| {
            let mut q = co::table
                .order((co::created_at, co::id))
                .limit(i64::from(request.limit))
                .select(ConsultationRow::as_select())
                .into_boxed();
            match &whose {
                QueueScope::Branch(scope) => {
                    let (lower, upper) = scope.subtree_range();
                    q = q
                        .filter(co::org_path.ge(lower))
                        .filter(co::org_path.lt(upper));
                }
                QueueScope::Lawyer {
                    lawyer,
                    specialties,
                } => {
                    let codes: Vec<&str> = specialties.iter().map(CategoryCode::as_str).collect();
                    q = q.filter(
                        co::lawyer_id
                            .eq(lawyer.to_string())
                            .and(co::status.ne(ConsultationStatus::Held.as_str()))
                            .or(co::status
                                .eq(ConsultationStatus::Waiting.as_str())
                                .and(co::category_code.eq_any(codes))),
                    );
                }
            }
            if !stored.is_empty() {
                q = q.filter(co::status.eq_any(stored));
            }
            let not_resolved = co::status.ne(ConsultationStatus::Resolved.as_str());
            match lapsed {
                Some((true, cutoff)) => {
                    q = q.filter(not_resolved.or(co::resolved_at.assume_not_null().le(cutoff)))
                }
                Some((false, cutoff)) => {
                    q = q.filter(not_resolved.or(co::resolved_at.assume_not_null().gt(cutoff)))
                }
                None => {}
            }
            if let Some(TimeKey { at, id }) = start_after::<TimeKey>(&request)? {
                q = q.filter(
                    co::created_at
                        .gt(at)
                        .or(co::created_at.eq(at).and(co::id.gt(id))),
                );
            }
            let rows: Vec<ConsultationRow> = q.load(c).map_err(unexpected)?;
            let rows = all(rows)?;
            Ok(page_of(rows, &request, |r| {
                TimeKey::new(r.created_at, r.id)
            }))
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};
    use serde_json::json;
    use yiwang_domain::account::{Official, Role, Username};
    use yiwang_domain::audit::{Actor as AuditActor, AuditEntry};
    use yiwang_domain::calendar::WorkingCalendar;
    use yiwang_domain::consultation::lawyer::{Lawyer, LawyerInput};
    use yiwang_domain::consultation::store::{QueueScope, RosterRepository};
    use yiwang_domain::consultation::thread::{Actor, ConsultationRefusal, Question};
    use yiwang_domain::org::{OrgKind, OrgName, Organisation};
    use yiwang_domain::store::{OfficialRepository, OrgRepository, WorkerRepository};

    use super::*;
    use crate::db::test_env::backends;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn change() -> Change {
        Change {
            audit: AuditEntry {
                actor: AuditActor::System,
                action: "consultation.test".into(),
                record_type: "consultation".into(),
                record_id: "-".into(),
                ip: None,
                request_id: None,
                detail: json!({}),
                at: at(0),
            },
            event: None,
            answer: None,
        }
    }

    async fn lawyer(db: &Database, org: &Organisation, name: &str, licence: &str) -> Lawyer {
        let official = Official {
            id: AccountId::new(),
            username: Username::parse(&format!("lawyer.{licence}")).unwrap(),
            display_name: name.into(),
            org_id: org.id,
            org_path: org.path.clone(),
            role: Role::Lawyer,
            disabled_at: None,
            password_change_required: false,
            created_at: at(0),
        };
        OfficialRepository::create(db, &official, "hash", &change())
            .await
            .unwrap();
        let details = LawyerInput {
            name: Some(name.into()),
            law_firm: Some("山东垦利律师事务所".into()),
            licence_number: Some(licence.into()),
            specialties: vec!["wage_arrears".into()],
            years_in_practice: Some(json!(5)),
            bio: None,
        }
        .validate(|_| true)
        .unwrap();
        db.save_lawyer(official.id, &details, at(0), &change())
            .await
            .unwrap();
        db.set_on_duty(official.id, true, at(0), &change())
            .await
            .unwrap()
    }

    fn act(actor: Actor, command: Command, message: Option<Message>, minute: i64) -> Act {
        Act {
            actor,
            command,
            message,
            calendar: WorkingCalendar::default(),
            at: at(minute),
        }
    }

    #[tokio::test]
    async fn two_lawyers_accept_at_once_one_wins_and_the_thread_is_kept_in_order() {
        for env in backends() {
            let db = &env.db;
            let name = |n: &str| OrgName::parse(n).unwrap();
            let root =
                Organisation::new_root(name("垦利区总工会"), OrgKind::CountyFederation, at(0));
            OrgRepository::create(db, &root, &change()).await.unwrap();
            let worker = db.login_by_openid("o-ask", None, at(0)).await.unwrap().0.id;
            let zhang = lawyer(db, &root, "张明", "13705201010123456").await;
            let li = lawyer(db, &root, "李静", "13705201110654321").await;
            let categories = db.categories().await.unwrap();
            let wage = categories
                .iter()
                .find(|c| c.code.as_str() == "wage_arrears")
                .unwrap();
            let question = Question {
                account: worker,
                org_id: root.id,
                org_path: root.path.clone(),
                title: "工资拖欠三个月".into(),
                employer: Some("某某快递有限公司".into()),
                employer_credit_code: None,
                chosen_lawyer: None,
                held: false,
            };
            let consultation =
                Consultation::new(question, wage, &WorkingCalendar::default(), at(0));
            let id = consultation.id;
            let first = Message::new(
                id,
                Author::Worker,
                Some(worker),
                "老板欠我三个月工资".into(),
                at(0),
            );
            db.open(&consultation, &first, &change()).await.unwrap();
            assert_eq!(db.consultation(id).await.unwrap(), consultation);

            let pool = QueueScope::Lawyer {
                lawyer: li.account_id,
                specialties: li.details.specialties.clone(),
            };
            let first_page = PageRequest {
                after: None,
                limit: 10,
            };
            let queue = db.queue(&pool, &[], at(0), &first_page).await.unwrap();
            assert_eq!(queue.items.len(), 1, "waiting in the pool of the specialty");

            let accept = |l: &Lawyer| {
                db.act(
                    id,
                    act(Actor::Lawyer(Box::new(l.clone())), Command::Accept, None, 5),
                    Box::new(|_| change()),
                )
            };
            let (x, y) = tokio::join!(accept(&zhang), accept(&li));
            let taken = [&x, &y]
                .iter()
                .filter(|r| {
                    matches!(
                        r,
                        Err(RepoError::Refused(r)) if r.is(&ConsultationRefusal::AlreadyTaken)
                    )
                })
                .count();
            assert_eq!(
                (x.is_ok() as u8 + y.is_ok() as u8, taken),
                (1, 1),
                "{x:?} {y:?}"
            );
            let winner = if x.is_ok() { &zhang } else { &li };
            let stored = db.consultation(id).await.unwrap();
            assert_eq!(
                (stored.status, stored.lawyer),
                (ConsultationStatus::Open, Some(winner.account_id))
            );

            // The lawyer answers, the worker rates after resolution: the average follows.
            let answer = Message::new(
                id,
                Author::Lawyer,
                Some(winner.account_id),
                "请提供劳动合同".into(),
                at(10),
            );
            let lawyer_actor = Actor::Lawyer(Box::new(winner.clone()));
            db.act(
                id,
                act(
                    lawyer_actor.clone(),
                    Command::Write { asks_worker: true },
                    Some(answer),
                    10,
                ),
                Box::new(|_| change()),
            )
            .await
            .unwrap();
            db.act(
                id,
                act(lawyer_actor, Command::Resolve, None, 20),
                Box::new(|_| change()),
            )
            .await
            .unwrap();
            let rating = Rating {
                stars: 5,
                comment: Some("很专业".into()),
                at: at(30),
            };
            db.act(
                id,
                act(
                    Actor::Worker(worker),
                    Command::Rate(rating.clone()),
                    None,
                    30,
                ),
                Box::new(|_| change()),
            )
            .await
            .unwrap();
            let twice = db
                .act(
                    id,
                    act(Actor::Worker(worker), Command::Rate(rating), None, 31),
                    Box::new(|_| change()),
                )
                .await;
            assert!(matches!(
                &twice,
                Err(RepoError::Refused(r)) if r.is(&ConsultationRefusal::AlreadyRated)
            ));
            let rated = db.lawyer(winner.account_id).await.unwrap();
            assert_eq!((rated.rating_sum, rated.rating_count), (5, 1));

            // The thread: the question, the acceptance, the answer, the resolution.
            let thread = db.messages(id, None, 10).await.unwrap();
            let authors: Vec<Author> = thread.iter().map(|m| m.author).collect();
            assert_eq!(
                authors,
                [
                    Author::Worker,
                    Author::System,
                    Author::Lawyer,
                    Author::System
                ]
            );
            let rest = db.messages(id, Some(thread[1].id), 10).await.unwrap();
            assert_eq!(rest.len(), 2);
            assert_eq!(rest[0].body, "请提供劳动合同");

            // The officials' queue of the branch, filtered by state.
            let page = PageRequest {
                after: None,
                limit: 10,
            };
            let count = |statuses: &'static [ConsultationStatus], minute: i64| {
                let page = page.clone();
                let scope = QueueScope::Branch(root.path.clone());
                async move {
                    db.queue(&scope, statuses, at(minute), &page)
                        .await
                        .unwrap()
                        .items
                        .len()
                }
            };
            use ConsultationStatus::{Closed, Open, Resolved};
            assert_eq!(count(&[], 40).await, 1);
            assert_eq!(count(&[Open], 40).await, 0);
            // Resolved at minute 20: resolved for 7 days, closed after, as the views read it.
            let week = REOPEN_DAYS * 24 * 60;
            assert_eq!(
                (count(&[Resolved], 40).await, count(&[Closed], 40).await),
                (1, 0)
            );
            let later = 20 + week;
            assert_eq!(
                (
                    count(&[Resolved], later).await,
                    count(&[Closed], later).await
                ),
                (0, 1)
            );
            assert_eq!(count(&[Resolved, Closed], later).await, 1);
            assert_eq!(db.consultations_of(worker).await.unwrap().len(), 1);
        }
    }
}
