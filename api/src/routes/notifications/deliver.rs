//! The outbox consumer that tells people (issue 20): for each event, [`tidings`] says whom to
//! tell what; the notification goes into their inbox (once per event, by a unique key) and
//! onto their live socket; then, when the event's topic has a template, the worker has not
//! switched the kind off and has a one-time subscription left, one WeChat subscribe message
//! is sent, spending it.
//!
//! WeChat's answers (WECHAT.md): 43101 — none left, or refused — sets the count to zero and is
//! done with (not retried); 40003, 40037, 41030 and 47003 — a bad openid, template, page or
//! data — give the subscription back and park the delivery with WeChat's words, for a
//! `super_admin` to fix the template and retry; anything else (busy, unreachable, a token
//! refused twice) gives it back and is retried with backoff. The client refreshes the access
//! token once on 40001/42001 by itself.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;
use yiwang_domain::clock;
use yiwang_domain::notification::store::{SendOutcome, Spend};
use yiwang_domain::notification::template::SubscribeTemplate;
use yiwang_domain::notification::{notices, tidings, Notice, Notification, Tiding};
use yiwang_domain::outbox::{Consumer, DeliveryFailure, RelayedEvent};
use yiwang_domain::store::RepoError;
use yiwang_domain::wechat::WeChatError;
use yiwang_infra::live::Delivery;

use super::NotificationView;
use crate::routes::consultations::live::is_present;
use crate::state::AppState;

/// WeChat errcodes after which sending the same message again cannot help.
const PERMANENT: [i64; 4] = [40003, 40037, 41030, 47003];

/// WeChat's "the user has no subscription left, or refused".
const NO_SUBSCRIPTION: i64 = 43101;

/// A frame of the live socket: a new notification and the unread count.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationFrame {
    /// Always `notification`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// The notification.
    pub notification: NotificationView,
    /// How many are unread now.
    pub unread: u64,
}

/// The consumer.
pub struct Notifier {
    state: Arc<AppState>,
    miniprogram_state: &'static str,
    lang: &'static str,
}

impl Notifier {
    /// A consumer over `state`, sending with these `miniprogram_state` and `lang`.
    pub fn new(state: Arc<AppState>, miniprogram_state: &'static str, lang: &'static str) -> Self {
        Self {
            state,
            miniprogram_state,
            lang,
        }
    }

    async fn push(&self, n: &Notification) {
        let unread = match self.state.notifications.unread(n.account).await {
            Ok(unread) => unread,
            Err(error) => {
                tracing::warn!(%error, "counting unread notifications failed");
                return;
            }
        };
        let frame = NotificationFrame {
            kind: "notification",
            notification: NotificationView::from(n),
            unread,
        };
        let Ok(frame) = serde_json::to_string(&frame) else {
            return;
        };
        let delivery = Delivery {
            account: n.account,
            frame,
        };
        if let Err(error) = self.state.live.publish(&[delivery]).await {
            tracing::warn!(%error, "pushing a notification failed (the inbox has it)");
        }
    }

    async fn send(
        &self,
        event: &RelayedEvent,
        tiding: &Tiding,
        template: &SubscribeTemplate,
    ) -> Result<(), DeliveryFailure> {
        let store = &self.state.notifications;
        let account = tiding.account;
        if store
            .muted(account)
            .await
            .map_err(retry)?
            .contains(&tiding.kind)
        {
            return Ok(());
        }
        if tiding.only_when_away && is_present(self.state.sessions.as_ref(), account).await {
            return Ok(());
        }
        let openid = match self.state.workers.get(account).await {
            Ok(worker) if !worker.openid.starts_with("deleted:") => worker.openid,
            Ok(_) | Err(RepoError::NotFound) => return Ok(()),
            Err(e) => return Err(retry(e)),
        };
        let now = clock::now();
        match store
            .spend(&event.id, account, &template.template_id, now)
            .await
            .map_err(retry)?
        {
            Spend::Settled | Spend::NoneLeft => return Ok(()),
            Spend::Spent | Spend::Resend => {}
        }
        let message = template.render(tiding);
        let answer = self
            .state
            .wechat
            .send_subscribe_message(&openid, &message, self.miniprogram_state, self.lang)
            .await;
        let (outcome, result) = match answer {
            Ok(()) => (SendOutcome::Sent, Ok(())),
            Err(WeChatError::Other { errcode, .. }) if errcode == NO_SUBSCRIPTION => {
                (SendOutcome::Refused, Ok(()))
            }
            Err(WeChatError::Other { errcode, errmsg }) if PERMANENT.contains(&errcode) => (
                SendOutcome::NotSent,
                Err(DeliveryFailure::Park(format!(
                    "WeChat {errcode}: {errmsg} (template {})",
                    template.template_id
                ))),
            ),
            Err(e) => (
                SendOutcome::NotSent,
                Err(DeliveryFailure::Retry(e.to_string())),
            ),
        };
        store
            .sent(
                &event.id,
                account,
                &template.template_id,
                outcome,
                clock::now(),
            )
            .await
            .map_err(retry)?;
        result
    }
}

impl Notifier {
    /// Puts `notice` in the inbox of the officials it is for (and on their sockets).
    async fn tell_officials(
        &self,
        event: &RelayedEvent,
        notice: &Notice,
    ) -> Result<(), DeliveryFailure> {
        let path = match (&notice.org_path, notice.org_id) {
            (Some(path), _) => path.clone(),
            (None, Some(org)) => match self.state.orgs.get(org).await {
                Ok(org) => org.path,
                Err(RepoError::NotFound) => return Ok(()),
                Err(e) => return Err(retry(e)),
            },
            (None, None) => return Ok(()),
        };
        let officials = self
            .state
            .officials
            .nearest_with_roles(&path, notice.roles)
            .await
            .map_err(retry)?;
        for official in officials {
            let mut tiding = notice.tiding.clone();
            tiding.account = official.id;
            let n = Notification::of(&tiding, event, uuid::Uuid::now_v7().to_string());
            if self.state.notifications.deliver(&n).await.map_err(retry)? {
                self.push(&n).await;
            }
        }
        Ok(())
    }
}

fn retry(e: RepoError) -> DeliveryFailure {
    DeliveryFailure::Retry(e.to_string())
}

#[async_trait]
impl Consumer for Notifier {
    fn name(&self) -> &'static str {
        "notifications"
    }

    async fn handle(&self, event: &RelayedEvent) -> Result<(), DeliveryFailure> {
        for notice in notices(event) {
            self.tell_officials(event, &notice).await?;
        }
        let told = tidings(event);
        if told.is_empty() {
            return Ok(());
        }
        let template = self
            .state
            .notifications
            .template(&event.topic)
            .await
            .map_err(retry)?;
        for tiding in &told {
            let n = Notification::of(tiding, event, uuid::Uuid::now_v7().to_string());
            if self.state.notifications.deliver(&n).await.map_err(retry)? {
                self.push(&n).await;
            }
            if let Some(template) = &template {
                self.send(event, tiding, template).await?;
            }
        }
        Ok(())
    }
}
