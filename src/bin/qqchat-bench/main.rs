//! Measures qqchat on loopback against the limit of the machine, in one run: the raw
//! datagram rate and round trip of plain sockets, then qqchat's acked message rate and
//! latency, through a lossy relay too, unkeyed and keyed. Prints a table and writes JSON.
//!
//! `cargo run --release --bin qqchat-bench [-- --quick] [--json FILE]`
//!
//! `qqchat-bench files [--quick] [--json FILE]` measures file transfers instead (see
//! [`files`]); it runs the `qqchat` binary built beside it.
//!
//! `qqchat-bench groups [--quick] [--json FILE]` measures groups instead (see [`groups`]):
//! fan-out to 8, 32 and 64 members against 1:1, and a member catching up on 10,000 messages.
//!
//! `qqchat-bench store [--quick] [--json FILE]` measures the history instead (see [`store`]):
//! a million messages on disk, the chat's first frame and memory on them, searches, and the
//! acked rate with the history written.

mod child;
mod files;
mod groups;
mod link;
mod people;
mod store;
mod tcp;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use qqchat::contacts::Contact;
use qqchat::engine::{self, Command, EngineEvent, EngineHandle, Options, new_message_id};
use qqchat::proto::PeerId;
use qqchat::proto::secure::Keypair;
use qqchat::proto::wire::{self, Data, Packet};
use qqchat::store::History;
use serde_json::{Value, json};

