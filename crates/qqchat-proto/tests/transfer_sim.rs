//! File transfers between two [`Transfers`] on a simulated clock: a link with a bandwidth
//! limit, a drop-tail queue, delay, jitter (which reorders), loss and duplication, and files
//! held in memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use qqchat_proto::sim::Rng;
use qqchat_proto::transfer::wire::{self, XferPacket};
use qqchat_proto::transfer::{
    FileKey, Held, Manifest, Offer, Storage, Transfers, XferConfig, XferEvent,
};

/// Files in memory; a write past the end grows the file.
#[derive(Default)]
struct MemFiles {
    files: HashMap<FileKey, Vec<u8>>,
}

impl Storage for MemFiles {
    fn read_at(&mut self, key: FileKey, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let f = self
            .files
            .get(&key)
            .ok_or_else(|| std::io::Error::other("no such file"))?;
        let start = offset as usize;
        let src = f
            .get(start..start + buf.len())
            .ok_or_else(|| std::io::Error::other("short read"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&mut self, key: FileKey, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let f = self.files.entry(key).or_default();
        let end = offset as usize + data.len();
        if f.len() < end {
            f.resize(end, 0);
        }
        f[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

struct End {
    t: Transfers,
    files: MemFiles,
    events: Vec<(Instant, XferEvent)>,
    /// Data packets and their bytes this end sent.
    data_sent: u64,
    data_bytes_sent: u64,
}

impl End {
    fn new(config: XferConfig) -> Self {
        Self {
            t: Transfers::new(config),
            files: MemFiles::default(),
            events: vec![],
            data_sent: 0,
            data_bytes_sent: 0,
        }
    }
}

#[derive(Clone)]
struct Link {
    loss: f64,
    duplicate: f64,
    delay: Duration,
    jitter: Duration,
    /// Bytes per second through the bottleneck; 0 for no limit.
    rate: u64,
    /// Bytes the bottleneck queue holds before it drops.
    queue: u64,
}

impl Link {
    fn limited(rate: u64) -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            delay: Duration::from_millis(20),
            jitter: Duration::ZERO,
            rate,
            queue: 64 * 1024,
        }
    }

    fn lossy(loss: f64) -> Self {
        Self {
            loss,
            duplicate: 0.05,
            jitter: Duration::from_millis(10),
            ..Self::limited(4_000_000)
        }
    }
}

/// A datagram on the way: when it arrives, a tie-breaker, to which end, its bytes.
type Arrival = (Instant, u64, usize, Vec<u8>);

struct Net {
    now: Instant,
    start: Instant,
    rng: Rng,
    link: Link,
    ends: [End; 2],
    in_flight: BinaryHeap<Reverse<Arrival>>,
    order: u64,
    link_free: [Instant; 2],
    queue_drops: u64,
}

impl Net {
    fn new(seed: u64, link: Link) -> Self {
        let now = Instant::now();
        Self {
            now,
            start: now,
            rng: Rng::new(seed),
            link,
            ends: [End::new(config()), End::new(config())],
            in_flight: BinaryHeap::new(),
            order: 0,
            link_free: [now; 2],
            queue_drops: 0,
        }
    }

    /// Puts a datagram from `from` on the link.
    fn transmit(&mut self, from: usize, bytes: Vec<u8>) {
        let to = 1 - from;
        let mut at = self.now;
        if self.link.rate > 0 {
            let start = self.link_free[from].max(self.now);
            let queued = (start - self.now).as_secs_f64() * self.link.rate as f64;
            if queued > self.link.queue as f64 {
                self.queue_drops += 1;
                return;
            }
            let wire = bytes.len() as f64 + 40.0;
            self.link_free[from] = start + Duration::from_secs_f64(wire / self.link.rate as f64);
            at = self.link_free[from];
        }
        if self.rng.chance(self.link.loss) {
            return;
        }
        let copies = if self.rng.chance(self.link.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = if self.link.jitter.is_zero() {
                Duration::ZERO
            } else {
                Duration::from_micros(self.rng.below(self.link.jitter.as_micros() as u64))
            };
            self.order += 1;
            self.in_flight.push(Reverse((
                at + self.link.delay + jitter,
                self.order,
                to,
                bytes.clone(),
            )));
        }
    }

    /// Sends whatever each end has to send now.
    fn flush(&mut self) {
        for i in 0..2 {
            loop {
                let now = self.now;
                let e = &mut self.ends[i];
                let Some(bytes) = e.t.poll_transmit(now, &mut e.files) else {
                    break;
                };
                if let Ok(XferPacket::Data(d)) = wire::decode(&bytes) {
                    e.data_sent += 1;
                    e.data_bytes_sent += d.bytes.len() as u64;
                }
                self.transmit(i, bytes);
            }
            let e = &mut self.ends[i];
            while let Some(ev) = e.t.poll_event() {
                e.events.push((self.now, ev));
            }
        }
    }

    /// Runs until `done` holds or `limit` of simulated time passed; true if `done` held.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Net) -> bool) -> bool {
        let deadline = self.now + limit;
        loop {
            self.flush();
            if done(self) {
                return true;
            }
            let next = [
                self.in_flight.peek().map(|Reverse((at, ..))| *at),
                self.ends[0].t.poll_timeout(),
                self.ends[1].t.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else {
                return false;
            };
            if next > deadline {
                self.now = deadline;
                return false;
            }
            self.now = self.now.max(next);
            while let Some(Reverse((at, ..))) = self.in_flight.peek() {
                if *at > self.now {
                    break;
                }
                let Some(Reverse((_, _, to, bytes))) = self.in_flight.pop() else {
                    break;
                };
                let e = &mut self.ends[to];
                e.t.handle(self.now, &bytes, &mut e.files)
                    .expect("every packet an end sends decodes");
            }
            for e in &mut self.ends {
                if e.t.poll_timeout().is_some_and(|t| t <= self.now) {
                    e.t.handle_timeout(self.now);
                }
            }
        }
    }

    fn has_event(&self, end: usize, want: impl Fn(&XferEvent) -> bool) -> bool {
        self.ends[end].events.iter().any(|(_, e)| want(e))
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }
}

fn config() -> XferConfig {
    XferConfig {
        window: 4 * 1024 * 1024,
        ..XferConfig::default()
    }
}

fn file(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

const BLOCK: u32 = 256 * 1024;

/// Puts `data` at end 0 and offers it to end 1, which accepts with nothing held.
fn offer_and_accept(net: &mut Net, id: u64, data: &[u8]) -> Offer {
    net.ends[0]
        .files
        .files
        .insert(FileKey::outgoing(id), data.to_vec());
    let manifest = Manifest::of_bytes(data, BLOCK);
    let now = net.now;
    net.ends[0]
        .t
        .send(now, id, &format!("file-{id}.bin"), manifest)
        .expect("a new transfer");
    assert!(net.run_until(Duration::from_secs(30), |n| {
        n.ends[1]
            .events
            .iter()
            .any(|(_, e)| matches!(e, XferEvent::Offered { offer } if offer.id == id))
    }));
    let offer = net.ends[1]
        .events
        .iter()
        .find_map(|(_, e)| match e {
            XferEvent::Offered { offer } if offer.id == id => Some(offer.clone()),
            _ => None,
        })
        .expect("offered");
    let now = net.now;
    net.ends[1]
        .t
        .accept(now, id, &Held::default())
        .expect("accept the offer");
    offer
}

fn verified(net: &Net, id: u64) -> bool {
    net.has_event(1, |e| {
        *e == XferEvent::Verified {
            key: FileKey::incoming(id),
        }
    }) && net.has_event(0, |e| {
        *e == XferEvent::Delivered {
            key: FileKey::outgoing(id),
        }
    })
}

fn received(net: &Net, id: u64) -> &[u8] {
    net.ends[1]
        .files
        .files
        .get(&FileKey::incoming(id))
        .map_or(&[], |v| v.as_slice())
}

#[test]
fn a_file_arrives_bit_exact_through_loss_duplication_and_reordering() {
    for (seed, loss) in [(1, 0.05), (2, 0.15), (3, 0.30)] {
        let data = file(seed, 3 * 1024 * 1024 + 777);
        let mut net = Net::new(seed, Link::lossy(loss));
        offer_and_accept(&mut net, 7, &data);
        let t0 = net.now;
        assert!(
            net.run_until(Duration::from_secs(600), |n| verified(n, 7)),
            "loss {loss}: not verified after {:?}; events {:?}",
            net.elapsed(),
            net.ends[1].events
        );
        assert!(
            received(&net, 7) == data.as_slice(),
            "loss {loss}: bytes differ"
        );
        let secs = (net.now - t0).as_secs_f64();
        let sent = net.ends[0].data_bytes_sent as f64;
        eprintln!(
            "loss {:>4.0} %: {:.2} s, goodput {:.2} MB/s over a {:.1} MB/s link, {:.2}x bytes sent, {} lost, cwnd {}, {} reductions, {} timeouts",
            loss * 100.0,
            secs,
            data.len() as f64 / secs / 1e6,
            net.link.rate as f64 / 1e6,
            sent / data.len() as f64,
            net.ends[0].t.lost_packets(),
            net.ends[0].t.cwnd(),
            net.ends[0].t.congestion().reductions,
            net.ends[0].t.congestion().timeouts,
        );
        // Retransmissions stay near what the loss requires.
        assert!(
            sent < data.len() as f64 * (1.0 / (1.0 - loss)) * 1.5,
            "loss {loss}: {sent}"
        );
    }
}

#[test]
fn goodput_is_near_the_link_rate_without_loss() {
    let rate = 12_500_000; // 100 Mbit/s
    let data = file(9, 8 * 1024 * 1024);
    let mut net = Net::new(9, Link::limited(rate));
    offer_and_accept(&mut net, 1, &data);
    let t0 = net.now;
    assert!(net.run_until(Duration::from_secs(60), |n| verified(n, 1)));
    assert!(received(&net, 1) == data.as_slice());
    let secs = (net.now - t0).as_secs_f64();
    let goodput = data.len() as f64 / secs;
    eprintln!(
        "no loss: {:.2} s, goodput {:.2} MB/s over a {:.2} MB/s link ({:.0} %), queue drops {}, cwnd reductions {}",
        secs,
        goodput / 1e6,
        rate as f64 / 1e6,
        goodput / rate as f64 * 100.0,
        net.queue_drops,
        net.ends[0].t.congestion().reductions
    );
    assert!(goodput > rate as f64 * 0.6, "goodput {goodput}");
}
