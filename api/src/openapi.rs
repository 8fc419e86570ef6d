//! The OpenAPI document, generated from the route annotations (ARCHITECTURE.md item 12).
//! `yiwang openapi` prints it; `openapi.yaml` at the repository root is that output,
//! committed, and a test fails when the two differ.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some(
            "Access token from a login or refresh answer: an EdDSA-signed JWT, 15 minutes.".into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// Names every operation after its method and path (`get_admin_orgs_by_id`,
/// `post_membership_transfers_by_id_withdraw`): unique, as OpenAPI requires and client
/// generators rely on, and stable while the route stays. Handler names repeat across modules
/// (`list`, `approve`), so they cannot serve.
struct OperationIds;

impl Modify for OperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ] {
                if let Some(operation) = operation {
                    operation.operation_id = Some(operation_id(method, path));
                }
            }
        }
    }
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        if matches!(segment, "api" | "v1") {
            continue;
        }
        id.push('_');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => {
                id.push_str("by_");
                id.push_str(param);
            }
            None => {
                let word: String = segment
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                id.push_str(word.trim_matches('_'));
            }
        }
    }
    id
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "yiwang 一网 API",
        description = "Backend of a trade union's WeChat mini-program: workers log in with WeChat; union officials work inside their branch of the union tree. Errors are RFC 9457 problem details with a stable `code`; `detail` is Chinese unless `Accept-Language: en`. Money is integer fen; coordinates are GCJ-02.",
        version = "0.1.0",
        license(name = "Apache-2.0")
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::health::jwks,
        routes::health::metrics,
        routes::auth::wechat_login,
        routes::auth::admin_login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::me::me,
        routes::me::bind_phone,
        routes::me::delete_account,
        routes::admin::orgs::create,
        routes::admin::orgs::list,
        routes::admin::orgs::get,
        routes::admin::orgs::update,
        routes::admin::officials::create,
        routes::admin::officials::list,
        routes::admin::officials::get,
        routes::admin::officials::disable,
        routes::orgs::search,
        routes::membership::privacy_notice,
        routes::membership::apply,
        routes::membership::my_applications,
        routes::membership::my_application,
        routes::membership::resubmit,
        routes::membership::withdraw,
        routes::membership::member_card,
        routes::membership::leave,
        routes::membership::verify_card,
        routes::membership::transfers::request,
        routes::membership::transfers::list,
        routes::membership::transfers::withdraw,
        routes::membership::transfers::history,
        routes::admin::membership::queue,
        routes::admin::membership::application,
        routes::admin::membership::approve,
        routes::admin::membership::reject,
        routes::admin::membership::return_application,
        routes::admin::membership::batch_approve,
        routes::admin::membership::members,
        routes::admin::membership::export::export,
        routes::admin::membership::reveal_id,
        routes::admin::membership::transfers::queue,
        routes::admin::membership::transfers::show,
        routes::admin::membership::transfers::approve,
        routes::admin::membership::transfers::reject,
        routes::service_points::nearby,
        routes::service_points::list,
        routes::service_points::show,
        routes::service_points::visits::check_in,
        routes::service_points::reviews::review,
        routes::service_points::reviews::list,
        routes::admin::service_points::create,
        routes::admin::service_points::list,
        routes::admin::service_points::show,
        routes::admin::service_points::update,
        routes::admin::service_points::remove,
        routes::admin::service_points::import::import,
        routes::admin::service_points::export::export,
        routes::admin::service_points::visits::counts,
        routes::admin::service_points::reviews::list,
        routes::admin::service_points::reviews::approve,
        routes::admin::service_points::reviews::refuse,
        routes::mutual_aid::plans,
        routes::mutual_aid::enrol,
        routes::mutual_aid::my_enrollments,
        routes::mutual_aid::claims::create,
        routes::mutual_aid::claims::list,
        routes::mutual_aid::claims::show,
        routes::mutual_aid::claims::update,
        routes::mutual_aid::claims::preview,
        routes::mutual_aid::claims::submit,
        routes::mutual_aid::documents::upload,
        routes::mutual_aid::documents::remove,
        routes::mutual_aid::documents::own_link,
        routes::mutual_aid::documents::download,
        routes::admin::mutual_aid::create,
        routes::admin::mutual_aid::list,
        routes::admin::mutual_aid::show,
        routes::admin::mutual_aid::update,
        routes::admin::mutual_aid::enrollments::list,
        routes::admin::mutual_aid::enrollments::record_payments,
        routes::admin::mutual_aid::claims::queue,
        routes::admin::mutual_aid::claims::show,
        routes::admin::mutual_aid::claims::document_link,
        routes::admin::mutual_aid::claims::take,
        routes::admin::mutual_aid::claims::approve,
        routes::admin::mutual_aid::claims::return_claim,
        routes::admin::mutual_aid::claims::reject,
        routes::admin::mutual_aid::payouts::payment_list,
        routes::admin::mutual_aid::payouts::mark_paid,
        routes::ws::socket,
        routes::consultations::ask,
        routes::consultations::list,
        routes::consultations::show,
        routes::consultations::messages,
        routes::consultations::write,
        routes::consultations::rate,
        routes::consultations::read,
        routes::consultations::attachments::send,
        routes::consultations::attachments::own_link,
        routes::consultations::attachments::download,
        routes::admin::consultations::queue,
        routes::admin::consultations::show,
        routes::admin::consultations::messages,
        routes::admin::consultations::accept,
        routes::admin::consultations::answer,
        routes::admin::consultations::resolve,
        routes::admin::consultations::release,
        routes::admin::consultations::refuse,
        routes::admin::consultations::assign,
        routes::admin::consultations::read,
        routes::admin::consultations::attach,
        routes::admin::consultations::link,
        routes::admin::early_warnings::list,
        routes::admin::early_warnings::acknowledge,
        routes::admin::early_warnings::show_rule,
        routes::admin::early_warnings::save_rule,
        routes::legal_aid::apply,
        routes::legal_aid::list,
        routes::legal_aid::show,
        routes::admin::legal_aid::queue,
        routes::admin::legal_aid::show,
        routes::admin::legal_aid::accept,
        routes::admin::legal_aid::reject,
        routes::admin::legal_aid::close,
        routes::mailbox::write,
        routes::mailbox::mine,
        routes::mailbox::public,
        routes::admin::mailbox::list,
        routes::admin::mailbox::reply,
        routes::admin::mailbox::close,
        routes::lawyers::categories,
        routes::lawyers::list,
        routes::lawyers::show,
        routes::admin::consultation_categories::list,
        routes::admin::consultation_categories::save,
        routes::admin::lawyers::list,
        routes::admin::lawyers::save,
        routes::admin::lawyers::duty,
    ),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        routes::ws::ReadyFrame,
        routes::consultations::ConsultationFrame,
    )),
    modifiers(&BearerAuth, &OperationIds),
    tags(
        (name = "auth", description = "Login, refresh, logout, signing keys"),
        (name = "me", description = "The current account"),
        (name = "admin: organisations", description = "The union organisation tree (工会组织)"),
        (name = "admin: officials", description = "Officials (工会干部) and their roles"),
        (name = "membership", description = "Joining the union (入会), the member card (电子会员卡), transfers (会籍转移) and leaving"),
        (name = "admin: membership", description = "Reviewing applications (入会审核) and transfers, and members"),
        (name = "service points", description = "Service points (服务阵地): the nearest stations, the map, check-ins and ratings"),
        (name = "admin: service points", description = "The service-point catalogue: editing, spreadsheet import and export, visit counts, review moderation"),
        (name = "mutual aid", description = "Mutual aid (互助保障): plans, enrolment, claims with documents, the payout preview and the timeline"),
        (name = "admin: mutual aid", description = "Mutual-aid plans, fees, the claim queue and decisions (two-level review), the payment list"),
        (name = "consultations", description = "Online consultation (在线咨询): asking a question, the thread, rating the answer; the categories and the lawyer roster (云律团) to pick from"),
        (name = "live", description = "The live socket: new messages and state changes of the caller's consultations, pushed over a WebSocket"),
        (name = "legal aid", description = "Legal-aid applications (法律援助申请): mediation, document drafting, representation"),
        (name = "mailbox", description = "The chairman mailbox (主席信箱): letters to an organisation's chairman, and the public letters with their replies"),
        (name = "admin: mailbox", description = "Reading and answering the letters to the caller's organisations"),
        (name = "admin: consultations", description = "The lawyers' work (accept, answer, resolve) and the officials' (release held text, assign, the branch's queue); employer early warnings; legal-aid decisions; categories and their service levels, lawyers' profiles and duty"),
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;

/// The document as YAML.
pub fn yaml() -> Result<String, String> {
    ApiDoc::openapi().to_yaml().map_err(|e| e.to_string())
}
