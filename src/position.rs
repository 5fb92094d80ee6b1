//! The position of `GET /events/stream`, sent as each message's SSE `id:` and read back from
//! `Last-Event-ID`. Opaque to clients; what it holds depends on the backend (see the 0002
//! migrations): SQLite's commit-ordered `seq` (`s<seq>`), or PostgreSQL's inserting transaction
//! and the event id (`p<txid>.<id>`, the id made opaque by the shared codec, `token`). A stream returns the events strictly after it.

use crate::token::{self, BadToken};

/// Where a stream stands: every event at or before it has been sent (or filtered out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// SQLite: the `seq` of the last event passed.
    Seq(i64),
    /// PostgreSQL: the `(txid, id)` of the last event passed. An empty id stands before every
    /// event of that transaction (ids are never empty).
    Txid {
        /// The inserting transaction's id.
        txid: u64,
        /// The event id.
        id: String,
    },
}

impl Position {
    /// The opaque text sent as the SSE `id:`. Only ASCII letters, digits, `-`, `_` and `.`, so
    /// it is safe on an SSE line and in a header.
    pub fn encode(&self) -> String {
        match self {
            Self::Seq(seq) => format!("s{seq}"),
            Self::Txid { txid, id } => format!("p{txid}.{}", token::encode(id)),
        }
    }

    /// Reads back a position produced by `encode`.
    pub fn decode(text: &str) -> Result<Self, BadToken> {
        if let Some(seq) = text.strip_prefix('s') {
            return token::digits(seq).map(Self::Seq);
        }
        let rest = text.strip_prefix('p').ok_or(BadToken)?;
        let (txid, id) = rest.split_once('.').ok_or(BadToken)?;
        let txid = token::digits(txid)?;
        let id = token::decode_text(id)?;
        token::check_id(&id)?;
        Ok(Self::Txid { txid, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn positions_round_trip() {
        let positions = [
            Position::Seq(0),
            Position::Seq(i64::MAX),
            Position::Txid {
                txid: 7,
                id: String::new(),
            },
            Position::Txid {
                txid: u64::MAX,
                id: "évènement:1/x?y".into(),
            },
        ];
        for position in positions {
            assert_eq!(Position::decode(&position.encode()), Ok(position));
        }
    }

    #[test]
    fn encoded_positions_are_plain_ascii() {
        let text = Position::Txid {
            txid: 1,
            id: "??>>~~\n".repeat(5),
        }
        .encode();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
    }

    #[test]
    fn garbage_is_rejected() {
        let control = format!("p1.{}", URL_SAFE_NO_PAD.encode("a\u{7}"));
        let not_utf8 = format!("p1.{}", URL_SAFE_NO_PAD.encode([0xff, 0xfe]));
        for text in [
            "",
            "s",
            "s-1",
            "s+1",
            "s 1",
            "s1x",
            "s99999999999999999999",
            "p",
            "p1",
            "p.YQ",
            "p-1.YQ",
            "p1.!!",
            "x1",
            "S1",
            &control,
            &not_utf8,
        ] {
            assert_eq!(Position::decode(text), Err(BadToken), "{text:?}");
        }
    }

    /// Positions made before the shared token codec: the same text encodes and decodes the same.
    #[test]
    fn known_positions_are_pinned() {
        let cases = [
            (Position::Seq(0), "s0"),
            (Position::Seq(i64::MAX), "s9223372036854775807"),
            (
                Position::Txid {
                    txid: 7,
                    id: String::new(),
                },
                "p7.",
            ),
            (
                Position::Txid {
                    txid: 123_456,
                    id: "évènement:1/x?y".into(),
                },
                "p123456.w6l2w6huZW1lbnQ6MS94P3k",
            ),
            (
                Position::Txid {
                    txid: u64::MAX,
                    id: "evt-7".into(),
                },
                "p18446744073709551615.ZXZ0LTc",
            ),
        ];
        for (position, text) in cases {
            assert_eq!(position.encode(), text);
            assert_eq!(Position::decode(text), Ok(position));
        }
    }
}
