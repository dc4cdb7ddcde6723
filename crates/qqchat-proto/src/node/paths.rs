//! Who is where: the peers the caller adds, their paths, and roaming. A keyed peer's paths
//! are indexed so that a plain datagram from one of them is refused at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Node;
use crate::api::Event;
use crate::conn::PeerConn;
use crate::peer::{PeerId, canonical};

/// How long a path heard from keeps its place against a worse one that also works.
const HOLD: Duration = Duration::from_secs(2);

impl Node {
    /// Adds `peer`, reachable at `path`: it is kept until [`Node::remove_peer`], however
    /// many strangers come. A keyed peer gets `path` as one more to try (all traffic with it
    /// goes over Noise, to the path that last worked, and a wanted one is punched to on all
    /// its paths); an unkeyed peer is its address, so `path` is that address as the socket
    /// writes it. A key needs this node's own identity.
    pub fn add_peer(&mut self, now: Instant, peer: PeerId, path: SocketAddr) {
        self.tick(now);
        if let PeerId::Key(key) = peer {
            let Some(secure) = self.secure.as_mut() else {
                return;
            };
            secure.add_peer(key, path);
            self.by_path.insert(canonical(path), key);
            self.reach_added(now, key);
        }
        let Some(conn) = self.peer_mut(now, peer) else {
            return;
        };
        conn.pin(true);
        let dropped = conn.add_path(path);
        let waiting = conn.is_watched() || conn.unacked() > 0;
        self.unindex(peer, dropped);
        // A contact wanted already (watched, or a message waiting for it) tries its new
        // candidates at once: without a punch round its handshake would go to the first
        // path only, which may never answer, until the next check of its path.
        if waiting {
            self.want(now, peer);
        }
    }

    /// Forgets what [`Node::add_peer`] gave: a keyed peer's key, sessions and paths. What is
    /// in flight to it fails in time.
    pub fn remove_peer(&mut self, peer: PeerId) {
        if let Some(conn) = self.peers.get_mut(&peer) {
            conn.pin(false);
            for path in conn.clear_paths() {
                self.unindex(peer, Some(path));
            }
        }
        if let (PeerId::Key(key), Some(s)) = (peer, self.secure.as_mut()) {
            s.remove_peer(&key);
            self.reach.forget(&key);
            self.exchange.forget(&key);
        }
        self.encodings.remove(peer);
    }

    /// Drops `path` from the index of keyed paths, if it is `peer`'s there.
    pub(super) fn unindex(&mut self, peer: PeerId, path: Option<SocketAddr>) {
        if let (PeerId::Key(key), Some(path)) = (peer, path)
            && self.by_path.get(&canonical(path)) == Some(&key)
        {
            self.by_path.remove(&canonical(path));
        }
    }

    /// Whether traffic with `peer` is encrypted.
    pub fn is_keyed(&self, peer: PeerId) -> bool {
        match peer {
            PeerId::Key(key) => self.secure.as_ref().is_some_and(|s| s.is_keyed(&key)),
            PeerId::Addr(_) => false,
        }
    }

    /// Whether what is sent to `peer` now leaves at once: it is unkeyed, or has a session
    /// (anything else waits for a handshake, which no round trip should include).
    pub(super) fn direct(&self, now: Instant, peer: PeerId) -> bool {
        match peer {
            PeerId::Key(key) => self.secure.as_ref().is_some_and(|s| s.can_send(now, &key)),
            PeerId::Addr(_) => true,
        }
    }

    /// The keyed peer whose path (or candidate) `addr` is: a message addressed there goes to
    /// that key, over Noise, since plain datagrams from its address are refused anyway.
    pub fn keyed_at(&self, addr: SocketAddr) -> Option<PeerId> {
        self.by_path
            .get(&canonical(addr))
            .map(|&key| PeerId::Key(key))
    }

    /// Where datagrams to `peer` go now: the path that last worked.
    pub fn path(&self, peer: PeerId) -> Option<SocketAddr> {
        match (self.peers.get(&peer).and_then(PeerConn::path), peer) {
            (Some(path), _) => Some(path),
            (None, PeerId::Addr(a)) => Some(a),
            (None, PeerId::Key(_)) => None,
        }
    }

    /// An authenticated datagram of `peer` came from `path`: that is where it is now, unless
    /// `path` is worse than the path in use (public against LAN, relayed against direct)
    /// and that one was heard from within [`HOLD`] (both work while punching, or the peer
    /// hairpins through its router, or it has not yet moved off the relay: the better one is
    /// kept).
    pub(super) fn roam(&mut self, now: Instant, peer: PeerId, path: SocketAddr) {
        let PeerId::Key(key) = peer else {
            return;
        };
        let rank = self.reach.rank(path);
        let current_rank = self
            .peers
            .get(&peer)
            .and_then(PeerConn::path)
            .map(|p| self.reach.rank(p));
        let Some(conn) = self.peers.get_mut(&peer) else {
            return;
        };
        if !conn.is_pinned() {
            return;
        }
        if conn.path() == Some(path) {
            conn.path_heard = Some(now);
            return;
        }
        let better_alive = current_rank.is_some_and(|r| r < rank)
            && conn
                .path_heard
                .is_some_and(|t| now.saturating_duration_since(t) < HOLD);
        if better_alive {
            conn.add_path(path);
            return;
        }
        conn.path_heard = Some(now);
        let (changed, dropped) = conn.use_path(path);
        self.unindex(peer, dropped);
        if changed {
            self.by_path.insert(canonical(path), key);
            self.out.events.push_back(Event::PathChanged { peer, path });
        }
    }
}
