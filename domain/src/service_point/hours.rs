//! Opening hours (开放时间): a weekly schedule with several intervals a day, "24 hours", and
//! dated exceptions, read from the texts officials and open-data files write —
//! `08:00-20:00`, `周一至周五 08:30-12:00,13:00-17:30`, `24小时`, `工作日 09:00-17:00`.
//!
//! A text that cannot be read completely is kept and the hours are [`OpeningHours::Unknown`]:
//! never guessed (issue #4). `工作日开放` ("open on working days") names days but no times, so
//! it is unknown too. Times are China Standard Time; an interval may run past midnight
//! (`22:00-06:00`). "Working days" follow the [`WorkingCalendar`] (holidays and 调休).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::calendar::WorkingCalendar;
use crate::text::as_typed;

/// Minutes in a day; an interval may end at 24:00.
const DAY_MINUTES: u16 = 24 * 60;

/// An interval of a day in minutes since midnight, `start` inclusive, `end` exclusive. When
/// `end <= start` it runs past midnight into the next day (`22:00-06:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    /// Opening, minutes since 00:00 (0–1439).
    pub start: u16,
    /// Closing, minutes since 00:00 (1–1440).
    pub end: u16,
}

impl Interval {
    fn overnight(self) -> bool {
        self.end <= self.start
    }

    /// Whether minute `m` of the day it starts on is inside.
    fn contains_same_day(self, m: u16) -> bool {
        if self.overnight() {
            m >= self.start
        } else {
            (self.start..self.end).contains(&m)
        }
    }

    /// Whether minute `m` of the next day is inside (only overnight intervals reach it).
    fn contains_next_day(self, m: u16) -> bool {
        self.overnight() && m < self.end
    }
}

/// The days a rule holds on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Days {
    /// These weekdays, Monday first (`[true; 7]`: every day).
    Weekdays([bool; 7]),
    /// Working days of the [`WorkingCalendar`] (工作日).
    WorkingDays,
}

impl Days {
    fn holds_on(self, date: NaiveDate, calendar: &WorkingCalendar) -> bool {
        match self {
            Days::Weekdays(days) => days[date.weekday().num_days_from_monday() as usize],
            Days::WorkingDays => calendar.is_working_day(date),
        }
    }
}

/// Intervals on some days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Which days.
    pub days: Days,
    /// When, those days.
    pub intervals: Vec<Interval>,
}

/// When a service point is open, as far as its text says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpeningHours {
    /// 24 hours, every day.
    AlwaysOpen,
    /// A weekly schedule: open when any rule holds.
    Weekly {
        /// The rules.
        rules: Vec<Rule>,
    },
    /// The text could not be read; whether it is open is not known.
    Unknown,
}

/// A date with other hours than usual: holidays, closures (empty `intervals`: closed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatedException {
    /// The day (China Standard Time).
    pub date: NaiveDate,
    /// Its intervals; empty when closed all day.
    pub intervals: Vec<Interval>,
}

/// A service point's hours: what was read, the exceptions, and the original text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The original text, kept as written.
    pub text: String,
    /// What it says.
    pub hours: OpeningHours,
    /// Dated exceptions, which replace the weekly hours on their day.
    pub exceptions: Vec<DatedException>,
}

impl Schedule {
    /// Reads `text` (see [`OpeningHours::parse`]), with no exceptions.
    pub fn from_text(text: &str) -> Schedule {
        Schedule {
            text: text.trim().to_owned(),
            hours: OpeningHours::parse(text),
            exceptions: Vec::new(),
        }
    }

    /// Whether it is open at `at` (China Standard Time); `None` when the hours are unknown.
    pub fn is_open_at(&self, at: NaiveDateTime, calendar: &WorkingCalendar) -> Option<bool> {
        let m = minute_of_day(at);
        if let Some(exception) = self.exceptions.iter().find(|e| e.date == at.date()) {
            return Some(exception.intervals.iter().any(|i| i.contains_same_day(m)));
        }
        self.hours.is_open_at(at, calendar)
    }

