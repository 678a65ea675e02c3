//! The gateway's client-facing HTTP/1 servers (the API and the Invoke API) with per-connection
//! deadlines, so that neither a slow-loris client nor a pile of idle keep-alive connections can
//! hold its sockets for ever (API Gateway closes both too).
//!
//! hyper's own `header_read_timeout` is not used: its clock starts as soon as hyper waits for
//! the next request, so on a keep-alive connection it also bounds the idle wait, and one timer
//! cannot be both "10 s to send the headers" and "60 s between requests". Instead a watchdog per
//! connection follows its phase (idle, reading headers, reading the body, busy) from the bytes
//! read and from the request and response bodies, and closes the connection when the current
//! phase's deadline passes. A request that is with a function has no deadline here: the
//! function's own `Timeout` bounds it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;

use crate::header_case::{HeaderCaseTap, Heads};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

/// The deadlines of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From a request's first byte to the end of its headers (`--header-read-timeout`).
    pub header_read: Duration,
    /// From the end of the headers to the end of the body (`--body-read-timeout`).
    pub body_read: Duration,
    /// How long a connection may wait for its (next) request (`--idle-timeout`).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        }
    }
}

/// Serves `router` on `listener` until the future is dropped; `name` prefixes the log lines
/// (e.g. "API"). Handlers can extract `ConnectInfo<SocketAddr>`.
pub async fn serve(listener: TcpListener, router: Router, timeouts: Timeouts, name: &'static str) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // The client gave up before we accepted: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            // Out of file descriptors and the like: wait instead of spinning.
            Err(e) => {
                tracing::warn!("[gateway] {name}: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            timeouts,
            name,
        ));
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    name: &'static str,
) {
    let watch = Arc::new(Watch::new(timeouts));
    let heads = Heads::default();
    let io = TokioIo::new(Watched {
        inner: stream,
        watch: watch.clone(),
        tap: HeaderCaseTap::new(heads.clone()),
    });
    let app = TowerToHyperService::new(router);
    let svc_watch = watch.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let watch = svc_watch.clone();
        watch.set(Phase::Body);
        let mut req = req.map(|inner| {
            Body::new(RequestBody {
                inner,
                watch: Some(watch.clone()),
            })
        });
        req.extensions_mut().insert(ConnectInfo(peer));
        // The tap has read this request's head before hyper handed it over: it is the oldest
        // one queued.
        if let Some(names) = heads.lock().ok().and_then(|mut q| q.pop_front()) {
            req.extensions_mut().insert(names);
        }
        let response = hyper::service::Service::call(&app, req);
        async move {
            let response: Response<Body> = response.await?;
            Ok::<_, Infallible>(response.map(|inner| Body::new(ResponseBody { inner, watch })))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    let mut idle_closing = false;
    loop {
        let deadline = watch
            .deadline()
            .filter(|(_, p)| !(idle_closing && *p == Phase::Idle));
        // A far-away instant when there is no deadline: the branch is then disabled anyway.
        let at = deadline.map_or_else(|| Instant::now() + Duration::from_secs(86_400), |d| d.0);
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = watch.changed.notified() => {}
            _ = sleep_until(at), if deadline.is_some() => match watch.expired(Instant::now()) {
                // Between two requests: let hyper close it cleanly (at once, as it is idle).
                Some(Phase::Idle) => {
                    idle_closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                Some(phase) => {
                    tracing::info!(
                        "[gateway] {name}: closed the connection from {peer}: {}",
                        phase.why(&timeouts)
                    );
                    // Dropping the connection closes the socket.
                    break;
                }
                // The phase moved on meanwhile.
                None => {}
            },
        }
    }
}

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of a request (a new connection, or after a response).
    Idle,
    /// Some bytes of a request arrived; its headers are not complete yet.
    Head,
    /// The headers arrived; the request's body is not read to its end yet.
    Body,
    /// The request is being handled or its response written: no deadline.
    Busy,
}

impl Phase {
    fn why(self, t: &Timeouts) -> String {
        match self {
            Phase::Head => format!(
                "its request headers did not arrive within {:?} (--header-read-timeout)",
                t.header_read
            ),
            Phase::Body => format!(
                "its request body did not arrive within {:?} (--body-read-timeout)",
                t.body_read
            ),
            Phase::Idle => format!("idle for {:?} (--idle-timeout)", t.idle),
            Phase::Busy => "busy".into(),
        }
    }
}

struct State {
    phase: Phase,
    since: Instant,
}

