//! Link health for the front end: presence, round trip and loss, at most once a second.

use super::{EngineCore, LINK_REPORT_EVERY, Now};
use crate::engine::api::{EngineEvent, Link};
use crate::proto::{LinkHealth, PeerId};

impl EngineCore {
    /// Link figures of contacts, at most once a second per contact, so a busy chat does not
    /// flood the UI.
    pub(super) fn report_links(&mut self, now: Now) {
        let contacts = &self.contacts;
        self.link_dirty.retain(|peer| {
            contacts
                .iter()
                .any(|c| !c.plain && !c.ipmsg && c.peer_id() == *peer)
        });
        let dirty: Vec<PeerId> = self.link_dirty.iter().copied().collect();
        for peer in dirty {
            let due = self
                .link_reported
                .get(&peer)
                .is_none_or(|t| now.mono.saturating_duration_since(*t) >= LINK_REPORT_EVERY);
            if !due {
                continue;
            }
            self.link_dirty.remove(&peer);
            if let Some(health) = self.node.link(peer) {
                self.link_reported.insert(peer, now.mono);
                self.ui.push(EngineEvent::Link {
                    peer,
                    link: link_of(health, now),
                });
            }
        }
    }
}

/// The UI's view of a link: the protocol's last-heard instant turned into wall-clock time.
fn link_of(h: LinkHealth, now: Now) -> Link {
    let last_seen = h.last_heard.and_then(|t| {
        let ago = jiff::SignedDuration::try_from(now.mono.saturating_duration_since(t)).ok()?;
        now.wall.checked_sub(ago).ok()
    });
    Link {
        online: h.online,
        reachable: h.reachable,
        last_seen,
        rtt: h.rtt,
        loss: h.loss,
    }
}
