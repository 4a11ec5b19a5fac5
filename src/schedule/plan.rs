//! When a source is fetched next: a pure function of its schedule, its past
//! and the time, so every rule below is tested without a clock or a network.
//!
//! Rules, in the order they apply:
//! * A source that answered `410 Gone` is not polled again (until `fetch --force`
//!   or a new `url`).
//! * The cron schedule gives the fire times; a per-source offset within the
//!   jitter window (stable: a hash of the id) keeps sources that share a
//!   schedule from firing together. The next fetch is the first fire time
//!   plus offset at least half an interval after the last attempt.
//! * After `n` consecutive errors the source waits at least `interval × 2ⁿ`
//!   since its last attempt, at most a day (or the interval, if longer); the
//!   first success resets `n` and the plain schedule applies again.
//! * Never before the server's `Retry-After`, nor before the time its feed
//!   said it stays fresh (`<ttl>`, `Cache-Control: max-age`).
//! * A source never fetched, or overdue (after a start, or a fetch that took
//!   longer than its interval), is due now; [`spread_overdue`] spreads a
//!   crowd of them so they are not all fetched at once.

use std::str::FromStr;
use std::time::Duration;

use chrono::{Local, TimeZone};

use crate::time::{duration_secs, secs_duration, whole_secs};

/// The longest wait an error backoff imposes (unless the schedule itself is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

/// The largest jitter window a percentage gives.
pub const MAX_JITTER: Duration = Duration::from_secs(5 * 60);

/// Overdue sources are spread over at least this long.
pub const MIN_CATCH_UP: Duration = Duration::from_secs(60);

/// A cron expression with a seconds field, in the machine's local time.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    schedule: cron::Schedule,
}

impl CronSchedule {
    /// Parses six or seven fields (seconds first, optional year). A classic
    /// five-field crontab line is accepted too and fires at second 0. The
    /// error names the field, the value and what the field allows (the
    /// expression itself is for the caller to show, with where it is).
    pub fn parse(expression: &str) -> Result<CronSchedule, String> {
        let trimmed = expression.trim();
        let fields = trimmed.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {trimmed}"),
            6 | 7 => trimmed.to_owned(),
            n => {
                return Err(format!(
                    "it has {n} field(s); a schedule has six: second minute hour \
                     day-of-month month day-of-week, e.g. \"0 */15 * * * *\" (every 15 minutes)"
                ));
            }
        };
        check_fields(&full)?;
        let schedule = cron::Schedule::from_str(&weekdays_for_the_crate(&full))
            .map_err(|err| format!("not a valid cron expression: {err}"))?;
        let parsed = CronSchedule {
            expression: trimmed.to_owned(),
            schedule,
        };
        if parsed.next_after(0).is_none() {
            return Err("it never fires (no such date)".into());
        }
        Ok(parsed)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first fire time strictly after `time` (seconds since the epoch).
    pub fn next_after(&self, time: i64) -> Option<i64> {
        let start = Local.timestamp_opt(time, 0).earliest()?;
        self.schedule
            .after(&start)
            .next()
            .map(|fire| fire.timestamp())
    }

    /// The gap between the two fire times that follow `time`: the interval
    /// that jitter and backoff scale with. At least one second.
    pub fn interval_after(&self, time: i64) -> Duration {
        let mut fires = match Local.timestamp_opt(time, 0).earliest() {
            Some(start) => self.schedule.after(&start),
            None => return Duration::from_secs(1),
        };
        match (fires.next(), fires.next()) {
            (Some(a), Some(b)) => secs_duration((b.timestamp() - a.timestamp()).max(1)),
            _ => MAX_BACKOFF,
        }
    }
}

/// One field of a cron expression: its name, the numbers it takes and the
/// names it knows (lower case).
struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
    /// What to write, when a value is not one the field takes.
    allowed: &'static str,
}

