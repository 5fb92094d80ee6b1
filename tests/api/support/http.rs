//! Talking to a server under test, whichever way it runs (in this process, `support::app`, or as
//! a child process, `support::server`): raw or signed webhook deliveries and queries carrying the
//! bearer token when one is configured, through a `reqwest` client that only speaks to loopback.
//! Both kinds of server dereference to an [`Http`], so the helpers of the tests take `&Http`.
//! Every answer they receive is checked against the service's OpenAPI document
//! (`support::openapi`): one it does not describe fails the test.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

use crate::helpers::{sign, status_and_json};
use crate::support::openapi;

/// The secret every test server is started with unless a test chooses another.
pub const SECRET: &str = "test-webhook-secret";

/// The address of a running server, the secret it verifies deliveries with, and its API token.
pub struct Http {
    pub addr: SocketAddr,
    pub secret: String,
    pub client: Client,
    token: Option<String>,
    scheme: &'static str,
}

impl Http {
    pub fn new(addr: SocketAddr, secret: &str, token: Option<&str>) -> Http {
        Http {
            addr,
            secret: secret.to_owned(),
            client: client(),
            token: token.map(str::to_owned),
            scheme: "http",
        }
    }

    /// The same server spoken to over HTTPS with `client`, which must trust its certificate.
    pub fn https(addr: SocketAddr, secret: &str, token: Option<&str>, client: Client) -> Http {
        Http {
            client,
            scheme: "https",
            ..Http::new(addr, secret, token)
        }
    }

    /// The API token the server requires, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// A request to `path`, carrying the bearer token when the server was given one.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.authorize(self.client.request(method, self.url(path)))
    }

    /// Adds the bearer token to `request` when the server was given one.
    pub fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match self.token() {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(self.request(Method::GET, path)).await
    }

    /// `GET path` with query parameters (encoded by `reqwest`), answering the status and JSON body.
    pub async fn get_query(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        status_and_json(
            self.send(self.request(Method::GET, path).query(query))
                .await,
        )
        .await
    }

    /// Sends `request` (built on any client) and checks its answer against the OpenAPI
    /// document; the answer's body has been read, but for an endless `text/event-stream`.
    pub async fn send(&self, request: RequestBuilder) -> Response {
        let (client, request) = request.build_split();
        let request = request.unwrap_or_else(|err| panic!("an invalid request: {err:?}"));
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let response = client
            .execute(request)
            .await
            .unwrap_or_else(|err| panic!("{method} {path} failed: {err:?}"));
        checked(&method, &path, response).await
    }

    /// `GET path` that must answer 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let (status, body) = status_and_json(self.get(path).await).await;
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    /// POSTs `body` to `/webhooks/dash` with exactly the given headers.
    pub async fn post_webhook(
        &self,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self.client.post(self.url("/webhooks/dash"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body.into())).await
    }

    /// The request Dash sends for `body`: JSON content type and a valid signature.
    pub fn deliver_request(&self, body: &[u8]) -> RequestBuilder {
        self.client
            .post(self.url("/webhooks/dash"))
            .header(CONTENT_TYPE, "application/json")
            .header("x-dash-signature", sign(&self.secret, body))
            .body(body.to_vec())
    }

    /// Delivers `body` the way Dash does: JSON content type and a valid signature.
    pub async fn deliver_bytes(&self, body: &[u8]) -> Response {
        self.send(self.deliver_request(body)).await
    }

    /// Delivers an event as Dash does and answers the status and JSON body.
    pub async fn deliver(&self, event: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(event).expect("serialize event");
        status_and_json(self.deliver_bytes(&body).await).await
    }

    /// Like `deliver`, but `None` when no answer came (e.g. the connection was refused or closed).
    pub async fn try_deliver(&self, event: &Value) -> Option<(u16, Value)> {
        let body = serde_json::to_vec(event).expect("serialize event");
        self.try_deliver_bytes(&body).await
    }

    /// Delivers `body` as Dash does; `None` when no whole answer came (the connection was
    /// refused, or cut before the answer ended). An answer the contract does not allow for a
    /// delivery fails the test (see `contract_answer`): a server that answers garbage under
    /// load must not pass for one that is down.
    pub async fn try_deliver_bytes(&self, body: &[u8]) -> Option<(u16, Value)> {
        let response = self.deliver_request(body).send().await.ok()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let retry_after = headers
            .get(RETRY_AFTER)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let bytes = response.bytes().await.ok()?;
        let answer = (status, &headers, &bytes[..]);
        if let Err(problem) = openapi::contract().check(&Method::POST, "/webhooks/dash", answer) {
            let text = String::from_utf8_lossy(&bytes);
            panic!("a delivery answered {status}, against /openapi.json: {problem}\nbody: {text}");
        }
        Some((
            status,
            contract_answer(status, retry_after.as_deref(), &bytes),
        ))
    }

    /// Delivers an event that must be acknowledged as new.
    pub async fn store(&self, event: &Value) {
        let (status, body) = self.deliver(event).await;
        assert_eq!(status, 200, "delivery of {event} answered {status}: {body}");
        assert_eq!(body["duplicate"], false, "delivery of {event}: {body}");
    }
}

