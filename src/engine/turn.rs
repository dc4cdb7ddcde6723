//! A relayed address on a TURN server (RFC 8656), for friends no direct path reaches (both
//! behind symmetric NATs).
//!
//! Sans-IO like [`StunClient`](super::StunClient): `turn-client-proto` keeps the allocation,
//! its authentication (401 challenge, 438 stale nonce), refreshes, permissions and channels;
//! [`TurnRelay`] feeds it datagrams and time and turns its outcome into a [`RelayReport`] a
//! person can act on.
//!
//! The allocation lives on a socket of its own, not the chat socket. A TURN server knows an
//! allocation by the client's address and port, and keeps it for its lifetime when a run
//! ends without deleting it (a crash, `kill -9`): a new run from the same port is refused
//! with 437 Allocation Mismatch. Contacts know the chat port, so that one cannot move; the
//! relay's socket can, and on a 437 the relay asks for a fresh one
//! ([`TurnRelay::poll_new_socket`]) and allocates again from it at once.
//!
//! Which datagrams go through the relay: the engine keeps no "relayed path" in the protocol
//! node. Instead this client keeps the set of peer addresses reached through the relay, and a
//! datagram the node sends to one of them is wrapped (ChannelData, or a Send indication until
//! the channel is bound). An address joins the set when relayed data arrives from it, or when
//! it is on the relay server's own IP: another user's relayed address on the same server,
//! which a datagram sent straight from behind a NAT could not reach (its allocation only
//! admits peers it has a permission for, and it knows us only by our relayed address).

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_proto::types::TransportType;
use stun_proto::types::attribute::ErrorCode;
use stun_proto::types::message::{Message, MessageClass};
use turn_client_proto::api::{TurnClientApi, TurnConfig, TurnEvent, TurnPollRet, TurnRecvRet};
use turn_client_proto::types::TurnCredentials;
use turn_client_proto::udp::TurnClientUdp;

use crate::proto::{Transmit, canonical};

/// How long after a failed allocation it is tried again (not after wrong credentials: those
/// need the user).
pub const RETRY: Duration = Duration::from_secs(60);
/// Retransmissions of a request: an unanswered server is given up on after about 7 s, short
/// enough for `qqchat doctor` to wait for.
const RTO: Duration = Duration::from_millis(300);
const RTO_MAX: Duration = Duration::from_millis(1600);
const SENDS: u32 = 6;
const LAST_WAIT: Duration = Duration::from_millis(1600);
/// Datagrams held while their permission is being created; more are dropped (the protocol
/// retransmits what matters).
const HELD_MAX: usize = 64;
/// Fresh sockets tried in a row after 437 answers before the failure is reported (and tried
/// again after [`RETRY`]): one new port is almost always enough, several in a row mean
/// something else is wrong.
pub const REBINDS: u32 = 3;

/// The configured relay, resolved, with its password read.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayServer {
    /// `host:port` as written.
    pub name: String,
    /// `None` when the name did not resolve.
    pub addr: Option<SocketAddr>,
    pub username: String,
    pub password: String,
}

/// Never shows the password.
impl std::fmt::Debug for RelayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayServer")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Why there is no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayFailure {
    /// The server name did not resolve.
    Unresolved,
    /// No answer after every retransmission: unreachable, or UDP blocked.
    NoAnswer,
    /// 401 after the credentials were sent: wrong username or password.
    Unauthorized,
    /// 437 from each of [`REBINDS`] fresh local ports in a row: the server holds an
    /// allocation for every address it saw (or a NAT maps them all to one it still holds).
    AllocationMismatch,
    /// Another error code from the server.
    Refused(u16),
}

/// Where the relay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayState {
    /// The name is being resolved, or the allocation requested.
    Allocating,
    /// The relayed address: friends reach this user there.
    Allocated(SocketAddr),
    /// No allocation; tried again after [`RETRY`] unless the credentials are wrong.
    Failed(RelayFailure),
}

/// The relay as the front end shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayReport {
    /// The server as configured.
    pub server: String,
    pub addr: Option<SocketAddr>,
    pub state: RelayState,
}

impl RelayReport {
    /// The relayed address, once allocated.
    pub fn relayed(&self) -> Option<SocketAddr> {
        match self.state {
            RelayState::Allocated(a) => Some(a),
            _ => None,
        }
    }
}

