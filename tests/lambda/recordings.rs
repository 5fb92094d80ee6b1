//! The recorded events themselves: each signed one carries the signature of its exact body bytes
//! under the test secret, so a fixture edited by hand without `events/generate.py` fails here
//! rather than as a puzzling 401 elsewhere.

use crate::function::{SECRET, body_bytes, header, recorded};
use crate::helpers::sign;

#[test]
fn every_signed_recording_is_signed_over_its_decoded_body() {
    let signed = [
        "rest_v1_signed.json",
        "rest_v1_base64_signed.json",
        "http_v2_signed.json",
        "http_v2_stage_base64_signed.json",
        "http_v2_invalid_json.json",
    ];
    for name in signed {
        let event = recorded(name);
        let signature = header(&event, "x-dash-signature").unwrap_or_else(|| panic!("{name}"));
        assert_eq!(signature, sign(SECRET, &body_bytes(&event)), "{name}");
    }
}

#[test]
fn the_recordings_have_the_shape_of_their_payload_format() {
    for name in ["rest_v1_signed.json", "rest_v1_list_events.json"] {
        let event = recorded(name);
        assert!(
            event["httpMethod"].is_string(),
            "{name}: REST API events name httpMethod"
        );
        assert!(
            event["requestContext"]["resourcePath"].is_string(),
            "{name}"
        );
        assert_eq!(event["requestContext"]["stage"], "prod", "{name}");
    }
    for name in ["http_v2_signed.json", "http_v2_stage_base64_signed.json"] {
        let event = recorded(name);
        assert_eq!(event["version"], "2.0", "{name}");
        assert!(
            event["requestContext"]["http"]["method"].is_string(),
            "{name}"
        );
    }
    // API Gateway sends REST API header names as the client wrote them, HTTP API ones lower-case.
    assert!(recorded("rest_v1_signed.json")["headers"]["X-Dash-Signature"].is_string());
    assert!(recorded("http_v2_signed.json")["headers"]["x-dash-signature"].is_string());
}
