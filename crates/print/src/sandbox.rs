//! The sandbox print templates run in: a minijinja environment with no loader (so no
//! template can read a file: `include` and `extends` reach only the site's other formats),
//! a fuel budget that stops runaway loops, a recursion limit, a cap on the size of the
//! output, and HTML autoescaping for print formats. Raw formats are not escaped (they
//! produce printer commands); their filters `zpl` and `escpos` keep document data from
//! turning into commands.

use std::io;

use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

/// The budget of one render, in minijinja's fuel (about one unit per instruction).
/// An invoice with a thousand items takes well under a tenth of it; a loop that would not
/// end is stopped in well under a second.
pub const FUEL: u64 = 5_000_000;

/// The most a render may write.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Macros calling macros deeper than this are stopped.
const RECURSION_LIMIT: usize = 64;

/// The environment every print and raw format is compiled into. Templates are named
/// `print/{DocType}/{Name}` (escaped as HTML) and `raw/{DocType}/{Name}` (not escaped).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|name| {
        if name.starts_with("raw/") {
            AutoEscape::None
        } else {
            AutoEscape::Html
        }
    });
    env.add_filter("money", money);
    env.add_filter("fmt_money", money);
    env.add_function("fmt_money", money);
    env.add_filter("number", number);
    env.add_filter("format_date", format_date);
    env.add_function("format_date", format_date);
    env.add_filter("zpl", zpl);
    env.add_filter("escpos", escpos);
    env.add_function("chr", chr);
    env.add_global("ESC", "\x1b");
    env.add_global("GS", "\x1d");
    env.add_global("LF", "\n");
    env
}

/// `1234.5|money` → `1,234.50`; `money(1234.5, currency="EUR")` → `EUR 1,234.50`;
/// `precision=0` for whole amounts. Missing values print as nothing.
fn money(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let currency: Option<String> = kwargs.get("currency")?;
    let precision: Option<u32> = kwargs.get("precision")?;
    kwargs.assert_all_used()?;
    if value.is_undefined() || value.is_none() {
        return Ok(String::new());
    }
    let amount = match f64::try_from(value.clone()) {
        Ok(n) => n,
        Err(_) => match value.as_str().map(str::trim).map(str::parse::<f64>) {
            Some(Ok(n)) => n,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("money: {value} is not an amount"),
                ));
            }
        },
    };
    let text = group_thousands(amount, precision.unwrap_or(2).min(6));
    Ok(match currency {
        Some(c) if !c.is_empty() => format!("{c} {text}"),
        _ => text,
    })
}

/// `1234567.891` with precision 2 → `1,234,567.89` (a negative sign only when the rounded
/// amount is not zero).
pub fn group_thousands(amount: f64, precision: u32) -> String {
    let fixed = format!("{:.*}", precision as usize, amount.abs());
    let (whole, fraction) = match fixed.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (fixed.as_str(), None),
    };
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let negative = amount < 0.0 && fixed.chars().any(|c| c.is_ascii_digit() && c != '0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&grouped);
    if let Some(f) = fraction {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// `3.0|number` → `3`, `2.5|number` → `2.5`: a quantity without needless decimals.
fn number(value: Value) -> Value {
    match f64::try_from(value.clone()) {
        Ok(n) if n.fract() == 0.0 && n.abs() < 1e15 => Value::from(n as i64),
        _ => value,
    }
}

/// `doc.posting_date|format_date` → `29-11-2026` (ERPNext's default `dd-mm-yyyy`);
/// `format_date(d, "yyyy/mm/dd")` for another order. Takes `YYYY-MM-DD` text or the date
/// part of a datetime; anything else is printed as it is.
fn format_date(value: Value, format: Option<String>) -> String {
    let Some(text) = value.as_str().map(str::to_owned) else {
        return if value.is_undefined() || value.is_none() {
            String::new()
        } else {
            value.to_string()
        };
    };
    let date = text.get(..10).unwrap_or("");
    let parts: Vec<&str> = date.split('-').collect();
    let is_date = parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_digit()));
    if !is_date {
        return text;
    }
    format
        .as_deref()
        .unwrap_or("dd-mm-yyyy")
        .replace("yyyy", parts[0])
        .replace("mm", parts[1])
        .replace("dd", parts[2])
}