    /// The hours of `date`, by opening time: its dated exception, else the weekly rules that
    /// hold that day (all day, `00:00-24:00`, when always open; empty when closed that day).
    /// `None` when the hours are unknown.
    pub fn intervals_on(
        &self,
        date: NaiveDate,
        calendar: &WorkingCalendar,
    ) -> Option<Vec<Interval>> {
        if let Some(exception) = self.exceptions.iter().find(|e| e.date == date) {
            return Some(exception.intervals.clone());
        }
        match &self.hours {
            OpeningHours::AlwaysOpen => Some(vec![Interval {
                start: 0,
                end: DAY_MINUTES,
            }]),
            OpeningHours::Unknown => None,
            OpeningHours::Weekly { rules } => {
                let mut intervals: Vec<Interval> = rules
                    .iter()
                    .filter(|r| r.days.holds_on(date, calendar))
                    .flat_map(|r| r.intervals.iter().copied())
                    .collect();
                intervals.sort_by_key(|i| (i.start, i.end));
                intervals.dedup();
                Some(intervals)
            }
        }
    }

    /// While it is open at `at`: when it closes, minutes since 00:00 (1–1440; past midnight
    /// for an interval that runs overnight, e.g. 120 for 02:00). `None` when closed or the
    /// hours are unknown, and when open all day.
    pub fn closes_at(&self, at: NaiveDateTime, calendar: &WorkingCalendar) -> Option<u16> {
        if self.is_open_at(at, calendar) != Some(true) {
            return None;
        }
        let m = minute_of_day(at);
        let today = self.intervals_on(at.date(), calendar)?;
        if today.iter().any(|i| i.start == 0 && i.end == DAY_MINUTES) {
            return None;
        }
        if let Some(now) = today.iter().find(|i| i.contains_same_day(m)) {
            return Some(now.end);
        }
        let yesterday = self.intervals_on(at.date().pred_opt()?, calendar)?;
        yesterday
            .iter()
            .find(|i| i.contains_next_day(m))
            .map(|i| i.end)
    }
}

fn minute_of_day(at: NaiveDateTime) -> u16 {
    u16::try_from(at.hour() * 60 + at.minute()).unwrap_or(0)
}

impl OpeningHours {
    /// Reads an opening-hours text. Understood: `HH:MM-HH:MM` intervals separated by `,` `、`
    /// or spaces (every day); a day prefix before them — `周一至周五`, `周六、周日`, `星期一`,
    /// `每天`, `工作日`, `周末`; several such groups separated by `;`; `24小时` / `全天`; a
    /// trailing `开放` or `营业`. Full-width characters are read as ASCII. Anything else, in
    /// any part, makes the whole text [`OpeningHours::Unknown`].
    pub fn parse(text: &str) -> OpeningHours {
        let normal = as_typed(text).replace("星期", "周");
        let t = normal.trim();
        if matches!(
            t,
            "24小时"
                | "24小时开放"
                | "24小时营业"
                | "全天"
                | "全天开放"
                | "全天24小时"
                | "24h"
                | "24H"
        ) {
            return OpeningHours::AlwaysOpen;
        }
        let mut rules = Vec::new();
        for group in t
            .split([';', '\n'])
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            match parse_group(group) {
                Some(rule) => rules.push(rule),
                None => return OpeningHours::Unknown,
            }
        }
        if rules.is_empty() {
            return OpeningHours::Unknown;
        }
        let every_day_all_day = rules.iter().all(|r| {
            r.days == Days::Weekdays([true; 7])
                && r.intervals
                    == [Interval {
                        start: 0,
                        end: DAY_MINUTES,
                    }]
        });
        if every_day_all_day {
            return OpeningHours::AlwaysOpen;
        }
        OpeningHours::Weekly { rules }
    }

    /// Whether it is open at `at` (China Standard Time); `None` when unknown.
    pub fn is_open_at(&self, at: NaiveDateTime, calendar: &WorkingCalendar) -> Option<bool> {
        match self {
            OpeningHours::AlwaysOpen => Some(true),
            OpeningHours::Unknown => None,
            OpeningHours::Weekly { rules } => {
                let m = minute_of_day(at);
                let today = at.date();
                let yesterday = today.pred_opt();
                Some(rules.iter().any(|r| {
                    (r.days.holds_on(today, calendar)
                        && r.intervals.iter().any(|i| i.contains_same_day(m)))
                        || yesterday.is_some_and(|y| {
                            r.days.holds_on(y, calendar)
                                && r.intervals.iter().any(|i| i.contains_next_day(m))
                        })
                }))
            }
        }
    }
}

