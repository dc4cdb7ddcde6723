//! Someone to talk to, and how far they can be trusted.

use std::net::SocketAddr;

use jiff::tz::TimeZone;

use super::message::{Mark, Message};
use crate::engine::Link;
pub use crate::proto::PathKind;
use crate::proto::{PeerId, PublicKey};
use crate::store::ConversationKey;

/// An entry of the contact list, for as long as the chat runs, whatever its place in the
/// list. Not the protocol's [`PeerId`]: an entry stays the same when its contact gains a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryId(pub(super) u32);

/// A message's number within its peer's conversation: consecutive, and kept when older
/// messages are put before it, so it survives the full history replacing the recent part.
pub type Seq = i64;

/// Someone to talk to: a contact from the book, or an address that wrote to us unasked.
#[derive(Debug, Clone)]
pub struct Peer {
    pub(super) id: EntryId,
    pub(super) name: String,
    /// The conversation its history is kept under: the contact's name as written in the
    /// file, its address, or the name of a contact since removed.
    pub(super) key: ConversationKey,
    /// The path in use: the first candidate until the engine says another answers.
    pub(super) addr: SocketAddr,
    /// Every address the contacts file gives it (one for an entry not in contacts).
    pub(super) candidates: Vec<SocketAddr>,
    pub(super) plain: bool,
    pub(super) listed: bool,
    /// The contact has `mute = true`: its messages neither ring nor notify.
    pub(super) muted: bool,
    /// The contact's public key from the book; `None` for a contact without one and for
    /// every entry not in contacts.
    pub(super) public_key: Option<PublicKey>,
    pub(super) unread: usize,
    pub(super) messages: Vec<Message>,
    /// The [`Seq`] of the first message.
    pub(super) first: Seq,
    /// The last word from the engine on presence and link quality.
    pub(super) link: Option<Link>,
    /// Own messages that are queued or failed, so hints need not scan the history.
    pub(super) retryable: usize,
    /// The path in use goes through the TURN relay.
    pub(super) relayed: bool,
    /// Conversations in the history with messages older than the first shown, read as the
    /// view reaches them: the chat reads only what it shows.
    pub(super) older: Vec<ConversationKey>,
    /// Addresses the contact's record on the DHT gave, last it was found there: the path
    /// is shown "found via DHT" while it goes to one of them.
    pub(super) dht_found: Vec<SocketAddr>,
    /// What was being written to it when another conversation was opened.
    pub(super) draft: String,
    /// A contact spoken to in the IP Messenger protocol (`ipmsg = true`).
    pub(super) ipmsg: bool,
    /// What discovery on this network says of it, while it is (or was, for an entry kept
    /// for its conversation) there. A contact keeps its own name and trust whatever this says.
    pub(super) nearby: Option<Nearby>,
}

/// Someone found on this network, as the list keeps them: the engine's
/// [`Neighbour`](crate::engine::Neighbour) with every text from the network made safe to
/// show and bounded in width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nearby {
    pub(super) peer: PeerId,
    pub(super) name: String,
    pub(super) addr: SocketAddr,
    pub(super) kind: NearbyKind,
    /// False once it said goodbye: an entry with a conversation stays, shown offline.
    pub(super) here: bool,
}

/// What a [`Nearby`] speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NearbyKind {
    /// qqchat, announced over multicast DNS; the announcement proves nothing.
    Qqchat { key: Option<PublicKey> },
    /// An IP Messenger-family client: never encrypted.
    IpMsg {
        /// `IPMsg`, `Feiq` or `iptux`.
        client: &'static str,
        /// The group it gave, made safe; empty for none.
        group: String,
        /// Set itself absent.
        absent: bool,
    },
}

/// The widest a name or group from the network is kept.
const NAME_WIDTH: usize = 32;
const GROUP_WIDTH: usize = 24;

impl Nearby {
    pub(super) fn new(n: &crate::engine::Neighbour) -> Nearby {
        use crate::engine::NeighbourKind;
        use crate::text::short_name;
        let (kind, host) = match &n.kind {
            NeighbourKind::Qqchat { key, .. } => (NearbyKind::Qqchat { key: *key }, None),
            NeighbourKind::IpMsg {
                client,
                group,
                host,
                absent,
            } => (
                NearbyKind::IpMsg {
                    client,
                    group: short_name(group, GROUP_WIDTH),
                    absent: *absent,
                },
                Some(host),
            ),
        };
        // A client that gives no name is called by its host name, else by its address.
        let name = [Some(&n.name), host]
            .into_iter()
            .flatten()
            .map(|text| short_name(text, NAME_WIDTH))
            .find(|name| !name.is_empty())
            .unwrap_or_else(|| crate::proto::canonical(n.addr).to_string());
        Nearby {
            peer: n.peer,
            name,
            addr: n.addr,
            kind,
            here: true,
        }
    }

    /// Whom messages go to.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The name it gave itself, safe to show.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn kind(&self) -> &NearbyKind {
        &self.kind
    }

    /// Still on this network (it has not said goodbye).
    pub fn is_here(&self) -> bool {
        self.here
    }

    /// Speaks IP Messenger, so nothing with it is encrypted.
    pub fn is_ipmsg(&self) -> bool {
        matches!(self.kind, NearbyKind::IpMsg { .. })
    }

    /// The key a qqchat announced, unproven until a session with it.
    pub fn key(&self) -> Option<PublicKey> {
        match self.kind {
            NearbyKind::Qqchat { key } => key,
            NearbyKind::IpMsg { .. } => None,
        }
    }
}

/// The parts of the contact list, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The contacts file's.
    Contacts,
    /// Addresses that wrote unasked, and contacts since removed.
    NotInContacts,
    /// People found on this network who are not contacts.
    OnThisNetwork,
}