/// One connection's phase, shared by its socket, its request and response bodies and its
/// watchdog.
struct Watch {
    state: Mutex<State>,
    /// Wakes the watchdog when the phase changes (its deadline may have moved earlier).
    changed: Notify,
    timeouts: Timeouts,
}

impl Watch {
    fn new(timeouts: Timeouts) -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Idle,
                since: Instant::now(),
            }),
            changed: Notify::new(),
            timeouts,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.lock() = State {
            phase,
            since: Instant::now(),
        };
        self.changed.notify_one();
    }

    /// Moves from `from` to `to`; nothing when the connection is elsewhere by now.
    fn advance(&self, from: Phase, to: Phase) {
        let mut st = self.lock();
        if st.phase == from {
            *st = State {
                phase: to,
                since: Instant::now(),
            };
            drop(st);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: an idle connection starts reading a request's headers. (Bytes read while
    /// busy belong to the current request's body or to a pipelined request.)
    fn on_read(&self) {
        self.advance(Phase::Idle, Phase::Head);
    }

    /// Bytes left: an idle connection was still flushing its last response, so its idle time
    /// starts later. The deadline only moves later, so the watchdog needs no wake-up.
    fn on_write(&self) {
        let mut st = self.lock();
        if st.phase == Phase::Idle {
            st.since = Instant::now();
        }
    }

    fn deadline(&self) -> Option<(Instant, Phase)> {
        let st = self.lock();
        let limit = match st.phase {
            Phase::Idle => self.timeouts.idle,
            Phase::Head => self.timeouts.header_read,
            Phase::Body => self.timeouts.body_read,
            Phase::Busy => return None,
        };
        Some((st.since + limit, st.phase))
    }

    /// The phase whose deadline has passed at `now`, if any.
    fn expired(&self, now: Instant) -> Option<Phase> {
        self.deadline()
            .filter(|(at, _)| *at <= now)
            .map(|(_, phase)| phase)
    }
}

/// The socket, telling the watch when bytes move, and the tap what arrives.
struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
    tap: HeaderCaseTap,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.on_read();
            this.tap.feed(&buf.filled()[before..]);
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.watch.on_write();
        }
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.watch.on_write();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request body that ends the body phase when it is read to its end or dropped.
struct RequestBody {
    inner: Incoming,
    watch: Option<Arc<Watch>>,
}

impl RequestBody {
    fn done(&mut self) {
        if let Some(w) = self.watch.take() {
            w.advance(Phase::Body, Phase::Busy);
        }
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(poll, Poll::Ready(None | Some(Err(_)))) || this.inner.is_end_stream() {
            this.done();
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        self.done();
    }
}

/// A response body whose end (hyper drops it once written) makes the connection idle again.
struct ResponseBody {
    inner: Body,
    watch: Arc<Watch>,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.watch.set(Phase::Idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts() -> Timeouts {
        Timeouts {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        }
    }

    #[test]
    fn each_phase_has_its_own_deadline_and_a_busy_request_has_none() {
        let secs = Duration::from_secs;
        let w = Watch::new(timeouts());
        let (at, phase) = w.deadline().unwrap();
        assert_eq!(phase, Phase::Idle);
        assert!(at >= Instant::now() + secs(59));
        w.on_read();
        let (head_at, phase) = w.deadline().unwrap();
        assert_eq!(phase, Phase::Head);
        assert!(head_at <= Instant::now() + secs(10));
        w.on_read();
        assert_eq!(
            w.deadline().unwrap().0,
            head_at,
            "the first byte starts the clock"
        );
        assert_eq!(w.expired(Instant::now()), None);
        assert_eq!(w.expired(head_at), Some(Phase::Head));
        w.set(Phase::Body);
        assert_eq!(w.deadline().unwrap().1, Phase::Body);
        w.advance(Phase::Body, Phase::Busy);
        assert_eq!(w.deadline(), None);
        w.on_read();
        assert_eq!(
            w.deadline(),
            None,
            "a pipelined byte starts no clock while busy"
        );
        assert_eq!(w.expired(Instant::now() + secs(3600)), None);
        w.set(Phase::Idle);
        assert_eq!(w.expired(Instant::now() + secs(61)), Some(Phase::Idle));
    }

    #[test]
    fn a_late_end_of_body_does_not_undo_the_next_phase() {
        let w = Watch::new(timeouts());
        w.set(Phase::Idle);
        w.advance(Phase::Body, Phase::Busy);
        assert_eq!(w.deadline().unwrap().1, Phase::Idle);
    }
}