/// One group: an optional day prefix, then one or more intervals, then an optional `开放`.
fn parse_group(group: &str) -> Option<Rule> {
    let (days, rest) = parse_days(group)?;
    let rest = rest
        .trim()
        .trim_end_matches("开放")
        .trim_end_matches("营业")
        .trim();
    let intervals = rest
        .split([',', '、', ' ', '/'])
        .filter(|s| !s.is_empty())
        .map(parse_interval)
        .collect::<Option<Vec<_>>>()?;
    if intervals.is_empty() {
        return None;
    }
    Some(Rule { days, intervals })
}

/// The weekday of `周X` (`日` and `天` are Sunday), Monday = 0.
fn weekday(c: char) -> Option<usize> {
    "一二三四五六日".chars().position(|d| d == c).or(match c {
        '天' | '七' => Some(6),
        _ => None,
    })
}

/// A day prefix and what follows it; no prefix means every day.
fn parse_days(s: &str) -> Option<(Days, &str)> {
    for (word, days) in [
        ("每天", Days::Weekdays([true; 7])),
        ("每日", Days::Weekdays([true; 7])),
        ("全周", Days::Weekdays([true; 7])),
        ("工作日", Days::WorkingDays),
        (
            "周末",
            Days::Weekdays([false, false, false, false, false, true, true]),
        ),
        (
            "双休日",
            Days::Weekdays([false, false, false, false, false, true, true]),
        ),
    ] {
        if let Some(rest) = s.strip_prefix(word) {
            return Some((days, rest));
        }
    }
    if !s.starts_with('周') {
        return Some((Days::Weekdays([true; 7]), s));
    }
    let mut set = [false; 7];
    let mut rest = s;
    loop {
        let (first, after) = day_token(rest)?;
        rest = after;
        let range_end = ["至", "到", "-", "~", "–", "—"]
            .iter()
            .find_map(|sep| rest.strip_prefix(sep).and_then(day_token));
        match range_end {
            Some((last, after)) => {
                let mut d = first;
                loop {
                    set[d] = true;
                    if d == last {
                        break;
                    }
                    d = (d + 1) % 7;
                }
                rest = after;
            }
            None => set[first] = true,
        }
        match ["、", ","]
            .iter()
            .find_map(|sep| rest.strip_prefix(sep))
            .filter(|r| r.starts_with('周'))
        {
            Some(next) => rest = next,
            None => return Some((Days::Weekdays(set), rest)),
        }
    }
}

/// `周X` at the start of `s`: the weekday and the rest.
fn day_token(s: &str) -> Option<(usize, &str)> {
    let rest = s.strip_prefix('周')?;
    let c = rest.chars().next()?;
    Some((weekday(c)?, &rest[c.len_utf8()..]))
}

/// `H:MM-H:MM` (also with `~`, `至`, `到`, `–`), 24:00 allowed as the end.
fn parse_interval(s: &str) -> Option<Interval> {
    let (a, b) = ["-", "~", "至", "到", "–", "—"]
        .iter()
        .find_map(|sep| s.split_once(sep))?;
    let start = parse_time(a)?;
    // `22:00-00:00` closes at midnight.
    let end = match parse_time(b)? {
        0 => DAY_MINUTES,
        end => end,
    };
    if start >= DAY_MINUTES || start == end {
        return None;
    }
    Some(Interval { start, end })
}

