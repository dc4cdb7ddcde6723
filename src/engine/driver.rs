//! The engine thread: the only part of the engine that touches channels, the history files
//! and the clock. It reads the time once per step, feeds [`EngineCore`] and applies what comes
//! out, committing the history before anything of the same step reaches the network.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, select};
use jiff::Timestamp;

use super::advice;
use super::api::{Command, EngineEvent, EngineHandle, Options};
use super::core::{CoreOptions, EngineCore, Now, Output, StoreOp};
use super::ids::ProcessIds;
use super::lan_files;
use super::stun::StunServer;
use super::turn::RelayServer;
use crate::net::{self, Incoming};
use crate::proto::group::GroupId;
use crate::proto::{Config, Transmit};
use crate::store::{ConversationKey, GroupRecord, History, Record, StoreError};

/// Datagrams taken in one step after the first: their receipts and fsyncs are batched.
const BATCH: usize = 1024;

/// A protocol config for this run: its epoch is the wall clock in microseconds, so transport
/// ids never repeat across restarts.
pub fn default_config() -> Config {
    let micros = Timestamp::now().as_microsecond();
    Config::new(u64::try_from(micros).unwrap_or(1))
}

/// Starts the engine, receiver and sender threads on a bound socket.
pub fn spawn(socket: UdpSocket, options: Options) -> io::Result<EngineHandle> {
    let local_addr = socket.local_addr()?;
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
    // Bounded: a flood fills this and is dropped at the door instead of growing memory.
    let (net_tx, net_rx) = crossbeam_channel::bounded(8192);
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = net::spawn_receiver(socket.try_clone()?, net_tx, Arc::clone(&stop))?;
    let (out, sender) = net::spawn_sender(socket)?;
    let (load_history, load_groups) = (options.load_history, options.load_groups);
    if !options.stun.is_empty() {
        resolve_stun(options.stun.clone(), local_addr, cmd_tx.clone())?;
    }
    // The relay allocates from a socket of its own, so a refused port (437) can be left for
    // a new one without moving the chat port contacts know.
    let relay = match options.relay {
        Some(server) => {
            let side = net::SideSocket::open(local_addr.ip())?;
            resolve_relay(server, side.local, cmd_tx.clone())?;
            Some(side)
        }
        None => None,
    };
    // IP Messenger clients all use one port: when another one on this machine holds it,
    // qqchat's own chat goes on without IP Messenger, and says so.
    let mut lan_trouble = None;
    let mut lan_files = None;
    let (lan, lan_options) = match options.lan {
        Some(lan) => match net::SideSocket::open_at(
            SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), lan.port),
            true,
        ) {
            Ok(side) => {
                let (service, err) = lan_files::FileService::start(lan.port);
                if let Some(err) = err {
                    lan_trouble = Some(EngineEvent::Error(format!(
                        "IP Messenger files cannot be offered: TCP port {} is taken: {err}",
                        lan.port
                    )));
                }
                lan_files = Some(service);
                (Some(side), Some(lan))
            }
            Err(err) => {
                lan_trouble = Some(EngineEvent::Error(advice::lan_port(lan.port, &err)));
                (None, None)
            }
        },
        None => (None, None),
    };
    let discovery = options.discovery.map(crate::lan::Lan::start);
    let dht = options.dht.map(crate::dht::Dht::start);
    let mut core = EngineCore::new(
        CoreOptions {
            protocol: options.protocol,
            name: options.name,
            contacts: options.contacts,
            queue_failed: options.queue_failed,
            watch: options.watch,
            keep_history: options.history.is_some(),
            stun: options.stun,
            strangers: options.strangers,
            local: own_lan(local_addr),
            lan: lan_options,
            trust: options.trust,
            dht: dht.is_some(),
        },
        Box::new(ProcessIds),
    );
    if let Some(files) = options.files {
        core.set_files(files);
    }
    let mut driver = Driver {
        core,
        history: options.history,
        out,
        relay,
        lan,
        lan_files,
        discovery,
        dht,
        events: ev_tx,
        subscribers: Vec::new(),
    };
    let thread = thread::Builder::new()
        .name("qqchat-engine".into())
        .spawn(move || {
            driver.start(load_history, load_groups, lan_trouble);
            driver.run(&cmd_rx, &net_rx);
            drop(driver);
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

/// The socket's address on this host's network: its own, or for one bound to every
/// interface, the address of the one that routes outwards.
fn own_lan(local: SocketAddr) -> Vec<SocketAddr> {
    if !local.ip().is_unspecified() {
        return vec![local];
    }
    net::outbound_ip(local)
        .map(|ip| SocketAddr::new(ip, local.port()))
        .into_iter()
        .collect()
}

/// Resolves the STUN servers' names on a thread of their own, so a slow or absent resolver
/// never holds up the chat, and hands the addresses to the engine. An IPv4 socket can only
/// reach IPv4 servers.
fn resolve_stun(
    names: Vec<String>,
    local: SocketAddr,
    commands: Sender<Command>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("qqchat-stun-resolve".into())
        .spawn(move || {
            let servers = names
                .into_iter()
                .map(|name| StunServer {
                    addr: resolve_for(&name, local),
                    name,
                })
                .collect();
            let _ = commands.send(Command::StunServers { servers, local });
        })?;
    Ok(())
}

/// The first address of `name` that a socket bound at `local` can send to (an IPv4 socket
/// cannot reach an IPv6 server).
fn resolve_for(name: &str, local: SocketAddr) -> Option<SocketAddr> {
    name.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.find(|a| local.is_ipv6() || a.is_ipv4()))
}

/// Resolves the TURN server's name off the engine thread, as [`resolve_stun`] does.
fn resolve_relay(
    mut server: RelayServer,
    local: SocketAddr,
    commands: Sender<Command>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("qqchat-relay-resolve".into())
        .spawn(move || {
            server.addr = resolve_for(&server.name, local);
            let _ = commands.send(Command::RelayServer { server, local });
        })?;
    Ok(())
}

/// The engine's clock: the one place it is read.
fn now() -> Now {
    Now {
        mono: Instant::now(),
        wall: Timestamp::now(),
    }
}

/// Where records go. The history files in production; a log in the tests of [`apply`].
pub(crate) trait Store {
    /// Queues a record for the next commit.
    fn append(&mut self, key: &ConversationKey, record: &Record);
    /// Queues a record of a group for the next commit.
    fn append_group(&mut self, id: GroupId, record: &GroupRecord);
    /// Deletes a conversation, committing what is queued first.
    fn forget(&mut self, key: &ConversationKey) -> Result<(), StoreError>;
    /// Renames a conversation, committing what is queued first.
    fn rename(&mut self, from: &ConversationKey, to: &ConversationKey) -> Result<(), StoreError>;
    /// Writes and syncs everything queued.
    fn commit(&mut self) -> Result<(), StoreError>;
}

impl Store for History {
    fn append(&mut self, key: &ConversationKey, record: &Record) {
        History::append(self, key, record);
    }

    fn append_group(&mut self, id: GroupId, record: &GroupRecord) {
        History::append_group(self, id, record);
    }

    fn rename(&mut self, from: &ConversationKey, to: &ConversationKey) -> Result<(), StoreError> {
        History::rename(self, from, to)
    }

    fn forget(&mut self, key: &ConversationKey) -> Result<(), StoreError> {
        History::forget(self, key)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.has_pending() {
            History::commit(self)
        } else {
            Ok(())
        }
    }
}

/// Which socket a datagram leaves from, and for the chat socket, in which lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Chat,
    /// The chat socket, behind everything else: file data.
    Bulk,
    Relay,
    Lan,
}

