//! Drives a sans-IO [`proto::Node`](crate::proto::Node) from channels and the clock, and
//! keeps the history and the outbox on disk.
//!
//! The engine thread owns the protocol state and the history files. Front ends (the TUI,
//! `send`, `listen`, `bot`, `ping`) talk to it only through [`Command`]s in and
//! [`EngineEvent`]s out, so none of them ever waits on the network and the network never
//! waits on them. Every message is written and synced to its history before it is acked or
//! sent.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};
use jiff::Timestamp;

use crate::contacts::Contact;
use crate::net::{self, Incoming};
use crate::proto::{Config, Event, LinkHealth, Node, Transmit};
use crate::store::{Conversation, Direction, History, MessageState, Record, StoredMessage};

/// What a front end asks the engine to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send `text` to `to`. `tag` is the message's id, from [`new_message_id`]; every later
    /// event about it carries the same tag. `plain` sends bare UTF-8 with no receipt.
    Send {
        to: SocketAddr,
        text: String,
        plain: bool,
        tag: u64,
    },
    /// Send a queued message now instead of waiting to hear from the contact.
    SendNow { tag: u64 },
    /// Drop a queued message.
    Cancel { tag: u64 },
    /// The contacts changed (the file was edited or reloaded).
    SetContacts(Vec<Contact>),
    /// A conversation changed its name (a contact renamed, or an address added as a contact):
    /// its history file follows. Send before the matching `SetContacts`.
    RenameHistory { from: String, to: String },
    /// Probe an address once; the answer comes as [`EngineEvent::Pong`].
    Ping(SocketAddr),
    /// Say goodbye to every contact and stop.
    Shutdown,
}

/// What the engine reports to its front end.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A message arrived, in order and once.
    Received {
        from: SocketAddr,
        /// The sender's id of the message (qqchat peers only).
        id: Option<u64>,
        text: String,
        /// The sender's clock when it was sent (qqchat peers only).
        sent_at: Option<Timestamp>,
        received_at: Timestamp,
        /// True when it came as bare UTF-8 from a plain UDP peer.
        plain: bool,
    },
    /// The peer acknowledged the message with this tag.
    Delivered { to: SocketAddr, tag: u64 },
    /// A plain message was handed to the network; no receipt will follow.
    Sent { to: SocketAddr, tag: u64 },
    /// Retries ran out; the message waits in the outbox for the contact to be heard from.
    Queued { to: SocketAddr, tag: u64 },
    /// The message was given up on and is not queued.
    Failed { to: SocketAddr, tag: u64 },
    /// A queued message was cancelled.
    Cancelled { to: SocketAddr, tag: u64 },
    /// A contact came online or went offline.
    Presence { peer: SocketAddr, online: bool },
    /// The link to a contact was measured again.
    Link { peer: SocketAddr, link: Link },
    /// A ping was answered.
    Pong { peer: SocketAddr, rtt: Duration },
    /// The whole history, read by the engine at start (with [`Options::load_history`]),
    /// before anything that happened since.
    History(Vec<Conversation>),
    /// Something went wrong that the user should see (the history could not be written).
    Error(String),
}

/// Presence and quality of the link to a contact, for the UI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// `None` while the first hello is unanswered.
    pub online: Option<bool>,
    pub last_seen: Option<Timestamp>,
    pub rtt: Option<Duration>,
    /// 0.0 to 1.0.
    pub loss: f32,
}

impl Link {
    fn from_health(h: LinkHealth, now: Instant, wall: Timestamp) -> Self {
        let last_seen = h.last_heard.and_then(|t| {
            let ago = jiff::SignedDuration::try_from(now.saturating_duration_since(t)).ok()?;
            wall.checked_sub(ago).ok()
        });
        Link {
            online: h.online,
            last_seen,
            rtt: h.rtt,
            loss: h.loss,
        }
    }
}

/// How the engine starts.
pub struct Options {
    pub protocol: Config,
    /// Contacts: their presence is watched and their history kept under their names.
    pub contacts: Vec<Contact>,
    /// Where messages are kept; `None` keeps nothing (the demo's bot, some tests).
    pub history: Option<History>,
    /// Whether a message whose retries ran out is queued (the chat) or failed (`send`).
    pub queue_failed: bool,
    /// Say hello to the contacts and track their presence.
    pub watch: bool,
    /// Read the whole history at start, in the engine thread: ids already received (shown
    /// once), messages still owed (the outbox, when `queue_failed`), and the conversations
    /// for the front end ([`EngineEvent::History`]). Start-up does not wait for it.
    pub load_history: bool,
}

