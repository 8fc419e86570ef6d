//! Template data value limits of subscribeMessage.send.

use std::fmt;

use serde_json::Value;

/// Why template data is refused; its text is the errmsg of the 47003 answer.
#[derive(Debug)]
pub(crate) enum DataProblem {
    NotAnObject,
    /// `data.{key}.value` is missing or not a string.
    NoValue(String),
    /// `data.{key}.value` breaks the limit of its kind.
    Invalid {
        key: String,
        reason: &'static str,
    },
}

impl fmt::Display for DataProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("argument invalid! data is missing or not an object"),
            Self::NoValue(key) => write!(
                f,
                "argument invalid! data.{key}.value is missing or not a string"
            ),
            Self::Invalid { key, reason } => {
                write!(f, "argument invalid! data.{key}.value {reason}")
            }
        }
    }
}

/// Checks `data` of a subscribe message.
pub(crate) fn check_data(data: Option<&Value>) -> Result<(), DataProblem> {
    let Some(entries) = data.and_then(Value::as_object) else {
        return Err(DataProblem::NotAnObject);
    };
    for (key, entry) in entries {
        let Some(value) = entry.get("value").and_then(Value::as_str) else {
            return Err(DataProblem::NoValue(key.clone()));
        };
        check_value(key, value)?;
    }
    Ok(())
}

/// Checks one value against the limit of its kind (the key without trailing digits).
fn check_value(key: &str, value: &str) -> Result<(), DataProblem> {
    let invalid = |reason: &'static str| {
        Err(DataProblem::Invalid {
            key: key.to_owned(),
            reason,
        })
    };
    if value.is_empty() {
        return invalid("is empty");
    }
    let kind = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let chars = value.chars().count();
    match kind {
        "thing" if chars > 20 => invalid("exceeds 20 characters"),
        "number" if !is_decimal(value) => invalid("must be a number"),
        "number" if digit_count(value) > 32 => invalid("exceeds 32 digits"),
        "character_string" if chars > 32 => invalid("exceeds 32 characters"),
        "phrase" if chars > 5 => invalid("exceeds 5 characters"),
        "name" if chars > 10 => invalid("exceeds 10 characters"),
        "phone_number" if chars > 17 => invalid("exceeds 17 characters"),
        "amount" => check_amount(value).or_else(invalid),
        _ => Ok(()),
    }
}

/// Digits with at most one decimal point, at least one digit.
fn is_decimal(value: &str) -> bool {
    value.chars().all(|c| c.is_ascii_digit() || c == '.')
        && value.chars().filter(|c| *c == '.').count() <= 1
        && digit_count(value) > 0
}

fn digit_count(value: &str) -> usize {
    value.chars().filter(char::is_ascii_digit).count()
}

/// An optional single currency sign, ≤ 10 digits with an optional decimal point, and an
/// optional trailing `元`.
fn check_amount(value: &str) -> Result<(), &'static str> {
    let without_sign = value
        .strip_prefix(['¥', '￥', '$', '€', '£'])
        .unwrap_or(value);
    let number = without_sign.strip_suffix('元').unwrap_or(without_sign);
    if !is_decimal(number) {
        return Err("must be one currency sign followed by digits");
    }
    if digit_count(number) > 10 {
        return Err("exceeds 10 digits");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(key: &str, value: &str) -> Result<(), DataProblem> {
        check_data(Some(&json!({ key: { "value": value } })))
    }

    #[test]
    fn limits_are_applied_by_kind() {
        assert!(check("thing1", "二十个字以内的说明").is_ok());
        assert!(check("thing1", &"字".repeat(20)).is_ok());
        let error = check("thing1", &"字".repeat(21)).unwrap_err().to_string();
        assert!(error.contains("data.thing1.value"), "{error}");
        assert!(check("number2", "12345.67").is_ok());
        assert!(check("number2", "12a").is_err());
        assert!(check("number2", &"1".repeat(33)).is_err());
        assert!(check("character_string3", &"a".repeat(32)).is_ok());
        assert!(check("character_string3", &"a".repeat(33)).is_err());
        assert!(check("phrase4", "已通过").is_ok());
        assert!(check("phrase4", "六个汉字六个").is_err());
        assert!(check("name5", "张三").is_ok());
        assert!(check("name5", "一二三四五六七八九十一").is_err());
        assert!(check("phone_number6", "+86-138-0013-8000").is_ok());
        assert!(check("phone_number6", "+86-138-0013-80000").is_err());
        assert!(check("time7", "2024年10月1日 15:01").is_ok());
        assert!(check("time7", "").is_err());
    }

    #[test]
    fn amounts_take_one_sign_and_ten_digits() {
        assert!(check("amount2", "¥300.00").is_ok());
        assert!(check("amount2", "300元").is_ok());
        assert!(check("amount2", "￥12345678.90").is_ok());
        assert!(check("amount2", "¥123456789.01").is_err());
        assert!(check("amount2", "¥¥3").is_err());
        assert!(check("amount2", "three").is_err());
    }

    #[test]
    fn data_must_be_an_object_of_values() {
        assert!(check_data(None).is_err());
        assert!(check_data(Some(&json!([]))).is_err());
        assert!(check_data(Some(&json!({"thing1": "no value object"}))).is_err());
        assert!(check_data(Some(&json!({}))).is_ok());
    }
}
