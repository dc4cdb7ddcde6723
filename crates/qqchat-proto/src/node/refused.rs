//! What cannot be read, and why the user should hear of it: Noise from a contact this node
//! has no key for, plain datagrams from a keyed contact, handshakes refused or unanswered.
//! Each is a key one side has and the other lacks, and would otherwise fail in silence; each
//! is reported once, then at most every [`Config::trouble_every`](crate::Config) per peer, so
//! a flood of such datagrams is one line, not thousands.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use super::Node;
use crate::api::{Event, Trouble};
use crate::peer::{PeerId, PublicKey, canonical};
use crate::secure::{self, Secure, SecureEvent};
use crate::wire::{self, Datagram};

/// Entries kept before old ones are dropped: more peers than that in trouble at once is a
/// flood, and its reports can wait.
const MAX_REPORTED: usize = 1024;

/// What was reported last, and when: a [`Trouble`] about a peer, or (`None`) a refused key.
#[derive(Debug, Default)]
pub(crate) struct Reported(HashMap<(PeerId, Option<Trouble>), Instant>);

impl Node {
    /// Reports unless the same was reported less than `trouble_every` ago.
    fn may_report(&mut self, now: Instant, peer: PeerId, what: Option<Trouble>) -> bool {
        let every = self.config.trouble_every;
        let last = &mut self.reported.0;
        if last.get(&(peer, what)).is_some_and(|&t| now < t + every) {
            return false;
        }
        if last.len() >= MAX_REPORTED {
            last.retain(|_, t| now < *t + every);
            if last.len() >= MAX_REPORTED {
                return false;
            }
        }
        last.insert((peer, what), now);
        true
    }

    fn trouble(&mut self, now: Instant, peer: PeerId, trouble: Trouble) {
        if self.may_report(now, peer, Some(trouble)) {
            self.out.events.push_back(Event::Trouble { peer, trouble });
        }
    }

    /// A version-2 datagram: Noise, from a keyed contact or someone trying to be one.
    pub(super) fn on_secure(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let wall = self.wall_ns();
        let at_path = self.by_path.get(&canonical(from)).copied();
        let Some(secure) = self.secure.as_mut() else {
            self.out.stats.unknown_version += 1;
            self.refused_secure(now, from);
            return;
        };
        match secure.receive(now, wall, from, at_path, bytes) {
            secure::Inbound::Packet(key, plain) => {
                let peer = PeerId::Key(key);
                self.punch_heard(now, key, from);
                self.roam(now, peer, from);
                match wire::decode_body(&plain) {
                    Ok(packets) => {
                        for packet in packets {
                            self.on_packet(now, peer, from, packet);
                        }
                    }
                    Err(_) => self.out.stats.malformed += 1,
                }
                self.tell_addresses(now, key, from);
            }
            secure::Inbound::Handshake(key) => {
                self.punch_heard(now, key, from);
                self.roam(now, PeerId::Key(key), from);
                if let Some(conn) = self.peers.get_mut(&PeerId::Key(key)) {
                    conn.on_session(now);
                    self.reschedule(PeerId::Key(key));
                }
            }
            secure::Inbound::Refused(_) => {
                self.out.stats.unauthenticated += 1;
                self.refused_secure(now, from);
            }
        }
        self.secure_events(now);
    }

    /// Turns what the Noise layer noticed into events.
    pub(super) fn secure_events(&mut self, now: Instant) {
        while let Some(event) = self.secure.as_mut().and_then(Secure::poll_event) {
            match event {
                SecureEvent::KeyRefused {
                    from,
                    offered,
                    expected,
                } => {
                    // From an unkeyed contact, the news is that it has a key: said already.
                    if expected.is_none() && self.unkeyed_contact(from).is_some() {
                        continue;
                    }
                    if self.may_report(now, PeerId::Key(offered), None) {
                        self.out.events.push_back(Event::KeyRefused {
                            from,
                            offered,
                            expected,
                        });
                    }
                }
                SecureEvent::NoAnswer { key } => {
                    self.trouble(now, PeerId::Key(key), Trouble::NoHandshakeAnswer);
                }
            }
        }
    }

    /// The unkeyed contact at `from`, if that is one's address (and no keyed contact's).
    fn unkeyed_contact(&self, from: SocketAddr) -> Option<PeerId> {
        let peer = PeerId::addr(from);
        let contact = self.peers.get(&peer).is_some_and(|p| p.is_contact());
        (contact && !self.by_path.contains_key(&canonical(from))).then_some(peer)
    }

    /// A Noise datagram this node could not read: from an unkeyed contact, that contact has
    /// this node's key and this node lacks its key.
    fn refused_secure(&mut self, now: Instant, from: SocketAddr) {
        if let Some(peer) = self.unkeyed_contact(from) {
            self.trouble(now, peer, Trouble::SendsEncrypted);
        }
    }

    /// An unencrypted datagram from the path of the keyed contact `key`, refused. If it is a
    /// qqchat or text datagram, that contact has no key for this node (or someone forges
    /// its address, which this cannot tell apart); junk says nothing.
    pub(super) fn refused_plain(&mut self, now: Instant, key: PublicKey, bytes: &[u8]) {
        if matches!(
            wire::decode(bytes),
            Ok(Datagram::Packets(_) | Datagram::Plain(_))
        ) {
            self.trouble(now, PeerId::Key(key), Trouble::SendsPlain);
        }
    }
}