/// Applies one step's output in the order that keeps promises: records written and synced,
/// then datagrams (receipts included) handed to the senders, then events to the front end.
/// A store that fails is reported to the user and does not hold the datagrams back: the peer
/// would only retry, and presence would fail with it. False once the front end has gone.
pub(crate) fn apply<S: Store>(
    output: Output,
    store: Option<&mut S>,
    mut send: impl FnMut(Transmit, Via),
    mut emit: impl FnMut(EngineEvent) -> bool,
) -> bool {
    let Output {
        store: ops,
        transmits,
        bulk,
        data_held: _,
        relayed,
        lan,
        lan_files: _,
        mut events,
        new_relay_socket: _,
        dht: _,
    } = output;
    if let Some(store) = store {
        let mut errors = Vec::new();
        let mut appended = false;
        for op in ops {
            match op {
                StoreOp::Append { key, record } => {
                    store.append(&key, &record);
                    appended = true;
                }
                StoreOp::Rename { from, to } => {
                    if let Err(err) = store.rename(&from, &to) {
                        errors.push(EngineEvent::Error(err.to_string()));
                    }
                }
                StoreOp::Forget { key } => {
                    if let Err(err) = store.forget(&key) {
                        errors.push(EngineEvent::Error(err.to_string()));
                    }
                }
                StoreOp::Group { id, record } => {
                    store.append_group(id, &record);
                    appended = true;
                }
            }
        }
        if appended && let Err(err) = store.commit() {
            errors.push(EngineEvent::Error(err.to_string()));
        }
        events.extend(errors);
    }
    for t in transmits {
        send(t, Via::Chat);
    }
    for t in bulk {
        send(t, Via::Bulk);
    }
    for t in relayed {
        send(t, Via::Relay);
    }
    for t in lan {
        send(t, Via::Lan);
    }
    events.into_iter().all(&mut emit)
}

