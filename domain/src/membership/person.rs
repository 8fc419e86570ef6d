//! The applicant on a membership application (入会申请): real name, mainland mobile number and
//! form of employment.

use crate::refusal::Explain;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a person's name was refused. Every variant has a stable English
/// [`code`](PersonNameError::code) and user-facing messages [`zh`](PersonNameError::zh) (the
/// default) and [`en`](PersonNameError::en); `Display` gives the English message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersonNameError {
    /// Empty after trimming.
    #[error("{}", self.en())]
    Empty,
    /// More than [`PersonName::MAX_CHARS`] characters.
    #[error("{}", self.en())]
    TooLong,
    /// Holds an ASCII digit `0-9` or a full-width digit `０-９`.
    #[error("{}", self.en())]
    HasDigits,
    /// Holds a character that is not a letter, a space, a middle dot (`·`, `•`), `-` or `'`:
    /// e.g. `@`, `#`, an emoji or a control character.
    #[error("{}", self.en())]
    BadCharacter,
}

impl Explain for PersonNameError {
    /// The stable English code, e.g. `name_has_digits`.
    fn code(&self) -> &'static str {
        match self {
            PersonNameError::Empty => "name_empty",
            PersonNameError::TooLong => "name_too_long",
            PersonNameError::HasDigits => "name_has_digits",
            PersonNameError::BadCharacter => "name_character",
        }
    }

    /// The user-facing message in Chinese (the default language).
    fn zh(&self) -> String {
        match self {
            PersonNameError::Empty => "请填写姓名".to_owned(),
            PersonNameError::TooLong => format!("姓名不能超过{}个字", PersonName::MAX_CHARS),
            PersonNameError::HasDigits => "姓名中不能有数字".to_owned(),
            PersonNameError::BadCharacter => {
                "姓名中只能有文字、空格、间隔号（·）、连字符（-）和撇号（'）".to_owned()
            }
        }
    }

    /// The user-facing message in English.
    fn en(&self) -> String {
        match self {
            PersonNameError::Empty => "Please enter your name.".to_owned(),
            PersonNameError::TooLong => format!(
                "The name may have at most {} characters.",
                PersonName::MAX_CHARS
            ),
            PersonNameError::HasDigits => "The name may not contain digits.".to_owned(),
            PersonNameError::BadCharacter => "The name may contain only letters, spaces, \
                 middle dots (·), hyphens (-) and apostrophes (')."
                .to_owned(),
        }
    }
}

/// A person's real name (姓名) as on the resident ID card.
///
/// Shape: 1–[`MAX_CHARS`](PersonName::MAX_CHARS) characters (Unicode scalar values, not bytes)
/// after trimming; letters of any script (Han, Latin, Uyghur, Tibetan, Mongolian…), ASCII
/// spaces, the middle dots `·` (U+00B7) and `•` (U+2022) that separate the parts of
/// ethnic-minority and transliterated names (e.g. `阿卜杜拉·艾买提`), `-` and `'`. No digits,
/// control characters, other punctuation, symbols or emoji.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    /// Maximum length in characters.
    pub const MAX_CHARS: usize = 30;

    /// Trims and checks a name; the checks run in this order: empty, too long, digits, other
    /// characters.
    pub fn parse(input: &str) -> Result<PersonName, PersonNameError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(PersonNameError::Empty);
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(PersonNameError::TooLong);
        }
        if s.chars()
            .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c))
        {
            return Err(PersonNameError::HasDigits);
        }
        let allowed =
            |c: char| c.is_alphabetic() || matches!(c, ' ' | '\u{00B7}' | '\u{2022}' | '-' | '\'');
        if !s.chars().all(allowed) {
            return Err(PersonNameError::BadCharacter);
        }
        Ok(PersonName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a phone number was refused: it is not a mainland mobile number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// After removing spaces, dashes and a `+86` / `86` prefix, not 11 digits of the form
    /// `1[3-9]xxxxxxxxx`.
    #[error("{}", self.en())]
    NotMainlandMobile,
}

impl Explain for PhoneError {
    /// The stable English code: `phone_format`.
    fn code(&self) -> &'static str {
        match self {
            PhoneError::NotMainlandMobile => "phone_format",
        }
    }

    /// The user-facing message in Chinese (the default language).
    fn zh(&self) -> String {
        match self {
            PhoneError::NotMainlandMobile => {
                "请填写11位中国大陆手机号码（以1开头，第二位为3至9）".to_owned()
            }
        }
    }

    /// The user-facing message in English.
    fn en(&self) -> String {
        match self {
            PhoneError::NotMainlandMobile => "Please enter an 11-digit mainland China mobile \
                 number (starting with 1, second digit 3 to 9)."
                .to_owned(),
        }
    }
}

