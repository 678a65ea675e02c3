//! The HTTP server's timeouts, in process: slow-loris, stalled and idle clients.

use super::*;

// -------------------------------------------------------------------------------------------
// The HTTP server's timeouts, in process
// -------------------------------------------------------------------------------------------

pub(crate) const SHORT: Timeouts = Timeouts {
    header_read: Duration::from_millis(300),
    body_read: Duration::from_millis(300),
    idle: Duration::from_millis(800),
};

pub(crate) async fn server(timeouts: Timeouts) -> SocketAddr {
    let router = Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                // Longer than every timeout of SHORT.
                tokio::time::sleep(Duration::from_millis(700)).await;
                "slow"
            }),
        )
        .route("/echo", post(|body: Bytes| async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener, router, timeouts, "test"));
    addr
}

/// Reads one response; returns its status line and body.
pub(crate) async fn read_response(s: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                return (head.lines().next().unwrap_or_default().to_string(), body);
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("a response within 5 s")
            .expect("read");
        assert!(
            n > 0,
            "closed before a full response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// How long until the server closes `s` (we send nothing more), or `None` within `give_up`.
pub(crate) async fn closed_after(
    s: &mut TcpStream,
    since: Instant,
    give_up: Duration,
) -> Option<Duration> {
    let mut chunk = [0u8; 1024];
    match tokio::time::timeout(give_up, s.read(&mut chunk)).await {
        Err(_) => None,
        Ok(Ok(0) | Err(_)) => Some(since.elapsed()),
        Ok(Ok(n)) => panic!(
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
    }
}

/// A slow-loris client: sends a request's headers one byte every 50 ms, never finishing them.
/// Returns how long the server kept the connection, or `None` if it was still open after
/// `give_up`.
pub(crate) async fn slow_loris(addr: &str, give_up: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let start = Instant::now();
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut chunk = [0u8; 1024];
    for i in 0.. {
        if start.elapsed() > give_up {
            return None;
        }
        if s.write_all(&[head.get(i).copied().unwrap_or(b'a')])
            .await
            .is_err()
        {
            return Some(start.elapsed());
        }
        match tokio::time::timeout(Duration::from_millis(50), s.read(&mut chunk)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(n)) => panic!(
                "unexpected bytes: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
        }
    }
    unreachable!()
}

#[tokio::test]
async fn a_slow_loris_client_is_disconnected_after_the_header_read_timeout() {
    let addr = server(SHORT).await.to_string();
    let held = slow_loris(&addr, Duration::from_secs(5))
        .await
        .expect("still connected after 5 s of dribbled headers");
    // The clock starts at the first byte and more bytes do not reset it.
    assert!(held >= Duration::from_millis(250), "{held:?}");
    assert!(held < Duration::from_millis(2500), "{held:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_and_not_before() {
    let addr = server(SHORT).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(get).await.expect("write");
    assert_eq!(read_response(&mut s).await.0, "HTTP/1.1 200 OK");
    // Idle for less than the idle timeout, but longer than the header timeout: still open.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.write_all(get).await.expect("write");
    assert_eq!(read_response(&mut s).await.0, "HTTP/1.1 200 OK");
    let idle_since = Instant::now();
    let after = closed_after(&mut s, idle_since, Duration::from_secs(5))
        .await
        .expect("an idle connection open after 5 s");
    assert!(after >= Duration::from_millis(700), "{after:?}");

    // A connection that never sends anything is idle too.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let after = closed_after(&mut s, Instant::now(), Duration::from_secs(5))
        .await
        .expect("a silent connection open after 5 s");
    assert!(after >= Duration::from_millis(700), "{after:?}");
}

#[tokio::test]
async fn a_request_body_that_stalls_is_cut_off_after_the_body_read_timeout() {
    let addr = server(SHORT).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .expect("write");
    assert_eq!(
        read_response(&mut s).await,
        ("HTTP/1.1 200 OK".to_string(), "hello".to_string())
    );
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        .await
        .expect("write");
    let start = Instant::now();
    let after = closed_after(&mut s, start, Duration::from_secs(5))
        .await
        .expect("a stalled body still open after 5 s");
    assert!(after >= Duration::from_millis(250), "{after:?}");
}

#[tokio::test]
async fn a_slow_handler_is_not_cut_off_by_any_timeout() {
    let addr = server(SHORT).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        read_response(&mut s).await,
        ("HTTP/1.1 200 OK".to_string(), "slow".to_string())
    );
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_response(&mut s).await.0, "HTTP/1.1 200 OK");
}
