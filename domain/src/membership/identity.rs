//! Identity numbers on a membership application (入会申请): the applicant's resident ID number
//! (居民身份证号码, GB 11643-1999) and the employer's unified social credit code
//! (统一社会信用代码, GB 32100-2015).
//!
//! Both are checked offline here, from their check characters and (for the ID number) the birth
//! date inside. Whether the number belongs to the person is a question for real-name
//! verification, not for this module.

use crate::refusal::Explain;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::text::as_typed;

/// Minimum age, in full years, to join the union.
///
/// Source: the membership-application requirement (applicants must be at least 16), in line with
/// the Labour Law of the PRC (《劳动法》) art. 15, which forbids employers to hire minors under
/// sixteen.
pub const MINIMUM_AGE: u32 = 16;

/// ISO 7064 MOD 11-2 weights of the first 17 characters of a resident ID number
/// (GB 11643-1999 §7.1: 2^(18−i) mod 11 for position i = 1..=17).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character of a resident ID number, indexed by the weighted sum mod 11
/// (GB 11643-1999 §7.1; `X` stands for ten).
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Sex as recorded in a resident ID number: the 17th character (顺序码 last digit) is odd for men
/// and even for women (GB 11643-1999 §6.3). Serialised as `"male"` / `"female"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// 男: odd 17th digit.
    Male,
    /// 女: even 17th digit.
    Female,
}

impl Sex {
    /// Every term, in the order pickers show them.
    pub const ALL: [Sex; 2] = [Self::Male, Self::Female];

    /// The stable text code: `male` or `female`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    /// Parses [`Sex::as_str`].
    pub fn parse(s: &str) -> Option<Sex> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The Chinese label: 男 or 女.
    pub fn zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

/// Why a resident ID number was refused, or why its holder may not join yet.
///
/// Every variant has a stable English [`code`](IdNumberError::code) and user-facing messages
/// [`zh`](IdNumberError::zh) (the default) and [`en`](IdNumberError::en); `Display` gives the
/// English message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// Not 18 characters after trimming (GB 11643-1999 §4: 17-digit body + 1 check character).
    #[error("{}", self.en())]
    WrongLength,
    /// One of the first 17 characters is not an ASCII digit, or the last is neither a digit nor
    /// `X`.
    #[error("{}", self.en())]
    BadCharacter,
    /// The 18th character does not match the ISO 7064 MOD 11-2 check of the first 17: a typing
    /// mistake, most likely.
    #[error("{}", self.en())]
    WrongCheckCharacter,
    /// Characters 7–14 (YYYYMMDD) are not a real calendar date, or a date before 1900-01-01.
    #[error("{}", self.en())]
    ImpossibleBirthDate,
    /// The birth date lies after today.
    #[error("{}", self.en())]
    FutureBirthDate,
    /// The holder is younger than [`MINIMUM_AGE`]; `age` is their age in full years today.
    /// Returned only by [`check_minimum_age`].
    #[error("{}", self.en())]
    UnderMinimumAge {
        /// Age in full years on the day of the check.
        age: u32,
    },
}

