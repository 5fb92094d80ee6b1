//! One send: a Slack target gets the Block Kit message, a webhook target the event's signed body
//! byte for byte with `x-dash-event-id`. A failure is described in a few words ("HTTP 500",
//! "timed out", "connection refused") and never with the URL, which `reqwest`'s own messages
//! contain: the description is stored and shown by the API.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Client, StatusCode};

use super::rules::Target;
use super::slack;
use crate::event::render_event;
use crate::store::StoredEvent;

/// The header that names the event to a webhook target.
pub const EVENT_ID_HEADER: &str = "x-dash-event-id";

/// Why a send failed, and how long the endpoint asked to be left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// A short description without the URL.
    pub error: String,
    /// `Retry-After` of a 429 or 503, in whole seconds.
    pub retry_after: Option<Duration>,
    /// Trying again cannot help (the event or the rule is gone).
    pub permanent: bool,
}

impl SendFailure {
    /// A failure that may pass: tried again after a backoff.
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            retry_after: None,
            permanent: false,
        }
    }

    /// A failure that no retry can mend.
    pub fn permanent(error: impl Into<String>) -> Self {
        Self {
            permanent: true,
            ..Self::new(error)
        }
    }
}

/// The client every send goes through: bounded by `timeout`, and never following a redirect
/// (a redirect could carry the event to a host the rule does not name).
pub fn client(timeout: Duration) -> reqwest::Result<Client> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("dash-events/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// POSTs `event` to `target`; a 2xx answer is success.
pub async fn send(
    client: &Client,
    target: &Target,
    event: &StoredEvent,
) -> Result<(), SendFailure> {
    let request = client
        .post(target.url().expose())
        .header(CONTENT_TYPE, "application/json");
    let request = match target {
        Target::Slack(_) => {
            let rendered = render_event(&event.body, event.received_us)
                .map_err(|_| SendFailure::new("stored body is not JSON"))?;
            request.body(slack::message(&rendered).to_string())
        }
        Target::Webhook(_) => match HeaderValue::from_bytes(event.id.as_bytes()) {
            Ok(id) => request.header(EVENT_ID_HEADER, id).body(event.body.clone()),
            Err(_) => request.body(event.body.clone()),
        },
    };
    let response = request
        .send()
        .await
        .map_err(|err| SendFailure::new(describe(&err)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(SendFailure {
        retry_after: retry_after(status, response.headers().get(RETRY_AFTER)),
        ..SendFailure::new(format!("HTTP {}", status.as_u16()))
    })
}

/// A `Retry-After` in seconds on the answers that mean "later" (the HTTP-date form is ignored).
fn retry_after(status: StatusCode, value: Option<&HeaderValue>) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let seconds: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// A failed request in a few words; `reqwest`'s own message holds the URL.
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return "connection refused".into();
            }
        }
        source = cause.source();
    }
    match (err.is_connect(), err.is_request() || err.is_body()) {
        (true, _) => "could not connect".into(),
        (false, true) => "the request failed".into(),
        _ => "no valid answer".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_only_on_429_and_503() {
        let five = HeaderValue::from_static("5");
        let date = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, Some(&five)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, Some(&five)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after(StatusCode::INTERNAL_SERVER_ERROR, Some(&five)),
            None
        );
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, Some(&date)),
            None
        );
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, None), None);
    }

    #[tokio::test]
    async fn a_refused_connection_is_described_without_the_url() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/services/XXXXSECRET");
        let err = client(Duration::from_secs(5))
            .unwrap()
            .post(&url)
            .send()
            .await
            .unwrap_err();
        assert_eq!(describe(&err), "connection refused");
    }
}
