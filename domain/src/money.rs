//! Money: integer fen (分, 1/100 yuan) in code, storage and JSON, never a float (DOMAIN.md,
//! "Rules that hold everywhere").

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::problem::FieldProblem;

/// An amount of money in fen, never negative. Serialised as a JSON integer (`900000` is
/// 9,000 yuan). Made by [`Fen::new`] or [`Fen::from_json`]; arithmetic saturates rather than
/// wraps, and amounts anywhere near `i64::MAX` are refused long before by the callers' limits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(into = "i64", try_from = "i64")]
pub struct Fen(i64);

impl From<Fen> for i64 {
    fn from(fen: Fen) -> i64 {
        fen.0
    }
}

impl TryFrom<i64> for Fen {
    type Error = &'static str;

    /// Refuses a negative amount.
    fn try_from(fen: i64) -> Result<Fen, &'static str> {
        Fen::new(fen).ok_or("an amount of money must not be negative")
    }
}

impl Fen {
    /// No money.
    pub const ZERO: Fen = Fen(0);

    /// `fen` fen, or `None` when negative.
    pub fn new(fen: i64) -> Option<Fen> {
        (fen >= 0).then_some(Fen(fen))
    }

    /// `yuan` whole yuan (a constant in rules and tests); negative counts as zero.
    pub const fn yuan(yuan: i64) -> Fen {
        if yuan <= 0 {
            Fen(0)
        } else {
            Fen(yuan.saturating_mul(100))
        }
    }

    /// The amount in fen.
    pub fn get(self) -> i64 {
        self.0
    }

    /// `self + other`, saturating.
    pub fn plus(self, other: Fen) -> Fen {
        Fen(self.0.saturating_add(other.0))
    }

    /// `self − other`, or zero when `other` is larger.
    pub fn minus(self, other: Fen) -> Fen {
        Fen(self.0.saturating_sub(other.0).max(0))
    }

    /// `self × basis_points / 10,000`, rounded down to the fen: a payout rate never pays a
    /// fraction of a fen more than the rate gives.
    pub fn times_basis_points(self, basis_points: u32) -> Fen {
        let product = i128::from(self.0) * i128::from(basis_points) / 10_000;
        Fen(i64::try_from(product).unwrap_or(i64::MAX))
    }

    /// The sum of `amounts`.
    pub fn sum(amounts: impl IntoIterator<Item = Fen>) -> Fen {
        amounts.into_iter().fold(Fen::ZERO, Fen::plus)
    }

    /// A JSON value as an amount of at most `max`: a whole number of fen. A fraction
    /// (`12.5`, and `12.0` too: fen have no decimals), a negative number, a text or a value
    /// above `max` is a [`FieldProblem`] on `field` (codes `not_integer`, `negative`,
    /// `too_large`).
    pub fn from_json(field: &str, value: &Value, max: Fen) -> Result<Fen, FieldProblem> {
        let not_integer = || {
            FieldProblem::new(
                field,
                "not_integer",
                format!("{}须为以分为单位的整数", crate::problem::label(field)),
                format!("{field} must be a whole number of fen"),
            )
        };
        let Value::Number(number) = value else {
            return Err(not_integer());
        };
        let Some(fen) = number.as_i64() else {
            return Err(match number.as_f64() {
                Some(v) if v < 0.0 => negative(field),
                // A whole number beyond i64 is above any limit.
                _ if number.is_u64() => too_large(field, max),
                _ => not_integer(),
            });
        };
        match Fen::new(fen) {
            None => Err(negative(field)),
            Some(amount) if amount > max => Err(too_large(field, max)),
            Some(amount) => Ok(amount),
        }
    }
}

/// The amount `value` gives, at most `max`; `None` after noting it missing (`required`) or
/// wrong (see [`Fen::from_json`]).
pub fn amount(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    value: Option<&Value>,
    max: Fen,
) -> Option<Fen> {
    let Some(value) = value else {
        problems.push(FieldProblem::required(field));
        return None;
    };
    Fen::from_json(field, value, max)
        .map_err(|p| problems.push(p))
        .ok()
}

fn negative(field: &str) -> FieldProblem {
    FieldProblem::new(
        field,
        "negative",
        format!("{}不能为负数", crate::problem::label(field)),
        format!("{field} must not be negative"),
    )
}

fn too_large(field: &str, max: Fen) -> FieldProblem {
    FieldProblem::new(
        field,
        "too_large",
        format!("{}不能超过 {max}", crate::problem::label(field)),
        format!("{field} must be at most {} fen", max.0),
    )
}

impl fmt::Display for Fen {
    /// As a Chinese reader reads an amount: `9,000.00 元`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (yuan, fen) = (self.0 / 100, self.0 % 100);
        let digits = yuan.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{grouped}.{fen:02} 元")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_are_whole_non_negative_fen_within_the_limit() {
        let max = Fen::yuan(100_000);
        assert_eq!(Fen::from_json("f", &json!(0), max), Ok(Fen::ZERO));
        assert_eq!(Fen::from_json("f", &json!(10_000_000), max), Ok(max));
        for (value, code) in [
            (json!(-1), "negative"),
            (json!(-0.5), "negative"),
            (json!(12.5), "not_integer"),
            (json!(12.0), "not_integer"),
            (json!("1200"), "not_integer"),
            (json!(null), "not_integer"),
            (json!(10_000_001), "too_large"),
            (json!(u64::MAX), "too_large"),
        ] {
            let problem = Fen::from_json("lines.0.total_fen", &value, max).unwrap_err();
            assert_eq!(
                (problem.field.as_str(), problem.code),
                ("lines.0.total_fen", code),
                "{value}"
            );
        }
    }

    #[test]
    fn rates_round_down_to_the_fen() {
        assert_eq!(Fen(999).times_basis_points(5_000), Fen(499));
        assert_eq!(Fen(1_000_000).times_basis_points(10_000), Fen(1_000_000));
        assert_eq!(Fen(i64::MAX).times_basis_points(10_000), Fen(i64::MAX));
        assert_eq!(Fen(5).minus(Fen(7)), Fen::ZERO);
    }

    #[test]
    fn amounts_read_as_yuan() {
        assert_eq!(Fen::yuan(9_000).to_string(), "9,000.00 元");
        assert_eq!(Fen(3_000_005).to_string(), "30,000.05 元");
        assert_eq!(Fen(7).to_string(), "0.07 元");
        assert_eq!(Fen::yuan(300).to_string(), "300.00 元");
    }
}
