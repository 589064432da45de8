//! A running `nca serve` for the tests that talk to it: its address, plain HTTP requests, its
//! WebSocket, Ctrl-C, and the JSON messages it sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use tungstenite::Message;

/// A running `nca serve` and its address.
pub struct Server {
    child: Child,
    /// `host:port`.
    pub address: String,
}

impl Server {
    /// Serves the paper's regenerating 😀 model (shipped by name).
    pub fn start(extra: &[&str]) -> Self {
        Self::spawn(&[&["--model", "paper-smiley-regenerating"], extra].concat())
    }

    /// Serves with `args` (after `serve --port 0`).
    pub fn spawn(args: &[&str]) -> Self {
        Self::launch(Command::new(env!("CARGO_BIN_EXE_nca")), args)
    }

    /// Serves with `args` from `cwd`, offline, as [`super::command`] runs `nca`.
    pub fn spawn_in(cwd: &Path, args: &[&str]) -> Self {
        Self::launch(super::command(cwd), args)
    }

    fn launch(mut command: Command, args: &[&str]) -> Self {
        let mut child = command
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
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.address).unwrap();
        let limit = Some(std::time::Duration::from_secs(30));
        stream.set_read_timeout(limit).unwrap();
        stream.set_write_timeout(limit).unwrap();
        stream
    }

    /// The whole answer to `GET path`.
    pub fn get(&self, path: &str) -> String {
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

    /// A WebSocket on `/ws`, or the handshake's failure (a 503 when the pages are full).
    pub fn socket(&self) -> Result<tungstenite::WebSocket<TcpStream>, tungstenite::Error> {
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
    pub fn interrupt(mut self) -> (std::process::ExitStatus, String) {
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

/// The next text message, as JSON (frames on the way are skipped).
pub fn next_text(socket: &mut tungstenite::WebSocket<TcpStream>) -> serde_json::Value {
    loop {
        if let Message::Text(text) = socket.read().unwrap() {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// The next text message other than a status (which comes about once a second): a hello or a
/// refusal, the answer to what was sent.
///
/// # Panics
/// When none comes within 30 s: a server that only sends statuses fails the test instead of
/// hanging it.
pub fn next_answer(socket: &mut tungstenite::WebSocket<TcpStream>) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let message = next_text(socket);
        if message["type"] != "status" {
            return message;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no answer within 30 s, only {message}"
        );
    }
}
