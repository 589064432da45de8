//! `nca serve` from outside: the page and its WebSocket, refusals that leave the server serving,
//! the client bound, a clean stop on Ctrl-C, and the page in headless Chromium.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tungstenite::Message;

mod support;

/// A running `nca serve` and its address.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    /// Serves the paper's regenerating 😀 model (shipped by name).
    fn start(extra: &[&str]) -> Self {
        Self::spawn(&[&["--model", "paper-smiley-regenerating"], extra].concat())
    }

    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nca"))
            .args(["serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .strip_prefix("serving http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self { child, address }
    }

    /// A connection whose reads and writes give up after 30 s: a broken server fails the test
    /// instead of hanging the suite.
    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.address).unwrap();
        let limit = Some(std::time::Duration::from_secs(30));
        stream.set_read_timeout(limit).unwrap();
        stream.set_write_timeout(limit).unwrap();
        stream
    }

    fn get(&self, path: &str) -> String {
        let mut stream = self.connect();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.address
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    fn socket(&self) -> Result<tungstenite::WebSocket<TcpStream>, tungstenite::Error> {
        let stream = self.connect();
        tungstenite::client(format!("ws://{}/ws", self.address), stream)
            .map(|(socket, _)| socket)
            .map_err(|err| match err {
                tungstenite::HandshakeError::Failure(err) => err,
                tungstenite::HandshakeError::Interrupted(_) => {
                    panic!("a blocking handshake is never interrupted")
                }
            })
    }

    /// Sends Ctrl-C and returns the exit status and what the server logged.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        (status, log)
    }
}

/// A failing test still stops its server.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn next_text(socket: &mut tungstenite::WebSocket<TcpStream>) -> serde_json::Value {
    loop {
        if let Message::Text(text) = socket.read().unwrap() {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[test]
fn the_page_the_socket_and_refusals() {
    let server = Server::start(&["--size", "32"]);
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
    let server = Server::spawn(&["--size", "16"]);
    let mut socket = server.socket().unwrap();
    let hello = next_text(&mut socket);
    let models = hello["models"].as_array().unwrap();
    // The geckos, then the paper's emoji × experiment as its demo offers them, then the planarian.
    assert_eq!(models.len(), 4 + 31);
    assert_eq!(
        models[..7],
        serde_json::json!([
            "gecko",
            "gecko-growing",
            "gecko-persistent",
            "gecko-regenerating",
            "🦎 growing (paper)",
            "🦎 persistent (paper)",
            "🦎 regenerating (paper)"
        ])
        .as_array()
        .unwrap()[..]
    );
    assert_eq!(models[34], "planarian regenerating (paper)");
    drop(socket);
    // The page offers them all as one downloadable page that runs without the server.
    let download = server.get("/download.html");
    assert!(download.starts_with("HTTP/1.1 200 OK"), "{download:.200}");
    assert!(download.contains("Content-Disposition: attachment; filename=\"nca.html\""));
    assert!(download.contains("\"name\":\"gecko-regenerating\""));
    assert!(server.get("/").contains("href=\"/download.html\""));
    server.interrupt();
}

#[test]
fn pages_beyond_max_clients_are_refused_until_one_closes() {
    let server = Server::start(&["--size", "16", "--max-clients", "1"]);
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
    let output = Command::new("node")
        .arg(browser_dir.join("serve.mjs"))
        .args([
            format!("http://{}/", server.address),
            screenshots.display().to_string(),
        ])
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let (status, log) = server.interrupt();
    assert!(
        output.status.success(),
        "browser test failed:\n{report}\nserver log:\n{log}"
    );
    assert!(report.contains("PASS"), "{report}");
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
    let server = Server::start(&["--size", "16"]);
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
    // Held-open sockets: beyond the connection cap, the next is answered 503 at once.
    let held: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(&server.address).unwrap())
        .collect();
    let refused = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        raw_exchange(&server, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 503")
    });
    assert!(refused, "the connection past the cap is answered 503");
    drop(held);
    let served = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        server.get("/").starts_with("HTTP/1.1 200 OK")
    });
    assert!(served, "closing the sockets frees their places");
    let (status, log) = server.interrupt();
    assert!(status.success(), "{log}");
    assert!(log.lines().count() < 40, "the log is rate-limited:\n{log}");
}

#[test]
fn a_silent_page_is_closed_and_a_protocol_error_gets_a_close_frame() {
    let server = Server::start(&["--size", "16", "--max-clients", "1", "--idle-timeout", "1"]);
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
