//! The parameters of `GET /notifications`: `state`, `limit` and `cursor`, read into the store's
//! `NotificationFilter`, and the listing's cursor (the last id of a page, made opaque by the
//! shared codec, `token`). Other parameters are ignored, as on `GET /events`.

use super::{BadParam, bad, pairs, whole_number_up_to};
use crate::store::{NotificationFilter, NotificationState};
use crate::token;

/// Largest page.
pub const MAX_LIMIT: u32 = 500;
/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 100;

impl NotificationFilter {
    /// Parses the raw query string of `GET /notifications`.
    pub fn parse(query: Option<&str>) -> Result<Self, BadParam> {
        let mut filter = Self {
            state: None,
            limit: DEFAULT_LIMIT,
            before_id: None,
        };
        for (key, value) in pairs(query) {
            match key.as_str() {
                "state" => filter.state = Some(parse_state(&value)?),
                "limit" => filter.limit = parse_limit(&value)?,
                "cursor" => filter.before_id = Some(decode_cursor(&value)?),
                _ => {}
            }
        }
        Ok(filter)
    }
}

/// The cursor of the page that follows the one ending with notification `id`: `n<id>`, opaque.
pub fn encode_cursor(id: i64) -> String {
    token::encode(format!("n{id}"))
}

fn decode_cursor(text: &str) -> Result<i64, BadParam> {
    let refused = || bad("cursor: not a cursor of this endpoint");
    let text = token::decode_text(text).map_err(|_| refused())?;
    let digits = text.strip_prefix('n').ok_or_else(refused)?;
    // `i64`'s own parsing, as these cursors have always been read.
    digits
        .parse()
        .ok()
        .filter(|id: &i64| *id > 0)
        .ok_or_else(refused)
}

fn parse_state(value: &str) -> Result<NotificationState, BadParam> {
    value
        .parse()
        .map_err(|_| bad("state: must be pending, sent or dead"))
}

fn parse_limit(value: &str) -> Result<u32, BadParam> {
    whole_number_up_to(value, MAX_LIMIT).ok_or_else(|| {
        bad(format!(
            "limit: must be a whole number from 1 to {MAX_LIMIT}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_filter(query: Option<&str>) -> Result<NotificationFilter, BadParam> {
        NotificationFilter::parse(query)
    }

    #[test]
    fn parameters_parse_and_bad_ones_name_themselves() {
        let filter = parse_filter(Some("state=dead&limit=5&other=x")).unwrap();
        assert_eq!(
            (filter.state, filter.limit),
            (Some(NotificationState::Dead), 5)
        );
        let cursor = encode_cursor(42);
        let filter = parse_filter(Some(&format!("cursor={cursor}"))).unwrap();
        assert_eq!(filter.before_id, Some(42));
        for (query, word) in [
            ("state=gone", "state"),
            ("state=", "state"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=x", "limit"),
            ("cursor=", "cursor"),
            ("cursor=bjA", "cursor"),
            ("cursor=%21", "cursor"),
        ] {
            let err = parse_filter(Some(query)).expect_err(query);
            assert!(err.0.starts_with(word), "{query}: {}", err.0);
        }
    }

    /// Cursors made before the shared token codec: the same text encodes and decodes the same.
    #[test]
    fn known_cursors_are_pinned() {
        for (id, text) in [(42, "bjQy"), (i64::MAX, "bjkyMjMzNzIwMzY4NTQ3NzU4MDc")] {
            assert_eq!(encode_cursor(id), text);
            assert_eq!(decode_cursor(text), Ok(id));
        }
    }
}
