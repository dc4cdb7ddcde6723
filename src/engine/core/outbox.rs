//! The outbox: what an earlier run still owes, messages waiting for their contact to be
//! heard from, and cancelling them.

use super::{EngineCore, Now, Outgoing};
use crate::engine::api::{EngineEvent, conversation_peer};
use crate::proto::PeerId;
use crate::store::{Conversation, Direction, MessageState, StoredMessage};

impl EngineCore {
    /// Notes what was received (to show it once) and what is owed. The front end reads the
    /// history itself, as much as it shows.
    pub(super) fn read_history(&mut self, conversations: Vec<Conversation>) {
        let received = conversations
            .iter()
            .flat_map(|c| &c.messages)
            .filter(|m| m.dir == Direction::In)
            .map(|m| m.id);
        self.seen.extend(received);
        let mut owed = Vec::new();
        if self.queue_failed {
            for c in &conversations {
                let Some(peer) = conversation_peer(&self.contacts, &c.key) else {
                    continue;
                };
                owed.extend(
                    c.messages
                        .iter()
                        .filter(|m| m.dir == Direction::Out && !m.plain && m.state.is_undelivered())
                        .map(|m| (peer, m.clone())),
                );
            }
        }
        self.owe(owed);
    }

    /// Puts messages owed from an earlier run in the outbox.
    pub(super) fn owe(&mut self, outbox: Vec<(PeerId, StoredMessage)>) {
        for (to, msg) in outbox {
            if self.unacked.contains_key(&msg.id) {
                continue;
            }
            self.unacked.insert(
                msg.id,
                Outgoing {
                    to,
                    text: msg.text,
                    sent_at: msg.at,
                },
            );
            self.outbox.entry(to).or_default().push_back(msg.id);
            // The front end shows it queued, so it can be sent now or cancelled.
            self.ui.push(EngineEvent::Queued { to, id: msg.id });
        }
    }

    /// Takes a queued message out of the outbox, at the user's word.
    pub(super) fn cancel(&mut self, id: u64) {
        let queued = self
            .unacked
            .get(&id)
            .is_some_and(|o| self.outbox.get(&o.to).is_some_and(|q| q.contains(&id)));
        if queued && let Some(o) = self.unacked.remove(&id) {
            if let Some(q) = self.outbox.get_mut(&o.to) {
                q.retain(|&queued| queued != id);
            }
            self.record_state(o.to, id, MessageState::Cancelled);
            self.ui.push(EngineEvent::Cancelled { to: o.to, id });
        }
    }

    /// Sends the outbox of a contact that was just heard from, oldest first.
    pub(super) fn drain_outbox(&mut self, now: Now, peer: PeerId) {
        let Some(queue) = self.outbox.remove(&peer) else {
            return;
        };
        for id in queue {
            self.transmit(now, id);
        }
    }
}
