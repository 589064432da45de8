//! `nca serve`: the paper's interactive demo, computed by nca and drawn in the browser.
//!
//! A small HTTP server on 127.0.0.1, a thread per connection: it hands out the embedded demo page
//! ([`crate::web`]); the page opens a WebSocket on `/ws`, and each gets its own simulation
//! ([`session::Session`]), sending a frame only after the page acknowledged the previous one.
//! Here: the command, the listener and each connection's start; [`limits`] bounds connections
//! and pages, [`http`] reads requests and writes answers, [`routes`] picks the answer,
//! [`simulation`] runs a page's socket, [`log`] writes the rate-limited log.

mod http;
mod limits;
mod log;
mod protocol;
mod routes;
mod session;
mod simulation;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tungstenite::http::StatusCode;

use self::http::{HEAD_TIMEOUT, Head, read_head, respond, text};
use self::limits::{Admission, Admitted, Connections, Slot};
use self::log::RateLimitedLog;
use self::session::NamedModel;
use crate::pictures::GridArg;
use nca_cli::backend::Compute;
use nca_cli::models;
use nca_cli::{note, say};

/// Arguments of `nca serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Models to offer (shipped model names, model files, run directories or web-demo .json), the
    /// first shown first [default: the shipped geckos, gecko-regenerating first, and the paper's
    /// 31 models].
    #[arg(long = "model", num_args = 1..)]
    models: Vec<PathBuf>,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Interface to listen on; only 127.0.0.1 unless you say otherwise.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    #[command(flatten)]
    grid: GridArg,
    /// Pages that may run a simulation at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    max_clients: u32,
    /// Seconds a page may stay silent (not even answering pings), or leave what is sent to it
    /// unread, before its simulation is closed and its place freed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    idle_timeout: u64,
}

/// Connections open at once (pages, requests, idle sockets), so held-open sockets cannot exhaust
/// the server's file descriptors; a new one takes the place of the one that has waited longest
/// for its request head, and when all are past their heads it is answered 503.
const MAX_CONNECTIONS: usize = 64;
/// 503 answers under way at once; beyond, a connection past the cap is closed unanswered.
const MAX_REFUSALS: usize = 8;

/// What every connection shares.
struct App {
    /// Where the server listens.
    address: SocketAddr,
    models: Arc<Vec<NamedModel>>,
    size: usize,
    max_clients: usize,
    /// Pages running a simulation.
    clients: AtomicUsize,
    /// 503 answers under way.
    refusals: Arc<AtomicUsize>,
    idle_timeout: Duration,
    log: RateLimitedLog,
}

/// What `nca serve` offers without `--model`: the shipped geckos, the one that regrows first,
/// then the paper's models as its demo does, each emoji in its three experiments.
fn default_models(compute: &Compute) -> anyhow::Result<Vec<NamedModel>> {
    let mut geckos: Vec<&str> = models::SHIPPED.iter().map(|(name, _)| *name).collect();
    geckos.sort_by_key(|&name| name != models::REGROWING);
    let geckos = geckos.into_iter().map(|name| (name.to_string(), name));
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
    models::check_count(&args.models)?;
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
    let grid = args.grid.side(&args.models, 8..=256)?;
    let address = SocketAddr::new(args.host, args.port);
    let listener =
        TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))?;
    let address = listener.local_addr()?;
    let app = Arc::new(App {
        address,
        models: Arc::new(models),
        size: grid as usize,
        max_clients: args.max_clients as usize,
        clients: AtomicUsize::new(0),
        refusals: Arc::new(AtomicUsize::new(0)),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        log: RateLimitedLog::default(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        // Wake the accept below, which then sees the flag.
        let _ = TcpStream::connect(reachable(address));
    })
    .context("cannot install the Ctrl-C handler")?;
    say!(
        "serving http://{address}/ on {} (Ctrl-C stops)",
        compute.backend
    );
    std::io::stdout().flush()?;
    let connections = Connections::new(MAX_CONNECTIONS);
    for accepted in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match accepted {
            Ok(stream) => admit(stream, &connections, &app),
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

/// An address that reaches a listener on `address` (on all interfaces: through loopback).
fn reachable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, address.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => {
            (std::net::Ipv6Addr::LOCALHOST, address.port()).into()
        }
        _ => address,
    }
}

/// Gives a new connection its place and its thread, or answers it 503 when there is none.
fn admit(stream: TcpStream, connections: &Arc<Connections>, app: &Arc<App>) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "a client".to_string(), |peer| peer.to_string());
    let admitted = match connections.admit(&stream) {
        Ok(Admission::Free(admitted)) => admitted,
        Ok(Admission::Displaced(admitted, waited)) => {
            app.log.line(format_args!(
                "{peer}: closed a connection that waited {:.1} s for its request head, to make room",
                waited.as_secs_f64()
            ));
            admitted
        }
        Ok(Admission::Full) => return refuse_busy(stream, peer, app),
        Err(err) => return app.log.line(format_args!("{peer}: {err}")),
    };
    let shared = app.clone();
    spawn(app, move || {
        if let Err(err) = serve_connection(stream, &admitted, &shared) {
            shared.log.line(format_args!("{peer}: {err:#}"));
        }
    });
}

/// Runs `work` on a thread of its own; when the system has no thread to give (the connection is
/// then dropped), says so in the log instead of panicking.
fn spawn(app: &App, work: impl FnOnce() + Send + 'static) {
    if let Err(err) = std::thread::Builder::new().spawn(work) {
        app.log.line(format_args!("cannot start a thread: {err}"));
    }
}

/// Answers a connection past the cap 503, on a thread of its own (at most [`MAX_REFUSALS`]):
/// the answer needs the client's request read, or the client gets a reset instead.
fn refuse_busy(stream: TcpStream, peer: String, app: &Arc<App>) {
    app.log.line(format_args!(
        "{peer}: refused: {MAX_CONNECTIONS} connections already open"
    ));
    let Some(refusal) = Slot::take(app.refusals.clone(), MAX_REFUSALS) else {
        return;
    };
    spawn(app, move || {
        let _refusal = refusal;
        let busy = text(StatusCode::SERVICE_UNAVAILABLE, "busy");
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = respond(stream, busy);
    });
}

/// Reads a connection's request head and answers it.
fn serve_connection(stream: TcpStream, admitted: &Admitted, app: &App) -> anyhow::Result<()> {
    let refusal = match read_head(&stream, Instant::now() + HEAD_TIMEOUT)? {
        Head::Get(request, rest) => {
            admitted.head_received();
            return routes::route(stream, *request, rest, app);
        }
        Head::TooLarge => text(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request head over 8 KiB",
        ),
        Head::Garbage(why) => text(StatusCode::BAD_REQUEST, why),
        Head::Late => text(
            StatusCode::REQUEST_TIMEOUT,
            "request head unfinished after 10 s",
        ),
        Head::Gone => return Ok(()),
    };
    respond(stream, refusal)
}
