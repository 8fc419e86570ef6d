//! Mutual aid (互助保障): plans as data, enrolment, claims and the payout calculator (issue
//! #5; DOMAIN.md, 晋城 大病医疗互助 and openIMIS's claim model). Everything here is pure:
//!
//! - [`plan`]: a plan's rules, validated when an official saves them, and versioned;
//! - [`enrolment`]: a member's participation in a plan year, and the days it covers;
//! - [`claim`]: line items, the claim's states and the one transition function;
//! - [`payout`]: what a claim pays, with the breakdown of why;
//! - [`review`]: what a submission or a reviewer's decision does to a claim;
//! - [`similar`]: what on another claim looks like this one's, for the reviewer;
//! - [`store`]: the port plans, enrolments and claims are kept through.

pub mod claim;
pub mod enrolment;
pub mod payout;
pub mod plan;
pub mod review;
pub mod similar;
pub mod store;

pub use claim::{ClaimAction, ClaimId, ClaimLine, ClaimStatus, LineInput, RejectionReason};
pub use enrolment::{Coverage, Enrolment, EnrolmentId, EnrolmentStatus, PaymentMethod};
pub use payout::{compute, CostLine, Payout, YearToDate};
pub use plan::{BenefitKind, BenefitRule, DocumentKind, Plan, PlanId, PlanInput, PlanRules};
