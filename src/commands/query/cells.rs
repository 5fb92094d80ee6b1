//! The text of a table cell from a JSON value: times in UTC to the second, numbers as sent,
//! durations in the unit that reads best. A value of another kind than the column expects is an
//! empty cell, as in the CSV export.

use serde_json::Value;

use crate::event::parse_timestamp;

/// A string as is; anything else empty.
pub(super) fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` in UTC; other text as is.
pub(super) fn time(value: Option<&Value>) -> String {
    let text = text(value);
    match parse_timestamp(&text) {
        Some(time) => time.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => text,
    }
}

/// A number in the JSON text it was sent as (`0.1` stays `0.1`); anything else empty.
pub(super) fn number(value: Option<&Value>) -> String {
    match value {
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

/// Milliseconds as `850ms`, `5.0s`, `12m05s` or `3h07m`; anything but a finite, non-negative
/// number as `number` shows it.
pub(super) fn duration(value: Option<&Value>) -> String {
    let Some(ms) = value.and_then(Value::as_f64).filter(|ms| *ms >= 0.0) else {
        return number(value);
    };
    if ms < 1000.0 {
        return format!("{}ms", number(value));
    }
    let seconds = ms / 1000.0;
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    // Whole seconds from here on; `as` saturates, and no event lasts 10^11 years.
    let whole = seconds.round() as u64;
    if whole < 3600 {
        return format!("{}m{:02}s", whole / 60, whole % 60);
    }
    format!("{}h{:02}m", whole / 3600, whole % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn durations_read_in_their_unit() {
        let cases = [
            (json!(0), "0ms"),
            (json!(850), "850ms"),
            (json!(0.25), "0.25ms"),
            (json!(999.9), "999.9ms"),
            (json!(1000), "1.0s"),
            (json!(5250), "5.2s"),
            (json!(59_940), "59.9s"),
            (json!(60_000), "1m00s"),
            (json!(725_000), "12m05s"),
            (json!(11_220_000), "3h07m"),
            (json!(-5), "-5"),
            (json!("5000"), ""),
            (Value::Null, ""),
        ];
        for (value, shown) in cases {
            assert_eq!(duration(Some(&value)), shown, "{value}");
        }
        assert_eq!(duration(None), "");
    }

    #[test]
    fn times_are_shown_in_utc_to_the_second_and_odd_ones_as_sent() {
        let at = json!("2026-11-28T12:00:00.123+02:00");
        assert_eq!(time(Some(&at)), "2026-11-28 10:00:00");
        assert_eq!(time(Some(&json!("yesterday"))), "yesterday");
        assert_eq!(time(Some(&json!(5))), "");
    }

    #[test]
    fn numbers_keep_their_text_and_other_kinds_are_empty() {
        assert_eq!(number(Some(&json!(0.1))), "0.1");
        assert_eq!(number(Some(&json!(12))), "12");
        assert_eq!(number(Some(&json!("0.5"))), "");
        assert_eq!(text(Some(&json!(42))), "");
        assert_eq!(text(Some(&json!("agent-7"))), "agent-7");
    }
}
