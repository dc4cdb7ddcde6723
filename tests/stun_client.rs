//! The STUN client on a simulated clock: questions and answers, retransmission and giving
//! up, answers taken only from the servers asked, and the NAT classified from two servers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use qqchat::engine::{Mapping, Probe, Reachability, StunClient, StunServer};
use qqchat::proto::Transmit;
use stun_proto::types::attribute::XorMappedAddress;
use stun_proto::types::message::{Message, MessageWriteVec};
use stun_proto::types::prelude::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

const A: &str = "192.0.2.1:3478";
const B: &str = "198.51.100.1:3478";
const LOCAL: &str = "10.0.0.5:9001";

/// A client asking A and B, with the requests of its first round.
fn client(t0: Instant) -> (StunClient, Vec<Transmit>) {
    let names = vec!["a.example:3478".to_owned(), "b.example:3478".to_owned()];
    let mut c = StunClient::new(&names);
    assert!(c.report().checking, "checking while the names resolve");
    let servers = vec![
        StunServer {
            name: names[0].clone(),
            addr: Some(addr(A)),
        },
        StunServer {
            name: names[1].clone(),
            addr: Some(addr(B)),
        },
    ];
    c.set_servers(t0, servers, addr(LOCAL));
    let sent = drain(&mut c);
    (c, sent)
}

fn drain(c: &mut StunClient) -> Vec<Transmit> {
    std::iter::from_fn(|| c.poll_transmit()).collect()
}

/// The server's success answer to `request`, seeing the client at `mapped`.
fn answer(request: &[u8], mapped: &str) -> Vec<u8> {
    let request = Message::from_bytes(request).expect("a STUN request");
    let mut response = Message::builder_success(&request, MessageWriteVec::new());
    response
        .add_attribute(&XorMappedAddress::new(
            addr(mapped),
            request.transaction_id(),
        ))
        .expect("add the mapped address");
    response.finish()
}

fn to<'a>(sent: &'a [Transmit], server: &str) -> &'a Transmit {
    sent.iter()
        .find(|t| t.dst == addr(server))
        .expect("a request to the server")
}

fn last_report(c: &mut StunClient) -> Reachability {
    c.poll_report().expect("a report")
}

#[test]
fn two_servers_seeing_one_address_mean_endpoint_independent_mapping() {
    let t0 = Instant::now();
    let (mut c, sent) = client(t0);
    assert_eq!(sent.len(), 2, "one request to each server");
    let later = t0 + Duration::from_millis(20);
    assert!(c.handle_datagram(
        later,
        addr(A),
        &answer(&to(&sent, A).payload, "203.0.113.9:9001")
    ));
    let half = last_report(&mut c);
    assert!(half.checking, "still waiting for B");
    assert_eq!(half.mapping, None, "one server cannot classify");
    assert!(c.handle_datagram(
        later,
        addr(B),
        &answer(&to(&sent, B).payload, "203.0.113.9:9001")
    ));
    let r = last_report(&mut c);
    assert!(!r.checking);
    assert_eq!(r.public(), Some(addr("203.0.113.9:9001")));
    assert_eq!(r.mapping, Some(Mapping::EndpointIndependent));
    assert_eq!(r.port_preserved, Some(true));
    assert!(
        r.servers
            .iter()
            .all(|s| s.probe == Probe::Answered(addr("203.0.113.9:9001")))
    );
    // Nothing more to retransmit: the next wake is the refresh, minutes away.
    let next = c.poll_timeout().expect("a refresh is planned");
    assert!(next >= t0 + Duration::from_secs(299), "{:?}", next - t0);
    c.handle_timeout(next);
    assert_eq!(
        drain(&mut c).len(),
        2,
        "asked again after the refresh interval"
    );
}

