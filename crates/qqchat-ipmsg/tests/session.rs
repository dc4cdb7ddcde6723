//! Endpoints wired together on a simulated LAN and clock, with seeded loss: entry, messages,
//! retransmission and give-up, end to end.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use qqchat_ipmsg::consts::*;
use qqchat_ipmsg::{Config, Endpoint, Event, RawPacket};

/// xorshift64*: the same seed gives the same run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

const SUBNET_BROADCAST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 255);

struct Lan {
    now: Instant,
    start: Instant,
    nodes: BTreeMap<IpAddr, Endpoint>,
    /// (deliver at, from, to, bytes)
    wire: Vec<(Instant, SocketAddr, IpAddr, Vec<u8>)>,
    events: HashMap<IpAddr, Vec<Event>>,
    rng: Rng,
    loss: f64,
    delay: Duration,
    /// Every datagram put on the wire: (from, to, bytes).
    log: Vec<(IpAddr, IpAddr, Vec<u8>)>,
}

fn addr(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

impl Lan {
    fn new(seed: u64, loss: f64, configure: impl Fn(&mut Config)) -> Self {
        let start = Instant::now();
        let mut nodes = BTreeMap::new();
        for (last, name) in [(1u8, "ann"), (2, "ben")] {
            let mut c = Config::new(name, &format!("{name}-pc"), name);
            c.local_ips = vec![addr(last)];
            c.broadcasts = vec![SUBNET_BROADCAST];
            configure(&mut c);
            nodes.insert(
                addr(last),
                Endpoint::new(c, 1_733_300_000 + u32::from(last) * 7),
            );
        }
        Self {
            now: start,
            start,
            nodes,
            wire: Vec::new(),
            events: HashMap::new(),
            rng: Rng::new(seed),
            loss,
            delay: Duration::from_millis(2),
            log: Vec::new(),
        }
    }

    fn node(&mut self, ip: IpAddr) -> &mut Endpoint {
        self.nodes.get_mut(&ip).expect("a node of this LAN")
    }

    /// Moves every node's output onto the wire and every event into `events`.
    fn collect(&mut self) {
        let ips: Vec<IpAddr> = self.nodes.keys().copied().collect();
        for ip in ips {
            let node = self.nodes.get_mut(&ip).expect("node");
            let mut out = Vec::new();
            while let Some(t) = node.poll_transmit() {
                out.push(t);
            }
            while let Some(e) = node.poll_event() {
                self.events.entry(ip).or_default().push(e);
            }
            for t in out {
                assert_eq!(t.dst.port(), PORT);
                let targets: Vec<IpAddr> = if t.broadcast {
                    // A broadcast reaches everyone, its sender included.
                    self.nodes.keys().copied().collect()
                } else {
                    vec![t.dst.ip()]
                };
                for to in targets {
                    self.log.push((ip, to, t.payload.clone()));
                    if self.rng.chance(self.loss) {
                        continue;
                    }
                    let from = SocketAddr::new(ip, 40000 + u16::from(ip.to_string().len() as u8));
                    self.wire
                        .push((self.now + self.delay, from, to, t.payload.clone()));
                }
            }
        }
    }

    /// Runs until nothing is on the wire and no timer is due before `until`.
    fn run_until(&mut self, until: Duration) {
        let end = self.start + until;
        loop {
            self.collect();
            let next_wire = self.wire.iter().map(|w| w.0).min();
            let next_timer = self.nodes.values().filter_map(Endpoint::poll_timeout).min();
            let next = match (next_wire, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            let now = self.now;
            let (due, rest): (Vec<_>, Vec<_>) = self.wire.drain(..).partition(|w| w.0 <= now);
            self.wire = rest;
            for (_, from, to, bytes) in due {
                if let Some(node) = self.nodes.get_mut(&to) {
                    node.handle_datagram(now, from, &bytes);
                }
            }
            for node in self.nodes.values_mut() {
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                }
            }
        }
        self.now = self.now.max(end);
    }

    fn take_events(&mut self, ip: IpAddr) -> Vec<Event> {
        self.events.remove(&ip).unwrap_or_default()
    }
}

fn received_texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Received { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn delivered(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Delivered { id } => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn entry_then_messages_both_ways() {
    let (a, b) = (addr(1), addr(2));
    let mut lan = Lan::new(1, 0.0, |_| {});
    lan.node(a).announce();
    lan.run_until(Duration::from_secs(1));
    let ev_b = lan.take_events(b);
    assert!(
        matches!(&ev_b[..], [Event::PeerEntered(p)] if p.ip == a && p.nick == "ann"),
        "{ev_b:?}"
    );
    let ev_a = lan.take_events(a);
    assert!(
        matches!(&ev_a[..], [Event::PeerEntered(p)] if p.ip == b && p.nick == "ben" && p.utf8),
        "ann hears ben's answer, not her own broadcast: {ev_a:?}"
    );

    let now = lan.now;
    lan.node(a)
        .send(now, b, "hello ben, 你好", 1)
        .expect("queued");
    lan.node(b).send(now, a, "hi ann", 2).expect("queued");
    lan.run_until(Duration::from_secs(5));
    let ev_a = lan.take_events(a);
    let ev_b = lan.take_events(b);
    assert_eq!(received_texts(&ev_b), ["hello ben, 你好"]);
    assert_eq!(received_texts(&ev_a), ["hi ann"]);
    assert_eq!(delivered(&ev_a), [1]);
    assert_eq!(delivered(&ev_b), [2]);
    assert_eq!(lan.node(a).stats().retransmits, 0);

    lan.node(b).quit();
    lan.run_until(Duration::from_secs(6));
    assert_eq!(lan.take_events(a), vec![Event::PeerLeft { ip: b }]);
    assert_eq!(lan.node(a).peers().count(), 0);
}

#[test]
fn lossy_lan_delivers_every_message_once_in_order() {
    let (a, b) = (addr(1), addr(2));
    for seed in 0..40 {
        let mut lan = Lan::new(seed, 0.3, |c| c.give_up = Duration::from_secs(300));
        let now = lan.now;
        let sent: Vec<String> = (0..15)
            .map(|i| format!("message {i} of seed {seed}"))
            .collect();
        for (i, text) in sent.iter().enumerate() {
            lan.node(a).send(now, b, text, i as u64).expect("queued");
            lan.node(b)
                .send(now, a, text, 100 + i as u64)
                .expect("queued");
        }
        lan.run_until(Duration::from_secs(3600));
        let ev_a = lan.take_events(a);
        let ev_b = lan.take_events(b);
        assert_eq!(
            received_texts(&ev_b),
            sent,
            "seed {seed}: each shown once, in order"
        );
        assert_eq!(received_texts(&ev_a), sent, "seed {seed}");
        assert_eq!(
            delivered(&ev_a),
            (0..15).collect::<Vec<u64>>(),
            "seed {seed}"
        );
        assert_eq!(
            delivered(&ev_b),
            (100..115).collect::<Vec<u64>>(),
            "seed {seed}"
        );
        assert_eq!(lan.node(a).poll_timeout(), None);
        assert_eq!(lan.node(a).queued(), 0);
    }
}

#[test]
fn retransmissions_carry_the_same_number_and_the_receiver_shows_one() {
    let (a, b) = (addr(1), addr(2));
    // Much loss, so receipts are lost while messages get through: duplicates arrive.
    let mut dup_total = 0;
    for seed in 0..20 {
        let mut lan = Lan::new(seed, 0.5, |c| c.give_up = Duration::from_secs(600));
        let now = lan.now;
        lan.node(a).send(now, b, "only once", 1).expect("queued");
        lan.run_until(Duration::from_secs(3600));
        let numbers: Vec<u64> = lan
            .log
            .iter()
            .filter(|(from, _, _)| *from == a)
            .filter_map(|(_, _, bytes)| RawPacket::parse(bytes).ok())
            .filter(|r| r.cmd() == SENDMSG)
            .map(|r| r.packet_no)
            .collect();
        assert!(!numbers.is_empty());
        assert!(
            numbers.iter().all(|n| *n == numbers[0]),
            "seed {seed}: {numbers:?}"
        );
        assert_eq!(
            received_texts(&lan.take_events(b)),
            ["only once"],
            "seed {seed}"
        );
        assert_eq!(delivered(&lan.take_events(a)), [1], "seed {seed}");
        dup_total += lan.node(b).stats().duplicates;
    }
    assert!(
        dup_total > 0,
        "the runs must include a retransmitted duplicate"
    );
}

#[test]
fn a_silent_peer_makes_the_message_fail() {
    let (a, b) = (addr(1), addr(2));
    let mut lan = Lan::new(3, 1.0, |c| c.give_up = Duration::from_secs(30));
    let now = lan.now;
    lan.node(a)
        .send(now, b, "into the void", 5)
        .expect("queued");
    lan.run_until(Duration::from_secs(29));
    assert!(lan.take_events(a).is_empty());
    lan.run_until(Duration::from_secs(31));
    assert_eq!(lan.take_events(a), vec![Event::Failed { id: 5 }]);
    let tries = lan.log.iter().filter(|(from, _, _)| *from == a).count();
    // At 0, 1, 3, 7, 15 and 23 s.
    assert_eq!(tries, 6);
}

#[test]
fn a_broadcast_storm_between_endpoints_does_not_echo_forever() {
    // Both announce again and again: answers stay bounded and nobody answers an answer.
    let (a, b) = (addr(1), addr(2));
    let mut lan = Lan::new(4, 0.0, |_| {});
    for _ in 0..100 {
        lan.node(a).announce();
        lan.node(b).announce();
    }
    lan.run_until(Duration::from_secs(1));
    let answers = lan
        .log
        .iter()
        .filter_map(|(_, _, bytes)| RawPacket::parse(bytes).ok())
        .filter(|r| r.cmd() == ANSENTRY)
        .count();
    assert_eq!(
        answers,
        2 * 3,
        "each answers the other's burst of three only"
    );
    assert_eq!(lan.node(a).peers().count(), 1);
    assert_eq!(lan.node(b).peers().count(), 1);
}

/// A stand-in for iptux as far as messages go: it acknowledges every `SENDMSG` with 289,
/// then drops one whose number is not above the last it took from that IP; an entry or
/// absence packet from the IP resets that number.
struct IptuxModel {
    last: u64,
    shown: Vec<String>,
    next_no: u64,
}

impl IptuxModel {
    fn handle(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let Ok(raw) = RawPacket::parse(bytes) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.next_no += 1;
        match raw.cmd() {
            BR_ENTRY | BR_ABSENCE | ANSENTRY => self.last = 0,
            SENDMSG => {
                if raw.opts() & SENDCHECKOPT != 0 {
                    out.push(
                        format!(
                            "1_iptux 0.8.3:{}:alice:pc1:289:{}\0",
                            self.next_no, raw.packet_no
                        )
                        .into_bytes(),
                    );
                }
                if raw.packet_no > self.last {
                    self.last = raw.packet_no;
                    self.shown
                        .push(String::from_utf8_lossy(raw.text()).into_owned());
                }
            }
            _ => {}
        }
        out
    }
}

#[test]
fn an_iptux_peer_shows_every_message_despite_loss() {
    let iptux_ip = addr(5);
    let iptux_from = SocketAddr::new(iptux_ip, 2425);
    for seed in 0..30 {
        let mut rng = Rng::new(seed);
        let mut c = Config::new("ann", "ann-pc", "ann");
        c.give_up = Duration::from_secs(600);
        let mut ep = Endpoint::new(c, 1_733_300_000);
        let mut iptux = IptuxModel {
            last: 0,
            shown: Vec::new(),
            next_no: 1_000,
        };
        let start = Instant::now();
        let mut now = start;
        let sent: Vec<String> = (0..12).map(|i| format!("line {i}")).collect();
        for (i, text) in sent.iter().enumerate() {
            ep.send(now, iptux_ip, text, i as u64).expect("queued");
        }
        let mut delivered = Vec::new();
        // Zero-delay wire: what the model answers arrives at once, unless lost.
        for _ in 0..10_000 {
            while let Some(t) = ep.poll_transmit() {
                if rng.chance(0.3) {
                    continue;
                }
                for answer in iptux.handle(&t.payload) {
                    if !rng.chance(0.3) {
                        ep.handle_datagram(now, iptux_from, &answer);
                    }
                }
            }
            while let Some(e) = ep.poll_event() {
                if let Event::Delivered { id } = e {
                    delivered.push(id);
                }
            }
            match ep.poll_timeout() {
                Some(at) => {
                    now = now.max(at);
                    ep.handle_timeout(now);
                }
                None => break,
            }
        }
        assert_eq!(
            iptux.shown, sent,
            "seed {seed}: iptux shows each message once, in order"
        );
        assert_eq!(delivered, (0..12).collect::<Vec<u64>>(), "seed {seed}");
    }
}
