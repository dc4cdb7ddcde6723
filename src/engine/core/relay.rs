//! The TURN relay beside the protocol node, on a socket of its own: what comes from the
//! relay server there is unwrapped and handed to the node as coming from the peer; what the
//! node sends to a peer reached through the relay is wrapped and goes out that socket (see
//! [`TurnRelay`](super::super::turn::TurnRelay) for which peers those are).

use std::net::SocketAddr;

use super::{EngineCore, Now};
use crate::engine::turn::{Received, Route};
use crate::proto::Transmit;

impl EngineCore {
    /// A datagram that arrived on the relay's socket. Only the relay server's are read; the
    /// peers' come wrapped, and are the node's once unwrapped.
    pub fn handle_relay_datagram(&mut self, now: Now, from: SocketAddr, bytes: &[u8]) {
        if let Received::Peer { from, payload } = self.relay.handle_datagram(now.mono, from, bytes)
        {
            // The node learns the sender is relayed before it reads the datagram, so what it
            // reports of it (the path's kind) says so from the first one.
            if let Some(relayed) = self.relay.relayed_peers() {
                self.node.set_relayed(relayed);
            }
            self.node.handle_datagram(now.mono, from, &payload);
        }
    }

    /// The relay's new socket, opened after [`Output::new_relay_socket`](super::Output):
    /// the allocation is made again from it at once.
    pub fn relay_socket(&mut self, now: Now, local: SocketAddr) {
        self.relay.set_socket(now.mono, local);
    }

    /// Sorts the node's datagrams: those for peers behind the relay wrapped for it, into
    /// `relayed` with the relay's own; the others into `direct`.
    pub(super) fn route(
        &mut self,
        now: Now,
        node: Vec<Transmit>,
        direct: &mut Vec<Transmit>,
        relayed: &mut Vec<Transmit>,
    ) {
        for t in node {
            match self.relay.wrap(now.mono, t) {
                Some(Route::Direct(t)) => direct.push(t),
                Some(Route::Relay(t)) => relayed.push(t),
                None => {}
            }
        }
        relayed.extend(std::iter::from_fn(|| self.relay.poll_transmit()));
    }

    /// Keyed contacts' addresses get a permission and a channel on the relay: only keyed
    /// ones, since the relay is for peers who prove who they are.
    pub(super) fn relay_peers(&mut self, now: Now) {
        if !self.relay.is_on() {
            return;
        }
        let peers = self
            .contacts
            .iter()
            .filter(|c| c.key.is_some())
            .flat_map(|c| c.addrs.iter().copied())
            .collect();
        self.relay.set_peers(now.mono, peers);
    }
}
