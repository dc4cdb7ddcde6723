//! This user's public address, from STUN (RFC 8489) servers asked over the chat socket itself,
//! and what the NAT in front of it does with it.
//!
//! Sans-IO like the rest of the core: [`StunClient`] takes datagrams and time in and gives
//! requests to send and a [`Reachability`] out; `stun-proto`'s agent keeps the transactions
//! and their retransmissions. A datagram is taken as STUN only when it comes from a configured
//! server's address, so a plain UDP peer's text is never read as STUN, nor STUN as text.
//!
//! Two servers on different IPs classify the mapping: the same public address from both means
//! the NAT keeps one mapping for every destination (endpoint-independent: what a friend learns
//! from STUN reaches us, so hole punching works); different ones mean a new mapping per
//! destination (symmetric: only a relay gets through).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_proto::agent::{StunAgent, StunAgentPollRet};
use stun_proto::types::TransportType;
use stun_proto::types::attribute::XorMappedAddress;
use stun_proto::types::message::{BINDING, Message, MessageClass, MessageWriteVec, TransactionId};
use stun_proto::types::prelude::*;

use crate::proto::{Transmit, canonical};

/// How often the public address is asked again: a mapping can change under a long chat.
pub const REFRESH: Duration = Duration::from_secs(300);
/// First retransmission of a request; doubled each time up to [`RTO_MAX`].
const RTO: Duration = Duration::from_millis(300);
const RTO_MAX: Duration = Duration::from_millis(1600);
/// Sends of one request, and the wait after the last: an unanswered server is given up on
/// after about 7 s, short enough for `qqchat doctor` to wait for.
const SENDS: u32 = 6;
const LAST_WAIT: Duration = Duration::from_millis(1600);

/// A configured server: its name as written, and its address once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StunServer {
    pub name: String,
    /// `None` when the name did not resolve.
    pub addr: Option<SocketAddr>,
}

/// What one server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The name is not resolved yet.
    Resolving,
    /// The name did not resolve.
    Unresolved,
    /// Asked, no answer yet.
    Waiting,
    /// Our address as the server sees it.
    Answered(SocketAddr),
    /// No answer after every retransmission.
    NoAnswer,
}

/// How the NAT in front of the socket maps it to public ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// One public address for every destination: friends can reach what STUN shows.
    EndpointIndependent,
    /// A new public port for each destination (symmetric NAT): what STUN shows is of no use to
    /// a friend.
    Symmetric,
}

/// One configured server and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReport {
    pub name: String,
    pub addr: Option<SocketAddr>,
    pub probe: Probe,
}

/// Everything STUN told about reaching this socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reachability {
    /// Every configured server, in the order of the contacts file.
    pub servers: Vec<ServerReport>,
    /// `None` until two servers on different IPs answered.
    pub mapping: Option<Mapping>,
    /// Whether the public port equals the socket's own port; `None` before any answer.
    pub port_preserved: Option<bool>,
    /// A round of questions is under way (or the names are being resolved): wait for the
    /// report with this false for the outcome.
    pub checking: bool,
}

impl Reachability {
    /// The public address: the first one a server told.
    pub fn public(&self) -> Option<SocketAddr> {
        self.servers.iter().find_map(|s| match s.probe {
            Probe::Answered(a) => Some(a),
            _ => None,
        })
    }
}

/// The STUN client of one socket.
pub struct StunClient {
    agent: StunAgent,
    servers: Vec<ServerReport>,
    /// The socket's own address, for "port preserved".
    local: Option<SocketAddr>,
    /// Transactions under way, to the index of their server.
    pending: HashMap<TransactionId, usize>,
    /// The agent's clock is nanoseconds from this instant.
    base: Option<Instant>,
    /// When the agent next needs [`StunClient::handle_timeout`].
    agent_wake: Option<Instant>,
    next_round: Option<Instant>,
    transmits: Vec<Transmit>,
    changed: bool,
}

impl StunClient {
    /// A client for these servers, named as configured; it asks nothing until
    /// [`StunClient::set_servers`] gives their addresses.
    pub fn new(names: &[String]) -> Self {
        let agent = StunAgent::builder(TransportType::Udp, SocketAddr::from(([0, 0, 0, 0], 0)))
            .request_retransmits(RTO, RTO_MAX, SENDS, LAST_WAIT)
            .build();
        StunClient {
            agent,
            servers: names
                .iter()
                .map(|name| ServerReport {
                    name: name.clone(),
                    addr: None,
                    probe: Probe::Resolving,
                })
                .collect(),
            local: None,
            pending: HashMap::new(),
            base: None,
            agent_wake: None,
            next_round: None,
            transmits: Vec::new(),
            changed: false,
        }
    }

    /// The servers' addresses, resolved, and the socket's own; asks them at once.
    pub fn set_servers(&mut self, now: Instant, servers: Vec<StunServer>, local: SocketAddr) {
        self.local = Some(local);
        self.pending.clear();
        self.servers = servers
            .into_iter()
            .map(|s| ServerReport {
                probe: if s.addr.is_some() {
                    Probe::Waiting
                } else {
                    Probe::Unresolved
                },
                name: s.name,
                addr: s.addr,
            })
            .collect();
        self.round(now);
    }

