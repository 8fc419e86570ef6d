//! The OpenAPI document, generated from the route annotations (ARCHITECTURE.md item 12) as
//! [`routes::configure`] registers them — the same registration the server runs, so a route
//! cannot be served undocumented or documented unserved. `yiwang openapi` prints it;
//! `openapi.yaml` at the repository root is that output, committed, and a test fails when the
//! two differ.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::routes;

/// The operations of `item` with their method (`get` …): every method the routes use.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("post", &mut item.post),
        ("put", &mut item.put),
        ("patch", &mut item.patch),
        ("delete", &mut item.delete),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|o| (method, o)))
}

/// A response described by `description` whose body is a problem (RFC 9457).
fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

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
            for (method, operation) in operations(item) {
                operation.operation_id = Some(operation_id(method, path));
            }
        }
    }
}

/// Documents the 400 every operation may answer, where its own annotation does not: a query
/// parameter it does not take is refused with `unknown_parameter` on any route (not only
/// those with query parameters), so a client generated from the document expects it.
struct BadRequests;

impl Modify for BadRequests {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let response = problem_response(
            "`unknown_parameter` (a query parameter this route does not take) or \
             `invalid_query` (one of the wrong form), each named in `errors[].field`",
        );
        for item in openapi.paths.paths.values_mut() {
            for (_, operation) in operations(item) {
                operation
                    .responses
                    .responses
                    .entry("400".to_owned())
                    .or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// Marks every operation that takes no token as public (`security: []`), so a generator and a
/// linter read "no authentication" rather than "not said".
struct PublicOperations;

impl Modify for PublicOperations {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for (_, operation) in operations(item) {
                operation.security.get_or_insert_with(Vec::new);
            }
        }
    }
}

/// Makes each page's `items` refer to the row's own schema (`Paged_ClaimView.items` →
/// `ClaimView`) instead of a copy of it: utoipa inlines a generic parameter, which gives a
/// generator one class per page type for the same row, and leaves the row's schema unused.
struct PagedItemsByReference;

impl Modify for PagedItemsByReference {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ArrayItems, Schema};
        use utoipa::openapi::{Ref, RefOr};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let names: std::collections::BTreeSet<String> =
            components.schemas.keys().cloned().collect();
        for (name, schema) in components.schemas.iter_mut() {
            let Some(row) = name.strip_prefix("Paged_") else {
                continue;
            };
            if !names.contains(row) {
                continue;
            }
            let RefOr::T(Schema::Object(page)) = schema else {
                continue;
            };
            if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
                items.items =
                    ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(row))));
            }
        }
    }
}

