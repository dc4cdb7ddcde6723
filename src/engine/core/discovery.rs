//! Other qqchat users found over multicast DNS: reported as [`EngineEvent::Neighbour`]s,
//! and a keyed one given to the protocol at once, so a message to it goes over Noise (the
//! handshake then proves the key the announcement only claimed).

use super::{EngineCore, Now};
use crate::engine::api::{EngineEvent, Neighbour, NeighbourKind};
use crate::lan::LanEvent;
use crate::proto::PeerId;

impl EngineCore {
    /// What discovery found, lost or could not do.
    pub fn handle_discovery(&mut self, now: Now, event: LanEvent) {
        match event {
            LanEvent::Discovered {
                name,
                addrs,
                key,
                version,
            } => {
                let Some(&addr) = addrs.first() else {
                    return;
                };
                let peer = key.map_or_else(|| PeerId::addr(addr), PeerId::Key);
                if key.is_some() {
                    // A contact with this key is that contact: its addresses only grow.
                    for &a in &addrs {
                        self.node.add_peer(now.mono, peer, a);
                    }
                }
                self.neighbours.insert(name.clone(), peer);
                self.ui.push(EngineEvent::Neighbour(Neighbour {
                    peer,
                    name,
                    addr,
                    kind: NeighbourKind::Qqchat {
                        key,
                        version: version.unwrap_or_default(),
                    },
                }));
            }
            LanEvent::Gone { name } => {
                if let Some(peer) = self.neighbours.remove(&name) {
                    self.ui.push(EngineEvent::NeighbourGone { peer });
                }
            }
            LanEvent::Trouble(why) => self.ui.push(EngineEvent::Error(why)),
        }
    }
}
