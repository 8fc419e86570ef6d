//! The port of the inbox, the subscribe templates, the subscriptions workers have left and
//! their switched-off kinds (issue 20).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::AccountId;
use crate::audit::Change;
use crate::notification::template::SubscribeTemplate;
use crate::notification::{Notification, NotificationKind};
use crate::store::{Page, PageRequest, RepoError};

/// Most unspent one-time subscriptions counted per worker and template: reports beyond it
/// change nothing (WeChat itself answers 43101 when none is left).
pub const MAX_SUBSCRIPTIONS: u32 = 50;

/// Which notifications a person marks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadMark {
    /// This one.
    One(String),
    /// This one and every older one.
    UpTo(String),
}

/// Whether a subscribe message may be sent for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// One subscription was spent for it now: send.
    Spent,
    /// One was spent for it before and the send's outcome never recorded (a crash, a
    /// retry): send again, spending nothing.
    Resend,
    /// It was sent, or WeChat refused it, before: nothing to do.
    Settled,
    /// No subscription is left for the template: nothing is sent.
    NoneLeft,
}

/// What WeChat said to a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Sent.
    Sent,
    /// 43101: the worker has nothing left (or refused): their count for the template is set
    /// to zero, and the event is not tried again.
    Refused,
    /// Not sent (a template WeChat refuses, WeChat unreachable): the subscription is given
    /// back and the send forgotten, so a later try spends it again.
    NotSent,
}

impl SendOutcome {
    /// The stored word (`sent`, `refused`).
    pub fn as_str(self) -> &'static str {
        match self {
            SendOutcome::Sent => "sent",
            SendOutcome::Refused => "refused",
            SendOutcome::NotSent => "not_sent",
        }
    }
}

/// The inbox, the templates and the subscriptions.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Puts `notification` in its person's inbox unless its event already did; `true` when
    /// it is new.
    async fn deliver(&self, notification: &Notification) -> Result<bool, RepoError>;
    /// A person's inbox, newest first.
    async fn inbox(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> Result<Page<Notification>, RepoError>;
    /// How many of a person's notifications are unread.
    async fn unread(&self, account: AccountId) -> Result<u64, RepoError>;
    /// Marks notifications read at `at`; `NotFound` when the id named is not one of the
    /// person's. Returns how many are unread afterwards.
    async fn mark_read(
        &self,
        account: AccountId,
        mark: &ReadMark,
        at: DateTime<Utc>,
    ) -> Result<u64, RepoError>;

    /// Every subscribe template, by topic.
    async fn templates(&self) -> Result<Vec<SubscribeTemplate>, RepoError>;
    /// The template `topic` sends, if any.
    async fn template(&self, topic: &str) -> Result<Option<SubscribeTemplate>, RepoError>;
    /// Sets the template of its topic (replacing one there was).
    async fn save_template(
        &self,
        template: &SubscribeTemplate,
        change: &Change,
    ) -> Result<(), RepoError>;
    /// Stops `topic` sending a template; `NotFound` when it sent none.
    async fn remove_template(&self, topic: &str, change: &Change) -> Result<(), RepoError>;

    /// A worker's unspent subscriptions: (template id, how many), by template id.
    async fn subscriptions(&self, account: AccountId) -> Result<Vec<(String, u32)>, RepoError>;
    /// Counts one more accepted subscription for each of `accepted` (at most
    /// [`MAX_SUBSCRIPTIONS`] each); returns the worker's subscriptions afterwards.
    async fn subscribe(
        &self,
        account: AccountId,
        accepted: &[String],
        at: DateTime<Utc>,
    ) -> Result<Vec<(String, u32)>, RepoError>;
    /// Spends one of the worker's subscriptions to `template_id` for event `event_id`
    /// (once per event, see [`Spend`]).
    async fn spend(
        &self,
        event_id: &str,
        account: AccountId,
        template_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Spend, RepoError>;
    /// Records what WeChat said to the send for `event_id` ([`SendOutcome`]).
    async fn sent(
        &self,
        event_id: &str,
        account: AccountId,
        template_id: &str,
        outcome: SendOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError>;

    /// The kinds of WeChat message a person switched off.
    async fn muted(&self, account: AccountId) -> Result<Vec<NotificationKind>, RepoError>;
    /// Sets the kinds a person switched off (replacing the earlier choice).
    async fn set_muted(
        &self,
        account: AccountId,
        kinds: &[NotificationKind],
    ) -> Result<(), RepoError>;
}