/// What a datagram from the network was.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Not from the relay server: the protocol's.
    NotOurs,
    /// The relay's own business (a response, a refresh, garbage from its address).
    Handled,
    /// A datagram a peer sent to the relayed address, unwrapped.
    Peer { from: SocketAddr, payload: Vec<u8> },
}

/// Where a datagram the protocol sends goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Straight to its destination, from the chat socket.
    Direct(Transmit),
    /// Wrapped for the relay server, from the relay's socket.
    Relay(Transmit),
}

/// The TURN client of the relay's socket.
pub struct TurnRelay {
    server: Option<RelayServer>,
    /// The relay socket's own address, as given to the crate (it checks incoming datagrams
    /// by it).
    local: SocketAddr,
    client: Option<TurnClientUdp>,
    state: RelayState,
    /// Keyed contacts' candidate addresses: each gets a permission and a channel.
    peers: Vec<SocketAddr>,
    /// Peer addresses whose datagrams go through the relay.
    via: HashSet<SocketAddr>,
    /// Datagrams waiting for their peer's permission.
    held: VecDeque<(SocketAddr, Vec<u8>)>,
    /// The last error code the server answered, to say why an allocation failed.
    last_error: Option<u16>,
    /// Fresh sockets asked for since the last allocation that worked.
    rebinds: u32,
    /// A 437 answer: the driver is to open a new socket and hand it over.
    want_socket: bool,
    base: Option<Instant>,
    wake: Option<Instant>,
    retry_at: Option<Instant>,
    transmits: Vec<Transmit>,
    changed: bool,
    /// The set of relayed peer addresses may have changed since last asked.
    relayed_changed: bool,
}

impl Default for TurnRelay {
    fn default() -> Self {
        TurnRelay {
            server: None,
            local: SocketAddr::from(([0, 0, 0, 0], 0)),
            client: None,
            state: RelayState::Allocating,
            peers: Vec::new(),
            via: HashSet::new(),
            held: VecDeque::new(),
            last_error: None,
            rebinds: 0,
            want_socket: false,
            base: None,
            wake: None,
            retry_at: None,
            transmits: Vec::new(),
            changed: false,
            relayed_changed: false,
        }
    }
}

impl TurnRelay {
    /// The server to allocate on (resolved), and the relay socket's own address; allocates
    /// at once.
    pub fn set_server(&mut self, now: Instant, server: RelayServer, local: SocketAddr) {
        self.server = Some(server);
        self.local = local;
        self.allocate(now);
    }

    /// Whether the server refused this socket's port (437) and a new socket is wanted: the
    /// driver opens one on a new port and hands it over with [`TurnRelay::set_socket`].
    pub fn poll_new_socket(&mut self) -> bool {
        std::mem::take(&mut self.want_socket)
    }

    /// The relay's new socket, after [`TurnRelay::poll_new_socket`]: allocates from it at once.
    pub fn set_socket(&mut self, now: Instant, local: SocketAddr) {
        self.local = local;
        self.allocate(now);
    }

    /// Whether a relay is configured.
    pub fn is_on(&self) -> bool {
        self.server.is_some()
    }

    /// The keyed contacts' candidate addresses, for permissions and channels.
    pub fn set_peers(&mut self, now: Instant, peers: Vec<SocketAddr>) {
        self.peers = peers.into_iter().map(canonical).collect();
        self.relayed_changed = true;
        self.install(now);
    }

