//! Accounts: workers (职工, who log in with WeChat) and officials (工会干部, who log in with a
//! username and password and act inside their branch of the union tree).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::org::{OrgId, OrgPath};
use crate::problem::FieldProblem;

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

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            Role::SuperAdmin => "超级管理员",
            Role::OrgAdmin => "组织管理员",
            Role::Reviewer => "审核员",
            Role::Finance => "财务",
            Role::Lawyer => "律师",
            Role::StationManager => "阵地管理员",
            Role::Auditor => "审计员",
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

/// Lowest zxcvbn score (0–4) an official's password must reach: 3, "safely unguessable:
/// moderate protection from offline slow-hash scenario" (about 10^10 guesses).
pub const MIN_PASSWORD_SCORE: u8 = 3;

/// Why an official's password is refused, as a problem of `field`, or `None` when it is
/// accepted: 12–128 characters (NIST SP 800-63B §5.1.1.2: length, no composition rules), and
/// not easily guessed — a zxcvbn score of at least [`MIN_PASSWORD_SCORE`], judged with
/// `user_inputs` (the username, the display name) as words an attacker would try first, so
/// `password1234` and a password equal to the username are refused (`too_weak`).
pub fn password_problem(field: &str, password: &str, user_inputs: &[&str]) -> Option<FieldProblem> {
    let chars = password.chars().count();
    if chars < 12 {
        return Some(FieldProblem::new(
            field,
            "too_short",
            "密码至少 12 个字符",
            "a password has at least 12 characters",
        ));
    }
    if chars > 128 {
        return Some(FieldProblem::new(
            field,
            "too_long",
            "密码最多 128 个字符",
            "a password has at most 128 characters",
        ));
    }
    let mut inputs: Vec<&str> = user_inputs.to_vec();
    inputs.extend(["yiwang", "gonghui", "zhigong", "admin"]);
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if u8::from(estimate.score()) >= MIN_PASSWORD_SCORE {
        return None;
    }
    let why = estimate
        .feedback()
        .and_then(|f| f.warning())
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    Some(FieldProblem::new(
        field,
        "too_weak",
        "密码太容易被猜到：请不要使用用户名、姓名、常见密码或简单规律，建议用几个不相关的词组成较长的密码",
        format!("the password is too easy to guess{why}"),
    ))
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
    /// Whether the official must change their password at the next login (an administrator
    /// set it).
    pub password_change_required: bool,
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
        let code = |password: &str| {
            password_problem("password", password, &["zhengzhou-admin", "王建军"]).map(|p| p.code)
        };
        assert_eq!(code("short"), Some("too_short"));
        assert_eq!(code(&"长".repeat(129)), Some("too_long"));
        assert_eq!(code("password1234"), Some("too_weak"));
        assert_eq!(code("zhengzhou-admin"), Some("too_weak"));
        assert_eq!(code("Zhengzhou-Admin1"), Some("too_weak"));
        assert_eq!(code("123456789012"), Some("too_weak"));
        assert_eq!(code("qwertyuiopasdf"), Some("too_weak"));
        assert_eq!(code("correct horse battery staple"), None);
        assert_eq!(code("晋城大病互助审核组2027"), None);
    }
}