impl Peer {
    pub fn id(&self) -> EntryId {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name its history is kept under (a contact's name exactly as in the file).
    pub fn key(&self) -> &ConversationKey {
        &self.key
    }

    /// The address it is reached at (for a keyed contact, the one it last wrote from).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every address it may be reached at, the primary first.
    pub fn candidates(&self) -> &[SocketAddr] {
        &self.candidates
    }

    /// The kind of path in use, for a keyed contact that is online and has several paths
    /// to choose from, or is reached through the relay: which one answered is then worth
    /// showing. `None` otherwise.
    pub fn path_kind(&self) -> Option<PathKind> {
        if !self.is_keyed() || self.online() != Some(true) {
            return None;
        }
        if self.relayed {
            return Some(PathKind::Relay);
        }
        if self.candidates.len() < 2 {
            return None;
        }
        Some(PathKind::of(self.addr, false))
    }

    /// Who it is to the engine: a contact's key, or else its address. An entry not in
    /// contacts has no key, so a contact since removed is its address again.
    pub fn peer_id(&self) -> PeerId {
        match (self.public_key, self.neighbour()) {
            (Some(key), _) => PeerId::Key(key),
            // Someone on this network is who discovery says: a qqchat by its key.
            (None, Some(nearby)) => nearby.peer,
            (None, None) => PeerId::addr(self.addr),
        }
    }

    /// What discovery said of it, when it is listed as someone on this network rather
    /// than as a contact.
    pub fn neighbour(&self) -> Option<&Nearby> {
        self.nearby.as_ref().filter(|_| !self.listed)
    }

    /// Which part of the contact list it is in.
    pub fn part(&self) -> Part {
        if self.listed {
            Part::Contacts
        } else if self.nearby.is_some() {
            Part::OnThisNetwork
        } else {
            Part::NotInContacts
        }
    }

    /// A contact spoken to in the IP Messenger protocol, or someone on this network who
    /// speaks it: nothing with it is encrypted.
    pub fn is_ipmsg(&self) -> bool {
        if self.listed {
            self.ipmsg
        } else {
            self.nearby.as_ref().is_some_and(Nearby::is_ipmsg)
        }
    }

    /// Talks bare UTF-8 without receipts.
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// In `contacts.toml`, rather than an address that wrote first.
    pub fn is_listed(&self) -> bool {
        self.listed
    }

    /// A contact with a public key: everything with it is authenticated and encrypted.
    /// Anyone else (a contact without a key, an address not in contacts) is unverified.
    pub fn is_keyed(&self) -> bool {
        self.public_key.is_some()
    }

    /// Messages received since the conversation was last open.
    pub fn unread(&self) -> usize {
        self.unread
    }

    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Presence and link figures, once the engine has said anything about them.
    pub fn link(&self) -> Option<&Link> {
        self.link.as_ref()
    }

    /// `Some(true)` online, `Some(false)` offline, `None` not known (yet).
    pub fn online(&self) -> Option<bool> {
        self.link.and_then(|l| l.online)
    }

    /// Heard from lately but not confirmed online yet: shown apart from online and offline.
    pub fn reachable(&self) -> bool {
        self.online() != Some(true) && self.link.is_some_and(|l| l.reachable)
    }

    /// Some own message here is queued or failed, so Ctrl-R has something to do.
    pub fn has_retryable(&self) -> bool {
        self.retryable > 0
    }

    /// Whether message `index` is the first of its day, so a day line goes before it.
    pub fn starts_day(&self, tz: &TimeZone, index: usize) -> bool {
        let Some(message) = self.messages.get(index) else {
            return false;
        };
        match index.checked_sub(1).and_then(|i| self.messages.get(i)) {
            Some(previous) => {
                tz.to_datetime(previous.shown_at()).date()
                    != tz.to_datetime(message.shown_at()).date()
            }
            None => true,
        }
    }

    /// The place of message `seq` in [`Peer::messages`], while it is there.
    pub fn index_of(&self, seq: Seq) -> Option<usize> {
        let index = usize::try_from(seq - self.first).ok()?;
        (index < self.messages.len()).then_some(index)
    }

    /// The [`Seq`] of the message at `index`.
    pub fn seq_at(&self, index: usize) -> Seq {
        self.first + index as Seq
    }

    /// The path in use came from the contact's record on the DHT.
    pub fn found_via_dht(&self) -> bool {
        self.dht_found
            .iter()
            .any(|a| crate::proto::canonical(*a) == crate::proto::canonical(self.addr))
    }

    /// Counts the queued and failed messages again, after the messages were replaced.
    pub(super) fn recount(&mut self) {
        self.retryable = self
            .messages
            .iter()
            .filter(|m| m.mark().is_some_and(Mark::is_retryable))
            .count();
    }
}

/// How far a peer can be trusted to be who its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// A contact with a key: its messages are authenticated.
    Keyed,
    /// A keyed contact whose safety number the user compared and marked verified.
    Verified,
    /// A contact whose key the contacts file changed: the key first trusted is still the
    /// one used, until the user accepts the new one (its messages are authenticated by the
    /// old key).
    KeyChanged,
    /// Someone on this network who announced a contact's name with another key than the
    /// contact's: not that contact, whatever it says.
    ClaimsContact,
    /// No key: anyone on the network could be writing under this name.
    Unverified,
    /// No key, and `[me] require_keys` refuses such peers: nothing is sent or taken.
    Refused,
}

impl Trust {
    /// Messages with it are authenticated by a key the user trusts.
    pub fn is_keyed(self) -> bool {
        matches!(self, Trust::Keyed | Trust::Verified | Trust::KeyChanged)
    }
}
