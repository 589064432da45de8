//! The simulation loop of one page's WebSocket: read requests, step, send a frame once the last
//! is drawn; ping a silent page and close it when it stays silent, or stops taking what is sent,
//! past `--idle-timeout`; end every close with RFC 6455's closing handshake.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::bail;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use super::App;
use super::http::is_timeout;
use super::protocol::{ClientMessage, ServerMessage, encode_frame};
use super::session::Session;

/// How long a closing handshake may take, at most.
const CLOSE_TIME: Duration = Duration::from_secs(1);

/// Runs one page's simulation until the page leaves, breaks the protocol or falls silent.
pub fn simulate(mut socket: WebSocket<TcpStream>, app: &App) -> anyhow::Result<()> {
    // A page that takes nothing (its buffers full) blocks a write at most this long.
    socket.get_ref().set_write_timeout(Some(app.idle_timeout))?;
    let result = run(&mut socket, app);
    finish_closing(&mut socket);
    result
}

/// The loop of [`simulate`]; on return, a Close is sent or answered (as far as the page allows).
fn run(socket: &mut WebSocket<TcpStream>, app: &App) -> anyhow::Result<()> {
    let mut session = Session::new(app.models.clone(), app.size, 0);
    send_json(socket, &session.hello(), app)?;
    let mut frame_pending = false;
    let mut last_status = Instant::now();
    // When the page last showed it reads: a request, an acknowledgement, a pong (its own pings
    // do not count: a client can send them without reading anything).
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
            Ok(Message::Text(text)) => {
                last_heard = Instant::now();
                match ClientMessage::parse(&text) {
                    Ok(ClientMessage::Ack) => frame_pending = false,
                    Ok(message) => {
                        let paused = !session.playing();
                        if let Some(answer) = session.handle(message) {
                            send_json(socket, &answer, app)?;
                        }
                        // A change while paused still shows.
                        if paused && !frame_pending {
                            send_frame(socket, &session, app)?;
                            frame_pending = true;
                        }
                    }
                    Err(reason) => {
                        app.log.line(format_args!("refused a message: {reason}"));
                        send_json(socket, &ServerMessage::Refused { reason }, app)?;
                    }
                }
            }
            Ok(Message::Pong(_) | Message::Binary(_)) => last_heard = Instant::now(),
            // tungstenite queues the answers (a pong, the echo of a Close).
            Ok(Message::Ping(_) | Message::Frame(_)) => {}
            Ok(Message::Close(_)) => return Ok(()),
            // No message yet (or a pong it queued could not be written yet).
            Err(tungstenite::Error::Io(err)) if is_timeout(&err) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Ok(());
            }
            Err(tungstenite::Error::Capacity(err)) => {
                close(socket, CloseCode::Size, "message too large");
                bail!("refused an oversized message ({err}); closing this page")
            }
            Err(tungstenite::Error::Utf8(err)) => {
                close(socket, CloseCode::Invalid, "invalid UTF-8");
                bail!("closed a page that sent invalid UTF-8 ({err})")
            }
            Err(tungstenite::Error::Protocol(err)) => {
                close(socket, CloseCode::Protocol, "protocol error");
                bail!("closed a page after a WebSocket protocol error ({err})")
            }
            Err(err) => return Err(err.into()),
        }
        if last_heard.elapsed() >= app.idle_timeout {
            close(socket, CloseCode::Away, "idle");
            app.log.line(format_args!(
                "closed a page silent for {} s (--idle-timeout)",
                app.idle_timeout.as_secs()
            ));
            return Ok(());
        }
        if last_ping.elapsed() >= ping_every {
            send(socket, Message::Ping(Vec::new().into()), app)?;
            last_ping = Instant::now();
        }
        if session.playing() && !frame_pending {
            session.advance();
            send_frame(socket, &session, app)?;
            frame_pending = true;
        }
        if last_status.elapsed() >= Duration::from_secs(1) {
            send_json(socket, &session.status(), app)?;
            last_status = Instant::now();
        }
    }
}

/// Starts the closing handshake with `code`, as far as the connection allows.
fn close(socket: &mut WebSocket<TcpStream>, code: CloseCode, reason: &str) {
    let _ = socket.close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }));
}

/// Sends what is queued (a Close, or the echo of the page's) and reads until the page's Close or
/// its end, for at most [`CLOSE_TIME`]: the page gets its Close frame, not a reset.
fn finish_closing(socket: &mut WebSocket<TcpStream>) {
    let deadline = Instant::now() + CLOSE_TIME;
    let stream = socket.get_ref();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = stream.set_write_timeout(Some(CLOSE_TIME));
    let _ = socket.flush();
    while Instant::now() < deadline {
        match socket.read() {
            Ok(_) => {}
            Err(tungstenite::Error::Io(err)) if is_timeout(&err) => {}
            Err(_) => break,
        }
    }
}

/// Sends `message`; a page that has not taken what was sent for `--idle-timeout` is given up.
fn send(socket: &mut WebSocket<TcpStream>, message: Message, app: &App) -> anyhow::Result<()> {
    match socket.send(message) {
        Err(tungstenite::Error::Io(err)) if is_timeout(&err) => bail!(
            "closed a page that took nothing sent for {} s (--idle-timeout)",
            app.idle_timeout.as_secs()
        ),
        result => Ok(result?),
    }
}

fn send_json(
    socket: &mut WebSocket<TcpStream>,
    message: &ServerMessage,
    app: &App,
) -> anyhow::Result<()> {
    let text = serde_json::to_string(message).expect("server messages serialise");
    send(socket, Message::text(text), app)
}

fn send_frame(
    socket: &mut WebSocket<TcpStream>,
    session: &Session,
    app: &App,
) -> anyhow::Result<()> {
    let (size, rgba) = session.pixels();
    let frame = encode_frame(session.step_count(), size, size, &rgba);
    send(socket, Message::binary(frame), app)
}
