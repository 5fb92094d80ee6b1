//! Signature properties: a validly signed body is stored or refused with a 4xx (never a 5xx), and
//! one changed byte of the body or of the header is always refused (hex case aside).

use bytes::Bytes;
use dash_events::config::Secret;
use dash_events::error::AppError;
use dash_events::event::parse_delivery;
use dash_events::signature::{SignatureError, sign, verify};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::strategies::any_body;
use crate::{SECRET, config};

const PREFIX_LEN: usize = "sha256=".len();

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_validly_signed_body_is_stored_or_refused_with_4xx(body in any_body()) {
        let header = sign(SECRET.as_bytes(), &body);
        let secret = Secret::new(SECRET.into());
        prop_assert_eq!(verify(&[&secret], Some(header.as_bytes()), &body), Ok(()));
        if let Err(invalid) = parse_delivery(Bytes::from(body)) {
            prop_assert!(AppError::from(invalid).status().is_client_error());
        }
    }

    #[test]
    fn one_changed_body_byte_is_refused(
        secret in ".{0,40}", body in vec(any::<u8>(), 1..300), at in any::<Index>(), flip in 1u8..,
    ) {
        let header = sign(secret.as_bytes(), &body);
        let mut tampered = body.clone();
        tampered[at.index(body.len())] ^= flip;
        let result = verify(&[&Secret::new(secret)], Some(header.as_bytes()), &tampered);
        prop_assert_eq!(result, Err(SignatureError::Mismatch));
    }

    /// Hex case does not matter (contract), so changing a digit's case is the one accepted edit.
    #[test]
    fn one_changed_header_byte_is_refused_unless_it_only_changes_hex_case(
        secret in ".{0,40}", body in vec(any::<u8>(), 0..300), at in any::<Index>(), byte in any::<u8>(),
    ) {
        let mut header = sign(secret.as_bytes(), &body).into_bytes();
        let i = at.index(header.len());
        prop_assume!(header[i] != byte);
        let case_only = i >= PREFIX_LEN && header[i].eq_ignore_ascii_case(&byte);
        header[i] = byte;
        let result = verify(&[&Secret::new(secret)], Some(&header), &body);
        prop_assert_eq!(result.is_ok(), case_only, "byte {} set to {:#04x}: {:?}", i, byte, result);
    }
}
