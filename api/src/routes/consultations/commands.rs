//! Running a command on a consultation: the one transaction the store runs
//! ([`ConsultationRepository::act`](yiwang_domain::consultation::store::ConsultationRepository::act)),
//! its audit row and outbox event, and what the live socket is told after the commit.

use actix_web::http::StatusCode;
use serde_json::{json, Value};
use yiwang_domain::audit::{Change, OutboxEvent};
use yiwang_domain::clock;
use yiwang_domain::consultation::message::Message;
use yiwang_domain::consultation::store::Act;
use yiwang_domain::consultation::thread::{
    Actor, Command, ConsultationId, ConsultationStatus, Outcome,
};

use super::live::push;
use super::views::ConsultationView;
use crate::error::ApiError;
use crate::idempotency::Pending;
use crate::state::AppState;

/// The audit row and outbox event of a step: `consultation.<action>` with the states before
/// and after.
pub fn step_change(
    base: Change,
    action: &'static str,
) -> Box<dyn for<'o> FnOnce(&'o Outcome) -> Change + Send + 'static> {
    Box::new(move |o: &Outcome| {
        let c = &o.consultation;
        let detail = json!({ "from": o.from.as_str(), "to": c.status.as_str(),
                             "lawyer_id": c.lawyer });
        let mut change = base;
        change.audit.action = format!("consultation.{action}");
        change.audit.detail = detail.clone();
        change.event = Some(OutboxEvent {
            topic: format!("consultation.{action}"),
            payload: json!({ "id": c.id, "account_id": c.account_id, "org_id": c.org_id,
                             "category": c.category.as_str(), "transition": detail }),
        });
        change
    })
}

/// Runs `command` by `actor` (and `message`) on consultation `id` now, writing `base` as the
/// step `action`; with `pending`, the answer `view` of the outcome is stored for the key.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    state: &AppState,
    id: ConsultationId,
    actor: Actor,
    command: Command,
    message: Option<Message>,
    base: Change,
    action: &'static str,
    pending: Option<Pending>,
) -> Result<(StatusCode, Value), ApiError> {
    let at = clock::now();
    let reader = actor.author();
    let answer_reader = reader;
    let sent = message.as_ref().map(|m| m.id.to_string());
    let answer_sent = sent.clone();
    let act = Act {
        actor,
        command,
        message,
        calendar: state.calendar.clone(),
        at,
    };
    let step = step_change(base, action);
    let step = state
        .consultations
        .act(
            id,
            act,
            Box::new(move |o: &Outcome| {
                let mut change = step(o);
                change.answer = pending.and_then(|p| {
                    let mut view =
                        ConsultationView::new(&o.consultation, at).for_reader(answer_reader);
                    view.message_id = answer_sent;
                    let body = serde_json::to_value(view);
                    body.ok().map(|b| p.answer(StatusCode::OK, &b, at))
                });
                change
            }),
        )
        .await?;
    let c = &step.outcome.consultation;
    let pooled = [step.outcome.from, c.status].contains(&ConsultationStatus::Waiting);
    push(state, c, &step.messages, at, pooled).await;
    let mut view = ConsultationView::new(c, at).for_reader(reader);
    view.message_id = sent;
    let body = serde_json::to_value(view).map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::OK, body))
}
