//! Authentication and authorisation.
//!
//! - [`Principal`] is extracted from `Authorization: Bearer <access token>`: the JWT is verified
//!   ([`tokens`]) and its session must still exist in the session store — so logout, refresh
//!   reuse and disabling an official take effect on the next request.
//! - [`Worker`] and [`Admin`] narrow it to one side: the other side's token gets 403.
//! - [`Admin::authorize`] is the one authorisation helper every admin route calls: role check
//!   (403) then data-scope check (the record's organisation must lie in the official's subtree;
//!   outside it the answer is 404, so existence does not leak).

pub mod sessions;
pub mod tokens;

use std::future::Future;
use std::pin::Pin;

use crate::auth::tokens::TokenRefused;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use yiwang_domain::account::{AccountId, AccountKind, Role};
use yiwang_domain::audit::{Actor, AuditEntry, Change, OutboxEvent};
use yiwang_domain::clock;
use yiwang_domain::org::{OrgId, OrgPath};
use yiwang_domain::session::SessionRecord;

use crate::context;
use crate::error::ApiError;
use crate::state::AppState;

/// Any logged-in account.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The live session.
    pub session: SessionRecord,
}

impl Principal {
    /// The account id.
    pub fn account_id(&self) -> AccountId {
        self.session.account_id
    }

    /// The actor for audit rows.
    pub fn actor(&self) -> Actor {
        Actor::Account {
            kind: self.session.kind,
            id: self.session.account_id,
        }
    }

    /// An audit row (and optional event) for an action of this principal in this request.
    pub fn change(
        &self,
        action: &str,
        record_type: &str,
        record_id: impl ToString,
        detail: serde_json::Value,
        event: Option<OutboxEvent>,
    ) -> Change {
        audit_change(self.actor(), action, record_type, record_id, detail, event)
    }
}

/// An audit row for `actor` in the current request (address and request id filled in).
pub fn audit_change(
    actor: Actor,
    action: &str,
    record_type: &str,
    record_id: impl ToString,
    detail: serde_json::Value,
    event: Option<OutboxEvent>,
) -> Change {
    let ctx = context::current();
    Change {
        audit: AuditEntry {
            actor,
            action: action.to_owned(),
            record_type: record_type.to_owned(),
            record_id: record_id.to_string(),
            ip: ctx.ip,
            request_id: (!ctx.request_id.is_empty()).then_some(ctx.request_id),
            detail,
            at: clock::now(),
        },
        event,
        answer: None,
    }
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The principal an access token stands for, with the token's expiry (Unix seconds): the
/// signature, issuer, audience and expiry are verified and the session must still exist.
/// 401 otherwise.
pub async fn verify_access_token(
    state: &AppState,
    token: &str,
) -> Result<(Principal, i64), ApiError> {
    let claims = state
        .tokens
        .verify(token)
        .map_err(|refused| match refused {
            TokenRefused::Expired => ApiError::token_expired(),
            TokenRefused::Invalid => ApiError::unauthenticated(),
        })?;
    let session = state
        .sessions
        .get(&claims.sid)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    if session.account_id.to_string() != claims.sub || session.kind != claims.kind {
        return Err(ApiError::unauthenticated());
    }
    Ok((Principal { session }, claims.exp))
}

async fn authenticate(req: HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("state missing")))?;
    let token = bearer(&req).ok_or_else(ApiError::unauthenticated)?;
    Ok(verify_access_token(state, token).await?.0)
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

/// A logged-in worker.
#[derive(Debug, Clone)]
pub struct Worker(pub Principal);

impl FromRequest for Worker {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let p = authenticate(req).await?;
            match p.session.kind {
                AccountKind::Worker => Ok(Worker(p)),
                AccountKind::Admin => Err(ApiError::wrong_account_kind()),
            }
        })
    }
}

/// A logged-in official, with their role and organisation.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The principal.
    pub principal: Principal,
    /// The official's role.
    pub role: Role,
    /// The official's organisation.
    pub org_id: OrgId,
    /// Its path: the official's data scope.
    pub org_path: OrgPath,
}

