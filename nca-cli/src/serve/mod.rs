//! `nca serve`: the paper's interactive demo, computed by nca and drawn in the browser.
//!
//! A small HTTP server on 127.0.0.1 hands out one embedded page; the page opens a WebSocket on
//! `/ws`, and each connection gets its own [`Session`] on its own thread, sending a frame only
//! after the page acknowledged the previous one.

mod protocol;
mod session;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use self::protocol::{ClientMessage, MAX_MESSAGE_BYTES, ServerMessage, encode_frame};
use self::session::{NamedModel, Session};
use nca_cli::backend::Compute;
use nca_cli::models;
use nca_cli::{note, say};

/// The page, with a placeholder for its controls.
const INDEX_HTML: &str = include_str!("assets/index.html");
/// The page's controls (model, play, reset, speed, rotation, fire rate), which the exported page
/// shares.
pub(crate) const CONTROLS_HTML: &str = include_str!("assets/controls.html");
/// Where [`CONTROLS_HTML`] goes in a page.
pub(crate) const CONTROLS_PLACEHOLDER: &str = "__NCA_CONTROLS__";
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// Arguments of `nca serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Models to offer (shipped model name, model file, run directory or web-demo .json); repeat
    /// for several [default: the shipped geckos and the paper's 31 models].
    #[arg(long = "model")]
    models: Vec<PathBuf>,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Interface to listen on; only 127.0.0.1 unless you say otherwise.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Grid size in cells.
    #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u32).range(8..=256))]
    size: u32,
    /// Pages that may run a simulation at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    max_clients: u32,
    /// Seconds a page may stay silent (not even answering pings) before its simulation is closed
    /// and its place freed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    idle_timeout: u64,
}

/// Connections open at once (pages, requests, idle sockets); beyond, a connection is answered
/// 503 and closed at once, so held-open sockets cannot exhaust the server's file descriptors.
const MAX_CONNECTIONS: usize = 64;
/// The request line and headers together, at most.
const HEAD_LIMIT: u64 = 8 * 1024;
/// How long a refused connection's remaining input is read and dropped.
const DRAIN_TIME: Duration = Duration::from_secs(2);
/// Time a client has to send its request line and headers.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Log lines per second, at most; the rest are counted and the count logged.
const LOG_LINES_PER_SECOND: u32 = 10;

/// What every connection shares.
struct App {
    models: Arc<Vec<NamedModel>>,
    size: usize,
    max_clients: usize,
    clients: AtomicUsize,
    connections: Arc<AtomicUsize>,
    idle_timeout: Duration,
    log: RateLimitedLog,
}

/// What `nca serve` offers without `--model`: the shipped geckos, then the paper's models as its
/// demo does, each emoji in its three experiments.
fn default_models(compute: &Compute) -> anyhow::Result<Vec<NamedModel>> {
    let geckos = models::SHIPPED
        .iter()
        .map(|(name, _)| (name.to_string(), *name));
    let papers = models::PAPER_ZOO.iter().map(|model| {
        let subject = model.emoji.unwrap_or("planarian");
        (
            format!("{subject} {} (paper)", model.experiment),
            model.name,
        )
    });
    geckos
        .chain(papers)
        .map(|(name, path)| {
            let model = compute.load_model(Path::new(path))?;
            Ok(NamedModel { name, model })
        })
        .collect()
}

