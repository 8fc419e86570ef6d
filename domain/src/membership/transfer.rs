//! Membership transfer (会籍转移): after a job change a member asks to move to another
//! organisation. `requested → approved | rejected`, `withdrawn` by the member while
//! undecided; one open request per member.
//!
//! Who decides: the **receiving** organisation's reviewers (the official must hold the review
//! permission on the destination's subtree); the old organisation is notified through the
//! outbox event `membership.transfer.approved`, which names both. This is how 粤工惠 handles
//! it (issue #3); the old organisation has no veto, since a member is free to follow their
//! job. The member number is kept for life: it names the organisation that first admitted the
//! member, not the current one. Every move is kept in the membership history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::member::MemberId;
use super::store::MembershipConflict;
use crate::account::AccountId;
use crate::org::{OrgId, OrgPath};
use crate::refusal::Refusal;

crate::uuid_id!(
    /// Identifier of a transfer request.
    TransferId
);

/// Longest reason a member gives for a transfer, in characters.
pub const TRANSFER_TEXT_MAX_CHARS: usize = 200;

/// Where a transfer request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// Waiting for the receiving organisation.
    Requested,
    /// Done: the member belongs to the receiving organisation.
    Approved,
    /// Refused by the receiving organisation, with a reason.
    Rejected,
    /// Taken back by the member, or ended with the membership.
    Withdrawn,
}

impl TransferStatus {
    /// Every status, in the order of the life cycle.
    pub const ALL: [TransferStatus; 4] = [
        Self::Requested,
        Self::Approved,
        Self::Rejected,
        Self::Withdrawn,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Parses [`TransferStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The label a worker or official reads.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Requested => "待转入组织审核",
            Self::Approved => "已转入",
            Self::Rejected => "未通过",
            Self::Withdrawn => "已撤回",
        }
    }
}

/// A reviewer's decision on a transfer request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferDecision {
    /// The member moves to the receiving organisation.
    Approve,
    /// The member stays; the reason is shown to them.
    Reject {
        /// 1–[`DECISION_TEXT_MAX_CHARS`](super::application::DECISION_TEXT_MAX_CHARS)
        /// characters.
        reason: String,
    },
}

impl TransferDecision {
    /// The status the request ends in.
    pub fn status(&self) -> TransferStatus {
        match self {
            Self::Approve => TransferStatus::Approved,
            Self::Reject { .. } => TransferStatus::Rejected,
        }
    }
}

/// A step on a transfer request while it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferStep {
    /// The member takes the request back.
    Withdraw {
        /// Who asks: only the member's own request is found.
        by: AccountId,
    },
    /// A reviewer of the receiving organisation decides.
    Decide {
        /// The decision.
        decision: TransferDecision,
        /// The reviewer.
        by: AccountId,
    },
}

impl Transfer {
    /// The request after `step` at `at`, or why not: not found for a withdrawal of someone
    /// else's request; [`MembershipConflict::TransferStatus`] once it no longer waits (decided,
    /// withdrawn, or — for an approval — the membership no longer `in_force`: leaving
    /// withdraws every request).
    pub fn step(
        &self,
        step: &TransferStep,
        in_force: bool,
        at: DateTime<Utc>,
    ) -> Result<Transfer, Refusal> {
        if let TransferStep::Withdraw { by } = step {
            if *by != self.account_id {
                return Err(Refusal::not_found());
            }
        }
        if self.status != TransferStatus::Requested {
            return Err(MembershipConflict::TransferStatus.into());
        }
        let mut after = self.clone();
        after.decided_at = Some(at);
        match step {
            TransferStep::Withdraw { .. } => after.status = TransferStatus::Withdrawn,
            TransferStep::Decide { decision, by } => {
                if *decision == TransferDecision::Approve && !in_force {
                    return Err(MembershipConflict::TransferStatus.into());
                }
                after.status = decision.status();
                after.decided_by = Some(*by);
                after.decision_reason = match decision {
                    TransferDecision::Approve => None,
                    TransferDecision::Reject { reason } => Some(reason.clone()),
                };
            }
        }
        Ok(after)
    }
}

/// An organisation as a transfer names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgBrief {
    /// Id.
    pub id: OrgId,
    /// Name.
    pub name: String,
}

/// A transfer request, with what a reviewer needs to know about the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Id.
    pub id: TransferId,
    /// The member moving.
    pub member_id: MemberId,
    /// The member's account.
    pub account_id: AccountId,
    /// The member's number (kept across transfers).
    pub member_number: String,
    /// The member's real name; `None` once erased.
    pub member_name: Option<String>,
    /// The member's mobile number (full; mask before showing in lists).
    pub member_phone: Option<String>,
    /// Where the member belonged when asking.
    pub from_org: OrgBrief,
    /// Where the member asks to go.
    pub to_org: OrgBrief,
    /// The receiving organisation's path (the reviewers' data scope).
    pub to_org_path: OrgPath,
    /// Where it stands.
    pub status: TransferStatus,
    /// Why the member asks (e.g. the new employer), optional.
    pub reason: Option<String>,
    /// When asked (UTC).
    pub requested_at: DateTime<Utc>,
    /// When decided or withdrawn (UTC).
    pub decided_at: Option<DateTime<Utc>>,
    /// The official who decided.
    pub decided_by: Option<AccountId>,
    /// A rejection's reason.
    pub decision_reason: Option<String>,
}

/// What happened to a membership: joining, each transfer, the end (会籍变动记录).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryEvent {
    /// Admitted by the organisation.
    Joined,
    /// Moved from `from_org` to the organisation.
    Transferred,
    /// Left the union.
    Ended,
}

impl HistoryEvent {
    /// Every term, in the order pickers show them.
    pub const ALL: [HistoryEvent; 3] = [Self::Joined, Self::Transferred, Self::Ended];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Joined => "joined",
            Self::Transferred => "transferred",
            Self::Ended => "ended",
        }
    }

    /// Parses [`HistoryEvent::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The label a worker or official reads.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Joined => "入会",
            Self::Transferred => "会籍转移",
            Self::Ended => "退会",
        }
    }
}

