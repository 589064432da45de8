//! `nca serve` from outside: the page and its WebSocket, refusals that leave the server serving,
//! the client bound, a clean stop on Ctrl-C, and the page in headless Chromium; hostile clients
//! (slow heads, held sockets, ping floods, non-HTTP bytes, RFC 6455 violations, other origins)
//! hold places while new pages are still served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;

use tungstenite::Message;

mod support;

use support::server::{Server, next_text};

#[test]
fn the_page_the_socket_and_refusals() {
    let server = Server::start(&["--grid", "32"]);
    let page = server.get("/");
    assert!(
        page.starts_with("HTTP/1.1 200 OK") && page.contains("<canvas id=\"grid\""),
        "{page}"
    );
    assert!(
        page.contains("id=\"fire-rate\"") && !page.contains("__NCA_"),
        "{page}"
    );
    assert!(server.get("/app.js").contains("new WebSocket"));
    assert!(server.get("/nothing").starts_with("HTTP/1.1 404"));

    let mut socket = server.socket().unwrap();
    let hello = next_text(&mut socket);
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["size"], 32);
    assert_eq!(hello["models"][0], "paper-smiley-regenerating");
    // A frame: step, 32 x 32, RGBA.
    let frame = loop {
        if let Message::Binary(frame) = socket.read().unwrap() {
            break frame;
        }
    };
    assert_eq!(&frame[4..8], &[32, 0, 32, 0]);
    assert_eq!(frame.len(), 8 + 32 * 32 * 4);

    socket
        .send(Message::text("{\"type\":\"explode\"}"))
        .unwrap();
    let refused = next_text(&mut socket);
    assert_eq!(refused["type"], "refused");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("unknown variant"),
        "{refused}"
    );
    // An oversized message closes this page only; the server goes on serving.
    socket
        .send(Message::text(format!(
            "{{\"type\":\"play\",\"pad\":\"{}\"}}",
            "x".repeat(10_000)
        )))
        .unwrap();
    let closed = (0..1000).any(|_| socket.read().is_err());
    assert!(closed, "the oversized message's connection is closed");
    assert!(server.get("/").starts_with("HTTP/1.1 200 OK"));
    let mut again = server.socket().unwrap();
    assert_eq!(next_text(&mut again)["type"], "hello");
    drop(again);

    let (status, log) = server.interrupt();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("refused a message: malformed message"),
        "{log}"
    );
    assert!(log.contains("refused an oversized message"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn without_models_it_serves_the_shipped_models_and_the_papers() {
    let server = Server::spawn(&["--grid", "16"]);
    let mut socket = server.socket().unwrap();
    let hello = next_text(&mut socket);
    let models = hello["models"].as_array().unwrap();
    // The shipped models, the gecko that regrows first, then the paper's emoji × experiment as
    // its demo offers them, then the planarian.
    assert_eq!(models.len(), 6 + 31);
    assert_eq!(
        models[..9],
        serde_json::json!([
            "gecko-regenerating",
            "gecko",
            "gecko-growing",
            "gecko-persistent",
            "dots",
            "goals",
            "🦎 growing (paper)",
            "🦎 persistent (paper)",
            "🦎 regenerating (paper)"
        ])
        .as_array()
        .unwrap()[..]
    );
    assert_eq!(models[36], "planarian regenerating (paper)");
    drop(socket);
    // The page offers them all as one downloadable page that runs without the server.
    let download = server.get("/download.html");
    assert!(download.starts_with("HTTP/1.1 200 OK"), "{download:.200}");
    assert!(
        download
            .to_ascii_lowercase()
            .contains("content-disposition: attachment; filename=\"nca.html\"")
    );
    assert!(download.contains("\"name\":\"gecko-regenerating\""));
    assert!(server.get("/").contains("href=\"/download.html\""));
    server.interrupt();
}

#[test]
fn pages_beyond_max_clients_are_refused_until_one_closes() {
    let server = Server::start(&["--grid", "16", "--max-clients", "1"]);
    let mut first = server.socket().unwrap();
    assert_eq!(next_text(&mut first)["type"], "hello");
    match server.socket() {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {:?}", other.map(|_| "a socket")),
    }
    first.close(None).unwrap();
    while first.read().is_ok() {}
    drop(first);
    let freed = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        server.socket().is_ok()
    });
    assert!(freed, "closing the page frees its place");
    server.interrupt();
}

/// The page in headless Chromium (Debian's chromium, playwright-core from npm, both installed by
/// .ci/run): the smiley grows, a click erases its centre, the regenerating model heals it.
#[test]
fn the_page_grows_erases_and_heals_in_chromium() {
    let Some(browser_dir) = support::browser_tests("`nca serve`") else {
        return;
    };
    let server = Server::start(&[]);
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve");
    let args = [
        format!("http://{}/", server.address),
        screenshots.display().to_string(),
    ];
    let (passed, report) = support::run_browser_script(&browser_dir, "serve.mjs", &args);
    let (status, log) = server.interrupt();
    assert!(passed, "browser test failed:\n{report}\nserver log:\n{log}");
    assert!(screenshots.join("serve.png").is_file());
    assert!(status.success());
    println!("{report}");
}

