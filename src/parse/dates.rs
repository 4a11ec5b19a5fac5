//! Dates as German sites print them, to UTC.
//!
//! Press release lists and many German feeds give dates in local time and
//! German forms: `13.04.2021`, `13.4.21`, `13. April 2021`, `5. März 2025`,
//! `Montag, 12. April 2021, 14:30 Uhr`, `12.04.2021 - 14:30 Uhr`, and ISO 8601
//! (`2021-04-13`, `2021-04-13T14:30:00+02:00`). [`parse`] finds such a date in
//! a piece of text (a teaser's `<time>`, "Veröffentlicht am …") and returns
//! it as seconds since the epoch.
//!
//! A date without a zone is Berlin time: German summer time (CEST, UTC+2)
//! from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
//! Sunday of October, the EU rule Germany has kept since 1996 (before, it
//! ended on the last Sunday of September; from 1980). This one rule is all
//! of the time zone database Kurator needs, so it is written out here
//! rather than compiling the whole database in. A date without a time is
//! midnight, Berlin time.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use regex::Regex;

/// The instant `text` names, if it contains a date in one of the forms above.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    iso(text).or_else(|| german(text))
}

/// ISO 8601 / RFC 3339: a date, optionally a time, optionally a zone
/// (`Z`, `+02:00`, `+0200`). Without a zone, Berlin time.
fn iso(text: &str) -> Option<i64> {
    static ISO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?x)
            (\d{4})-(\d{2})-(\d{2})
            (?: [T\x20] (\d{2}):(\d{2}) (?: :(\d{2}) (?: [.,]\d+ )? )?
                \s* (Z | [+-]\d{2}:?\d{2} )? )?",
        )
        .expect("valid pattern")
    });
    let found = ISO.captures(text)?;
    let number = |at: usize| found.get(at).and_then(|m| m.as_str().parse::<u32>().ok());
    let date = NaiveDate::from_ymd_opt(i32::try_from(number(1)?).ok()?, number(2)?, number(3)?)?;
    let time = match number(4) {
        Some(hour) => NaiveTime::from_hms_opt(hour, number(5)?, number(6).unwrap_or(0))?,
        None => NaiveTime::MIN,
    };
    let local = date.and_time(time);
    match found.get(7).map(|m| m.as_str()) {
        None => Some(berlin_to_utc(local)),
        Some("Z") => Some(local.and_utc().timestamp()),
        Some(zone) => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i64 = digits[..2].parse().ok()?;
            let minutes: i64 = digits[2..].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            Some(local.and_utc().timestamp() - sign * (hours * 3600 + minutes * 60))
        }
    }
}

/// `13.04.2021`, `13.4.21`, `13. April 2021`, `5. Maerz 2025`, `13. Apr. 2021`,
/// each optionally followed by a time (`14:30`, `14.30 Uhr`, `, 14:30 Uhr`,
/// `- 14:30 Uhr`, `um 14:30`). A weekday before the date is skipped.
fn german(text: &str) -> Option<i64> {
    static NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:^|[^\d.])(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2})(?:[^\d]|$)")
            .expect("valid pattern")
    });
    static NAMED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)(?:^|[^\d])(\d{1,2})\.?\s*(\p{Alphabetic}{3,10})\.?\s+(\d{4})(?:[^\d]|$)")
            .expect("valid pattern")
    });
    let (date, end) = if let Some(found) = NUMERIC.captures(text) {
        let number = |at: usize| found.get(at)?.as_str().parse::<u32>().ok();
        let year = match found.get(3)?.as_str() {
            two if two.len() == 2 => two_digit_year(two.parse().ok()?),
            four => four.parse().ok()?,
        };
        let date = NaiveDate::from_ymd_opt(year, number(2)?, number(1)?)?;
        (date, found.get(3)?.end())
    } else {
        let found = NAMED.captures_iter(text).find(|found| {
            found
                .get(2)
                .is_some_and(|m| month_number(m.as_str()).is_some())
        })?;
        let day = found.get(1)?.as_str().parse().ok()?;
        let month = month_number(found.get(2)?.as_str())?;
        let year = found.get(3)?.as_str().parse().ok()?;
        (
            NaiveDate::from_ymd_opt(year, month, day)?,
            found.get(3)?.end(),
        )
    };
    let time = time_after(&text[end..]).unwrap_or(NaiveTime::MIN);
    Some(berlin_to_utc(date.and_time(time)))
}