#[test]
fn two_servers_seeing_different_ports_mean_symmetric_nat() {
    let t0 = Instant::now();
    let (mut c, sent) = client(t0);
    c.handle_datagram(
        t0,
        addr(A),
        &answer(&to(&sent, A).payload, "203.0.113.9:40001"),
    );
    c.handle_datagram(
        t0,
        addr(B),
        &answer(&to(&sent, B).payload, "203.0.113.9:40002"),
    );
    let r = c.report();
    assert_eq!(r.mapping, Some(Mapping::Symmetric));
    assert_eq!(r.port_preserved, Some(false));
}

#[test]
fn unanswered_requests_are_retransmitted_then_given_up() {
    let t0 = Instant::now();
    let (mut c, first) = client(t0);
    let mut sends = first.len();
    let mut now = t0;
    let mut steps = 0;
    while c.report().checking {
        now = c.poll_timeout().expect("a retransmission is due");
        c.handle_timeout(now);
        sends += drain(&mut c).len();
        steps += 1;
        assert!(steps < 50, "never gave up");
    }
    assert_eq!(sends, 12, "six sends to each of two servers");
    let waited = now - t0;
    assert!(
        waited > Duration::from_secs(5) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let r = c.report();
    assert!(
        r.servers.iter().all(|s| s.probe == Probe::NoAnswer),
        "{r:?}"
    );
    assert_eq!(r.mapping, None);
    assert_eq!(r.public(), None);
}

#[test]
fn only_a_configured_server_answers_and_only_to_its_own_question() {
    let t0 = Instant::now();
    let (mut c, sent) = client(t0);
    let good = answer(&to(&sent, A).payload, "203.0.113.9:9001");
    // A plain peer, even one sending STUN-shaped bytes, is left to the protocol.
    assert!(!c.handle_datagram(t0, addr("203.0.113.50:9002"), &good));
    assert!(!c.handle_datagram(t0, addr("203.0.113.50:9002"), b"hello"));
    // From B, the answer to A's question is taken as STUN's but believed by nobody.
    assert!(c.handle_datagram(t0, addr(B), &good));
    // Junk from a server is swallowed, never handed on.
    assert!(c.handle_datagram(t0, addr(A), b"not stun"));
    let r = c.report();
    assert!(r.servers.iter().all(|s| s.probe == Probe::Waiting), "{r:?}");
    // The real answer still counts, once.
    assert!(c.handle_datagram(t0, addr(A), &good));
    assert_eq!(
        c.report().servers[0].probe,
        Probe::Answered(addr("203.0.113.9:9001"))
    );
    assert!(
        c.handle_datagram(t0, addr(A), &good),
        "a repeat is swallowed"
    );
}

#[test]
fn an_unresolved_name_is_reported_and_not_asked() {
    let t0 = Instant::now();
    let mut c = StunClient::new(&["nowhere.invalid:3478".to_owned()]);
    c.set_servers(
        t0,
        vec![StunServer {
            name: "nowhere.invalid:3478".into(),
            addr: None,
        }],
        addr(LOCAL),
    );
    assert!(drain(&mut c).is_empty());
    let r = c.report();
    assert!(!r.checking);
    assert_eq!(r.servers[0].probe, Probe::Unresolved);
}

#[test]
fn a_refresh_asks_again_at_once() {
    let t0 = Instant::now();
    let (mut c, sent) = client(t0);
    c.handle_datagram(
        t0,
        addr(A),
        &answer(&to(&sent, A).payload, "203.0.113.9:9001"),
    );
    c.handle_datagram(
        t0,
        addr(B),
        &answer(&to(&sent, B).payload, "203.0.113.9:9001"),
    );
    let _ = c.poll_report();
    c.refresh(t0 + Duration::from_secs(5));
    assert_eq!(drain(&mut c).len(), 2);
    let r = c.poll_report().expect("a refresh reports");
    assert!(r.checking);
    assert_eq!(
        r.public(),
        Some(addr("203.0.113.9:9001")),
        "the last answer stays shown"
    );
}
