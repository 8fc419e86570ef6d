//! Query strings ([`Query`]): read with the name of whatever does not fit, so a refusal says
//! which parameter (`limit`, `lat`) — in `errors[].field`, the `detail` in Chinese words.
//! Parameters a route does not document are refused before this, by
//! [`super::methods::refuse_undocumented`].

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The query string read into `T`; a value of the wrong form is 400 `invalid_query` naming the
/// parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The parameters.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse(req.query_string()).map(Query))
    }
}

/// `query` (as sent, percent-encoded) as `T`, or the refusal naming the parameter.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut field = e.path().to_string();
        let message = e.inner().to_string();
        if message.starts_with("missing field") {
            field = super::json::backticked(&message).unwrap_or(field);
        }
        let error = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "查询参数的格式不正确",
            format!("Invalid query parameter `{field}`: {}", e.inner()),
        );
        if field.is_empty() || field == "." {
            error
        } else {
            error.field(field, "invalid_format", "格式不正确", "wrong form")
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Deserialize;

    use super::parse;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Near {
        lat: f64,
        limit: Option<u32>,
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        let problem =
            |q: &str| serde_json::to_value(parse::<Near>(q).unwrap_err().problem()).unwrap();
        let p = problem("lat=34.7&limit=many");
        assert_eq!(
            (p["code"].as_str(), p["errors"][0]["field"].as_str()),
            (Some("invalid_query"), Some("limit"))
        );
        let p = problem("lat=north");
        assert_eq!(p["errors"][0]["field"], "lat");
        let p = problem("limit=3");
        assert_eq!(p["errors"][0]["field"], "lat");
        assert!(parse::<Near>("lat=34.7&limit=3").is_ok());
    }
}
