//! The live socket: `GET /api/v1/ws`, a WebSocket that pushes what happens in the caller's
//! consultations (new messages, state changes, read marks) as JSON text frames, from
//! whichever API process the change went through ([`yiwang_infra::live`]). An on-duty lawyer
//! also hears the consultations of their specialties that enter the pool or leave it.
//!
//! - **Authentication**: the access token, as `Authorization: Bearer …` (WeChat's
//!   `wx.connectSocket` sets headers) or as the `access_token` query parameter (RFC 6750 §2.3,
//!   for browsers, which cannot). The handshake always completes; a token that is missing,
//!   invalid or expired, or whose session has ended, gets close code **4401**, then the client
//!   refreshes and reconnects. A live connection is closed with 4401 when its token expires
//!   and, within [`HEARTBEAT`], when its session ends (logout, a disabled official).
//! - **Frames**: first `{"type":"ready","account_id","expires_at"}`, then
//!   [`ConsultationFrame`](super::consultations::ConsultationFrame)s and, for every new
//!   notification of the caller's inbox, a
//!   [`NotificationFrame`](crate::routes::notifications::deliver::NotificationFrame). Delivery is at most once: after a reconnect, clients fetch what
//!   they missed with `GET …/messages?after=<last message id>`.
//! - **Keep-alive**: the server pings every [`HEARTBEAT`]; a client heard from neither by a
//!   pong nor by any frame for [`IDLE`] is closed (1001). Clients that cannot send ping frames
//!   may send the text `{"type":"ping"}` and get `{"type":"pong"}`.
//! - **Falling behind**: a connection with too many frames waiting is closed with 1013 (try
//!   again later); the client reconnects and polls.
//! - **Stopping**: when the server is told to stop (SIGTERM), every socket is closed with 1001
//!   at once, so its client reconnects to another replica instead of waiting out the stop.
//!
//! Writing stays on HTTP (`POST …/messages`, with `Idempotency-Key`); the socket only listens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yiwang_domain::account::AccountId;
use yiwang_domain::consultation::message::{Author, Message as ThreadMessage, ReadMark};
use yiwang_domain::consultation::store::LawyerFilter;
use yiwang_domain::consultation::thread::{Consultation, ConsultationStatus};
use yiwang_domain::session::SessionStore;
use yiwang_domain::store::PageRequest;
use yiwang_infra::live::Delivery;

use super::views::{ConsultationView, MessageView, ReadMarkView};

use crate::auth::{bearer, verify_access_token, Principal};
use crate::error::{ApiError, Problem};
use crate::routes::shared::Query;
use crate::state::AppState;

/// How often the server pings, and checks that the session still exists.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// How long a silent client is kept.
pub const IDLE: Duration = Duration::from_secs(90);

/// Close code for a missing, invalid or expired token, or an ended session.
pub const UNAUTHENTICATED: u16 = 4401;

/// The socket's query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SocketQuery {
    /// The access token, for clients that cannot set `Authorization` (RFC 6750 §2.3).
    pub access_token: Option<String>,
}

/// The first frame of an authenticated connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyFrame {
    /// Always `ready`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whose frames the connection receives.
    pub account_id: String,
    /// When the token expires and the connection is closed with 4401 (UTC).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Opens the live socket. See the module documentation for frames and close codes; the
/// schemas `ReadyFrame`, `ConsultationFrame` and `NotificationFrame` describe the frames.
#[utoipa::path(get, tag = "live",
    params(SocketQuery,
        ("Authorization" = Option<String>, Header, description = "`Bearer <access token>`; or the `access_token` query parameter")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol. Text frames: `ReadyFrame`, then `ConsultationFrame`s and `NotificationFrame`s. Close 4401: the token is missing, invalid or expired, or the session ended; 1013: the connection fell behind (reconnect and poll); 1001: no pong for 90 s, or the server is stopping (reconnect: another replica answers)"),
        (status = 400, description = "Not a WebSocket handshake (RFC 6455 §4.2.1)", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/ws")]
pub async fn socket(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Query<SocketQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (response, session, stream) = actix_ws::handle(&req, body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_a_websocket",
            "此地址须以 WebSocket 连接",
            format!("Not a WebSocket handshake: {e}"),
        )
    })?;
    let token = bearer(&req).or(query.access_token.as_deref()).unwrap_or("");
    let verified = verify_access_token(&state, token).await;
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let close = match verified {
            Ok((principal, exp)) => {
                let close = serve(&state, session.clone(), stream, &principal, exp).await;
                let key = presence_key(principal.account_id());
                if let Err(error) = state.sessions.cache_delete(&key).await {
                    tracing::warn!(%error, "forgetting a closed socket failed");
                }
                close
            }
            Err(e) if e.is_server_error() => {
                Some(reason(CloseCode::Error, "服务暂不可用，请稍后重连"))
            }
            Err(_) => Some(reason(
                CloseCode::Other(UNAUTHENTICATED),
                "登录已失效，请刷新令牌后重连",
            )),
        };
        if let Some(close) = close {
            let _ = session.close(Some(close)).await;
        }
    });
    Ok(response)
}

