//! A consultation (咨询): a question thread between a worker and a lawyer (DOMAIN.md glossary),
//! and the one function that moves it, [`decide`]. States, after the helpdesks' model
//! (DOMAIN.md, "Helpdesks"):
//!
//! ```text
//! held ──release──▶ waiting ──accept / assign──▶ open ◀──worker writes── pending
//!   └──refuse──▶ closed                           │  └──lawyer asks──────▶  │
//!                                                 └──resolve──▶ resolved ◀──┘
//!                          resolved ──worker writes within 7 days──▶ open
//!                          resolved ──7 days pass──▶ closed
//! ```
//!
//! `held` is text msgSecCheck sent to review (or could not check): an official releases or
//! refuses it before any lawyer sees it (WECHAT.md). In `waiting`, a lawyer the worker chose
//! has the category's accept minutes to themselves (接单); then any on-duty lawyer with the
//! specialty may accept, and the first accept wins. While `pending` (the lawyer asked the
//! worker) the resolution clock stops and keeps what was left.

use chrono::{DateTime, TimeDelta, Utc};

use super::category::{Category, CategoryCode};
use super::early_warning::EmployerKey;
use super::lawyer::Lawyer;
use super::message::Author;
use super::sla::Sla;
use crate::account::AccountId;
use crate::calendar::WorkingCalendar;
use crate::membership::identity::CreditCode;
use crate::org::{OrgId, OrgPath};
use crate::refusal::Refusal;

crate::uuid_id!(
    /// Identifier of a consultation.
    ConsultationId
);

/// Days after resolution in which a worker's message reopens the consultation; after them
/// it is closed.
pub const REOPEN_DAYS: i64 = 7;

/// Where a consultation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsultationStatus {
    /// 待审核: held for an official (msgSecCheck said `review`, or could not be reached).
    Held,
    /// 待接单: waiting for a lawyer.
    Waiting,
    /// 处理中: a lawyer has it.
    Open,
    /// 待补充: the lawyer asked the worker; the resolution clock stops.
    Pending,
    /// 已解答: resolved; the worker may rate it, or write within 7 days to reopen it.
    Resolved,
    /// 已关闭.
    Closed,
}

impl ConsultationStatus {
    /// Every state.
    pub const ALL: [ConsultationStatus; 6] = [
        ConsultationStatus::Held,
        ConsultationStatus::Waiting,
        ConsultationStatus::Open,
        ConsultationStatus::Pending,
        ConsultationStatus::Resolved,
        ConsultationStatus::Closed,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsultationStatus::Held => "held",
            ConsultationStatus::Waiting => "waiting",
            ConsultationStatus::Open => "open",
            ConsultationStatus::Pending => "pending",
            ConsultationStatus::Resolved => "resolved",
            ConsultationStatus::Closed => "closed",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What a worker reads.
    pub fn zh(self) -> &'static str {
        match self {
            ConsultationStatus::Held => "待审核",
            ConsultationStatus::Waiting => "待接单",
            ConsultationStatus::Open => "处理中",
            ConsultationStatus::Pending => "待补充",
            ConsultationStatus::Resolved => "已解答",
            ConsultationStatus::Closed => "已关闭",
        }
    }
}