/// A mainland China mobile number (中国大陆手机号码).
///
/// Shape: exactly 11 ASCII digits matching `1[3-9]\d{9}` (the 13x–19x number segments of the
/// national numbering plan, E.164 country code +86). Stored without prefix or separators.
/// `Debug` shows the [`masked`](MobilePhone::masked) form, since the number is personal
/// information under PIPL.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MobilePhone(String);

impl MobilePhone {
    /// Reads full-width digits as ASCII ([`crate::text::as_typed`]), removes surrounding whitespace,
    /// inner spaces and dashes, and one leading `+86` or `86`,
    /// then checks for `1[3-9]\d{9}`. `+86 138-0013-8000` and `8613800138000` both give
    /// `13800138000`.
    pub fn parse(input: &str) -> Result<MobilePhone, PhoneError> {
        let compact: String = crate::text::as_typed(input)
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("86"))
            .unwrap_or(&compact);
        let b = digits.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if !ok {
            return Err(PhoneError::NotMainlandMobile);
        }
        Ok(MobilePhone(digits.to_owned()))
    }

    /// The number WeChat's getuserphonenumber returned (`purePhoneNumber`, `countryCode`;
    /// WECHAT.md), when it is a mainland mobile number: the same check as a typed one.
    pub fn from_wechat(pure_phone_number: &str, country_code: &str) -> Option<MobilePhone> {
        if country_code.trim().trim_start_matches('+') != "86" {
            return None;
        }
        Self::parse(pure_phone_number).ok()
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The display form: first 3 and last 4 digits with `****` between, e.g. `138****8000`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for MobilePhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MobilePhone").field(&self.masked()).finish()
    }
}

/// The applicant's form of employment: an ordinary employee (职工) or one of the new employment
/// forms (新就业形态劳动者) named in `shared/design/DOMAIN.md` ("Who uses it"), who often have no
/// employer union and join a regional or industry federation. Serialised in snake_case, e.g.
/// `"delivery_rider"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentForm {
    /// 职工: employed under a labour contract.
    Employee,
    /// 快递员: courier.
    Courier,
    /// 网约配送员 / 外卖骑手: platform delivery rider.
    DeliveryRider,
    /// 货车司机: truck driver.
    TruckDriver,
    /// 网约车司机: ride-hailing driver.
    RideHailingDriver,
    /// 家政服务员: domestic worker.
    DomesticWorker,
    /// 其他: any other form.
    Other,
}

/// The text was not one of the [`EmploymentForm`] codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown employment form {0:?}")]
pub struct UnknownEmploymentForm(pub String);

impl EmploymentForm {
    /// Every form, in display order.
    pub const ALL: [EmploymentForm; 7] = [
        EmploymentForm::Employee,
        EmploymentForm::Courier,
        EmploymentForm::DeliveryRider,
        EmploymentForm::TruckDriver,
        EmploymentForm::RideHailingDriver,
        EmploymentForm::DomesticWorker,
        EmploymentForm::Other,
    ];

    /// The stable text code, the same as the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            EmploymentForm::Employee => "employee",
            EmploymentForm::Courier => "courier",
            EmploymentForm::DeliveryRider => "delivery_rider",
            EmploymentForm::TruckDriver => "truck_driver",
            EmploymentForm::RideHailingDriver => "ride_hailing_driver",
            EmploymentForm::DomesticWorker => "domestic_worker",
            EmploymentForm::Other => "other",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            EmploymentForm::Employee => "职工",
            EmploymentForm::Courier => "快递员",
            EmploymentForm::DeliveryRider => "网约配送员",
            EmploymentForm::TruckDriver => "货车司机",
            EmploymentForm::RideHailingDriver => "网约车司机",
            EmploymentForm::DomesticWorker => "家政服务员",
            EmploymentForm::Other => "其他",
        }
    }
}

impl FromStr for EmploymentForm {
    type Err = UnknownEmploymentForm;

