//! Who there is to talk to and what was said: peers, their messages and marks, and what is
//! known of each one's identity. No terminal types here: this is the model the view reads.
//!
//! Peers and messages are named by stable references rather than by position, so that a
//! reloaded contacts file or the full history arriving moves nothing that points at them.
//! A peer is a [`EntryId`]; a message is its peer and a [`Seq`], a number that stays with the
//! message while older ones are put in front of it.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use jiff::Timestamp;

use super::message::{Mark, Message, Origin, merge_by_time};
use super::peer::{EntryId, Nearby, Peer, Seq, Trust};
use crate::contacts::ContactBook;
use crate::engine::{Command, Link, Neighbour};
use crate::proto::{PeerId, PublicKey, canonical};
use crate::store::{Conversation, ConversationKey, StoredMessage};
use crate::text::sanitize;

/// Every peer in list order (the book's contacts in file order, then the rest), the by_msg_id
/// the engine still reports on, and the history names on disk.
pub struct Roster {
    peers: Vec<Peer>,
    next_id: u32,
    /// `[me] require_keys`: peers without a key are refused.
    require_keys: bool,
    /// Where the message each unanswered msg_id belongs to lives.
    by_msg_id: HashMap<u64, (EntryId, Seq)>,
    /// History keys found on disk at start. A contact may not take one of these names from
    /// another conversation: renaming a history onto it would overwrite that file.
    known_keys: HashSet<ConversationKey>,
    /// Rows of people on this network that the last contacts turned out to hold, and the
    /// contact's row each joined, so that the view can follow.
    pub(super) absorbed: Vec<(EntryId, EntryId)>,
    /// Contacts (by name in the file) whose key the file changed, held to the old one.
    key_changed: HashSet<String>,
    /// Contacts (by name in the file) whose safety number the user marked verified.
    verified: HashSet<String>,
}

impl Roster {
    pub(super) fn new(book: &ContactBook) -> Roster {
        let mut roster = Roster {
            peers: Vec::new(),
            next_id: 0,
            require_keys: book.me.require_keys,
            by_msg_id: HashMap::new(),
            known_keys: HashSet::new(),
            absorbed: Vec::new(),
            key_changed: HashSet::new(),
            verified: HashSet::new(),
        };
        for c in &book.contacts {
            let key = ConversationKey::contact(&c.name);
            let mut peer = roster.new_peer(sanitize(&c.name), key, c.addr(), c.plain, true);
            peer.candidates = c.addrs.clone();
            peer.public_key = c.key;
            peer.ipmsg = c.ipmsg;
            peer.muted = c.mute;
            roster.peers.push(peer);
        }
        roster
    }

    fn new_peer(
        &mut self,
        name: String,
        key: ConversationKey,
        addr: SocketAddr,
        plain: bool,
        listed: bool,
    ) -> Peer {
        let id = EntryId(self.next_id);
        self.next_id += 1;
        Peer {
            id,
            name,
            key,
            addr,
            candidates: vec![addr],
            plain,
            listed,
            muted: false,
            public_key: None,
            unread: 0,
            messages: Vec::new(),
            first: 0,
            link: None,
            retryable: 0,
            relayed: false,
            older: Vec::new(),
            dht_found: Vec::new(),
            draft: String::new(),
            ipmsg: false,
            nearby: None,
        }
    }