/// A time right after a date: `14:30`, `14.30 Uhr`, `, 14:30 Uhr`,
/// `- 14:30 Uhr`, `um 14:30 Uhr`, `14 Uhr`.
fn time_after(rest: &str) -> Option<NaiveTime> {
    static TIME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?ix) ^ [\s,;|/–—-]* (?: um \s+ )? (\d{1,2}) (?: [:.] (\d{2}) (?: :(\d{2}) )? \s* (?: uhr )? | \s* uhr )",
        )
        .expect("valid pattern")
    });
    let found = TIME.captures(rest)?;
    let number = |at: usize| found.get(at).and_then(|m| m.as_str().parse::<u32>().ok());
    NaiveTime::from_hms_opt(number(1)?, number(2).unwrap_or(0), number(3).unwrap_or(0))
}

/// `21` → 2021, `98` → 1998.
fn two_digit_year(year: i32) -> i32 {
    if year < 70 { 2000 + year } else { 1900 + year }
}

/// The month a German (or English) month name or abbreviation names, with
/// or without umlauts: `März`, `Maerz`, `Marz`, `Mrz`, `Sept`, `Okt`, `Dez`.
fn month_number(name: &str) -> Option<u32> {
    let name = crate::fold::fold(name);
    let month = match name.as_str() {
        "januar" | "jan" | "jaenner" | "january" => 1,
        "februar" | "feb" | "febr" | "february" => 2,
        "maerz" | "marz" | "mrz" | "maer" | "mar" | "march" => 3,
        "april" | "apr" => 4,
        "mai" | "may" => 5,
        "juni" | "jun" | "june" => 6,
        "juli" | "jul" | "july" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "oktober" | "okt" | "october" | "oct" => 10,
        "november" | "nov" => 11,
        "dezember" | "dez" | "december" | "dec" => 12,
        _ => return None,
    };
    Some(month)
}

/// Seconds since the epoch of a Berlin wall-clock time. In the hour the
/// clocks go back (it happens twice), the summer-time one; in the hour that
/// is skipped in spring, as if it were winter time.
pub fn berlin_to_utc(local: NaiveDateTime) -> i64 {
    let as_if_utc = local.and_utc().timestamp();
    let summer = as_if_utc - 2 * 3600;
    if is_summer_time(summer) {
        summer
    } else {
        as_if_utc - 3600
    }
}

/// Whether German summer time is in effect at `instant` (seconds since the epoch).
pub fn is_summer_time(instant: i64) -> bool {
    let Some(utc) = chrono::DateTime::from_timestamp(instant, 0) else {
        return false;
    };
    let year = utc.year();
    if year < 1980 {
        return false;
    }
    let end_month = if year < 1996 { 9 } else { 10 };
    let switch = |month: u32| {
        last_sunday(year, month)
            .and_hms_opt(1, 0, 0)
            .expect("01:00 exists")
            .and_utc()
            .timestamp()
    };
    (switch(3)..switch(end_month)).contains(&instant)
}

