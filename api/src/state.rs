//! What every handler can reach: the ports, the token keys and the settings that matter at
//! request time. Built once in [`crate::startup`].

use std::sync::Arc;

use yiwang_domain::audit::AuditLog;
use yiwang_domain::calendar::WorkingCalendar;
use yiwang_domain::consultation::store::{
    ConsultationRepository, EarlyWarningRepository, RosterRepository,
};
use yiwang_domain::documents::DocumentStore;
use yiwang_domain::idempotency::IdempotencyStore;
use yiwang_domain::legal_aid::store::LegalAidRepository;
use yiwang_domain::mailbox::store::MailboxRepository;
use yiwang_domain::membership::store::{MembershipRepository, TransferRepository};
use yiwang_domain::mutual_aid::store::MutualAidRepository;
use yiwang_domain::notification::store::NotificationStore;
use yiwang_domain::outbox::OutboxStore;
use yiwang_domain::service_point::store::{NearbyIndex, ServicePointRepository};
use yiwang_domain::session::SessionStore;
use yiwang_domain::store::{OfficialRepository, OrgRepository, StoreHealth, WorkerRepository};
use yiwang_domain::wechat::WeChatApi;

use yiwang_infra::live::Live;
use yiwang_infra::personal_data::PersonalDataKeys;

use crate::auth::tokens::TokenKeys;
use crate::rate_limit::AddressLimiter;
use crate::relay::RelayStatus;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// The organisation tree.
    pub orgs: Arc<dyn OrgRepository>,
    /// Officials.
    pub officials: Arc<dyn OfficialRepository>,
    /// Workers.
    pub workers: Arc<dyn WorkerRepository>,
    /// Membership applications and members.
    pub membership: Arc<dyn MembershipRepository>,
    /// Membership transfers and history.
    pub transfers: Arc<dyn TransferRepository>,
    /// The service-point catalogue, visits and reviews.
    pub service_points: Arc<dyn ServicePointRepository>,
    /// Mutual-aid plans, enrolments and claims.
    pub mutual_aid: Arc<dyn MutualAidRepository>,
    /// Consultation categories and the lawyer roster.
    pub roster: Arc<dyn RosterRepository>,
    /// Consultations and their messages.
    pub consultations: Arc<dyn ConsultationRepository>,
    /// The employer early warning: its rule and alerts.
    pub early_warning: Arc<dyn EarlyWarningRepository>,
    /// Legal-aid applications.
    pub legal_aid: Arc<dyn LegalAidRepository>,
    /// Chairman-mailbox letters.
    pub mailbox: Arc<dyn MailboxRepository>,
    /// The inbox, subscribe templates, subscriptions and switched-off kinds.
    pub notifications: Arc<dyn NotificationStore>,
    /// The outbox, as the relay and its failures list read it.
    pub outbox: Arc<dyn OutboxStore>,
    /// What the relay last measured (its lag), for readiness.
    pub relay: Arc<RelayStatus>,
    /// Claim documents' bytes, encrypted at rest.
    pub documents: Arc<dyn DocumentStore>,
    /// Answers remembered under `Idempotency-Key`.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// The in-memory nearest-point index, following the catalogue.
    pub nearby: Arc<dyn NearbyIndex>,
    /// Per-address limit on public lookups (service points, organisations, public letters).
    pub lookup_limiter: Arc<AddressLimiter>,
    /// Per-address limit on WeChat logins.
    pub login_limiter: Arc<AddressLimiter>,
    /// Becomes `true` when the server starts to stop: live sockets close with 1001 at once.
    pub going_away: tokio::sync::watch::Receiver<bool>,
    /// Keys that seal personal data at rest.
    pub personal_data: Arc<PersonalDataKeys>,
    /// Working days, for the contact deadline.
    pub calendar: WorkingCalendar,
    /// Version of the privacy notice applicants consent to.
    pub privacy_notice_version: String,
    /// Audit rows of full reads of sensitive data.
    pub audit: Arc<dyn AuditLog>,
    /// Database liveness.
    pub store: Arc<dyn StoreHealth>,
    /// Sessions and shared counters.
    pub sessions: Arc<dyn SessionStore>,
    /// Open WebSocket connections and the way frames reach other processes' ones.
    pub live: Arc<Live>,
    /// WeChat server APIs.
    pub wechat: Arc<dyn WeChatApi>,
    /// Access-token keys.
    pub tokens: Arc<TokenKeys>,
    /// Worker session lifetime (seconds).
    pub worker_session_ttl_secs: u64,
    /// Official session lifetime (seconds).
    pub admin_session_ttl_secs: u64,
}