/// Document data made safe inside a ZPL field: `^` and `~` (which start commands) and
/// control characters become spaces, so a customer named `^XA…` prints as text.
fn zpl(value: Value) -> String {
    printable(value)
        .chars()
        .map(|c| if c == '^' || c == '~' { ' ' } else { c })
        .collect()
}

/// Document data made safe inside ESC/POS output: control characters (which start
/// commands) become spaces.
fn escpos(value: Value) -> String {
    printable(value)
}

fn printable(value: Value) -> String {
    if value.is_undefined() || value.is_none() {
        return String::new();
    }
    value
        .to_string()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `chr(29)` → the character with that code, for printer commands: codes 1 to 127 (above
/// 127 would not be one byte; 0 cannot be recorded as text, and ESC/POS commands that
/// take 0 also take `'0'`, code 48).
fn chr(code: u32) -> Result<String, Error> {
    match char::from_u32(code) {
        Some(c) if (1..128).contains(&code) => Ok(c.to_string()),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "chr({code}): only codes 1 to 127 are allowed (one byte each; where a command takes 0, ESC/POS also takes '0', code 48)"
            ),
        )),
    }
}

/// A writer that refuses to grow past [`MAX_OUTPUT`].
pub(crate) struct CappedOutput {
    pub bytes: Vec<u8>,
    pub overflowed: bool,
}

impl CappedOutput {
    pub fn new() -> Self {
        Self {
            bytes: Vec::new(),
            overflowed: false,
        }
    }
}

impl io::Write for &mut CappedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT {
            self.overflowed = true;
            return Err(io::Error::other("the output is too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, ctx: Value) -> Result<String, Error> {
        let mut env = environment();
        env.add_template_owned("raw/T/x", source.to_owned())?;
        env.get_template("raw/T/x")?.render(ctx)
    }

    #[test]
    fn money_groups_thousands_and_keeps_the_sign() {
        let v = |s: &str| render(s, Value::UNDEFINED).unwrap();
        assert_eq!(v("{{ 1234567.891|money }}"), "1,234,567.89");
        assert_eq!(v("{{ -1234.5|money }}"), "-1,234.50");
        assert_eq!(v("{{ -0.001|money }}"), "0.00");
        assert_eq!(v("{{ 999|money(precision=0) }}"), "999");
        assert_eq!(v("{{ fmt_money(12, currency='EUR') }}"), "EUR 12.00");
        assert_eq!(v("{{ '7.5'|money }}"), "7.50");
        assert_eq!(v("{{ none|money }}"), "");
        assert_eq!(
            v("{{ 3.0|number }} {{ 2.5|number }} {{ 'x'|number }}"),
            "3 2.5 x"
        );
        assert!(render("{{ 'abc'|money }}", Value::UNDEFINED).is_err());
    }

    #[test]
    fn dates_are_formatted_day_first_by_default() {
        let v = |s: &str| render(s, Value::UNDEFINED).unwrap();
        assert_eq!(v("{{ '2026-11-29'|format_date }}"), "29-11-2026");
        assert_eq!(
            v("{{ '2026-11-29 10:00:00'|format_date('yyyy/mm/dd') }}"),
            "2026/11/29"
        );
        assert_eq!(v("{{ 'soon'|format_date }}"), "soon");
    }

    #[test]
    fn printer_filters_keep_data_from_becoming_commands() {
        let v = |s: &str| render(s, Value::UNDEFINED).unwrap();
        assert_eq!(v("{{ '^XA~JA\tx'|zpl }}"), " XA JA x");
        assert_eq!(v("{{ 'a\x1bb'|escpos }}"), "a b");
        assert_eq!(v("{{ ESC }}@{{ chr(10) }}"), "\x1b@\n");
        assert!(render("{{ chr(200) }}", Value::UNDEFINED).is_err());
        assert!(render("{{ chr(0) }}", Value::UNDEFINED).is_err());
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let err = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
            Value::UNDEFINED,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfFuel, "{err}");
    }

    #[test]
    fn no_template_can_read_a_file() {
        for source in [
            "{% include '/etc/passwd' %}",
            "{% extends '../../site.toml' %}",
            "{% import 'keys/log.key' as k %}",
        ] {
            let err = render(source, Value::UNDEFINED).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TemplateNotFound, "{source}: {err}");
        }
    }
}