/// What every answer carries, said once and referenced from each response: `X-Request-Id` on
/// every answer, `Retry-After` on 429 and 503, `Idempotent-Replayed` on the successes of an
/// operation that takes `Idempotency-Key`; a documented 500 on every operation; the form of
/// `Idempotency-Key`; `minItems: 1` on the comma lists of queries; and `format: uuid` on the
/// record ids in paths and queries (a session id is not one).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
        use utoipa::openapi::RefOr;
        let string = || ObjectBuilder::new().schema_type(Type::String);
        let headers = [
            (
                "X-Request-Id",
                string(),
                "This request's id: in every log line about it and in its problem's \
                 `request_id`; a well-formed incoming `X-Request-Id` is kept.",
            ),
            (
                "Retry-After",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
                "Seconds to wait before trying again.",
            ),
            (
                "Idempotent-Replayed",
                string().enum_values(Some(["true"])),
                "`true` when this is the stored answer to an earlier request with the same \
                 `Idempotency-Key` (nothing was done again).",
            ),
        ];
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema, about) in headers {
            let header = HeaderBuilder::new()
                .schema(Some(schema))
                .description(Some(about))
                .build();
            components.headers.insert(name.to_owned(), RefOr::T(header));
        }
        components.responses.insert(
            "InternalError".to_owned(),
            RefOr::T(problem_response(
                "`internal_error`: an unexpected failure, logged under the request id; nothing \
                 is half-written",
            )),
        );
        let header = |name: &str| RefOr::Ref(Ref::new(format!("#/components/headers/{name}")));
        for (path, item) in openapi.paths.paths.iter_mut() {
            let uuid_ids = !path.starts_with("/api/v1/me/sessions");
            for (_, operation) in operations(item) {
                let mut idempotent = false;
                for parameter in operation.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else {
                        continue;
                    };
                    if parameter.name == crate::idempotency::HEADER {
                        idempotent = true;
                        // What `key_from_header` takes: 1–100 visible ASCII characters.
                        parameter.schema = Some(
                            string()
                                .min_length(Some(1))
                                .max_length(Some(100))
                                .pattern(Some("^[!-~]{1,100}$"))
                                .into(),
                        );
                    }
                    let is_id = parameter.name == "id" || parameter.name.ends_with("_id");
                    if parameter.parameter_in == ParameterIn::Query {
                        // A comma list names at least one value: `status=` is an empty
                        // string, not an empty list, and is refused as such.
                        if let Some(RefOr::T(Schema::Array(list))) = parameter.schema.as_mut() {
                            list.min_items = Some(1);
                        }
                    }
                    let located = matches!(
                        parameter.parameter_in,
                        ParameterIn::Path | ParameterIn::Query
                    );
                    if uuid_ids && is_id && located {
                        parameter.schema = Some(
                            string()
                                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                                .into(),
                        );
                    }
                }
                let responses = &mut operation.responses.responses;
                responses.entry("500".to_owned()).or_insert_with(|| {
                    RefOr::Ref(Ref::new("#/components/responses/InternalError"))
                });
                for (status, response) in responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    response
                        .headers
                        .insert("X-Request-Id".to_owned(), header("X-Request-Id"));
                    if status == "429" || status == "503" {
                        response
                            .headers
                            .insert("Retry-After".to_owned(), header("Retry-After"));
                    }
                    if idempotent && status.starts_with('2') {
                        response.headers.insert(
                            "Idempotent-Replayed".to_owned(),
                            header("Idempotent-Replayed"),
                        );
                    }
                }
            }
        }
    }
}

