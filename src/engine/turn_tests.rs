//! The relay client against `turn-server-proto`'s sans-IO TURN server, on a simulated clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_proto::agent::Transmit as StunTransmit;
use stun_proto::types::TransportType;
use stun_proto::types::attribute::ErrorCode;
use stun_proto::types::attribute::MessageIntegrity;
use stun_proto::types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageClass, MessageWriteVec,
};
use stun_proto::types::prelude::*;
use turn_client_proto::types::message::ALLOCATE;
use turn_server_proto::api::{TurnServerApi, TurnServerPollRet};
use turn_server_proto::server::TurnServer;

use super::*;

const SERVER: &str = "192.0.2.1:3478";
const RELAYED: &str = "192.0.2.1:50000";
const LOCAL: &str = "198.51.100.2:40000";
const PEER: &str = "198.51.100.9:41000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// A client and a server wired together, with a peer on the server's far side.
struct Sim {
    server: TurnServer,
    relay: TurnRelay,
    local: SocketAddr,
    base: Instant,
    now: Instant,
    /// Error codes the server answered, in order.
    errors: Vec<u16>,
    /// What reached the peer from the relayed address.
    at_peer: Vec<Vec<u8>>,
    /// What the client unwrapped from the peer.
    from_peer: Vec<(SocketAddr, Vec<u8>)>,
    /// Answer authenticated allocations from these local addresses with 437, as coturn
    /// does when it still holds an allocation for the client's address (the server crate
    /// answers otherwise).
    stale: Vec<SocketAddr>,
    /// Answer every authenticated allocation with 437.
    all_stale: bool,
    /// The new sockets the client asked for, in order.
    sockets: Vec<SocketAddr>,
}

/// A signed 437 Allocation Mismatch answering `request`, if it is an authenticated Allocate.
fn mismatch(request: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_bytes(request).ok()?;
    if msg.method() != ALLOCATE || msg.attribute::<MessageIntegrity>().is_err() {
        return None;
    }
    let mut reply = Message::builder_error(&msg, MessageWriteVec::new());
    let code = ErrorCode::builder(ErrorCode::ALLOCATION_MISMATCH)
        .build()
        .ok()?;
    reply.add_attribute(&code).ok()?;
    let creds = LongTermKeyCredentials::new("alice".into(), "right".into(), "qqchat".into());
    reply
        .add_message_integrity(&creds.into(), IntegrityAlgorithm::Sha1)
        .ok()?;
    Some(reply.finish())
}

impl Sim {
    fn new(password: &str) -> Sim {
        Sim::with_nonce(password, None)
    }

    /// With the server's nonces lasting `nonce` (its default when `None`).
    fn with_nonce(password: &str, nonce: Option<Duration>) -> Sim {
        let mut server = TurnServer::new(TransportType::Udp, addr(SERVER), "qqchat".into());
        server.add_user("alice".into(), "right".into());
        if let Some(nonce) = nonce {
            server.set_nonce_expiry_duration(nonce);
        }
        let base = Instant::now();
        let mut sim = Sim {
            server,
            relay: TurnRelay::default(),
            local: addr(LOCAL),
            base,
            now: base,
            errors: Vec::new(),
            at_peer: Vec::new(),
            from_peer: Vec::new(),
            stale: Vec::new(),
            all_stale: false,
            sockets: Vec::new(),
        };
        sim.start(password);
        sim
    }

    /// A client (a fresh one: a restart) from [`Sim::local`].
    fn start(&mut self, password: &str) {
        self.relay = TurnRelay::default();
        let server = RelayServer {
            name: "turn.test:3478".into(),
            addr: Some(addr(SERVER)),
            username: "alice".into(),
            password: password.into(),
        };
        self.relay.set_server(self.now, server, self.local);
        self.pump();
        // The crate paces its requests: the authenticated one follows the 401 a moment later.
        self.run(1);
    }