/// Sends `bytes` on a fresh connection and returns what the server answers before closing it.
fn raw_exchange(server: &Server, bytes: &[u8]) -> String {
    let mut stream = server.connect();
    // The server may answer (and close) before all is sent: a failed write is fine.
    let _ = stream.write_all(bytes);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn oversized_garbage_and_flooding_requests_are_refused_and_the_server_goes_on() {
    let server = Server::start(&["--grid", "16"]);
    // A header line that never ends: refused at 8 KiB, not read whole.
    let mut endless = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    endless.extend(std::iter::repeat_n(b'a', 1 << 20));
    let answer = raw_exchange(&server, &endless);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.80}");
    // Not HTTP at all (a TLS hello, binary bytes): 400.
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"[..],
        b"hello\r\n\r\n",
    ] {
        let answer = raw_exchange(&server, garbage);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer:.80}");
    }
    // Held-open silent sockets, more than the 64 places: a new client is still served, in the
    // place of the one that has waited longest for its request head.
    let held: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&server.address).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let page = server.get("/");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page:.80}");
    drop(held);
    let (status, log) = server.interrupt();
    assert!(status.success(), "{log}");
    assert!(log.lines().count() < 40, "the log is rate-limited:\n{log}");
}

#[test]
fn a_silent_page_is_closed_and_a_protocol_error_gets_a_close_frame() {
    let server = Server::start(&["--grid", "16", "--max-clients", "1", "--idle-timeout", "1"]);
    // The page says nothing (not even a pong: it never reads): its place is freed.
    let mut silent = server.socket().unwrap();
    assert_eq!(next_text(&mut silent)["type"], "hello");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let mut next = (0..100)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            server.socket().ok()
        })
        .expect("the silent page's place is free again");
    assert_eq!(next_text(&mut next)["type"], "hello");
    drop(silent);
    // A frame with reserved bits set is a protocol error: the server closes with code 1002.
    next.get_mut().write_all(&[0xF1, 0x80, 0, 0, 0, 0]).unwrap();
    let close = loop {
        match next.read() {
            Ok(Message::Close(frame)) => break frame,
            Ok(_) => {}
            Err(err) => panic!("expected a Close frame, got {err}"),
        }
    };
    assert_eq!(
        close.map(|frame| frame.code),
        Some(tungstenite::protocol::frame::coding::CloseCode::Protocol)
    );
    let (status, log) = server.interrupt();
    assert!(status.success(), "{log}");
    assert!(log.contains("closed a page silent for 1 s"), "{log}");
}

/// A client frame (masked, with a zero mask so the payload stays readable): `first` is the
/// FIN bit and opcode.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 125);
    let mut frame = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

/// The Close frame the server sends after `bytes` (raw frames) on a fresh page's socket.
fn close_after(server: &Server, bytes: &[u8]) -> Option<tungstenite::protocol::CloseFrame> {
    let mut socket = server.socket().unwrap();
    assert_eq!(next_text(&mut socket)["type"], "hello");
    socket.get_mut().write_all(bytes).unwrap();
    loop {
        match socket.read() {
            Ok(Message::Close(frame)) => return frame,
            Ok(_) => {}
            Err(err) => panic!("expected a Close frame after {bytes:?}, got {err}"),
        }
    }
}

