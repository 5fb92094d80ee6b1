//! The one codec of the service's opaque tokens: the `/events` cursor (`cursor`), the live
//! stream's positions (`position`) and the `/notifications` cursor. Each token's fields are
//! written as text and, where they may hold any character, base64url-encoded without padding,
//! so a token is only ASCII letters, digits, `-` and `_` (plus the separators a token type adds
//! between encoded parts). Decoding refuses anything a token type could not have produced with
//! the one error `BadToken`; the token types decide what their fields are.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The text was not a token this service produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a token this service produced")]
pub struct BadToken;

/// `bytes` as opaque, URL- and header-safe text (base64url without padding).
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The bytes `encode` was given.
pub fn decode(text: &str) -> Result<Vec<u8>, BadToken> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| BadToken)
}

/// The text `encode` was given, which must be UTF-8.
pub fn decode_text(text: &str) -> Result<String, BadToken> {
    String::from_utf8(decode(text)?).map_err(|_| BadToken)
}

/// An event id as a token holds it: UTF-8 without control characters (stored ids never hold one,
/// so a token with one was not made here). Emptiness is for the token type to judge.
pub fn check_id(id: &str) -> Result<&str, BadToken> {
    if id.chars().any(char::is_control) {
        return Err(BadToken);
    }
    Ok(id)
}

/// A number written as a non-empty run of ASCII digits (no sign, no space: one spelling per value).
pub fn digits<T: std::str::FromStr>(text: &str) -> Result<T, BadToken> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadToken);
    }
    text.parse().map_err(|_| BadToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_as_url_safe_text() {
        for bytes in [&b""[..], b"n42", b"\xff\xfe\x00", b"??>>~~"] {
            let text = encode(bytes);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(decode(&text).as_deref(), Ok(bytes));
        }
        assert_eq!(encode("n42"), "bjQy");
    }

    #[test]
    fn garbage_is_refused() {
        for text in ["!!!", "a b", "bjQy=", "a"] {
            assert_eq!(decode(text), Err(BadToken), "{text:?}");
        }
        assert_eq!(decode_text(&encode([0xff, 0xfe])), Err(BadToken));
        assert_eq!(check_id("a\u{7}"), Err(BadToken));
        assert_eq!(check_id(""), Ok(""));
    }

    #[test]
    fn digits_have_one_spelling() {
        assert_eq!(digits::<u64>("0042"), Ok(42));
        for text in ["", "+1", "-1", " 1", "1x", "99999999999999999999"] {
            assert_eq!(digits::<i64>(text), Err(BadToken), "{text:?}");
        }
    }
}
