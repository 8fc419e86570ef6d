//! The port through which the consultation categories and the lawyer roster are kept
//! (implemented in `yiwang-infra`). Every method that changes state writes its [`Change`]
//! (audit row and outbox event) in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::category::{Category, CategoryCode, CategoryRules};
use super::lawyer::{Lawyer, LawyerDetails};
use crate::account::AccountId;
use crate::audit::Change;
use crate::org::OrgPath;
use crate::repo::{Page, RepoError};

/// Conflict names the repository reports in [`RepoError::Conflict`].
pub mod conflict {
    /// Another lawyer's profile has the licence number.
    pub const LICENCE_TAKEN: &str = "licence_taken";
}

/// Which lawyers to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LawyerFilter {
    /// Only those practising this category.
    pub category: Option<CategoryCode>,
    /// Only those of organisations in this subtree (an official's scope).
    pub scope: Option<OrgPath>,
}

/// Categories and lawyers.
#[async_trait]
pub trait RosterRepository: Send + Sync {
    /// Every category, active or not, by position then code.
    async fn categories(&self) -> Result<Vec<Category>, RepoError>;

    /// Creates category `code` or replaces its rules; `true` when it was new.
    async fn save_category(
        &self,
        code: &CategoryCode,
        rules: &CategoryRules,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(Category, bool), RepoError>;

    /// Creates or replaces the profile of the official `account`, keeping an existing
    /// profile's duty and ratings (a new one starts off duty, unrated). `NotFound` when
    /// `account` is not an official with the `lawyer` role, or is disabled;
    /// `Conflict(LICENCE_TAKEN)` when another profile has the licence number.
    async fn save_lawyer(
        &self,
        account: AccountId,
        details: &LawyerDetails,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Lawyer, RepoError>;

    /// Puts the lawyer `account` on or off duty. `NotFound` without a profile.
    async fn set_on_duty(
        &self,
        account: AccountId,
        on_duty: bool,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<Lawyer, RepoError>;

    /// One lawyer's profile. `NotFound` without one, or when the official is disabled.
    async fn lawyer(&self, account: AccountId) -> Result<Lawyer, RepoError>;

    /// Lawyers whose officials are not disabled, on duty first, then by account id,
    /// keyset-paged by `{0 on duty | 1 off}|{account id}`.
    async fn lawyers(&self, filter: &LawyerFilter, page: &Page) -> Result<Vec<Lawyer>, RepoError>;
}