/// The worker's rating of the answer, given once after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// 1–5.
    pub stars: u8,
    /// What the worker says, if anything.
    pub comment: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// A consultation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    /// Id.
    pub id: ConsultationId,
    /// The worker who asked.
    pub account_id: AccountId,
    /// The union that handles it (the worker's own as a member, else the installation's
    /// root): officials of its branch see it.
    pub org_id: OrgId,
    /// Its path.
    pub org_path: OrgPath,
    /// Its category.
    pub category: CategoryCode,
    /// A short title, 1–50 characters.
    pub title: String,
    /// The employer the question is about, as the worker wrote it.
    pub employer: Option<String>,
    /// The employer's unified social credit code, when the worker gave it.
    pub employer_credit_code: Option<CreditCode>,
    /// How the early warning recognises the employer (code, else normalised name).
    pub employer_key: Option<EmployerKey>,
    /// Where it is (as stored: see [`Self::status_at`] for a resolved one's closing).
    pub status: ConsultationStatus,
    /// The lawyer the worker picked (点单), if any.
    pub chosen_lawyer: Option<AccountId>,
    /// Until when only the chosen lawyer may accept.
    pub reserved_until: Option<DateTime<Utc>>,
    /// The lawyer who has it (accepted or assigned).
    pub lawyer: Option<AccountId>,
    /// The first lawyer answer is due by then (set once a lawyer may see it).
    pub first_response_due: Option<DateTime<Utc>>,
    /// When the lawyer first answered.
    pub first_response_at: Option<DateTime<Utc>>,
    /// The resolution is due by then; `None` while the clock stands (held, pending, after).
    pub resolution_due: Option<DateTime<Utc>>,
    /// While pending: the resolution clock's time left, seconds (negative when overdue).
    pub resolution_left_seconds: Option<i64>,
    /// When it was resolved (the last time).
    pub resolved_at: Option<DateTime<Utc>>,
    /// The worker's rating.
    pub rating: Option<Rating>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// What a worker asks, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The worker.
    pub account: AccountId,
    /// The union that handles it.
    pub org_id: OrgId,
    /// Its path.
    pub org_path: OrgPath,
    /// 1–50 characters.
    pub title: String,
    /// The employer, as written.
    pub employer: Option<String>,
    /// The employer's unified social credit code.
    pub employer_credit_code: Option<CreditCode>,
    /// The lawyer picked (点单).
    pub chosen_lawyer: Option<AccountId>,
    /// Whether msgSecCheck held the text for an official.
    pub held: bool,
}

impl Consultation {
    /// A new consultation of `question` in `category`, held for an official or waiting for a
    /// lawyer; the deadlines start when a lawyer may see it.
    pub fn new(
        question: Question,
        category: &Category,
        calendar: &WorkingCalendar,
        at: DateTime<Utc>,
    ) -> Consultation {
        let mut c = Consultation {
            id: ConsultationId::new(),
            account_id: question.account,
            org_id: question.org_id,
            org_path: question.org_path,
            category: category.code.clone(),
            title: question.title,
            employer_key: EmployerKey::of(
                question.employer.as_deref(),
                question.employer_credit_code.as_ref(),
            ),
            employer: question.employer,
            employer_credit_code: question.employer_credit_code,
            status: ConsultationStatus::Held,
            chosen_lawyer: question.chosen_lawyer,
            reserved_until: None,
            lawyer: None,
            first_response_due: None,
            first_response_at: None,
            resolution_due: None,
            resolution_left_seconds: None,
            resolved_at: None,
            rating: None,
            created_at: at,
            updated_at: at,
        };
        if !question.held {
            c.start_waiting(category, calendar, at);
        }
        c
    }

    /// Where it is at `now`: a resolution left alone for [`REOPEN_DAYS`] is closed.
    pub fn status_at(&self, now: DateTime<Utc>) -> ConsultationStatus {
        match (self.status, self.resolved_at) {
            (ConsultationStatus::Resolved, Some(at))
                if now - at >= TimeDelta::days(REOPEN_DAYS) =>
            {
                ConsultationStatus::Closed
            }
            (status, _) => status,
        }
    }

    /// Whether a deadline has passed unmet at `now`: the first answer, or the resolution
    /// (a pending one by the time it had left when it stopped).
    pub fn breached_at(&self, now: DateTime<Utc>) -> bool {
        let first = self.first_response_at.is_none()
            && self.first_response_due.is_some_and(|due| due < now);
        let resolution = match self.status_at(now) {
            ConsultationStatus::Waiting | ConsultationStatus::Open => {
                self.resolution_due.is_some_and(|due| due < now)
            }
            ConsultationStatus::Pending => self.resolution_left_seconds.is_some_and(|s| s < 0),
            _ => false,
        };
        first || resolution
    }

