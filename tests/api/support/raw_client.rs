//! A raw TCP client for the tests of slow or abusive clients: it sends exactly the bytes a test
//! chooses, as slowly as it chooses, and notes when the server closes the connection. Every loop
//! and every wait here is bounded, and it only ever connects to the server under test (loopback).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// Most bytes `read_until_closed` keeps, so a server that never stops talking cannot exhaust memory.
const MAX_READ: usize = 64 << 20;

/// Connects to the server under test.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr)
        .await
        .unwrap_or_else(|err| panic!("connect to {addr}: {err} (is `ulimit -n` too low?)"))
}

/// Connects with a receive buffer of a few KB, so that unread answers soon fill the window and
/// the server's writes stall.
pub async fn connect_with_small_window(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("set the receive buffer size");
    socket.connect(addr).await.expect("connect")
}

/// Opens `count` connections (200 at a time); each sends `prefix` (it may be empty) and then
/// nothing more.
pub async fn open_idle(addr: SocketAddr, count: usize, prefix: &[u8]) -> Vec<TcpStream> {
    let mut open = Vec::with_capacity(count);
    for start in (0..count).step_by(200) {
        let batch = (start..count.min(start + 200)).map(|_| async {
            let mut stream = connect(addr).await;
            stream.write_all(prefix).await.expect("send the prefix");
            stream
        });
        open.extend(join_all(batch).await);
    }
    open
}

/// Sends `bytes` one at a time, `every` apart, until all are sent, a write fails (the server
/// closed the connection) or `stop` is set.
pub async fn trickle(
    writer: &mut OwnedWriteHalf,
    bytes: &[u8],
    every: Duration,
    stop: &AtomicBool,
) {
    for byte in bytes {
        if stop.load(Ordering::SeqCst) || writer.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// Reads until the server closes the connection (end of file or reset) or `limit` passes since
/// `since`. Answers everything read and, if the connection was closed, when (after `since`).
/// Sets `seen` as soon as anything arrives or the connection closes, so that a `trickle` stops
/// writing into a connection the server is done with.
pub async fn read_until_closed(
    reader: &mut OwnedReadHalf,
    since: Instant,
    limit: Duration,
    seen: &AtomicBool,
) -> (Vec<u8>, Option<Duration>) {
    let mut received = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    while received.len() < MAX_READ {
        match tokio::time::timeout_at(since + limit, reader.read(&mut chunk)).await {
            Err(_still_open) => return (received, None),
            Ok(Ok(0) | Err(_)) => {
                seen.store(true, Ordering::SeqCst);
                return (received, Some(since.elapsed()));
            }
            Ok(Ok(n)) => {
                seen.store(true, Ordering::SeqCst);
                received.extend_from_slice(&chunk[..n]);
            }
        }
    }
    (received, None)
}

/// The status code of the first answer in `raw` bytes (`None` if there is none).
pub fn status(raw: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(raw.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.parse().ok()
}

/// The header block and the body of the one answer in `raw` bytes.
pub fn split_answer(raw: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(raw);
    match text.split_once("\r\n\r\n") {
        Some((head, body)) => (head.to_ascii_lowercase(), body.to_owned()),
        None => (text.to_ascii_lowercase(), String::new()),
    }
}