fn reason(code: CloseCode, description: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(description.to_owned()),
    }
}

/// Serves `principal`'s frames until the connection ends (`None`: nothing left to say) or
/// a close frame is due (the reason: the server's, or the answer to the client's).
async fn serve(
    state: &Arc<AppState>,
    mut session: Session,
    mut stream: MessageStream,
    principal: &Principal,
    exp: i64,
) -> Option<CloseReason> {
    let account: AccountId = principal.account_id();
    let mut frames = state.live.subscribe(account);
    let ready = ReadyFrame {
        kind: "ready",
        account_id: account.to_string(),
        expires_at: DateTime::from_timestamp(exp, 0),
    };
    let ready = serde_json::to_string(&ready).ok()?;
    session.text(ready).await.ok()?;
    let present = presence_key(account);
    let here = || async {
        if let Err(error) = state
            .sessions
            .cache_set(&present, "1", IDLE.as_secs())
            .await
        {
            tracing::warn!(%error, "recording an open socket failed");
        }
    };
    here().await;

    let left = u64::try_from(exp - Utc::now().timestamp()).unwrap_or(0);
    let expiry = tokio::time::sleep(Duration::from_secs(left));
    tokio::pin!(expiry);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let mut heard = Instant::now();
    let mut going_away = state.going_away.clone();
    loop {
        tokio::select! {
            _ = going_away.wait_for(|away| *away) => {
                return Some(reason(CloseCode::Away, "服务器正在重启，请重新连接"));
            }
            frame = frames.frames.recv() => match frame {
                Some(frame) => session.text(frame.to_string()).await.ok()?,
                None => return Some(reason(CloseCode::Again, "推送积压，请重连并拉取新消息")),
            },
            message = stream.recv() => {
                heard = Instant::now();
                match message {
                    Some(Ok(Message::Ping(bytes))) => session.pong(&bytes).await.ok()?,
                    Some(Ok(Message::Text(text))) if is_ping(&text) => {
                        session.text(r#"{"type":"pong"}"#).await.ok()?;
                    }
                    // The client closes: answer with a close frame (RFC 6455 §5.5.1).
                    Some(Ok(Message::Close(_))) => {
                        return Some(reason(CloseCode::Normal, "再见"));
                    }
                    Some(Err(_)) | None => return None,
                    Some(Ok(_)) => {}
                }
            }
            () = &mut expiry => {
                return Some(reason(CloseCode::Other(UNAUTHENTICATED), "令牌已过期，请刷新后重连"));
            }
            _ = heartbeat.tick() => {
                if heard.elapsed() > IDLE {
                    return Some(reason(CloseCode::Away, "长时间无响应，连接已关闭"));
                }
                if let Ok(None) = state.sessions.get(&principal.session.sid).await {
                    return Some(reason(CloseCode::Other(UNAUTHENTICATED), "登录已结束"));
                }
                session.ping(b"").await.ok()?;
                here().await;
            }
        }
    }
}

/// The shared-store key that says `account` has a live socket open in some process: set
/// when one opens, renewed at each heartbeat, lasting [`IDLE`], forgotten when one closes.
/// A lawyer's reply reaches an open app through its socket, so no WeChat message is spent.
pub fn presence_key(account: AccountId) -> String {
    format!("live:present:{account}")
}

/// Whether `account` has a live socket open in some process (an unreachable store: no).
pub async fn is_present(sessions: &dyn SessionStore, account: AccountId) -> bool {
    matches!(
        sessions.cache_get(&presence_key(account)).await,
        Ok(Some(_))
    )
}

fn is_ping(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("ping"))
}