    fn start_waiting(
        &mut self,
        category: &Category,
        calendar: &WorkingCalendar,
        at: DateTime<Utc>,
    ) {
        let rules = &category.rules;
        let sla = Sla {
            clock: rules.clock,
            calendar,
        };
        self.status = ConsultationStatus::Waiting;
        self.reserved_until = self
            .chosen_lawyer
            .map(|_| at + TimeDelta::minutes(i64::from(rules.accept_minutes)));
        self.first_response_due = Some(sla.add(
            at,
            TimeDelta::minutes(i64::from(rules.first_response_minutes)),
        ));
        self.resolution_due =
            Some(sla.add(at, TimeDelta::minutes(i64::from(rules.resolution_minutes))));
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The worker who asked (or another worker: answered as if there were no such thread).
    Worker(AccountId),
    /// A lawyer, with their profile.
    Lawyer(Box<Lawyer>),
    /// An official in scope.
    Official(AccountId),
}

impl Actor {
    /// The kind of thread participant the actor writes and reads as.
    pub fn author(&self) -> Author {
        match self {
            Actor::Worker(_) => Author::Worker,
            Actor::Lawyer(_) => Author::Lawyer,
            Actor::Official(_) => Author::Official,
        }
    }
}

/// What is asked of a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An official lets held text through to the lawyers.
    Release,
    /// An official refuses held text; the consultation closes.
    Refuse,
    /// A lawyer takes it (接单).
    Accept,
    /// An official gives it to `lawyer` (on the roster, practising its category).
    Assign(Box<Lawyer>),
    /// A message from the worker or the lawyer; `asks_worker` (the lawyer's only) waits on
    /// the worker and stops the resolution clock.
    Write {
        /// The lawyer waits on the worker's answer.
        asks_worker: bool,
    },
    /// The lawyer (or an official) marks it resolved.
    Resolve,
    /// The worker rates the answer, once, after resolution.
    Rate(Rating),
}

crate::reasons! {
    /// Why a command is refused (besides "not found" for someone it is not theirs to see).
    pub enum ConsultationRefusal {
        /// Releasing or refusing text that is not held for review.
        NotHeld = (Conflict, "not_held", "该咨询不在待审核状态",
            "The consultation is not held for review"),
        /// A lawyer accepting one that another took first, or that does not wait for a lawyer.
        AlreadyTaken = (Conflict, "already_taken", "该咨询已被其他律师接单或不在待接单状态",
            "Another lawyer took the consultation first, or it is not waiting for a lawyer"),
        /// A lawyer accepting outside their specialties.
        NotYourSpecialty = (Forbidden, "not_your_specialty", "该咨询不属于您的擅长领域",
            "The consultation is outside your specialties"),
        /// A lawyer accepting while off duty.
        OffDuty = (Forbidden, "off_duty", "请先设置为在岗状态再接单",
            "Go on duty before taking consultations"),
        /// Another lawyer accepting while the worker's chosen lawyer has it first.
        Reserved = (Conflict, "reserved", "职工点选了其他律师，暂由该律师优先接单",
            "The worker chose another lawyer, who has it first for now"),
        /// Assigning one that is resolved or closed.
        NotAssignable = (Conflict, "not_assignable", "该咨询已解答或关闭，不能指派",
            "The consultation is resolved or closed and cannot be assigned"),
        /// An official assigning a lawyer who does not practise the category.
        LawyerOutsideCategory = (Forbidden, "not_your_specialty", "该律师的擅长领域不含此类咨询",
            "The lawyer does not practise this category"),
        /// A worker asking themself for more.
        OnlyLawyersAsk = (Forbidden, "forbidden", "只有律师可以请职工补充",
            "Only the lawyer may ask the worker for more"),
        /// A worker writing in a closed consultation.
        Closed = (Conflict, "closed", "该咨询已关闭，请发起新的咨询",
            "The consultation is closed; ask a new one"),
        /// A lawyer writing or resolving one that is not in progress.
        NotOpen = (Conflict, "not_open", "该咨询不在处理中",
            "The consultation is not in progress"),
        /// Rating before the answer.
        NotResolved = (Conflict, "not_resolved", "咨询解答后才能评价",
            "A consultation can be rated once it is resolved"),
        /// Rating twice.
        AlreadyRated = (Conflict, "already_rated", "您已评价过这次咨询",
            "You have already rated this consultation"),
        /// A step the actor's side never takes (a worker releasing, a lawyer rating).
        NotYours = (Forbidden, "forbidden", "您无权进行此操作",
            "You may not do this"),
    }
}

/// The consultation after a command, and a line for the thread's system message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// As it is to be stored.
    pub consultation: Consultation,
    /// The state before (as it stood at the time: a lapsed resolution counts as closed).
    pub from: ConsultationStatus,
    /// A system message for the thread, when the step is one the participants should see.
    pub note: Option<String>,
}

