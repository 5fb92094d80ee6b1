//! The opaque pagination cursor of `GET /events`: the `(timestamp, id)` of the last event of a
//! page, written as `<micros>:<id>` and made opaque by the shared codec (`token`). Pages are keyset-ordered on that pair, so following cursors neither
//! skips nor repeats an event while new ones are inserted.

use crate::token::{self, BadToken};

/// The position after which the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Microseconds since the epoch of the last event returned.
    pub timestamp_us: i64,
    /// Its id, which breaks ties between equal timestamps.
    pub id: String,
}

impl Cursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        token::encode(format!("{}:{}", self.timestamp_us, self.id))
    }

    /// Reads back a cursor produced by `encode`.
    pub fn decode(text: &str) -> Result<Self, BadToken> {
        let text = token::decode_text(text)?;
        // The timestamp is digits and a sign only, so the first ':' ends it; ids may hold ':'.
        let (timestamp, id) = text.split_once(':').ok_or(BadToken)?;
        // `i64`'s own parsing, sign included, as cursors have always been read.
        let timestamp_us = timestamp.parse().map_err(|_| BadToken)?;
        let id = token::check_id(id)?;
        if id.is_empty() {
            return Err(BadToken);
        }
        Ok(Self {
            timestamp_us,
            id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn round_trips_ids_with_colons_and_unicode() {
        for (timestamp_us, id) in [
            (0, "a"),
            (-5, "a:b:c"),
            (i64::MAX, "évènement 1"),
            (7, "x/y?z"),
        ] {
            let cursor = Cursor {
                timestamp_us,
                id: id.to_owned(),
            };
            assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        }
    }

    #[test]
    fn encoded_cursor_is_url_safe() {
        let text = Cursor {
            timestamp_us: 1,
            id: "??>>~~".repeat(10),
        }
        .encode();
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn garbage_is_rejected() {
        let no_colon = URL_SAFE_NO_PAD.encode("12345");
        let bad_number = URL_SAFE_NO_PAD.encode("12x:id");
        let empty_id = URL_SAFE_NO_PAD.encode("12:");
        let not_utf8 = URL_SAFE_NO_PAD.encode([0xff, 0xfe, b':', b'a']);
        for text in [
            "",
            "!!!",
            "a b",
            &no_colon,
            &bad_number,
            &empty_id,
            &not_utf8,
        ] {
            assert_eq!(Cursor::decode(text), Err(BadToken), "{text:?}");
        }
    }

    /// Cursors made before the shared token codec: the same text encodes and decodes the same.
    #[test]
    fn known_cursors_are_pinned() {
        for (timestamp_us, id, text) in [
            (
                1_795_860_000_000_000,
                "evt-1",
                "MTc5NTg2MDAwMDAwMDAwMDpldnQtMQ",
            ),
            (-5, "a:b:c", "LTU6YTpiOmM"),
            (0, "évènement 1", "MDrDqXbDqG5lbWVudCAx"),
        ] {
            let cursor = Cursor {
                timestamp_us,
                id: id.to_owned(),
            };
            assert_eq!(cursor.encode(), text);
            assert_eq!(Cursor::decode(text), Ok(cursor));
        }
    }
}
