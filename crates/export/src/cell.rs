//! What a stored value means in a column of a given type: numbers that arrive as text
//! (a report may `CAST(… AS TEXT)`), and ISO dates and datetimes as Excel serial numbers.
//! Strict on purpose: anything that is not exactly one of these forms stays text.

/// A number written as text in a numeric column: `-?digits[.digits][e[+-]digits]`, finite.
/// No `inf`, `NaN`, leading `+`, spaces or thousands separators.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `YYYY-MM-DD` as an Excel serial day (1900 date system), for 1900-01-01 to 9999-12-31.
pub(crate) fn parse_date(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() != 10 {
        return None;
    }
    date_serial(b).map(f64::from)
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (or with `T`) as an Excel serial datetime.
pub(crate) fn parse_datetime(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let day = date_serial(&b[..10])?;
    let hour = two_digits(&b[11..13]).filter(|h| *h < 24)?;
    let min = two_digits(&b[14..16]).filter(|m| *m < 60)?;
    let sec = two_digits(&b[17..19]).filter(|s| *s < 60)?;
    let mut seconds = f64::from(hour * 3600 + min * 60 + sec);
    if b.len() > 19 {
        let frac = &b[20..];
        if b[19] != b'.' || frac.is_empty() || frac.len() > 9 {
            return None;
        }
        if !frac.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Digits only, so this parse cannot fail; `?` keeps it panic-free anyway.
        let fraction: f64 = s.get(19..)?.parse().ok()?;
        seconds += fraction;
    }
    Some(f64::from(day) + seconds / 86_400.0)
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a, c] if a.is_ascii_digit() && c.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(c - b'0'))
        }
        _ => None,
    }
}

/// The Excel serial of a valid `YYYY-MM-DD` in 1900..=9999.
fn date_serial(b: &[u8]) -> Option<u32> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = two_digits(&b[0..2])? * 100 + two_digits(&b[2..4])?;
    let month = two_digits(&b[5..7])?;
    let day = two_digits(&b[8..10])?;
    if !(1900..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > month_days {
        return None;
    }
    let days = days_from_civil(year, month, day) - days_from_civil(1899, 12, 31);
    // Excel counts a 29 February 1900 that never was (Lotus 1-2-3's bug), so every day
    // from 1 March 1900 on is one further than the calendar says.
    let serial = if days >= 60 { days + 1 } else { days };
    u32::try_from(serial).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_text_are_strict() {
        assert_eq!(parse_number("12.50"), Some(12.5));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("1.5E-2"), Some(0.015));
        for bad in [
            "", "-", "+1", " 1", "1 ", "1,000", "1.", ".5", "inf", "NaN", "1e", "0x10", "1e999",
            "=1+2",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dates_match_excel_serials() {
        // Serials as Excel shows them with the cell formatted as General.
        assert_eq!(parse_date("1900-01-01"), Some(1.0));
        assert_eq!(parse_date("1900-02-28"), Some(59.0));
        assert_eq!(parse_date("1900-03-01"), Some(61.0));
        assert_eq!(parse_date("2000-01-01"), Some(36526.0));
        assert_eq!(parse_date("2024-02-29"), Some(45351.0));
        assert_eq!(parse_date("9999-12-31"), Some(2_958_465.0));
        for bad in [
            "1899-12-31",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-1-01",
            "2024/01/01",
            "2024-01-01 ",
            "20240101",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn datetimes_carry_the_time_as_a_fraction_of_the_day() {
        assert_eq!(parse_datetime("2000-01-01 12:00:00"), Some(36526.5));
        assert_eq!(parse_datetime("2000-01-01T06:00:00"), Some(36526.25));
        assert_eq!(
            parse_datetime("2000-01-01 00:00:01.5"),
            Some(36526.0 + 1.5 / 86_400.0)
        );
        assert_eq!(
            parse_datetime("2000-01-01 23:59:59.999999"),
            Some(36526.0 + 86_399.999_999 / 86_400.0)
        );
        for bad in [
            "2000-01-01",
            "2000-01-01 24:00:00",
            "2000-01-01 12:60:00",
            "2000-01-01 12:00:60",
            "2000-01-01 12:00:00.",
            "2000-01-01 12:00:00Z",
            "2000-01-01 12:00:00.1234567890",
            "2000-01-01 1:00:00",
            "2000-02-30 12:00:00",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad:?}");
        }
    }
}