/// What [`decide`] judges by besides the command.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The consultation's category, for its service levels.
    pub category: &'a Category,
    /// The working days.
    pub calendar: &'a WorkingCalendar,
    /// Now (UTC).
    pub at: DateTime<Utc>,
}

/// `consultation` after `actor`'s `command` at `ctx.at`, or why not.
pub fn decide(
    consultation: &Consultation,
    actor: &Actor,
    command: &Command,
    ctx: &Context<'_>,
) -> Result<Outcome, Refusal> {
    use ConsultationStatus as S;
    let now = ctx.at;
    let sla = Sla {
        clock: ctx.category.rules.clock,
        calendar: ctx.calendar,
    };
    let from = consultation.status_at(now);
    let mut c = consultation.clone();
    let mut note = None;
    // Who may touch it at all: its worker, its lawyer (any on-duty lawyer of the category
    // while it waits), officials in scope (checked by the caller).
    match actor {
        Actor::Worker(id) if *id != c.account_id => return Err(Refusal::not_found()),
        Actor::Lawyer(l)
            if c.lawyer != Some(l.account_id) && !matches!(command, Command::Accept) =>
        {
            return Err(Refusal::not_found())
        }
        _ => {}
    }
    match (command, actor) {
        (Command::Release, Actor::Official(_)) => {
            if from != S::Held {
                return Err(ConsultationRefusal::NotHeld.into());
            }
            c.start_waiting(ctx.category, ctx.calendar, now);
            note = Some("咨询已通过审核，等待律师接单".to_owned());
        }
        (Command::Refuse, Actor::Official(_)) => {
            if from != S::Held {
                return Err(ConsultationRefusal::NotHeld.into());
            }
            c.status = S::Closed;
            note = Some("咨询内容未通过审核，已关闭".to_owned());
        }
        (Command::Accept, Actor::Lawyer(lawyer)) => note = Some(accept(&mut c, from, lawyer, now)?),
        (Command::Assign(lawyer), Actor::Official(_)) => {
            if !matches!(from, S::Waiting | S::Open | S::Pending) {
                return Err(ConsultationRefusal::NotAssignable.into());
            }
            if !lawyer.practises(&c.category) {
                return Err(ConsultationRefusal::LawyerOutsideCategory.into());
            }
            c.lawyer = Some(lawyer.account_id);
            if from == S::Waiting {
                c.status = S::Open;
            }
            note = Some(format!("工会已指派 {} 律师处理", lawyer.details.name));
        }
        (Command::Write { asks_worker }, Actor::Worker(_)) => {
            if *asks_worker {
                return Err(ConsultationRefusal::OnlyLawyersAsk.into());
            }
            note = worker_writes(&mut c, from, &sla, ctx)?;
        }
        (Command::Write { asks_worker }, Actor::Lawyer(_)) => {
            lawyer_writes(&mut c, from, *asks_worker, &sla, now)?;
        }
        (Command::Resolve, Actor::Lawyer(_) | Actor::Official(_)) => {
            if !matches!(from, S::Open | S::Pending) {
                return Err(ConsultationRefusal::NotOpen.into());
            }
            c.status = S::Resolved;
            c.resolved_at = Some(now);
            c.resolution_due = None;
            c.resolution_left_seconds = None;
            note = Some("律师已解答，欢迎评价".to_owned());
        }
        (Command::Rate(rating), Actor::Worker(_)) => {
            if !matches!(from, S::Resolved | S::Closed) || c.resolved_at.is_none() {
                return Err(ConsultationRefusal::NotResolved.into());
            }
            if c.rating.is_some() {
                return Err(ConsultationRefusal::AlreadyRated.into());
            }
            c.rating = Some(rating.clone());
        }
        _ => return Err(ConsultationRefusal::NotYours.into()),
    }
    c.updated_at = now;
    Ok(Outcome {
        consultation: c,
        from,
        note,
    })
}

