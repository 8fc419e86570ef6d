//! Fuzzing of the parsers that read what people type (issue 18): arbitrary text to the
//! opening-hours reader and the ID-number and credit-code parsers. Nothing may panic, and what
//! is accepted reads back the same. `PROPTEST_CASES` sets the number of cases per target (256
//! in the test suite); `scripts/fuzz` runs them long under a memory cap (docs/fuzzing.md).

use chrono::{NaiveDate, NaiveDateTime};
use proptest::prelude::*;
use yiwang_domain::calendar::WorkingCalendar;
use yiwang_domain::membership::identity::{CreditCode, ResidentId};
use yiwang_domain::service_point::hours::{OpeningHours, Schedule};

/// Text that looks like what is typed into these fields: digits, separators, the Chinese day
/// words, full-width forms, and anything else.
fn typed() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("周一至周五".to_owned()),
        Just("周六、周日".to_owned()),
        Just("星期".to_owned()),
        Just("每天".to_owned()),
        Just("工作日".to_owned()),
        Just("24小时".to_owned()),
        Just("开放".to_owned()),
        Just("；".to_owned()),
        Just("０９：００".to_owned()),
        "[0-9:;,、 \\-—~Xx]{0,6}",
        any::<char>().prop_map(String::from),
        ".{0,4}",
    ];
    proptest::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

fn instant() -> impl Strategy<Value = NaiveDateTime> {
    (0i64..(366 * 24 * 60)).prop_map(|minutes| {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t + chrono::TimeDelta::minutes(minutes))
            .unwrap_or_default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn fuzz_opening_hours(text in typed(), at in instant()) {
        let schedule = Schedule::from_text(&text);
        let open = schedule.is_open_at(at, &WorkingCalendar::default());
        prop_assert_eq!(open.is_none(), schedule.hours == OpeningHours::Unknown);
        prop_assert_eq!(OpeningHours::parse(&text), schedule.hours);
    }

    #[test]
    fn fuzz_opening_hours_any_text(text in ".{0,200}", at in instant()) {
        let _ = Schedule::from_text(&text).is_open_at(at, &WorkingCalendar::default());
    }

    #[test]
    fn fuzz_resident_id(text in prop_oneof!["[0-9Xx０-９ ]{0,22}", ".{0,40}"]) {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
        if let Ok(id) = ResidentId::parse(&text, today) {
            let again = ResidentId::parse(id.as_str(), today);
            prop_assert_eq!(again.as_ref().map(ResidentId::as_str), Ok(id.as_str()));
        }
    }

    #[test]
    fn fuzz_credit_code(text in prop_oneof!["[0-9A-Z ]{0,20}", ".{0,40}"]) {
        if let Ok(code) = CreditCode::parse(&text) {
            let again = CreditCode::parse(code.as_str());
            prop_assert_eq!(again.as_ref().map(CreditCode::as_str), Ok(code.as_str()));
        }
    }
}