const MONTH_NAMES: &[(&str, u32)] = &[
    ("jan", 1),
    ("january", 1),
    ("feb", 2),
    ("february", 2),
    ("mar", 3),
    ("march", 3),
    ("apr", 4),
    ("april", 4),
    ("may", 5),
    ("jun", 6),
    ("june", 6),
    ("jul", 7),
    ("july", 7),
    ("aug", 8),
    ("august", 8),
    ("sep", 9),
    ("september", 9),
    ("oct", 10),
    ("october", 10),
    ("nov", 11),
    ("november", 11),
    ("dec", 12),
    ("december", 12),
];

/// Days as crontab numbers them, from Sunday = 0 (7 is Sunday too). The
/// cron crate counts from Sunday = 1, so a classic "1-5" would run Sunday
/// to Thursday there: [`weekdays_for_the_crate`] hands it names instead.
const DAY_NAMES: &[(&str, u32)] = &[
    ("sun", 0),
    ("sunday", 0),
    ("mon", 1),
    ("monday", 1),
    ("tue", 2),
    ("tues", 2),
    ("tuesday", 2),
    ("wed", 3),
    ("wednesday", 3),
    ("thu", 4),
    ("thurs", 4),
    ("thursday", 4),
    ("fri", 5),
    ("friday", 5),
    ("sat", 6),
    ("saturday", 6),
];

/// The index of the day-of-week field in a full expression.
const WEEKDAY_FIELD: usize = 5;

/// The fields of a full expression, seconds first.
const CRON_FIELDS: [CronField; 7] = [
    CronField {
        name: "second",
        min: 0,
        max: 59,
        names: &[],
        allowed: "0–59",
    },
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        allowed: "0–59",
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        allowed: "0–23",
    },
    CronField {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        allowed: "1–31",
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: MONTH_NAMES,
        allowed: "1–12 or Jan–Dec",
    },
    CronField {
        name: "day of week",
        min: 0,
        max: 7,
        names: DAY_NAMES,
        allowed: "Mon–Sun, or 0–7 as in crontab: 1 is Monday, 0 and 7 are Sunday",
    },
    CronField {
        name: "year",
        min: 1970,
        max: 2100,
        names: &[],
        allowed: "1970–2100",
    },
];

