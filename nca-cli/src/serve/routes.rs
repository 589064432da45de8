//! What each request gets: the demo's page, script and style, the standalone page, or a
//! WebSocket running a simulation; only for requests naming this server, sockets only for the
//! page's own origin.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};

use anyhow::Context;
use tungstenite::WebSocket;
use tungstenite::handshake::server::{create_response, write_response};
use tungstenite::http::{HeaderValue, Request, StatusCode, header};
use tungstenite::protocol::{Role, WebSocketConfig};

use super::App;
use super::http::{answer, respond, text};
use super::limits::Slot;
use super::protocol::MAX_MESSAGE_BYTES;
use super::simulation::simulate;
use crate::web;

/// Answers `request` (its head; `rest`, what followed it), or runs a simulation for a WebSocket.
pub fn route(
    stream: TcpStream,
    request: Request<()>,
    rest: Vec<u8>,
    app: &App,
) -> anyhow::Result<()> {
    // Another web site's name resolving to this server (DNS rebinding) gets nothing.
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let Some(host) = host.filter(|host| names_server(host, app.address)) else {
        return respond(
            stream,
            text(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this is http://{}/ (the Host header must say so)",
                    app.address
                ),
            ),
        );
    };
    const HTML: &str = "text/html; charset=utf-8";
    let response = match request.uri().path() {
        "/" | "/index.html" => answer(StatusCode::OK, HTML, web::demo_page()),
        "/app.js" => answer(
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            web::APP_JS,
        ),
        "/style.css" => answer(StatusCode::OK, "text/css; charset=utf-8", web::STYLE_CSS),
        "/download.html" => {
            let named: Vec<(&str, &nca_core::Nca)> = app
                .models
                .iter()
                .map(|named| (named.name.as_str(), &named.model))
                .collect();
            let mut page = answer(StatusCode::OK, HTML, web::standalone_page(&named, app.size));
            page.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"nca.html\""),
            );
            page
        }
        "/ws" => return upgrade(stream, &request, host, rest, app),
        _ => text(StatusCode::NOT_FOUND, "not found"),
    };
    respond(stream, response)
}

/// Whether `host` (a Host header) names the server listening on `address`: its IP address (any,
/// when it listens on all) or, on loopback, `localhost`; and its port.
fn names_server(host: &str, address: SocketAddr) -> bool {
    let (name, port) = host
        .rsplit_once(':')
        .and_then(|(name, port)| Some((name, port.parse::<u16>().ok()?)))
        .unwrap_or((host, 80));
    let name = name
        .strip_prefix('[')
        .and_then(|name| name.strip_suffix(']'))
        .unwrap_or(name);
    let served = address.ip();
    port == address.port()
        && match name.parse::<IpAddr>() {
            Ok(ip) => ip == served || served.is_unspecified(),
            Err(_) => {
                name.eq_ignore_ascii_case("localhost")
                    && (served.is_loopback() || served.is_unspecified())
            }
        }
}

/// Opens the WebSocket of a page at `host` and runs its simulation: RFC 6455's handshake
/// (checked by tungstenite), from the page's own origin only, within `--max-clients`.
fn upgrade(
    stream: TcpStream,
    request: &Request<()>,
    host: &str,
    rest: Vec<u8>,
    app: &App,
) -> anyhow::Result<()> {
    // Browsers always send Origin; a client without one is no web page and may connect.
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && !origin
            .as_bytes()
            .eq_ignore_ascii_case(format!("http://{host}").as_bytes())
    {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        app.log.line(format_args!(
            "refused a WebSocket from another origin ({origin})"
        ));
        return respond(
            stream,
            text(
                StatusCode::FORBIDDEN,
                "only the page's own origin may connect",
            ),
        );
    }
    let accepted = match create_response(request) {
        Ok(accepted) => accepted,
        Err(tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::MissingSecWebSocketVersionHeader,
        )) => {
            let mut refusal = text(StatusCode::UPGRADE_REQUIRED, "only WebSocket version 13");
            refusal.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
            return respond(stream, refusal);
        }
        Err(err) => {
            return respond(
                stream,
                text(
                    StatusCode::BAD_REQUEST,
                    format!("expected a WebSocket upgrade: {err}"),
                ),
            );
        }
    };
    let Some(_place) = Slot::take(&app.clients, app.max_clients) else {
        app.log.line(format_args!(
            "refused a page: {} simulations already run (--max-clients)",
            app.max_clients
        ));
        return respond(
            stream,
            text(StatusCode::SERVICE_UNAVAILABLE, "too many pages open"),
        );
    };
    let mut switching = Vec::new();
    write_response(&mut switching, &accepted)?;
    (&stream)
        .write_all(&switching)
        .context("cannot answer the WebSocket handshake")?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    simulate(
        WebSocket::from_partially_read(stream, rest, Role::Server, Some(config)),
        app,
    )
}