/// Where a record created (`201`, its `id`) or listed first (`items/0/id`) is read and acted
/// on next: OpenAPI links (3.1 §4.8.20) for generated clients and for the contract fuzzer's
/// stateful phase, which follows them through the main flows. Each entry: the operation, its
/// success status, the operations it leads to, and what fills the target's parameters (a
/// `body.` name fills that field of the target's request body).
const LINKS: &[LinkSet] = &[
    (
        "post_admin_orgs",
        "201",
        &["get_admin_orgs_by_id", "patch_admin_orgs_by_id"],
        &[("id", CREATED)],
    ),
    (
        "post_admin_officials",
        "201",
        &[
            "get_admin_officials_by_id",
            "post_admin_officials_by_id_password",
        ],
        &[("id", CREATED)],
    ),
    (
        "post_admin_service_points",
        "201",
        &[
            "get_admin_service_points_by_id",
            "put_admin_service_points_by_id",
            "delete_admin_service_points_by_id",
            "get_admin_service_points_by_id_reviews",
        ],
        &[("id", CREATED)],
    ),
    (
        "post_admin_mutual_aid_plans",
        "201",
        &[
            "get_admin_mutual_aid_plans_by_id",
            "put_admin_mutual_aid_plans_by_id",
        ],
        &[("id", CREATED)],
    ),
    (
        "post_membership_applications",
        "201",
        &[
            "get_membership_applications_by_id",
            "put_membership_applications_by_id",
            "post_membership_applications_by_id_withdraw",
        ],
        &[("id", CREATED)],
    ),
    (
        "post_membership_transfers",
        "201",
        &["post_membership_transfers_by_id_withdraw"],
        &[("id", CREATED)],
    ),
    (
        "post_mutual_aid_claims",
        "201",
        &[
            "get_mutual_aid_claims_by_id",
            "put_mutual_aid_claims_by_id",
            "get_mutual_aid_claims_by_id_preview",
            "post_mutual_aid_claims_by_id_submit",
            "post_mutual_aid_claims_by_id_documents",
        ],
        &[("id", CREATED)],
    ),
    (
        "post_mutual_aid_claims_by_id_documents",
        "201",
        &[
            "delete_mutual_aid_claims_by_id_documents_by_document_id",
            "post_mutual_aid_claims_by_id_documents_by_document_id_link",
        ],
        &[("id", "$request.path.id"), ("document_id", CREATED)],
    ),
    (
        "post_consultations",
        "201",
        &[
            "get_consultations_by_id",
            "get_consultations_by_id_messages",
            "post_consultations_by_id_messages",
            "post_consultations_by_id_read",
            "post_consultations_by_id_rating",
        ],
        &[("id", CREATED)],
    ),
    (
        "post_legal_aid_applications",
        "201",
        &[
            "get_legal_aid_applications_by_id",
            "post_legal_aid_applications_by_id_withdraw",
        ],
        &[("id", CREATED)],
    ),
    (
        "post_mailbox_letters",
        "201",
        &["post_mailbox_letters_by_id_withdraw"],
        &[("id", CREATED)],
    ),
    (
        "get_admin_orgs",
        "200",
        &["get_admin_orgs_by_id"],
        &[("id", FIRST)],
    ),
    (
        "get_admin_officials",
        "200",
        &["get_admin_officials_by_id"],
        &[("id", FIRST)],
    ),
    (
        "get_admin_membership_applications",
        "200",
        &[
            "get_admin_membership_applications_by_id",
            "post_admin_membership_applications_by_id_approve",
            "post_admin_membership_applications_by_id_return",
            "post_admin_membership_applications_by_id_reject",
        ],
        &[("id", FIRST)],
    ),
    (
        "get_admin_membership_transfers",
        "200",
        &[
            "get_admin_membership_transfers_by_id",
            "post_admin_membership_transfers_by_id_approve",
            "post_admin_membership_transfers_by_id_reject",
        ],
        &[("id", FIRST)],
    ),
    (
        "get_admin_members",
        "200",
        &["post_admin_members_by_id_reveal_id"],
        &[("id", FIRST)],
    ),
    (
        "get_admin_mutual_aid_plans",
        "200",
        &["get_admin_mutual_aid_plans_by_id"],
        &[("id", FIRST)],
    ),
    (
        "get_admin_mutual_aid_claims",
        "200",
        &[
            "get_admin_mutual_aid_claims_by_id",
            "post_admin_mutual_aid_claims_by_id_take",
            "post_admin_mutual_aid_claims_by_id_return",
            "post_admin_mutual_aid_claims_by_id_reject",
            "post_admin_mutual_aid_claims_by_id_approve",
            "post_admin_mutual_aid_claims_by_id_paid",
        ],
        &[("id", FIRST)],
    ),
    (
        "get_admin_consultations",
        "200",
        &[
            "get_admin_consultations_by_id",
            "get_admin_consultations_by_id_messages",
            "post_admin_consultations_by_id_accept",
        ],
        &[("id", FIRST)],
    ),
    (
        "get_admin_legal_aid_applications",
        "200",
        &[
            "get_admin_legal_aid_applications_by_id",
            "post_admin_legal_aid_applications_by_id_reject",
            "post_admin_legal_aid_applications_by_id_close",
        ],
        &[("id", FIRST)],
    ),
    (
        "get_admin_mailbox_letters",
        "200",
        &[
            "get_admin_mailbox_letters_by_id",
            "post_admin_mailbox_letters_by_id_reply",
            "post_admin_mailbox_letters_by_id_close",
        ],
        &[("id", FIRST)],
    ),
    (
        "get_admin_early_warnings",
        "200",
        &["post_admin_early_warnings_by_id_acknowledge"],
        &[("id", FIRST)],
    ),
    (
        "get_admin_service_points",
        "200",
        &[
            "get_admin_service_points_by_id",
            "get_admin_service_points_by_id_reviews",
        ],
        &[("id", FIRST)],
    ),
    (
        "get_service_points",
        "200",
        &[
            "get_service_points_by_id",
            "get_service_points_by_id_reviews",
            "post_service_points_by_id_reviews",
            "post_service_points_by_id_visits",
        ],
        &[("id", FIRST)],
    ),
    (
        "get_membership_applications",
        "200",
        &["get_membership_applications_by_id"],
        &[("id", FIRST)],
    ),
    (
        "get_mutual_aid_claims",
        "200",
        &["get_mutual_aid_claims_by_id"],
        &[("id", FIRST)],
    ),
    (
        "get_consultations",
        "200",
        &["get_consultations_by_id"],
        &[("id", FIRST)],
    ),
    (
        "get_legal_aid_applications",
        "200",
        &["get_legal_aid_applications_by_id"],
        &[("id", FIRST)],
    ),
    (
        "get_lawyers",
        "200",
        &["get_lawyers_by_id"],
        &[("id", FIRST)],
    ),
    (
        "get_mutual_aid_plans",
        "200",
        &["post_mutual_aid_enrollments"],
        &[("body.plan_id", FIRST)],
    ),
];