/// Checks each field's values against its range before the cron crate
/// reads them, so that an error names the field, the value and the range
/// (the crate says "Hours must be less than 23" of an hour of 24). What
/// this does not recognize is left to the crate.
fn check_fields(full: &str) -> Result<(), String> {
    for (text, field) in full.split_whitespace().zip(&CRON_FIELDS) {
        for part in text.split(',') {
            let (base, step) = match part.split_once('/') {
                Some((base, step)) => (base, Some(step)),
                None => (part, None),
            };
            if let Some(step) = step {
                match step.parse::<u32>() {
                    Ok(n) if (1..=field.max).contains(&n) => {}
                    Ok(n) => {
                        return Err(format!(
                            "{} step {n} is out of range (1–{})",
                            field.name, field.max
                        ));
                    }
                    Err(_) => {
                        return Err(format!(
                            "{} step `{step}` is not a number; write e.g. */15",
                            field.name
                        ));
                    }
                }
            }
            if base == "*" || base == "?" {
                continue;
            }
            let (first, last) = match base.split_once('-') {
                Some((first, last)) => (first, Some(last)),
                None => (base, None),
            };
            let first = field_value(field, first)?;
            if let Some(last) = last {
                let last = range_end(field, field_value(field, last)?);
                if let (Some(first), Some(last)) = (first, last)
                    && first > last
                {
                    return Err(format!(
                        "{} range `{base}` runs backwards; write the earlier value first",
                        field.name
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The last value of a range: Sunday ends a week ("Mon-Sun" is 1-7).
fn range_end(field: &CronField, value: Option<u32>) -> Option<u32> {
    match value {
        Some(0) if field.name == "day of week" => Some(7),
        other => other,
    }
}

/// The day-of-week field of a full expression rewritten for the cron
/// crate: every day the user's field names (in crontab's numbering, see
/// [`DAY_NAMES`]) written out as a name ("1-5" → "Mon,Tue,Wed,Thu,Fri"),
/// which the crate reads as the user meant. Parts it does not recognize
/// are left to the crate.
fn weekdays_for_the_crate(full: &str) -> String {
    const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let field = &CRON_FIELDS[WEEKDAY_FIELD];
    let mut fields: Vec<String> = full.split_whitespace().map(str::to_owned).collect();
    let Some(weekdays) = fields
        .get(WEEKDAY_FIELD)
        .filter(|w| !matches!(w.as_str(), "*" | "?"))
    else {
        return full.to_owned();
    };
    let mut days: Vec<&str> = Vec::new();
    for part in weekdays.split(',') {
        let (base, step) = match part.split_once('/') {
            Some((base, step)) => (base, step.parse::<usize>().ok()),
            None => (part, Some(1)),
        };
        let range = match base {
            "*" | "?" => Some((0, 6)),
            _ => match base.split_once('-') {
                Some((first, last)) => field_value(field, first)
                    .ok()
                    .flatten()
                    .zip(range_end(field, field_value(field, last).ok().flatten())),
                None => field_value(field, base)
                    .ok()
                    .flatten()
                    .map(|day| (day, if part.contains('/') { 6 } else { day })),
            },
        };
        let (Some((first, last)), Some(step)) = (range, step.filter(|&n| n > 0)) else {
            return full.to_owned();
        };
        for day in (first..=last).step_by(step) {
            let name = NAMES[day as usize % 7];
            if !days.contains(&name) {
                days.push(name);
            }
        }
    }
    fields[WEEKDAY_FIELD] = days.join(",");
    fields.join(" ")
}

/// A field's value as a number, or `None` for what only the crate knows.
fn field_value(field: &CronField, text: &str) -> Result<Option<u32>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(n) if (field.min..=field.max).contains(&n) => Ok(Some(n)),
            _ => Err(format!(
                "{} {text} is out of range ({})",
                field.name, field.allowed
            )),
        };
    }
    if text.bytes().all(|b| b.is_ascii_alphabetic()) {
        let lower = text.to_ascii_lowercase();
        return match field.names.iter().find(|(name, _)| *name == lower) {
            Some((_, n)) => Ok(Some(*n)),
            None => Err(format!(
                "{} `{text}` is not one the field takes ({})",
                field.name, field.allowed
            )),
        };
    }
    Ok(None)
}

/// `[fetch] jitter`: a share of the interval or a fixed window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    /// This share of the interval (0.0–1.0), at most [`MAX_JITTER`].
    Share(f64),
    Fixed(Duration),
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter::Share(0.10)
    }
}

impl Jitter {
    /// The window for a schedule of this interval; always less than half the
    /// interval, so an offset never pushes a fetch past the next fire time.
    pub fn window(self, interval: Duration) -> Duration {
        let wanted = match self {
            Jitter::Share(share) => interval.mul_f64(share.clamp(0.0, 1.0)).min(MAX_JITTER),
            Jitter::Fixed(window) => window,
        };
        wanted.min(interval / 2)
    }
}

/// How one source is scheduled.
#[derive(Debug, Clone)]
pub struct Timing {
    pub schedule: CronSchedule,
    pub jitter: Jitter,
}

/// What the plan needs to know of a source's past (times in seconds since the epoch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTimes {
    pub last_attempt: Option<i64>,
    pub consecutive_errors: u32,
    pub retry_after: Option<i64>,
    /// Until when the feed said it stays fresh (`<ttl>`, `max-age`).
    pub fresh_until: Option<i64>,
    /// Polling stopped: the server said `410 Gone`.
    pub gone: bool,
}

/// When a source is fetched next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    At(i64),
    /// Not again (`410 Gone`).
    Stopped,
}