/// How many of the last messages received are remembered at start, so that one a peer sends
/// again (its ack was lost as this one stopped) is shown once. The store keeps each once
/// whatever their number.
const REMEMBERED_RECEIVED: usize = 10_000;

/// The engine thread's state: the core and the I/O it drives.
struct Driver {
    core: EngineCore,
    history: Option<History>,
    /// The chat socket's sender thread: chat first, file data in a short lane behind it.
    out: net::Outbound,
    /// The TURN relay's socket, when a relay is configured.
    relay: Option<net::SideSocket>,
    /// IP Messenger's socket on port 2425, when that is on.
    lan: Option<net::SideSocket>,
    /// Files with IP Messenger peers over TCP port 2425, beside that socket.
    lan_files: Option<lan_files::FileService>,
    /// Multicast DNS discovery; dropping it withdraws the announcement.
    discovery: Option<crate::lan::Lan>,
    /// The Mainline DHT client of `[me] dht`; dropping it stops it.
    dht: Option<crate::dht::Dht>,
    events: Sender<EngineEvent>,
    /// Extra listeners ([`Command::Subscribe`]): control-socket clients following their work.
    subscribers: Vec<Sender<EngineEvent>>,
}

impl Driver {
    /// Reads the history (when asked) and says hello to every contact.
    fn start(&mut self, load_history: bool, load_groups: bool, trouble: Option<EngineEvent>) {
        let mut loaded = None;
        let mut error = None;
        if load_history && let Some(history) = self.history.as_ref() {
            match history.requests() {
                Ok(kept) => self.core.load_requests(kept),
                Err(err) => error = Some(EngineEvent::Error(err.to_string())),
            }
            match history.startup(REMEMBERED_RECEIVED) {
                Ok(c) => loaded = Some(c),
                Err(err) => error = Some(EngineEvent::Error(err.to_string())),
            }
        }
        // Also for a one-off `send` to a group, which reads no history.
        if load_groups && let Some(history) = self.history.as_ref() {
            match history.groups() {
                Ok(groups) => self.core.load_groups(groups),
                Err(err) => error = Some(EngineEvent::Error(err.to_string())),
            }
        }
        let now = now();
        self.core.start(now, loaded);
        self.core.set_data_room(self.out.room());
        let mut output = self.core.poll_output(now);
        output.events.extend(error);
        output.events.extend(trouble);
        self.apply(output);
    }