    /// Parses the text code exactly (`"delivery_rider"`), as [`EmploymentForm::as_str`] writes
    /// it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownEmploymentForm(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_wechat_phone_is_kept_only_when_it_is_a_mainland_mobile() {
        let ok = MobilePhone::from_wechat("13800138000", "86").unwrap();
        assert_eq!(ok.as_str(), "13800138000");
        assert!(MobilePhone::from_wechat("13800138000", "+86").is_some());
        assert!(MobilePhone::from_wechat(&"1".repeat(60), "86").is_none());
        assert!(MobilePhone::from_wechat("91234567", "852").is_none());
        assert!(MobilePhone::from_wechat("13800138000", "852").is_none());
    }

    #[test]
    fn names_of_several_scripts_are_accepted() {
        for (input, stored) in [
            ("  张三 ", "张三"),
            ("王", "王"),
            ("阿卜杜拉·艾买提", "阿卜杜拉·艾买提"),
            ("买买提•吐尔逊", "买买提•吐尔逊"),
            ("Jean-Luc O'Neil", "Jean-Luc O'Neil"),
            ("ئابدۇللا", "ئابدۇللا"),
            ("扎西顿珠", "扎西顿珠"),
        ] {
            assert_eq!(
                PersonName::parse(input).map(|n| n.0),
                Ok(stored.to_owned()),
                "{input}"
            );
        }
        let longest = "张".repeat(PersonName::MAX_CHARS);
        assert_eq!(PersonName::parse(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn name_errors() {
        assert_eq!(PersonName::parse(""), Err(PersonNameError::Empty));
        assert_eq!(PersonName::parse(" \t "), Err(PersonNameError::Empty));
        // 31 characters but 93 bytes: the limit counts characters.
        assert_eq!(
            PersonName::parse(&"张".repeat(31)),
            Err(PersonNameError::TooLong)
        );
        assert_eq!(PersonName::parse("张三3"), Err(PersonNameError::HasDigits));
        assert_eq!(PersonName::parse("张三３"), Err(PersonNameError::HasDigits));
        for s in ["张@三", "张#", "张三😀", "张\u{7}三", "张三.", "张_三"] {
            assert_eq!(
                PersonName::parse(s),
                Err(PersonNameError::BadCharacter),
                "{s:?}"
            );
        }
    }

    #[test]
    fn name_error_codes_and_messages() {
        let all = [
            PersonNameError::Empty,
            PersonNameError::TooLong,
            PersonNameError::HasDigits,
            PersonNameError::BadCharacter,
        ];
        assert_eq!(
            all.map(|e| e.code()),
            [
                "name_empty",
                "name_too_long",
                "name_has_digits",
                "name_character"
            ]
        );
        assert_eq!(PersonNameError::TooLong.zh(), "姓名不能超过30个字");
        for e in all {
            assert_eq!(e.to_string(), e.en());
            assert!(e.zh().contains("姓名"));
        }
    }

    #[test]
    fn mainland_mobiles_are_normalised() {
        for input in [
            "13800138000",
            " 138 0013 8000 ",
            "138-0013-8000",
            "+8613800138000",
            "+86 138 0013 8000",
            "86-138-0013-8000",
            "8613800138000",
        ] {
            assert_eq!(
                MobilePhone::parse(input).map(|p| p.0),
                Ok("13800138000".to_owned()),
                "{input}"
            );
        }
        assert_eq!(
            MobilePhone::parse("19912345678").unwrap().as_str(),
            "19912345678"
        );
    }

    #[test]
    fn non_mobiles_are_refused() {
        for input in [
            "",
            "1380013800",
            "138001380001",
            "12800138000",
            "10800138000",
            "23800138000",
            "010-62345678",
            "1380013800a",
            "+85291234567",
            "+86+8613800138000",
        ] {
            assert_eq!(
                MobilePhone::parse(input),
                Err(PhoneError::NotMainlandMobile),
                "{input}"
            );
        }
        assert_eq!(PhoneError::NotMainlandMobile.code(), "phone_format");
        assert!(PhoneError::NotMainlandMobile.zh().contains("11位"));
    }

    #[test]
    fn full_width_digits_from_a_chinese_keyboard_are_read_as_ascii() {
        for input in [
            "１３８００１３８０００",
            "＋８６\u{3000}１３８－００１３－８０００",
        ] {
            assert_eq!(
                MobilePhone::parse(input).map(|p| p.as_str().to_owned()),
                Ok("13800138000".to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn mobiles_are_masked_in_debug() {
        let p = MobilePhone::parse("13800138000").unwrap();
        assert_eq!(p.masked(), "138****8000");
        let shown = format!("{p:?}");
        assert!(!shown.contains("13800138000"), "{shown}");
        assert!(shown.contains("138****8000"), "{shown}");
    }

    #[test]
    fn employment_forms_round_trip() {
        for f in EmploymentForm::ALL {
            assert_eq!(f.as_str().parse::<EmploymentForm>(), Ok(f));
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.as_str())
            );
            let back: EmploymentForm =
                serde_json::from_str(&format!("\"{}\"", f.as_str())).unwrap();
            assert_eq!(back, f);
        }
        assert_eq!(EmploymentForm::DeliveryRider.zh(), "网约配送员");
        assert_eq!(EmploymentForm::Employee.zh(), "职工");
        assert_eq!(
            "rider".parse::<EmploymentForm>(),
            Err(UnknownEmploymentForm("rider".to_owned()))
        );
        assert!("Courier".parse::<EmploymentForm>().is_err());
    }
}