impl Explain for IdNumberError {
    /// The stable English code, e.g. `id_number_check`.
    fn code(&self) -> &'static str {
        match self {
            IdNumberError::WrongLength => "id_number_length",
            IdNumberError::BadCharacter => "id_number_character",
            IdNumberError::WrongCheckCharacter => "id_number_check",
            IdNumberError::ImpossibleBirthDate => "id_number_birth_date",
            IdNumberError::FutureBirthDate => "id_number_future_birth_date",
            IdNumberError::UnderMinimumAge { .. } => "under_minimum_age",
        }
    }

    /// The user-facing message in Chinese (the default language).
    fn zh(&self) -> String {
        match self {
            IdNumberError::WrongLength => "身份证号码应为18位".to_owned(),
            IdNumberError::BadCharacter => {
                "身份证号码前17位只能是数字，最后一位只能是数字或X".to_owned()
            }
            IdNumberError::WrongCheckCharacter => {
                "身份证号码校验位不正确，请检查是否输错".to_owned()
            }
            IdNumberError::ImpossibleBirthDate => {
                "身份证号码中的出生日期不存在（或早于1900年）".to_owned()
            }
            IdNumberError::FutureBirthDate => "身份证号码中的出生日期晚于今天".to_owned(),
            IdNumberError::UnderMinimumAge { age } => {
                format!("未满{MINIMUM_AGE}周岁，不能入会（按身份证号码计算，现年{age}周岁）")
            }
        }
    }

    /// The user-facing message in English.
    fn en(&self) -> String {
        match self {
            IdNumberError::WrongLength => {
                "The resident ID number must have 18 characters.".to_owned()
            }
            IdNumberError::BadCharacter => "The first 17 characters of the resident ID number \
                 must be digits, and the last a digit or X."
                .to_owned(),
            IdNumberError::WrongCheckCharacter => "The check character of the resident ID number \
                 is wrong; please look for a typing mistake."
                .to_owned(),
            IdNumberError::ImpossibleBirthDate => "The birth date in the resident ID number does \
                 not exist (or is before 1900)."
                .to_owned(),
            IdNumberError::FutureBirthDate => {
                "The birth date in the resident ID number is after today.".to_owned()
            }
            IdNumberError::UnderMinimumAge { age } => format!(
                "Applicants must be at least {MINIMUM_AGE} years old to join the union \
                 (the resident ID number gives age {age})."
            ),
        }
    }
}

/// A checked mainland resident ID number (居民身份证号码, GB 11643-1999).
///
/// Shape: 18 ASCII characters — 6-digit address code, 8-digit birth date `YYYYMMDD`
/// (characters 7–14), 3-digit sequence code whose last digit gives the [`Sex`], and a check
/// character (`0`–`9` or upper-case `X`) by ISO 7064 MOD 11-2. The birth date is a real date
/// from 1900-01-01 up to the day of parsing.
///
/// The number is sensitive personal information under PIPL (DOMAIN.md, "Rules that hold
/// everywhere"): `Debug` prints only [`masked`](ResidentId::masked), there is no `Display` and
/// no serde; the full number comes out only through [`expose`](ResidentId::expose), for
/// encryption at rest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId {
    number: String,
    birth_date: NaiveDate,
}

impl ResidentId {
    /// Reads full-width characters as ASCII ([`as_typed`]), trims surrounding whitespace and
    /// checks, in this order: length, characters, check
    /// character, birth date (a real date, not before 1900-01-01, not after `today`). A
    /// lower-case `x` is accepted and stored as `X`.
    ///
    /// The minimum age is a separate rule: see [`check_minimum_age`].
    pub fn parse(input: &str, today: NaiveDate) -> Result<ResidentId, IdNumberError> {
        let s = as_typed(input);
        let s = s.trim();
        if s.chars().count() != 18 {
            return Err(IdNumberError::WrongLength);
        }
        let number = s.to_ascii_uppercase();
        let bytes = number.as_bytes();
        // 18 characters, each checked to be ASCII below, so `bytes` has 18 entries.
        if bytes.len() != 18
            || !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(IdNumberError::BadCharacter);
        }
        let sum: u32 = bytes[..17]
            .iter()
            .zip(ID_WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        if ID_CHECK_CHARS[(sum % 11) as usize] != bytes[17] {
            return Err(IdNumberError::WrongCheckCharacter);
        }
        let digits = |range: std::ops::Range<usize>| {
            bytes[range]
                .iter()
                .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
        };
        let (year, month, day) = (digits(6..10), digits(10..12), digits(12..14));
        let birth_date = i32::try_from(year)
            .ok()
            .filter(|y| *y >= 1900)
            .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
            .ok_or(IdNumberError::ImpossibleBirthDate)?;
        if birth_date > today {
            return Err(IdNumberError::FutureBirthDate);
        }
        Ok(ResidentId { number, birth_date })
    }

    /// The 18 characters, upper-case `X`. Same as [`expose`](ResidentId::expose); prefer
    /// [`masked`](ResidentId::masked) for anything shown or logged.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The full number, for the one place that must encrypt it at rest. Every unmasked read
    /// must be written to the audit log (DOMAIN.md).
    pub fn expose(&self) -> &str {
        &self.number
    }

