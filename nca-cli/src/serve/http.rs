//! HTTP/1 on a connection: the request head read with `httparse` within a size and a time
//! limit, and answers written whole, each closing its connection.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::handshake::server::write_response;
use tungstenite::http::{self, HeaderValue, Request, Response, StatusCode, header};

/// The request line and headers together, at most.
pub const HEAD_LIMIT: usize = 8 * 1024;
/// Time a client has to send its whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers a request may have, at most.
const MAX_HEADERS: usize = 64;
/// How long the input of an answered connection is read and dropped, at most.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// What came of reading a request head.
pub enum Head {
    /// A `GET` request, and the bytes that followed its head.
    Get(Box<Request<()>>, Vec<u8>),
    /// Over [`HEAD_LIMIT`] bytes, or [`MAX_HEADERS`] headers.
    TooLarge,
    /// Not an HTTP/1 `GET` request; why.
    Garbage(String),
    /// Part of a head, unfinished at the deadline.
    Late,
    /// Closed, or silent until the deadline, before sending anything.
    Gone,
}

/// Reads a request head from `stream` until `deadline`.
pub fn read_head(mut stream: &TcpStream, deadline: Instant) -> std::io::Result<Head> {
    let mut received = Vec::with_capacity(1024);
    let mut chunk = [0; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(if received.is_empty() {
                Head::Gone
            } else {
                Head::Late
            });
        }
        stream.set_read_timeout(Some(left))?;
        let room = (HEAD_LIMIT + 1 - received.len()).min(chunk.len());
        match stream.read(&mut chunk[..room]) {
            Ok(0) => return Ok(Head::Gone),
            Ok(read) => received.extend_from_slice(&chunk[..read]),
            Err(err) if is_timeout(&err) => {}
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&received) {
            Ok(httparse::Status::Complete(length)) => {
                let rest = received[length..].to_vec();
                return Ok(match to_get(&request) {
                    Ok(get) => Head::Get(Box::new(get), rest),
                    Err(why) => Head::Garbage(why),
                });
            }
            Ok(httparse::Status::Partial) if received.len() > HEAD_LIMIT => {
                return Ok(Head::TooLarge);
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Ok(Head::TooLarge),
            Err(err) => return Ok(Head::Garbage(format!("not an HTTP/1 request ({err})"))),
        }
    }
}

/// A parsed request as an `http` request, if it is an HTTP/1 `GET` of a path.
fn to_get(parsed: &httparse::Request<'_, '_>) -> Result<Request<()>, String> {
    let method = parsed.method.unwrap_or_default();
    if method != "GET" {
        return Err(format!("method {method:?} (only GET is served)"));
    }
    let path = parsed.path.unwrap_or_default();
    if !path.starts_with('/') {
        return Err(format!("request target {path:?} is not a path"));
    }
    let version = match parsed.version {
        Some(0) => http::Version::HTTP_10,
        _ => http::Version::HTTP_11,
    };
    let mut builder = Request::get(path).version(version);
    for header in parsed.headers.iter() {
        builder = builder.header(header.name, header.value);
    }
    builder
        .body(())
        .map_err(|err| format!("bad request: {err}"))
}

/// Whether `err` is a read or write timing out.
pub fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// An answer with a body of `content_type`.
pub fn answer(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
) -> Response<Vec<u8>> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A plain-text answer: a refusal and its reason.
pub fn text(status: StatusCode, body: impl Into<String>) -> Response<Vec<u8>> {
    answer(status, "text/plain; charset=utf-8", body.into())
}

/// Writes `response` in one write (so it leaves whole), then ends the connection: reads and drops
/// what the client still sends for at most [`DRAIN_TIME`], because closed with unread bytes
/// the connection would be reset and the client could lose the answer.
pub fn respond(stream: TcpStream, mut response: Response<Vec<u8>>) -> anyhow::Result<()> {
    let length = response.body().len();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    let mut bytes = Vec::with_capacity(256 + response.body().len());
    write_response(&mut bytes, &response)?;
    bytes.extend_from_slice(response.body());
    (&stream).write_all(&bytes)?;
    stream.shutdown(Shutdown::Write)?;
    let started = Instant::now();
    stream.set_read_timeout(Some(DRAIN_TIME))?;
    let mut buffer = [0; 16 * 1024];
    while started.elapsed() < DRAIN_TIME {
        match (&stream).read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    Ok(())
}