/// A frame of the live socket (`GET /api/v1/ws`) about a consultation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum ConsultationFrame {
    /// A message the reader may read was added to the thread.
    #[serde(rename = "consultation.message")]
    Message {
        /// The consultation.
        consultation_id: String,
        /// The message.
        message: MessageView,
    },
    /// The consultation changed (state, lawyer, deadlines, rating).
    #[serde(rename = "consultation.updated")]
    Updated {
        /// The consultation as it is now.
        consultation: ConsultationView,
    },
    /// A participant read the thread up to a message.
    #[serde(rename = "consultation.read")]
    Read {
        /// The consultation.
        consultation_id: String,
        /// The mark.
        mark: ReadMarkView,
    },
}

/// Who hears a consultation's frames: the worker, the lawyer who has it and, while it waits,
/// a lawyer the worker picked.
fn participants(c: &Consultation) -> Vec<(Author, AccountId)> {
    let mut readers = vec![(Author::Worker, c.account_id)];
    match (c.lawyer, c.chosen_lawyer) {
        (Some(lawyer), _) => readers.push((Author::Lawyer, lawyer)),
        (None, Some(chosen)) if c.status == ConsultationStatus::Waiting => {
            readers.push((Author::Lawyer, chosen));
        }
        _ => {}
    }
    readers
}

/// Sends each frame to its account's sockets; a failure is logged (the store is the record).
async fn send(state: &AppState, c: &Consultation, frames: Vec<(AccountId, ConsultationFrame)>) {
    let mut deliveries = Vec::with_capacity(frames.len());
    for (account, frame) in frames {
        match serde_json::to_string(&frame) {
            Ok(frame) => deliveries.push(Delivery { account, frame }),
            Err(e) => tracing::error!(error = %e, "live: cannot encode a frame"),
        }
    }
    if let Err(e) = state.live.publish(&deliveries).await {
        tracing::warn!(consultation = %c.id, error = %e, "live: frames not sent");
    }
}

/// Tells the participants' sockets that `mark`'s reader read the thread up to its message.
pub async fn push_read(state: &AppState, c: &Consultation, mark: &ReadMark) {
    let frames = participants(c)
        .into_iter()
        .map(|(_, account)| {
            let frame = ConsultationFrame::Read {
                consultation_id: c.id.to_string(),
                mark: ReadMarkView::from(mark),
            };
            (account, frame)
        })
        .collect();
    send(state, c, frames).await;
}

/// The on-duty lawyers of `c`'s category, other than the one who has it: the pool that may
/// accept a waiting consultation (none while a picked lawyer's minutes run).
async fn pool(state: &AppState, c: &Consultation, at: DateTime<Utc>) -> Vec<AccountId> {
    if c.reserved_until.is_some_and(|until| until > at) {
        return Vec::new();
    }
    let filter = LawyerFilter {
        category: Some(c.category.clone()),
        scope: None,
    };
    let page = PageRequest {
        after: None,
        limit: 200,
    };
    match state.roster.lawyers(&filter, &page).await {
        Ok(lawyers) => lawyers
            .items
            .into_iter()
            .take_while(|l| l.on_duty)
            .map(|l| l.account_id)
            .filter(|a| c.lawyer != Some(*a) && c.chosen_lawyer != Some(*a))
            .collect(),
        Err(e) => {
            tracing::warn!(consultation = %c.id, error = %e, "live: the pool is not told");
            Vec::new()
        }
    }
}

/// Tells the participants' open sockets ([`participants`]), in whichever process they are,
/// what a step did: each new message they may read, then the consultation as it is now. When
/// the step put the consultation in the pool or took it out (`pooled`), the pool's lawyers
/// ([`pool`]) hear the consultation too, so their lists follow. Sent after the commit and at
/// most once: a failure is logged, and clients that missed a frame catch up with
/// `GET …/messages?after=`.
pub async fn push(
    state: &AppState,
    c: &Consultation,
    written: &[ThreadMessage],
    at: DateTime<Utc>,
    pooled: bool,
) {
    let mut frames = Vec::new();
    for (kind, account) in participants(c) {
        for m in written.iter().filter(|m| m.visible_to(kind, account)) {
            let frame = ConsultationFrame::Message {
                consultation_id: c.id.to_string(),
                message: MessageView::from(m),
            };
            frames.push((account, frame));
        }
        let consultation = ConsultationView::new(c, at).for_reader(kind);
        frames.push((account, ConsultationFrame::Updated { consultation }));
    }
    if pooled {
        for account in pool(state, c, at).await {
            let consultation = ConsultationView::new(c, at).for_reader(Author::Lawyer);
            frames.push((account, ConsultationFrame::Updated { consultation }));
        }
    }
    send(state, c, frames).await;
}
