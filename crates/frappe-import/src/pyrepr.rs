//! Python literals to JSON: ERPNext keeps an Access Log row's `filters` as `str()` of
//! whatever the caller passed (`{'company': 'Acme', 'from_date': datetime.date(2026, 1,
//! 1)}`), not as JSON. This reads what Python's `repr` writes for filters — dicts, lists,
//! tuples, sets, strings in either quote with their escapes, numbers, `True`/`False`/
//! `None`, and `datetime.date` / `datetime.datetime` / `datetime.time` (as ISO text),
//! `Decimal('…')` (as its text), `frappe._dict({…})`, `OrderedDict([…])` — and JSON too.
//!
//! It is safe on any input: one pass over the text, no recursion deeper than
//! [`MAX_DEPTH`], nothing bigger than [`MAX_INPUT`] read, never a panic; anything it does
//! not know is an error, and the caller keeps the text as found.

use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused (filters nest two or three levels).
pub const MAX_DEPTH: usize = 64;
/// Longer text is refused (an entry keeps at most 64 KiB of filters).
pub const MAX_INPUT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Python literal at byte {at}: {what}")]
pub struct ParseError {
    pub at: usize,
    pub what: &'static str,
}

/// `text` as JSON, if it is a Python literal (or JSON) this module reads.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    if text.len() > MAX_INPUT {
        return Err(ParseError {
            at: 0,
            what: "the text is too long",
        });
    }
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        depth: 0,
    };
    let value = p.value()?;
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(p.err("text after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    depth: usize,
}

/// A parsed call's arguments: positional, then keyword.
type Args = (Vec<Value>, Vec<(String, Value)>);

impl Parser<'_> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError { at: self.i, what }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.err("a value was expected")),
            Some(b'{') => {
                self.enter()?;
                self.i += 1;
                let v = self.dict_or_set()?;
                self.depth -= 1;
                Ok(v)
            }
            Some(b'[') => {
                self.enter()?;
                self.i += 1;
                let (items, _) = self.sequence(b']')?;
                self.depth -= 1;
                Ok(Value::Array(items))
            }
            Some(b'(') => {
                self.enter()?;
                self.i += 1;
                let (mut items, trailing_comma) = self.sequence(b')')?;
                self.depth -= 1;
                // `(x)` is x; `(x,)` and `()` are tuples.
                if items.len() == 1 && !trailing_comma {
                    Ok(items.remove(0))
                } else {
                    Ok(Value::Array(items))
                }
            }
            Some(b'\'' | b'"') => self.strings(),
            Some(c) if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.') => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.name_or_call(),
            Some(_) => Err(self.err("no value starts so")),
        }
    }

    /// Items up to `close`, and whether a comma came after the last.
    fn sequence(&mut self, close: u8) -> Result<(Vec<Value>, bool), ParseError> {
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            if self.eat(close) {
                return Ok((items, trailing));
            }
            if !items.is_empty() && !trailing {
                return Err(self.err("a comma or the end of the list was expected"));
            }
            items.push(self.value()?);
            trailing = self.eat(b',');
        }
    }

    fn dict_or_set(&mut self) -> Result<Value, ParseError> {
        if self.eat(b'}') {
            return Ok(Value::Object(Map::new()));
        }
        let first = self.value()?;
        if self.eat(b':') {
            let mut map = Map::new();
            let v = self.value()?;
            map.insert(key_text(first), v);
            loop {
                if self.eat(b'}') {
                    return Ok(Value::Object(map));
                }
                self.expect(b',', "a comma or the end of the dict was expected")?;
                if self.eat(b'}') {
                    return Ok(Value::Object(map));
                }
                let k = self.value()?;
                self.expect(b':', "a colon after the key was expected")?;
                let v = self.value()?;
                map.insert(key_text(k), v);
            }
        }
        // A set: {1, 2}.
        let mut items = vec![first];
        loop {
            if self.eat(b'}') {
                return Ok(Value::Array(items));
            }
            self.expect(b',', "a comma or the end of the set was expected")?;
            if self.eat(b'}') {
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
        }
    }

    /// One string literal or several side by side (Python joins `'a' 'b'`).
    fn strings(&mut self) -> Result<Value, ParseError> {
        let mut out = String::new();
        self.string(false, &mut out)?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'\'' | b'"') => self.string(false, &mut out)?,
                _ => return Ok(Value::String(out)),
            }
        }
    }

    /// A string literal at the cursor (its quote), with escapes unless `raw`.
    fn string(&mut self, raw: bool, out: &mut String) -> Result<(), ParseError> {
        let Some(quote) = self.peek() else {
            return Err(self.err("a string was expected"));
        };
        self.i += 1;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("the string does not end"));
            };
            if c == quote {
                self.i += 1;
                return Ok(());
            }
            if c == b'\\' {
                let Some(&next) = self.s.get(self.i + 1) else {
                    return Err(self.err("the string does not end"));
                };
                if raw {
                    // In a raw string a backslash stays, and only keeps the next quote
                    // from ending it.
                    out.push('\\');
                    self.i += 1;
                    if next == quote || next == b'\\' {
                        out.push(char::from(next));
                        self.i += 1;
                    }
                    continue;
                }
                self.i += 2;
                self.escape(next, out)?;
                continue;
            }
            // Copy the run up to the next quote or backslash: whole UTF-8 characters,
            // since both stops are ASCII.
            let start = self.i;
            while let Some(c) = self.peek() {
                if c == quote || c == b'\\' {
                    break;
                }
                self.i += 1;
            }
            out.push_str(self.text.get(start..self.i).unwrap_or_default());
        }
    }

    /// The escape `\` + `c` (the cursor is past both).
    fn escape(&mut self, c: u8, out: &mut String) -> Result<(), ParseError> {
        let simple = match c {
            b'\\' => Some('\\'),
            b'\'' => Some('\''),
            b'"' => Some('"'),
            b'a' => Some('\u{7}'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'v' => Some('\u{b}'),
            b'/' => Some('/'),
            b'\n' => return Ok(()), // a line continuation
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            return Ok(());
        }
        match c {
            b'x' => self.hex_escape(2, out),
            b'u' => self.hex_escape(4, out),
            b'U' => self.hex_escape(8, out),
            b'0'..=b'7' => {
                let mut n = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            n = n * 8 + u32::from(d - b'0');
                            self.i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(n).unwrap_or('\u{FFFD}'));
                Ok(())
            }
            _ => {
                // Python keeps an unknown escape as it is: the backslash and the character.
                out.push('\\');
                self.i -= 1;
                Ok(())
            }
        }
    }

    fn hex_escape(&mut self, len: usize, out: &mut String) -> Result<(), ParseError> {
        let digits = self
            .s
            .get(self.i..self.i + len)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.err("a hexadecimal escape was cut short"))?;
        let n = u32::from_str_radix(digits, 16).map_err(|_| self.err("a bad escape"))?;
        self.i += len;
        // A lone surrogate (\ud800) is no character: it becomes U+FFFD.
        out.push(char::from_u32(n).unwrap_or('\u{FFFD}'));
        Ok(())
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.i;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.i += 1;
        }
        // `-inf`, `-Infinity` and the like.
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            let name_start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                self.i += 1;
            }
            let name = self.text.get(name_start..self.i).unwrap_or_default();
            if matches!(name, "inf" | "Infinity" | "nan" | "NaN") {
                return Ok(Value::String(
                    self.text.get(start..self.i).unwrap_or_default().to_owned(),
                ));
            }
            return Err(self.err("a number was expected"));
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_'))
            || (matches!(self.peek(), Some(b'-' | b'+'))
                && matches!(self.s.get(self.i - 1), Some(b'e' | b'E'))
                && !self.is_hex_literal(start))
        {
            self.i += 1;
        }
        let literal = self.text.get(start..self.i).unwrap_or_default();
        number_value(literal).ok_or(ParseError {
            at: start,
            what: "not a number",
        })
    }

    fn is_hex_literal(&self, start: usize) -> bool {
        let body = self.text.get(start..self.i).unwrap_or_default();
        let body = body.trim_start_matches(['-', '+']);
        body.starts_with("0x") || body.starts_with("0X")
    }

    /// A dotted name: a constant, a string prefix, or a call.
    fn name_or_call(&mut self) -> Result<Value, ParseError> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
        {
            self.i += 1;
        }
        let name = self.text.get(start..self.i).unwrap_or_default();
        // String prefixes: u'…', r'…', b'…', and their pairs.
        if matches!(self.peek(), Some(b'\'' | b'"'))
            && !name.is_empty()
            && name.len() <= 2
            && name.chars().all(|c| "uUrRbB".contains(c))
        {
            let raw = name.contains(['r', 'R']);
            let mut out = String::new();
            self.string(raw, &mut out)?;
            return Ok(Value::String(out));
        }
        self.skip_ws();
        if self.peek() != Some(b'(') {
            return match name {
                "True" | "true" => Ok(Value::Bool(true)),
                "False" | "false" => Ok(Value::Bool(false)),
                "None" | "null" => Ok(Value::Null),
                "inf" | "nan" | "Infinity" | "NaN" => Ok(Value::String(name.to_owned())),
                _ => Err(ParseError {
                    at: start,
                    what: "an unknown name",
                }),
            };
        }
        self.enter()?;
        self.i += 1;
        let args = self.call_args()?;
        self.depth -= 1;
        call(name, args).ok_or(ParseError {
            at: start,
            what: "a call this reader does not know",
        })
    }

    fn call_args(&mut self) -> Result<Args, ParseError> {
        let mut positional = Vec::new();
        let mut keywords = Vec::new();
        loop {
            if self.eat(b')') {
                return Ok((positional, keywords));
            }
            self.skip_ws();
            // `name=value`?
            let save = self.i;
            let mut end = self.i;
            while self
                .s
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                end += 1;
            }
            let mut after = end;
            while self.s.get(after).is_some_and(u8::is_ascii_whitespace) {
                after += 1;
            }
            if end > save
                && self.s.get(after) == Some(&b'=')
                && self.s.get(after + 1) != Some(&b'=')
            {
                let name = self.text.get(save..end).unwrap_or_default().to_owned();
                self.i = after + 1;
                keywords.push((name, self.value()?));
            } else {
                if !keywords.is_empty() {
                    return Err(self.err("a positional argument after a keyword"));
                }
                positional.push(self.value()?);
            }
            if !self.eat(b',') {
                self.expect(b')', "a comma or the end of the call was expected")?;
                return Ok((positional, keywords));
            }
        }
    }
}

