//! Closed vocabularies: the sets of terms with a stable English code (the JSON and stored
//! form) and a Chinese label (what a worker or official reads) — statuses, kinds, reasons,
//! roles. One trait serves the spec's `enum`s, the pickers' list
//! (`GET /api/v1/vocabularies`) and the labels beside every code in an answer.

/// A closed set of terms. Codes are snake_case ASCII and never change once published.
pub trait Vocabulary: Copy + Sized + 'static {
    /// Every term, in the order a picker shows them.
    const TERMS: &'static [Self];

    /// The stable code.
    fn code(self) -> &'static str;

    /// The Chinese label.
    fn label(self) -> &'static str;

    /// The term with this code.
    fn from_code(code: &str) -> Option<Self> {
        Self::TERMS.iter().copied().find(|t| t.code() == code)
    }
}

/// Implements [`Vocabulary`] from a type's `ALL`, `as_str` and `zh`.
macro_rules! vocabulary {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::vocabulary::Vocabulary for $ty {
            const TERMS: &'static [Self] = &<$ty>::ALL;
            fn code(self) -> &'static str {
                self.as_str()
            }
            fn label(self) -> &'static str {
                self.zh()
            }
        }
    )*};
}

use crate::account::Role;
use crate::consultation::category::SlaClock;
use crate::consultation::early_warning::AlertStatus;
use crate::consultation::message::Author;
use crate::consultation::thread::ConsultationStatus;
use crate::legal_aid::{AidKind, LegalAidStatus};
use crate::mailbox::LetterStatus;
use crate::membership::application::{ApplicationAction, ApplicationStatus, RejectReason};
use crate::membership::identity::Sex;
use crate::membership::member::MemberStatus;
use crate::membership::person::EmploymentForm;
use crate::membership::transfer::{HistoryEvent, TransferStatus};
use crate::mutual_aid::claim::{ClaimAction, ClaimStatus, RejectionReason};
use crate::mutual_aid::enrolment::{EnrolmentStatus, PaymentMethod};
use crate::mutual_aid::plan::{BenefitKind, DocumentKind};
use crate::mutual_aid::similar::Likeness;
use crate::notification::NotificationKind;
use crate::org::OrgKind;
use crate::service_point::kind::{Amenity, ServicePointKind};
use crate::service_point::point::{QualityFlag, ServicePointStatus};
use crate::service_point::store::Moderation;

vocabulary!(
    Role,
    OrgKind,
    EmploymentForm,
    Sex,
    ApplicationStatus,
    ApplicationAction,
    RejectReason,
    MemberStatus,
    TransferStatus,
    HistoryEvent,
    EnrolmentStatus,
    PaymentMethod,
    BenefitKind,
    DocumentKind,
    ClaimStatus,
    ClaimAction,
    RejectionReason,
    Likeness,
    ServicePointKind,
    ServicePointStatus,
    Amenity,
    QualityFlag,
    Moderation,
    ConsultationStatus,
    Author,
    SlaClock,
    AlertStatus,
    AidKind,
    LegalAidStatus,
    LetterStatus,
    NotificationKind,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn check<V: Vocabulary + std::fmt::Debug + PartialEq>() {
        let codes: Vec<_> = V::TERMS.iter().map(|t| t.code()).collect();
        for (i, t) in V::TERMS.iter().enumerate() {
            assert_eq!(
                V::from_code(t.code()),
                Some(*t),
                "{t:?} does not parse back"
            );
            assert!(!codes[..i].contains(&t.code()), "{} twice", t.code());
            assert!(
                t.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{} is not snake_case",
                t.code()
            );
            assert!(
                !t.label().is_ascii(),
                "{t:?} has no Chinese label: {}",
                t.label()
            );
        }
    }

    #[test]
    fn every_term_has_one_code_and_a_chinese_label() {
        check::<Role>();
        check::<QualityFlag>();
        check::<OrgKind>();
        check::<EmploymentForm>();
        check::<Sex>();
        check::<ApplicationStatus>();
        check::<ApplicationAction>();
        check::<RejectReason>();
        check::<MemberStatus>();
        check::<TransferStatus>();
        check::<HistoryEvent>();
        check::<EnrolmentStatus>();
        check::<PaymentMethod>();
        check::<BenefitKind>();
        check::<DocumentKind>();
        check::<ClaimStatus>();
        check::<ClaimAction>();
        check::<RejectionReason>();
        check::<Likeness>();
        check::<ServicePointKind>();
        check::<ServicePointStatus>();
        check::<Amenity>();
        check::<Moderation>();
        check::<ConsultationStatus>();
        check::<Author>();
        check::<SlaClock>();
        check::<AlertStatus>();
        check::<AidKind>();
        check::<LegalAidStatus>();
        check::<LetterStatus>();
    }
}
