//! JSON parsing that accepts what RFC 8259's grammar accepts: a `\uD83D` escape without its pair
//! (what JavaScript's `JSON.stringify` writes for a string cut inside an emoji) is valid JSON, but
//! serde_json refuses it. Such bodies are parsed with each lone surrogate read as U+FFFD; the
//! stored body keeps the bytes Dash signed.

use serde::de::DeserializeOwned;

/// Parses `body`; only when serde_json refuses it is a copy with lone surrogates replaced tried.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    parse(body).map(|(value, _)| value)
}

/// Like `from_slice`, also answering the lone surrogates that were replaced, in order (empty when
/// the body parsed as it is), so that content they distinguish stays distinct.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Vec<u16>), serde_json::Error> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok((value, Vec::new())),
        Err(err) => match replace_lone_surrogates(body) {
            Some((repaired, units)) => Ok((serde_json::from_slice(&repaired)?, units)),
            None => Err(err),
        },
    }
}

/// A copy of `body` with every unpaired `\uD800`–`\uDFFF` escape inside a string turned into
/// `\uFFFD` (the same length), and the units replaced; `None` when there is none.
fn replace_lone_surrogates(body: &[u8]) -> Option<(Vec<u8>, Vec<u16>)> {
    let mut out = body.to_vec();
    let mut units = Vec::new();
    let (mut at, mut in_string) = (0, false);
    while at < body.len() {
        match (in_string, body[at]) {
            (_, b'"') => in_string = !in_string,
            (true, b'\\') if body.get(at + 1) == Some(&b'u') => {
                let unit = code_unit(body, at);
                let paired =
                    unit.is_some_and(is_high) && code_unit(body, at + 6).is_some_and(is_low);
                if paired {
                    at += 12;
                    continue;
                }
                if let Some(lone) = unit.filter(|u| is_high(*u) || is_low(*u)) {
                    out[at + 2..at + 6].copy_from_slice(b"fffd");
                    units.push(lone);
                }
                at += 6;
                continue;
            }
            (true, b'\\') => at += 1,
            _ => {}
        }
        at += 1;
    }
    (!units.is_empty()).then_some((out, units))
}

/// The code unit of a `\uXXXX` escape starting at `at`.
fn code_unit(body: &[u8], at: usize) -> Option<u16> {
    let escape = body.get(at..at + 6)?;
    if &escape[..2] != b"\\u" {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(&escape[2..]).ok()?, 16).ok()
}

fn is_high(unit: u16) -> bool {
    (0xD800..=0xDBFF).contains(&unit)
}

fn is_low(unit: u16) -> bool {
    (0xDC00..=0xDFFF).contains(&unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let cases = [
            (r#"{"a":"cut \ud83d"}"#, "cut \u{fffd}"),
            (r#"{"a":"\udc00x"}"#, "\u{fffd}x"),
            (r#"{"a":"\ud83d\ud83d\ude00"}"#, "\u{fffd}😀"),
        ];
        for (body, expected) in cases {
            let value: Value = from_slice(body.as_bytes()).expect(body);
            assert_eq!(value["a"], expected, "{body}");
        }
    }

    #[test]
    fn pairs_escaped_backslashes_and_keys_are_left_alone() {
        let body = r#"{"\\ud83d":"\ud83d\ude00 \\ud83d"}"#;
        assert!(replace_lone_surrogates(body.as_bytes()).is_none());
        let value: Value = from_slice(body.as_bytes()).expect("valid");
        assert_eq!(value["\\ud83d"], "😀 \\ud83d");
    }

    #[test]
    fn invalid_json_stays_invalid() {
        for body in [
            r#"{"a":"\ud83d"#,
            r#"{"a":\ud83d}"#,
            "\\ud83d",
            r#"{"a":"\u12"}"#,
        ] {
            assert!(from_slice::<Value>(body.as_bytes()).is_err(), "{body}");
        }
    }
}