    fn run(&mut self, commands: &Receiver<Command>, net: &Receiver<Incoming>) {
        let mut stopping = false;
        while !stopping {
            let timer = match self.core.poll_timeout() {
                Some(deadline) => crossbeam_channel::at(deadline),
                None => crossbeam_channel::never(),
            };
            let relayed = self
                .relay
                .as_ref()
                .map_or_else(crossbeam_channel::never, |r| r.incoming.clone());
            let lan = self
                .lan
                .as_ref()
                .map_or_else(crossbeam_channel::never, |l| l.incoming.clone());
            let files = self
                .lan_files
                .as_ref()
                .map_or_else(crossbeam_channel::never, |f| f.reports.clone());
            let found = self
                .discovery
                .as_ref()
                .map_or_else(crossbeam_channel::never, |d| d.events().clone());
            let dht = self
                .dht
                .as_ref()
                .map_or_else(crossbeam_channel::never, |d| d.events().clone());
            let now = select! {
                recv(commands) -> cmd => match cmd {
                    Ok(Command::Shutdown) | Err(_) => break,
                    Ok(Command::Subscribe(tx)) => {
                        self.subscribers.push(tx);
                        continue;
                    }
                    Ok(cmd) => {
                        let now = now();
                        self.core.handle_command(now, cmd);
                        // Take whatever else was asked already: a burst of messages (a
                        // paste, a script's `send`) is written in one commit, one fsync,
                        // rather than one each.
                        for cmd in commands.try_iter().take(BATCH) {
                            match cmd {
                                Command::Shutdown => {
                                    stopping = true;
                                    break;
                                }
                                Command::Subscribe(tx) => self.subscribers.push(tx),
                                cmd => self.core.handle_command(now, cmd),
                            }
                        }
                        now
                    }
                },
                recv(net) -> incoming => match incoming {
                    Ok(incoming) => {
                        let now = now();
                        self.core.handle_datagram(now, incoming.from, &incoming.bytes);
                        // Take whatever else already arrived: acks and fsyncs go out batched.
                        for incoming in net.try_iter().take(BATCH) {
                            self.core.handle_datagram(now, incoming.from, &incoming.bytes);
                        }
                        now
                    }
                    Err(_) => break,
                },
                recv(relayed) -> incoming => match incoming {
                    Ok(incoming) => {
                        let now = now();
                        self.core.handle_relay_datagram(now, incoming.from, &incoming.bytes);
                        for incoming in relayed.try_iter().take(BATCH) {
                            self.core.handle_relay_datagram(now, incoming.from, &incoming.bytes);
                        }
                        now
                    }
                    // Its receiver is gone: the relay goes quiet, the chat carries on.
                    Err(_) => {
                        self.relay = None;
                        continue;
                    }
                },
                recv(lan) -> incoming => match incoming {
                    Ok(incoming) => {
                        let now = now();
                        self.core.handle_lan_datagram(now, incoming.from, &incoming.bytes);
                        for incoming in lan.try_iter().take(BATCH) {
                            self.core.handle_lan_datagram(now, incoming.from, &incoming.bytes);
                        }
                        now
                    }
                    Err(_) => {
                        self.lan = None;
                        continue;
                    }
                },
                recv(files) -> report => match report {
                    Ok(report) => {
                        let now = now();
                        self.core.handle_lan_file_report(now, report);
                        now
                    }
                    Err(_) => continue,
                },
                recv(found) -> event => match event {
                    Ok(event) => {
                        let now = now();
                        self.core.handle_discovery(now, event);
                        now
                    }
                    Err(_) => {
                        self.discovery = None;
                        continue;
                    }
                },
                recv(dht) -> event => match event {
                    Ok(event) => {
                        let now = now();
                        self.core.handle_dht(now, event);
                        now
                    }
                    Err(_) => {
                        self.dht = None;
                        continue;
                    }
                },
                recv(timer) -> _ => {
                    let now = now();
                    self.core.handle_timeout(now);
                    now
                }
                // Room for the file data held back in the last step.
                recv(self.out.drained) -> _ => now(),
            };
            self.core.set_data_room(self.out.room());
            let output = self.core.poll_output(now);
            if !self.apply(output) {
                break;
            }
        }
        // Withdrawn first, so the others forget this qqchat as it says goodbye.
        if let Some(mut discovery) = self.discovery.take() {
            discovery.withdraw();
        }
        let now = now();
        self.core.goodbye(now);
        self.core.set_data_room(self.out.room());
        let output = self.core.poll_output(now);
        self.apply(output);
    }

    /// Applies a step's output; when the relay wants a new socket, opens it and applies
    /// what the new allocation sends at once (the relay bounds how often it asks).
    fn apply(&mut self, mut output: Output) -> bool {
        loop {
            let new_socket = std::mem::take(&mut output.new_relay_socket);
            if !self.apply_once(output) {
                return false;
            }
            if !new_socket {
                return true;
            }
            let Some(ip) = self.relay.as_ref().map(|r| r.local.ip()) else {
                return true;
            };
            // Opened while the old one still holds its port, so the new port differs.
            output = match net::SideSocket::open(ip) {
                Ok(side) => {
                    let now = now();
                    self.core.relay_socket(now, side.local);
                    self.relay = Some(side);
                    self.core.poll_output(now)
                }
                // The relay tries its old socket again later.
                Err(err) => Output {
                    events: vec![EngineEvent::Error(format!(
                        "cannot open a new socket for the relay: {err}"
                    ))],
                    ..Output::default()
                },
            };
        }
    }