/// Statuses the contract allows `POST /webhooks/dash` to answer.
const DELIVERY_STATUSES: [u16; 10] = [200, 400, 401, 405, 408, 409, 413, 415, 422, 503];

/// The JSON of a whole answer to a delivery, after checking it is one the contract allows: a
/// documented status; a JSON body; on 200 `received`, `duplicate` and `id`; otherwise `error`;
/// on 503 `Retry-After: 5`. Panics, naming what is wrong, on anything else.
pub fn contract_answer(status: u16, retry_after: Option<&str>, body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    assert!(
        DELIVERY_STATUSES.contains(&status),
        "a delivery answered {status}, which the contract does not allow: {text}"
    );
    let answer: Value = serde_json::from_slice(body).unwrap_or_else(|err| {
        panic!("a delivery answered {status} with a body that is not JSON ({err}): {text}")
    });
    if status == 200 {
        assert!(
            answer["received"] == true
                && answer["duplicate"].is_boolean()
                && answer["id"].is_string(),
            "a 200 to a delivery lacks received/duplicate/id: {answer}"
        );
    } else {
        assert!(
            answer["error"].is_string(),
            "a {status} to a delivery lacks error: {answer}"
        );
    }
    if status == 503 {
        assert_eq!(
            retry_after,
            Some("5"),
            "a 503 to a delivery must carry Retry-After: 5"
        );
    }
    answer
}

/// A client for loopback only: no proxy from the environment, bounded waits.
pub fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build the HTTP client")
}

/// Checks an answer against the OpenAPI document, panicking with what is wrong; the body is read and
/// given back in a new `Response` (only a `text/event-stream` is left unread: it is endless, and
/// `support::sse` checks its messages).
pub async fn checked(method: &Method, path: &str, response: Response) -> Response {
    let status = response.status();
    let what = format!("{method} {path} answered {status}");
    let documented = openapi::contract()
        .check_head(method, path, status.as_u16(), response.headers())
        .unwrap_or_else(|problem| panic!("{what}, against /openapi.json: {problem}"));
    if documented.is_stream() {
        return response;
    }
    let (version, headers) = (response.version(), response.headers().clone());
    let body = response
        .bytes()
        .await
        .unwrap_or_else(|err| panic!("{what}, and its body broke off: {err:?}"));
    if let Err(problem) = openapi::contract().check_body(&documented, &body) {
        let text = String::from_utf8_lossy(&body[..body.len().min(2000)]).into_owned();
        panic!("{what}, against /openapi.json: {problem}\nbody: {text}");
    }
    rebuilt(status, version, headers, body)
}

fn rebuilt(
    status: reqwest::StatusCode,
    version: reqwest::Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = axum::http::Response::new(body);
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Response::from(response)
}