/// A [`LINKS`] entry: from, status, to, and the fill of the targets' parameters.
type LinkSet = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

/// The id of the record a `201` answers with.
const CREATED: &str = "$response.body#/id";
/// The id of the first row of a page.
const FIRST: &str = "$response.body#/items/0/id";

struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::link::LinkBuilder;
        use utoipa::openapi::RefOr;
        for item in openapi.paths.paths.values_mut() {
            for (_, operation) in operations(item) {
                let from = operation.operation_id.clone().unwrap_or_default();
                for (_, status, targets, fill) in LINKS.iter().filter(|l| l.0 == from) {
                    let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status)
                    else {
                        continue;
                    };
                    for target in *targets {
                        let mut link = LinkBuilder::new().operation_id(*target);
                        let mut body = serde_json::Map::new();
                        for (name, expression) in *fill {
                            match name.strip_prefix("body.") {
                                Some(field) => {
                                    body.insert(field.to_owned(), (*expression).into());
                                }
                                None => link = link.parameter(*name, *expression),
                            }
                        }
                        if !body.is_empty() {
                            link = link.request_body(Some(serde_json::Value::Object(body)));
                        }
                        response
                            .links
                            .insert((*target).to_owned(), link.build().into());
                    }
                }
            }
        }
    }
}

/// What a text field's annotation writes for "at most `maxLength` characters as sent,
/// trimmed, then at least `minLength`" (the domain's [`yiwang_domain::problem::text`]); with
/// [`TRIMMED_NO_CONTROL`], no control character either (an organisation's name or city).
const TRIMMED: &str = "\\S";
const TRIMMED_NO_CONTROL: &str = "\\S (no control characters)";

/// The characters Rust's `str::trim` takes off (Unicode `White_Space`), as a regex class body.
const WHITE_SPACE: &str =
    "\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
/// Control characters (`char::is_control`, category Cc), as a regex class body.
const CONTROL: &str = "\\u0000-\\u001f\\u007f-\\u009f";

/// The pattern of a text the server trims and then takes at `min` characters or more: `\S`
/// would take `"\u001c"`, which Python's `\s` counts as space but `str::trim` keeps, and
/// `minLength` would take `" a "` for two. The length limit stays `maxLength`, on the text as
/// sent, as the server counts it (a bounded repetition in the pattern defeats schemathesis's
/// coverage phase).
fn trimmed_pattern(min: usize, no_control: bool) -> String {
    let ws = format!("[{WHITE_SPACE}]");
    let (edge, inner) = if no_control {
        (
            format!("[^{WHITE_SPACE}{CONTROL}]"),
            format!("[^{CONTROL}]"),
        )
    } else {
        (format!("[^{WHITE_SPACE}]"), "[\\s\\S]".to_owned())
    };
    let middle = match min {
        0 | 1 => format!("(?:{inner}*{edge})?"),
        2 => format!("{inner}*{edge}"),
        _ => format!("{inner}{{{},}}{edge}", min - 2),
    };
    format!("^{ws}*{edge}{middle}{ws}*$")
}

/// Rewrites each text annotated [`TRIMMED`] or [`TRIMMED_NO_CONTROL`] into the pattern of
/// [`trimmed_pattern`], its least length in the pattern (`minLength: 1` stays, true of any
/// text the pattern takes; `maxLength` stays as written).
struct TrimmedTexts;

impl Modify for TrimmedTexts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::Schema;
        use utoipa::openapi::RefOr;
        fn rewrite(schema: &mut RefOr<Schema>) {
            let RefOr::T(Schema::Object(object)) = schema else {
                return;
            };
            for property in object.properties.values_mut() {
                rewrite(property);
            }
            let no_control = match object.pattern.as_deref() {
                Some(TRIMMED) => false,
                Some(TRIMMED_NO_CONTROL) => true,
                _ => return,
            };
            let min = object.min_length.unwrap_or(1);
            object.pattern = Some(trimmed_pattern(min, no_control));
            object.min_length = Some(1);
        }
        if let Some(components) = openapi.components.as_mut() {
            for schema in components.schemas.values_mut() {
                rewrite(schema);
            }
        }
    }
}

