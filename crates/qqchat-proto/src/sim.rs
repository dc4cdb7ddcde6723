//! A simulated network for two [`Node`]s on a simulated clock, with seeded loss, duplication,
//! reordering and delay. Tests and benchmarks drive the real protocol through it, thousands
//! of round trips a second, the same way every run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Event, Node, PeerId};

/// A small deterministic generator (xorshift64*), so a seed gives the same run every time.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// How the simulated link mistreats datagrams.
#[derive(Debug, Clone)]
pub struct Link {
    pub loss: f64,
    pub duplicate: f64,
    /// Each datagram is delayed by `delay` plus up to `jitter`, which reorders them.
    pub delay: Duration,
    pub jitter: Duration,
}

impl Link {
    pub fn perfect() -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
        }
    }

    pub fn hostile() -> Self {
        Self {
            loss: 0.30,
            duplicate: 0.10,
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(40),
        }
    }
}

struct InFlight {
    at: Instant,
    order: u64,
    to: usize,
    from: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// A filter that may drop a datagram: `(from_index, bytes) -> keep`.
pub type Filter = Box<dyn FnMut(usize, &[u8]) -> bool>;

/// Two nodes joined by a simulated link.
pub struct Pair {
    pub nodes: [Node; 2],
    /// Where each node's datagrams come from; change one to move that node (roaming).
    pub addrs: [SocketAddr; 2],
    /// How the other node names each node: its address, or its key once it has one.
    pub ids: [PeerId; 2],
    pub link: Link,
    pub now: Instant,
    pub rng: Rng,
    /// Everything each node reported, in order.
    pub events: [Vec<Event>; 2],
    /// Drops whatever it returns false for, before the link's own loss.
    pub filter: Option<Filter>,
    /// Further addresses of each node, one per network: a datagram to `extra[j][k]` reaches
    /// node `j` from `extra[i][k]` (the sender's address on that network), and is lost when
    /// the sender has none there. Models a LAN beside a public path, or a stale candidate.
    pub extra: [Vec<SocketAddr>; 2],
    queue: BinaryHeap<Reverse<InFlight>>,
    order: u64,
}

impl Pair {
    pub fn new(a: Node, b: Node, link: Link, seed: u64) -> Self {
        // Labels only: the simulation never touches a socket.
        let addrs = [
            SocketAddr::from(([127, 0, 0, 1], 1001)),
            SocketAddr::from(([127, 0, 0, 1], 1002)),
        ];
        Self {
            nodes: [a, b],
            addrs,
            ids: addrs.map(PeerId::addr),
            link,
            now: Instant::now(),
            rng: Rng::new(seed),
            events: [Vec::new(), Vec::new()],
            filter: None,
            extra: [Vec::new(), Vec::new()],
            queue: BinaryHeap::new(),
            order: 0,
        }
    }

    /// Makes each node a contact of the other, as two people chatting are.
    pub fn befriend(&mut self) {
        let now = self.now;
        self.nodes[0].watch(now, self.ids[1]);
        self.nodes[1].watch(now, self.ids[0]);
    }

    /// Moves every pending transmit onto the link and collects events.
    fn drain(&mut self) {
        for i in 0..2 {
            while let Some(t) = self.nodes[i].poll_transmit() {
                // Sent to an address the other node has left: lost, as on a real network.
                let to = 1 - i;
                let from = if t.dst == self.addrs[to] {
                    self.addrs[i]
                } else {
                    let net = self.extra[to].iter().position(|&a| a == t.dst);
                    match net.and_then(|k| self.extra[i].get(k)) {
                        Some(&a) => a,
                        None => continue,
                    }
                };
                if let Some(filter) = self.filter.as_mut()
                    && !filter(i, &t.payload)
                {
                    continue;
                }
                if self.rng.chance(self.link.loss) {
                    continue;
                }
                let copies = if self.rng.chance(self.link.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let jitter = self.link.jitter.as_micros() as u64;
                    let delay = self.link.delay
                        + Duration::from_micros(self.rng.below(jitter.saturating_add(1)));
                    self.order += 1;
                    self.queue.push(Reverse(InFlight {
                        at: self.now + delay,
                        order: self.order,
                        to,
                        from,
                        bytes: t.payload.clone(),
                    }));
                }
            }
            while let Some(e) = self.nodes[i].poll_event() {
                self.events[i].push(e);
            }
        }
    }

    /// Advances to the next thing that happens; false when nothing is left to happen.
    pub fn step(&mut self) -> bool {
        self.drain();
        let next_packet = self.queue.peek().map(|Reverse(p)| p.at);
        let next_timer = self.nodes.iter().filter_map(Node::poll_timeout).min();
        let Some(next) = [next_packet, next_timer].into_iter().flatten().min() else {
            return false;
        };
        self.now = self.now.max(next);
        while let Some(Reverse(p)) = self.queue.peek() {
            if p.at > self.now {
                break;
            }
            let Some(Reverse(p)) = self.queue.pop() else {
                break;
            };
            self.nodes[p.to].handle_datagram(self.now, p.from, &p.bytes);
        }
        for node in &mut self.nodes {
            if node.poll_timeout().is_some_and(|t| t <= self.now) {
                node.handle_timeout(self.now);
            }
        }
        self.drain();
        true
    }

    /// Steps until `done` holds or `max_steps` pass; returns whether `done` held.
    pub fn run_until(&mut self, max_steps: usize, mut done: impl FnMut(&Pair) -> bool) -> bool {
        for _ in 0..max_steps {
            if done(self) {
                return true;
            }
            if !self.step() {
                return done(self);
            }
        }
        done(self)
    }

    /// Lets simulated time pass, handling whatever happens meanwhile.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            self.drain();
            let next_packet = self.queue.peek().map(|Reverse(p)| p.at);
            let next_timer = self.nodes.iter().filter_map(Node::poll_timeout).min();
            match [next_packet, next_timer].into_iter().flatten().min() {
                Some(t) if t <= end => {
                    self.step();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Texts node `i` received, in order.
    pub fn received(&self, i: usize) -> Vec<&str> {
        self.events[i]
            .iter()
            .filter_map(|e| match e {
                Event::Received { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Puts arbitrary bytes through the decoder and a whole node, as one datagram and as several:
/// the body of the fuzz target, and of the test that replays its corpus. Panics only on a bug.
pub fn exercise(data: &[u8]) {
    let _ = super::wire::decode(data);
    let mut node = Node::new(super::Config::new(1));
    let now = Instant::now();
    let from = SocketAddr::from(([127, 0, 0, 1], 9000));
    node.handle_datagram(now, from, data);
    for (i, chunk) in data.split(|&b| b == 0xFE).enumerate() {
        node.handle_datagram(now + Duration::from_millis(i as u64), from, chunk);
    }
    node.handle_timeout(now + Duration::from_secs(120));
    while node.poll_transmit().is_some() {}
    while node.poll_event().is_some() {}
    assert!(
        node.buffered_bytes() <= 64 << 20,
        "buffers grew without bound"
    );
}
