//! This node's own candidate addresses, told to keyed contacts inside the encrypted session,
//! and the candidates contacts tell in return (kept, and handed to the front end to write
//! into the contacts file).

use std::net::SocketAddr;

use super::{EngineCore, Now};
use crate::engine::api::EngineEvent;
use crate::engine::stun::Mapping;
use crate::identity;
use crate::proto::{PeerId, canonical, is_lan};

impl EngineCore {
    /// Where friends can reach this node now, best first: its LAN addresses, the public
    /// address STUN saw (only behind a NAT that keeps one port for every destination: a
    /// symmetric one gives each friend another port), the address contacts see it at (the
    /// same caveat), and the relayed address.
    pub(super) fn own_candidates(&self) -> Vec<SocketAddr> {
        let reach = self.stun.report();
        let symmetric = reach.mapping == Some(Mapping::Symmetric);
        let public = reach
            .public()
            .filter(|_| reach.mapping == Some(Mapping::EndpointIndependent));
        let seen = self.seen_public.filter(|_| !symmetric);
        let relayed = self.relay.report().and_then(|r| r.relayed());
        let mut out: Vec<SocketAddr> = Vec::new();
        let all = self
            .lan
            .iter()
            .copied()
            .chain(public)
            .chain(seen)
            .chain(relayed);
        for addr in all.map(canonical) {
            if identity::unusable(addr).is_none() && !out.contains(&addr) {
                out.push(addr);
            }
        }
        out
    }

    /// Gives the protocol this node's candidates again when something they come from changed.
    pub(super) fn refresh_candidates(&mut self, now: Now) {
        if std::mem::take(&mut self.candidates_stale) {
            let own = self.own_candidates();
            self.dht_publish(now, &own);
            self.node.set_candidates(now.mono, own);
        }
        if let Some(relayed) = self.relay.relayed_peers() {
            self.node.set_relayed(relayed);
        }
    }

    /// A keyed contact told its current candidates: they are tried from now on, kept for
    /// this run, and handed to the front end to keep in the contacts file.
    pub(super) fn learned_candidates(&mut self, now: Now, peer: PeerId, told: Vec<SocketAddr>) {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in told.into_iter().map(canonical) {
            if identity::unusable(addr).is_none() && !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        let Some(contact) = self
            .contacts
            .iter_mut()
            .find(|c| c.key.is_some() && c.peer_id() == peer)
        else {
            return;
        };
        if addrs.is_empty() || addrs == contact.addrs {
            return;
        }
        let new: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| !contact.addrs.contains(a))
            .collect();
        contact.addrs.clone_from(&addrs);
        for addr in new {
            self.node.add_peer(now.mono, peer, addr);
        }
        self.relay_peers(now);
        self.ui.push(EngineEvent::Candidates { peer, addrs });
    }

    /// A keyed contact sees this node at `addr`: outside the LAN, that is a public
    /// candidate (found without any STUN server).
    pub(super) fn seen_at(&mut self, addr: SocketAddr) {
        if !is_lan(addr) && self.seen_public != Some(addr) {
            self.seen_public = Some(addr);
            self.candidates_stale = true;
        }
    }
}
