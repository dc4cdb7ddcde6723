//! The engine's logic with no I/O: commands, datagrams and time in; records to store,
//! datagrams to send and events for the front end out.
//!
//! Like [`proto::Node`](crate::proto::Node) underneath it, [`EngineCore`] never reads a clock,
//! a file or a socket. The driver passes the time of each step in ([`Now`]) and hands it the
//! history read at start, so the outbox, de-duplication across restarts and the order of
//! "stored, then acked" can be tested on a simulated clock, with no sleeps.
//!
//! Its one output, [`Output`], is ordered on purpose: whatever a step asks to store must be
//! on disk before any datagram of that step leaves, because a datagram may be the receipt of
//! a message that is only safe once stored.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jiff::Timestamp;

mod candidates;
mod dht;
mod discovery;
mod files;
mod groups;
mod lan;
mod lan_files;
mod links;
mod outbox;
mod relay;
mod requests;

pub use files::{FileStore, Interrupted, Unsent};
pub use lan::LanOptions;
pub use lan_files::{Fetch, LanFileJob, LanFileReport, OFFER_LIFETIME, RequestHeader};

use super::advice;
use super::api::{Command, EngineEvent, history_key};
use super::ids::IdGen;
use super::limit::too_long;
use super::stun::StunClient;
use super::turn::TurnRelay;
use crate::contacts::Contact;
use crate::proto::{Config, Event, Node, PeerId, Transmit};
use crate::store::{Conversation, ConversationKey, Direction, MessageState, Record};

/// Link figures of one contact go to the front end at most this often.
const LINK_REPORT_EVERY: Duration = Duration::from_secs(1);

/// The moment of one step: the monotonic clock for timers, the wall clock for what is stored
/// and shown. The driver reads both once per step; tests make them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono: Instant,
    pub wall: Timestamp,
}

/// A change to the history that the driver makes durable.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// Add a record to the conversation with this key.
    Append {
        key: ConversationKey,
        record: Record,
    },
    /// A conversation changed its name; its file follows.
    Rename {
        from: ConversationKey,
        to: ConversationKey,
    },
    /// Delete a conversation: a stranger's request dropped to make room.
    Forget { key: ConversationKey },
    /// Add a record to a group's file.
    Group {
        id: crate::proto::group::GroupId,
        record: crate::store::GroupRecord,
    },
}

/// What one step produced, in the order the driver must apply it: `store` written and synced
/// first, then `transmits` handed to the chat socket (`bulk` behind them) and `relayed` to
/// the relay's, then `events` to the front end. A receipt (ack) in any of them is only ever
/// for a message whose record is in `store` of the same step, or was stored by an earlier one.
#[derive(Debug, Default, PartialEq)]
#[must_use]
pub struct Output {
    pub store: Vec<StoreOp>,
    pub transmits: Vec<Transmit>,
    /// File data for the chat socket: it goes after `transmits` and everything queued before
    /// it, never ahead of a message, and there is at most [`EngineCore::set_data_room`] of it.
    pub bulk: Vec<Transmit>,
    /// File data waits for room: the driver steps again when its queue has drained.
    pub data_held: bool,
    /// Datagrams for the TURN server, from the relay's own socket.
    pub relayed: Vec<Transmit>,
    /// IP Messenger datagrams, from the socket on port 2425.
    pub lan: Vec<Transmit>,
    /// Work for the IP Messenger file service (TCP port 2425).
    pub lan_files: Vec<LanFileJob>,
    pub events: Vec<EngineEvent>,
    /// The TURN server refused the relay socket's port (437): the driver closes that socket,
    /// opens one on a new port and hands it over with [`EngineCore::relay_socket`].
    pub new_relay_socket: bool,
    /// What to ask of the DHT client (`[me] dht`): publish our candidates, look a friend up.
    pub dht: Vec<crate::dht::DhtCommand>,
}