/// One row of a membership's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// What happened.
    pub event: HistoryEvent,
    /// The organisation joined, moved to, or left.
    pub org: OrgBrief,
    /// The organisation moved from (transfers).
    pub from_org: Option<OrgBrief>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::refusal::RefusalKind;

    fn request(account_id: AccountId) -> Transfer {
        let org = |name: &str| OrgBrief {
            id: OrgId::new(),
            name: name.into(),
        };
        Transfer {
            id: TransferId::new(),
            member_id: MemberId::new(),
            account_id,
            member_number: "ABCDEF01-000001".into(),
            member_name: Some("王建军".into()),
            member_phone: None,
            from_org: org("金水区总工会"),
            to_org: org("黔西市新就业形态工会联合会"),
            to_org_path: OrgPath::from_stored("/a/b/".into()),
            status: TransferStatus::Requested,
            reason: None,
            requested_at: Utc::now(),
            decided_at: None,
            decided_by: None,
            decision_reason: None,
        }
    }

    #[test]
    fn a_waiting_request_is_withdrawn_by_its_member_or_decided_once() {
        let (member, reviewer, at) = (AccountId::new(), AccountId::new(), Utc::now());
        let waiting = request(member);
        let stranger = TransferStep::Withdraw {
            by: AccountId::new(),
        };
        let refused = waiting.step(&stranger, true, at).unwrap_err();
        assert_eq!(refused.kind, RefusalKind::NotFound);
        let withdrawn = waiting
            .step(&TransferStep::Withdraw { by: member }, true, at)
            .unwrap();
        assert_eq!(
            (withdrawn.status, withdrawn.decided_at),
            (TransferStatus::Withdrawn, Some(at))
        );
        let reject = TransferStep::Decide {
            decision: TransferDecision::Reject {
                reason: "不在本会服务范围".into(),
            },
            by: reviewer,
        };
        let rejected = waiting.step(&reject, false, at).unwrap();
        assert_eq!(
            rejected.decision_reason.as_deref(),
            Some("不在本会服务范围")
        );
        let approve = TransferStep::Decide {
            decision: TransferDecision::Approve,
            by: reviewer,
        };
        for (done, in_force) in [(&withdrawn, true), (&rejected, true), (&waiting, false)] {
            let refused = done.step(&approve, in_force, at).unwrap_err();
            assert!(
                refused.is(&MembershipConflict::TransferStatus),
                "{refused:?}"
            );
        }
        let approved = waiting.step(&approve, true, at).unwrap();
        assert_eq!(
            (approved.status, approved.decided_by),
            (TransferStatus::Approved, Some(reviewer))
        );
    }
}