/// Runs `nca serve` until Ctrl-C.
pub fn run(args: ServeArgs, compute: &Compute) -> anyhow::Result<()> {
    let models = if args.models.is_empty() {
        default_models(compute)?
    } else {
        args.models
            .iter()
            .map(|path| {
                let model = compute.load_model(path)?;
                let name = models::name(path);
                Ok(NamedModel { name, model })
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let address = SocketAddr::new(args.host, args.port);
    let listener =
        TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))?;
    let app = Arc::new(App {
        models: Arc::new(models),
        size: args.size as usize,
        max_clients: args.max_clients as usize,
        clients: AtomicUsize::new(0),
        connections: Arc::new(AtomicUsize::new(0)),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        log: RateLimitedLog::default(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    say!(
        "serving http://{}/ on {} (Ctrl-C stops)",
        listener.local_addr()?,
        compute.backend
    );
    std::io::stdout().flush()?;
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let Some(connection) = Slot::take(app.connections.clone(), MAX_CONNECTIONS) else {
                    app.log.line(format_args!(
                        "{peer}: refused: {MAX_CONNECTIONS} connections already open"
                    ));
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    let _ = respond(stream, "503 Service Unavailable", "text/plain", b"busy");
                    continue;
                };
                let app = app.clone();
                std::thread::spawn(move || {
                    let _connection = connection;
                    if let Err(err) = handle(stream, &app) {
                        app.log.line(format_args!("{peer}: {err:#}"));
                    }
                });
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(err) => {
                // E.g. out of file descriptors: wait for some to close instead of spinning.
                app.log.line(format_args!("accept failed: {err}"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    note!("stopped");
    Ok(())
}

/// Answers one HTTP request, or runs a simulation for a WebSocket.
fn handle(stream: TcpStream, app: &App) -> anyhow::Result<()> {
    stream.set_nonblocking(false)?;
    let head = match read_head(&stream)? {
        Head::Complete(head) => head,
        Head::TooLarge => {
            return refuse(
                stream,
                "431 Request Header Fields Too Large",
                b"header too large",
            );
        }
        Head::Garbage => return refuse(stream, "400 Bad Request", b"not an HTTP request"),
        Head::Gone => return Ok(()),
    };
    let path = head
        .first()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let header = |name: &str| {
        head.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    match path.as_str() {
        "/" | "/index.html" => respond(
            stream,
            "200 OK",
            "text/html; charset=utf-8",
            INDEX_HTML
                .replacen(CONTROLS_PLACEHOLDER, CONTROLS_HTML.trim_end(), 1)
                .as_bytes(),
        ),
        "/app.js" => respond(
            stream,
            "200 OK",
            "text/javascript; charset=utf-8",
            APP_JS.as_bytes(),
        ),
        "/style.css" => respond(
            stream,
            "200 OK",
            "text/css; charset=utf-8",
            STYLE_CSS.as_bytes(),
        ),
        "/download.html" => {
            let named: Vec<(&str, &nca_core::Nca)> = app
                .models
                .iter()
                .map(|named| (named.name.as_str(), &named.model))
                .collect();
            let page = crate::export::page(&named, app.size);
            respond_with(
                stream,
                "200 OK",
                "text/html; charset=utf-8",
                "Content-Disposition: attachment; filename=\"nca.html\"\r\n",
                page.as_bytes(),
            )
        }
        "/ws" => {
            let Some(key) = header("sec-websocket-key") else {
                return respond(
                    stream,
                    "400 Bad Request",
                    "text/plain",
                    b"expected a WebSocket upgrade",
                );
            };
            let Some(_slot) = Slot::take(&app.clients, app.max_clients) else {
                app.log.line(format_args!(
                    "refused a page: {} simulations already run (--max-clients)",
                    app.max_clients
                ));
                return respond(
                    stream,
                    "503 Service Unavailable",
                    "text/plain",
                    b"too many pages open",
                );
            };
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            )?;
            let config = WebSocketConfig::default()
                .max_message_size(Some(MAX_MESSAGE_BYTES))
                .max_frame_size(Some(MAX_MESSAGE_BYTES));
            simulate(
                WebSocket::from_raw_socket(stream, Role::Server, Some(config)),
                app,
            )
        }
        _ => respond(stream, "404 Not Found", "text/plain", b"not found"),
    }
}

fn respond(stream: TcpStream, status: &str, content_type: &str, body: &[u8]) -> anyhow::Result<()> {
    respond_with(stream, status, content_type, "", body)
}

/// [`respond`] with extra header lines (each ending in `\r\n`).
fn respond_with(
    mut stream: TcpStream,
    status: &str,
    content_type: &str,
    extra_headers: &str,
    body: &[u8],
) -> anyhow::Result<()> {
    // One write: the answer leaves whole, before the connection is closed.
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra_headers}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    stream.write_all(&response)?;
    Ok(())
}

/// Answers a request the server would not read to its end, then reads and drops what the client
/// still sends (for at most [`DRAIN_TIME`]): closed with unread bytes, the connection would be
/// reset, and the client could lose the answer.
fn refuse(stream: TcpStream, status: &str, body: &[u8]) -> anyhow::Result<()> {
    respond(stream.try_clone()?, status, "text/plain", body)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(DRAIN_TIME))?;
    let started = Instant::now();
    let mut buffer = [0; 64 * 1024];
    while started.elapsed() < DRAIN_TIME {
        match (&stream).read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    Ok(())
}

/// A place counted by a counter (a connection, or one of the `--max-clients` simulations),
/// given back when dropped.
struct Slot<C: Deref<Target = AtomicUsize>>(C);

impl<C: Deref<Target = AtomicUsize>> Slot<C> {
    fn take(counter: C, limit: usize) -> Option<Self> {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(counter))
    }
}

impl<C: Deref<Target = AtomicUsize>> Drop for Slot<C> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What came of reading a request's head.
enum Head {
    /// The request line and headers, each without its line end.
    Complete(Vec<String>),
    /// Over [`HEAD_LIMIT`] bytes.
    TooLarge,
    /// Not an HTTP/1 GET request.
    Garbage,
    /// Closed, or silent past [`HEAD_TIMEOUT`].
    Gone,
}

/// Reads the request line and headers, within [`HEAD_LIMIT`] bytes (unfinished lines count)
/// and [`HEAD_TIMEOUT`].
fn read_head(stream: &TcpStream) -> anyhow::Result<Head> {
    let deadline = Instant::now() + HEAD_TIMEOUT;
    let mut reader = BufReader::new(stream.try_clone()?.take(HEAD_LIMIT));
    let mut head = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Head::Gone);
        }
        stream.set_read_timeout(Some(left))?;
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) if head.is_empty() => return Ok(Head::Gone),
            Ok(_) if !line.ends_with(b"\n") => {
                return Ok(if reader.get_ref().limit() == 0 {
                    Head::TooLarge
                } else {
                    Head::Gone
                });
            }
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(Head::Gone);
            }
            Err(err) => return Err(err.into()),
        }
        let Ok(line) = String::from_utf8(line) else {
            return Ok(Head::Garbage);
        };
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let request: Vec<&str> = head[0].split(' ').collect();
    let valid = matches!(request.as_slice(), [method, path, version]
        if *method == "GET" && path.starts_with('/') && version.starts_with("HTTP/1."));
    Ok(if valid {
        Head::Complete(head)
    } else {
        Head::Garbage
    })
}

