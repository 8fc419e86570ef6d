//! JSON request bodies ([`Json`]): at most [`MAX_JSON_BYTES`], `application/json` (or a
//! `+json` type) required, read with the path of whatever does not fit the form, so every
//! refusal names its field — `lines.0.amount_fen`, not "a field has the wrong type".

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Longest JSON request body, bytes.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// A request body read as JSON into `T`. Refusals, each a problem: not JSON → 415
/// `unsupported_media_type`; over 64 KiB → 413 `payload_too_large` (before it is read, when
/// `Content-Length` says so); stalled → 408 `body_timeout`; malformed → 400 `invalid_json`
/// with line and column; an unknown, missing or ill-typed field → 400 `unknown_field`,
/// `missing_field` or `invalid_body`, the field's path in `errors[].field`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The form.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = check_head(req);
        let mut payload = payload.take();
        Box::pin(async move {
            checked?;
            let mut body = Vec::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    if crate::body_timeout::is_idle(&e) {
                        super::body_timeout()
                    } else {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_body",
                            "无法读取请求体",
                            format!("Cannot read the request body: {e}"),
                        )
                    }
                })?;
                if body.len() + chunk.len() > MAX_JSON_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(Json)
        })
    }
}

/// The content type and the declared length, checked before any byte is read.
fn check_head(req: &HttpRequest) -> Result<(), ApiError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
        .is_some_and(|m| {
            m.subtype() == actix_web::mime::JSON || m.suffix() == Some(actix_web::mime::JSON)
        });
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求体须为 JSON（Content-Type: application/json）",
            "The request body must be JSON (Content-Type: application/json)",
        ));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_JSON_BYTES) {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "请求体超过 64 KiB 上限",
        "The request body exceeds the 64 KiB limit",
    )
}

/// `bytes` as `T`, or the refusal naming where it went wrong. A number written with a zero
/// fraction (`3.0`) is the whole number it equals, as JSON Schema counts it (an `integer` is
/// any number with a zero fractional part, JSON Schema Validation §6.1.1 and Core §4.2.2), so a
/// field of whole numbers takes it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        // Read again only when a float stood where a whole number was expected: the common
        // body takes the one pass it always did.
        Err(e)
            if e.inner()
                .to_string()
                .starts_with("invalid type: floating point") =>
        {
            let mut value: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|e| body_error(&e, ""))?;
            whole_numbers(&mut value);
            return serde_path_to_error::deserialize(value).map_err(|e| {
                let path = field_path(e.path());
                body_error(e.inner(), &path)
            });
        }
        Err(e) => return Err(body_error(e.inner(), &field_path(e.path()))),
    };
    de.end().map_err(|e| body_error(&e, ""))?;
    Ok(value)
}

/// Rewrites every number in `value` that has a zero fraction and fits an `i64` as that whole
/// number.
fn whole_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    /// 2^63 as an `f64`, exactly: the first float past `i64::MAX`.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) {
                    #[allow(clippy::cast_possible_truncation)]
                    let whole = f as i64;
                    *value = Value::from(whole);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// A path as the `field` of a problem: segments joined by `.`, indexes as numbers
/// (`lines.0.amount_fen`), as the domain's field problems are written.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The name between the first pair of backticks of a serde message (the field it names).
pub(crate) fn backticked(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_owned())
}

/// A serde_json error at `path` (empty: the body itself) as 400: syntax errors name line and
/// column; unknown, missing and ill-typed fields name the field's path.
pub fn body_error(e: &serde_json::Error, path: &str) -> ApiError {
    let msg = e.to_string();
    let (line, col) = (e.line(), e.column());
    if e.is_syntax() || e.is_eof() {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("JSON 格式错误（第 {line} 行第 {col} 列）"),
            format!("Malformed JSON: {msg}"),
        );
    }
    let within = |name: String| {
        if path.is_empty() {
            name
        } else if name.is_empty() || path.ends_with(&format!(".{name}")) || path == name {
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if msg.starts_with("unknown field") {
        let field = within(backticked(&msg).unwrap_or_default());
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_field",
            "请求体含有不认识的字段",
            format!("Unknown field `{field}` in the request body"),
        )
        .field(field, "unknown_field", "不认识的字段", "unknown field");
    }
    if msg.starts_with("missing field") {
        // The path ends where the field is missing: at its parent.
        let name = backticked(&msg).unwrap_or_default();
        let field = if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        };
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_field",
            "请求体缺少必填字段",
            format!("Missing field `{field}` in the request body"),
        )
        .field(field, "required", "必填", "required");
    }
    let error = ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_body",
        "请求体中有字段的类型或取值不正确",
        format!("A request body field has the wrong type or value: {msg}"),
    );
    if path.is_empty() {
        error
    } else {
        error.field(
            path,
            "invalid_type",
            "类型或取值不正确",
            "wrong type or value",
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Deserialize;

    use super::parse;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        amount_fen: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Form {
        name: String,
        lines: Vec<Line>,
    }

    fn field_of(body: &str) -> (String, String) {
        let problem = parse::<Form>(body.as_bytes()).unwrap_err();
        let json = serde_json::to_value(problem.problem()).unwrap();
        (
            json["code"].as_str().unwrap().to_owned(),
            json["errors"][0]["field"].as_str().unwrap_or("").to_owned(),
        )
    }

    #[test]
    fn every_refusal_names_its_field_path() {
        let cases = [
            (r#"{"name":5,"lines":[]}"#, "invalid_body", "name"),
            (
                r#"{"name":"a","lines":[{"amount_fen":1},{"amount_fen":"x"}]}"#,
                "invalid_body",
                "lines.1.amount_fen",
            ),
            (
                r#"{"name":"a","lines":[{"amount_fen":1.5}]}"#,
                "invalid_body",
                "lines.0.amount_fen",
            ),
            (
                r#"{"name":"a","lines":[{}]}"#,
                "missing_field",
                "lines.0.amount_fen",
            ),
            (r#"{"lines":[]}"#, "missing_field", "name"),
            (
                r#"{"name":"a","lines":[{"amount_fen":1,"x":2}]}"#,
                "unknown_field",
                "lines.0.x",
            ),
            (r#"{"name":"a","lines":[],"y":1}"#, "unknown_field", "y"),
        ];
        for (body, code, field) in cases {
            assert_eq!(
                field_of(body),
                (code.to_owned(), field.to_owned()),
                "{body}"
            );
        }
        assert_eq!(field_of(r#"{"name":"a""#).0, "invalid_json");
        assert_eq!(field_of(r#"{"name":"a","lines":[]} x"#).0, "invalid_json");
    }

    #[test]
    fn a_whole_number_may_be_written_with_a_zero_fraction() {
        let form: Form =
            parse(br#"{"name":"a","lines":[{"amount_fen":3.0},{"amount_fen":-2e3}]}"#).unwrap();
        let amounts: Vec<i64> = form.lines.iter().map(|l| l.amount_fen).collect();
        assert_eq!(amounts, [3, -2000]);
        assert_eq!(
            field_of(r#"{"name":"a","lines":[{"amount_fen":1e19}]}"#).0,
            "invalid_body"
        );
    }
}