    /// Sorts a datagram from the network: the relay's own, a peer's through the relay, or
    /// not from the relay server at all.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Received {
        let from = canonical(from);
        let Some(server) = self.server_addr().filter(|&s| s == from) else {
            return Received::NotOurs;
        };
        if let Ok(msg) = Message::from_bytes(bytes)
            && msg.has_class(MessageClass::Error)
        {
            self.last_error = msg.attribute::<ErrorCode>().ok().map(|e| e.code());
        }
        let at = self.clock(now);
        let Some(client) = self.client.as_mut() else {
            return Received::Handled;
        };
        let transmit =
            stun_proto::agent::Transmit::new(bytes, TransportType::Udp, server, self.local);
        let received = match client.recv(transmit, at) {
            TurnRecvRet::PeerData(data) => {
                let peer = canonical(data.peer);
                self.relayed_changed |= self.via.insert(peer);
                Received::Peer {
                    from: peer,
                    payload: data.data().to_vec(),
                }
            }
            _ => Received::Handled,
        };
        self.drive(now);
        received
    }

    /// Wraps a datagram for a peer reached through the relay; gives back the others as
    /// they were, to go out directly. `None` when it waits for a permission.
    pub fn wrap(&mut self, now: Instant, t: Transmit) -> Option<Route> {
        let to = canonical(t.dst);
        if !self.through_relay(to) {
            return Some(Route::Direct(t));
        }
        let at = self.clock(now);
        let client = self.client.as_mut()?;
        match client.send_to(TransportType::Udp, to, t.payload.as_slice(), at) {
            Ok(Some(build)) => {
                let out = build.build();
                Some(Route::Relay(Transmit {
                    dst: out.to,
                    payload: out.data,
                }))
            }
            Ok(None) => None,
            Err(_) => {
                // No permission yet: ask for one, and send once it is there.
                let _ = client.create_permission(TransportType::Udp, to.ip(), at);
                let _ = client.bind_channel(TransportType::Udp, to, at);
                if self.held.len() < HELD_MAX {
                    self.held.push_back((to, t.payload));
                }
                self.drive(now);
                None
            }
        }
    }

    /// Whether a datagram to `to` goes through the relay.
    pub fn through_relay(&self, to: SocketAddr) -> bool {
        let RelayState::Allocated(relayed) = self.state else {
            return false;
        };
        let to = canonical(to);
        let server = self.server_addr();
        self.via.contains(&to)
            || (server.is_some_and(|s| s.ip() == to.ip() && s != to) && to != relayed)
    }

    /// The peer addresses reached through the relay, when that may have changed since last
    /// asked: those relayed data came from, and candidates on the server's own IP.
    pub fn relayed_peers(&mut self) -> Option<HashSet<SocketAddr>> {
        if !std::mem::take(&mut self.relayed_changed) {
            return None;
        }
        let mut out = self.via.clone();
        out.extend(self.peers.iter().filter(|&&p| self.through_relay(p)));
        Some(out)
    }

    /// Retransmits, refreshes, retries what failed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|t| t <= now) {
            // A new round: 437 answers may ask for fresh sockets again.
            self.rebinds = 0;
            self.allocate(now);
        } else {
            self.drive(now);
        }
    }

    /// When [`TurnRelay::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.wake, self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Datagrams to send to the server, from the relay socket.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        (!self.transmits.is_empty()).then(|| self.transmits.remove(0))
    }

    /// The state, when it changed since last asked.
    pub fn poll_report(&mut self) -> Option<RelayReport> {
        std::mem::take(&mut self.changed)
            .then(|| self.report())
            .flatten()
    }

    /// Reports the state again at the next [`TurnRelay::poll_report`], for a newcomer
    /// (`qqchat doctor` asking a running qqchat).
    pub fn announce(&mut self) {
        self.changed = self.server.is_some();
    }

    /// Deletes the allocation (a refresh with lifetime 0), best effort: the server would
    /// otherwise keep it for its lifetime and refuse this port's next allocation with 437.
    pub fn close(&mut self, now: Instant) {
        if !matches!(self.state, RelayState::Allocated(_)) {
            return;
        }
        let at = self.clock(now);
        if let Some(client) = self.client.as_mut()
            && client.delete(at).is_ok()
        {
            while let Some(t) = client.poll_transmit(at) {
                self.transmits.push(Transmit {
                    dst: t.to,
                    payload: t.data.to_vec(),
                });
            }
        }
    }

    /// The state now; `None` with no relay configured.
    pub fn report(&self) -> Option<RelayReport> {
        let server = self.server.as_ref()?;
        Some(RelayReport {
            server: server.name.clone(),
            addr: server.addr,
            state: self.state,
        })
    }

    fn server_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref()?.addr.map(canonical)
    }

    /// A new allocation: a fresh client, so a new nonce and new transactions.
    fn allocate(&mut self, now: Instant) {
        self.retry_at = None;
        self.last_error = None;
        self.want_socket = false;
        self.via.clear();
        self.held.clear();
        self.changed = true;
        self.relayed_changed = true;
        let Some(server) = &self.server else {
            return;
        };
        let Some(addr) = server.addr else {
            self.state = RelayState::Failed(RelayFailure::Unresolved);
            self.retry_at = Some(now + RETRY);
            return;
        };
        let mut config = TurnConfig::new(TurnCredentials::new(&server.username, &server.password));
        config.set_request_retransmits(RTO, RTO_MAX, SENDS, LAST_WAIT);
        self.client = Some(TurnClientUdp::allocate(self.local, canonical(addr), config));
        self.state = RelayState::Allocating;
        self.drive(now);
    }

    /// Permissions and channels for every candidate not yet given one.
    fn install(&mut self, now: Instant) {
        if !matches!(self.state, RelayState::Allocated(_)) {
            return;
        }
        let at = self.clock(now);
        let Some(client) = self.client.as_mut() else {
            return;
        };
        for &peer in &self.peers {
            if !client.have_permission(TransportType::Udp, peer.ip()) {
                let _ = client.create_permission(TransportType::Udp, peer.ip(), at);
            }
            // Already bound (or being bound) is an error here, and harmless.
            let _ = client.bind_channel(TransportType::Udp, peer, at);
        }
        self.drive(now);
    }

    /// Lets the crate make progress, then takes what it sends and what happened.
    fn drive(&mut self, now: Instant) {
        let at = self.clock(now);
        let base = self.base.unwrap_or(now);
        self.wake = None;
        // Events can start requests (a permission once allocated): a few rounds settle it.
        for _ in 0..8 {
            let Some(client) = self.client.as_mut() else {
                return;
            };
            let ret = client.poll(at);
            while let Some(t) = client.poll_transmit(at) {
                self.transmits.push(Transmit {
                    dst: t.to,
                    payload: t.data.to_vec(),
                });
            }
            let events: Vec<TurnEvent> = std::iter::from_fn(|| client.poll_event()).collect();
            let quiet = events.is_empty();
            for event in events {
                self.on_event(now, event);
            }
            match ret {
                TurnPollRet::WaitUntil(t) => {
                    let nanos = u64::try_from(t.as_nanos()).unwrap_or(0);
                    self.wake = Some(base + Duration::from_nanos(nanos));
                    if quiet && t > at {
                        break;
                    }
                }
                TurnPollRet::Closed => {
                    self.client = None;
                    self.fail(now);
                    break;
                }
                _ => {}
            }
        }
        if self.wake.is_some_and(|w| w <= now) {
            // Progress the crate cannot make before a later call (its request pacing).
            self.wake = Some(now + Duration::from_millis(10));
        }
    }

    fn on_event(&mut self, now: Instant, event: TurnEvent) {
        match event {
            TurnEvent::AllocationCreated(_, relayed) => {
                self.rebinds = 0;
                self.state = RelayState::Allocated(canonical(relayed));
                self.changed = true;
                self.relayed_changed = true;
                self.install(now);
            }
            TurnEvent::AllocationCreateFailed(_) => {
                self.client = None;
                self.fail(now);
            }
            TurnEvent::PermissionCreated(_, ip) => {
                let at = self.clock(now);
                let (ready, kept): (Vec<_>, Vec<_>) =
                    self.held.drain(..).partition(|(to, _)| to.ip() == ip);
                self.held = kept.into();
                for (to, payload) in ready {
                    if let Some(client) = self.client.as_mut()
                        && let Ok(Some(build)) =
                            client.send_to(TransportType::Udp, to, payload.as_slice(), at)
                    {
                        let out = build.build();
                        self.transmits.push(Transmit {
                            dst: out.to,
                            payload: out.data,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    /// The allocation is gone: on a 437, ask for a new socket and say nothing yet;
    /// otherwise say why, and try again later unless the user must act.
    fn fail(&mut self, now: Instant) {
        if self.last_error == Some(437) && self.rebinds < REBINDS {
            self.rebinds += 1;
            self.want_socket = true;
            // A relayed address that was in use is gone: candidates are told again.
            self.changed |= matches!(self.state, RelayState::Allocated(_));
            self.relayed_changed = true;
            self.state = RelayState::Allocating;
            self.via.clear();
            self.held.clear();
            self.wake = None;
            // Should no socket come (none could be opened), the old one is tried again.
            self.retry_at = Some(now + RETRY);
            return;
        }
        let failure = match self.last_error {
            None => RelayFailure::NoAnswer,
            Some(401) => RelayFailure::Unauthorized,
            Some(437) => RelayFailure::AllocationMismatch,
            Some(code) => RelayFailure::Refused(code),
        };
        self.state = RelayState::Failed(failure);
        self.changed = true;
        self.relayed_changed = true;
        self.via.clear();
        self.held.clear();
        self.wake = None;
        if failure != RelayFailure::Unauthorized {
            self.retry_at = Some(now + RETRY);
        }
    }

    /// `now` on the crate's clock.
    fn clock(&mut self, now: Instant) -> stun_proto::Instant {
        let base = *self.base.get_or_insert(now);
        let nanos = now.saturating_duration_since(base).as_nanos();
        stun_proto::Instant::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;