/// A lawyer takes a waiting consultation: one of their specialties, on duty, and not while a
/// lawyer the worker picked has it first. The thread's note.
fn accept(
    c: &mut Consultation,
    from: ConsultationStatus,
    lawyer: &Lawyer,
    now: DateTime<Utc>,
) -> Result<String, Refusal> {
    if from != ConsultationStatus::Waiting {
        return Err(ConsultationRefusal::AlreadyTaken.into());
    }
    if !lawyer.practises(&c.category) {
        return Err(ConsultationRefusal::NotYourSpecialty.into());
    }
    if !lawyer.on_duty {
        return Err(ConsultationRefusal::OffDuty.into());
    }
    let reserved = c
        .chosen_lawyer
        .is_some_and(|chosen| chosen != lawyer.account_id)
        && c.reserved_until.is_some_and(|until| now < until);
    if reserved {
        return Err(ConsultationRefusal::Reserved.into());
    }
    c.lawyer = Some(lawyer.account_id);
    c.status = ConsultationStatus::Open;
    Ok(format!("{} 律师已接单", lawyer.details.name))
}

/// The worker writes: an answer to the lawyer's question restarts the resolution clock with
/// the time it had left; a follow-up after the resolution reopens the consultation with the
/// category's full time (and says so in the thread); a closed one takes no more.
fn worker_writes(
    c: &mut Consultation,
    from: ConsultationStatus,
    sla: &Sla<'_>,
    ctx: &Context<'_>,
) -> Result<Option<String>, Refusal> {
    use ConsultationStatus as S;
    let now = ctx.at;
    match from {
        S::Held | S::Waiting | S::Open => Ok(None),
        S::Pending => {
            let left = TimeDelta::seconds(c.resolution_left_seconds.unwrap_or(0));
            c.resolution_due = Some(sla.add(now, left));
            c.resolution_left_seconds = None;
            c.status = S::Open;
            Ok(None)
        }
        S::Resolved => {
            let full = TimeDelta::minutes(i64::from(ctx.category.rules.resolution_minutes));
            c.resolution_due = Some(sla.add(now, full));
            c.status = S::Open;
            Ok(Some("职工追问，咨询重新打开".to_owned()))
        }
        S::Closed => Err(ConsultationRefusal::Closed.into()),
    }
}