impl Options {
    pub fn new(protocol: Config) -> Self {
        Options {
            protocol,
            contacts: Vec::new(),
            history: None,
            queue_failed: false,
            watch: true,
            load_history: false,
        }
    }
}

/// The front end's side of a running engine.
pub struct EngineHandle {
    pub commands: Sender<Command>,
    pub events: Receiver<EngineEvent>,
    /// The address the socket is bound to.
    pub local_addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl EngineHandle {
    /// Says goodbye to the contacts and waits until that has left the socket.
    pub fn shutdown(mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A fresh message id: unique for this sender across restarts, by mixing the wall clock at
/// start, the process id and a counter.
pub fn new_message_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let micros = Timestamp::now().as_microsecond() as u64;
        micros ^ (u64::from(std::process::id()) << 40)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    splitmix64(seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A protocol config for this run: its epoch is the wall clock in microseconds, so transport
/// ids never repeat across restarts.
pub fn default_config() -> Config {
    let micros = Timestamp::now().as_microsecond();
    Config::new(u64::try_from(micros).unwrap_or(1))
}

/// The history key of an address: the contact's name, or `addr-<ip:port>`.
pub fn history_key(contacts: &[Contact], addr: SocketAddr) -> String {
    contacts
        .iter()
        .find(|c| same_addr(c.addr, addr))
        .map_or_else(|| format!("addr-{addr}"), |c| c.name.clone())
}

/// The address a history key stands for: a contact's, or the one in `addr-<ip:port>`.
pub fn key_addr(contacts: &[Contact], key: &str) -> Option<SocketAddr> {
    contacts
        .iter()
        .find(|c| c.name == key)
        .map(|c| c.addr)
        .or_else(|| key.strip_prefix("addr-")?.parse().ok())
}

/// Equal addresses, counting an IPv4-mapped IPv6 address as its IPv4 self.
pub fn same_addr(a: SocketAddr, b: SocketAddr) -> bool {
    fn canon(a: SocketAddr) -> SocketAddr {
        match a {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(v4.into(), v6.port()),
                None => a,
            },
            SocketAddr::V4(_) => a,
        }
    }
    canon(a) == canon(b)
}

/// Starts the engine, receiver and sender threads on a bound socket.
pub fn spawn(socket: UdpSocket, options: Options) -> io::Result<EngineHandle> {
    let local_addr = socket.local_addr()?;
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
    // Bounded: a flood fills this and is dropped at the door instead of growing memory.
    let (net_tx, net_rx) = crossbeam_channel::bounded(8192);
    let (out_tx, out_rx) = crossbeam_channel::unbounded();
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = net::spawn_receiver(socket.try_clone()?, net_tx, Arc::clone(&stop))?;
    let sender = net::spawn_sender(socket, out_rx)?;
    let mut engine = Engine::new(options, out_tx, ev_tx);
    let thread = thread::Builder::new()
        .name("qqchat-engine".into())
        .spawn(move || {
            engine.start();
            engine.run(&cmd_rx, &net_rx);
            drop(engine);
            let _ = sender.join();
            stop.store(true, Ordering::Relaxed);
            // Wake the receiver from recv_from so it sees `stop` and the socket closes.
            let wake = net::wake_addr(local_addr);
            if let Ok(s) = UdpSocket::bind(SocketAddr::new(wake.ip(), 0)) {
                let _ = s.send_to(&[], wake);
            }
            // Once the receiver has let go of the socket its port is free for a restart.
            let _ = receiver.join();
        })?;
    Ok(EngineHandle {
        commands: cmd_tx,
        events: ev_rx,
        local_addr,
        thread: Some(thread),
    })
}

/// An outgoing message the engine may need again: to queue it, or to send it once more.
struct Outgoing {
    to: SocketAddr,
    text: String,
    sent_at: Timestamp,
}

struct Engine {
    node: Node,
    out: Sender<Transmit>,
    events: Sender<EngineEvent>,
    contacts: Vec<Contact>,
    history: Option<History>,
    seen: HashSet<u64>,
    /// Reliable messages not yet delivered, by id.
    unacked: HashMap<u64, Outgoing>,
    /// Queued messages per contact, oldest first.
    outbox: HashMap<SocketAddr, VecDeque<u64>>,
    queue_failed: bool,
    watch: bool,
    load_history: bool,
    /// Peers whose link figures changed since they were last reported, and when that was.
    link_dirty: HashSet<SocketAddr>,
    link_reported: HashMap<SocketAddr, Instant>,
    ui: Vec<EngineEvent>,
}

impl Engine {
    fn new(options: Options, out: Sender<Transmit>, events: Sender<EngineEvent>) -> Self {
        Engine {
            node: Node::new(options.protocol),
            out,
            events,
            contacts: options.contacts,
            history: options.history,
            seen: HashSet::new(),
            unacked: HashMap::new(),
            outbox: HashMap::new(),
            queue_failed: options.queue_failed,
            watch: options.watch,
            load_history: options.load_history,
            link_dirty: HashSet::new(),
            link_reported: HashMap::new(),
            ui: Vec::new(),
        }
    }

    /// Puts messages owed from an earlier run in the outbox.
    fn owe(&mut self, outbox: Vec<(SocketAddr, StoredMessage)>) {
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
            self.ui.push(EngineEvent::Queued { to, tag: msg.id });
        }
    }

    /// Reads the whole history: what was received (to show it once), what is owed.
    fn read_history(&mut self) {
        let Some(history) = self.history.as_ref() else {
            return;
        };
        let conversations = match history.conversations(u64::MAX) {
            Ok(c) => c,
            Err(err) => {
                self.ui.push(EngineEvent::Error(err.to_string()));
                return;
            }
        };
        let received = conversations
            .iter()
            .flat_map(|c| &c.messages)
            .filter(|m| m.dir == Direction::In)
            .map(|m| m.id);
        self.seen.extend(received);
        let mut owed = Vec::new();
        if self.queue_failed {
            for c in &conversations {
                let Some(addr) = key_addr(&self.contacts, &c.key) else {
                    continue;
                };
                owed.extend(
                    c.messages
                        .iter()
                        .filter(|m| m.dir == Direction::Out && !m.plain && m.state.is_undelivered())
                        .map(|m| (addr, m.clone())),
                );
            }
        }
        // The conversations first, then the outbox's events about them.
        self.ui.push(EngineEvent::History(conversations));
        self.owe(owed);
    }

    /// Gives the protocol every contact's key.
    fn apply_keys(&mut self, old: &[Contact]) {
        for c in old {
            if !self.contacts.iter().any(|n| n.addr == c.addr) {
                self.node.set_key(c.addr, None);
            }
        }
        for c in &self.contacts {
            self.node.set_key(c.addr, c.key);
        }
    }

    /// Reads the history and says hello to every contact.
    fn start(&mut self) {
        if self.load_history {
            self.read_history();
        }
        self.apply_keys(&[]);
        let now = Instant::now();
        for c in &self.contacts {
            if self.watch && !c.plain {
                self.node.watch(now, c.addr);
            } else {
                self.node.befriend(now, c.addr);
            }
        }
        self.flush();
    }

    fn run(&mut self, commands: &Receiver<Command>, net: &Receiver<Incoming>) {
        loop {
            let timer = match self.node.poll_timeout() {
                Some(deadline) => crossbeam_channel::at(deadline),
                None => crossbeam_channel::never(),
            };
            select! {
                recv(commands) -> cmd => match cmd {
                    Ok(Command::Shutdown) | Err(_) => break,
                    Ok(cmd) => self.command(cmd),
                },
                recv(net) -> incoming => match incoming {
                    Ok(incoming) => {
                        let now = Instant::now();
                        self.node.handle_datagram(now, incoming.from, &incoming.bytes);
                        // Take whatever else already arrived: acks and fsyncs go out batched.
                        for incoming in net.try_iter().take(1024) {
                            self.node.handle_datagram(now, incoming.from, &incoming.bytes);
                        }
                    }
                    Err(_) => break,
                },
                recv(timer) -> _ => self.node.handle_timeout(Instant::now()),
            }
            if !self.flush() {
                break;
            }
        }
        self.node.goodbye();
        self.flush();
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Send {
                to,
                text,
                plain,
                tag,
            } => self.send(to, text, plain, tag),
            Command::SendNow { tag } => {
                if let Some(o) = self.unacked.get(&tag) {
                    let to = o.to;
                    if let Some(q) = self.outbox.get_mut(&to) {
                        q.retain(|&id| id != tag);
                    }
                    self.transmit(tag);
                }
            }
            Command::Cancel { tag } => {
                let queued = self
                    .unacked
                    .get(&tag)
                    .is_some_and(|o| self.outbox.get(&o.to).is_some_and(|q| q.contains(&tag)));
                if queued && let Some(o) = self.unacked.remove(&tag) {
                    if let Some(q) = self.outbox.get_mut(&o.to) {
                        q.retain(|&id| id != tag);
                    }
                    self.record_state(o.to, tag, MessageState::Cancelled);
                    self.ui.push(EngineEvent::Cancelled { to: o.to, tag });
                }
            }
            Command::SetContacts(contacts) if !self.watch => {
                let now = Instant::now();
                for c in &contacts {
                    self.node.befriend(now, c.addr);
                }
                let old = std::mem::replace(&mut self.contacts, contacts);
                self.apply_keys(&old);
            }
            Command::SetContacts(contacts) => {
                let now = Instant::now();
                let old = std::mem::replace(&mut self.contacts, contacts);
                // Keys first, so a hello to a new keyed contact goes over Noise.
                self.apply_keys(&old);
                for o in &old {
                    if !self.contacts.iter().any(|c| c.addr == o.addr && !c.plain) {
                        self.node.unwatch(o.addr);
                    }
                }
                for c in &self.contacts {
                    if c.plain {
                        self.node.befriend(now, c.addr);
                    } else if !old.iter().any(|o| o.addr == c.addr && !o.plain) {
                        self.node.watch(now, c.addr);
                    }
                }
            }
            Command::RenameHistory { from, to } => {
                if let Some(h) = self.history.as_mut()
                    && let Err(err) = h.rename(&from, &to)
                {
                    self.ui.push(EngineEvent::Error(err.to_string()));
                }
            }
            Command::Ping(addr) => self.node.ping(Instant::now(), addr),
            Command::Shutdown => {}
        }
    }

    fn send(&mut self, to: SocketAddr, text: String, plain: bool, tag: u64) {
        let now = Timestamp::now();
        let record = Record::Msg {
            id: tag,
            dir: Direction::Out,
            peer: to.to_string(),
            at: now,
            sent_at: None,
            text: text.clone(),
            plain,
            state: if plain {
                MessageState::Sent
            } else {
                MessageState::Pending
            },
        };
        self.record(to, &record);
        if plain {
            self.node.send_plain(to, &text, tag);
            return;
        }
        self.unacked.insert(
            tag,
            Outgoing {
                to,
                text,
                sent_at: now,
            },
        );
        self.transmit(tag);
    }

    /// Hands an unacked message to the protocol.
    fn transmit(&mut self, tag: u64) {
        let Some(o) = self.unacked.get(&tag) else {
            return;
        };
        let result = self.node.send(
            Instant::now(),
            o.to,
            o.text.clone(),
            o.sent_at.as_millisecond(),
            tag,
        );
        if let Err(err) = result {
            let to = o.to;
            self.unacked.remove(&tag);
            self.record_state(to, tag, MessageState::Failed);
            self.ui.push(EngineEvent::Failed { to, tag });
            self.ui.push(EngineEvent::Error(format!("not sent: {err}")));
        }
    }

    /// Sends the outbox of a contact that was just heard from, oldest first.
    fn drain_outbox(&mut self, peer: SocketAddr) {
        let Some(queue) = self.outbox.remove(&peer) else {
            return;
        };
        for tag in queue {
            self.transmit(tag);
        }
    }

    fn record(&mut self, peer: SocketAddr, record: &Record) {
        if let Some(h) = self.history.as_mut() {
            h.append(&history_key(&self.contacts, peer), record);
        }
    }

    fn record_state(&mut self, peer: SocketAddr, id: u64, state: MessageState) {
        self.record(peer, &Record::State { id, state });
    }

    /// Turns protocol events into history records and front-end events.
    fn take_events(&mut self) {
        let now = Instant::now();
        while let Some(event) = self.node.poll_event() {
            match event {
                Event::Received {
                    from,
                    id,
                    text,
                    sent_at_ms,
                    plain,
                } => {
                    if let Some(id) = id
                        && !self.seen.insert(id)
                    {
                        continue;
                    }
                    let received_at = Timestamp::now();
                    let sent_at = sent_at_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok());
                    let record = Record::Msg {
                        id: id.unwrap_or_else(new_message_id),
                        dir: Direction::In,
                        peer: from.to_string(),
                        at: received_at,
                        sent_at,
                        text: text.clone(),
                        plain,
                        state: MessageState::Received,
                    };
                    self.record(from, &record);
                    self.link_dirty.insert(from);
                    self.ui.push(EngineEvent::Received {
                        from,
                        id,
                        text,
                        sent_at,
                        received_at,
                        plain,
                    });
                }
                Event::Delivered { to, id } => {
                    self.unacked.remove(&id);
                    self.record_state(to, id, MessageState::Delivered);
                    self.link_dirty.insert(to);
                    self.ui.push(EngineEvent::Delivered { to, tag: id });
                }
                Event::Sent { to, id } => self.ui.push(EngineEvent::Sent { to, tag: id }),
                Event::Failed { to, id } => {
                    if self.queue_failed {
                        self.outbox.entry(to).or_default().push_back(id);
                        self.record_state(to, id, MessageState::Queued);
                        self.ui.push(EngineEvent::Queued { to, tag: id });
                    } else {
                        self.unacked.remove(&id);
                        self.record_state(to, id, MessageState::Failed);
                        self.ui.push(EngineEvent::Failed { to, tag: id });
                    }
                }
                Event::Presence { peer, online } => {
                    self.ui.push(EngineEvent::Presence { peer, online });
                    self.link_reported.remove(&peer);
                    self.link_dirty.insert(peer);
                    if online {
                        self.drain_outbox(peer);
                    }
                }
                Event::KeyRefused {
                    from,
                    offered,
                    expected,
                } => {
                    let offered = crate::identity::encode_key(&offered);
                    let text = match expected {
                        Some((addr, key)) => {
                            let name = history_key(&self.contacts, addr);
                            format!(
                                "REFUSED: {from} claimed to be {name} with another key ({offered}), \
                                 not the one in your contacts ({}). If {name} really made a new \
                                 identity, put the new key in contacts.toml; if not, someone is \
                                 impersonating {name}.",
                                crate::identity::encode_key(&key)
                            )
                        }
                        None => format!(
                            "refused a handshake from {from}: its key {offered} is in none of \
                             your contacts (add it with qqchat add)"
                        ),
                    };
                    self.ui.push(EngineEvent::Error(text));
                }
                Event::Pong { peer, rtt } => {
                    self.link_reported.remove(&peer);
                    self.link_dirty.insert(peer);
                    self.ui.push(EngineEvent::Pong { peer, rtt });
                }
            }
        }
        // Link figures of contacts, at most once a second per contact, so a busy chat does not
        // flood the UI.
        let wall = Timestamp::now();
        let contacts = &self.contacts;
        self.link_dirty.retain(|peer| {
            contacts
                .iter()
                .any(|c| !c.plain && same_addr(c.addr, *peer))
        });
        let dirty: Vec<SocketAddr> = self.link_dirty.iter().copied().collect();
        for peer in dirty {
            let due = self
                .link_reported
                .get(&peer)
                .is_none_or(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1));
            if !due {
                continue;
            }
            self.link_dirty.remove(&peer);
            if let Some(health) = self.node.link(peer) {
                self.link_reported.insert(peer, now);
                self.ui.push(EngineEvent::Link {
                    peer,
                    link: Link::from_health(health, now, wall),
                });
            }
        }
    }

    /// Commits the history, then lets transmits (acks included) and events out; false once
    /// the front end has gone.
    fn flush(&mut self) -> bool {
        self.take_events();
        if let Some(h) = self.history.as_mut()
            && h.has_pending()
            && let Err(err) = h.commit()
        {
            self.ui.push(EngineEvent::Error(err.to_string()));
        }
        while let Some(t) = self.node.poll_transmit() {
            let _ = self.out.send(t);
        }
        for event in self.ui.drain(..) {
            if self.events.send(event).is_err() {
                return false;
            }
        }
        true
    }
}
