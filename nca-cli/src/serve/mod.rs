//! `nca serve`: the paper's interactive demo, computed by nca and drawn in the browser.
//!
//! A small HTTP server on 127.0.0.1 hands out one embedded page; the page opens a WebSocket on
//! `/ws`, and each connection gets its own [`Session`] on its own thread, sending a frame only
//! after the page acknowledged the previous one.

mod protocol;
mod session;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use self::protocol::{ClientMessage, MAX_MESSAGE_BYTES, ServerMessage, encode_frame};
use self::session::{NamedModel, Session};
use crate::models;
use nca_cli::backend::{self, Backend};
use nca_cli::{note, say};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// Arguments of `nca serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Models to offer (shipped model name, model file, run directory or web-demo .json); repeat
    /// for several [default: the shipped models].
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
}

/// What every connection shares.
struct App {
    models: Arc<Vec<NamedModel>>,
    size: usize,
    max_clients: usize,
    clients: AtomicUsize,
}

/// Runs `nca serve` until Ctrl-C.
pub fn run(args: ServeArgs, backend: Option<Backend>) -> anyhow::Result<()> {
    let (backend, device) = backend::device(backend)?;
    let shipped: Vec<PathBuf> = models::SHIPPED
        .iter()
        .map(|(name, _)| PathBuf::from(name))
        .collect();
    let chosen = if args.models.is_empty() {
        &shipped
    } else {
        &args.models
    };
    let models = chosen
        .iter()
        .map(|path| {
            let model = models::load(path, &device)?.with_engine(backend.engine());
            let name = path.file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
            Ok(NamedModel { name, model })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let address = SocketAddr::new(args.host, args.port);
    let listener =
        TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))?;
    let app = Arc::new(App {
        models: Arc::new(models),
        size: args.size as usize,
        max_clients: args.max_clients as usize,
        clients: AtomicUsize::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    say!(
        "serving http://{}/ on {backend} (Ctrl-C stops)",
        listener.local_addr()?
    );
    std::io::stdout().flush()?;
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let app = app.clone();
                std::thread::spawn(move || {
                    if let Err(err) = handle(stream, &app) {
                        note!("{peer}: {err:#}");
                    }
                });
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(err) => note!("accept failed: {err}"),
        }
    }
    note!("stopped");
    Ok(())
}

/// Answers one HTTP request, or runs a simulation for a WebSocket.
fn handle(stream: TcpStream, app: &App) -> anyhow::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if head.iter().map(String::len).sum::<usize>() > 8192 {
            return respond(
                stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"header too large",
            );
        }
        head.push(line.trim_end().to_string());
    }
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
            INDEX_HTML.as_bytes(),
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
        "/ws" => {
            let Some(key) = header("sec-websocket-key") else {
                return respond(
                    stream,
                    "400 Bad Request",
                    "text/plain",
                    b"expected a WebSocket upgrade",
                );
            };
            let Some(_slot) = ClientSlot::take(app) else {
                note!(
                    "refused a page: {} simulations already run (--max-clients)",
                    app.max_clients
                );
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

fn respond(
    mut stream: TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> anyhow::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    Ok(())
}

/// A place among the `--max-clients` simulations; given back when dropped (the tab closed).
struct ClientSlot<'a>(&'a AtomicUsize);

impl<'a> ClientSlot<'a> {
    fn take(app: &'a App) -> Option<Self> {
        app.clients
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < app.max_clients).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(&app.clients))
    }
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The simulation loop of one page: read requests, step, send a frame once the last is drawn.
fn simulate(mut socket: WebSocket<TcpStream>, app: &App) -> anyhow::Result<()> {
    let mut session = Session::new(app.models.clone(), app.size, 0);
    send_json(&mut socket, &session.hello())?;
    let mut frame_pending = false;
    let mut last_status = Instant::now();
    loop {
        // Wait briefly for a request when there is nothing to compute, not at all otherwise.
        let idle = frame_pending || !session.playing();
        socket
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(if idle { 50 } else { 1 })))?;
        match socket.read() {
            Ok(Message::Text(text)) => match ClientMessage::parse(&text) {
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
                    note!("refused a message: {reason}");
                    send_json(&mut socket, &ServerMessage::Refused { reason })?;
                }
            },
            Ok(Message::Close(_)) => return Ok(()),
            Ok(_) => {}
            Err(tungstenite::Error::Io(err))
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Ok(());
            }
            Err(tungstenite::Error::Capacity(err)) => {
                bail!("refused an oversized message ({err}); closing this page")
            }
            Err(err) => return Err(err.into()),
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
