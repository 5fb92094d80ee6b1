//! The connection layer under the router: an HTTP/1.1 accept loop on hyper that bounds what one
//! client can hold — a deadline for each request head, which is also the idle keep-alive timeout;
//! a cap on connections served at once; a bound on writes that make no progress — and that shuts
//! down gracefully: stop accepting, let every connection finish the request it is serving, return.
//! With HTTPS (`tls`), each connection first completes a TLS handshake, within its own deadline and
//! holding its slot, inside the connection's task; the bounds above then apply to the TLS stream.
//!
//! Only HTTP/1.1 is served: Dash posts its webhooks over HTTP/1.1, and hyper's head deadline
//! exists for HTTP/1 only, so a cleartext HTTP/2 connection could not be bounded the same way.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;

use super::tls::Handshake;
use crate::limits::Limits;

/// How long to wait before accepting again after an error such as "too many open files", which
/// would otherwise repeat at once in a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` resolves; then stops
/// accepting (the listener is closed, so new connections are refused) and returns once every open
/// connection has finished the request it was serving. Idle connections are closed at once, and
/// so are those still in their TLS handshake.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let graceful = GracefulShutdown::new();
    let (draining, draining_rx) = watch::channel(false);
    let handshake =
        tls.map(|acceptor| Handshake::new(acceptor, limits.tls_handshake_timeout, draining_rx));
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((stream, slot)) = accepted else {
            break;
        };
        let connection = Connection {
            stream,
            slot,
            watcher: graceful.watcher(),
        };
        connection.spawn(&app, &limits, handshake.clone());
    }
    drop(listener);
    let _ = draining.send(true);
    // The connections hold their own clones of the app (and so of the writers' handles).
    drop(app);
    graceful.shutdown().await;
}

/// Waits for a free connection slot, then for a connection. `None` only if the slots were closed,
/// which nothing does.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(TcpStream, OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots).acquire_owned().await.ok()?;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => return Some((stream, slot)),
            // The peer gave up before we accepted: nothing to serve, nothing to report.
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                tracing::error!(error = %err, "accepting a connection failed; retrying");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// An accepted connection: its socket, the slot it holds until it ends, and its place in the
/// graceful shutdown (taken at accept, so a connection still handshaking delays the drain).
struct Connection {
    stream: TcpStream,
    slot: OwnedSemaphorePermit,
    watcher: Watcher,
}

impl Connection {
    /// Serves the connection in its own task, after a TLS handshake when `handshake` is given.
    fn spawn(self, app: &Router, limits: &Limits, handshake: Option<Handshake>) {
        let Self {
            stream,
            slot,
            watcher,
        } = self;
        let io = StallGuard::new(stream, limits.write_stall_timeout);
        let (app, limits) = (app.clone(), *limits);
        tokio::spawn(async move {
            match handshake {
                None => serve_http(io, app, limits, watcher).await,
                Some(handshake) => {
                    if let Some(tls) = handshake.accept(io).await {
                        serve_http(tls, app, limits, watcher).await;
                    }
                }
            }
            drop(slot);
        });
    }
}

/// Serves HTTP/1.1 on `io` until the client or the graceful shutdown ends the connection.
async fn serve_http<IO>(io: IO, app: Router, limits: Limits, watcher: Watcher)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    // Timeouts and clients that hang up end here; none of them is the server's fault.
    if let Err(err) = watcher.watch(connection).await {
        tracing::debug!(error = %err, "connection closed with an error");
    }
}

/// A client socket whose writes fail with `TimedOut` once one has made no progress for `limit`
/// (the client stopped reading), so that hyper closes the connection and frees its slot.
struct StallGuard {
    stream: TcpStream,
    limit: Duration,
    /// Running while a write is pending; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl StallGuard {
    fn new(stream: TcpStream, limit: Duration) -> Self {
        Self {
            stream,
            limit,
            stalled: None,
        }
    }

    fn bound<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of its answer in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.bound(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.bound(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_flush(cx);
        self.bound(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.bound(cx, poll)
    }
}