/// Bytes of text in each benchmark message.
const MESSAGE: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--measure-startup") {
        store::measure_startup(args.get(i + 1).map_or(".", String::as_str));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--measure-first-frame") {
        store::measure_first_frame(&args[i + 1..]);
        return;
    }
    // The two ends of the TCP comparison, which the files figures run as child processes.
    let mode = match args.first().map(String::as_str) {
        Some("tcp-sink") => Some(tcp::sink(&args[1..])),
        Some("tcp-source") => Some(tcp::source(&args[1..])),
        _ => None,
    };
    if let Some(result) = mode {
        if let Err(e) = result {
            eprintln!("qqchat-bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let json_arg = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .cloned();
    if args.first().is_some_and(|a| a == "files") {
        let path = json_arg.unwrap_or_else(|| "target/qqchat-bench-files.json".to_owned());
        if let Err(e) = files::run(quick, &path) {
            eprintln!("qqchat-bench files: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.first().is_some_and(|a| a == "groups") {
        let path = json_arg.unwrap_or_else(|| "target/qqchat-bench-groups.json".to_owned());
        if let Err(e) = groups::run(quick, &path) {
            eprintln!("qqchat-bench groups: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.first().is_some_and(|a| a == "store") {
        let path = json_arg.unwrap_or_else(|| "target/qqchat-bench-store.json".to_owned());
        let only_acked = args.iter().any(|a| a == "--only-acked");
        if let Err(e) = store::run(quick, only_acked, &path) {
            eprintln!("qqchat-bench store: {e}");
            std::process::exit(1);
        }
        return;
    }
    let json_path = json_arg.unwrap_or_else(|| "target/qqchat-bench.json".to_owned());
    let n = if quick { 20_000 } else { 100_000 };
    let lat_n = if quick { 2_000 } else { 10_000 };

    let size = datagram_size();
    eprintln!("measuring on loopback: {n} messages of {MESSAGE} bytes (datagrams of {size} bytes)");
    let raw_rate = raw_blast(size, n * 2);
    let raw_rtt = raw_ping_pong(size, lat_n);
    let mut rows = Vec::new();
    let mut results = json!({
        "machine": machine(),
        "message_bytes": MESSAGE,
        "datagram_bytes": size,
        "raw": { "datagrams_per_s": raw_rate, "rtt_us": raw_rtt.json() },
    });
    rows.push(format!(
        "{:<34} {:>12.0} datagrams/s",
        "raw UDP, one way", raw_rate
    ));
    rows.push(format!(
        "{:<34} {:>12.1} µs p50  {:>8.1} µs p99  {:>8.1} µs max",
        "raw UDP ping-pong round trip", raw_rtt.p50, raw_rtt.p99, raw_rtt.max
    ));
    for keyed in [false, true] {
        let label = if keyed { "keyed (Noise)" } else { "unkeyed" };
        let rate = throughput(keyed, n, None);
        let lat = latency(keyed, lat_n);
        let lossy = throughput(keyed, n, Some(0.10));
        rows.push(format!(
            "{:<34} {:>12.0} msgs/s   {:>5.2} × raw",
            format!("qqchat {label}, acked"),
            rate.per_second,
            rate.per_second / raw_rate
        ));
        rows.push(format!(
            "{:<34} {:>12.1} µs p50  {:>8.1} µs p99  {:>8.1} µs max   p99 {:.2} × raw rtt",
            format!("qqchat {label}, send→delivered"),
            lat.p50,
            lat.p99,
            lat.max,
            lat.p99 / raw_rtt.p99
        ));
        rows.push(format!(
            "{:<34} {:>12.0} msgs/s   all delivered in {:.2} s",
            format!("qqchat {label}, 10 % loss relay"),
            lossy.per_second,
            lossy.seconds
        ));
        results[if keyed { "keyed" } else { "unkeyed" }] = json!({
            "acked_msgs_per_s": rate.per_second,
            "ratio_to_raw_rate": rate.per_second / raw_rate,
            "latency_us": lat.json(),
            "p99_ratio_to_raw_rtt": lat.p99 / raw_rtt.p99,
            "target_p99_us": 2.0 * raw_rtt.p99 + 100.0,
            "lossy_10pct": { "goodput_msgs_per_s": lossy.per_second, "seconds": lossy.seconds },
        });
    }
    let start = store::startup(100_000);
    rows.push(format!(
        "{:<34} {:>12.1} ms first frame  {:>6.1} ms whole history  {:>5.1} MB peak memory",
        "start with 100,000 in history", start.first_frame_ms, start.full_ms, start.peak_mb
    ));
    results["startup_100k"] = json!({
        "first_frame_ms": start.first_frame_ms,
        "whole_history_ms": start.full_ms,
        "peak_rss_mb": start.peak_mb,
        "rss_mb": start.rss_mb,
        "frame_200x60_us": start.frame_us,
    });
    rows.push(format!(
        "{:<34} {:>12.1} µs per 200×60 frame with 100,000 messages",
        "drawing", start.frame_us
    ));
    println!("{}", rows.join("\n"));
    if let Ok(text) = serde_json::to_string_pretty(&results) {
        match std::fs::write(&json_path, text + "\n") {
            Ok(()) => eprintln!("wrote {json_path}"),
            Err(e) => eprintln!("could not write {json_path}: {e}"),
        }
    }
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    json!({
        "cpu": cpu,
        "cores": thread::available_parallelism().map_or(0, |n| n.get()),
        "os": std::env::consts::OS,
    })
}

/// The size of a qqchat data datagram carrying one benchmark message.
fn datagram_size() -> usize {
    let payload = vec![b'x'; MESSAGE];
    wire::encode(&Packet::Data(Data {
        epoch: u64::MAX >> 8,
        seq: 50_000,
        floor: 50_000,
        id: u64::MAX,
        sent_at_ms: 1_800_000_000_000,
        frag: 0,
        frags: 1,
        payload: &payload,
    }))
    .len()
}

fn loopback() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind a loopback socket")
}

/// Datagrams per second one socket receives from another sending as fast as it can.
fn raw_blast(size: usize, count: usize) -> f64 {
    let rx = loopback();
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let to = rx.local_addr().expect("addr");
    let counter = thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut got = 0usize;
        let mut first = None;
        let mut last = Instant::now();
        while got < count {
            match rx.recv_from(&mut buf) {
                Ok(_) => {
                    got += 1;
                    last = Instant::now();
                    first.get_or_insert(last);
                }
                Err(_) => break,
            }
        }
        (got, first.map_or(Duration::ZERO, |f| last - f))
    });
    let tx = loopback();
    let datagram = vec![0xA5u8; size];
    for _ in 0..count {
        let _ = tx.send_to(&datagram, to);
    }
    let (got, took) = counter.join().expect("counter");
    got as f64 / took.as_secs_f64().max(1e-9)
}

/// Percentiles in microseconds.
struct Percentiles {
    p50: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }

    fn json(&self) -> Value {
        json!({ "p50": self.p50, "p99": self.p99, "max": self.max })
    }
}

/// Round trips of one datagram bounced by an echo thread.
fn raw_ping_pong(size: usize, rounds: usize) -> Percentiles {
    let echo = loopback();
    let echo_addr = echo.local_addr().expect("addr");
    let stop = Arc::new(AtomicBool::new(false));
    let halt = Arc::clone(&stop);
    echo.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let t = thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !halt.load(Ordering::Relaxed) {
            if let Ok((n, from)) = echo.recv_from(&mut buf) {
                let _ = echo.send_to(&buf[..n], from);
            }
        }
    });
    let me = loopback();
    me.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let datagram = vec![0x5Au8; size];
    let mut buf = [0u8; 2048];
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = Instant::now();
        let _ = me.send_to(&datagram, echo_addr);
        if me.recv_from(&mut buf).is_ok() {
            samples.push(t0.elapsed());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = t.join();
    Percentiles::of(samples)
}

/// Two engines that know each other (with keys when `keyed`).
fn pair(
    keyed: bool,
    relay_loss: Option<f64>,
) -> (EngineHandle, EngineHandle, PeerId, Option<Relay>) {
    pair_with(keyed, relay_loss, None)
}

/// [`pair`], each engine writing its messages to the history given (a's first, then b's).
fn pair_with(
    keyed: bool,
    relay_loss: Option<f64>,
    histories: Option<(History, History)>,
) -> (EngineHandle, EngineHandle, PeerId, Option<Relay>) {
    let (ka, kb) = (Keypair::generate().ok(), Keypair::generate().ok());
    let (sa, sb) = (loopback(), loopback());
    let (a, b) = (
        sa.local_addr().expect("addr"),
        sb.local_addr().expect("addr"),
    );
    let relay = relay_loss.map(|loss| Relay::start(b, loss));
    let b_seen_at = relay.as_ref().map_or(b, |r| r.addr);
    let contact = |name: &str, addr, key: &Option<Keypair>| Contact {
        name: name.into(),
        addrs: vec![addr],
        plain: false,
        key: if keyed {
            key.as_ref().map(|k| k.public)
        } else {
            None
        },
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
    };
    let mut oa = Options::new(engine::default_config());
    let to_b = contact("b", b_seen_at, &kb);
    let b_peer = to_b.peer_id();
    oa.contacts = vec![to_b];
    let mut ob = Options::new(engine::default_config());
    // Through the relay, a's datagrams reach b from the relay's address.
    let a_seen_at = relay.as_ref().map_or(a, |r| r.client_side());
    ob.contacts = vec![contact("a", a_seen_at, &ka)];
    if keyed {
        oa.protocol.identity = ka;
        ob.protocol.identity = kb;
    }
    // The benchmark measures the protocol, not presence chatter.
    oa.watch = false;
    ob.watch = false;
    if let Some((ha, hb)) = histories {
        oa.history = Some(ha);
        ob.history = Some(hb);
    }
    let ea = engine::spawn(sa, oa).expect("engine a");
    let eb = engine::spawn(sb, ob).expect("engine b");
    (ea, eb, b_peer, relay)
}

struct Rate {
    per_second: f64,
    seconds: f64,
}

/// `n` messages from a to b as fast as they go; until every receipt is back.
fn throughput(keyed: bool, n: usize, relay_loss: Option<f64>) -> Rate {
    rate_of(pair(keyed, relay_loss), n)
}

/// `n` messages from a to b of `pair` as fast as they go; until every receipt is back.
fn rate_of(pair: (EngineHandle, EngineHandle, PeerId, Option<Relay>), n: usize) -> Rate {
    let (a, b, to, relay) = pair;
    let received = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&received);
    let events = b.events.clone();
    let drain = thread::spawn(move || {
        for e in events {
            if matches!(e, EngineEvent::Received { .. }) {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let text = "x".repeat(MESSAGE);
    let start = Instant::now();
    for _ in 0..n {
        let _ = a.commands.send(Command::Send {
            to,
            text: text.clone(),
            plain: false,
            id: new_message_id(),
        });
    }
    let mut delivered = 0;
    let limit = Duration::from_secs(120);
    while delivered < n && start.elapsed() < limit {
        match a.events.recv_timeout(Duration::from_secs(5)) {
            Ok(EngineEvent::Delivered { .. }) => delivered += 1,
            Ok(EngineEvent::Failed { .. } | EngineEvent::Queued { .. }) => {
                eprintln!("a message failed");
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    if delivered < n {
        eprintln!("only {delivered} of {n} delivered");
    }
    a.shutdown();
    b.shutdown();
    let _ = drain.join();
    drop(relay);
    Rate {
        per_second: delivered as f64 / seconds,
        seconds,
    }
}

/// One message at a time: the time from the send command to the delivered event.
fn latency(keyed: bool, rounds: usize) -> Percentiles {
    let (a, b, to, _relay) = pair(keyed, None);
    let events = b.events.clone();
    let drain = thread::spawn(move || for _ in events {});
    let text = "x".repeat(MESSAGE);
    let mut samples = Vec::with_capacity(rounds);
    // The first message also carries the handshake: warm up before measuring.
    for i in 0..rounds + 10 {
        let id = new_message_id();
        let t0 = Instant::now();
        let _ = a.commands.send(Command::Send {
            to,
            text: text.clone(),
            plain: false,
            id,
        });
        loop {
            match a.events.recv_timeout(Duration::from_secs(5)) {
                Ok(EngineEvent::Delivered { id: t, .. }) if t == id => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if i >= 10 {
            samples.push(t0.elapsed());
        }
    }
    a.shutdown();
    b.shutdown();
    let _ = drain.join();
    Percentiles::of(samples)
}

/// A forwarder between a client and a server that drops a share of datagrams both ways,
/// and counts the datagrams and bytes it passes on.
struct Relay {
    addr: SocketAddr,
    client: SocketAddr,
    stop: Arc<AtomicBool>,
    up: Arc<Counted>,
    down: Arc<Counted>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Relay {
    fn start(server: SocketAddr, loss: f64) -> Relay {
        let front = loopback();
        let back = loopback();
        let addr = front.local_addr().expect("addr");
        let client = back.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::clone(&stop);
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
        }
        let front2 = front.try_clone().expect("clone");
        let back2 = back.try_clone().expect("clone");
        let halt2 = Arc::clone(&stop);
        let last_client: Arc<std::sync::Mutex<Option<SocketAddr>>> = Arc::default();
        let lc = Arc::clone(&last_client);
        let (up, down) = (Arc::new(Counted::default()), Arc::new(Counted::default()));
        let (up2, down2) = (Arc::clone(&up), Arc::clone(&down));
        // Client → server.
        let t1 = thread::spawn(move || {
            let mut rng = 0x1234_5678_9ABC_DEF0u64;
            let mut buf = [0u8; 2048];
            while !halt.load(Ordering::Relaxed) {
                if let Ok((n, from)) = front.recv_from(&mut buf) {
                    if let Ok(mut g) = lc.lock() {
                        *g = Some(from);
                    }
                    if !drop_it(&mut rng, loss) && back.send_to(&buf[..n], server).is_ok() {
                        up2.add(n);
                    }
                }
            }
        });
        // Server → client.
        let t2 = thread::spawn(move || {
            let mut rng = 0x0FED_CBA9_8765_4321u64;
            let mut buf = [0u8; 2048];
            while !halt2.load(Ordering::Relaxed) {
                if let Ok((n, _)) = back2.recv_from(&mut buf) {
                    let to = last_client.lock().ok().and_then(|g| *g);
                    if let Some(to) = to
                        && !drop_it(&mut rng, loss)
                        && front2.send_to(&buf[..n], to).is_ok()
                    {
                        down2.add(n);
                    }
                }
            }
        });
        let thread = thread::spawn(move || {
            let _ = t1.join();
            let _ = t2.join();
        });
        Relay {
            addr,
            client,
            stop,
            up,
            down,
            thread: Some(thread),
        }
    }

    /// Datagrams and bytes of UDP payload passed on so far: from the client to the server,
    /// and back.
    fn counted(&self) -> [(u64, u64); 2] {
        [&self.up, &self.down].map(|c| {
            (
                c.datagrams.load(Ordering::Relaxed),
                c.bytes.load(Ordering::Relaxed),
            )
        })
    }

    /// The address the server sees the client's datagrams come from.
    fn client_side(&self) -> SocketAddr {
        self.client
    }
}

#[derive(Default)]
struct Counted {
    datagrams: AtomicU64,
    bytes: AtomicU64,
}

impl Counted {
    fn add(&self, bytes: usize) {
        self.datagrams.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

fn drop_it(state: &mut u64, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64 <= p
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