/// The lawyer writes in an open consultation: the first response is stamped; asking the
/// worker for more stops the resolution clock, keeping the time left (negative when overdue).
fn lawyer_writes(
    c: &mut Consultation,
    from: ConsultationStatus,
    asks_worker: bool,
    sla: &Sla<'_>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    use ConsultationStatus as S;
    if !matches!(from, S::Open | S::Pending) {
        return Err(ConsultationRefusal::NotOpen.into());
    }
    c.first_response_at.get_or_insert(now);
    if asks_worker && from == S::Open {
        let due = c.resolution_due.unwrap_or(now);
        let left = if due >= now {
            sla.between(now, due)
        } else {
            -sla.between(due, now)
        };
        c.resolution_left_seconds = Some(left.num_seconds());
        c.resolution_due = None;
        c.status = S::Pending;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::consultation::category::{CategoryInput, SlaClock};
    use crate::consultation::lawyer::LawyerInput;

    /// Wednesday 2026-11-25, 10:00 China time, plus `minutes`.
    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn wage_arrears(clock: SlaClock) -> Category {
        let mut rules = CategoryInput {
            name: Some("欠薪".into()),
            position: Some(json!(2)),
            accept_minutes: Some(json!(15)),
            first_response_minutes: Some(json!(120)),
            resolution_minutes: Some(json!(4_320)),
            watched: Some(true),
            ..CategoryInput::default()
        }
        .validate()
        .unwrap();
        rules.clock = clock;
        Category {
            code: CategoryCode::parse("wage_arrears").unwrap(),
            rules,
            updated_at: at(0),
        }
    }

    fn lawyer(name: &str, specialties: &[&str], on_duty: bool) -> Lawyer {
        Lawyer {
            account_id: AccountId::new(),
            org_id: OrgId::new(),
            org_path: OrgPath::from_stored("a".into()),
            details: LawyerInput {
                name: Some(name.into()),
                law_firm: Some("山东垦利律师事务所".into()),
                licence_number: Some("13705201010123456".into()),
                specialties: specialties.iter().map(|s| (*s).to_owned()).collect(),
                years_in_practice: Some(json!(3)),
                bio: None,
            }
            .validate(|_| true)
            .unwrap(),
            on_duty,
            rating_sum: 0,
            rating_count: 0,
            updated_at: at(0),
        }
    }

    fn law(l: &Lawyer) -> Actor {
        Actor::Lawyer(Box::new(l.clone()))
    }

    struct World {
        category: Category,
        calendar: WorkingCalendar,
        worker: AccountId,
        official: AccountId,
    }

    impl World {
        fn new(clock: SlaClock) -> World {
            World {
                category: wage_arrears(clock),
                calendar: WorkingCalendar::default(),
                worker: AccountId::new(),
                official: AccountId::new(),
            }
        }

        fn ask(&self, chosen: Option<AccountId>, held: bool, minute: i64) -> Consultation {
            let question = Question {
                account: self.worker,
                org_id: OrgId::new(),
                org_path: OrgPath::from_stored("a".into()),
                title: "工资拖欠三个月".into(),
                employer: Some("某某快递有限公司".into()),
                employer_credit_code: None,
                chosen_lawyer: chosen,
                held,
            };
            Consultation::new(question, &self.category, &self.calendar, at(minute))
        }

        fn run(
            &self,
            c: &Consultation,
            actor: Actor,
            command: Command,
            minute: i64,
        ) -> Result<Consultation, Refusal> {
            let ctx = Context {
                category: &self.category,
                calendar: &self.calendar,
                at: at(minute),
            };
            decide(c, &actor, &command, &ctx).map(|o| o.consultation)
        }
    }

    fn code(r: Result<Consultation, Refusal>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn held_text_waits_for_an_official_and_the_clock_starts_on_release() {
        let w = World::new(SlaClock::AllHours);
        let held = w.ask(None, true, 0);
        assert_eq!(held.status, ConsultationStatus::Held);
        assert_eq!(held.first_response_due, None);
        let zhang = lawyer("张明", &["wage_arrears"], true);
        assert_eq!(
            code(w.run(&held, law(&zhang), Command::Accept, 1)),
            "already_taken"
        );
        assert_eq!(
            code(w.run(&held, Actor::Worker(w.worker), Command::Release, 1)),
            "forbidden"
        );
        let released = w
            .run(&held, Actor::Official(w.official), Command::Release, 30)
            .unwrap();
        assert_eq!(released.status, ConsultationStatus::Waiting);
        assert_eq!(released.first_response_due, Some(at(150)));
        assert_eq!(released.resolution_due, Some(at(30 + 4_320)));
        assert_eq!(
            code(w.run(&released, Actor::Official(w.official), Command::Release, 31)),
            "not_held"
        );
        let refused = w
            .run(&held, Actor::Official(w.official), Command::Refuse, 30)
            .unwrap();
        assert_eq!(refused.status, ConsultationStatus::Closed);
        assert_eq!(
            code(w.run(
                &refused,
                Actor::Worker(w.worker),
                Command::Write { asks_worker: false },
                31
            )),
            "closed"
        );
    }

    #[test]
    fn the_chosen_lawyer_has_the_accept_minutes_then_the_pool_and_first_accept_wins() {
        let w = World::new(SlaClock::AllHours);
        let chosen = lawyer("张明", &["wage_arrears"], true);
        let other = lawyer("李静", &["wage_arrears", "debt"], true);
        let c = w.ask(Some(chosen.account_id), false, 0);
        assert_eq!(c.reserved_until, Some(at(15)));
        assert_eq!(
            code(w.run(&c, law(&other), Command::Accept, 10)),
            "reserved"
        );
        let outside = lawyer("王刚", &["criminal"], true);
        assert_eq!(
            code(w.run(&c, law(&outside), Command::Accept, 20)),
            "not_your_specialty"
        );
        let resting = lawyer("赵敏", &["wage_arrears"], false);
        assert_eq!(
            code(w.run(&c, law(&resting), Command::Accept, 20)),
            "off_duty"
        );
        let taken = w.run(&c, law(&other), Command::Accept, 16).unwrap();
        assert_eq!(
            (taken.status, taken.lawyer),
            (ConsultationStatus::Open, Some(other.account_id))
        );
        // The second accept finds it taken.
        assert_eq!(
            code(w.run(&taken, law(&chosen), Command::Accept, 17)),
            "already_taken"
        );
        // Only its lawyer writes in it; another lawyer sees no such thread.
        assert_eq!(
            code(w.run(
                &taken,
                law(&chosen),
                Command::Write { asks_worker: false },
                18
            )),
            "not_found"
        );
        assert_eq!(
            code(w.run(
                &taken,
                Actor::Worker(AccountId::new()),
                Command::Write { asks_worker: false },
                18
            )),
            "not_found"
        );
        // An official may give it to someone else practising the category.
        let moved = w
            .run(
                &taken,
                Actor::Official(w.official),
                Command::Assign(Box::new(chosen.clone())),
                19,
            )
            .unwrap();
        assert_eq!(moved.lawyer, Some(chosen.account_id));
        assert_eq!(
            code(w.run(
                &taken,
                Actor::Official(w.official),
                Command::Assign(Box::new(outside.clone())),
                19
            )),
            "not_your_specialty"
        );
    }

    #[test]
    fn asking_the_worker_stops_the_resolution_clock_and_the_answer_restarts_it() {
        let w = World::new(SlaClock::AllHours);
        let zhang = lawyer("张明", &["wage_arrears"], true);
        let c = w.ask(None, false, 0);
        let open = w.run(&c, law(&zhang), Command::Accept, 5).unwrap();
        assert!(!open.breached_at(at(119)));
        assert!(open.breached_at(at(121)), "no first answer within 2 hours");
        // The lawyer answers at 60 and asks for the contract: 4,260 minutes were left.
        let pending = w
            .run(&open, law(&zhang), Command::Write { asks_worker: true }, 60)
            .unwrap();
        assert_eq!(pending.status, ConsultationStatus::Pending);
        assert_eq!(pending.first_response_at, Some(at(60)));
        assert_eq!(pending.resolution_left_seconds, Some(4_260 * 60));
        assert!(
            !pending.breached_at(at(10_000)),
            "the clock stands while pending"
        );
        // The worker answers two days later: the deadline is 4,260 minutes from then.
        let answered = w
            .run(
                &pending,
                Actor::Worker(w.worker),
                Command::Write { asks_worker: false },
                2_940,
            )
            .unwrap();
        assert_eq!(answered.status, ConsultationStatus::Open);
        assert_eq!(answered.resolution_due, Some(at(2_940 + 4_260)));
        assert_eq!(
            code(w.run(
                &answered,
                Actor::Worker(w.worker),
                Command::Write { asks_worker: true },
                2_941
            )),
            "forbidden"
        );
    }

    #[test]
    fn a_resolution_reopens_within_seven_days_closes_after_and_is_rated_once() {
        let w = World::new(SlaClock::BusinessHours);
        let zhang = lawyer("张明", &["wage_arrears"], true);
        let open = w
            .run(&w.ask(None, false, 0), law(&zhang), Command::Accept, 5)
            .unwrap();
        let rating = |stars| Rating {
            stars,
            comment: Some("很专业".into()),
            at: at(100),
        };
        assert_eq!(
            code(w.run(&open, Actor::Worker(w.worker), Command::Rate(rating(5)), 50)),
            "not_resolved"
        );
        let resolved = w.run(&open, law(&zhang), Command::Resolve, 60).unwrap();
        assert_eq!(resolved.status, ConsultationStatus::Resolved);
        assert_eq!(
            code(w.run(&resolved, law(&zhang), Command::Resolve, 61)),
            "not_open"
        );
        // Within seven days a question reopens it with a fresh resolution clock.
        let reopened = w
            .run(
                &resolved,
                Actor::Worker(w.worker),
                Command::Write { asks_worker: false },
                24 * 60,
            )
            .unwrap();
        assert_eq!(reopened.status, ConsultationStatus::Open);
        // Seven days after resolution it is closed: writing is refused, rating still allowed.
        let week = REOPEN_DAYS * 24 * 60;
        assert_eq!(
            resolved.status_at(at(60 + week)),
            ConsultationStatus::Closed
        );
        assert_eq!(
            code(w.run(
                &resolved,
                Actor::Worker(w.worker),
                Command::Write { asks_worker: false },
                60 + week
            )),
            "closed"
        );
        let rated = w
            .run(
                &resolved,
                Actor::Worker(w.worker),
                Command::Rate(rating(4)),
                60 + week,
            )
            .unwrap();
        assert_eq!(rated.rating.as_ref().map(|r| r.stars), Some(4));
        assert_eq!(
            code(w.run(
                &rated,
                Actor::Worker(w.worker),
                Command::Rate(rating(5)),
                70 + week
            )),
            "already_rated"
        );
        assert_eq!(
            code(w.run(&resolved, law(&zhang), Command::Rate(rating(5)), 70)),
            "forbidden"
        );
    }
}