    /// Asks every resolved server again now (`qqchat doctor`, a punch round), unless a round
    /// is already under way.
    pub fn refresh(&mut self, now: Instant) {
        if self.pending.is_empty() && self.local.is_some() {
            self.round(now);
        }
        self.changed = true;
    }

    /// True when `from` is a configured server: the datagram is STUN's, whatever it holds,
    /// and must not reach the protocol.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> bool {
        let from = canonical(from);
        let Some(index) = self
            .servers
            .iter()
            .position(|s| s.addr.map(canonical) == Some(from))
        else {
            return false;
        };
        let Ok(msg) = Message::from_bytes(bytes) else {
            return true;
        };
        let id = msg.transaction_id();
        // Only an answer to a request of ours, from the server it was sent to.
        if !msg.is_response() || self.pending.get(&id) != Some(&index) {
            return true;
        }
        let at = self.clock(now);
        if !self.agent.handle_stun_message_with_time(&msg, from, at) {
            return true;
        }
        self.pending.remove(&id);
        let mapped = msg.attribute::<XorMappedAddress>().map(|a| a.addr(id));
        self.servers[index].probe = match mapped {
            Ok(addr) if msg.has_class(MessageClass::Success) => Probe::Answered(canonical(addr)),
            _ => Probe::NoAnswer,
        };
        self.changed = true;
        self.drive(now);
        true
    }

    /// Retransmits what is due, gives up on what ran out, starts the next round when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_round.is_some_and(|t| t <= now) && self.pending.is_empty() {
            self.round(now);
        } else {
            self.drive(now);
        }
    }

    /// When [`StunClient::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.agent_wake, self.next_round) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Requests to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        (!self.transmits.is_empty()).then(|| self.transmits.remove(0))
    }

    /// The state, when it changed since last asked.
    pub fn poll_report(&mut self) -> Option<Reachability> {
        std::mem::take(&mut self.changed).then(|| self.report())
    }

    /// The state now.
    pub fn report(&self) -> Reachability {
        let answers: Vec<(SocketAddr, SocketAddr)> = self
            .servers
            .iter()
            .filter_map(|s| match (s.addr, s.probe) {
                (Some(server), Probe::Answered(mapped)) => Some((server, mapped)),
                _ => None,
            })
            .collect();
        let mapping = answers.iter().enumerate().find_map(|(i, (server, _))| {
            let other = answers[i + 1..]
                .iter()
                .find(|(o, _)| o.ip() != server.ip())?;
            Some(if other.1 == answers[i].1 {
                Mapping::EndpointIndependent
            } else {
                Mapping::Symmetric
            })
        });
        let port_preserved = match (self.local, answers.is_empty()) {
            (Some(local), false) => Some(answers.iter().all(|(_, m)| m.port() == local.port())),
            _ => None,
        };
        Reachability {
            servers: self.servers.clone(),
            mapping,
            port_preserved,
            checking: self.local.is_none() && !self.servers.is_empty() || !self.pending.is_empty(),
        }
    }

    /// Asks every resolved server once more.
    fn round(&mut self, now: Instant) {
        self.next_round = Some(now + REFRESH);
        let at = self.clock(now);
        for (index, server) in self.servers.iter_mut().enumerate() {
            let Some(addr) = server.addr else {
                continue;
            };
            let request = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
            match self.agent.send_request(request, addr, at) {
                Ok(t) => {
                    if let Ok(msg) = Message::from_bytes(&t.data) {
                        self.pending.insert(msg.transaction_id(), index);
                    }
                    self.transmits.push(Transmit {
                        dst: addr,
                        payload: t.data.to_vec(),
                    });
                    // The last answer stays shown until this round's comes or gives up.
                    if !matches!(server.probe, Probe::Answered(_)) {
                        server.probe = Probe::Waiting;
                    }
                }
                Err(_) => server.probe = Probe::NoAnswer,
            }
        }
        self.changed = true;
        self.drive(now);
    }

    /// Lets the agent time out and retransmit, then notes when it next needs a call.
    fn drive(&mut self, now: Instant) {
        let at = self.clock(now);
        let wake = loop {
            match self.agent.poll(at) {
                StunAgentPollRet::TransactionTimedOut(id)
                | StunAgentPollRet::TransactionCancelled(id) => {
                    if let Some(index) = self.pending.remove(&id) {
                        self.servers[index].probe = Probe::NoAnswer;
                        self.changed = true;
                    }
                }
                StunAgentPollRet::WaitUntil(t) => break t,
            }
        };
        while let Some(t) = self.agent.poll_transmit(at) {
            self.transmits.push(Transmit {
                dst: t.to,
                payload: t.data.to_vec(),
            });
        }
        let base = self.base.unwrap_or(now);
        self.agent_wake = if self.pending.is_empty() {
            None
        } else {
            let nanos = u64::try_from(wake.as_nanos()).unwrap_or(0);
            Some(base + Duration::from_nanos(nanos))
        };
    }

    /// `now` on the agent's clock.
    fn clock(&mut self, now: Instant) -> stun_proto::Instant {
        let base = *self.base.get_or_insert(now);
        let nanos = now.saturating_duration_since(base).as_nanos();
        stun_proto::Instant::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }
}
