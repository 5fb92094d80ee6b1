//! Dash's signature scheme: `X-Dash-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact request
//! body bytes. Both functions are pure so they can be unit-tested against known vectors; the HTTP
//! layer only feeds them the header and the raw body, before any JSON parsing happens.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "sha256=";
/// Why a signature was refused. Every variant answers 401; the variant is logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is absent.
    #[error("missing X-Dash-Signature header")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("malformed X-Dash-Signature header: expected sha256=<64 hex digits>")]
    Malformed,
    /// Well formed, but no configured secret produces it.
    #[error("X-Dash-Signature does not match the body")]
    Mismatch,
}

/// The `X-Dash-Signature` header value for `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac_for(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// The length of an HMAC-SHA256 digest, as stored beside each event.
pub const DIGEST_LEN: usize = 32;

/// Checks `header` (the raw header value, if any) against `body` under each of `secrets`.
pub fn verify(
    secrets: &[&Secret],
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    verified_digest(secrets, header, body).map(drop)
}

/// Like `verify`, and answers the digest that matched, to be stored with the event (so that
/// `dash-events verify` can later re-check the stored body against it).
pub fn verified_digest(
    secrets: &[&Secret],
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<[u8; DIGEST_LEN], SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let expected = decode_header(header)?;
    if matches_digest(secrets, &expected, body) {
        Ok(expected)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Whether `digest` is the HMAC of `body` under one of `secrets`. `verify_slice` compares in
/// constant time (and refuses a digest of the wrong length); trying every secret supports rotation.
pub fn matches_digest(secrets: &[&Secret], digest: &[u8], body: &[u8]) -> bool {
    secrets.iter().any(|secret| {
        let mut mac = mac_for(secret.expose().as_bytes());
        mac.update(body);
        mac.verify_slice(digest).is_ok()
    })
}

fn decode_header(header: &[u8]) -> Result<[u8; DIGEST_LEN], SignatureError> {
    let header = header.trim_ascii();
    let hex_digits = header
        .strip_prefix(PREFIX.as_bytes())
        .ok_or(SignatureError::Malformed)?;
    let mut digest = [0u8; DIGEST_LEN];
    // decode_to_slice rejects both non-hex input and any length other than 64 digits.
    hex::decode_to_slice(hex_digits, &mut digest).map_err(|_| SignatureError::Malformed)?;
    Ok(digest)
}

fn mac_for(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s.to_owned())
    }

    #[test]
    fn matches_githubs_published_vector() {
        // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            expected
        );
        let s = secret("It's a Secret to Everybody");
        assert_eq!(
            verify(&[&s], Some(expected.as_bytes()), b"Hello, World!"),
            Ok(())
        );
    }

    #[test]
    fn accepts_uppercase_hex_and_surrounding_space() {
        let s = secret("k");
        let header = sign(b"k", b"body");
        let upper = format!("sha256={} ", header[PREFIX.len()..].to_uppercase());
        assert_eq!(verify(&[&s], Some(upper.as_bytes()), b"body"), Ok(()));
    }

    #[test]
    fn tampered_body_is_a_mismatch() {
        let s = secret("k");
        let header = sign(b"k", b"{\"a\":1}");
        let result = verify(&[&s], Some(header.as_bytes()), b"{\"a\":2}");
        assert_eq!(result, Err(SignatureError::Mismatch));
    }

    #[test]
    fn wrong_secret_is_a_mismatch() {
        let header = sign(b"other", b"body");
        let result = verify(&[&secret("k")], Some(header.as_bytes()), b"body");
        assert_eq!(result, Err(SignatureError::Mismatch));
    }

    #[test]
    fn previous_secret_is_accepted_during_rotation() {
        let (current, previous) = (secret("new"), secret("old"));
        let header = sign(b"old", b"body");
        assert_eq!(
            verify(&[&current, &previous], Some(header.as_bytes()), b"body"),
            Ok(())
        );
    }

    #[test]
    fn garbled_headers_are_malformed_not_panics() {
        let good_hex = &sign(b"k", b"body")[PREFIX.len()..];
        let cases: Vec<(String, &str)> = vec![
            (good_hex.to_owned(), "no prefix"),
            (format!("sha1={good_hex}"), "wrong algorithm"),
            (format!("sha256={}", &good_hex[..63]), "odd length"),
            (format!("sha256={}", &good_hex[..62]), "too short"),
            (format!("sha256={good_hex}00"), "too long"),
            (format!("sha256={}zz", &good_hex[..62]), "not hex"),
            ("sha256=".to_owned(), "empty digest"),
            (String::new(), "empty header"),
            ("sha256=é".to_owned(), "non-ascii"),
        ];
        for (header, case) in cases {
            let result = verify(&[&secret("k")], Some(header.as_bytes()), b"body");
            assert_eq!(result, Err(SignatureError::Malformed), "case: {case}");
        }
    }

    #[test]
    fn the_matching_digest_is_answered_and_rechecks_the_body() {
        let (current, previous) = (secret("new"), secret("old"));
        let header = sign(b"old", b"body");
        let digest = verified_digest(&[&current, &previous], Some(header.as_bytes()), b"body")
            .expect("signed with the previous secret");
        assert_eq!(hex::encode(digest), header[PREFIX.len()..]);
        assert!(matches_digest(&[&current, &previous], &digest, b"body"));
        assert!(!matches_digest(&[&current], &digest, b"body"));
        assert!(!matches_digest(&[&previous], &digest, b"bodY"));
        assert!(!matches_digest(&[&previous], &digest[..31], b"body"));
    }

    #[test]
    fn missing_header_is_missing() {
        assert_eq!(
            verify(&[&secret("k")], None, b"body"),
            Err(SignatureError::Missing)
        );
    }
}