/// The last Sunday of a month.
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .expect("a valid month");
    let last = first_of_next.pred_opt().expect("a previous day");
    let back = last.weekday().num_days_from_sunday();
    last - chrono::Days::new(u64::from(back))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    /// Seconds since the epoch of a UTC time.
    fn utc(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("a test date")
            .timestamp()
    }

    #[test]
    fn german_forms() {
        // Summer time: UTC+2.
        let noon_utc = |day: &str| utc(&format!("{day}T12:30:00Z"));
        for text in [
            "13.04.2021 14:30",
            "13.4.21 14:30",
            "13.04.2021, 14:30 Uhr",
            "12.04.2021 - 14:30 Uhr",
            "Dienstag, 13. April 2021, 14:30 Uhr",
            "13. Apr. 2021 14.30 Uhr",
            "Veröffentlicht am 13.04.2021 um 14:30 Uhr",
        ] {
            let expected = if text.starts_with("12.") {
                noon_utc("2021-04-12")
            } else {
                noon_utc("2021-04-13")
            };
            assert_eq!(parse(text), Some(expected), "{text}");
        }
        // Dates alone are midnight in Berlin.
        assert_eq!(parse("13.04.2021"), Some(utc("2021-04-12T22:00:00Z")));
        assert_eq!(parse("13. April 2021"), Some(utc("2021-04-12T22:00:00Z")));
        // Winter time: UTC+1.
        assert_eq!(parse("5. März 2025"), Some(utc("2025-03-04T23:00:00Z")));
        assert_eq!(parse("5. Maerz 2025"), parse("5. März 2025"));
        assert_eq!(parse("5. Marz 2025"), parse("5. März 2025"));
        assert_eq!(parse("5. Mrz. 2025"), parse("5. März 2025"));
        assert_eq!(parse("3. Sept. 2024"), Some(utc("2024-09-02T22:00:00Z")));
        assert_eq!(
            parse("1. Dez 2024, 9:05 Uhr"),
            Some(utc("2024-12-01T08:05:00Z"))
        );
        assert_eq!(
            parse("Montag, 12. April 2021, 14:30 Uhr"),
            Some(noon_utc("2021-04-12"))
        );
    }

    #[test]
    fn iso_forms() {
        assert_eq!(
            parse("2021-04-13T14:30:00+02:00"),
            Some(utc("2021-04-13T12:30:00Z"))
        );
        assert_eq!(
            parse("2021-04-13T12:30:00Z"),
            Some(utc("2021-04-13T12:30:00Z"))
        );
        assert_eq!(
            parse("2021-04-13T14:30:00.123+0200"),
            Some(utc("2021-04-13T12:30:00Z"))
        );
        assert_eq!(parse("2021-04-13 14:30"), Some(utc("2021-04-13T12:30:00Z")));
        assert_eq!(parse("2021-04-13"), Some(utc("2021-04-12T22:00:00Z")));
        assert_eq!(parse("2021-01-13"), Some(utc("2021-01-12T23:00:00Z")));
    }

    #[test]
    fn what_is_no_date() {
        for text in [
            "",
            "heute",
            "32.01.2021",
            "13.13.2021",
            "29.02.2021",
            "13. Foo 2021",
            "Version 1.2.3",
            "2021-02-30",
            "13.04.2021 25:00",
        ] {
            let parsed = parse(text);
            // An impossible time leaves the date (at midnight).
            if text.ends_with("25:00") {
                assert_eq!(parsed, parse("13.04.2021"), "{text}");
            } else {
                assert_eq!(parsed, None, "{text}");
            }
        }
        assert_eq!(parse("29.02.2024"), Some(utc("2024-02-28T23:00:00Z")));
    }

    #[test]
    fn summer_time_starts_and_ends_on_the_last_sundays() {
        // 2025: 30 March and 26 October.
        assert!(!is_summer_time(utc("2025-03-30T00:59:59Z")));
        assert!(is_summer_time(utc("2025-03-30T01:00:00Z")));
        assert!(is_summer_time(utc("2025-10-26T00:59:59Z")));
        assert!(!is_summer_time(utc("2025-10-26T01:00:00Z")));
        // Before 1996 it ended in September.
        assert!(!is_summer_time(utc("1995-10-02T12:00:00Z")));
        assert!(is_summer_time(utc("1996-10-02T12:00:00Z")));
        // Local times around the switches.
        let local = |text: &str| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a test time")
        };
        assert_eq!(
            berlin_to_utc(local("2025-03-30 01:59")),
            utc("2025-03-30T00:59:00Z")
        );
        assert_eq!(
            berlin_to_utc(local("2025-03-30 03:00")),
            utc("2025-03-30T01:00:00Z")
        );
        // 02:30 on 26 October 2025 happens twice: the summer-time one.
        assert_eq!(
            berlin_to_utc(local("2025-10-26 02:30")),
            utc("2025-10-26T00:30:00Z")
        );
        assert_eq!(
            berlin_to_utc(local("2025-10-26 03:30")),
            utc("2025-10-26T02:30:00Z")
        );
        assert_eq!(last_sunday(2021, 3).weekday(), Weekday::Sun);
    }
}