/// A fraction in [0, 1) that stays the same for a source id across runs and
/// machines (FNV-1a), so its jitter offset does not move with each restart.
pub fn stable_fraction(id: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV's last bytes barely reach the high bits: ids that differ only at
    // the end (`stadt-1`, `stadt-2`) would get nearly the same offset. A
    // finalizer (MurmurHash3's) spreads every bit over the whole word.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    // The top 53 bits make an exact f64 in [0, 1).
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// The jitter offset of a source, in whole seconds.
pub fn jitter_offset(id: &str, window: Duration) -> i64 {
    whole_secs(stable_fraction(id) * window.as_secs_f64().floor())
}

/// How long `errors` consecutive errors make a source wait after its last
/// attempt: doubling with each error, capped at a day (or at the interval,
/// when the schedule itself is longer than a day).
pub fn backoff(interval: Duration, errors: u32) -> Duration {
    if errors == 0 {
        return Duration::ZERO;
    }
    let cap = MAX_BACKOFF.max(interval);
    let factor = 2u32.saturating_pow(errors.min(31));
    interval.saturating_mul(factor).min(cap)
}

/// When the source is fetched next, seen at `now`.
pub fn next_fetch(timing: &Timing, id: &str, times: &SourceTimes, now: i64) -> Next {
    if times.gone {
        return Next::Stopped;
    }
    let Some(last) = times.last_attempt else {
        return Next::At(now);
    };
    let interval = timing.schedule.interval_after(last);
    let offset = jitter_offset(id, timing.jitter.window(interval));
    // The first fire time (moved by the offset) at least half an interval
    // after the last attempt: an attempt on the grid is followed by the next
    // slot, and one off the grid (a catch-up after a start) is not followed
    // by another moments later. The offset does not accumulate. At least a
    // second after it, though: times are whole seconds, and a schedule that
    // fires every second would otherwise find the last attempt's own second
    // due again, and poll as fast as the server answers.
    let earliest = last.saturating_add((duration_secs(interval) / 2).max(1));
    let Some(fire) = timing.schedule.next_after(earliest - offset - 1) else {
        return Next::Stopped;
    };
    let mut due = fire + offset;
    due = due.max(last.saturating_add(duration_secs(backoff(interval, times.consecutive_errors))));
    if let Some(retry_after) = times.retry_after {
        due = due.max(retry_after);
    }
    if let Some(fresh_until) = times.fresh_until {
        due = due.max(fresh_until);
    }
    Next::At(due.max(now))
}

/// Spreads the sources due at or before `now` over the time from `now` on,
/// the longest overdue first; later ones keep their time. Each source's slot
/// lies within its own catch-up window (`window_of` its index): the `k`-th of
/// `n` overdue sources goes at `now + k/n` of its window, so sources with one
/// window go evenly spaced, and one polled every few seconds still catches
/// up within its own interval, however long the others' windows are. After
/// a start (or a long pause) this turns a crowd of overdue sources into a
/// steady trickle instead of one burst.
pub fn spread_overdue(due: &mut [(i64, usize)], now: i64, window_of: impl Fn(usize) -> Duration) {
    let mut overdue: Vec<&mut (i64, usize)> = due.iter_mut().filter(|(at, _)| *at <= now).collect();
    if overdue.len() < 2 {
        return;
    }
    overdue.sort_by_key(|(at, index)| (*at, *index));
    let count = overdue.len() as f64;
    for (slot, entry) in overdue.into_iter().enumerate() {
        let window = window_of(entry.1).as_secs_f64();
        entry.0 = now + whole_secs(slot as f64 * window / count);
    }
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "small made-up counts"
)]
mod tests {
    use super::*;

    fn timing(expression: &str) -> Timing {
        Timing {
            schedule: CronSchedule::parse(expression).unwrap(),
            jitter: Jitter::default(),
        }
    }

    /// 2025-11-24 16:00 UTC: on a quarter hour in every time zone.
    const T0: i64 = 1_764_000_000;