/// A dict key as a JSON object's key: strings as they are, anything else as its text.
fn key_text(key: Value) -> String {
    match key {
        Value::String(s) => s,
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        other => other.to_string(),
    }
}

/// A Python number literal as JSON: integers exactly (past 64 bits, as their decimal
/// text), floats when finite; `None` if it is not one.
fn number_value(literal: &str) -> Option<Value> {
    let clean: String = literal.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || literal.starts_with('_') || literal.ends_with('_') {
        return None;
    }
    let (negative, body) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let radix = match body.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0o" | "0O") => Some(8),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    if let Some(radix) = radix {
        let digits = body.get(2..)?;
        let n = i64::from_str_radix(digits, radix).ok()?;
        return Some(Value::from(if negative { -n } else { n }));
    }
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        let text = if negative {
            format!("-{body}")
        } else {
            body.to_owned()
        };
        if let Ok(n) = text.parse::<i64>() {
            return Some(Value::from(n));
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(Value::from(n));
        }
        return Some(Value::String(text));
    }
    // A float: digits, at most one point, an optional exponent; nothing else.
    let valid = body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if !valid {
        return None;
    }
    let f: f64 = clean.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

/// The value of a call Python's `repr` writes, or `None` for one not known here.
fn call(name: &str, (args, kwargs): Args) -> Option<Value> {
    let short = name.rsplit('.').next().unwrap_or(name);
    match (name, short) {
        (_, "date") if kwargs.is_empty() => {
            let [y, m, d] = ints::<3>(&args)?;
            Some(Value::String(iso_date(y, m, d)?))
        }
        (_, "datetime") => {
            if args.len() < 3 || args.len() > 7 || !ok_kwargs(&kwargs, &["fold"]) {
                return None;
            }
            let n = ints::<7>(&padded(&args, 7))?;
            let date = iso_date(n[0], n[1], n[2])?;
            Some(Value::String(format!(
                "{date}T{}",
                iso_time(n[3], n[4], n[5], n[6])?
            )))
        }
        (_, "time") if args.len() <= 4 && ok_kwargs(&kwargs, &["fold"]) => {
            let n = ints::<4>(&padded(&args, 4))?;
            Some(Value::String(iso_time(n[0], n[1], n[2], n[3])?))
        }
        (_, "Decimal") if kwargs.is_empty() && args.len() == 1 => match &args[0] {
            Value::String(s) => Some(Value::String(s.clone())),
            Value::Number(n) => Some(Value::String(n.to_string())),
            _ => None,
        },
        ("frappe._dict" | "_dict" | "dict" | "OrderedDict" | "collections.OrderedDict", _) => {
            let mut map = Map::new();
            match args.as_slice() {
                [] => {}
                [Value::Object(m)] => map.extend(m.clone()),
                [Value::Array(pairs)] => {
                    for pair in pairs {
                        let Value::Array(kv) = pair else { return None };
                        let [k, v] = kv.as_slice() else { return None };
                        map.insert(key_text(k.clone()), v.clone());
                    }
                }
                _ => return None,
            }
            map.extend(kwargs);
            Some(Value::Object(map))
        }
        ("set" | "frozenset", _) if kwargs.is_empty() => match args.as_slice() {
            [] => Some(Value::Array(Vec::new())),
            [Value::Array(items)] => Some(Value::Array(items.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn ok_kwargs(kwargs: &[(String, Value)], allowed: &[&str]) -> bool {
    kwargs.iter().all(|(k, _)| allowed.contains(&k.as_str()))
}

/// `args` with zeros after them, up to `len`.
fn padded(args: &[Value], len: usize) -> Vec<Value> {
    let mut out = args.to_vec();
    out.resize(len, Value::from(0));
    out
}

fn ints<const N: usize>(args: &[Value]) -> Option<[i64; N]> {
    if args.len() != N {
        return None;
    }
    let mut out = [0i64; N];
    for (slot, arg) in out.iter_mut().zip(args) {
        *slot = arg.as_i64()?;
    }
    Some(out)
}

fn iso_date(y: i64, m: i64, d: i64) -> Option<String> {
    let date = jiff::civil::Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()?;
    (y >= 1).then(|| format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()))
}

fn iso_time(h: i64, mi: i64, s: i64, us: i64) -> Option<String> {
    if !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..60).contains(&s)
        || !(0..1_000_000).contains(&us)
    {
        return None;
    }
    Some(if us == 0 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{h:02}:{mi:02}:{s:02}.{us:06}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ok(text: &str) -> Value {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn erpnext_filters_as_python_writes_them() {
        assert_eq!(
            ok(
                "{'company': 'Acme Ltd', 'from_date': datetime.date(2026, 1, 1), 'to_date': datetime.date(2026, 1, 31), 'group_by': 'Group by Voucher (Consolidated)', 'party': [], 'include_default_book_entries': 1, 'show_opening_entries': True, 'cost_center': None}"
            ),
            json!({
                "company": "Acme Ltd", "from_date": "2026-01-01", "to_date": "2026-01-31",
                "group_by": "Group by Voucher (Consolidated)", "party": [],
                "include_default_book_entries": 1, "show_opening_entries": true,
                "cost_center": null
            })
        );
        // reportview.export_query: {'name': ('in', [...])}
        assert_eq!(
            ok("{'name': ('in', ['SINV-0001', 'SINV-0002'])}"),
            json!({"name": ["in", ["SINV-0001", "SINV-0002"]]})
        );
        assert_eq!(
            ok(
                "[['Sales Invoice', 'status', '=', 'Paid'], ['Sales Invoice', 'grand_total', '>', 1000.5]]"
            ),
            json!([
                ["Sales Invoice", "status", "=", "Paid"],
                ["Sales Invoice", "grand_total", ">", 1000.5]
            ])
        );
        assert_eq!(
            ok(
                "frappe._dict({'posting_date': datetime.datetime(2026, 3, 29, 2, 30, 0, 123456), 'at': datetime.time(9, 5)})"
            ),
            json!({"posting_date": "2026-03-29T02:30:00.123456", "at": "09:05:00"})
        );
        assert_eq!(
            ok("{'amount': Decimal('1234.50'), 'ids': {1, 2}, 'none': set()}"),
            json!({"amount": "1234.50", "ids": [1, 2], "none": []})
        );
        assert_eq!(
            ok("OrderedDict([('b', 1), ('a', 2)])"),
            json!({"b": 1, "a": 2})
        );
    }

    #[test]
    fn json_reads_as_json() {
        let text = r#"{"status": "Paid", "customer": ["like", "%Acme%"], "n": -1.5e3, "x": null, "y": true, "u": "\u00e9\/"}"#;
        assert_eq!(
            ok(text),
            json!({"status": "Paid", "customer": ["like", "%Acme%"], "n": -1500.0, "x": null, "y": true, "u": "é/"})
        );
    }

    #[test]
    fn strings_in_either_quote_with_their_escapes() {
        assert_eq!(ok(r#"'it\'s'"#), json!("it's"));
        assert_eq!(ok(r#""it's""#), json!("it's"));
        assert_eq!(ok(r#"'say "hi"'"#), json!("say \"hi\""));
        assert_eq!(ok(r"'a\\b\tc\nd'"), json!("a\\b\tc\nd"));
        assert_eq!(ok(r"'\xe9\u20ac\U0001F600\101'"), json!("é€😀A"));
        assert_eq!(ok(r"'\d'"), json!("\\d"), "an unknown escape stays");
        assert_eq!(
            ok(r"r'\d\''"),
            json!("\\d\\'"),
            "raw strings keep backslashes"
        );
        assert_eq!(ok("u'caf\u{e9}'"), json!("café"));
        assert_eq!(ok("b'abc'"), json!("abc"));
        assert_eq!(ok("'a' \"b\""), json!("ab"), "adjacent literals join");
        assert_eq!(ok(r"'\ud800'"), json!("\u{FFFD}"));
        assert_eq!(ok("'日本語'"), json!("日本語"));
    }

    #[test]
    fn numbers_keep_their_value() {
        assert_eq!(ok("42"), json!(42));
        assert_eq!(ok("-7"), json!(-7));
        assert_eq!(ok("1_000"), json!(1000));
        assert_eq!(ok("0x1F"), json!(31));
        assert_eq!(ok("1e-05"), json!(1e-5));
        assert_eq!(ok("2.5"), json!(2.5));
        assert_eq!(
            ok("18446744073709551615"),
            json!(18_446_744_073_709_551_615u64)
        );
        assert_eq!(
            ok("123456789012345678901234567890"),
            json!("123456789012345678901234567890"),
            "past 64 bits: the digits, exactly"
        );
        assert_eq!(ok("[inf, -inf, nan]"), json!(["inf", "-inf", "nan"]));
        assert_eq!(ok("(1)"), json!(1));
        assert_eq!(ok("(1,)"), json!([1]));
        assert_eq!(ok("()"), json!([]));
        assert_eq!(
            ok("{1: 'a', None: 'b', True: 'c'}"),
            json!({"1": "a", "None": "b", "True": "c"})
        );
    }

    #[test]
    fn what_it_does_not_know_is_an_error_not_a_guess() {
        for bad in [
            "",
            "   ",
            "{'a': 1",
            "{'a' 1}",
            "[1 2]",
            "'open",
            "'\\x4'",
            "datetime.date(2026, 2, 30)",
            "datetime.date(2026, 1)",
            "datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)",
            "os.system('x')",
            "__import__",
            "<object at 0x7f>",
            "{'a': 1} trailing",
            "1.2.3",
            "--1",
            "0x",
            "1__0_",
            "f(a=1, 2)",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed as {:?}", parse(bad));
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep).unwrap_err().what, "nested too deeply");
        let fine = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&fine).is_ok());
        assert!(parse(&"x".repeat(MAX_INPUT + 1)).is_err());
    }

    /// Python literals for generated values, as `repr` writes them.
    fn python_repr(v: &Value) -> String {
        match v {
            Value::Null => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => {
                let mut out = String::from("'");
                for c in s.chars() {
                    match c {
                        '\'' => out.push_str("\\'"),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('\'');
                out
            }
            Value::Array(items) => format!(
                "[{}]",
                items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
            ),
            Value::Object(map) => format!(
                "{{{}}}",
                map.iter()
                    .map(|(k, v)| format!(
                        "{}: {}",
                        python_repr(&Value::String(k.clone())),
                        python_repr(v)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
            "[\\x00-\\x7f]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_']{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn what_repr_writes_reads_back(v in json_value()) {
            prop_assert_eq!(parse(&python_repr(&v)).unwrap(), v);
        }

        #[test]
        fn any_text_is_an_answer_never_a_panic(text in "\\PC{0,64}|[\\[\\]{}()'\",:.\\\\0-9a-z_ -]{0,64}") {
            let _ = parse(&text);
        }

        #[test]
        fn any_bytes_are_an_answer_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
