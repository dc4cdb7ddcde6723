//! The TURN relay beside the protocol node: what comes from the relay server is unwrapped
//! and handed to the node as coming from the peer; what the node sends to a peer reached
//! through the relay is wrapped (see [`TurnRelay`](super::super::turn::TurnRelay) for which
//! peers those are).

use std::net::SocketAddr;

use super::{EngineCore, Now};
use crate::engine::turn::Received;
use crate::proto::Transmit;

impl EngineCore {
    /// A datagram from the network that is not STUN's: the relay's, or the node's.
    pub(super) fn relay_or_node(&mut self, now: Now, from: SocketAddr, bytes: &[u8]) {
        match self.relay.handle_datagram(now.mono, from, bytes) {
            Received::NotOurs => self.node.handle_datagram(now.mono, from, bytes),
            Received::Handled => {}
            Received::Peer { from, payload } => {
                self.node.handle_datagram(now.mono, from, &payload);
            }
        }
    }

    /// The node's datagrams, those for peers behind the relay wrapped for it, then the
    /// relay's own.
    pub(super) fn relay_transmits(&mut self, now: Now, node: Vec<Transmit>) -> Vec<Transmit> {
        let mut out: Vec<Transmit> = node
            .into_iter()
            .filter_map(|t| self.relay.wrap(now.mono, t))
            .collect();
        out.extend(std::iter::from_fn(|| self.relay.poll_transmit()));
        out
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
