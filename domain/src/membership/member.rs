//! The member (会员): created when an application is approved, with a unique member number
//! (organisation prefix + sequence), a join date and an organisation that can change by
//! transfer (会籍转移).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::application::ApplicationId;
use super::person::EmploymentForm;
use crate::account::AccountId;
use crate::org::{OrgId, OrgPath};

crate::uuid_id!(
    /// Identifier of a member record.
    MemberId
);

/// The member number of the `seq`-th member admitted by the organisation whose code is
/// `org_code`: `{code}-{seq:06}`, e.g. `3F9A2C1B-000017` ("organisation prefix + sequence").
pub fn member_number(org_code: &str, seq: i64) -> String {
    format!("{org_code}-{seq:06}")
}

/// Whether a membership is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// A member in good standing.
    Active,
    /// Membership ended (left the union).
    Ended,
}

impl MemberStatus {
    /// Every term, in the order pickers show them.
    pub const ALL: [MemberStatus; 2] = [Self::Active, Self::Ended];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Ended => "ended",
        }
    }

    /// Parses [`MemberStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The label a worker or official reads.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Active => "正常",
            Self::Ended => "已退会",
        }
    }
}

/// A member record. Personal fields are `None` once erased after the membership ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Id.
    pub id: MemberId,
    /// The worker's account.
    pub account_id: AccountId,
    /// The approved application it came from.
    pub application_id: ApplicationId,
    /// `{organisation code}-{sequence:06}`, unique.
    pub member_number: String,
    /// Current organisation.
    pub org_id: OrgId,
    /// Its path (data scope).
    pub org_path: OrgPath,
    /// Its name.
    pub org_name: String,
    /// In force or ended.
    pub status: MemberStatus,
    /// Real name.
    pub real_name: Option<String>,
    /// Masked ID number.
    pub id_number_masked: Option<String>,
    /// Mobile number (full; mask before showing in lists).
    pub phone: Option<String>,
    /// Form of employment.
    pub employment_form: EmploymentForm,
    /// Join date (Asia/Shanghai calendar day of approval).
    pub joined_on: NaiveDate,
    /// When membership ended (UTC).
    pub ended_at: Option<DateTime<Utc>>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}
