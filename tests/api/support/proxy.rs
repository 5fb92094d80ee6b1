//! A TCP proxy between the service and PostgreSQL that a test steers while it runs, to make the
//! network between them stall, cut and reset. It listens on `127.0.0.1:0`, opens one upstream
//! connection per accepted one and copies bytes both ways; the mode decides what happens to them.
//! Dropping the `Proxy` ends every connection through it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Copies them both ways.
    Pass,
    /// Copies them until the service sends a `COMMIT`, then holds that `COMMIT` and every byte
    /// after it, in both directions and on every connection, keeping them all open: a network
    /// black hole that opens while a commit is in flight.
    StallFromCommit,
    /// Each connection is reset (RST) once it has carried a random number of bytes, from 1 to
    /// `max_bytes`, since the storm began: new connections die in their handshake, old ones in
    /// any statement, a commit among them.
    ResetStorm { max_bytes: usize },
    /// The service's next `COMMIT` on each connection ends that connection: every other one
    /// after the `COMMIT` has reached PostgreSQL (it commits, and the answer is lost), the rest
    /// before (the transaction rolls back).
    CutAtCommit,
}

/// The mode, and how many times the test has asked to close every current connection.
#[derive(Debug, Clone, Copy)]
struct Control {
    mode: Mode,
    cuts: u64,
}

/// What the connections share: whether a `StallFromCommit` began, and what they did, for the
/// test to await.
#[derive(Default)]
struct Counts {
    stalled: AtomicBool,
    resets: AtomicUsize,
    commits_cut: AtomicUsize,
}

/// A running proxy; see the module comment.
pub struct Proxy {
    addr: SocketAddr,
    control: watch::Sender<Control>,
    counts: Arc<Counts>,
    accepting: JoinHandle<()>,
}

/// How one relayed connection ends: closed (FIN) or reset (RST).
#[derive(Debug, PartialEq, Eq)]
enum End {
    Close,
    Reset,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`host:port`) in `Mode::Pass`.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let control = watch::Sender::new(Control {
            mode: Mode::Pass,
            cuts: 0,
        });
        let counts = Arc::new(Counts::default());
        let accepting = tokio::spawn(accept(
            listener,
            upstream.to_owned(),
            control.subscribe(),
            counts.clone(),
        ));
        Proxy {
            addr,
            control,
            counts,
            accepting,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set(&self, mode: Mode) {
        self.counts.stalled.store(false, Ordering::SeqCst);
        self.control.send_modify(|control| control.mode = mode);
    }

    /// Closes every connection open now, whatever it is doing; new ones are let in.
    pub fn cut(&self) {
        self.control.send_modify(|control| control.cuts += 1);
    }

    /// Connections reset so far.
    pub fn resets(&self) -> usize {
        self.counts.resets.load(Ordering::SeqCst)
    }

    /// Connections ended at a `COMMIT` so far: (after it reached PostgreSQL, before).
    pub fn commits_cut(&self) -> (usize, usize) {
        let cut = self.counts.commits_cut.load(Ordering::SeqCst);
        (cut.div_ceil(2), cut / 2)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The relays end when `control` is dropped with the proxy.
        self.accepting.abort();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: String,
    control: watch::Receiver<Control>,
    counts: Arc<Counts>,
) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(server) = TcpStream::connect(&upstream).await else {
            continue;
        };
        tokio::spawn(relay(client, server, control.clone(), counts.clone()));
    }
}

/// Copies bytes between `client` and `server` until either side closes or the mode ends the
/// connection, then closes both, or resets both.
async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    control: watch::Receiver<Control>,
    counts: Arc<Counts>,
) {
    let link = Link {
        control,
        counts,
        storm_budget: fastrand::usize(..),
        storm_spent: AtomicUsize::new(0),
    };
    let end = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        tokio::select! {
            end = link.pump(client_read, server_write, true) => end,
            end = link.pump(server_read, client_write, false) => end,
            end = link.cut_ordered() => end,
        }
    };
    if end == End::Reset {
        link.counts.resets.fetch_add(1, Ordering::SeqCst);
        // SO_LINGER 0: closing the socket sends RST and drops what is still queued.
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
}

/// What the two directions of one relayed connection share.
struct Link {
    control: watch::Receiver<Control>,
    counts: Arc<Counts>,
    /// Drawn once per connection; `ResetStorm` takes it modulo its `max_bytes`.
    storm_budget: usize,
    storm_spent: AtomicUsize,
}

impl Link {
    /// Copies `from` to `to`, chunk by chunk, as the mode allows.
    async fn pump(&self, mut from: ReadHalf<'_>, mut to: WriteHalf<'_>, to_server: bool) -> End {
        let mut control = self.control.clone();
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return End::Close,
                Ok(read) => read,
            };
            let chunk = &buffer[..read];
            if to_server && is_commit(chunk) && control.borrow().mode == Mode::StallFromCommit {
                self.counts.stalled.store(true, Ordering::SeqCst);
            }
            // Only a change of mode ends a stall, so only a change of mode needs to wake this.
            let Ok(mode) = control
                .wait_for(|c| !self.stalls(c.mode))
                .await
                .map(|c| c.mode)
            else {
                return End::Close;
            };
            let (forward, end) = match mode {
                Mode::ResetStorm { max_bytes } => self.spend(chunk.len(), max_bytes),
                Mode::CutAtCommit if to_server && is_commit(chunk) => self.cut_commit(chunk.len()),
                _ => (chunk.len(), None),
            };
            if to.write_all(&chunk[..forward]).await.is_err() {
                return End::Close;
            }
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// Whether `mode` holds bytes now.
    fn stalls(&self, mode: Mode) -> bool {
        mode == Mode::StallFromCommit && self.counts.stalled.load(Ordering::SeqCst)
    }

    /// How much of a chunk of `len` bytes the storm lets through, and whether it then resets.
    fn spend(&self, len: usize, max_bytes: usize) -> (usize, Option<End>) {
        let budget = self.storm_budget % max_bytes.max(1) + 1;
        let spent = self.storm_spent.fetch_add(len, Ordering::SeqCst);
        if spent + len < budget {
            (len, None)
        } else {
            (budget.saturating_sub(spent), Some(End::Reset))
        }
    }

    /// Forwards the `COMMIT` (of `len` bytes) or not, alternately, and closes the connection.
    fn cut_commit(&self, len: usize) -> (usize, Option<End>) {
        let cut = self.counts.commits_cut.fetch_add(1, Ordering::SeqCst);
        let forward = if cut % 2 == 0 { len } else { 0 };
        (forward, Some(End::Close))
    }

    /// Resolves when the test cuts every connection, or drops the proxy.
    async fn cut_ordered(&self) -> End {
        let mut control = self.control.clone();
        let cuts = control.borrow_and_update().cuts;
        let _ = control.wait_for(|c| c.cuts != cuts).await;
        End::Close
    }
}

/// Whether a chunk from the service carries a `COMMIT`: sqlx sends it as a simple query, a
/// `Q` message whose text is `COMMIT` and a NUL.
fn is_commit(chunk: &[u8]) -> bool {
    chunk.windows(7).any(|window| window == b"COMMIT\0")
}