/// A WebSocket handshake with `headers` (each ending in `\r\n`) and what the server answers.
fn handshake(server: &Server, headers: &str) -> String {
    let mut stream = server.connect();
    write!(stream, "GET /ws HTTP/1.1\r\n{headers}\r\n").unwrap();
    let mut answer = [0; 512];
    let read = stream.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

#[test]
fn websocket_frames_closes_and_handshakes_follow_rfc_6455() {
    use tungstenite::protocol::frame::coding::CloseCode;
    let server = Server::start(&["--grid", "16", "--max-clients", "8"]);
    let code = |bytes: &[u8]| close_after(&server, bytes).map(|frame| frame.code);
    // Invalid UTF-8 in a text frame, or in a Close frame's reason: 1007.
    assert_eq!(
        code(&client_frame(0x81, b"\xff\xfe")),
        Some(CloseCode::Invalid)
    );
    assert_eq!(
        code(&client_frame(0x88, b"\x03\xe8\xff\xfe")),
        Some(CloseCode::Invalid)
    );
    // A Close with a code no endpoint may send (999): 1002.
    assert_eq!(
        code(&client_frame(0x88, b"\x03\xe7")),
        Some(CloseCode::Protocol)
    );
    // A client's Close 1000 is echoed.
    assert_eq!(
        code(&client_frame(0x88, b"\x03\xe8bye")),
        Some(CloseCode::Normal)
    );

    let host = format!("Host: {}\r\n", server.address);
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let ok = handshake(
        &server,
        &format!("{host}{upgrade}Sec-WebSocket-Version: 13\r\n"),
    );
    assert!(ok.starts_with("HTTP/1.1 101"), "{ok}");
    // The page's own origin is welcome; another web page's is not.
    let own = format!("Origin: http://{}\r\n", server.address);
    let ok = handshake(
        &server,
        &format!("{host}{own}{upgrade}Sec-WebSocket-Version: 13\r\n"),
    );
    assert!(ok.starts_with("HTTP/1.1 101"), "{ok}");
    for (headers, status) in [
        (
            format!("{host}{upgrade}Sec-WebSocket-Version: 8\r\n"),
            "426",
        ),
        (format!("{host}{upgrade}"), "426"),
        (
            format!(
                "{host}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            ),
            "400",
        ),
        (
            format!("{host}Origin: http://evil.example\r\n{upgrade}Sec-WebSocket-Version: 13\r\n"),
            "403",
        ),
        (
            format!("Host: evil.example\r\n{upgrade}Sec-WebSocket-Version: 13\r\n"),
            "421",
        ),
    ] {
        let answer = handshake(&server, &headers);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{headers}-> {answer}"
        );
    }
    // Other web pages cannot load the page through a name that points at this server either.
    let mut stream = server.connect();
    write!(stream, "GET / HTTP/1.1\r\nHost: evil.example:80\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer:.80}");
    assert!(server.get("/").starts_with("HTTP/1.1 200 OK"));
    server.interrupt();
}

/// A connection sending a byte every 2 s, never a line end, after `head`; returns when the server
/// closes it (or after 20 s) with the time it took.
fn drip(address: &str, head: &[u8]) -> std::time::Duration {
    let started = std::time::Instant::now();
    let Ok(mut stream) = TcpStream::connect(address) else {
        return started.elapsed();
    };
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let mut sent = stream.write_all(head);
    let mut buffer = [0; 256];
    while sent.is_ok() && started.elapsed() < std::time::Duration::from_secs(20) {
        match stream.read(&mut buffer) {
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {}
            _ => break,
        }
        sent = stream.write_all(b"a");
    }
    started.elapsed()
}

#[test]
fn slow_request_heads_are_closed_at_the_deadline_and_pages_are_served_meanwhile() {
    let server = Server::start(&["--grid", "16"]);
    let drippers: Vec<_> = (0..64)
        .map(|_| {
            let address = server.address.clone();
            std::thread::spawn(move || drip(&address, b"GET / HTTP/1.1\r\nX-Slow: "))
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    // All 64 places are held by unfinished heads: a new client still gets its page.
    let page = server.get("/");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page:.80}");
    for dripper in drippers {
        let held = dripper.join().unwrap();
        assert!(
            held < std::time::Duration::from_secs(14),
            "a head dripping a byte every 2 s was held {held:?}, past the 10 s deadline"
        );
    }
    assert!(server.get("/").starts_with("HTTP/1.1 200 OK"));
    let (status, log) = server.interrupt();
    assert!(status.success(), "{log}");
}

#[test]
fn a_socket_flooding_pings_without_reading_loses_its_place() {
    let server = Server::start(&["--grid", "16", "--max-clients", "1", "--idle-timeout", "1"]);
    let mut flooder = server.socket().unwrap();
    assert_eq!(next_text(&mut flooder)["type"], "hello");
    let mut stream = flooder.get_ref().try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        let ping = client_frame(0x89, &[b'p'; 125]).repeat(64);
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(15) {
            if stream.write_all(&ping).is_err() {
                return true;
            }
        }
        false
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(server.get("/").starts_with("HTTP/1.1 200 OK"));
    let started = std::time::Instant::now();
    let next = loop {
        match server.socket() {
            Ok(socket) => break socket,
            Err(_) if started.elapsed() < std::time::Duration::from_secs(8) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(err) => panic!("the flooding page still holds the only place: {err}"),
        }
    };
    drop(next);
    assert!(flood.join().unwrap(), "the flooding socket is closed");
    drop(flooder);
    server.interrupt();
}

#[test]
fn at_the_connection_cap_a_sent_request_gets_503_and_non_http_bytes_get_400_at_once() {
    let server = Server::start(&["--grid", "8", "--max-clients", "64"]);
    // A TLS ClientHello (no line end): 400 at once, not silence after 10 s.
    let mut stream = server.connect();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03\x8a\x17")
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:.80}");
    // 64 pages hold every connection.
    let pages: Vec<_> = (0..64)
        .map(|_| {
            let mut socket = server.socket().unwrap();
            assert_eq!(next_text(&mut socket)["type"], "hello");
            socket
        })
        .collect();
    let mut stream = server.connect();
    write!(stream, "GET / HTTP/1.1\r\nHost: {}\r\n\r\n", server.address).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:.80}");
    assert!(
        read.is_ok(),
        "the 503 ends cleanly, not with a reset: {read:?}"
    );
    drop(pages);
    let served = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        server.get("/").starts_with("HTTP/1.1 200 OK")
    });
    assert!(served, "closing the pages frees their places");
    server.interrupt();
}
