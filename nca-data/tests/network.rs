//! Fetching emoji and URLs from a local HTTP server: success, cache, and every network error.
//! No test reaches any address off this machine.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nca_data::{DataError, EmojiSource, Target, TargetOptions, TargetSource};

/// A non-embedded emoji, so it must come from the server or the cache.
const OCTOPUS: &str = "🐙";

/// A local server: `/png/*` serves a PNG, `/missing/*` answers 404, `/garbage/*` serves text,
/// `/slow/*` answers after 3 s. It counts the requests it receives.
struct Server {
    base: String,
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 4096];
                    let read = stream.read(&mut buffer).unwrap_or(0);
                    let request = String::from_utf8_lossy(&buffer[..read]);
                    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (status, body): (&str, Vec<u8>) = if path.starts_with("/png/") {
                        ("200 OK", nca_data::embedded("🦎").unwrap().to_vec())
                    } else if path.starts_with("/garbage/") {
                        ("200 OK", b"<html>definitely not a png</html>".to_vec())
                    } else if path.starts_with("/slow/") {
                        std::thread::sleep(Duration::from_secs(3));
                        ("200 OK", Vec::new())
                    } else {
                        ("404 Not Found", b"not found".to_vec())
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                });
            }
        });
        Self { base, requests }
    }

    fn source(&self, route: &str, cache_dir: Option<std::path::PathBuf>) -> EmojiSource {
        EmojiSource {
            base_url: format!("{}/{route}/", self.base),
            cache_dir,
            timeout: Duration::from_secs(1),
            ..EmojiSource::default()
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

#[test]
fn an_emoji_is_fetched_once_then_served_from_the_cache() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let source = server.source("png", Some(cache.path().to_path_buf()));
    let first = source.image(OCTOPUS).unwrap();
    assert_eq!(server.requests(), 1);
    assert!(cache.path().join("emoji_u1f419.png").exists());
    // The second use sends nothing, and works with the network gone.
    let offline = EmojiSource {
        base_url: "http://127.0.0.1:9/".into(),
        ..source
    };
    let second = offline.image(OCTOPUS).unwrap();
    assert_eq!(server.requests(), 1);
    assert_eq!(first, second);
}

#[test]
fn embedded_emoji_send_no_request() {
    let server = Server::start();
    server.source("png", None).image("🦎").unwrap();
    assert_eq!(server.requests(), 0);
}

#[test]
fn an_emoji_noto_lacks_is_named() {
    let server = Server::start();
    let err = server.source("missing", None).image(OCTOPUS).unwrap_err();
    assert!(matches!(err, DataError::UnknownEmoji { .. }), "{err}");
    assert!(
        err.to_string().contains("Noto Emoji has no image for 🐙"),
        "{err}"
    );
}

#[test]
fn a_garbage_response_is_not_cached_and_is_named() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let err = server
        .source("garbage", Some(cache.path().to_path_buf()))
        .image(OCTOPUS)
        .unwrap_err();
    assert!(matches!(err, DataError::NotAnImage { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("/garbage/emoji_u1f419.png is not a readable image"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(cache.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

#[test]
fn a_slow_server_times_out() {
    let server = Server::start();
    let err = server.source("slow", None).image(OCTOPUS).unwrap_err();
    assert!(matches!(err, DataError::Network { .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[test]
fn an_unreachable_network_with_nothing_cached_is_named() {
    let cache = tempfile::tempdir().unwrap();
    let source = EmojiSource {
        base_url: "http://127.0.0.1:9/".into(),
        cache_dir: Some(cache.path().to_path_buf()),
        timeout: Duration::from_secs(2),
        ..EmojiSource::default()
    };
    let err = source.image(OCTOPUS).unwrap_err();
    assert!(matches!(err, DataError::Network { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("could not fetch http://127.0.0.1:9/emoji_u1f419.png"),
        "{err}"
    );
}

#[test]
fn url_targets_load_and_their_errors_are_named() {
    let server = Server::start();
    let options = TargetOptions::default();
    let emoji = EmojiSource::default();
    let url = |route: &str| TargetSource::Url(format!("{}/{route}/image.png", server.base));
    let target = Target::load(&url("png"), options, &emoji).unwrap();
    assert_eq!((target.height, target.width), (72, 72));

    let err = Target::load(&url("missing"), options, &emoji).unwrap_err();
    assert!(
        matches!(err, DataError::HttpStatus { status: 404, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("/missing/image.png answered HTTP 404"),
        "{err}"
    );

    let err = Target::load(&url("garbage"), options, &emoji).unwrap_err();
    assert!(matches!(err, DataError::NotAnImage { .. }), "{err}");

    let err = Target::load(
        &TargetSource::Url("ftp://example.org/a.png".into()),
        options,
        &emoji,
    )
    .unwrap_err();
    assert!(matches!(err, DataError::BadUrl { .. }), "{err}");
}
