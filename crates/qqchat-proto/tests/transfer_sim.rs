//! File transfers between two [`Transfers`] on a simulated clock: a link with a bandwidth
//! limit, a drop-tail queue, delay, jitter (which reorders), loss and duplication, and files
//! held in memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use qqchat_proto::sim::Rng;
use qqchat_proto::transfer::cc::MSS;
use qqchat_proto::transfer::wire::{self, XferPacket};
use qqchat_proto::transfer::{
    FailReason, FileKey, Held, Manifest, Offer, Storage, Transfers, XferConfig, XferEvent,
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
            ends: [End::new(config(1)), End::new(config(2))],
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
        let mut stuck = 0;
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
            // A timer that stays due after it ran would spin here for ever.
            stuck = if next <= self.now { stuck + 1 } else { 0 };
            assert!(stuck < 10_000, "a timer stays due at {:?}", self.elapsed());
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

fn config(session: u32) -> XferConfig {
    XferConfig {
        window: 4 * 1024 * 1024,
        session,
        ..XferConfig::default()
    }
}

/// The end loses its memory, as after `kill -9`; its files stay.
fn restart(net: &mut Net, end: usize, session: u32) {
    net.ends[end].t = Transfers::new(config(session));
}

fn held_bytes(net: &Net, id: u64) -> u64 {
    net.ends[1].t.held(id).map_or(0, |h| h.bytes())
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
        let mut most_ranges = 0;
        assert!(
            net.run_until(Duration::from_secs(600), |n| {
                most_ranges = most_ranges.max(n.ends[1].t.held(7).map_or(0, |h| h.ranges.len()));
                verified(n, 7)
            }),
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
            "loss {:>4.0} %: {:.2} s, goodput {:.2} MB/s over a {:.1} MB/s link, {:.2}x bytes sent, {} lost ({} spurious), cwnd {}, {} reductions, {} timeouts",
            loss * 100.0,
            secs,
            data.len() as f64 / secs / 1e6,
            net.link.rate as f64 / 1e6,
            sent / data.len() as f64,
            net.ends[0].t.lost_packets(),
            net.ends[0].t.spurious_losses(),
            net.ends[0].t.cwnd(),
            net.ends[0].t.congestion().reductions,
            net.ends[0].t.congestion().timeouts,
        );
        // The receiver's record of what it holds is bounded by its window, not the file.
        let window = config(0).window;
        assert!(most_ranges as u64 <= window / u64::from(wire::MAX_CHUNK) + 2);
        // Retransmissions stay near what the loss requires: a packet goes again when it or
        // its ack is lost.
        let expected = data.len() as f64 / (1.0 - loss).powi(2);
        assert!(sent < expected * 1.2, "loss {loss}: {sent}");
    }
}

