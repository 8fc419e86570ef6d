//! Where a worker can join: `GET /api/v1/orgs` searches the whole organisation tree, with no
//! login, for the employer's union or, for new-employment-form workers, a federation that
//! accepts individuals (联合工会 / 行业工会联合会).

pub mod admin;

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use yiwang_domain::org::Organisation;
use yiwang_domain::store::OrgSearch;

use crate::error::{ApiError, Problem};
use crate::rate_limit::Lookup;
use crate::routes::shared::responses::MalformedQuery;
use crate::routes::shared::Query;
use crate::routes::shared::{optional_text, PageQuery, Paged};
use crate::state::AppState;

/// An organisation as a worker choosing where to join sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgChoice {
    /// Id, for `org_id` in an application.
    pub id: String,
    /// Name.
    pub name: String,
    /// Level or form (see the admin `OrgView.kind`).
    pub kind: String,
    /// City it serves; absent when not set.
    pub city: Option<String>,
    /// Whether individual workers may join it directly.
    pub accepts_individuals: bool,
}

impl From<Organisation> for OrgChoice {
    fn from(o: Organisation) -> Self {
        OrgChoice {
            id: o.id.to_string(),
            name: o.name.as_str().to_owned(),
            kind: o.kind.as_str().to_owned(),
            city: o.city,
            accepts_individuals: o.accepts_individuals,
        }
    }
}

/// Filters of the search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgSearchQuery {
    /// Name containing this text (at most 50 characters).
    #[param(max_length = 50)]
    pub q: Option<String>,
    /// Exactly this city (`黔西市`).
    #[param(max_length = 30)]
    pub city: Option<String>,
    /// `true`: only organisations that accept individual workers.
    pub accepts_individuals: Option<bool>,
}

/// Searches organisations a worker can apply to, in tree order.
#[utoipa::path(get, tag = "membership",
    params(OrgSearchQuery, PageQuery),
    responses(
        (status = 200, description = "One page", body = Paged<OrgChoice>),
        (status = 422, description = "Bad limit, cursor or filter", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many lookups from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
        MalformedQuery,
    ))]
#[get("/orgs")]
pub async fn search(
    state: web::Data<AppState>,
    _limit: Lookup,
    filter: Query<OrgSearchQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Paged<OrgChoice>>, ApiError> {
    let page = page.request()?;
    let search = OrgSearch {
        q: optional_text("q", filter.q.as_deref(), 50)?,
        city: optional_text("city", filter.city.as_deref(), 30)?,
        accepts_individuals: filter.accepts_individuals,
    };
    let rows = state.orgs.search(&search, &page).await?;
    Ok(web::Json(Paged::of(rows, OrgChoice::from)))
}

/// Registers this feature's routes with their OpenAPI paths, in the order actix matches
/// them (fixed paths before `{id}`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(search)
        .service(admin::create)
        .service(admin::list)
        .service(admin::get)
        .service(admin::update);
}