/// Log lines to standard error, at most [`LOG_LINES_PER_SECOND`] a second: a flood of bad
/// connections cannot flood the log.
#[derive(Default)]
struct RateLimitedLog(std::sync::Mutex<LogWindow>);

#[derive(Default)]
struct LogWindow {
    started: Option<Instant>,
    written: u32,
    suppressed: u64,
}

impl RateLimitedLog {
    fn line(&self, line: std::fmt::Arguments<'_>) {
        let mut window = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if window
            .started
            .is_none_or(|started| now.duration_since(started) >= Duration::from_secs(1))
        {
            if window.suppressed > 0 {
                note!("({} similar log lines suppressed)", window.suppressed);
            }
            *window = LogWindow {
                started: Some(now),
                written: 0,
                suppressed: 0,
            };
        }
        if window.written < LOG_LINES_PER_SECOND {
            window.written += 1;
            note!("{line}");
        } else {
            window.suppressed += 1;
        }
    }
}

/// The simulation loop of one page: read requests, step, send a frame once the last is drawn;
/// ping a silent page, and close it when it stays silent past `--idle-timeout`.
fn simulate(mut socket: WebSocket<TcpStream>, app: &App) -> anyhow::Result<()> {
    let mut session = Session::new(app.models.clone(), app.size, 0);
    send_json(&mut socket, &session.hello())?;
    let mut frame_pending = false;
    let mut last_status = Instant::now();
    let mut last_heard = Instant::now();
    let mut last_ping = Instant::now();
    let ping_every = (app.idle_timeout / 3).max(Duration::from_millis(100));
    loop {
        // Wait briefly for a request when there is nothing to compute, not at all otherwise.
        let idle = frame_pending || !session.playing();
        socket
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(if idle { 50 } else { 1 })))?;
        match socket.read() {
            Ok(message) => {
                last_heard = Instant::now();
                let Message::Text(text) = message else {
                    if let Message::Close(_) = message {
                        return Ok(());
                    }
                    continue;
                };
                match ClientMessage::parse(&text) {
                    Ok(ClientMessage::Ack) => frame_pending = false,
                    Ok(message) => {
                        let paused = !session.playing();
                        if let Some(answer) = session.handle(message) {
                            send_json(&mut socket, &answer)?;
                        }
                        // A change while paused still shows.
                        if paused && !frame_pending {
                            send_frame(&mut socket, &session)?;
                            frame_pending = true;
                        }
                    }
                    Err(reason) => {
                        app.log.line(format_args!("refused a message: {reason}"));
                        send_json(&mut socket, &ServerMessage::Refused { reason })?;
                    }
                }
            }
            Err(tungstenite::Error::Io(err))
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Ok(());
            }
            Err(tungstenite::Error::Capacity(err)) => {
                close(&mut socket, CloseCode::Size, "message too large");
                bail!("refused an oversized message ({err}); closing this page")
            }
            Err(tungstenite::Error::Protocol(err)) => {
                close(&mut socket, CloseCode::Protocol, "protocol error");
                bail!("closed a page after a WebSocket protocol error ({err})")
            }
            Err(err) => return Err(err.into()),
        }
        if last_heard.elapsed() >= app.idle_timeout {
            close(&mut socket, CloseCode::Away, "idle");
            app.log.line(format_args!(
                "closed a page silent for {} s (--idle-timeout)",
                app.idle_timeout.as_secs()
            ));
            return Ok(());
        }
        if last_ping.elapsed() >= ping_every {
            socket.send(Message::Ping(Vec::new().into()))?;
            last_ping = Instant::now();
        }
        if session.playing() && !frame_pending {
            session.advance();
            send_frame(&mut socket, &session)?;
            frame_pending = true;
        }
        if last_status.elapsed() >= Duration::from_secs(1) {
            send_json(&mut socket, &session.status())?;
            last_status = Instant::now();
        }
    }
}

/// Sends a Close frame, as far as the connection allows.
fn close(socket: &mut WebSocket<TcpStream>, code: CloseCode, reason: &str) {
    let _ = socket.close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }));
    let _ = socket.flush();
}

fn send_json(socket: &mut WebSocket<TcpStream>, message: &ServerMessage) -> anyhow::Result<()> {
    let text = serde_json::to_string(message).expect("server messages serialise");
    socket.send(Message::text(text))?;
    Ok(())
}

fn send_frame(socket: &mut WebSocket<TcpStream>, session: &Session) -> anyhow::Result<()> {
    let (size, rgba) = session.pixels();
    socket.send(Message::binary(encode_frame(
        session.step_count(),
        size,
        size,
        &rgba,
    )))?;
    Ok(())
}
