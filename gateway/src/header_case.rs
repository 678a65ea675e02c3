//! The request header names as the client spelled them.
//!
//! API Gateway passes header names to a function in the client's case (`Content-Type`,
//! `x-custom-ID`); hyper lower-cases them, and keeps the original case only in a type it
//! does not export. So each connection's bytes are read a second time on their way in by a
//! [`HeaderCaseTap`], which finds each request's head (with `httparse`, hyper's own parser),
//! notes its header names, skips its body (by `Content-Length` or chunked framing) and
//! queues the names; the connection's service takes them, in order, one request at a time,
//! as [`OriginalHeaderNames`]. Should the tap ever lose track (a head it cannot parse), it
//! stops for that connection and names fall back to lower case: never wrong, only plain.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The header names of one request, as sent: lower-case name to the client's spelling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalHeaderNames(pub HashMap<String, String>);

impl OriginalHeaderNames {
    /// The client's spelling of `name` (any case), if it sent that header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// The queue between a connection's tap and its service.
pub type Heads = Arc<Mutex<VecDeque<OriginalHeaderNames>>>;

/// A head larger than this is not followed (hyper refuses far smaller ones anyway).
const MAX_HEAD: usize = 128 * 1024;

#[derive(Debug)]
enum State {
    /// Collecting a request head.
    Head(Vec<u8>),
    /// Skipping this many body bytes.
    Body(u64),
    /// In a chunked body: collecting a chunk-size line.
    ChunkSize(Vec<u8>),
    /// In a chunked body: skipping this many chunk bytes, then its CRLF.
    ChunkData(u64),
    /// After the last chunk: skipping trailer lines up to an empty one.
    Trailers(Vec<u8>),
    /// Lost track: nothing more is noted on this connection.
    Lost,
}

/// Reads a connection's incoming bytes alongside hyper and queues each request's names.
#[derive(Debug)]
pub struct HeaderCaseTap {
    state: State,
    heads: Heads,
}

impl HeaderCaseTap {
    /// A tap that queues into `heads`.
    pub fn new(heads: Heads) -> Self {
        HeaderCaseTap {
            state: State::Head(Vec::new()),
            heads,
        }
    }

    /// Follows `bytes`, the next bytes read from the connection.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let state = std::mem::replace(&mut self.state, State::Lost);
            self.state = match state {
                State::Lost => return,
                State::Head(mut buf) => {
                    buf.extend_from_slice(bytes);
                    bytes = &[];
                    match self.parse_head(&buf) {
                        Head::Partial if buf.len() > MAX_HEAD => State::Lost,
                        Head::Partial => State::Head(buf),
                        Head::Bad => State::Lost,
                        Head::Complete(len, next) => {
                            // The rest of this read belongs to the body or the next request.
                            let rest = buf.split_off(len);
                            self.state = next;
                            self.feed(&rest);
                            return;
                        }
                    }
                }
                State::Body(left) => {
                    let n = (bytes.len() as u64).min(left);
                    bytes = &bytes[n as usize..];
                    match left - n {
                        0 => State::Head(Vec::new()),
                        left => State::Body(left),
                    }
                }
                State::ChunkSize(mut line) => match bytes.iter().position(|b| *b == b'\n') {
                    None => {
                        line.extend_from_slice(bytes);
                        bytes = &[];
                        if line.len() > 1024 {
                            State::Lost
                        } else {
                            State::ChunkSize(line)
                        }
                    }
                    Some(i) => {
                        line.extend_from_slice(&bytes[..i]);
                        bytes = &bytes[i + 1..];
                        let text = String::from_utf8_lossy(&line);
                        let size = text.split(';').next().unwrap_or_default().trim();
                        match u64::from_str_radix(size, 16) {
                            Ok(0) => State::Trailers(Vec::new()),
                            // The chunk, then its CRLF.
                            Ok(n) => State::ChunkData(n.saturating_add(2)),
                            Err(_) => State::Lost,
                        }
                    }
                },
                State::ChunkData(left) => {
                    let n = (bytes.len() as u64).min(left);
                    bytes = &bytes[n as usize..];
                    match left - n {
                        0 => State::ChunkSize(Vec::new()),
                        left => State::ChunkData(left),
                    }
                }
                State::Trailers(mut line) => match bytes.iter().position(|b| *b == b'\n') {
                    None => {
                        line.extend_from_slice(bytes);
                        bytes = &[];
                        State::Trailers(line)
                    }
                    Some(i) => {
                        line.extend_from_slice(&bytes[..i]);
                        bytes = &bytes[i + 1..];
                        if line.iter().all(|b| *b == b'\r') {
                            State::Head(Vec::new())
                        } else {
                            State::Trailers(Vec::new())
                        }
                    }
                },
            };
        }
    }

    fn parse_head(&self, buf: &[u8]) -> Head {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut headers);
        let len = match req.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Head::Partial,
            Err(_) => return Head::Bad,
        };
        let mut names = HashMap::new();
        let mut content_length = 0u64;
        let mut chunked = false;
        for h in req.headers.iter() {
            let lower = h.name.to_ascii_lowercase();
            let value = String::from_utf8_lossy(h.value);
            match lower.as_str() {
                "content-length" => content_length = value.trim().parse().unwrap_or(0),
                "transfer-encoding" => {
                    chunked = value.to_ascii_lowercase().contains("chunked");
                }
                _ => {}
            }
            names.entry(lower).or_insert_with(|| h.name.to_string());
        }
        if let Ok(mut q) = self.heads.lock() {
            q.push_back(OriginalHeaderNames(names));
        }
        let next = if chunked {
            State::ChunkSize(Vec::new())
        } else if content_length > 0 {
            State::Body(content_length)
        } else {
            State::Head(Vec::new())
        };
        Head::Complete(len, next)
    }
}

enum Head {
    Partial,
    Bad,
    Complete(usize, State),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(heads: &Heads) -> Vec<Vec<String>> {
        heads
            .lock()
            .unwrap()
            .iter()
            .map(|n| {
                let mut v: Vec<String> = n.0.values().cloned().collect();
                v.sort();
                v
            })
            .collect()
    }

    #[test]
    fn each_request_on_a_connection_has_its_names_whatever_the_reads_and_bodies() {
        let heads = Heads::default();
        let mut tap = HeaderCaseTap::new(heads.clone());
        let stream = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-One: 1\r\n\r\nHost:\
GET /b HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: chunked\r\nX-Two: 2\r\n\r\n4\r\nab\r\n\r\n0\r\nX-T: 1\r\n\r\n\
GET /c HTTP/1.1\r\nHOST: x\r\n\r\n";
        // Byte by byte: reads may split anywhere.
        for b in stream.iter() {
            tap.feed(std::slice::from_ref(b));
        }
        assert_eq!(
            names(&heads),
            vec![
                vec!["Content-Length", "Host", "X-One"],
                vec!["Transfer-Encoding", "X-Two", "host"],
                vec!["HOST"],
            ]
        );
        let first = heads.lock().unwrap().pop_front().unwrap();
        assert_eq!(first.get("x-one"), Some("X-One"));
        // And all at once.
        let heads = Heads::default();
        HeaderCaseTap::new(heads.clone()).feed(stream);
        assert_eq!(names(&heads).len(), 3);
    }

    #[test]
    fn a_head_it_cannot_parse_stops_the_tap_for_the_connection() {
        let heads = Heads::default();
        let mut tap = HeaderCaseTap::new(heads.clone());
        tap.feed(b"NOT HTTP\x00\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(heads.lock().unwrap().is_empty());
    }
}