#[test]
fn a_window_the_callers_queue_holds_back_does_not_grow() {
    // The caller takes four data packets a millisecond, as a socket that blocks at its
    // link's rate would, on a path with no bottleneck of its own and so no loss: once the
    // window covers that rate, the caller's queue is what limits, and the window must stop
    // growing there instead of growing without bound.
    let data = file(41, 16 * 1024 * 1024);
    let mut net = Net::new(41, Link::limited(0));
    offer_and_accept(&mut net, 1, &data);
    let per_step = 4;
    for _ in 0..3000 {
        let now = net.now;
        for i in 0..2 {
            while let Some(p) = net.ends[i].t.poll_control() {
                net.transmit(i, p);
            }
        }
        for taken in 0..=per_step {
            let e = &mut net.ends[0];
            if taken == per_step {
                e.t.data_blocked();
                break;
            }
            let Some(p) = e.t.poll_data(now, &mut e.files) else {
                break;
            };
            net.transmit(0, p);
        }
        net.now += Duration::from_millis(1);
        while let Some(Reverse((at, ..))) = net.in_flight.peek() {
            if *at > net.now {
                break;
            }
            let Some(Reverse((_, _, to, bytes))) = net.in_flight.pop() else {
                break;
            };
            let e = &mut net.ends[to];
            e.t.handle(net.now, &bytes, &mut e.files)
                .expect("every packet an end sends decodes");
        }
        for e in &mut net.ends {
            if e.t.poll_timeout().is_some_and(|t| t <= net.now) {
                e.t.handle_timeout(net.now);
            }
        }
    }
    assert!(
        held_bytes(&net, 1) > 8 * 1024 * 1024,
        "the transfer went on"
    );
    // Four packets a millisecond over a 40 ms round trip: 160 in flight.
    let packets = net.ends[0].t.cwnd() / MSS;
    assert!(packets < 400, "the window grew to {packets} packets");
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

#[test]
fn a_restarted_receiver_resumes_from_its_persisted_ranges() {
    let size = 4 * 1024 * 1024;
    let data = file(21, size);
    let mut net = Net::new(21, Link::lossy(0.05));
    let offer = offer_and_accept(&mut net, 5, &data);
    assert!(net.run_until(Duration::from_secs(600), |n| held_bytes(n, 5)
        > size as u64 / 2));
    let held = net.ends[1].t.held(5).expect("receiving");
    // More reaches the disk after the last save: the file holds bytes the saved value omits.
    net.run_until(Duration::from_millis(300), |_| false);
    let sent_before = net.ends[0].data_bytes_sent;
    restart(&mut net, 1, 3);
    let now = net.now;
    net.ends[1]
        .t
        .restore(now, offer, &held)
        .expect("restore the transfer");
    assert!(net.run_until(Duration::from_secs(600), |n| verified(n, 5)));
    assert!(received(&net, 5) == data.as_slice());
    let resent = net.ends[0].data_bytes_sent - sent_before;
    let missing = size as u64 - held.bytes();
    eprintln!(
        "receiver restart: held {} of {size} in {} ranges, {resent} bytes sent after",
        held.bytes(),
        held.ranges.len()
    );
    assert!(
        resent < missing * 3 / 2,
        "{resent} sent for {missing} missing"
    );
}

#[test]
fn a_restarted_sender_continues_where_the_receiver_is() {
    let size = 4 * 1024 * 1024;
    let data = file(22, size);
    let mut net = Net::new(22, Link::lossy(0.05));
    offer_and_accept(&mut net, 6, &data);
    assert!(net.run_until(Duration::from_secs(600), |n| held_bytes(n, 6)
        > size as u64 / 2));
    let held = held_bytes(&net, 6);
    restart(&mut net, 0, 4);
    net.ends[0].data_bytes_sent = 0;
    let now = net.now;
    net.ends[0]
        .t
        .send(now, 6, "file-6.bin", Manifest::of_bytes(&data, BLOCK))
        .expect("offer again");
    assert!(net.run_until(Duration::from_secs(600), |n| verified(n, 6)));
    assert!(received(&net, 6) == data.as_slice());
    let resent = net.ends[0].data_bytes_sent;
    eprintln!("sender restart: receiver held {held} of {size}, {resent} bytes sent after");
    assert!(resent < (size as u64 - held) * 3 / 2, "{resent}");
}

#[test]
fn a_block_corrupted_on_disk_is_caught_on_resume_and_fetched_again() {
    let size = 2 * 1024 * 1024;
    let data = file(23, size);
    let mut net = Net::new(23, Link::limited(4_000_000));
    let offer = offer_and_accept(&mut net, 8, &data);
    assert!(net.run_until(Duration::from_secs(600), |n| held_bytes(n, 8)
        > size as u64 / 2));
    let held = net.ends[1].t.held(8).expect("receiving");
    assert!(held.ranges[0].0 == 0 && held.ranges[0].1 > u64::from(BLOCK));
    restart(&mut net, 1, 3);
    // One bit of block 0 flips on disk while the receiver is down.
    net.ends[1]
        .files
        .files
        .get_mut(&FileKey::incoming(8))
        .expect("partial file")[1000] ^= 0x10;
    let now = net.now;
    net.ends[1].t.restore(now, offer, &held).expect("restore");
    assert!(net.run_until(Duration::from_secs(600), |n| verified(n, 8)));
    assert!(net.has_event(1, |e| *e
        == XferEvent::BlockRejected {
            key: FileKey::incoming(8),
            block: 0
        }));
    assert!(received(&net, 8) == data.as_slice());
}

#[test]
fn a_block_that_keeps_failing_its_hash_fails_the_transfer_and_names_it() {
    let size = 1024 * 1024;
    let data = file(24, size);
    let mut net = Net::new(24, Link::limited(4_000_000));
    offer_and_accept(&mut net, 9, &data);
    // The sender's copy changes after the manifest was made: block 2 never matches.
    net.ends[0]
        .files
        .files
        .get_mut(&FileKey::outgoing(9))
        .expect("source")[2 * BLOCK as usize + 5] ^= 1;
    let bad = XferEvent::Failed {
        key: FileKey::incoming(9),
        reason: FailReason::BadBlock(2),
        by_peer: false,
    };
    assert!(
        net.run_until(Duration::from_secs(120), |n| n.has_event(1, |e| *e == bad)
            && n.has_event(0, |e| matches!(
                e,
                XferEvent::Failed { by_peer: true, .. }
            )))
    );
    assert!(!net.has_event(1, |e| matches!(e, XferEvent::Verified { .. })));
}

#[test]
fn the_congestion_window_grows_in_slow_start_shrinks_on_loss_and_grows_again() {
    let rate = 2_500_000;
    let data = file(25, 8 * 1024 * 1024);
    let mut net = Net::new(
        25,
        Link {
            queue: 32 * 1024,
            ..Link::limited(rate)
        },
    );
    offer_and_accept(&mut net, 1, &data);
    let t0 = net.now;
    let mut samples = vec![];
    assert!(net.run_until(Duration::from_secs(120), |n| {
        let c = n.ends[0].t.congestion();
        samples.push((c.window(), c.reductions, c.in_slow_start()));
        verified(n, 1)
    }));
    let secs = (net.now - t0).as_secs_f64();
    let peak_ss = samples
        .iter()
        .filter(|s| s.1 == 0)
        .map(|s| s.0)
        .max()
        .unwrap_or(0);
    assert!(
        peak_ss >= 4 * 10 * (1100 + 40),
        "slow start peaked at {peak_ss}"
    );
    let first = samples
        .iter()
        .position(|s| s.1 == 1)
        .expect("the queue overflowed at least once");
    let before = samples[first - 1].0;
    let after = samples[first].0;
    assert!(
        after as f64 <= before as f64 * 0.71 && !samples[first].2,
        "{before} -> {after}"
    );
    // After the reduction the window grows again, in congestion avoidance.
    let later = samples[first..]
        .iter()
        .take_while(|s| s.1 == 1)
        .map(|s| s.0)
        .max()
        .unwrap_or(0);
    assert!(later > after, "{after} stayed at most {later}");
    let goodput = data.len() as f64 / secs;
    eprintln!(
        "cwnd: slow start peak {peak_ss}, {before} -> {after} at the first loss, then up to {later}; \
         {} reductions; goodput {:.2} MB/s of {:.2} ({:.0} %)",
        net.ends[0].t.congestion().reductions,
        goodput / 1e6,
        rate as f64 / 1e6,
        goodput / rate as f64 * 100.0
    );
    assert!(goodput > rate as f64 * 0.7, "goodput {goodput}");
}

#[test]
fn two_transfers_share_the_link() {
    let size = 3 * 1024 * 1024;
    let a = file(26, size);
    let b = file(27, size);
    let mut net = Net::new(26, Link::limited(4_000_000));
    offer_and_accept(&mut net, 1, &a);
    offer_and_accept(&mut net, 2, &b);
    assert!(net.run_until(Duration::from_secs(120), |n| verified(n, 1)
        || verified(n, 2)));
    let (h1, h2) = (held_bytes(&net, 1), held_bytes(&net, 2));
    let behind = if verified(&net, 1) { h2 } else { h1 };
    eprintln!("two transfers: when one finished the other held {behind} of {size}");
    assert!(behind > size as u64 * 6 / 10, "{behind}");
    assert!(net.run_until(Duration::from_secs(120), |n| verified(n, 1)
        && verified(n, 2)));
    assert!(received(&net, 1) == a.as_slice() && received(&net, 2) == b.as_slice());
}

#[test]
fn control_packets_go_before_file_data() {
    // Files both ways, so each end has data to send and acks to give.
    let data = file(28, 2 * 1024 * 1024);
    let mut net = Net::new(28, Link::limited(4_000_000));
    offer_and_accept(&mut net, 1, &data);
    net.ends[1]
        .files
        .files
        .insert(FileKey::outgoing(2), data.clone());
    let now = net.now;
    net.ends[1]
        .t
        .send(now, 2, "back.bin", Manifest::of_bytes(&data, BLOCK))
        .expect("offer back");
    assert!(net.run_until(Duration::from_secs(10), |n| {
        n.has_event(0, |e| matches!(e, XferEvent::Offered { .. }))
    }));
    let now = net.now;
    net.ends[0]
        .t
        .accept(now, 2, &Held::default())
        .expect("accept");
    assert!(
        net.run_until(Duration::from_secs(60), |n| held_bytes(n, 1) > 500_000
            && n.ends[0].t.held(2).is_some_and(|h| h.bytes() > 500_000))
    );
    // Two data packets from end 1 reach end 0: an ack is due at once.
    let mut checked = 0;
    for _ in 0..200 {
        net.now += Duration::from_millis(5);
        let now = net.now;
        let [a, b] = &mut net.ends;
        let mut incoming = vec![];
        while incoming.len() < 2 {
            match b.t.poll_data(now, &mut b.files) {
                Some(p) => incoming.push(p),
                None => break,
            }
        }
        if incoming.len() < 2 {
            b.t.handle_timeout(now);
            continue;
        }
        for p in &incoming {
            a.t.handle(now, p, &mut a.files).expect("decodes");
        }
        let mut out = vec![];
        while let Some(p) = a.t.poll_transmit(now, &mut a.files) {
            let is_data = matches!(wire::decode(&p), Ok(XferPacket::Data(_)));
            out.push(is_data);
            b.t.handle(now, &p, &mut b.files).expect("decodes");
            if is_data {
                // Data went: nothing else was waiting.
                assert!(a.t.poll_control().is_none());
                break;
            }
        }
        assert!(!out.is_empty() && !out[0], "the ack goes first: {out:?}");
        checked += 1;
        while let Some(p) = b.t.poll_control() {
            a.t.handle(now, &p, &mut a.files).expect("decodes");
        }
        a.t.handle_timeout(now);
        b.t.handle_timeout(now);
    }
    assert!(checked > 20, "{checked}");
}

#[test]
fn pause_resume_and_cancel_each_transfer() {
    let size = 3 * 1024 * 1024;
    let a = file(29, size);
    let b = file(30, size);
    let mut net = Net::new(29, Link::limited(4_000_000));
    offer_and_accept(&mut net, 1, &a);
    offer_and_accept(&mut net, 2, &b);
    assert!(net.run_until(Duration::from_secs(60), |n| held_bytes(n, 1) > 500_000));
    // The receiver pauses transfer 1; the sender pauses nothing.
    let now = net.now;
    net.ends[1]
        .t
        .pause(now, FileKey::incoming(1))
        .expect("pause");
    net.run_until(Duration::from_millis(500), |_| false);
    let paused_at = held_bytes(&net, 1);
    // Ten seconds pass, transfer 2 goes on, transfer 1 stays where it was and alive.
    net.run_until(Duration::from_secs(10), |_| false);
    assert_eq!(held_bytes(&net, 1), paused_at);
    assert!(verified(&net, 2), "the other transfer goes on");
    assert!(net.has_event(0, |e| *e
        == XferEvent::Paused {
            key: FileKey::outgoing(1),
            by_peer: true
        }));
    assert!(!net.has_event(0, |e| matches!(e, XferEvent::Failed { .. })));
    let now = net.now;
    net.ends[1]
        .t
        .resume(now, FileKey::incoming(1))
        .expect("resume");
    assert!(net.run_until(Duration::from_secs(60), |n| verified(n, 1)));
    assert!(received(&net, 1) == a.as_slice());

    // The sender pauses, resumes, then cancels another.
    let c = file(31, size);
    offer_and_accept(&mut net, 3, &c);
    assert!(net.run_until(Duration::from_secs(60), |n| held_bytes(n, 3) > 500_000));
    let now = net.now;
    net.ends[0]
        .t
        .pause(now, FileKey::outgoing(3))
        .expect("pause");
    net.run_until(Duration::from_millis(500), |_| false);
    let paused_at = held_bytes(&net, 3);
    net.run_until(Duration::from_secs(5), |_| false);
    assert_eq!(held_bytes(&net, 3), paused_at);
    let now = net.now;
    net.ends[0]
        .t
        .resume(now, FileKey::outgoing(3))
        .expect("resume");
    assert!(net.run_until(Duration::from_secs(60), |n| held_bytes(n, 3)
        > paused_at + 100_000));
    net.ends[0].t.cancel(FileKey::outgoing(3)).expect("cancel");
    assert!(
        net.run_until(Duration::from_secs(10), |n| n.has_event(1, |e| *e
            == XferEvent::Cancelled {
                key: FileKey::incoming(3),
                by_peer: true,
                forgotten: false,
            }))
    );
    assert!(net.ends[1].t.held(3).is_none());
    assert_eq!(net.ends[0].t.keys().count(), 0);
}

#[test]
fn a_sender_whose_receiver_vanishes_gives_up_with_a_timeout() {
    let data = file(32, 1024 * 1024);
    let mut net = Net::new(32, Link::limited(4_000_000));
    offer_and_accept(&mut net, 1, &data);
    assert!(net.run_until(Duration::from_secs(60), |n| held_bytes(n, 1) > 100_000));
    net.link.loss = 1.0;
    assert!(
        net.run_until(Duration::from_secs(60), |n| n.has_event(0, |e| *e
            == XferEvent::Failed {
                key: FileKey::outgoing(1),
                reason: FailReason::Timeout,
                by_peer: false
            }))
    );
    assert!(net.elapsed() > Duration::from_secs(30));
}

#[test]
fn a_declined_offer_is_reported_and_not_shown_again() {
    let data = file(33, 10_000);
    let mut net = Net::new(33, Link::limited(4_000_000));
    net.ends[0]
        .files
        .files
        .insert(FileKey::outgoing(4), data.clone());
    let now = net.now;
    net.ends[0]
        .t
        .send(now, 4, "x", Manifest::of_bytes(&data, BLOCK))
        .expect("send");
    assert!(net.run_until(Duration::from_secs(10), |n| {
        n.has_event(1, |e| matches!(e, XferEvent::Offered { .. }))
    }));
    net.ends[1].t.decline(4).expect("decline");
    assert!(
        net.run_until(Duration::from_secs(10), |n| n.has_event(0, |e| *e
            == XferEvent::Declined {
                key: FileKey::outgoing(4)
            }))
    );
    let offers = |n: &Net| {
        n.ends[1]
            .events
            .iter()
            .filter(|(_, e)| matches!(e, XferEvent::Offered { .. }))
            .count()
    };
    assert_eq!(offers(&net), 1);
}

#[test]
fn an_empty_file_is_verified_by_its_hash_and_an_offer_waits_for_a_person() {
    let mut net = Net::new(34, Link::limited(4_000_000));
    net.ends[0].files.files.insert(FileKey::outgoing(1), vec![]);
    let now = net.now;
    net.ends[0]
        .t
        .send(now, 1, "empty", Manifest::of_bytes(&[], BLOCK))
        .expect("send");
    // Nobody answers for a minute: longer than the idle timeout, well within the offer's life.
    net.run_until(Duration::from_secs(60), |_| false);
    assert!(!net.has_event(0, |e| matches!(e, XferEvent::Failed { .. })));
    let now = net.now;
    net.ends[1]
        .t
        .accept(now, 1, &Held::default())
        .expect("accept");
    assert!(net.run_until(Duration::from_secs(10), |n| verified(n, 1)));
}

#[test]
fn a_receiver_restored_with_scattered_ranges_is_sent_only_the_rest() {
    let size = 4 * 1024 * 1024;
    let data = file(35, size);
    let mut net = Net::new(35, Link::limited(4_000_000));
    // What a receiver left on disk: 300 pieces of 5,000 bytes, 10,000 apart.
    let mut held = Held::default();
    let disk = net.ends[1]
        .files
        .files
        .entry(FileKey::incoming(10))
        .or_default();
    disk.resize(size, 0);
    for i in 0..300 {
        let (s, e) = (i * 10_000, i * 10_000 + 5_000);
        disk[s..e].copy_from_slice(&data[s..e]);
        held.ranges.push((s as u64, e as u64));
    }
    net.ends[0]
        .files
        .files
        .insert(FileKey::outgoing(10), data.clone());
    let manifest = Manifest::of_bytes(&data, BLOCK);
    let offer = Offer {
        id: 10,
        name: "scattered".into(),
        size: size as u64,
        hash: manifest.hash,
        block: BLOCK,
        session: 1,
    };
    let now = net.now;
    net.ends[0]
        .t
        .send(now, 10, "scattered", manifest)
        .expect("send");
    net.ends[1].t.restore(now, offer, &held).expect("restore");
    assert!(net.run_until(Duration::from_secs(60), |n| verified(n, 10)));
    assert!(received(&net, 10) == data.as_slice());
    let sent = net.ends[0].data_bytes_sent;
    let missing = size as u64 - held.bytes();
    let lost = net.ends[0].t.lost_packets() * u64::from(wire::MAX_CHUNK);
    eprintln!(
        "scattered restore: {missing} missing, {sent} sent, {} queue drops, about {lost} bytes lost",
        net.queue_drops
    );
    // Beyond what the queue dropped, nothing held goes again.
    assert!(
        sent < missing + lost + missing / 50,
        "{sent} sent for {missing} missing"
    );
}

#[test]
fn the_receive_window_bounds_what_is_sent_and_zero_stops_the_sender() {
    let size = 2 * 1024 * 1024;
    let window = 64 * 1024;
    let data = file(36, size);
    let mut net = Net::new(36, Link::lossy(0.05));
    net.ends[1].t = Transfers::new(XferConfig {
        window,
        ..config(2)
    });
    offer_and_accept(&mut net, 1, &data);
    let mut widest = 0;
    assert!(net.run_until(Duration::from_secs(600), |n| {
        if let Some(h) = n.ends[1].t.held(1)
            && let (Some(first), Some(last)) = (h.ranges.first(), h.ranges.last())
        {
            let gap = if first.0 == 0 { first.1 } else { 0 };
            widest = widest.max(last.1.saturating_sub(gap));
        }
        held_bytes(n, 1) > size as u64 / 2
    }));
    assert!(widest <= window, "data {widest} beyond the first gap");
    let now = net.now;
    net.ends[1]
        .t
        .set_window(now, 1, 0)
        .expect("close the window");
    net.run_until(Duration::from_millis(500), |_| false);
    let closed_at = held_bytes(&net, 1);
    // Closed for longer than the idle timeout: both ends stay, each hearing the other.
    net.run_until(Duration::from_secs(45), |_| false);
    assert_eq!(
        held_bytes(&net, 1),
        closed_at,
        "nothing comes through a closed window"
    );
    for end in 0..2 {
        assert!(!net.has_event(end, |e| matches!(e, XferEvent::Failed { .. })));
    }
    let now = net.now;
    net.ends[1]
        .t
        .set_window(now, 1, 1024 * 1024)
        .expect("open the window");
    assert!(net.run_until(Duration::from_secs(600), |n| verified(n, 1)));
    assert!(received(&net, 1) == data.as_slice());
}

#[test]
fn random_hostile_links_with_restarts_of_either_side() {
    for seed in 100..110u64 {
        let mut rng = Rng::new(seed);
        let loss = rng.below(30) as f64 / 100.0;
        let link = Link {
            loss,
            duplicate: 0.1,
            jitter: Duration::from_millis(rng.below(60)),
            delay: Duration::from_millis(1 + rng.below(50)),
            rate: 500_000 + rng.below(10_000_000),
            queue: 8_000 + rng.below(200_000),
        };
        let data = file(seed, 200_000 + rng.below(1_000_000) as usize);
        let mut net = Net::new(seed, link);
        let offer = offer_and_accept(&mut net, seed, &data);
        // After two seconds the receiver restarts, or the sender does, or neither.
        let restart_side = rng.below(3);
        net.run_until(Duration::from_secs(2), |n| verified(n, seed));
        if restart_side == 1
            && let Some(held) = net.ends[1].t.held(seed)
        {
            restart(&mut net, 1, 77);
            let now = net.now;
            net.ends[1].t.restore(now, offer, &held).expect("restore");
        } else if restart_side == 2 && !verified(&net, seed) {
            restart(&mut net, 0, 78);
            let now = net.now;
            net.ends[0]
                .t
                .send(
                    now,
                    seed,
                    &format!("file-{seed}.bin"),
                    Manifest::of_bytes(&data, BLOCK),
                )
                .expect("offer again");
        }
        assert!(
            net.run_until(Duration::from_secs(3000), |n| verified(n, seed)),
            "seed {seed}, loss {loss}, restart {restart_side}: {:?}",
            net.ends[1].events
        );
        assert!(received(&net, seed) == data.as_slice(), "seed {seed}");
    }
}