    fn apply_once(&mut self, mut output: Output) -> bool {
        let data_held = output.data_held;
        for job in std::mem::take(&mut output.lan_files) {
            if let Some(service) = &self.lan_files {
                service.handle(job);
            }
        }
        for command in std::mem::take(&mut output.dht) {
            if let Some(dht) = &self.dht {
                match command {
                    crate::dht::DhtCommand::Publish(record) => dht.publish(record),
                    crate::dht::DhtCommand::Lookup(key) => dht.lookup(key),
                }
            }
        }
        let (out, relay, lan) = (&self.out, self.relay.as_ref(), self.lan.as_ref());
        let (events, subscribers) = (&self.events, &mut self.subscribers);
        let open = apply(
            output,
            self.history.as_mut(),
            |t, via| match via {
                Via::Chat => out.send(t),
                Via::Bulk => out.send_bulk(t),
                Via::Relay => {
                    if let Some(relay) = relay {
                        relay.send(t);
                    }
                }
                Via::Lan => {
                    if let Some(lan) = lan {
                        lan.send(t);
                    }
                }
            },
            |e| {
                // A subscriber that went away is forgotten; the front end is not.
                subscribers.retain(|s| s.send(e.clone()).is_ok());
                events.send(e).is_ok()
            },
        );
        // Asked after the step's file data is queued, so the lane's low mark is still ahead.
        if data_held {
            self.out.want_room();
        }
        open
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::net::SocketAddr;

    use super::*;
    use crate::store::{Direction, MessageState};

    /// A store that logs what happens to it, in one log shared with the sender and the UI.
    struct LogStore<'a>(&'a RefCell<Vec<String>>);

    impl Store for LogStore<'_> {
        fn append(&mut self, key: &ConversationKey, record: &Record) {
            let id = match record {
                Record::Msg { id, .. } | Record::State { id, .. } => id,
            };
            self.0.borrow_mut().push(format!("append {key} {id}"));
        }

        fn append_group(&mut self, id: GroupId, _: &GroupRecord) {
            self.0.borrow_mut().push(format!("append group {id}"));
        }

        fn rename(
            &mut self,
            from: &ConversationKey,
            to: &ConversationKey,
        ) -> Result<(), StoreError> {
            self.0.borrow_mut().push(format!("rename {from} {to}"));
            Ok(())
        }

        fn forget(&mut self, key: &ConversationKey) -> Result<(), StoreError> {
            self.0.borrow_mut().push(format!("forget {key}"));
            Ok(())
        }

        fn commit(&mut self) -> Result<(), StoreError> {
            self.0.borrow_mut().push("commit".into());
            Ok(())
        }
    }

    fn received(id: u64) -> Record {
        Record::Msg {
            id,
            dir: Direction::In,
            peer: "127.0.0.1:9".into(),
            path: None,
            at: Timestamp::UNIX_EPOCH,
            sent_at: None,
            text: "hi".into(),
            plain: false,
            state: MessageState::Received,
        }
    }

    #[test]
    fn records_are_committed_before_any_datagram_or_event_leaves() {
        let peer: SocketAddr = "127.0.0.1:9".parse().expect("an address");
        let output = Output {
            store: vec![
                StoreOp::Append {
                    key: ConversationKey::contact("bob"),
                    record: received(1),
                },
                StoreOp::Rename {
                    from: ConversationKey::contact("bob"),
                    to: ConversationKey::contact("robert"),
                },
                StoreOp::Append {
                    key: ConversationKey::contact("robert"),
                    record: received(2),
                },
            ],
            transmits: vec![Transmit {
                dst: peer,
                payload: b"ack".to_vec(),
            }],
            bulk: vec![Transmit {
                dst: peer,
                payload: b"file data".to_vec(),
            }],
            data_held: false,
            relayed: Vec::new(),
            lan: Vec::new(),
            lan_files: Vec::new(),
            new_relay_socket: false,
            dht: Vec::new(),
            events: vec![EngineEvent::Presence {
                peer: crate::proto::PeerId::addr(peer),
                online: true,
            }],
        };
        let log = RefCell::new(Vec::new());
        let mut store = LogStore(&log);
        let open = apply(
            output,
            Some(&mut store),
            |t, via| {
                log.borrow_mut()
                    .push(format!("send {} {via:?}", t.payload.len()))
            },
            |_| {
                log.borrow_mut().push("event".into());
                true
            },
        );
        assert!(open);
        assert_eq!(
            log.into_inner(),
            [
                "append bob 1",
                "rename bob robert",
                "append robert 2",
                "commit",
                "send 3 Chat",
                "send 9 Bulk",
                "event"
            ]
        );
    }

    #[test]
    fn a_front_end_that_has_gone_stops_the_engine() {
        let output = Output {
            events: vec![EngineEvent::Error("x".into())],
            ..Output::default()
        };
        assert!(!apply(
            output,
            None::<&mut LogStore<'_>>,
            |_, _| {},
            |_| false
        ));
    }
}
