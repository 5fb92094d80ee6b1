//! How much time and how many connections one client may hold, so that slow or abusive clients
//! (headers or a body trickled a byte at a time, answers never read, thousands of idle
//! connections) cannot starve the others. `serve` runs with the constants below; the tests of these
//! bounds build a `Config` with shorter ones and serve it in-process.

use std::time::Duration;

/// The whole request head (request line and headers) must arrive within this time, counted from
/// the moment the connection is accepted (with HTTPS, from the end of the TLS handshake) or, on a
/// keep-alive connection, from the end of the previous answer; otherwise the connection is closed without an answer. The same bound is the
/// idle keep-alive timeout. Dash sends a whole delivery at once, so 10 s is ample even on a slow
/// link, and a connection that sends nothing frees its slot within 10 s.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// With HTTPS, the TLS handshake must end within this time of the connection being accepted;
/// otherwise the connection is closed. It holds a connection slot until then, so a client that
/// opens a connection and never speaks TLS frees it within 10 s, as one that never sends a head
/// does. A handshake is a few round trips: 10 s is ample on any link Dash posts over.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole request body must arrive within this time after its headers, however it trickles in
/// (the bound is not reset by each byte); otherwise the answer is 408 with `{"error": …}` and the
/// connection is closed. 15 s lets a full `MAX_BODY_BYTES` (1 MiB) through at ~70 KB/s.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// A write to a client that makes no progress for this long (the client stopped reading its
/// answers) closes the connection. Without it such a client would hold a connection slot forever.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Time a request may take beyond its body's bound and the commit's own bound (10 s) before it
/// is answered 503 with `Retry-After`; see [`Limits::request_timeout`].
pub const REQUEST_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

/// Connections served at once. At the cap, the server accepts no more until one closes, and new
/// connections wait in the kernel's listen queue. Idle or slow connections free their slot within
/// the bounds above, so the cap cannot be held for long; 4096 keeps memory to tens of MB and
/// stays well under the usual open-file limits.
pub const MAX_CONNECTIONS: usize = 4096;

/// The bounds one `serve` process applies (the constants above unless a test shortened them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`TLS_HANDSHAKE_TIMEOUT`].
    pub tls_handshake_timeout: Duration,
    /// See [`BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
    /// See [`WRITE_STALL_TIMEOUT`].
    pub write_stall_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            write_stall_timeout: WRITE_STALL_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// The longest any request may take to be answered: the body's bound, plus the commit's bound
    /// (`write_timeout`), plus [`REQUEST_TIMEOUT_MARGIN`] — 30 s by default. Longer than both
    /// inner bounds together, so it never cuts off a delivery whose event is being committed (that
    /// one answers by itself, 200 or 503); it stops a query stuck on the database.
    pub fn request_timeout(&self, write_timeout: Duration) -> Duration {
        self.body_read_timeout + write_timeout + REQUEST_TIMEOUT_MARGIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_timeout_outlasts_the_body_and_the_commit() {
        let limits = Limits::default();
        let commit = Duration::from_secs(10);
        assert_eq!(limits.request_timeout(commit), Duration::from_secs(30));
        assert!(limits.request_timeout(commit) > limits.body_read_timeout + commit);
    }
}