/// How the core behaves: [`Options`](super::Options) without the history files.
#[derive(Debug, Clone)]
pub struct CoreOptions {
    pub protocol: Config,
    /// This person's name, given as the creator's in a group they start.
    pub name: String,
    pub contacts: Vec<Contact>,
    /// A message whose retries ran out is queued (the chat) rather than failed (`send`).
    pub queue_failed: bool,
    /// Say hello to the contacts and track their presence.
    pub watch: bool,
    /// Produce records to store. Off when nothing keeps them (the demo's bot, the bench):
    /// a record costs a copy of the text and a formatted address or two per message.
    pub keep_history: bool,
    /// `[me] stun`: the servers asked for the public address, named as written.
    pub stun: Vec<String>,
    /// The socket's own addresses on this host's networks (never `0.0.0.0`): the first
    /// candidates friends are told.
    pub local: Vec<SocketAddr>,
    /// IP Messenger on the LAN, when it is on.
    pub lan: Option<LanOptions>,
    /// `[me] strangers`: what becomes of messages from addresses that are not contacts.
    pub strangers: crate::contacts::Strangers,
    /// The key each contact was first trusted with: a contact is held to it whatever key
    /// its [`Contact`] names, until [`Command::TrustKey`].
    pub trust: crate::store::TrustBook,
    /// A DHT client runs beside the engine (`[me] dht`): publish and look up there.
    pub dht: bool,
}

impl CoreOptions {
    pub fn new(protocol: Config) -> Self {
        CoreOptions {
            protocol,
            name: String::new(),
            contacts: Vec::new(),
            queue_failed: false,
            watch: true,
            keep_history: true,
            strangers: crate::contacts::Strangers::Requests,
            stun: Vec::new(),
            local: Vec::new(),
            lan: None,
            trust: crate::store::TrustBook::default(),
            dht: false,
        }
    }
}

/// An outgoing message the engine may need again: to queue it, or to send it once more.
struct Outgoing {
    to: PeerId,
    text: String,
    sent_at: Timestamp,
}

/// The engine's state: the protocol node, what was received (to show it once), what is owed
/// (the outbox), and what the front end has been told about links.
pub struct EngineCore {
    node: Node,
    ids: Box<dyn IdGen>,
    contacts: Vec<Contact>,
    /// Trusted keys: every contact in `contacts` holds its own (see [`super::hold_keys`]).
    trust: crate::store::TrustBook,
    /// This person's name (see [`CoreOptions::name`]).
    name: String,
    /// Ids of messages received and stored, in this run or an earlier one.
    seen: HashSet<u64>,
    /// Reliable messages not yet delivered, by id.
    unacked: HashMap<u64, Outgoing>,
    /// Messages that fail rather than wait in the outbox when their retries run out.
    never_queue: HashSet<u64>,
    /// Messages about to be sent for a command-line client, to be shown to the front end.
    relayed: HashSet<u64>,
    /// Queued messages per contact, oldest first.
    outbox: HashMap<PeerId, VecDeque<u64>>,
    queue_failed: bool,
    keep_history: bool,
    watch: bool,
    /// Peers whose link figures changed since they were last reported, and when that was.
    link_dirty: HashSet<PeerId>,
    link_reported: HashMap<PeerId, Instant>,
    store: Vec<StoreOp>,
    ui: Vec<EngineEvent>,
    /// The public address: asked of the STUN servers, over this socket.
    stun: StunClient,
    /// The TURN relay of `[me] relay`, over a socket of its own; idle when none is configured.
    relay: TurnRelay,
    /// IP Messenger, over a socket of its own on port 2425; `None` when it is off.
    ipmsg: Option<lan::IpMsg>,
    /// qqchat users discovered on the LAN, by announced name, for when they go.
    neighbours: HashMap<String, PeerId>,
    /// File transfers with each peer, and the files behind them.
    transfers: HashMap<PeerId, crate::proto::transfer::Transfers>,
    /// Where their bytes are read and written: [`files::NoFiles`] until a store is set.
    files: Box<dyn FileStore>,
    /// Files offered and not yet answered.
    offers: HashMap<(PeerId, u64), files::Waiting>,
    /// Transfers under way, as the front end is told of them.
    tracks: HashMap<(PeerId, crate::proto::transfer::FileKey), files::Track>,
    /// What each incoming file was offered as, to know a restarted sender's new offer.
    incoming_offers: HashMap<(PeerId, u64), crate::proto::transfer::Offer>,
    /// Files offered to and by IP Messenger peers.
    lan_files: lan_files::LanFiles,
    /// This run, for the transfers' packet numbers (a restart must not reuse them).
    xfer_session: u32,
    /// The socket's LAN addresses: own candidates, with STUN's, contacts' and the relay's.
    lan: Vec<SocketAddr>,
    /// A public address of this node as a keyed contact last saw it.
    seen_public: Option<SocketAddr>,
    /// Something own candidates come from changed: the protocol is told them again.
    candidates_stale: bool,
    /// File data packets the driver takes in the next step (see [`EngineCore::set_data_room`]).
    data_room: usize,
    /// The last step stopped producing file data for want of room.
    data_held: bool,
    /// Groups this member is in or was invited to.
    groups: groups::Groups,
    /// Conversations with strangers, bounded.
    requests: requests::Requests,
    /// What was published on the DHT, and when unreachable contacts are looked up there.
    dht: dht::DhtState,
}