    /// The birth date from characters 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The sex from the 17th character: odd is male, even is female (GB 11643-1999).
    pub fn sex(&self) -> Sex {
        let d = self.number.as_bytes().get(16).copied().unwrap_or(b'0');
        if (d - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Age in full years (周岁) on `date`: the count of birthdays passed, the birthday itself
    /// included; 0 for a date before the birth. Someone born on 29 February completes a year on
    /// 1 March in common years.
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        let birth = self.birth_date;
        if date <= birth {
            return 0;
        }
        let years = date.year() - birth.year();
        let before_birthday = (date.month(), date.day()) < (birth.month(), birth.day());
        let full = if before_birthday { years - 1 } else { years };
        u32::try_from(full).unwrap_or(0)
    }

    /// The display form: first 4 and last 4 characters with 10 `*` between, e.g.
    /// `3201**********1234` (DOMAIN.md).
    pub fn masked(&self) -> String {
        let (head, rest) = self.number.split_at(4);
        let tail = &rest[rest.len() - 4..];
        format!("{head}**********{tail}")
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResidentId").field(&self.masked()).finish()
    }
}

/// Refuses a holder younger than [`MINIMUM_AGE`] full years on `today`, with
/// [`IdNumberError::UnderMinimumAge`]. The 16th birthday itself passes.
pub fn check_minimum_age(id: &ResidentId, today: NaiveDate) -> Result<(), IdNumberError> {
    let age = id.age_on(today);
    if age < MINIMUM_AGE {
        Err(IdNumberError::UnderMinimumAge { age })
    } else {
        Ok(())
    }
}

/// The 31 characters of a unified social credit code, in value order 0–30
/// (GB 32100-2015 §4: digits and upper-case letters without I, O, Z, S, V).
const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of the first 17 characters (GB 32100-2015 §5: 3^(i−1) mod 31 for i = 1..=17).
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a unified social credit code was refused. Same `code()` / `zh()` / `en()` pattern as
/// [`IdNumberError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    /// Not 18 characters after trimming (GB 32100-2015 §4).
    #[error("{}", self.en())]
    WrongLength,
    /// A character outside `0-9A-Z` without I, O, Z, S, V (lower case is accepted).
    #[error("{}", self.en())]
    BadCharacter,
    /// The 18th character does not match the check of the first 17 (GB 32100-2015 §5).
    #[error("{}", self.en())]
    WrongCheckCharacter,
}

impl Explain for CreditCodeError {
    /// The stable English code, e.g. `credit_code_check`.
    fn code(&self) -> &'static str {
        match self {
            CreditCodeError::WrongLength => "credit_code_length",
            CreditCodeError::BadCharacter => "credit_code_character",
            CreditCodeError::WrongCheckCharacter => "credit_code_check",
        }
    }

    /// The user-facing message in Chinese (the default language).
    fn zh(&self) -> String {
        match self {
            CreditCodeError::WrongLength => "统一社会信用代码应为18位",
            CreditCodeError::BadCharacter => {
                "统一社会信用代码只能包含数字和英文字母（不含I、O、Z、S、V）"
            }
            CreditCodeError::WrongCheckCharacter => "统一社会信用代码校验位不正确，请检查是否输错",
        }
        .to_owned()
    }

    /// The user-facing message in English.
    fn en(&self) -> String {
        match self {
            CreditCodeError::WrongLength => {
                "The unified social credit code must have 18 characters."
            }
            CreditCodeError::BadCharacter => {
                "The unified social credit code may hold only digits and the letters A–Z \
                 without I, O, Z, S and V."
            }
            CreditCodeError::WrongCheckCharacter => {
                "The check character of the unified social credit code is wrong; please look \
                 for a typing mistake."
            }
        }
        .to_owned()
    }
}

/// A checked unified social credit code (统一社会信用代码, GB 32100-2015) of an employer or other
/// organisation.
///
/// Shape: 18 characters from `0123456789ABCDEFGHJKLMNPQRTUWXY` (upper case) — registration
/// authority, organisation category, 6-digit administrative division, 9-character organisation
/// code, check character. Only the length, the alphabet and the final check character are
/// verified; the organisation code's own check (GB 11714) and the authority/category tables are
/// not. The code is public business information, so it serialises and displays in full.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CreditCode(String);

