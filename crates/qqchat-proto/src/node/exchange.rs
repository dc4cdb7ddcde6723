//! Keyed contacts tell each other their candidate addresses inside the encrypted session,
//! so a relayed address that a restart renewed, or a public mapping that changed, reaches
//! friends without anyone copying a contact string again. Each side also says where it sees
//! the other (a free STUN answer).
//!
//! The exchange acknowledges itself: every `Addresses` packet carries the newest `seq` of
//! the receiver's that the sender holds, so each side tells until the other has its latest,
//! riding on the datagrams the two exchange anyway (pings, pongs, messages).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Node;
use crate::api::Event;
use crate::peer::{PeerId, PublicKey, canonical};
use crate::wire::{self, Addresses, MAX_CANDIDATES, Packet};

/// Telling the same `seq` again before this has passed would only answer a burst of
/// datagrams.
const RETELL_AFTER: Duration = Duration::from_secs(1);

/// What one keyed contact knows of this node's candidates, and this node of its.
#[derive(Debug, Default, Clone)]
struct Told {
    /// The newest own `seq` the contact said it holds.
    acked: u64,
    /// The newest `seq` of the contact's own that arrived.
    theirs: u64,
    /// A newer `seq` of theirs arrived and was not acknowledged yet.
    owe: bool,
    /// When the contact was last told, and which `seq`: a burst of datagrams does not
    /// repeat one `seq`, but a newer one goes at once.
    last_sent: Option<(Instant, u64)>,
    /// Where the contact last said it sees this node.
    seen: Option<SocketAddr>,
}

#[derive(Debug)]
pub(crate) struct Exchange {
    own: Vec<SocketAddr>,
    /// Starts at the epoch, so it keeps growing across restarts.
    seq: u64,
    peers: HashMap<PublicKey, Told>,
}

impl Exchange {
    pub(crate) fn new(epoch: u64) -> Self {
        Exchange {
            own: Vec::new(),
            seq: epoch,
            peers: HashMap::new(),
        }
    }

    pub(crate) fn forget(&mut self, key: &PublicKey) {
        self.peers.remove(key);
    }
}

impl Node {
    /// This node's candidate addresses now, best first: every keyed contact with a session
    /// is told when they change (and the others once they are heard from).
    pub fn set_candidates(&mut self, now: Instant, addrs: Vec<SocketAddr>) {
        self.tick(now);
        let mut addrs: Vec<SocketAddr> = addrs.into_iter().map(canonical).collect();
        addrs.dedup();
        addrs.truncate(MAX_CANDIDATES);
        if addrs == self.exchange.own {
            return;
        }
        self.exchange.own = addrs;
        self.exchange.seq += 1;
        let keyed: Vec<(PublicKey, SocketAddr)> = self
            .peers
            .iter()
            .filter_map(|(id, conn)| match (id, conn.path()) {
                (PeerId::Key(key), Some(path)) if conn.is_pinned() => Some((*key, path)),
                _ => None,
            })
            .collect();
        for (key, path) in keyed {
            if self.direct(now, PeerId::Key(key)) {
                self.tell_addresses(now, key, path);
            }
        }
    }

    /// Tells `key` this node's candidates if it lacks the latest, or acknowledges its own.
    /// `path` is where its last authenticated datagram came from.
    pub(super) fn tell_addresses(&mut self, now: Instant, key: PublicKey, path: SocketAddr) {
        let peer = PeerId::Key(key);
        if !self.peers.get(&peer).is_some_and(|c| c.is_pinned()) {
            return;
        }
        let seq = self.exchange.seq;
        let told = self.exchange.peers.entry(key).or_default();
        let behind = !self.exchange.own.is_empty() && told.acked < seq;
        let recent = told.last_sent.is_some_and(|(t, sent)| {
            sent == seq && now.saturating_duration_since(t) < RETELL_AFTER
        });
        if !(told.owe || behind && !recent) {
            return;
        }
        told.owe = false;
        told.last_sent = Some((now, seq));
        let packet = Packet::Addresses(Addresses {
            seq: if self.exchange.own.is_empty() { 0 } else { seq },
            got: told.theirs,
            mine: self.exchange.own.clone(),
            yours: canonical(path),
        });
        self.out.transmit(peer, wire::encode(&packet));
    }

    /// An authenticated `Addresses` from `key`, arrived from `path`.
    pub(super) fn addresses_heard(&mut self, key: PublicKey, path: SocketAddr, a: Addresses) {
        let peer = PeerId::Key(key);
        if !self.peers.get(&peer).is_some_and(|c| c.is_pinned()) {
            return;
        }
        let told = self.exchange.peers.entry(key).or_default();
        told.acked = told.acked.max(a.got);
        if a.seq > told.theirs {
            told.theirs = a.seq;
            told.owe = true;
            let mut addrs: Vec<SocketAddr> = a.mine.into_iter().map(canonical).collect();
            addrs.truncate(MAX_CANDIDATES);
            // The address it came from is a candidate too, whatever the list says.
            if !addrs.contains(&canonical(path)) {
                addrs.push(canonical(path));
            }
            self.out.events.push_back(Event::Candidates { peer, addrs });
        }
        let yours = canonical(a.yours);
        if told.seen != Some(yours) {
            told.seen = Some(yours);
            self.out.events.push_back(Event::Seen { peer, addr: yours });
        }
    }
}
