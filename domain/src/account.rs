//! Accounts: workers (职工, who log in with WeChat) and officials (工会干部, who log in with a
//! username and password and act inside their branch of the union tree).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::org::{OrgId, OrgPath};

crate::uuid_id!(
    /// Identifier of a worker or an official account (a UUIDv7).
    AccountId
);

/// Which side an account is on; carried in the access token's `kind` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A worker using the mini-program.
    Worker,
    /// A union official using the admin API.
    Admin,
}

impl AccountKind {
    /// The stable text code.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Worker => "worker",
            AccountKind::Admin => "admin",
        }
    }

    /// Parses the text code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "worker" => Some(AccountKind::Worker),
            "admin" => Some(AccountKind::Admin),
            _ => None,
        }
    }
}

/// The role of an official. Each official has exactly one, bound to one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the whole installation below their organisation, including other administrators.
    SuperAdmin,
    /// Runs one branch: its child organisations and its officials.
    OrgAdmin,
    /// Reviews membership applications and claims.
    Reviewer,
    /// Records payments and pays claims.
    Finance,
    /// A lawyer on the legal roster (云律团).
    Lawyer,
    /// Keeps the service-point catalogue.
    StationManager,
    /// Reads everything in scope, changes nothing.
    Auditor,
}

impl Role {
    /// Every role, for error messages that list what is allowed.
    pub const ALL: [Role; 7] = [
        Role::SuperAdmin,
        Role::OrgAdmin,
        Role::Reviewer,
        Role::Finance,
        Role::Lawyer,
        Role::StationManager,
        Role::Auditor,
    ];

    /// The stable text code.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::OrgAdmin => "org_admin",
            Role::Reviewer => "reviewer",
            Role::Finance => "finance",
            Role::Lawyer => "lawyer",
            Role::StationManager => "station_manager",
            Role::Auditor => "auditor",
        }
    }

    /// Parses the text code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Rank for the "never a role above one's own" rule: super_admin 3, org_admin 2, every
    /// specialist role 1.
    pub fn rank(self) -> u8 {
        match self {
            Role::SuperAdmin => 3,
            Role::OrgAdmin => 2,
            _ => 1,
        }
    }

    /// Whether an official with this role may give `other` to a new official.
    pub fn may_grant(self, other: Role) -> bool {
        self.manages_officials() && other.rank() <= self.rank()
    }

    /// Whether this role manages organisations and officials at all.
    pub fn manages_officials(self) -> bool {
        matches!(self, Role::SuperAdmin | Role::OrgAdmin)
    }
}

/// An official's login name: 3–64 characters of ASCII letters, digits, `.`, `_`, `-`,
/// compared case-insensitively (stored lower-case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Checks and lower-cases a username; `None` when it breaks the rule above.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let ok_len = (3..=64).contains(&s.len());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        (ok_len && ok_chars).then(|| Self(s.to_ascii_lowercase()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Password rule for officials: 12–128 characters. Length is what protects (NIST SP 800-63B
/// §5.1.1.2); no composition rules.
pub fn password_acceptable(password: &str) -> bool {
    (12..=128).contains(&password.chars().count())
}

/// A worker account, found or created by the WeChat `openid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// Our id.
    pub id: AccountId,
    /// The mini-program `openid` from code2Session (WECHAT.md).
    pub openid: String,
    /// The Open Platform `unionid`, when WeChat sends one.
    pub unionid: Option<String>,
    /// Mobile number bound through getuserphonenumber (`purePhoneNumber`, no country code).
    pub phone: Option<String>,
    /// Country calling code of `phone`, e.g. `86`.
    pub phone_country_code: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last login (UTC).
    pub last_login_at: DateTime<Utc>,
}

/// An official's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Official {
    /// Our id.
    pub id: AccountId,
    /// Login name.
    pub username: Username,
    /// Name shown to others.
    pub display_name: String,
    /// The organisation the official belongs to; their data scope is its subtree.
    pub org_id: OrgId,
    /// Path of that organisation.
    pub org_path: OrgPath,
    /// The official's role.
    pub role: Role,
    /// When the account was disabled; a disabled official cannot log in.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}

/// Login throttling for officials (issue #2): after [`LOCKOUT_MAX_FAILURES`] failed logins
/// within [`lockout_window`] the username is locked for [`lockout_duration`]. Unknown usernames
/// are counted the same way, so the answers never tell whether an account exists.
pub const LOCKOUT_MAX_FAILURES: u32 = 5;

/// The window in which failures are counted: 15 minutes.
pub fn lockout_window() -> Duration {
    Duration::minutes(15)
}

/// How long a lock lasts: 15 minutes.
pub fn lockout_duration() -> Duration {
    Duration::minutes(15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_role_above_ones_own() {
        assert!(Role::SuperAdmin.may_grant(Role::SuperAdmin));
        assert!(Role::OrgAdmin.may_grant(Role::OrgAdmin));
        assert!(Role::OrgAdmin.may_grant(Role::Reviewer));
        assert!(!Role::OrgAdmin.may_grant(Role::SuperAdmin));
        assert!(!Role::Reviewer.may_grant(Role::Reviewer));
        assert!(!Role::Auditor.may_grant(Role::Auditor));
    }

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse(" Zhang.San ").map(|u| u.0),
            Some("zhang.san".into())
        );
        assert!(Username::parse("ab").is_none());
        assert!(Username::parse("张三abc").is_none());
        assert!(Username::parse("a b c").is_none());
    }

    #[test]
    fn passwords() {
        assert!(!password_acceptable("short"));
        assert!(password_acceptable("correct horse battery"));
        assert!(password_acceptable("工会密码工会密码工会密码"));
    }
}
