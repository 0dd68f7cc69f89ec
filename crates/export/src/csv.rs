//! CSV as RFC 4180 has it (comma, CRLF, `"`-quoting), UTF-8 with a BOM so spreadsheets
//! pick the right encoding, and text that a spreadsheet would run as a formula defused.
//!
//! The hot loop writes straight into a large `BufWriter`; the only per-cell work is the
//! scan for characters that need quoting and, for numbers, `itoa` or float formatting on
//! the stack.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use accesslog_core::doctype::FieldType;
use accesslog_store::SqlValue;

use crate::cell;
use accesslog_core::digest::HashingWriter;

const BUFFER_BYTES: usize = 256 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";

pub(crate) struct CsvWriter {
    out: BufWriter<HashingWriter<File>>,
    numeric: Vec<bool>,
}

impl CsvWriter {
    pub(crate) fn new(file: File, labels: &[&str], fieldtypes: &[FieldType]) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, HashingWriter::new(file));
        out.write_all(BOM)?;
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write_text(&mut out, label, true)?;
        }
        out.write_all(b"\r\n")?;
        let numeric = fieldtypes.iter().map(|t| t.is_numeric()).collect();
        Ok(CsvWriter { out, numeric })
    }

    /// One record; the caller has checked that it has one value per column.
    pub(crate) fn write_row(&mut self, row: &[SqlValue]) -> io::Result<()> {
        let out = &mut self.out;
        for (i, (value, numeric)) in row.iter().zip(&self.numeric).enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            match value {
                SqlValue::Null => {}
                SqlValue::Int(n) => out.write_all(itoa::Buffer::new().format(*n).as_bytes())?,
                SqlValue::Float(f) => write_float(out, *f)?,
                // A number a report cast to text is still a number, not a formula: leave
                // `-5` alone in an amount column. Any other text is defused.
                SqlValue::Text(s) => {
                    let defuse = !(*numeric && cell::parse_number(s).is_some());
                    write_text(out, s, defuse)?;
                }
            }
        }
        out.write_all(b"\r\n")
    }

    /// Flushes and returns the byte count and SHA-256 of the whole file.
    pub(crate) fn finish(self) -> io::Result<(u64, String)> {
        let hashing = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        let (_file, bytes, digest) = hashing.finish()?;
        Ok((bytes, digest))
    }
}

/// Rust's shortest round-trip form (`{}`), never an exponent; nothing for inf and NaN,
/// which no spreadsheet reads back as a number.
///
/// zmij is several times faster than `fmt`, but it writes `5.0` for 5, switches to an
/// exponent for very large or small numbers, and breaks ties between two 17-digit forms
/// the other way (`…797.2` where `fmt` writes `…797.3`). So its answer is used only when
/// it has no exponent and at most 15 significant digits: any two decimals that short are
/// different doubles (f64 holds 15 digits exactly), so a form that short is the only one
/// of its length and both must find it. Money always qualifies; the rest goes to `fmt`.
fn write_float<W: Write>(out: &mut W, f: f64) -> io::Result<()> {
    if !f.is_finite() {
        return Ok(());
    }
    let mut buffer = zmij::Buffer::new();
    let s = buffer.format_finite(f);
    if s.bytes().any(|b| b == b'e') || significant_digits(s) > 15 {
        return write!(out, "{f}");
    }
    out.write_all(s.strip_suffix(".0").unwrap_or(s).as_bytes())
}

/// Digits from the first non-zero one on (trailing zeros included, which only errs towards
/// the slow path).
fn significant_digits(s: &str) -> usize {
    s.bytes()
        .skip_while(|b| matches!(b, b'-' | b'0' | b'.'))
        .filter(u8::is_ascii_digit)
        .count()
}

/// Quotes the field when it holds `,` `"` CR or LF, doubling inner quotes; with `defuse`,
/// puts `'` before a leading `=` `+` `-` `@` TAB or CR so a spreadsheet shows the text
/// instead of running it (OWASP's advice for CSV injection).
fn write_text<W: Write>(out: &mut W, s: &str, defuse: bool) -> io::Result<()> {
    let bytes = s.as_bytes();
    let prefix = defuse
        && matches!(
            bytes.first(),
            Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
        );
    if !needs_quotes(bytes) {
        if prefix {
            out.write_all(b"'")?;
        }
        return out.write_all(bytes);
    }
    out.write_all(if prefix { b"\"'" } else { b"\"" })?;
    let mut parts = bytes.split(|b| *b == b'"');
    if let Some(first) = parts.next() {
        out.write_all(first)?;
    }
    for part in parts {
        out.write_all(b"\"\"")?;
        out.write_all(part)?;
    }
    out.write_all(b"\"")
}