impl CreditCode {
    /// Reads full-width characters as ASCII ([`as_typed`]), trims surrounding whitespace,
    /// upper-cases, and checks length, alphabet and check
    /// character: check value = 31 − (Σ value × weight mod 31), where 31 means 0.
    pub fn parse(input: &str) -> Result<CreditCode, CreditCodeError> {
        let s = as_typed(input);
        let s = s.trim();
        if s.chars().count() != 18 {
            return Err(CreditCodeError::WrongLength);
        }
        let code = s.to_ascii_uppercase();
        let mut values = [0u32; 18];
        for (slot, b) in values.iter_mut().zip(code.bytes()) {
            *slot = CREDIT_ALPHABET
                .iter()
                .position(|a| *a == b)
                .and_then(|p| u32::try_from(p).ok())
                .ok_or(CreditCodeError::BadCharacter)?;
        }
        if code.len() != 18 {
            // A multi-byte character slipped in: 18 characters but more bytes.
            return Err(CreditCodeError::BadCharacter);
        }
        let sum: u32 = values[..17]
            .iter()
            .zip(CREDIT_WEIGHTS)
            .map(|(v, w)| v * w)
            .sum();
        let check = (31 - sum % 31) % 31;
        if values[17] != check {
            return Err(CreditCodeError::WrongCheckCharacter);
        }
        Ok(CreditCode(code))
    }

