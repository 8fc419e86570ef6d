//! Working days and China Standard Time: for the rule that the union contacts every applicant
//! within 15 working days (豫工惠, DOMAIN.md "Facts from public sources"), and for service points
//! open "on working days" (工作日开放). Saturdays and Sundays are not working days;
//! mainland public holidays and the weekend days worked in their place (调休) are
//! configuration, because the State Council publishes them year by year.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, TimeDelta, Utc, Weekday};

/// Working days within which an applicant must be contacted.
pub const CONTACT_DEADLINE_WORKING_DAYS: u32 = 15;

/// China Standard Time (UTC+8, no daylight saving): the calendar days are counted in it.
pub fn china_date(at: chrono::DateTime<Utc>) -> NaiveDate {
    (at + TimeDelta::hours(8)).date_naive()
}

/// The wall-clock time in China Standard Time, for opening hours.
pub fn china_time(at: chrono::DateTime<Utc>) -> chrono::NaiveDateTime {
    (at + TimeDelta::hours(8)).naive_utc()
}

/// Which days are working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingCalendar {
    /// Public holidays falling on weekdays (e.g. 2026-10-01).
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days (调休, e.g. a Saturday before National Day).
    pub working_weekends: BTreeSet<NaiveDate>,
}

impl WorkingCalendar {
    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.working_weekends.contains(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// Working days after `from` up to and including `to` (0 when `to` ≤ `from`): an
    /// application submitted on a Friday has waited 1 working day on Monday.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut day = from;
        while day < to {
            day = match day.checked_add_days(Days::new(1)) {
                Some(d) => d,
                None => break,
            };
            if self.is_working_day(day) {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn weekends_and_holidays_do_not_count() {
        let plain = WorkingCalendar::default();
        // Friday 2026-11-20 → Monday 2026-11-23: one working day.
        assert_eq!(
            plain.working_days_between(d("2026-11-20"), d("2026-11-23")),
            1
        );
        assert_eq!(
            plain.working_days_between(d("2026-11-23"), d("2026-11-20")),
            0
        );
        // Three full weeks: 15 working days.
        assert_eq!(
            plain.working_days_between(d("2026-11-20"), d("2026-12-11")),
            15
        );

        let national_day = WorkingCalendar {
            holidays: [
                "2026-10-01",
                "2026-10-02",
                "2026-10-05",
                "2026-10-06",
                "2026-10-07",
            ]
            .into_iter()
            .map(d)
            .collect(),
            working_weekends: [d("2026-10-10")].into_iter().collect(),
        };
        // Wed 30 Sep → Sat 10 Oct: Thu 1 … Wed 7 are off, Thu 8, Fri 9 and the worked Sat 10 count.
        assert_eq!(
            national_day.working_days_between(d("2026-09-30"), d("2026-10-10")),
            3
        );
    }

    #[test]
    fn china_date_is_utc_plus_8() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-20T16:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(china_date(at), d("2026-11-21"));
    }
}
