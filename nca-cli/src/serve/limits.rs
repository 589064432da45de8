//! What the server holds at once: open connections (where the one that has waited longest for
//! its request head gives way to a new one), and counted places (pages, refusals under way).

use std::net::{Shutdown, TcpStream};
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The open connections, at most a fixed number.
pub struct Connections {
    limit: usize,
    open: Mutex<OpenConnections>,
}

#[derive(Default)]
struct OpenConnections {
    next_id: u64,
    list: Vec<OpenConnection>,
}

struct OpenConnection {
    id: u64,
    /// While its request head is awaited: since when, and a handle to close it by.
    awaiting_head: Option<(Instant, TcpStream)>,
}

/// How a new connection got its place.
pub enum Admission {
    /// A free place.
    Free(Admitted),
    /// The place of a connection that had waited this long for its request head; it is closed.
    Displaced(Admitted, Duration),
    /// Every connection is past its request head: none gives way.
    Full,
}

impl Connections {
    /// Room for `limit` connections.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            open: Mutex::default(),
        })
    }

    /// A place for `stream`: a free one, or else the place of the connection that has waited
    /// longest for its request head (so slow or silent clients cannot keep new ones out).
    pub fn admit(self: &Arc<Self>, stream: &TcpStream) -> std::io::Result<Admission> {
        let handle = stream.try_clone()?;
        let mut open = self.lock();
        let mut displaced = None;
        if open.list.len() >= self.limit {
            let Some(oldest) = open
                .list
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((i, c.awaiting_head.as_ref()?.0)))
                .min_by_key(|&(_, since)| since)
                .map(|(i, _)| i)
            else {
                return Ok(Admission::Full);
            };
            let (since, stream) = open
                .list
                .swap_remove(oldest)
                .awaiting_head
                .expect("filtered");
            let _ = stream.shutdown(Shutdown::Both);
            displaced = Some(since.elapsed());
        }
        let id = open.next_id;
        open.next_id += 1;
        open.list.push(OpenConnection {
            id,
            awaiting_head: Some((Instant::now(), handle)),
        });
        let admitted = Admitted {
            connections: self.clone(),
            id,
        };
        Ok(match displaced {
            Some(waited) => Admission::Displaced(admitted, waited),
            None => Admission::Free(admitted),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenConnections> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An open connection's place, given back when dropped.
pub struct Admitted {
    connections: Arc<Connections>,
    id: u64,
}

impl Admitted {
    /// Its request head arrived: it no longer gives way to new connections.
    pub fn head_received(&self) {
        if let Some(connection) = self
            .connections
            .lock()
            .list
            .iter_mut()
            .find(|c| c.id == self.id)
        {
            connection.awaiting_head = None;
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        // A displaced connection's place is already gone.
        self.connections.lock().list.retain(|c| c.id != self.id);
    }
}

/// A place counted by a counter (one of the `--max-clients` pages, or a refusal under way),
/// given back when dropped.
pub struct Slot<C: Deref<Target = AtomicUsize>>(C);

impl<C: Deref<Target = AtomicUsize>> Slot<C> {
    /// A place, if fewer than `limit` are taken.
    pub fn take(counter: C, limit: usize) -> Option<Self> {
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