/// Names the server as the host that serves the document (`/`), so generated clients take
/// their base URL from where they fetched it or from their own setting.
struct SameHost;

impl Modify for SameHost {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut server = utoipa::openapi::Server::new("/");
        server.description = Some("The host that serves this document".into());
        openapi.servers = Some(vec![server]);
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
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        routes::consultations::live::ReadyFrame,
        routes::consultations::ConsultationFrame,
        routes::notifications::deliver::NotificationFrame,
    )),
    modifiers(&BearerAuth),
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
        (name = "vocabularies", description = "The closed vocabularies (statuses, kinds, reasons, roles) with their Chinese labels, for pickers"),
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;

/// The whole document: the description above with every registered route's path.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    OperationIds.modify(&mut doc);
    BadRequests.modify(&mut doc);
    PublicOperations.modify(&mut doc);
    PagedItemsByReference.modify(&mut doc);
    CommonResponses.modify(&mut doc);
    Links.modify(&mut doc);
    TrimmedTexts.modify(&mut doc);
    SameHost.modify(&mut doc);
    doc
}

/// The document as YAML.
pub fn yaml() -> Result<String, impl std::error::Error + Send + Sync + 'static> {
    document().to_yaml()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// A trimmed text's pattern with its `maxLength` takes what `problem::text` takes, and
    /// nothing else.
    #[test]
    fn a_trimmed_text_pattern_is_the_servers_rule() {
        let takes = |min: usize, max: usize, text: &str| {
            let pattern = regex::Regex::new(&trimmed_pattern(min, false)).unwrap();
            pattern.is_match(text) && text.chars().count() <= max
        };
        let server = |max: usize, text: &str| {
            let mut problems = Vec::new();
            yiwang_domain::problem::text(&mut problems, "f", Some(text.to_owned()), max, true)
                .is_some()
        };
        for text in [
            "a",
            " abcd\n",
            " abcde",
            "abcdef",
            " ",
            "",
            "\u{3000}a b\u{3000}",
            "a\u{1c}",
            "\u{85}x\u{85}",
        ] {
            assert_eq!(takes(1, 5, text), server(5, text), "{text:?}");
        }
        let name = regex::Regex::new(&trimmed_pattern(1, true)).unwrap();
        assert!(name.is_match(" 郑州 "));
        assert!(!name.is_match("郑\u{13}州"));
        let two = regex::Regex::new(&trimmed_pattern(2, false)).unwrap();
        assert!(!two.is_match(" a "));
        assert!(two.is_match(" ab "));
    }

    /// Every link leaves from and leads to an operation the document has, on a success status
    /// it documents, filling only parameters the target takes.
    #[test]
    fn links_join_documented_operations() {
        let mut doc = document();
        let mut found = std::collections::BTreeMap::new();
        for item in doc.paths.paths.values_mut() {
            for (_, operation) in operations(item) {
                let names: Vec<String> = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        utoipa::openapi::RefOr::T(p) => Some(p.name.clone()),
                        utoipa::openapi::RefOr::Ref(_) => None,
                    })
                    .collect();
                let statuses: Vec<String> = operation.responses.responses.keys().cloned().collect();
                found.insert(
                    operation.operation_id.clone().unwrap_or_default(),
                    (names, statuses, operation.request_body.is_some()),
                );
            }
        }
        for (from, status, targets, fill) in LINKS {
            let (_, statuses, _) = found.get(*from).unwrap_or_else(|| panic!("no {from}"));
            assert!(
                statuses.iter().any(|s| s == status),
                "{from} has no {status}"
            );
            for target in *targets {
                let (names, _, body) = found.get(*target).unwrap_or_else(|| panic!("no {target}"));
                for (name, _) in *fill {
                    match name.strip_prefix("body.") {
                        Some(_) => assert!(body, "{target} takes no body"),
                        None => {
                            assert!(names.iter().any(|n| n == name), "{target} takes no {name}")
                        }
                    }
                }
            }
        }
    }
}
