//! A lossy UDP relay on loopback: the honest end-to-end test of retransmission.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::net::loopback_socket;
use crate::rng::{Draw, Rng};

/// How often the relay mistreats datagrams, in percent.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    pub drop: u64,
    pub duplicate: u64,
    pub reorder: u64,
}

impl Impairment {
    pub const HOSTILE: Impairment = Impairment {
        drop: 20,
        duplicate: 10,
        reorder: 10,
    };
}

/// What the relay did, for checking that it really was lossy.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
    pub duplicated: AtomicU64,
    pub reordered: AtomicU64,
}

/// A UDP relay on loopback between a client and a server that drops, duplicates and reorders
/// datagrams in both directions. The client sends to [`Relay::addr`]; the relay forwards to
/// the server from a second socket and forwards the server's answers back to the client.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stats: Arc<RelayStats>,
    thread: Option<JoinHandle<()>>,
}

/// A datagram held back so that the next one overtakes it.
struct Held {
    bytes: Vec<u8>,
    since: Instant,
}

/// One direction of the relay.
struct Lane {
    held: Option<Held>,
}

/// The relay stops by itself after this long even if nobody stops it.
const RELAY_LIFETIME: Duration = Duration::from_secs(60);
/// A held datagram with nothing behind it to overtake it is released after this long.
const HOLD_AT_MOST: Duration = Duration::from_millis(30);

impl Relay {
    pub fn start(server: SocketAddr, impairment: Impairment, seed: u64) -> Relay {
        let front = loopback_socket();
        let back = loopback_socket();
        let addr = front.local_addr().expect("relay address");
        for s in [&front, &back] {
            s.set_nonblocking(true)
                .expect("make the relay sockets non-blocking");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(RelayStats::default());
        let thread = {
            let stop = Arc::clone(&stop);
            let stats = Arc::clone(&stats);
            thread::Builder::new()
                .name("lossy-relay".into())
                .spawn(move || {
                    run_relay(&front, &back, server, impairment, seed, &stop, &stats);
                })
                .expect("start the relay thread")
        };
        Relay {
            addr,
            stop,
            stats,
            thread: Some(thread),
        }
    }

    /// Where the client sends.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }

    /// A one-line summary for assertion messages.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        format!(
            "relay forwarded {}, dropped {}, duplicated {}, reordered {}",
            s.forwarded.load(Ordering::Relaxed),
            s.dropped.load(Ordering::Relaxed),
            s.duplicated.load(Ordering::Relaxed),
            s.reordered.load(Ordering::Relaxed),
        )
    }

    /// Asserts that the relay dropped, duplicated and reordered at least one datagram each.
    pub fn assert_was_hostile(&self) {
        let s = &self.stats;
        assert!(
            s.dropped.load(Ordering::Relaxed) > 0
                && s.duplicated.load(Ordering::Relaxed) > 0
                && s.reordered.load(Ordering::Relaxed) > 0,
            "the relay was not hostile enough to test anything: {}",
            self.summary()
        );
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run_relay(
    front: &UdpSocket,
    back: &UdpSocket,
    server: SocketAddr,
    impairment: Impairment,
    seed: u64,
    stop: &AtomicBool,
    stats: &RelayStats,
) {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; 65_536];
    let mut client: Option<SocketAddr> = None;
    let mut to_server = Lane { held: None };
    let mut to_client = Lane { held: None };
    while !stop.load(Ordering::Relaxed) && started.elapsed() < RELAY_LIFETIME {
        let mut busy = false;
        // Take turns, a bounded batch from each side, so neither starves the other.
        for _ in 0..64 {
            let Ok((len, from)) = front.recv_from(&mut buf) else {
                break;
            };
            busy = true;
            client = Some(from);
            to_server.pass(&buf[..len], back, server, impairment, &mut rng, stats);
        }
        for _ in 0..64 {
            let Ok((len, from)) = back.recv_from(&mut buf) else {
                break;
            };
            busy = true;
            if let (true, Some(client)) = (from == server, client) {
                to_client.pass(&buf[..len], front, client, impairment, &mut rng, stats);
            }
        }
        to_server.release_stale(back, server);
        if let Some(client) = client {
            to_client.release_stale(front, client);
        }
        if !busy {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Lane {
    fn pass(
        &mut self,
        bytes: &[u8],
        out: &UdpSocket,
        dst: SocketAddr,
        impairment: Impairment,
        rng: &mut Rng,
        stats: &RelayStats,
    ) {
        if rng.percent(impairment.drop) {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.held.is_none() && rng.percent(impairment.reorder) {
            stats.reordered.fetch_add(1, Ordering::Relaxed);
            self.held = Some(Held {
                bytes: bytes.to_vec(),
                since: Instant::now(),
            });
            return;
        }
        let copies = if rng.percent(impairment.duplicate) {
            stats.duplicated.fetch_add(1, Ordering::Relaxed);
            2
        } else {
            1
        };
        for _ in 0..copies {
            let _ = out.send_to(bytes, dst);
        }
        stats.forwarded.fetch_add(1, Ordering::Relaxed);
        // The held datagram goes out after the one that overtook it.
        if let Some(held) = self.held.take() {
            let _ = out.send_to(&held.bytes, dst);
        }
    }

    fn release_stale(&mut self, out: &UdpSocket, dst: SocketAddr) {
        if self
            .held
            .as_ref()
            .is_some_and(|h| h.since.elapsed() >= HOLD_AT_MOST)
            && let Some(held) = self.held.take()
        {
            let _ = out.send_to(&held.bytes, dst);
        }
    }
}
