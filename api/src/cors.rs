//! Cross-origin requests from browsers (CORS, the Fetch standard): allowed only from the
//! origins listed in `YIWANG_CORS_ALLOWED_ORIGINS` (none by default), with `actix-cors`.
//!
//! A listed origin's preflight is answered with the methods and request headers the API
//! takes, and its responses expose the headers a client reads (`X-Request-Id`, `Retry-After`,
//! `Location`, `Idempotent-Replayed`, `Content-Disposition`, `Allow`). Cookies and HTTP
//! authentication are not sent cross-origin (no `Access-Control-Allow-Credentials`): access
//! tokens travel in `Authorization`. A request from any other origin is served as usual but
//! without CORS headers, so a browser withholds the answer from that page while curl and
//! servers, which send no `Origin` or ignore CORS, work unchanged.

use actix_cors::Cors;
use actix_web::http::header::{self, HeaderName};
use actix_web::http::{Method, Uri};

/// How long a browser may cache a preflight answer, seconds.
const PREFLIGHT_MAX_AGE_SECS: usize = 3600;

/// The origins of `listed`, each `scheme://host[:port]` with scheme `http` or `https` (a
/// trailing `/` is dropped); the first that is not, as the error.
pub fn origins(listed: &[String]) -> Result<Vec<String>, String> {
    listed
        .iter()
        .map(|text| {
            let origin = text.trim().trim_end_matches('/');
            let uri: Uri = origin.parse().map_err(|_| text.clone())?;
            let plain = matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|h| !h.is_empty())
                && uri
                    .path_and_query()
                    .is_none_or(|p| p.as_str().is_empty() || p == "/")
                && !origin.contains('@');
            if plain {
                Ok(origin.to_ascii_lowercase())
            } else {
                Err(text.clone())
            }
        })
        .collect()
}

/// The CORS policy for `origins` (as [`origins`] returned them).
pub fn policy(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            header::LOCATION,
            HeaderName::from_static("idempotent-replayed"),
            header::CONTENT_DISPOSITION,
            header::ALLOW,
        ])
        .max_age(PREFLIGHT_MAX_AGE_SECS);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::origins;

    #[test]
    fn only_plain_origins_are_taken() {
        let listed = |v: &[&str]| origins(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            listed(&["https://Console.Example.org/", "http://127.0.0.1:5173"]).unwrap(),
            ["https://console.example.org", "http://127.0.0.1:5173"]
        );
        for bad in [
            "*",
            "console.example.org",
            "ftp://x.org",
            "https://x.org/path",
            "https://u@x.org",
        ] {
            assert_eq!(listed(&[bad]).unwrap_err(), bad);
        }
    }
}