    /// The 18 characters, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        date(2025, 6, 1)
    }

    /// Independent ISO 7064 MOD 11-2: weights derived as 2^(17−i) mod 11, check value c chosen
    /// so that (Σ + c) ≡ 1 (mod 11), ten written `X`.
    fn with_id_check(body: &str) -> String {
        assert_eq!(body.len(), 17);
        let sum: u64 = body
            .chars()
            .enumerate()
            .map(|(i, c)| u64::from(c.to_digit(10).unwrap()) * (2u64.pow(17 - i as u32) % 11))
            .sum();
        let c = (0..11).find(|c| (sum + c) % 11 == 1).unwrap();
        let check = if c == 10 {
            'X'
        } else {
            char::from_digit(c as u32, 10).unwrap()
        };
        format!("{body}{check}")
    }

    /// Independent GB 32100 check: weights derived as 3^i mod 31.
    fn with_credit_check(body: &str) -> String {
        let alphabet: Vec<char> = "0123456789ABCDEFGHJKLMNPQRTUWXY".chars().collect();
        let sum: u64 = body
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let v = alphabet.iter().position(|a| *a == c).unwrap() as u64;
                v * (3u64.pow(i as u32) % 31)
            })
            .sum();
        let c = (31 - sum % 31) % 31;
        format!("{body}{}", alphabet[c as usize])
    }

    #[test]
    fn known_valid_id_is_accepted_and_decoded() {
        let id = ResidentId::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "1101**********002X");
        assert_eq!(id.age_on(today()), 75);
    }

    #[test]
    fn independent_helper_agrees_with_known_examples() {
        assert_eq!(with_id_check("11010519491231002"), "11010519491231002X");
        assert_eq!(with_id_check("44052418800101001"), "440524188001010014");
    }

    #[test]
    fn birth_date_before_1900_is_refused_even_with_a_correct_check() {
        // A textbook example with a correct check character but born in 1880.
        assert_eq!(
            ResidentId::parse("440524188001010014", today()),
            Err(IdNumberError::ImpossibleBirthDate)
        );
        assert_eq!(
            ResidentId::parse(&with_id_check("11010518991231001"), today()),
            Err(IdNumberError::ImpossibleBirthDate)
        );
        let first = ResidentId::parse(&with_id_check("11010519000101001"), today()).unwrap();
        assert_eq!(first.birth_date(), date(1900, 1, 1));
    }

    #[test]
    fn lowercase_x_and_surrounding_whitespace_are_accepted() {
        let id = ResidentId::parse("  11010519491231002x\t", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn full_width_digits_from_a_chinese_keyboard_are_read_as_ascii() {
        // What a Chinese input method in full-width mode types, with an ideographic space.
        let id =
            ResidentId::parse("\u{3000}１１０１０５１９４９１２３１００２ｘ", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        let c = CreditCode::parse("９１３５０１００Ｍ０００１００Ｙ４３\u{3000}").unwrap();
        assert_eq!(c.as_str(), "91350100M000100Y43");
        assert_eq!(
            ResidentId::parse("１１０１０５１９４９１２３１００２１", today()),
            Err(IdNumberError::WrongCheckCharacter)
        );
    }

    #[test]
    fn wrong_length_is_refused() {
        for s in [
            "",
            "   ",
            "1101051949123100",
            "11010519491231002",
            "11010519491231002X1",
        ] {
            assert_eq!(
                ResidentId::parse(s, today()),
                Err(IdNumberError::WrongLength),
                "{s}"
            );
        }
    }

    #[test]
    fn bad_characters_are_refused() {
        for s in [
            "1101051949123100XX",
            "11010519491231002Y",
            "1101051949123 002X",
            "1101051949123\u{3000}002X",
            "11010519491231002Ｙ",
        ] {
            assert_eq!(
                ResidentId::parse(s, today()),
                Err(IdNumberError::BadCharacter),
                "{s}"
            );
        }
    }

    #[test]
    fn wrong_check_character_is_refused() {
        assert_eq!(
            ResidentId::parse("110105194912310021", today()),
            Err(IdNumberError::WrongCheckCharacter)
        );
        // One mistyped digit in the body.
        assert_eq!(
            ResidentId::parse("11010519491231003X", today()),
            Err(IdNumberError::WrongCheckCharacter)
        );
    }

    #[test]
    fn leap_days_follow_the_calendar() {
        let id = ResidentId::parse(&with_id_check("32010220000229123"), today()).unwrap();
        assert_eq!(id.birth_date(), date(2000, 2, 29));
        // 1900 was not a leap year; 2001 neither.
        for body in ["32010219000229123", "32010220010229123"] {
            assert_eq!(
                ResidentId::parse(&with_id_check(body), today()),
                Err(IdNumberError::ImpossibleBirthDate),
                "{body}"
            );
        }
    }

    #[test]
    fn impossible_months_and_days_are_refused() {
        for body in [
            "32010219901301123",
            "32010219900001123",
            "32010219900100123",
            "32010219900431123",
        ] {
            assert_eq!(
                ResidentId::parse(&with_id_check(body), today()),
                Err(IdNumberError::ImpossibleBirthDate),
                "{body}"
            );
        }
    }

    #[test]
    fn birth_date_after_today_is_refused_and_today_is_not() {
        assert_eq!(
            ResidentId::parse(&with_id_check("32010220250602123"), today()),
            Err(IdNumberError::FutureBirthDate)
        );
        let born_today = ResidentId::parse(&with_id_check("32010220250601123"), today()).unwrap();
        assert_eq!(born_today.age_on(today()), 0);
    }

    #[test]
    fn sex_comes_from_the_seventeenth_digit() {
        let male = ResidentId::parse(&with_id_check("32010219900307123"), today()).unwrap();
        let female = ResidentId::parse(&with_id_check("32010219900307124"), today()).unwrap();
        assert_eq!(male.sex(), Sex::Male);
        assert_eq!(female.sex(), Sex::Female);
    }

    #[test]
    fn minimum_age_boundary_is_the_sixteenth_birthday() {
        let id = ResidentId::parse(&with_id_check("32010220090601123"), today()).unwrap();
        assert_eq!(id.age_on(date(2025, 5, 31)), 15);
        assert_eq!(id.age_on(date(2025, 6, 1)), 16);
        assert_eq!(
            check_minimum_age(&id, date(2025, 5, 31)),
            Err(IdNumberError::UnderMinimumAge { age: 15 })
        );
        assert_eq!(check_minimum_age(&id, date(2025, 6, 1)), Ok(()));
        assert_eq!(id.age_on(date(2000, 1, 1)), 0);
    }

    #[test]
    fn leap_day_birthdays_count_full_years() {
        let id = ResidentId::parse(&with_id_check("32010220000229123"), today()).unwrap();
        assert_eq!(id.age_on(date(2016, 2, 28)), 15);
        assert_eq!(id.age_on(date(2016, 2, 29)), 16);
        assert_eq!(id.age_on(date(2017, 2, 28)), 16);
        assert_eq!(id.age_on(date(2017, 3, 1)), 17);
    }

    #[test]
    fn debug_never_shows_the_full_number() {
        let id = ResidentId::parse("11010519491231002X", today()).unwrap();
        let shown = format!("{id:?}");
        assert!(!shown.contains("11010519491231002X"), "{shown}");
        assert!(shown.contains("1101**********002X"), "{shown}");
    }

    #[test]
    fn id_errors_have_distinct_codes_and_messages() {
        let all = [
            IdNumberError::WrongLength,
            IdNumberError::BadCharacter,
            IdNumberError::WrongCheckCharacter,
            IdNumberError::ImpossibleBirthDate,
            IdNumberError::FutureBirthDate,
            IdNumberError::UnderMinimumAge { age: 15 },
        ];
        let mut codes: Vec<_> = all.iter().map(IdNumberError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        for e in all {
            assert!(!e.zh().is_empty() && !e.en().is_empty());
            assert_eq!(e.to_string(), e.en());
        }
        assert_eq!(IdNumberError::WrongLength.zh(), "身份证号码应为18位");
        assert!(IdNumberError::UnderMinimumAge { age: 15 }
            .zh()
            .starts_with("未满16周岁，不能入会"));
        assert_eq!(
            IdNumberError::UnderMinimumAge { age: 15 }.code(),
            "under_minimum_age"
        );
    }

    #[test]
    fn published_credit_codes_pass() {
        for s in [
            "91350100M000100Y43",
            "91110000600037341L",
            "914403001922038216",
            "91110000802100433B",
            "9144030071526726XG",
            "91330100716105852F",
        ] {
            assert_eq!(with_credit_check(&s[..17]), s, "helper disagrees on {s}");
            assert_eq!(CreditCode::parse(s).map(|c| c.0), Ok(s.to_owned()), "{s}");
        }
    }

    #[test]
    fn credit_code_is_trimmed_and_uppercased() {
        let c = CreditCode::parse(" 91350100m000100y43 ").unwrap();
        assert_eq!(c.as_str(), "91350100M000100Y43");
        assert_eq!(c.to_string(), "91350100M000100Y43");
    }

    #[test]
    fn credit_check_value_31_is_written_0() {
        // Σ = 0 → 31 − 0 = 31 → '0'.
        assert!(CreditCode::parse("000000000000000000").is_ok());
        assert_eq!(
            CreditCode::parse("00000000000000000Y"),
            Err(CreditCodeError::WrongCheckCharacter)
        );
    }

    #[test]
    fn credit_code_errors() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y44"),
            Err(CreditCodeError::WrongCheckCharacter)
        );
        assert_eq!(
            CreditCode::parse("91110000600037341M"),
            Err(CreditCodeError::WrongCheckCharacter)
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y4"),
            Err(CreditCodeError::WrongLength)
        );
        assert_eq!(CreditCode::parse(""), Err(CreditCodeError::WrongLength));
        for s in [
            "91350100I000100Y43",
            "91350100O000100Y43",
            "91350100S000100Y43",
            "91350100M000100Y4-",
            "91350100M000100Y4Ｖ",
        ] {
            assert_eq!(
                CreditCode::parse(s),
                Err(CreditCodeError::BadCharacter),
                "{s}"
            );
        }
        let all = [
            CreditCodeError::WrongLength,
            CreditCodeError::BadCharacter,
            CreditCodeError::WrongCheckCharacter,
        ];
        assert_eq!(
            all.map(|e| e.code()),
            [
                "credit_code_length",
                "credit_code_character",
                "credit_code_check"
            ]
        );
        for e in all {
            assert!(e.zh().starts_with("统一社会信用代码"));
            assert_eq!(e.to_string(), e.en());
        }
    }
}