impl EngineCore {
    /// A core with its own ids for messages that come without one (plain text).
    pub fn new(options: CoreOptions, ids: Box<dyn IdGen>) -> Self {
        // The run's epoch is the wall clock in microseconds: its low bits differ per run.
        let xfer_session = options.protocol.epoch as u32;
        let mut trust = options.trust;
        let mut contacts = options.contacts;
        let _ = super::hold_keys(&mut trust, &mut contacts);
        EngineCore {
            node: Node::new(options.protocol),
            ids,
            contacts,
            trust,
            name: options.name,
            seen: HashSet::new(),
            unacked: HashMap::new(),
            outbox: HashMap::new(),
            queue_failed: options.queue_failed,
            keep_history: options.keep_history,
            never_queue: HashSet::new(),
            relayed: HashSet::new(),
            watch: options.watch,
            link_dirty: HashSet::new(),
            link_reported: HashMap::new(),
            store: Vec::new(),
            ui: Vec::new(),
            stun: StunClient::new(&options.stun),
            relay: TurnRelay::default(),
            ipmsg: options.lan.map(lan::IpMsg::new),
            neighbours: HashMap::new(),
            transfers: HashMap::new(),
            files: Box::new(files::NoFiles),
            offers: HashMap::new(),
            tracks: HashMap::new(),
            incoming_offers: HashMap::new(),
            lan_files: lan_files::LanFiles::default(),
            xfer_session,
            lan: options.local,
            seen_public: None,
            candidates_stale: true,
            data_room: usize::MAX,
            data_held: false,
            groups: groups::Groups::default(),
            requests: requests::Requests::new(options.strangers),
            dht: dht::DhtState::new(options.dht),
        }
    }

    /// Takes the history as read from disk (if it was), and says hello to every contact.
    /// From the history come the ids already received and the messages still owed (when
    /// queueing).
    pub fn start(&mut self, now: Now, history: Option<Vec<Conversation>>) {
        if let Some(conversations) = history {
            self.read_history(conversations);
        }
        self.apply_peers(now, &[]);
        self.lan_start();
        self.restore_files(now);
        for c in self.contacts.iter().filter(|c| speaks_qqchat(c)) {
            if self.watch && !c.plain {
                self.node.watch(now.mono, c.peer_id());
            } else {
                self.node.befriend(now.mono, c.peer_id());
            }
        }
    }

    /// A datagram from the network, on the chat socket.
    /// What comes from a configured STUN server is STUN's alone: checked by source address
    /// before the protocol sees anything, so a peer's text is never taken for STUN.
    pub fn handle_datagram(&mut self, now: Now, from: SocketAddr, bytes: &[u8]) {
        if !self.stun.handle_datagram(now.mono, from, bytes) {
            self.node.handle_datagram(now.mono, from, bytes);
        }
    }

