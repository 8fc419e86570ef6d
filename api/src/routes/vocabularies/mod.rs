//! The closed vocabularies ([`Vocabulary`]): each is a named `enum` schema in the spec, used by
//! every field and parameter that carries one of its codes (`#[schema(value_type =
//! vocabularies::ClaimStatus)]`), and listed with its Chinese labels by
//! `GET /api/v1/vocabularies` for the app's pickers.

use std::borrow::Cow;

use actix_web::{get, HttpResponse};
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use yiwang_domain::vocabulary::Vocabulary;

/// The `enum` schema of a vocabulary: its codes, and each code's Chinese label in the
/// description (generators show it on the type).
fn schema_of<V: Vocabulary>(about: &str) -> RefOr<Schema> {
    let labels: Vec<String> = V::TERMS
        .iter()
        .map(|t| format!("`{}` {}", t.code(), t.label()))
        .collect();
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(V::TERMS.iter().map(|t| t.code())))
        .description(Some(format!(
            "{about} Codes and labels: {}.",
            labels.join("; ")
        )))
        .into()
}

/// One term of a vocabulary.
#[derive(Debug, Serialize, ToSchema)]
pub struct TermView {
    /// The stable code, as in every answer and form.
    pub code: &'static str,
    /// The Chinese label a picker shows.
    pub label: &'static str,
}

fn terms<V: Vocabulary>() -> Vec<TermView> {
    V::TERMS
        .iter()
        .map(|t| TermView {
            code: t.code(),
            label: t.label(),
        })
        .collect()
}

/// Declares the vocabularies once: a schema type per vocabulary (named as in the domain) and
/// the [`Vocabularies`] answer with one field per vocabulary.
macro_rules! vocabularies {
    ($($field:ident: $name:ident = $domain:path, $about:literal;)*) => {
        $(
            #[doc = $about]
            #[doc = ""]
            #[doc = "The spec's `enum` for this vocabulary; use it as a field's `value_type`."]
            pub struct $name;

            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    schema_of::<$domain>($about)
                }
            }

            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        )*

        /// Every closed vocabulary with its terms, in picker order.
        #[derive(Debug, Serialize, ToSchema)]
        pub struct Vocabularies {
            $(
                #[doc = $about]
                pub $field: Vec<TermView>,
            )*
        }

        impl Vocabularies {
            fn all() -> Self {
                Self { $($field: terms::<$domain>(),)* }
            }
        }
    };
}

use yiwang_domain::service_point as sp;
use yiwang_domain::{
    account, consultation, legal_aid, mailbox, membership, mutual_aid, notification, org,
};

vocabularies! {
    roles: Role = account::Role, "An official's role.";
    org_kinds: OrgKind = org::OrgKind, "The level or form of a union organisation.";
    employment_forms: EmploymentForm = membership::person::EmploymentForm, "A worker's form of employment.";
    sexes: Sex = membership::identity::Sex, "Sex, as read from the resident ID number.";
    application_statuses: ApplicationStatus = membership::application::ApplicationStatus, "Where a membership application is.";
    application_actions: ApplicationAction = membership::application::ApplicationAction, "A step in a membership application's history.";
    application_reject_reasons: ApplicationRejectReason = membership::application::RejectReason, "Why a membership application was rejected.";
    member_statuses: MemberStatus = membership::member::MemberStatus, "Whether a membership is in force.";
    transfer_statuses: TransferStatus = membership::transfer::TransferStatus, "Where a membership transfer is.";
    membership_events: MembershipEventKind = membership::transfer::HistoryEvent, "What happened to a membership.";
    enrolment_statuses: EnrolmentStatus = mutual_aid::EnrolmentStatus, "Where a mutual-aid enrolment is.";
    payment_methods: PaymentMethod = mutual_aid::PaymentMethod, "How a mutual-aid fee was paid.";
    benefit_kinds: BenefitKind = mutual_aid::BenefitKind, "A mutual-aid benefit: inpatient or chronic outpatient care.";
    document_kinds: DocumentKind = mutual_aid::DocumentKind, "A kind of claim document.";
    claim_statuses: ClaimStatus = mutual_aid::ClaimStatus, "Where a mutual-aid claim is.";
    claim_actions: ClaimAction = mutual_aid::ClaimAction, "A step on a claim's timeline.";
    claim_reject_reasons: ClaimRejectReason = mutual_aid::RejectionReason, "Why a claim was rejected.";
    likenesses: Likeness = mutual_aid::similar::Likeness, "Why two claims look alike.";
    service_point_kinds: ServicePointKind = sp::ServicePointKind, "A kind of service point.";
    service_point_statuses: ServicePointStatus = sp::point::ServicePointStatus, "Whether a service point is open.";
    amenities: Amenity = sp::Amenity, "What a service point offers.";
    quality_flags: QualityFlag = sp::QualityFlag, "Why a service point's data should be checked.";
    review_moderations: Moderation = sp::store::Moderation, "Where a review's comment stands with the content check.";
    consultation_statuses: ConsultationStatus = consultation::thread::ConsultationStatus, "Where a consultation is.";
    authors: Author = consultation::message::Author, "Who wrote a consultation message.";
    sla_clocks: SlaClock = consultation::category::SlaClock, "Which hours a consultation category's deadlines count.";
    alert_statuses: AlertStatus = consultation::early_warning::AlertStatus, "Where an early-warning alert is.";
    aid_kinds: AidKind = legal_aid::AidKind, "A kind of legal aid asked for.";
    legal_aid_statuses: LegalAidStatus = legal_aid::LegalAidStatus, "Where a legal-aid application is.";
    letter_statuses: LetterStatus = mailbox::LetterStatus, "Where a letter to the chairman's mailbox is.";
    notification_kinds: NotificationKind = notification::NotificationKind, "A kind of message, which a worker may switch off on WeChat.";
}

/// Every closed vocabulary with its Chinese labels, for the app's pickers (employment forms,
/// document kinds, rejection reasons …). Consultation categories are data, not a vocabulary:
/// `GET /api/v1/consultation-categories`.
#[utoipa::path(get, tag = "vocabularies",
    responses((status = 200, description = "Every vocabulary, terms in picker order", body = Vocabularies)))]
#[get("/vocabularies")]
pub async fn list() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .json(Vocabularies::all())
}

/// Registers the vocabulary list.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list);
}