fn parse_time(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn at(date: &str, time: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M").unwrap()
    }

    fn i(start: &str, end: &str) -> Interval {
        Interval {
            start: parse_time(start).unwrap(),
            end: parse_time(end).unwrap(),
        }
    }

    const EVERY_DAY: Days = Days::Weekdays([true; 7]);
    const MON_FRI: Days = Days::Weekdays([true, true, true, true, true, false, false]);

    fn weekly(rules: Vec<(Days, Vec<Interval>)>) -> OpeningHours {
        OpeningHours::Weekly {
            rules: rules
                .into_iter()
                .map(|(days, intervals)| Rule { days, intervals })
                .collect(),
        }
    }

    /// Every opening-hours text of `shared/data/real/zhengzhou_union_stations.csv`, and what it
    /// must read as.
    #[test]
    fn every_text_of_the_zhengzhou_file() {
        let table = [
            (
                "08:00-20:00",
                weekly(vec![(EVERY_DAY, vec![i("08:00", "20:00")])]),
            ),
            (
                "周一至周五 09:00-17:00",
                weekly(vec![(MON_FRI, vec![i("09:00", "17:00")])]),
            ),
            (
                "07:30-22:30",
                weekly(vec![(EVERY_DAY, vec![i("07:30", "22:30")])]),
            ),
            ("工作日开放", OpeningHours::Unknown),
            ("24小时", OpeningHours::AlwaysOpen),
            (
                "周一至周五 08:30-12:00,13:00-17:30",
                weekly(vec![(
                    MON_FRI,
                    vec![i("08:30", "12:00"), i("13:00", "17:30")],
                )]),
            ),
            (
                "周一至周五 08:00-12:00,14:00-18:00",
                weekly(vec![(
                    MON_FRI,
                    vec![i("08:00", "12:00"), i("14:00", "18:00")],
                )]),
            ),
            (
                "08:00-22:00",
                weekly(vec![(EVERY_DAY, vec![i("08:00", "22:00")])]),
            ),
            (
                "08:00-18:30",
                weekly(vec![(EVERY_DAY, vec![i("08:00", "18:30")])]),
            ),
            (
                "周一至周五 09:00-20:00",
                weekly(vec![(MON_FRI, vec![i("09:00", "20:00")])]),
            ),
            (
                "08:30-19:30",
                weekly(vec![(EVERY_DAY, vec![i("08:30", "19:30")])]),
            ),
            (
                "09:00-20:00",
                weekly(vec![(EVERY_DAY, vec![i("09:00", "20:00")])]),
            ),
            (
                "08:00-12:00,14:00-16:00",
                weekly(vec![(
                    EVERY_DAY,
                    vec![i("08:00", "12:00"), i("14:00", "16:00")],
                )]),
            ),
            (
                "08:30-12:00,14:00-17:30",
                weekly(vec![(
                    EVERY_DAY,
                    vec![i("08:30", "12:00"), i("14:00", "17:30")],
                )]),
            ),
            (
                "05:00-17:30",
                weekly(vec![(EVERY_DAY, vec![i("05:00", "17:30")])]),
            ),
            (
                "08:45-23:45",
                weekly(vec![(EVERY_DAY, vec![i("08:45", "23:45")])]),
            ),
            (
                "08:30-18:00",
                weekly(vec![(EVERY_DAY, vec![i("08:30", "18:00")])]),
            ),
        ];
        for (text, expected) in table {
            assert_eq!(OpeningHours::parse(text), expected, "{text}");
        }
    }

    #[test]
    fn other_ways_of_writing_hours() {
        let weekend = Days::Weekdays([false, false, false, false, false, true, true]);
        let table = [
            ("全天", OpeningHours::AlwaysOpen),
            ("00:00-24:00", OpeningHours::AlwaysOpen),
            ("每天 0:00-24:00", OpeningHours::AlwaysOpen),
            (
                "０８：００－２０：００",
                weekly(vec![(EVERY_DAY, vec![i("08:00", "20:00")])]),
            ),
            (
                "星期一到星期五 9:00~17:00；周六、周日 10:00-16:00",
                weekly(vec![
                    (MON_FRI, vec![i("09:00", "17:00")]),
                    (weekend, vec![i("10:00", "16:00")]),
                ]),
            ),
            (
                "工作日 09:00-17:00",
                weekly(vec![(Days::WorkingDays, vec![i("09:00", "17:00")])]),
            ),
            (
                "周末 10:00-18:00开放",
                weekly(vec![(weekend, vec![i("10:00", "18:00")])]),
            ),
            (
                "22:00-06:00",
                weekly(vec![(EVERY_DAY, vec![i("22:00", "06:00")])]),
            ),
            (
                "18:00-00:00",
                weekly(vec![(EVERY_DAY, vec![i("18:00", "24:00")])]),
            ),
        ];
        for (text, expected) in table {
            assert_eq!(OpeningHours::parse(text), expected, "{text}");
        }
    }

    #[test]
    fn unreadable_texts_are_unknown_never_guessed() {
        for text in [
            "",
            "   ",
            "工作日开放",
            "早八晚八",
            "08:00",
            "08:00-25:00",
            "08:60-20:00",
            "20:00-20:00",
            "08:00-20:00 午休除外",
            "周八 08:00-20:00",
            "周一至周五",
            "08:00-20:00;节假日另行通知",
        ] {
            assert_eq!(OpeningHours::parse(text), OpeningHours::Unknown, "{text:?}");
        }
    }

    #[test]
    fn todays_hours_and_the_closing_time() {
        let cal = WorkingCalendar::default();
        // 2026-11-20 is a Friday, 2026-11-21 a Saturday.
        let split = Schedule::from_text("周一至周五 13:00-17:30,08:30-12:00");
        assert_eq!(
            split.intervals_on(at("2026-11-20", "07:00").date(), &cal),
            Some(vec![i("08:30", "12:00"), i("13:00", "17:30")])
        );
        assert_eq!(
            split.intervals_on(at("2026-11-21", "07:00").date(), &cal),
            Some(vec![])
        );
        assert_eq!(split.closes_at(at("2026-11-20", "11:55"), &cal), Some(720));
        assert_eq!(split.closes_at(at("2026-11-20", "12:30"), &cal), None);
        let night = Schedule::from_text("20:00-02:00");
        assert_eq!(night.closes_at(at("2026-11-20", "23:00"), &cal), Some(120));
        assert_eq!(night.closes_at(at("2026-11-21", "01:30"), &cal), Some(120));
        let always = Schedule::from_text("24小时");
        assert_eq!(always.closes_at(at("2026-11-20", "03:00"), &cal), None);
        assert_eq!(
            always.intervals_on(at("2026-11-20", "03:00").date(), &cal),
            Some(vec![i("00:00", "24:00")])
        );
        let unknown = Schedule::from_text("工作日开放");
        assert_eq!(
            unknown.intervals_on(at("2026-11-20", "03:00").date(), &cal),
            None
        );
        assert_eq!(unknown.closes_at(at("2026-11-20", "10:00"), &cal), None);
    }

    #[test]
    fn open_now_follows_days_intervals_and_midnight() {
        let cal = WorkingCalendar::default();
        let split = OpeningHours::parse("周一至周五 08:30-12:00,13:00-17:30");
        // 2026-11-20 is a Friday.
        assert_eq!(
            split.is_open_at(at("2026-11-20", "08:29"), &cal),
            Some(false)
        );
        assert_eq!(
            split.is_open_at(at("2026-11-20", "08:30"), &cal),
            Some(true)
        );
        assert_eq!(
            split.is_open_at(at("2026-11-20", "12:00"), &cal),
            Some(false)
        );
        assert_eq!(
            split.is_open_at(at("2026-11-20", "17:29"), &cal),
            Some(true)
        );
        assert_eq!(
            split.is_open_at(at("2026-11-21", "10:00"), &cal),
            Some(false)
        );
        let night = OpeningHours::parse("周五 22:00-06:00");
        assert_eq!(
            night.is_open_at(at("2026-11-20", "23:00"), &cal),
            Some(true)
        );
        assert_eq!(
            night.is_open_at(at("2026-11-21", "05:59"), &cal),
            Some(true)
        );
        assert_eq!(
            night.is_open_at(at("2026-11-21", "06:00"), &cal),
            Some(false)
        );
        assert_eq!(
            night.is_open_at(at("2026-11-20", "05:00"), &cal),
            Some(false)
        );
        assert_eq!(
            OpeningHours::AlwaysOpen.is_open_at(at("2026-11-21", "03:00"), &cal),
            Some(true)
        );
        assert_eq!(
            OpeningHours::Unknown.is_open_at(at("2026-11-21", "03:00"), &cal),
            None
        );
    }

    #[test]
    fn working_days_follow_the_calendar_and_exceptions_win() {
        let mut cal = WorkingCalendar::default();
        let holiday = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let worked_sunday = NaiveDate::from_ymd_opt(2026, 9, 27).unwrap();
        cal.holidays.insert(holiday);
        cal.working_weekends.insert(worked_sunday);
        let hours = OpeningHours::parse("工作日 09:00-17:00");
        assert_eq!(
            hours.is_open_at(at("2026-10-01", "10:00"), &cal),
            Some(false)
        );
        assert_eq!(
            hours.is_open_at(at("2026-09-27", "10:00"), &cal),
            Some(true)
        );
        assert_eq!(
            hours.is_open_at(at("2026-09-30", "10:00"), &cal),
            Some(true)
        );

        let mut schedule = Schedule::from_text(" 08:00-20:00 ");
        assert_eq!(schedule.text, "08:00-20:00");
        schedule.exceptions.push(DatedException {
            date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            intervals: vec![],
        });
        assert_eq!(
            schedule.is_open_at(at("2026-11-20", "10:00"), &cal),
            Some(false)
        );
        assert_eq!(
            schedule.is_open_at(at("2026-11-21", "10:00"), &cal),
            Some(true)
        );
        let unknown = Schedule::from_text("早八晚八");
        assert_eq!(unknown.text, "早八晚八");
        assert_eq!(unknown.is_open_at(at("2026-11-21", "10:00"), &cal), None);
    }
}
