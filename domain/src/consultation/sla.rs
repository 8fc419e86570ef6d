//! Service-level clocks (issue #6, "SLA"): a category's deadlines are counted around the
//! clock (7×24) or in business hours — 09:00 to 17:00 China Standard Time on working days of
//! the [`WorkingCalendar`] (holidays and the weekend days worked in their place are
//! configuration). While a consultation waits on the worker the clock stops; what was left is
//! kept and runs again from the worker's answer (the helpdesk rule, DOMAIN.md "Helpdesks").

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use super::category::SlaClock;
use crate::calendar::{china_time, WorkingCalendar};

/// Business hours open, China Standard Time.
pub const OPENS: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// Business hours close, China Standard Time.
pub const CLOSES: NaiveTime = match NaiveTime::from_hms_opt(17, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// The most days a business-hours count walks (ten years): a calendar with no working day
/// ahead ends there instead of looping.
const MAX_DAYS: u32 = 3_660;

/// A clock with the calendar it counts business hours by.
#[derive(Debug, Clone, Copy)]
pub struct Sla<'a> {
    /// How time is counted.
    pub clock: SlaClock,
    /// The working days.
    pub calendar: &'a WorkingCalendar,
}

fn from_china(local: NaiveDateTime) -> DateTime<Utc> {
    (local - TimeDelta::hours(8)).and_utc()
}

impl Sla<'_> {
    /// The instant `length` of this clock after `start`: on business hours, a start outside
    /// them counts from the next opening.
    pub fn add(&self, start: DateTime<Utc>, length: TimeDelta) -> DateTime<Utc> {
        match self.clock {
            SlaClock::AllHours => start + length,
            SlaClock::BusinessHours => {
                let mut left = length.max(TimeDelta::zero());
                let mut at = china_time(start);
                for _ in 0..MAX_DAYS {
                    let day = at.date();
                    if self.calendar.is_working_day(day) {
                        let from = at.max(day.and_time(OPENS));
                        let until = day.and_time(CLOSES);
                        if from < until {
                            if left <= until - from {
                                return from_china(from + left);
                            }
                            left -= until - from;
                        }
                    }
                    match day.succ_opt() {
                        Some(next) => at = next.and_time(NaiveTime::MIN),
                        None => break,
                    }
                }
                from_china(at)
            }
        }
    }

    /// How much of this clock runs from `from` to `to` (zero when `to` is not later).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        match self.clock {
            SlaClock::AllHours => to - from,
            SlaClock::BusinessHours => {
                let (mut at, end) = (china_time(from), china_time(to));
                let mut total = TimeDelta::zero();
                for _ in 0..MAX_DAYS {
                    let day = at.date();
                    if day > end.date() {
                        break;
                    }
                    if self.calendar.is_working_day(day) {
                        let start = at.max(day.and_time(OPENS));
                        let stop = end.min(day.and_time(CLOSES));
                        if start < stop {
                            total += stop - start;
                        }
                    }
                    match day.succ_opt() {
                        Some(next) => at = next.and_time(NaiveTime::MIN),
                        None => break,
                    }
                }
                total
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    /// An instant given in China Standard Time.
    fn cst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap() - TimeDelta::hours(8)
    }

    #[test]
    fn around_the_clock_is_plain_time() {
        let cal = WorkingCalendar::default();
        let sla = Sla {
            clock: SlaClock::AllHours,
            calendar: &cal,
        };
        let start = cst(2026, 11, 20, 22, 0); // a Friday night
        assert_eq!(sla.add(start, TimeDelta::hours(2)), cst(2026, 11, 21, 0, 0));
        assert_eq!(
            sla.between(start, cst(2026, 11, 23, 22, 0)),
            TimeDelta::hours(72)
        );
    }

    #[test]
    fn business_hours_skip_nights_weekends_and_holidays() {
        let mut cal = WorkingCalendar::default();
        cal.holidays
            .insert(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()); // a Monday off
        let sla = Sla {
            clock: SlaClock::BusinessHours,
            calendar: &cal,
        };
        // Friday 16:00 + 2 h: one hour on Friday, the other on Tuesday (Monday is a holiday).
        let friday = cst(2026, 11, 20, 16, 0);
        let due = sla.add(friday, TimeDelta::hours(2));
        assert_eq!(due, cst(2026, 11, 24, 10, 0));
        assert_eq!(sla.between(friday, due), TimeDelta::hours(2));
        // A question at 20:00 counts from 09:00 the next working day.
        let evening = cst(2026, 11, 24, 20, 0);
        assert_eq!(
            sla.add(evening, TimeDelta::minutes(30)),
            cst(2026, 11, 25, 9, 30)
        );
        // Three days of eight hours.
        assert_eq!(
            sla.add(cst(2026, 11, 24, 9, 0), TimeDelta::hours(24)),
            cst(2026, 11, 26, 17, 0)
        );
        // A weekend day worked in its place (调休) counts.
        cal.working_weekends
            .insert(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
        let sla = Sla {
            clock: SlaClock::BusinessHours,
            calendar: &cal,
        };
        assert_eq!(
            sla.add(friday, TimeDelta::hours(2)),
            cst(2026, 11, 21, 10, 0)
        );
        assert_eq!(sla.between(due, friday), TimeDelta::zero());
    }
}
