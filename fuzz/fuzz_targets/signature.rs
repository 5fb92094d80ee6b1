//! Fuzzes `signature::verify` and `signature::sign`.
//!
//! Input layout: everything before the first `\n` is the header (all of it when there is no
//! `\n`), everything after is the body. The header is checked as received against a fixed
//! secret (must never panic, and may only match if it is that secret's signature), then used as
//! a secret of its own to check that signing round-trips and that one changed body byte or one
//! changed hex digit is always refused.

#![no_main]

use dash_events::secret::Secret;
use dash_events::signature::{SignatureError, sign, verify};
use libfuzzer_sys::fuzz_target;

/// The secret the seed corpus (`corpus/signature/seed-*`) is signed with.
const FIXED_SECRET: &str = "fuzz-secret";
const PREFIX: &str = "sha256=";

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    check_arbitrary_header(header, body);
    let secret = Secret::new(String::from_utf8_lossy(header).into_owned());
    check_round_trip(&secret, body);
    check_tampering(&secret, body, data.first().copied().unwrap_or(0));
});

/// Any header: no panic, and `Ok` only for the real signature (hex case and outer space aside).
fn check_arbitrary_header(header: &[u8], body: &[u8]) {
    let fixed = Secret::new(FIXED_SECRET.to_owned());
    let result = verify(&[&fixed], Some(header), body);
    if result.is_ok() {
        let given = String::from_utf8_lossy(header.trim_ascii()).to_ascii_lowercase();
        assert_eq!(
            given,
            sign(FIXED_SECRET.as_bytes(), body),
            "accepted a foreign header"
        );
    }
    assert!(
        verify(&[], Some(header), body).is_err(),
        "no secret, no match"
    );
}

/// `sign` then `verify` succeeds, alone, as the previous secret, and in upper case.
fn check_round_trip(secret: &Secret, body: &[u8]) {
    let header = sign(secret.expose().as_bytes(), body);
    assert_eq!(verify(&[secret], Some(header.as_bytes()), body), Ok(()));
    let other = Secret::new(format!("{}-other", secret.expose()));
    assert_eq!(
        verify(&[&other, secret], Some(header.as_bytes()), body),
        Ok(())
    );
    let upper = format!("{PREFIX}{}", header[PREFIX.len()..].to_ascii_uppercase());
    assert_eq!(verify(&[secret], Some(upper.as_bytes()), body), Ok(()));
}

/// One changed body byte, one extra byte, or one hex digit changed to another value: refused.
fn check_tampering(secret: &Secret, body: &[u8], seed: u8) {
    let header = sign(secret.expose().as_bytes(), body);
    if !body.is_empty() {
        let mut tampered = body.to_vec();
        let at = usize::from(seed) % tampered.len();
        tampered[at] ^= seed.max(1);
        let result = verify(&[secret], Some(header.as_bytes()), &tampered);
        assert_eq!(result, Err(SignatureError::Mismatch), "byte {at} changed");
    }
    let mut longer = body.to_vec();
    longer.push(seed);
    let result = verify(&[secret], Some(header.as_bytes()), &longer);
    assert_eq!(result, Err(SignatureError::Mismatch), "byte appended");
    let mut digits = header.into_bytes();
    let at = PREFIX.len() + usize::from(seed) % 64;
    digits[at] = if digits[at] == b'0' { b'1' } else { b'0' };
    let result = verify(&[secret], Some(&digits), body);
    assert_eq!(
        result,
        Err(SignatureError::Mismatch),
        "hex digit {at} changed"
    );
}