    fn at(&self) -> stun_proto::Instant {
        let nanos = self.now.duration_since(self.base).as_nanos();
        stun_proto::Instant::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    /// Moves every datagram between the two until neither has more.
    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            let at = self.at();
            if let TurnServerPollRet::AllocateSocket {
                transport,
                listen_addr,
                client_addr,
                allocation_transport,
                family,
            } = self.server.poll(at)
            {
                self.server.allocated_socket(
                    transport,
                    listen_addr,
                    client_addr,
                    allocation_transport,
                    family,
                    Ok(addr(RELAYED)),
                    at,
                );
                moved = true;
            }
            while let Some(t) = self.server.poll_transmit(at) {
                self.deliver(t.to, t.data);
                moved = true;
            }
            if self.relay.poll_new_socket() {
                // What the driver does: a socket on a port not used before.
                let mut fresh = self.local;
                fresh.set_port(self.local.port() + 1);
                self.local = fresh;
                self.sockets.push(fresh);
                self.relay.set_socket(self.now, fresh);
                moved = true;
            }
            while let Some(t) = self.relay.poll_transmit() {
                assert_eq!(t.dst, addr(SERVER), "everything goes to the server");
                let stale = self.all_stale || self.stale.contains(&self.local);
                if let Some(reply) = mismatch(&t.payload).filter(|_| stale) {
                    self.deliver(self.local, reply);
                    moved = true;
                    continue;
                }
                let reply = self.server.recv(
                    StunTransmit::new(t.payload.as_slice(), TransportType::Udp, self.local, t.dst),
                    at,
                );
                if let Some(reply) = reply {
                    let out = reply.build();
                    self.deliver(out.to, out.data);
                }
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the client and the server kept talking");
    }

    fn deliver(&mut self, to: SocketAddr, data: Vec<u8>) {
        if to == addr(PEER) {
            self.at_peer.push(data);
            return;
        }
        assert_eq!(to, self.local);
        if let Ok(msg) = Message::from_bytes(&data)
            && msg.has_class(MessageClass::Error)
            && let Ok(e) = msg.attribute::<ErrorCode>()
        {
            self.errors.push(e.code());
        }
        let now = self.now;
        if let Received::Peer { from, payload } =
            self.relay.handle_datagram(now, addr(SERVER), &data)
        {
            self.from_peer.push((from, payload));
        }
    }

    /// The peer sends to the relayed address.
    fn peer_sends(&mut self, payload: &[u8]) {
        let at = self.at();
        let out = self.server.recv(
            StunTransmit::new(payload, TransportType::Udp, addr(PEER), addr(RELAYED)),
            at,
        );
        if let Some(out) = out {
            let out = out.build();
            self.deliver(out.to, out.data);
        }
        self.pump();
    }

    /// The client sends to the peer: through the relay when it should.
    fn send_to_peer(&mut self, payload: &[u8]) {
        let t = Transmit {
            dst: addr(PEER),
            payload: payload.to_vec(),
        };
        match self.relay.wrap(self.now, t) {
            Some(Route::Relay(t)) => self.relay.transmits.push(t),
            other => panic!("not through the relay: {other:?}"),
        }
        self.pump();
    }

    /// Runs the clock `secs` on, waking the client at each of its deadlines.
    fn run(&mut self, secs: u64) {
        let end = self.now + Duration::from_secs(secs);
        while let Some(wake) = self.relay.poll_timeout().filter(|&w| w <= end) {
            self.now = wake.max(self.now);
            self.relay.handle_timeout(self.now);
            self.pump();
        }
        self.now = end;
        self.relay.handle_timeout(self.now);
        self.pump();
    }

    fn state(&self) -> RelayState {
        self.relay.report().expect("a relay is configured").state
    }
}

#[test]
fn allocates_after_the_401_challenge_and_relays_both_ways_with_a_permission() {
    let mut sim = Sim::new("right");
    assert_eq!(sim.errors, [401], "the first request is challenged");
    assert_eq!(sim.state(), RelayState::Allocated(addr(RELAYED)));
    assert_eq!(
        sim.relay.poll_report().and_then(|r| r.relayed()),
        Some(addr(RELAYED))
    );
    // Before a permission, the peer's datagrams are dropped by the server.
    sim.peer_sends(b"too early");
    assert!(sim.from_peer.is_empty());

    sim.relay.set_peers(sim.now, vec![addr(PEER)]);
    sim.pump();
    sim.peer_sends(b"hello");
    assert_eq!(sim.from_peer, [(addr(PEER), b"hello".to_vec())]);
    // Data came through the relay, so the answer goes back through it, unwrapped there.
    assert!(sim.relay.through_relay(addr(PEER)));
    sim.send_to_peer(b"hi back");
    assert_eq!(sim.at_peer, [b"hi back".to_vec()]);
}

#[test]
fn refreshes_keep_the_allocation_permission_and_channel_past_their_lifetimes() {
    let mut sim = Sim::new("right");
    sim.relay.set_peers(sim.now, vec![addr(PEER)]);
    sim.pump();
    // An allocation lasts 10 min (or the 30 min asked), a permission 5, a channel 10.
    sim.run(45 * 60);
    assert_eq!(sim.state(), RelayState::Allocated(addr(RELAYED)));
    sim.peer_sends(b"still there");
    assert_eq!(sim.from_peer.len(), 1, "{:?}", sim.errors);
}

#[test]
fn a_stale_nonce_is_answered_with_the_new_one() {
    let mut sim = Sim::with_nonce("right", Some(Duration::from_secs(60)));
    sim.relay.set_peers(sim.now, vec![addr(PEER)]);
    sim.pump();
    sim.run(30 * 60);
    assert!(sim.errors.contains(&438), "{:?}", sim.errors);
    assert_eq!(sim.state(), RelayState::Allocated(addr(RELAYED)));
    sim.peer_sends(b"after 438");
    assert_eq!(sim.from_peer.len(), 1);
}

#[test]
fn wrong_credentials_are_said_and_not_retried() {
    let mut sim = Sim::new("wrong");
    sim.run(10);
    assert_eq!(
        sim.state(),
        RelayState::Failed(RelayFailure::Unauthorized),
        "{:?}",
        sim.errors
    );
    assert_eq!(
        sim.relay.poll_timeout(),
        None,
        "the user must fix the password first"
    );
}

#[test]
fn a_restart_on_the_same_port_gets_437_and_allocates_at_once_from_a_new_socket() {
    let mut sim = Sim::new("right");
    assert!(matches!(sim.state(), RelayState::Allocated(_)));
    // A new run from the same local port (an earlier run killed), the old allocation still
    // on the server. The server crate forgets nothing but answers otherwise: a fresh one
    // challenges the restart, and an authenticated Allocate from that port gets coturn's 437.
    sim.server = TurnServer::new(TransportType::Udp, addr(SERVER), "qqchat".into());
    sim.server.add_user("alice".into(), "right".into());
    sim.stale = vec![addr(LOCAL)];
    sim.start("right");
    assert!(sim.errors.contains(&437), "{:?}", sim.errors);
    let fresh = SocketAddr::from(([198, 51, 100, 2], 40001));
    assert_eq!(sim.sockets, [fresh], "one new socket asked for");
    assert_eq!(sim.relay.local, fresh, "the allocation is made from it");
    // Within the second `start` ran, not a minute later.
    assert_eq!(sim.state(), RelayState::Allocated(addr(RELAYED)));
    // No failure was reported on the way: the front end sees the new address only.
    let reports: Vec<_> = std::iter::from_fn(|| sim.relay.poll_report()).collect();
    assert!(
        reports
            .iter()
            .all(|r| !matches!(r.state, RelayState::Failed(_))),
        "{reports:?}"
    );
    sim.relay.set_peers(sim.now, vec![addr(PEER)]);
    sim.pump();
    sim.peer_sends(b"through the new socket");
    assert_eq!(sim.from_peer.len(), 1, "{:?}", sim.errors);
}

#[test]
fn a_437_from_every_new_socket_is_said_after_a_few_and_tried_again_later() {
    let mut sim = Sim::new("right");
    sim.server = TurnServer::new(TransportType::Udp, addr(SERVER), "qqchat".into());
    sim.server.add_user("alice".into(), "right".into());
    sim.all_stale = true;
    sim.start("right");
    sim.run(10);
    assert_eq!(
        sim.sockets.len(),
        usize::try_from(REBINDS).unwrap_or(usize::MAX),
        "bounded"
    );
    assert_eq!(
        sim.state(),
        RelayState::Failed(RelayFailure::AllocationMismatch)
    );
    assert!(
        sim.relay.poll_timeout().is_some(),
        "tried again after RETRY"
    );
    // The next round may take new sockets again, and works once the server lets go.
    sim.all_stale = false;
    sim.run(RETRY.as_secs() + 1);
    assert_eq!(sim.state(), RelayState::Allocated(addr(RELAYED)));
}

#[test]
fn an_unanswered_server_is_given_up_on_within_seconds() {
    let mut relay = TurnRelay::default();
    let start = Instant::now();
    let server = RelayServer {
        name: "turn.test:3478".into(),
        addr: Some(addr(SERVER)),
        username: "alice".into(),
        password: "right".into(),
    };
    relay.set_server(start, server, addr(LOCAL));
    let mut now = start;
    while let Some(wake) = relay.poll_timeout() {
        if matches!(relay.report().map(|r| r.state), Some(RelayState::Failed(_))) {
            break;
        }
        assert!(wake - start < Duration::from_secs(10), "gave up too late");
        now = wake;
        relay.handle_timeout(now);
        while relay.poll_transmit().is_some() {}
    }
    assert_eq!(
        relay.report().map(|r| r.state),
        Some(RelayState::Failed(RelayFailure::NoAnswer))
    );
    assert!(now - start < Duration::from_secs(10));
    // Datagrams to others pass untouched while there is no allocation.
    let t = Transmit {
        dst: addr(PEER),
        payload: b"x".to_vec(),
    };
    assert_eq!(relay.wrap(now, t.clone()), Some(Route::Direct(t)));
}

#[test]
fn closing_gives_the_allocation_back_so_the_same_port_allocates_again() {
    let mut sim = Sim::new("right");
    assert!(matches!(sim.state(), RelayState::Allocated(_)));
    sim.relay.close(sim.now);
    sim.pump();
    sim.errors.clear();
    sim.start("right");
    assert!(!sim.errors.contains(&437), "{:?}", sim.errors);
    assert!(matches!(sim.state(), RelayState::Allocated(_)));
}

#[test]
fn each_outcome_reads_as_a_line_with_its_fix() {
    let report = |state| RelayReport {
        server: "turn.test:3478".into(),
        addr: Some(addr(SERVER)),
        state,
    };
    assert_eq!(report(RelayState::Allocating).describe(), None);
    let line = |state| report(state).describe().unwrap_or_default();
    assert_eq!(
        line(RelayState::Allocated(addr(RELAYED))),
        "relayed address 192.0.2.1:50000 (via turn.test:3478)"
    );
    for (failure, fix) in [
        (RelayFailure::Unauthorized, "check username and password"),
        (
            RelayFailure::NoAnswer,
            "unreachable or UDP to it is blocked",
        ),
        (
            RelayFailure::AllocationMismatch,
            "expires within 10 minutes",
        ),
        (RelayFailure::Unresolved, "does not resolve"),
    ] {
        let said = line(RelayState::Failed(failure));
        assert!(
            said.starts_with("relay turn.test:3478 (192.0.2.1:3478) failed: "),
            "{said}"
        );
        assert!(said.contains(fix), "{said}");
    }
}