    /// The deadline from [`EngineCore::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Now) {
        self.node.handle_timeout(now.mono);
        self.stun.handle_timeout(now.mono);
        self.relay.handle_timeout(now.mono);
        self.lan_timeout(now);
        self.lan_files_timeout(now);
        self.xfer_timeout(now);
        self.group_timeout(now);
    }

    /// When [`EngineCore::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.node.poll_timeout(),
            self.stun.poll_timeout(),
            self.relay.poll_timeout(),
            self.lan_deadline(),
            self.lan_files_deadline(),
            self.xfer_deadline(),
            self.group_deadline(),
            self.dht_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Says goodbye to every contact, and gives the relay allocation back (so the next run
    /// from this port is not refused with 437); it all comes out of the next
    /// [`EngineCore::poll_output`].
    pub fn goodbye(&mut self, now: Now) {
        self.node.goodbye();
        self.relay.close(now.mono);
        self.lan_goodbye();
    }

    /// A command from the front end. [`Command::Shutdown`] says goodbye.
    pub fn handle_command(&mut self, now: Now, cmd: Command) {
        match cmd {
            Command::Send {
                to,
                text,
                plain,
                id,
            } => self.send(now, to, text, plain, id),
            Command::SendNow { id } => {
                if let Some(o) = self.unacked.get(&id) {
                    let to = o.to;
                    if let Some(q) = self.outbox.get_mut(&to) {
                        q.retain(|&queued| queued != id);
                    }
                    self.transmit(now, id);
                }
            }
            Command::Cancel { id } => self.cancel(id),
            Command::SetContacts(mut contacts) => {
                // Whatever the front end sent, no contact's key changes here unasked.
                let _ = super::hold_keys(&mut self.trust, &mut contacts);
                self.set_contacts(now, contacts);
            }
            Command::TrustKey { name, key } => match key {
                Some(key) => {
                    self.trust.trust(&name, key);
                }
                None => {
                    self.trust.forget(&name);
                }
            },
            Command::RenameHistory { from, to } => {
                // A stranger made a contact is no longer a request.
                self.requests.forget(&from);
                self.store.push(StoreOp::Rename { from, to });
            }
            Command::Ping(peer) => self.node.ping(now.mono, peer),
            Command::Want(peer) => self.node.want(now.mono, peer),
            Command::Relayed { id, queue } => {
                self.relayed.insert(id);
                if !queue {
                    self.never_queue.insert(id);
                }
            }
            Command::StunServers { servers, local } => {
                self.stun.set_servers(now.mono, servers, local);
            }
            Command::CheckReachability => {
                self.stun.refresh(now.mono);
                self.relay.announce();
            }
            Command::RelayServer { server, local } => {
                self.relay.set_server(now.mono, server, local);
                self.relay_peers(now);
            }
            // The driver keeps the subscribers: they are channels, not state of the core.
            Command::Subscribe(_) => {}
            Command::SendFile {
                to,
                id,
                path,
                name,
                manifest,
            } => self.send_file(now, to, id, &path, &name, manifest),
            Command::AcceptFile { from, id, dir } => self.accept_file(now, from, id, &dir),
            Command::DeclineFile { from, id } => self.decline_file(from, id),
            Command::FileAction {
                peer,
                id,
                outgoing,
                action,
            } => self.file_action(now, peer, id, outgoing, action),
            cmd @ (Command::GroupCreate { .. }
            | Command::GroupSend { .. }
            | Command::GroupAdd { .. }
            | Command::GroupRemove { .. }
            | Command::GroupLeave { .. }
            | Command::GroupAnswer { .. }) => self.group_command(now, cmd),
            Command::Shutdown => self.goodbye(now),
        }
    }

    /// Everything this step produced. Protocol events become records and front-end events
    /// first, so a receipt the protocol queued never leaves without its record.
    pub fn poll_output(&mut self, now: Now) -> Output {
        self.take_lan_events(now);
        self.take_events(now);
        let node: Vec<Transmit> = std::iter::from_fn(|| self.node.poll_transmit()).collect();
        let (mut transmits, mut relayed) = (Vec::new(), Vec::new());
        self.route(now, node, &mut transmits, &mut relayed);
        transmits.extend(std::iter::from_fn(|| self.stun.poll_transmit()));
        if let Some(report) = self.stun.poll_report() {
            self.ui.push(EngineEvent::Reachability(report));
            self.candidates_stale = true;
        }
        if let Some(report) = self.relay.poll_report() {
            self.ui.push(EngineEvent::Relay(report));
            self.candidates_stale = true;
        }
        self.refresh_candidates(now);
        // Telling candidates queues datagrams of its own; transfer control after them, and
        // file data last of all, in a list of its own.
        self.xfer_control(now);
        let node: Vec<Transmit> = std::iter::from_fn(|| self.node.poll_transmit()).collect();
        self.route(now, node, &mut transmits, &mut relayed);
        let mut bulk = Vec::new();
        if self.xfer_data(now) {
            let node: Vec<Transmit> = std::iter::from_fn(|| self.node.poll_transmit()).collect();
            self.route(now, node, &mut bulk, &mut relayed);
        }
        self.xfer_report(now);
        Output {
            store: std::mem::take(&mut self.store),
            transmits,
            bulk,
            data_held: self.data_held,
            relayed,
            lan: self.lan_transmits(),
            lan_files: self.lan_file_jobs(),
            events: std::mem::take(&mut self.ui),
            new_relay_socket: self.relay.poll_new_socket(),
            dht: self.dht_commands(now),
        }
    }

    /// How many file data packets the driver's queue to the socket takes now: the next steps
    /// produce no more than that, so a full queue holds file data back here, where congestion
    /// control sees it, rather than in a queue in front of the chat. Unlimited until set.
    pub fn set_data_room(&mut self, packets: usize) {
        self.data_room = packets;
    }

    /// Gives the protocol every contact, with its key and addresses. A contact that left the
    /// file, or whose addresses were edited, is removed first (its sessions go with it).
    fn apply_peers(&mut self, now: Now, old: &[Contact]) {
        for c in old {
            let kept = self
                .contacts
                .iter()
                .any(|n| n.peer_id() == c.peer_id() && n.addrs == c.addrs);
            if !kept {
                self.node.remove_peer(c.peer_id());
            }
        }
        // One call per candidate: the node tries them all and keeps the one that answers.
        for c in self.contacts.iter().filter(|c| speaks_qqchat(c)) {
            for &addr in &c.addrs {
                self.node.add_peer(now.mono, c.peer_id(), addr);
            }
            self.node
                .set_plain_encoding(c.peer_id(), c.encoding.filter(|_| c.plain));
        }
        self.relay_peers(now);
    }

    fn set_contacts(&mut self, now: Now, contacts: Vec<Contact>) {
        if !self.watch {
            for c in contacts.iter().filter(|c| speaks_qqchat(c)) {
                self.node.befriend(now.mono, c.peer_id());
            }
            let old = std::mem::replace(&mut self.contacts, contacts);
            self.apply_peers(now, &old);
            return;
        }
        let old = std::mem::replace(&mut self.contacts, contacts);
        // Keys first, so a hello to a new keyed contact goes over Noise.
        self.apply_peers(now, &old);
        for o in &old {
            let peer = o.peer_id();
            if !self
                .contacts
                .iter()
                .any(|c| c.peer_id() == peer && !c.plain)
            {
                self.node.unwatch(peer);
            }
        }
        for c in self.contacts.iter().filter(|c| speaks_qqchat(c)) {
            let peer = c.peer_id();
            if c.plain {
                self.node.befriend(now.mono, peer);
            } else if !old.iter().any(|o| o.peer_id() == peer && !o.plain) {
                self.node.watch(now.mono, peer);
            }
        }
    }

    fn send(&mut self, now: Now, to: PeerId, text: String, plain: bool, id: u64) {
        // An address that is a keyed peer's (a qqchat found on the LAN, say) means that peer.
        let to = match to {
            PeerId::Addr(addr) if !plain => self.node.keyed_at(addr).unwrap_or(to),
            _ => to,
        };
        // Refused before it is stored: the front ends check first, so this is a last guard.
        if let Some(err) = too_long(&text, self.node.config().max_message) {
            self.ui.push(EngineEvent::Error(err));
            self.ui.push(EngineEvent::Failed { to, id });
            return;
        }
        if self.relayed.remove(&id) {
            self.ui.push(EngineEvent::Outgoing {
                to,
                id,
                text: text.clone(),
                plain,
                at: now.wall,
            });
        }
        if self.keep_history {
            let record = Record::Msg {
                id,
                dir: Direction::Out,
                peer: self.path_of(to).to_string(),
                // Which path delivers it is known only later, and may change on the way.
                path: None,
                at: now.wall,
                sent_at: None,
                text: text.clone(),
                plain,
                state: if plain {
                    MessageState::Sent
                } else {
                    MessageState::Pending
                },
            };
            self.record(to, record);
        }
        if plain {
            self.node.send_plain(to, &text, id);
            return;
        }
        self.unacked.insert(
            id,
            Outgoing {
                to,
                text,
                sent_at: now.wall,
            },
        );
        self.transmit(now, id);
    }

    /// Hands an unacked message to the protocol that reaches its peer.
    fn transmit(&mut self, now: Now, id: u64) {
        let Some(o) = self.unacked.get(&id) else {
            return;
        };
        let (to, text, sent_at) = (o.to, o.text.clone(), o.sent_at);
        let result = if self.is_ipmsg(to) {
            self.lan_send(now, to, &text, id)
        } else if self.unreachable_ipmsg(to) {
            // Never a qqchat datagram to an IP Messenger client.
            Err(Self::IPMSG_OFF.to_owned())
        } else {
            self.node
                .send(now.mono, to, text, sent_at.as_millisecond(), id)
                .map_err(|e| e.to_string())
        };
        if let Err(err) = result {
            self.unacked.remove(&id);
            self.record_state(to, id, MessageState::Failed);
            self.ui.push(EngineEvent::Failed { to, id });
            self.ui.push(EngineEvent::Error(format!("not sent: {err}")));
        }
    }

    /// Where `peer` is written to now, as shown and stored. Only a keyed peer the protocol
    /// was never given an address for has none, and nothing can be sent to it.
    fn path_of(&self, peer: PeerId) -> SocketAddr {
        match (self.node.path(peer), peer) {
            (Some(path), _) => path,
            // An IP Messenger peer, or anyone else known by address alone.
            (None, PeerId::Addr(addr)) => addr,
            (None, PeerId::Key(_)) => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    fn record(&mut self, peer: PeerId, record: Record) {
        if !self.keep_history {
            return;
        }
        let key = history_key(&self.contacts, peer, self.path_of(peer));
        self.store.push(StoreOp::Append { key, record });
    }

    fn record_state(&mut self, peer: PeerId, id: u64, state: MessageState) {
        self.record(peer, Record::State { id, state });
    }

    /// Turns protocol events into records and front-end events.
    fn take_events(&mut self, now: Now) {
        while let Some(event) = self.node.poll_event() {
            self.on_event(now, event);
        }
        self.report_links(now);
    }

    fn on_event(&mut self, now: Now, event: Event) {
        match event {
            Event::Received {
                from,
                path,
                id,
                text,
                sent_at_ms,
                plain,
            } => {
                if !plain && self.group_received(now, from, &text) {
                    self.link_dirty.insert(from);
                    return;
                }
                // Shown and stored once: a message sent again after a restart of either side
                // is acked by the protocol but goes no further.
                if let Some(id) = id
                    && !self.seen.insert(id)
                {
                    return;
                }
                let key = history_key(&self.contacts, from, path);
                // A stranger's message may be over the bounds of the requests.
                if !self.admit(&key, text.len(), now.wall) {
                    return;
                }
                let sent_at = sent_at_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok());
                let kind = self.node.path_kind(path);
                if self.keep_history {
                    let record = Record::Msg {
                        id: id.unwrap_or_else(|| self.ids.next_id()),
                        dir: Direction::In,
                        peer: path.to_string(),
                        path: Some(kind),
                        at: now.wall,
                        sent_at,
                        text: text.clone(),
                        plain,
                        state: MessageState::Received,
                    };
                    self.store.push(StoreOp::Append { key, record });
                }
                self.link_dirty.insert(from);
                self.ui.push(EngineEvent::Received {
                    from,
                    path,
                    kind,
                    id,
                    text,
                    sent_at,
                    received_at: now.wall,
                    plain,
                });
            }
            Event::Delivered { .. } | Event::Failed { .. } if self.group_receipt(&event) => {}
            Event::Delivered { to, id } => {
                self.unacked.remove(&id);
                self.never_queue.remove(&id);
                self.record_state(to, id, MessageState::Delivered);
                self.link_dirty.insert(to);
                self.ui.push(EngineEvent::Delivered { to, id });
            }
            Event::Sent { to, id } => self.ui.push(EngineEvent::Sent { to, id }),
            Event::Failed { to, id } => {
                if self.queue_failed && !self.never_queue.remove(&id) {
                    self.outbox.entry(to).or_default().push_back(id);
                    self.record_state(to, id, MessageState::Queued);
                    self.ui.push(EngineEvent::Queued { to, id });
                } else {
                    self.unacked.remove(&id);
                    self.record_state(to, id, MessageState::Failed);
                    self.ui.push(EngineEvent::Failed { to, id });
                }
            }
            Event::Presence { peer, online } => {
                self.ui.push(EngineEvent::Presence { peer, online });
                self.link_reported.remove(&peer);
                self.link_dirty.insert(peer);
                if online {
                    self.drain_outbox(now, peer);
                    self.group_presence(now, peer);
                }
            }
            Event::Reachable { peer, .. } => {
                self.link_reported.remove(&peer);
                self.link_dirty.insert(peer);
            }
            Event::KeyRefused {
                from,
                offered,
                expected,
            } => {
                let text = advice::key_refused(&self.contacts, from, &offered, expected);
                self.ui.push(EngineEvent::Error(text));
            }
            Event::Trouble { peer, trouble } => {
                let name = history_key(&self.contacts, peer, self.path_of(peer));
                let text = advice::trouble(&name.to_string(), trouble);
                self.ui.push(EngineEvent::Trouble {
                    peer,
                    why: trouble,
                    text,
                });
            }
            Event::Pong { peer, rtt, path } => {
                self.link_reported.remove(&peer);
                self.link_dirty.insert(peer);
                let kind = self.node.path_kind(path);
                self.ui.push(EngineEvent::Pong {
                    peer,
                    rtt,
                    path,
                    kind,
                });
            }
            Event::PathChanged { peer, path } => {
                let relayed = self.node.is_relayed(path);
                self.ui.push(EngineEvent::PathChanged {
                    peer,
                    path,
                    relayed,
                });
            }
            Event::Candidates { peer, addrs } => self.learned_candidates(now, peer, addrs),
            Event::Seen { addr, .. } => self.seen_at(addr),
            Event::Xfer { peer, bytes } => self.on_xfer(now, peer, &bytes),
        }
    }
}

/// Whether the qqchat protocol is for this contact: IP Messenger contacts are never sent a
/// qqchat datagram (their client would show it as garbage), only IP Messenger packets.
fn speaks_qqchat(c: &Contact) -> bool {
    !c.ipmsg
}