    #[test]
    fn cron_expressions() {
        let every_15 = CronSchedule::parse("0 */15 * * * *").unwrap();
        assert_eq!(every_15.next_after(T0), Some(T0 + 900));
        assert_eq!(every_15.next_after(T0 + 1), Some(T0 + 900));
        assert_eq!(every_15.interval_after(T0), Duration::from_secs(900));
        let crontab = CronSchedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            crontab.next_after(T0),
            Some(T0 + 300),
            "five fields fire at second 0"
        );
        let every_second = CronSchedule::parse("* * * * * *").unwrap();
        assert_eq!(every_second.next_after(T0), Some(T0 + 1));

        let err = CronSchedule::parse("*/15 * * *").unwrap_err();
        assert!(
            err.contains("4 field(s)") && err.contains("0 */15 * * * *"),
            "{err}"
        );
        let err = CronSchedule::parse("0 */15 * * * Mittwoch").unwrap_err();
        assert_eq!(
            err,
            "day of week `Mittwoch` is not one the field takes (Mon–Sun, or 0–7 as in crontab: 1 is Monday, 0 and 7 are Sunday)"
        );
        let err = CronSchedule::parse("0 0 0 30 2 * *").unwrap_err();
        assert!(err.contains("never fires"), "{err}");
    }

    #[test]
    fn cron_errors_name_the_field_and_its_range() {
        for (expression, message) in [
            ("0 24 * * *", "hour 24 is out of range (0–23)"),
            ("0 0 24 * * *", "hour 24 is out of range (0–23)"),
            ("60 * * * *", "minute 60 is out of range (0–59)"),
            ("60 * * * * *", "second 60 is out of range (0–59)"),
            ("0 0 0 0 * *", "day of month 0 is out of range (1–31)"),
            ("0 0 0 1 13 *", "month 13 is out of range (1–12 or Jan–Dec)"),
            (
                "0 0 0 * Mrz *",
                "month `Mrz` is not one the field takes (1–12 or Jan–Dec)",
            ),
            (
                "0 0 0 * * 8",
                "day of week 8 is out of range (Mon–Sun, or 0–7 as in crontab: 1 is Monday, 0 and 7 are Sunday)",
            ),
            ("0 0 0 * * * 1969", "year 1969 is out of range (1970–2100)"),
            ("0 0 8-25 * * *", "hour 25 is out of range (0–23)"),
            (
                "0 0 22-6 * * *",
                "hour range `22-6` runs backwards; write the earlier value first",
            ),
            ("0 */0 * * * *", "minute step 0 is out of range (1–59)"),
            (
                "0 */x * * * *",
                "minute step `x` is not a number; write e.g. */15",
            ),
            ("0 0,15,99 * * * *", "minute 99 is out of range (0–59)"),
        ] {
            assert_eq!(
                CronSchedule::parse(expression).unwrap_err(),
                message,
                "{expression}"
            );
        }
        for fine in [
            "0 0 6-22 * * Mon-Fri",
            "0 0 9 * JAN-mar Sun",
            "0 0/30 * * * ?",
            "0 0 0 29 2 * 2028",
        ] {
            assert!(CronSchedule::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn weekdays_count_as_in_crontab() {
        use chrono::{Datelike, TimeZone, Weekday};
        let days_of = |expression: &str| {
            let schedule = CronSchedule::parse(expression).unwrap();
            let mut days = std::collections::BTreeSet::new();
            let mut at = T0;
            for _ in 0..14 {
                at = schedule.next_after(at).unwrap();
                let local = chrono::Local.timestamp_opt(at, 0).unwrap();
                days.insert(local.weekday().num_days_from_monday());
            }
            days.into_iter().collect::<Vec<u32>>()
        };
        let workdays = vec![0, 1, 2, 3, 4];
        assert_eq!(
            days_of("0 9 * * 1-5"),
            workdays,
            "crontab's Monday to Friday"
        );
        assert_eq!(days_of("0 0 9 * * Mon-Fri"), workdays);
        assert_eq!(days_of("0 9 * * 0"), vec![6], "0 is Sunday");
        assert_eq!(days_of("0 9 * * 7"), vec![6], "so is 7");
        assert_eq!(days_of("0 9 * * Sat-Sun"), vec![5, 6]);
        assert_eq!(days_of("0 9 * * 1,3,5"), vec![0, 2, 4]);
        assert_eq!(
            days_of("0 9 * * */2"),
            vec![1, 3, 5, 6],
            "Sun, Tue, Thu, Sat"
        );
        assert_eq!(days_of("0 9 * * *").len(), 7);
        assert_eq!(Weekday::Mon.num_days_from_monday(), 0);
        assert_eq!(
            weekdays_for_the_crate("0 0 9 * * 1-5"),
            "0 0 9 * * Mon,Tue,Wed,Thu,Fri"
        );
    }

    #[test]
    fn a_schedule_of_every_second_polls_once_a_second() {
        let t = timing("* * * * * *");
        for (errors, last) in [(0, T0), (0, T0 + 7), (1, T0)] {
            let times = SourceTimes {
                last_attempt: Some(last),
                consecutive_errors: errors,
                ..SourceTimes::default()
            };
            for now in [last, last + 1] {
                let Next::At(due) = next_fetch(&t, "quelle", &times, now) else {
                    panic!("every second never stops");
                };
                assert!(
                    due > last,
                    "attempted at {last}, due again at {due} (now {now}, {errors} errors)"
                );
            }
        }
    }

    #[test]
    fn jitter_stays_within_its_window_and_spreads_sources() {
        let window = Jitter::default().window(Duration::from_secs(900));
        assert_eq!(window, Duration::from_secs(90), "10% of 15 minutes");
        assert_eq!(
            Jitter::default().window(Duration::from_secs(24 * 3600)),
            MAX_JITTER,
            "at most 5 minutes"
        );
        assert_eq!(
            Jitter::Fixed(Duration::from_secs(600)).window(Duration::from_secs(60)),
            Duration::from_secs(30),
            "never half an interval or more"
        );
        let t = timing("0 */15 * * * *");
        let mut offsets = Vec::new();
        for n in 0..200 {
            let id = format!("quelle-{n}");
            let times = SourceTimes {
                last_attempt: Some(T0),
                ..SourceTimes::default()
            };
            let Next::At(due) = next_fetch(&t, &id, &times, T0) else {
                panic!("a source that is not gone has a next time");
            };
            let offset = due - (T0 + 900);
            assert!((0..90).contains(&offset), "{id}: offset {offset}");
            assert_eq!(offset, jitter_offset(&id, window), "the offset is stable");
            offsets.push(offset);
        }
        offsets.sort_unstable();
        offsets.dedup();
        assert!(
            offsets.len() > 60,
            "200 sources use most of the 90 s: {}",
            offsets.len()
        );
        // Attempts made at the offset time do not drift: the next one is a
        // whole interval later.
        let id = "kommune21";
        let offset = jitter_offset(id, window);
        let times = SourceTimes {
            last_attempt: Some(T0 + 900 + offset),
            ..SourceTimes::default()
        };
        assert_eq!(
            next_fetch(&t, id, &times, T0 + 900 + offset),
            Next::At(T0 + 1800 + offset)
        );
    }

    #[test]
    fn errors_back_off_doubling_up_to_a_day_and_recover() {
        let interval = Duration::from_secs(900);
        assert_eq!(backoff(interval, 0), Duration::ZERO);
        assert_eq!(backoff(interval, 1), Duration::from_secs(1800));
        assert_eq!(backoff(interval, 2), Duration::from_secs(3600));
        assert_eq!(backoff(interval, 6), Duration::from_secs(57_600));
        assert_eq!(backoff(interval, 7), MAX_BACKOFF);
        assert_eq!(backoff(interval, u32::MAX), MAX_BACKOFF);
        let weekly = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(
            backoff(weekly, 3),
            weekly,
            "a long schedule is not shortened"
        );

        let t = Timing {
            schedule: CronSchedule::parse("0 */15 * * * *").unwrap(),
            jitter: Jitter::Fixed(Duration::ZERO),
        };
        let failing = |errors| SourceTimes {
            last_attempt: Some(T0),
            consecutive_errors: errors,
            ..SourceTimes::default()
        };
        assert_eq!(next_fetch(&t, "a", &failing(1), T0), Next::At(T0 + 1800));
        assert_eq!(next_fetch(&t, "a", &failing(3), T0), Next::At(T0 + 7200));
        assert_eq!(next_fetch(&t, "a", &failing(40), T0), Next::At(T0 + 86_400));
        // Recovery: a success resets the count, and the schedule applies again.
        assert_eq!(next_fetch(&t, "a", &failing(0), T0), Next::At(T0 + 900));
    }

    #[test]
    fn retry_after_fresh_until_and_gone() {
        let t = Timing {
            schedule: CronSchedule::parse("0 */15 * * * *").unwrap(),
            jitter: Jitter::Fixed(Duration::ZERO),
        };
        let base = SourceTimes {
            last_attempt: Some(T0),
            ..SourceTimes::default()
        };
        let later = SourceTimes {
            retry_after: Some(T0 + 4000),
            ..base.clone()
        };
        assert_eq!(next_fetch(&t, "a", &later, T0), Next::At(T0 + 4000));
        let sooner = SourceTimes {
            retry_after: Some(T0 + 60),
            ..base.clone()
        };
        assert_eq!(
            next_fetch(&t, "a", &sooner, T0),
            Next::At(T0 + 900),
            "a Retry-After sooner than the schedule does not make us poll sooner"
        );
        let ttl = SourceTimes {
            fresh_until: Some(T0 + 3600),
            ..base.clone()
        };
        assert_eq!(next_fetch(&t, "a", &ttl, T0), Next::At(T0 + 3600));
        let short_ttl = SourceTimes {
            fresh_until: Some(T0 + 300),
            ..base.clone()
        };
        assert_eq!(next_fetch(&t, "a", &short_ttl, T0), Next::At(T0 + 900));
        let gone = SourceTimes {
            gone: true,
            ..base.clone()
        };
        assert_eq!(next_fetch(&t, "a", &gone, T0), Next::Stopped);
        let never = SourceTimes::default();
        assert_eq!(
            next_fetch(&t, "a", &never, T0 + 5),
            Next::At(T0 + 5),
            "never fetched: now"
        );
        assert_eq!(
            next_fetch(&t, "a", &base, T0 + 10_000),
            Next::At(T0 + 10_000),
            "overdue: now, not in the past"
        );
    }

    #[test]
    fn overdue_sources_are_spread_out() {
        let now = T0;
        let mut due: Vec<(i64, usize)> = (0..10).map(|i| (now - 1000 + i as i64, i)).collect();
        due.push((now + 500, 10));
        spread_overdue(&mut due, now, |_| Duration::from_secs(100));
        let mut times: Vec<i64> = due[..10].iter().map(|(at, _)| *at).collect();
        assert_eq!(times[0], now, "the longest overdue goes first");
        times.sort_unstable();
        assert_eq!(times, (0..10).map(|i| now + i * 10).collect::<Vec<_>>());
        assert_eq!(
            due[10],
            (now + 500, 10),
            "a source not yet due keeps its time"
        );
        let mut single = vec![(now - 5, 0)];
        spread_overdue(&mut single, now, |_| Duration::from_secs(100));
        assert_eq!(
            single,
            vec![(now - 5, 0)],
            "one overdue source goes at once"
        );
    }

    #[test]
    fn each_overdue_source_catches_up_within_its_own_window() {
        let now = T0;
        // Nine sources with a 10-minute window, one polled every 2 seconds.
        let mut due: Vec<(i64, usize)> = (0..10).map(|i| (now - 100 + i as i64, i)).collect();
        let window = |index: usize| Duration::from_secs(if index == 9 { 2 } else { 600 });
        spread_overdue(&mut due, now, window);
        assert!(due[9].0 < now + 2, "the fast source: {:?}", due[9]);
        for &(at, index) in &due[..9] {
            assert!((now..now + 600).contains(&at), "{index} at {at}");
        }
    }
}