/// What an official may be asked to do; each route names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read organisations in scope.
    ReadOrgs,
    /// Create and change organisations in scope.
    ManageOrgs,
    /// Read officials in scope.
    ReadOfficials,
    /// Create and disable officials in scope.
    ManageOfficials,
    /// Read membership applications and members in scope.
    ReadMembership,
    /// Decide membership applications in scope.
    ReviewMembership,
    /// See a member's full ID number (audited).
    RevealIdNumber,
    /// Check a member card's QR code (officials and service-point staff).
    VerifyMemberCard,
    /// Read the service-point catalogue, its visits and reviews in scope.
    ReadServicePoints,
    /// Create, change, import and delete service points, and moderate their reviews.
    ManageServicePoints,
    /// Read mutual-aid plans, enrolments, claims and their documents in scope.
    ReadMutualAid,
    /// Create and change mutual-aid plans.
    ManagePlans,
    /// Record enrolment fees (cash, bank transfer, paid by the union).
    RecordFees,
    /// Take, approve, return and reject claims (the approval team).
    ReviewClaims,
    /// Export the payment list of approved claims and mark them paid.
    PayClaims,
    /// Read consultation categories and the lawyers in scope.
    ReadRoster,
    /// Write lawyers' profiles in scope.
    ManageRoster,
    /// Create and change consultation categories (the installation's: `super_admin` only).
    ManageCategories,
    /// Read the consultations of the branch.
    ReadConsultations,
    /// Release or refuse held consultations, assign lawyers, resolve.
    HandleConsultations,
    /// Read the chairman-mailbox letters to organisations in scope.
    ReadMailbox,
    /// Reply to and close those letters.
    AnswerMailbox,
    /// Edit the subscribe templates, and see and retry the outbox deliveries that failed
    /// (the installation's: `super_admin` only).
    ManageDelivery,
}

impl Permission {
    /// Whether `role` holds this permission.
    pub fn granted_to(self, role: Role) -> bool {
        match self {
            Permission::ReadOrgs => true,
            Permission::ManageOrgs | Permission::ManageOfficials => role.manages_officials(),
            Permission::ReadOfficials => role.manages_officials() || role == Role::Auditor,
            Permission::ReadMembership => {
                role.manages_officials() || matches!(role, Role::Reviewer | Role::Auditor)
            }
            Permission::ReviewMembership | Permission::RevealIdNumber => {
                role.manages_officials() || role == Role::Reviewer
            }
            Permission::VerifyMemberCard => true,
            Permission::ReadServicePoints => {
                role.manages_officials() || matches!(role, Role::StationManager | Role::Auditor)
            }
            Permission::ManageServicePoints => {
                role.manages_officials() || role == Role::StationManager
            }
            Permission::ReadMutualAid => {
                role.manages_officials()
                    || matches!(role, Role::Reviewer | Role::Finance | Role::Auditor)
            }
            Permission::ManagePlans => role.manages_officials(),
            Permission::RecordFees => role.manages_officials() || role == Role::Finance,
            Permission::ReviewClaims => role.manages_officials() || role == Role::Reviewer,
            Permission::PayClaims => role == Role::Finance,
            Permission::ReadRoster => {
                role.manages_officials() || matches!(role, Role::Lawyer | Role::Auditor)
            }
            Permission::ManageRoster => role.manages_officials(),
            Permission::ManageCategories => role == Role::SuperAdmin,
            Permission::ReadConsultations => role.manages_officials() || role == Role::Auditor,
            Permission::HandleConsultations => role.manages_officials(),
            Permission::ReadMailbox => role.manages_officials() || role == Role::Auditor,
            Permission::AnswerMailbox => role.manages_officials(),
            Permission::ManageDelivery => role == Role::SuperAdmin,
        }
    }
}

impl Admin {
    /// The one authorisation check: the role must hold `permission` (else 403 `forbidden`)
    /// and `target` — the organisation the record belongs to — must lie in the official's
    /// subtree (else 404 `not_found`, the same answer as for a record that does not exist).
    pub fn authorize(&self, permission: Permission, target: &OrgPath) -> Result<(), ApiError> {
        if !permission.granted_to(self.role) {
            return Err(ApiError::forbidden());
        }
        if !self.org_path.contains(target) {
            return Err(ApiError::not_found());
        }
        Ok(())
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    /// A logged-in official whose password needs no change: one whose administrator set it
    /// is refused with 403 `password_change_required` until they change it.
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let pending = PasswordChanger::from_request(req, payload);
        Box::pin(async move {
            let PasswordChanger(admin) = pending.await?;
            if admin.principal.session.password_change_required {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "password_change_required",
                    "管理员为您设置了临时密码：请先修改密码（POST /api/v1/admin/me/password）",
                    "An administrator set your password: change it first (POST /api/v1/admin/me/password)",
                ));
            }
            Ok(admin)
        })
    }
}

/// A logged-in official, whether or not they must change their password first: what the
/// password change itself asks for.
#[derive(Debug, Clone)]
pub struct PasswordChanger(pub Admin);

impl FromRequest for PasswordChanger {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let p = authenticate(req).await?;
            if p.session.kind != AccountKind::Admin {
                return Err(ApiError::wrong_account_kind());
            }
            let role = p
                .session
                .roles
                .first()
                .copied()
                .ok_or_else(ApiError::unauthenticated)?;
            let (Some(org_id), Some(org_path)) = (p.session.org_id, p.session.org_path.clone())
            else {
                return Err(ApiError::unauthenticated());
            };
            Ok(PasswordChanger(Admin {
                principal: p,
                role,
                org_id,
                org_path,
            }))
        })
    }
}