    /// Every peer, in list order.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    pub(super) fn peers_mut(&mut self) -> &mut [Peer] {
        &mut self.peers
    }

    /// Where peer `id` is in the list.
    pub fn position(&self, id: EntryId) -> Option<usize> {
        self.peers.iter().position(|p| p.id == id)
    }

    pub fn get(&self, id: EntryId) -> Option<&Peer> {
        self.peers.iter().find(|p| p.id == id)
    }

    pub(super) fn get_mut(&mut self, id: EntryId) -> Option<&mut Peer> {
        self.peers.iter_mut().find(|p| p.id == id)
    }

    /// The entry a stored conversation's messages are shown in.
    pub(super) fn entry_of(&self, key: &ConversationKey) -> Option<EntryId> {
        let by_key = self
            .peers
            .iter()
            .find(|p| p.key == *key || p.older.contains(key));
        by_key
            .or_else(|| key.address().and_then(|addr| self.at_addr(addr)))
            .map(|p| p.id)
    }

    /// Takes entry `id` off the list, with what the engine may still say of its messages.
    pub(super) fn remove(&mut self, id: EntryId) {
        self.peers.retain(|p| p.id != id);
        self.by_msg_id.retain(|_, (peer, _)| *peer != id);
    }

    /// The entry with this address, if there is one.
    pub fn at_addr(&self, addr: SocketAddr) -> Option<&Peer> {
        self.peers
            .iter()
            .find(|p| canonical(p.addr) == canonical(addr))
    }

    /// The entry the engine means by `peer`: the one it is, or for a keyed peer with no
    /// entry of its own (its contact just left the file), the one at its address.
    fn find(&self, peer: PeerId, path: SocketAddr) -> Option<EntryId> {
        let entry = self.peers.iter().find(|p| p.peer_id() == peer);
        entry.or_else(|| self.at_addr(path)).map(|p| p.id)
    }

    /// Whether `peer` is known to be who its name says, and whether it may be written to.
    pub fn trust(&self, peer: &Peer) -> Trust {
        // A qqchat on this network that announced a key is spoken to over Noise with it,
        // which `require_keys` asks for; the announcement still proves nothing of its name.
        let announced_key = peer.neighbour().and_then(Nearby::key).is_some();
        if peer.is_keyed() {
            let name = peer.key.as_str();
            if peer.listed && self.key_changed.contains(name) {
                Trust::KeyChanged
            } else if peer.listed && self.verified.contains(name) {
                Trust::Verified
            } else {
                Trust::Keyed
            }
        } else if self.claimed_contact(peer).is_some() {
            Trust::ClaimsContact
        } else if self.require_keys && !announced_key {
            Trust::Refused
        } else {
            Trust::Unverified
        }
    }

    /// Which contacts' keys changed in the file, and which are verified, by name in the
    /// file.
    pub(super) fn set_key_marks(&mut self, changed: HashSet<String>, verified: HashSet<String>) {
        self.key_changed = changed;
        self.verified = verified;
    }

    /// The keyed contact whose name someone on this network announced with another key:
    /// they are not that contact, and are never joined to it.
    pub fn claimed_contact(&self, peer: &Peer) -> Option<&Peer> {
        let nearby = peer.neighbour()?;
        let key = nearby.key()?;
        self.peers.iter().find(|p| {
            p.listed
                && p.public_key.is_some_and(|k| k != key)
                && (p.name == nearby.name || p.key.as_str() == nearby.name)
        })
    }

    /// Puts the stored conversations in place, merged with what each peer holds already.
    /// Message numbers start where they did, so a message picked by number stays picked.
    /// A conversation given as `page` messages or more may have older ones, read as the view
    /// reaches them ([`Roster::put_older`]); `None` says each is whole.
    pub(super) fn load_history(&mut self, history: Vec<Conversation>, page: Option<usize>) {
        for (id, messages, partial) in self.history_by_peer(history, page) {
            let Some(p) = self.get_mut(id) else { continue };
            p.messages = if p.messages.is_empty() {
                messages
            } else {
                merge_by_time(std::mem::take(&mut p.messages), messages)
            };
            for key in partial {
                if !p.older.contains(&key) {
                    p.older.push(key);
                }
            }
            let first = p.first;
            self.register(id, first);
        }
        self.order();
    }

    /// Puts messages of conversation `key` read from the history before those `id` shows.
    /// Those it shows already (written in the same instant as its first) are dropped;
    /// `whole`: the history has nothing older. What is shown keeps its
    /// numbers, and the older messages are numbered backwards from it.
    pub(super) fn put_older(
        &mut self,
        id: EntryId,
        key: &ConversationKey,
        older: Vec<StoredMessage>,
        whole: bool,
    ) {
        let Some(p) = self.get_mut(id) else { return };
        if whole {
            p.older.retain(|k| k != key);
        }
        let first_at = p.messages.first().map(Message::at);
        let older: Vec<Message> = older
            .into_iter()
            .map(Message::from_stored)
            .filter(|m| {
                // Only those at the first message's instant can be shown already.
                first_at != Some(m.at)
                    || !p
                        .messages
                        .iter()
                        .take_while(|shown| shown.at == m.at)
                        .any(|shown| shown.text == m.text)
            })
            .collect();
        if older.is_empty() {
            return;
        }
        let added = older.len() as Seq;
        p.first -= added;
        let mut messages = older;
        messages.append(&mut p.messages);
        p.messages = messages;
        let new_first = p.first;
        // A msg_id both hold stays with the later message, the one the engine reports on.
        self.register_range(id, new_first, new_first + added, false);
        if let Some(p) = self.get_mut(id) {
            p.recount();
        }
    }

    /// Registers the open by_msg_id of all of `id`'s messages, numbering them from `first`.
    fn register(&mut self, id: EntryId, first: Seq) {
        self.by_msg_id.retain(|_, (peer, _)| *peer != id);
        let end = self
            .get(id)
            .map_or(first, |p| first + p.messages.len() as Seq);
        self.register_range(id, first, end, true);
        if let Some(p) = self.get_mut(id) {
            p.recount();
        }
    }

    /// Registers the open by_msg_id of `id`'s messages numbered `from..to`. A msg_id held twice
    /// goes to the later message; `overwrite: false` leaves a msg_id already registered where
    /// it is, for a range put before messages that are registered already.
    fn register_range(&mut self, id: EntryId, from: Seq, to: Seq, overwrite: bool) {
        let Some(p) = self.get(id) else { return };
        let found: Vec<(u64, Seq)> = (from..to)
            .filter_map(|seq| {
                let message = &p.messages[p.index_of(seq)?];
                match message.origin {
                    Origin::Own { mark, msg_id } if mark.is_open() => Some((msg_id, seq)),
                    _ => None,
                }
            })
            .collect();
        for (msg_id, seq) in found {
            if overwrite {
                self.by_msg_id.insert(msg_id, (id, seq));
            } else {
                self.by_msg_id.entry(msg_id).or_insert((id, seq));
            }
        }
    }

    /// Stored conversations as messages per entry (made where needed), in time order when
    /// several conversations belong to one entry, with the keys of those that may have
    /// older messages (`page` or more were given).
    fn history_by_peer(
        &mut self,
        history: Vec<Conversation>,
        page: Option<usize>,
    ) -> Vec<(EntryId, Vec<Message>, Vec<ConversationKey>)> {
        let mut per_peer: Vec<(EntryId, Vec<Message>, Vec<ConversationKey>)> = Vec::new();
        for conversation in history {
            self.known_keys.insert(conversation.key.clone());
            let Some(id) = self.history_peer(&conversation) else {
                continue;
            };
            let partial = page
                .is_some_and(|page| conversation.messages.len() >= page)
                .then(|| conversation.key.clone());
            let messages: Vec<Message> = conversation
                .messages
                .into_iter()
                .map(Message::from_stored)
                .collect();
            match per_peer.iter_mut().find(|(p, _, _)| *p == id) {
                Some((_, slot, keys)) => {
                    *slot = merge_by_time(std::mem::take(slot), messages);
                    keys.extend(partial);
                }
                None => per_peer.push((id, messages, partial.into_iter().collect())),
            }
        }
        per_peer
    }

    /// The entry a stored conversation belongs to, made if needed; `None` when the history
    /// says too little to tell where it belongs.
    fn history_peer(&mut self, conversation: &Conversation) -> Option<EntryId> {
        let key = &conversation.key;
        if let Some(p) = self.peers.iter().find(|p| p.listed && p.key == *key) {
            return Some(p.id);
        }
        let last = conversation.messages.last();
        let by_key = key.address();
        let addr = match by_key {
            Some(addr) => addr,
            None => last?.peer.parse().ok()?,
        };
        if let Some(p) = self
            .peers
            .iter_mut()
            .find(|p| canonical(p.addr) == canonical(addr))
        {
            if by_key.is_none() && !p.listed && p.key.is_address() {
                // A name says more than an address.
                p.name = sanitize(key.as_str());
                p.key.clone_from(key);
            }
            return Some(p.id);
        }
        let name = match by_key {
            Some(addr) => display_addr(addr),
            None => sanitize(key.as_str()),
        };
        let plain = last.is_some_and(|m| m.plain);
        let peer = self.new_peer(name, key.clone(), addr, plain, false);
        let id = peer.id;
        self.peers.push(peer);
        Some(id)
    }

    /// Takes the contacts of a (re)loaded book; returns a [`Command::RenameHistory`] for
    /// each conversation whose name changes.
    ///
    /// Entries are matched by address, then by name (a contact whose address was edited):
    /// a matched entry keeps its id, messages, unread count and presence. A contact that is
    /// gone stays as an entry "not in contacts" if it has messages.
    pub(super) fn set_contacts(&mut self, book: &ContactBook) -> Vec<Command> {
        let mut old: Vec<Option<Peer>> = std::mem::take(&mut self.peers)
            .into_iter()
            .map(Some)
            .collect();
        let mut matched: Vec<Option<usize>> = vec![None; book.contacts.len()];
        let free = |old: &[Option<Peer>], matched: &[Option<usize>], i: usize| {
            old[i].is_some() && !matched.contains(&Some(i))
        };
        for (ci, contact) in book.contacts.iter().enumerate() {
            matched[ci] = (0..old.len()).find(|&i| {
                free(&old, &matched, i)
                    && old[i]
                        .as_ref()
                        .is_some_and(|p| p.candidates.iter().any(|&a| contact.has_addr(a)))
            });
        }
        for (ci, contact) in book.contacts.iter().enumerate() {
            if matched[ci].is_none() {
                matched[ci] = (0..old.len()).find(|&i| {
                    free(&old, &matched, i)
                        && old[i]
                            .as_ref()
                            .is_some_and(|p| p.listed && p.key == *contact.name)
                });
            }
        }

        let mut commands = Vec::new();
        for (ci, contact) in book.contacts.iter().enumerate() {
            let mut peer = match matched[ci].and_then(|i| old[i].take()) {
                Some(mut peer) => {
                    let key = ConversationKey::contact(&contact.name);
                    if peer.key != key {
                        commands.extend(self.history_rename(&peer, &key));
                        peer.key = key;
                    }
                    let same = peer.candidates.len() == contact.addrs.len()
                        && peer.candidates.iter().all(|&a| contact.has_addr(a));
                    if !same {
                        // New addresses: the path in use and what was measured on it are gone.
                        peer.link = None;
                        peer.addr = contact.addr();
                    }
                    peer.candidates = contact.addrs.clone();
                    peer.name = sanitize(&contact.name);
                    peer.plain = contact.plain;
                    if !peer.listed && contact.ipmsg && peer.is_ipmsg() {
                        // Someone on this network just added: what discovery said of its
                        // presence holds for the contact.
                        let here = peer.nearby.as_ref().is_some_and(|n| n.here);
                        set_online(&mut peer, here);
                    }
                    peer.listed = true;
                    peer
                }
                None => {
                    let mut peer = self.new_peer(
                        sanitize(&contact.name),
                        ConversationKey::contact(&contact.name),
                        contact.addr(),
                        contact.plain,
                        true,
                    );
                    peer.candidates = contact.addrs.clone();
                    peer
                }
            };
            peer.public_key = contact.key;
            peer.ipmsg = contact.ipmsg;
            peer.muted = contact.mute;
            self.peers.push(peer);
        }
        for mut peer in old.into_iter().flatten() {
            let here = peer.nearby.as_ref().is_some_and(|n| n.here);
            if peer.listed && peer.messages.is_empty() && !here {
                continue;
            }
            if peer.listed {
                // No longer watched: what was known of its presence goes stale, and a key
                // no longer in the book vouches for nobody.
                peer.listed = false;
                peer.link = None;
                peer.public_key = None;
                peer.ipmsg = false;
                peer.muted = false;
                if let Some(nearby) = peer.nearby.clone().filter(|_| here) {
                    // Still on this network: listed there again, as it calls itself unless
                    // its conversation goes on under the contact's name.
                    if peer.messages.is_empty() {
                        peer.name = nearby.name;
                        peer.key = ConversationKey::from_address(nearby.addr);
                    }
                    peer.plain = false;
                    set_online(&mut peer, true);
                }
            }
            self.peers.push(peer);
        }
        self.absorb_neighbours();
        self.order();
        commands
    }

    /// Someone on this network that turned out to be a contact (the contact was just
    /// written, or the file edited) leaves its own row for the contact's: the row goes, with
    /// its messages joining the contact's.
    fn absorb_neighbours(&mut self) {
        self.absorbed.clear();
        let mut index = 0;
        while index < self.peers.len() {
            let extra = &self.peers[index];
            let is_contact = extra.neighbour().and_then(|n| {
                self.peers
                    .iter()
                    .position(|p| p.listed && p.peer_id() == n.peer)
            });
            let Some(contact) = is_contact else {
                index += 1;
                continue;
            };
            let extra = self.peers.remove(index);
            let contact = if contact > index {
                contact - 1
            } else {
                contact
            };
            let id = self.peers[contact].id;
            self.absorbed.push((extra.id, id));
            let p = &mut self.peers[contact];
            if p.ipmsg && extra.is_ipmsg() {
                set_online(p, extra.nearby.as_ref().is_some_and(|n| n.here));
            }
            p.nearby = extra.nearby;
            if !extra.messages.is_empty() {
                let first = p.first;
                p.messages = merge_by_time(std::mem::take(&mut p.messages), extra.messages);
                self.register(id, first);
            }
            self.by_msg_id.retain(|_, (peer, _)| *peer != extra.id);
        }
    }

    /// Puts the parts of the list in order (contacts, not in contacts, on this network),
    /// each keeping its own order.
    fn order(&mut self) {
        self.peers.sort_by_key(Peer::part);
    }

    /// Someone on this network was found, or told something new of themselves. One that is
    /// a contact (by key, or an IP Messenger contact by address) is that contact: nothing
    /// new is listed and the contact keeps its name; an IP Messenger contact is shown
    /// online. Anyone else gets a row of their own, or takes over the row of their address
    /// that wrote earlier.
    pub(super) fn neighbour(&mut self, found: &Neighbour) {
        let nearby = Nearby::new(found);
        let ipmsg = nearby.is_ipmsg();
        if let Some(p) = self
            .peers
            .iter_mut()
            .find(|p| p.listed && p.peer_id() == found.peer)
        {
            if p.ipmsg && ipmsg {
                set_online(p, true);
            }
            p.nearby = Some(nearby);
            return;
        }
        let own = self
            .peers
            .iter()
            .position(|p| p.neighbour().is_some_and(|n| n.peer == found.peer));
        let earlier = || {
            self.peers.iter().position(|p| {
                !p.listed
                    && p.nearby.is_none()
                    && (p.peer_id() == found.peer || canonical(p.addr) == canonical(found.addr))
            })
        };
        match own.or_else(earlier) {
            Some(index) => {
                let p = &mut self.peers[index];
                if p.key.is_address() {
                    // A name says more than an address; a contact since removed keeps its own.
                    p.name.clone_from(&nearby.name);
                }
                p.addr = found.addr;
                p.candidates = vec![found.addr];
                p.plain = false;
                p.nearby = Some(nearby);
                set_online(p, true);
            }
            None => {
                let mut peer = self.new_peer(
                    nearby.name.clone(),
                    ConversationKey::from_address(found.addr),
                    found.addr,
                    false,
                    false,
                );
                peer.nearby = Some(nearby);
                set_online(&mut peer, true);
                self.peers.push(peer);
            }
        }
        self.order();
    }

    /// Someone on this network said goodbye. A contact is shown offline if it is spoken to
    /// in IP Messenger (otherwise the engine tells its presence). Someone else's row goes,
    /// unless `keep` says it holds something (a conversation, a draft): then it stays,
    /// offline. Returns the rows taken off.
    pub(super) fn neighbour_gone(
        &mut self,
        peer: PeerId,
        keep: impl Fn(&Peer) -> bool,
    ) -> Vec<EntryId> {
        let mut gone = Vec::new();
        for p in &mut self.peers {
            if p.nearby.as_ref().is_none_or(|n| n.peer != peer) {
                continue;
            }
            if p.listed {
                if p.ipmsg && p.nearby.as_ref().is_some_and(Nearby::is_ipmsg) {
                    set_online(p, false);
                }
                p.nearby = None;
            } else if p.messages.is_empty() && !keep(p) {
                gone.push(p.id);
            } else {
                if let Some(n) = &mut p.nearby {
                    n.here = false;
                }
                set_online(p, false);
            }
        }
        for &id in &gone {
            self.remove(id);
        }
        gone
    }

    /// The engine command that moves `peer`'s history to `to`, unless that would overwrite
    /// another conversation's file; then the history stays where it is, and the next start
    /// joins the two by address.
    fn history_rename(&mut self, peer: &Peer, to: &ConversationKey) -> Option<Command> {
        let has_history = !peer.messages.is_empty() || self.known_keys.contains(&peer.key);
        if !has_history || self.known_keys.contains(to) {
            return None;
        }
        self.known_keys.remove(&peer.key);
        self.known_keys.insert(to.clone());
        Some(Command::RenameHistory {
            from: peer.key.clone(),
            to: to.clone(),
        })
    }

    /// A new entry for an address that is not in contacts, named by the address.
    fn add_stranger(&mut self, addr: SocketAddr, plain: bool) -> EntryId {
        let peer = self.new_peer(
            display_addr(addr),
            ConversationKey::from_address(addr),
            addr,
            plain,
            false,
        );
        let id = peer.id;
        self.peers.push(peer);
        id
    }

    /// Adds a message from `from`, making an entry for an address not seen before. Returns
    /// the peer and the message's place.
    pub(super) fn receive(
        &mut self,
        from: PeerId,
        path: SocketAddr,
        text: &str,
        (at, sent_at): (Timestamp, Option<Timestamp>),
        plain: bool,
    ) -> (EntryId, usize) {
        let id = match self.find(from, path) {
            Some(id) => id,
            None => {
                let id = self.add_stranger(path, plain);
                self.order();
                id
            }
        };
        let Some(p) = self.get_mut(id) else {
            return (id, 0);
        };
        if !p.listed && p.nearby.is_none() {
            // An unlisted peer is answered the way it last spoke (someone on this network
            // speaks what discovery found).
            p.plain = plain;
        }
        // A trailing newline (as `nc -u` sends) is a line ending, not an empty line.
        let text = text.trim_end_matches(['\n', '\r']);
        p.messages.push(Message {
            at,
            sent_at,
            text: sanitize(text),
            origin: Origin::Received,
        });
        (id, p.messages.len() - 1)
    }

    /// A message the engine is sending that this chat did not type (`qqchat send` asked the
    /// running chat): shown like one typed here. `None` when it is known already, or when
    /// nobody in the list is `to` (an address never seen gets an entry, as on receipt).
    pub(super) fn outgoing(
        &mut self,
        to: PeerId,
        msg_id: u64,
        text: &str,
        at: Timestamp,
        plain: bool,
    ) -> Option<EntryId> {
        if self.by_msg_id.contains_key(&msg_id) {
            return None;
        }
        let id = match (self.peers.iter().find(|p| p.peer_id() == to), to) {
            (Some(p), _) => p.id,
            (None, PeerId::Addr(addr)) => {
                let id = self.add_stranger(addr, plain);
                self.order();
                id
            }
            (None, PeerId::Key(_)) => return None,
        };
        self.push_own(id, Message::own(at, sanitize(text), msg_id));
        Some(id)
    }

    /// Adds an own message to `id`'s conversation and registers its msg_id.
    pub(super) fn push_own(&mut self, id: EntryId, message: Message) {
        let Some(p) = self.get_mut(id) else { return };
        let msg_id = match message.origin {
            Origin::Own { msg_id, .. } => msg_id,
            Origin::Received | Origin::File { .. } => 0,
        };
        p.messages.push(message);
        let seq = p.seq_at(p.messages.len() - 1);
        self.by_msg_id.insert(msg_id, (id, seq));
    }

    /// The entry the engine means by `peer`, made for an address never seen (as a message
    /// from it would); `None` for a key nobody in the list has.
    pub(super) fn entry_for(&mut self, peer: PeerId) -> Option<EntryId> {
        if let Some(p) = self.peers.iter().find(|p| p.peer_id() == peer) {
            return Some(p.id);
        }
        match peer {
            PeerId::Addr(addr) => {
                if let Some(p) = self.at_addr(addr) {
                    return Some(p.id);
                }
                let id = self.add_stranger(addr, false);
                self.order();
                Some(id)
            }
            PeerId::Key(_) => None,
        }
    }

    /// Adds a file's message to `id`'s conversation; its number there.
    pub(super) fn push_file(&mut self, id: EntryId, message: Message) -> Option<Seq> {
        let p = self.get_mut(id)?;
        p.messages.push(message);
        Some(p.seq_at(p.messages.len() - 1))
    }

    /// Rewrites the text of message `seq` of `id` (a file's, as it moves).
    pub(super) fn set_text(&mut self, id: EntryId, seq: Seq, text: String) {
        let Some(p) = self.get_mut(id) else { return };
        let Some(index) = p.index_of(seq) else { return };
        p.messages[index].text = text;
    }

    /// Presence news for whoever is `peer`.
    pub(super) fn set_online(&mut self, peer: PeerId, online: bool) {
        for p in self.peers.iter_mut().filter(|p| p.peer_id() == peer) {
            set_online(p, online);
        }
    }

    /// Link figures for whoever is `peer`.
    pub(super) fn set_link(&mut self, peer: PeerId, link: Link) {
        for p in self.peers.iter_mut().filter(|p| p.peer_id() == peer) {
            p.link = Some(link);
        }
    }

    /// A keyed contact writes from a new address (through the relay, or not): it is shown
    /// there.
    pub(super) fn set_path(&mut self, peer: PeerId, path: SocketAddr, relayed: bool) {
        if let PeerId::Key(_) = peer {
            for p in self.peers.iter_mut().filter(|p| p.peer_id() == peer) {
                p.addr = path;
                p.relayed = relayed;
            }
        }
    }

    /// Gives an own message a new mark and msg_id, keeping the retryable count and the msg_id
    /// index right: a msg_id is registered while the engine may still report on it.
    pub(super) fn set_mark(&mut self, id: EntryId, seq: Seq, mark: Mark, msg_id: u64) {
        let Some(p) = self.get_mut(id) else { return };
        let Some(index) = p.index_of(seq) else { return };
        let message = &mut p.messages[index];
        let old = match message.origin {
            Origin::Own { mark, msg_id } => Some((mark, msg_id)),
            Origin::Received | Origin::File { .. } => None,
        };
        if old.is_some_and(|(m, _)| m.is_retryable()) {
            p.retryable = p.retryable.saturating_sub(1);
        }
        if mark.is_retryable() {
            p.retryable += 1;
        }
        message.origin = Origin::Own { mark, msg_id };
        if let Some((_, old_tag)) = old
            && old_tag != msg_id
        {
            self.by_msg_id.remove(&old_tag);
        }
        if mark.is_open() {
            self.by_msg_id.insert(msg_id, (id, seq));
        } else {
            self.by_msg_id.remove(&msg_id);
        }
    }

    /// Records the engine's word on a msg_id.
    pub(super) fn settle(&mut self, msg_id: u64, mark: Mark) {
        let Some(&(id, seq)) = self.by_msg_id.get(&msg_id) else {
            return;
        };
        if !mark.is_open() {
            self.by_msg_id.remove(&msg_id);
        }
        self.set_mark(id, seq, mark, msg_id);
    }

    /// Why a contact at `addr` with `key` cannot be added, if it cannot: the address or the
    /// key already belongs to a contact.
    pub(super) fn keyed_contact_problem(
        &self,
        name: &str,
        addrs: &[String],
        key: &PublicKey,
    ) -> Option<String> {
        if let Some(peer) = self
            .peers
            .iter()
            .find(|p| p.public_key.as_ref() == Some(key))
        {
            return Some(format!("That key is already {}'s.", peer.name));
        }
        if self.key_receiver(name, addrs).is_some() {
            return None;
        }
        let peer = self.entry_at(addrs)?;
        if peer.listed {
            return Some(format!(
                "{} is already in contacts as {}; put the key in contacts.toml.",
                display_addr(peer.addr),
                peer.name
            ));
        }
        None
    }

    /// The contact a contact string named `name` at `addrs` gives its key to rather than
    /// being added beside it, by the rules `qqchat add` follows: a contact without a key
    /// and with that name, or else one without a key (and not plain) at one of the addresses.
    pub fn key_receiver(&self, name: &str, addrs: &[String]) -> Option<&Peer> {
        let mut unkeyed = self
            .peers
            .iter()
            .filter(|p| p.listed && p.public_key.is_none());
        if let Some(peer) = unkeyed.clone().find(|p| p.key == *name) {
            return Some(peer);
        }
        let addrs: Vec<SocketAddr> = addrs.iter().filter_map(|a| a.parse().ok()).collect();
        unkeyed.find(|p| !p.plain && addrs.iter().any(|&a| canonical(p.addr) == canonical(a)))
    }

    /// The entry at one of `addrs` (as a contact string writes them), if there is one.
    /// A host name matches nothing: it is resolved when the file is read.
    pub(super) fn entry_at(&self, addrs: &[String]) -> Option<&Peer> {
        addrs
            .iter()
            .filter_map(|a| a.parse().ok())
            .find_map(|a| self.at_addr(a))
    }

    /// Why `name` cannot be given to peer `own` (or to a new entry), if it cannot.
    pub(super) fn name_problem(&self, name: &str, own: Option<EntryId>) -> Option<String> {
        if name.is_empty() {
            return Some("Type a name, or Esc to cancel.".into());
        }
        if ConversationKey::is_address_name(name) {
            return Some(format!(
                "Names starting with {} are kept for addresses.",
                ConversationKey::address_prefix()
            ));
        }
        let key = ConversationKey::contact(name);
        let other = self
            .peers
            .iter()
            .any(|p| Some(p.id) != own && (p.name == name || p.key == key));
        let on_disk = self.known_keys.contains(&key)
            && own.is_none_or(|own| self.get(own).is_none_or(|p| p.key != key));
        if other || on_disk {
            return Some(format!("{name} is already taken."));
        }
        None
    }
}

/// Marks `p` online or offline (so no longer merely reachable), keeping what else was
/// measured.
fn set_online(p: &mut Peer, online: bool) {
    let link = p.link.get_or_insert(Link {
        online: None,
        reachable: false,
        last_seen: None,
        rtt: None,
        loss: 0.0,
    });
    link.online = Some(online);
    link.reachable = false;
}

/// An address as a name: `10.0.0.1:7000` rather than `[::ffff:10.0.0.1]:7000`.
pub(super) fn display_addr(addr: SocketAddr) -> String {
    canonical(addr).to_string()
}
