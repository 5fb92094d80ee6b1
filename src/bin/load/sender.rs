//! Sending: each connection is a task that takes the next delivery from a shared counter, sends
//! it, waits for the answer and records its latency, until the plan or the time runs out.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use crate::events::{Delivery, Plan};

/// Latencies recorded with three significant digits, in microseconds.
fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("valid precision")
}

/// Longest wait for one answer; a receiver that stops answering must not hang the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed connection attempt, so a closed port is not hammered.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// Where deliveries go.
pub struct Target {
    addr: SocketAddr,
    authority: String,
    path: String,
}

impl Target {
    /// Parses `http://127.0.0.1:PORT/path`; only loopback addresses are allowed.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("--url must be http://"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let addr: SocketAddr = authority.parse()?;
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "the load generator only targets loopback addresses"
        );
        Ok(Self {
            addr,
            authority: authority.to_owned(),
            path: format!("/{path}"),
        })
    }
}

/// Bounds of a run.
#[derive(Clone, Copy)]
pub struct Limits {
    /// Concurrent connections.
    pub connections: usize,
    /// Longest sending time.
    pub duration: Duration,
    /// Length of the windows the run is also reported in.
    pub window: Duration,
}

/// What one window of the run saw: its 2xx answers and their latencies.
pub struct Window {
    /// 2xx answers received in the window.
    pub ok: u64,
    /// Their latency, in microseconds.
    pub latency_us: Histogram<u64>,
}

/// What the connections saw.
pub struct Outcome {
    /// Requests sent.
    pub sent: u64,
    /// 2xx answers.
    pub ok: u64,
    /// Other statuses.
    pub non_2xx: u64,
    /// Requests that failed on the connection or got no answer within `REQUEST_TIMEOUT`.
    pub errors: u64,
    /// Attempts to connect that failed (no request was sent).
    pub connect_failures: u64,
    /// 200 answers that said `"duplicate":false` (or, without that field, to first sends).
    pub new_acknowledged: u64,
    /// 200 answers that said `"duplicate":true` (or, without that field, to resends).
    pub duplicates_acknowledged: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of answered requests, in microseconds.
    pub latency_us: Histogram<u64>,
    /// The run cut in windows of `Limits::window`, by the time each answer arrived.
    pub windows: Vec<Window>,
}

impl Outcome {
    fn empty() -> Self {
        Self {
            sent: 0,
            ok: 0,
            non_2xx: 0,
            errors: 0,
            connect_failures: 0,
            new_acknowledged: 0,
            duplicates_acknowledged: 0,
            elapsed: Duration::ZERO,
            latency_us: histogram(),
            windows: Vec::new(),
        }
    }

    fn record_ok(&mut self, latency_us: u64, window: usize) {
        self.latency_us
            .record(latency_us)
            .expect("auto-resizing histogram");
        while self.windows.len() <= window {
            self.windows.push(Window {
                ok: 0,
                latency_us: histogram(),
            });
        }
        let slot = &mut self.windows[window];
        slot.ok += 1;
        slot.latency_us
            .record(latency_us)
            .expect("auto-resizing histogram");
    }

    fn merge(&mut self, other: Self) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        self.connect_failures += other.connect_failures;
        self.new_acknowledged += other.new_acknowledged;
        self.duplicates_acknowledged += other.duplicates_acknowledged;
        self.latency_us
            .add(other.latency_us)
            .expect("same precision");
        for (index, window) in other.windows.into_iter().enumerate() {
            if index < self.windows.len() {
                let mine = &mut self.windows[index];
                mine.ok += window.ok;
                mine.latency_us
                    .add(window.latency_us)
                    .expect("same precision");
            } else {
                self.windows.push(window);
            }
        }
    }
}

/// Sends the plan over `limits.connections` connections and collects what they saw.
pub async fn run(target: &Target, plan: &Plan, limits: Limits) -> Outcome {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let deadline = started + limits.duration;
    let clock = Clock {
        started,
        deadline,
        window: limits.window,
    };
    let connections = (0..limits.connections).map(|_| connection(target, plan, &next, clock));
    let mut total = Outcome::empty();
    for outcome in futures_util::future::join_all(connections).await {
        total.merge(outcome);
    }
    total.elapsed = started.elapsed();
    total
}

/// The run's start, end and reporting windows.
#[derive(Clone, Copy)]
struct Clock {
    started: Instant,
    deadline: Instant,
    window: Duration,
}

impl Clock {
    fn window_of(&self, at: Instant) -> usize {
        let window = self.window.as_micros().max(1);
        (at.duration_since(self.started).as_micros() / window) as usize
    }
}

async fn connection(target: &Target, plan: &Plan, next: &AtomicUsize, clock: Clock) -> Outcome {
    let mut seen = Outcome::empty();
    let mut sender = None;
    while Instant::now() < clock.deadline {
        if sender.is_none() {
            sender = connect(target).await;
        }
        let Some(open) = sender.as_mut() else {
            // Nothing was sent: count the failure, wait a little, and keep the delivery.
            seen.connect_failures += 1;
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        };
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(delivery) = plan.get(index) else {
            break;
        };
        let (body, signature) = plan.signed(index);
        seen.sent += 1;
        let sent_at = Instant::now();
        match tokio::time::timeout(REQUEST_TIMEOUT, send(open, target, body, signature)).await {
            Ok(Ok((status, answer))) => {
                let now = Instant::now();
                let micros = now.duration_since(sent_at).as_micros() as u64;
                if count_answer(&mut seen, status, &answer, delivery) {
                    seen.record_ok(micros.max(1), clock.window_of(now));
                }
            }
            Ok(Err(_)) | Err(_) => {
                seen.errors += 1;
                sender = None;
            }
        }
    }
    seen
}

/// Counts an answer; true when it was a 2xx.
fn count_answer(seen: &mut Outcome, status: u16, body: &[u8], delivery: &Delivery) -> bool {
    if !(200..300).contains(&status) {
        seen.non_2xx += 1;
        return false;
    }
    seen.ok += 1;
    let says = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    let duplicate = if says(b"\"duplicate\":true") {
        true
    } else if says(b"\"duplicate\":false") {
        false
    } else {
        delivery.is_resend
    };
    if duplicate {
        seen.duplicates_acknowledged += 1;
    } else {
        seen.new_acknowledged += 1;
    }
    true
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(target: &Target) -> Option<Sender> {
    let stream = tokio::net::TcpStream::connect(target.addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(connection);
    Some(sender)
}

async fn send(
    sender: &mut Sender,
    target: &Target,
    body: &Bytes,
    signature: &str,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let request = hyper::Request::post(target.path.as_str())
        .header("host", target.authority.as_str())
        .header("content-type", "application/json")
        .header("x-dash-signature", signature)
        .body(Full::new(body.clone()))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