/// Whether the field holds `,` `"` CR or LF. Eight bytes at a time (a zero-byte test on
/// the word XORed with each character): this scan is the CSV writer's hottest loop.
fn needs_quotes(bytes: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has = |word: u64, c: u8| {
        let x = word ^ (LO * u64::from(c));
        x.wrapping_sub(LO) & !x & HI != 0
    };
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if has(word, b',') | has(word, b'"') | has(word, b'\r') | has(word, b'\n') {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str, defuse: bool) -> String {
        let mut out = Vec::new();
        write_text(&mut out, s, defuse).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn float(f: f64) -> String {
        let mut out = Vec::new();
        write_float(&mut out, f).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(text("plain", true), "plain");
        assert_eq!(text("", true), "");
        assert_eq!(text("a,b", true), "\"a,b\"");
        assert_eq!(text("say \"hi\"", true), "\"say \"\"hi\"\"\"");
        assert_eq!(text("\"", true), "\"\"\"\"");
        assert_eq!(text("line\nbreak", true), "\"line\nbreak\"");
        assert_eq!(text("cr\rhere", true), "\"cr\rhere\"");
        assert_eq!(text("ünïcødé €", true), "ünïcødé €");
    }

    #[test]
    fn finds_a_special_character_at_any_position() {
        for len in 0..20 {
            let base: Vec<u8> = "aé€😀;'x\t\x01\x7f\u{ff}"
                .bytes()
                .cycle()
                .take(len)
                .collect();
            assert!(!needs_quotes(&base), "{base:?}");
            for at in 0..len {
                for special in [b',', b'"', b'\r', b'\n'] {
                    let mut bytes = base.clone();
                    bytes[at] = special;
                    assert!(needs_quotes(&bytes), "{bytes:?}");
                }
            }
        }
        // Every other byte value, in every lane.
        for b in 0..=255u8 {
            let bytes = [b; 11];
            assert_eq!(
                needs_quotes(&bytes),
                matches!(b, b',' | b'"' | b'\r' | b'\n'),
                "{b}"
            );
        }
    }

    #[test]
    fn defuses_every_formula_lead() {
        assert_eq!(text("=1+2", true), "'=1+2");
        assert_eq!(text("+1", true), "'+1");
        assert_eq!(text("-1", true), "'-1");
        assert_eq!(text("@SUM(A1)", true), "'@SUM(A1)");
        assert_eq!(text("\tx", true), "'\tx");
        // A leading CR also forces quoting; the `'` goes inside the quotes.
        assert_eq!(text("\rx", true), "\"'\rx\"");
        assert_eq!(
            text("=HYPERLINK(\"http://x\",\"y\")", true),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(text("a=b", true), "a=b");
        assert_eq!(text("-1", false), "-1");
    }

    #[test]
    fn floats_are_shortest_round_trip_without_exponent() {
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(-2.5), "-2.5");
        assert_eq!(float(5.0), "5");
        assert_eq!(float(1e21), "1000000000000000000000");
        assert_eq!(float(1.5e-7), "0.00000015");
        assert_eq!(float(f64::NAN), "");
        assert_eq!(float(f64::INFINITY), "");
        assert_eq!(float(f64::NEG_INFINITY), "");
        assert_eq!(float(-0.0), "-0");
    }

    /// The fast path agrees with `{}` on money-like values, on every scale, and on random
    /// bit patterns.
    #[test]
    fn floats_match_rust_display() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut values = vec![
            0.0,
            1.0,
            0.3,
            2.0 / 3.0,
            123_456.78,
            1e15,
            1e16,
            1.5e17,
            1e21,
            1e22,
            1e-4,
            1e-5,
            1e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            9_007_199_254_740_993.0,
        ];
        // Exactly halfway between two 17-digit forms, where zmij and `fmt` disagree.
        values.push("-1149636667324797.25".parse().unwrap());
        for _ in 0..50_000 {
            let r = next();
            values.push((r % 10_000_000_000) as f64 / 100.0);
            values.push(-((r % 1_000_000) as f64) / 1000.0);
            values.push(f64::from_bits(r));
        }
        for f in values.into_iter().filter(|f| f.is_finite()) {
            assert_eq!(float(f), format!("{f}"), "{f:e}");
        }
    }
}
