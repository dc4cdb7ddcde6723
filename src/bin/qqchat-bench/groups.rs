//! `qqchat-bench groups`: groups on loopback, with every member an engine of its own in this
//! process, each with its own key.
//!
//! Fan-out: the creator of a group of 8, 32 and 64 (itself included) sends texts one at a
//! time, each timed from the command until every other member has acked it; beside each, the
//! same text sent 1:1 to one member, timed until its receipt, in the same run.
//!
//! Catch-up: a member was away while the others wrote 10,000 messages (put in the store of
//! one who stayed, so the run does not wait on the authors' rate limit); it comes back and is
//! timed until it holds them all, its datagrams counted both ways by a forwarder in between,
//! against the bytes of their text as the floor.

use std::collections::HashSet;
use std::net::UdpSocket;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use qqchat::contacts::Contact;
use qqchat::engine::{
    self, Command, EngineEvent, EngineHandle, GroupItemKind, Options, new_message_id,
};
use qqchat::proto::PeerId;
use qqchat::proto::group::{Body, Group, GroupId, Member, MsgRef};
use qqchat::proto::secure::Keypair;
use qqchat::store::{GroupRecord, GroupStatus, History};
use serde_json::{Value, json};

use super::{MESSAGE, Percentiles, Relay, loopback};

/// Group sizes, the creator included (64 is the most a group has).
const SIZES: [usize; 3] = [8, 32, 64];
/// Messages the returning member catches up on.
const BACKLOG: usize = 10_000;
/// The longest any one step may take before the run gives up on it.
const STEP: Duration = Duration::from_secs(10);

pub fn run(quick: bool, json_path: &str) -> Result<(), String> {
    // Within one author's burst (AUTHOR_BURST, warm-up included): beyond it members drop the
    // creator's texts for a while, and the figure would be of the limit, not the fan-out.
    let texts = if quick { 30 } else { 150 };
    let mut rows = Vec::new();
    let mut out = json!({ "machine": super::machine(), "message_bytes": MESSAGE });
    rows.push(format!(
        "fan-out: {texts} texts of {MESSAGE} bytes from the creator, one at a time, interleaved with 1:1"
    ));
    rows.push(format!(
        "  {:<10} {:>28}   {:>28}   {:>9}",
        "members", "group: send → all acked", "1:1: send → delivered", "p50 ratio"
    ));
    let mut fan = Vec::new();
    for size in SIZES {
        eprintln!("fan-out: a group of {size}");
        match fan_out(size, texts) {
            Ok(f) => {
                rows.push(format!(
                    "  {:<10} {:>9.0} µs p50 {:>9.0} µs p99   {:>9.0} µs p50 {:>9.0} µs p99   {:>8.1}×",
                    size,
                    f.group.p50,
                    f.group.p99,
                    f.one.p50,
                    f.one.p99,
                    f.group.p50 / f.one.p50
                ));
                if f.shown_short > 0 {
                    rows.push(format!(
                        "  {:<10} {} texts acked but not shown by a member when the run ended",
                        "", f.shown_short
                    ));
                }
                fan.push(json!({
                    "members": size,
                    "texts": texts,
                    "group_all_acked_us": f.group.json(),
                    "one_to_one_delivered_us": f.one.json(),
                    "p50_ratio": f.group.p50 / f.one.p50,
                    "setup_s": f.setup_s,
                    "texts_not_shown": f.shown_short,
                }));
            }
            Err(e) => {
                rows.push(format!("  {size:<10} FAILED: {e}"));
                fan.push(json!({ "members": size, "error": e }));
            }
        }
    }
    out["fan_out"] = Value::Array(fan);

    eprintln!("catch-up: {BACKLOG} messages");
    let temp = std::env::temp_dir().join(format!("qqchat-bench-groups-{}", std::process::id()));
    let caught = catch_up(&temp, BACKLOG);
    let _ = std::fs::remove_dir_all(&temp);
    rows.push(format!(
        "catch-up: a member back online after {BACKLOG} messages of {MESSAGE} bytes by two others"
    ));
    match caught {
        Ok(c) => {
            rows.push(format!(
                "  {:<36} {:>8.2} s   {:>8.0} msgs/s",
                "until it holds them all",
                c.seconds,
                BACKLOG as f64 / c.seconds
            ));
            rows.push(format!(
                "  {:<36} {:>8.2} MB   in {} datagrams ({:.2} MB to it, {:.2} MB from it)",
                "UDP bytes on the wire, both ways",
                c.bytes as f64 / 1e6,
                c.datagrams,
                c.bytes_in as f64 / 1e6,
                c.bytes_out as f64 / 1e6
            ));
            rows.push(format!(
                "  {:<36} {:>8.2} MB   wire {:.2} × the text",
                "floor: the texts themselves",
                c.payload as f64 / 1e6,
                c.bytes as f64 / c.payload as f64
            ));
            rows.push(format!(
                "  {:<36} {:>8.2} MB   wire {:.2} × the signed messages",
                "the signed messages as stored",
                c.signed as f64 / 1e6,
                c.bytes as f64 / c.signed as f64
            ));
            out["catch_up"] = json!({
                "messages": BACKLOG,
                "seconds": c.seconds,
                "wire_bytes": c.bytes,
                "wire_bytes_to_member": c.bytes_in,
                "wire_bytes_from_member": c.bytes_out,
                "wire_datagrams": c.datagrams,
                "text_bytes": c.payload,
                "signed_message_bytes": c.signed,
                "wire_ratio_to_text": c.bytes as f64 / c.payload as f64,
            });
        }
        Err(e) => {
            rows.push(format!("  FAILED: {e}"));
            out["catch_up"] = json!({ "error": e });
        }
    }
    println!("{}", rows.join("\n"));
    if let Ok(text) = serde_json::to_string_pretty(&out) {
        match std::fs::write(json_path, text + "\n") {
            Ok(()) => eprintln!("wrote {json_path}"),
            Err(e) => eprintln!("could not write {json_path}: {e}"),
        }
    }
    Ok(())
}

/// A keyed contact at `addr`, speaking qqchat.
fn contact(name: &str, addr: std::net::SocketAddr, key: &Keypair) -> Contact {
    Contact {
        name: name.into(),
        addrs: vec![addr],
        plain: false,
        key: Some(key.public),
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
    }
}

fn keypair() -> Result<Keypair, String> {
    Keypair::generate().map_err(|e| format!("a key: {e}"))
}

/// The text of the `i`th benchmark message: distinct, `MESSAGE` bytes long.
fn text(i: usize) -> String {
    let mut t = format!("message {i} ");
    while t.len() < MESSAGE {
        t.push('x');
    }
    t
}

/// Waits up to `STEP` for an event of `events` that `want` picks.
fn wait_for<T>(
    events: &Receiver<EngineEvent>,
    what: &str,
    mut want: impl FnMut(EngineEvent) -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + STEP;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(EngineEvent::GroupRefused { reason, .. }) => {
                return Err(format!("{what}: refused: {reason}"));
            }
            Ok(e) => {
                if let Some(t) = want(e) {
                    return Ok(t);
                }
            }
            Err(_) => return Err(format!("{what}: nothing within {} s", STEP.as_secs())),
        }
    }
}

struct FanOut {
    group: Percentiles,
    one: Percentiles,
    setup_s: f64,
    /// Texts some member did not show by the end (each member's shortfall, summed).
    shown_short: u64,
}

/// Engines that stop when dropped, even when a step fails half way.
struct Engines(Vec<EngineHandle>);

impl Drop for Engines {
    fn drop(&mut self) {
        for e in self.0.drain(..) {
            e.shutdown();
        }
    }
}

fn fan_out(size: usize, texts: usize) -> Result<FanOut, String> {
    let t_setup = Instant::now();
    let keys: Vec<Keypair> = (0..size).map(|_| keypair()).collect::<Result<_, _>>()?;
    let sockets: Vec<UdpSocket> = (0..size).map(|_| loopback()).collect();
    let addrs: Vec<_> = sockets
        .iter()
        .map(|s| s.local_addr().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut engines = Engines(Vec::with_capacity(size));
    for (i, socket) in sockets.into_iter().enumerate() {
        let mut o = Options::new(engine::default_config());
        o.protocol.identity = Some(keys[i].clone());
        // The figures are of the messages, not of presence chatter.
        o.watch = false;
        o.contacts = if i == 0 {
            (1..size)
                .map(|m| contact(&format!("m{m}"), addrs[m], &keys[m]))
                .collect()
        } else {
            vec![contact("creator", addrs[0], &keys[0])]
        };
        let e = engine::spawn(socket, o)
            .map_err(|e| format!("engine {i} of {size} did not start: {e}"))?;
        engines.0.push(e);
    }
    let creator = &engines.0[0];
    let members: Vec<PeerId> = keys[1..].iter().map(|k| PeerId::Key(k.public)).collect();
    let create = new_message_id();
    creator
        .commands
        .send(Command::GroupCreate {
            id: create,
            name: format!("bench {size}"),
            members: members.clone(),
        })
        .map_err(|e| e.to_string())?;
    let gid = wait_for(&creator.events, "creating the group", |e| match e {
        EngineEvent::GroupCreated { id, group } if id == create => Some(group),
        _ => None,
    })?;
    for (i, m) in engines.0.iter().enumerate().skip(1) {
        wait_for(
            &m.events,
            &format!("member {i}'s invitation"),
            |e| match e {
                EngineEvent::Group(v) if v.id == gid && v.status == GroupStatus::Invited => {
                    Some(())
                }
                _ => None,
            },
        )?;
        m.commands
            .send(Command::GroupAnswer {
                group: gid,
                accept: true,
            })
            .map_err(|e| e.to_string())?;
    }
    // Members show what arrives; each counts the creator's texts it has shown.
    let shown: Vec<Arc<AtomicU64>> = (1..size).map(|_| Arc::default()).collect();
    let drains: Vec<_> = engines.0[1..]
        .iter()
        .zip(&shown)
        .map(|(m, count)| {
            let events = m.events.clone();
            let count = Arc::clone(count);
            let creator = keys[0].public;
            thread::spawn(move || {
                let mut seen = HashSet::new();
                for e in events {
                    if let EngineEvent::GroupItems { items, .. } = e {
                        for item in items {
                            if item.author == creator
                                && matches!(item.kind, GroupItemKind::Text(_))
                                && seen.insert(item.id)
                            {
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let setup_s = t_setup.elapsed().as_secs_f64();
    let creator = &engines.0[0];
    let one_to = members[0];
    // The first few of each warm up paths and sessions.
    let warm = 5;
    let mut group_samples = Vec::with_capacity(texts);
    let mut one_samples = Vec::with_capacity(texts);
    for i in 0..warm + texts {
        let body = text(i);
        let id = new_message_id();
        let t0 = Instant::now();
        creator
            .commands
            .send(Command::GroupSend {
                group: gid,
                text: body.clone(),
                id,
            })
            .map_err(|e| e.to_string())?;
        wait_for(&creator.events, &format!("text {i} acked by all"), |e| {
            let EngineEvent::GroupItems { group, items } = e else {
                return None;
            };
            (group == gid
                && items.iter().any(|it| {
                    it.mine
                        && it.acked.len() + 1 >= size
                        && matches!(&it.kind, GroupItemKind::Text(t) if *t == body)
                }))
            .then_some(())
        })?;
        let took = t0.elapsed();
        let id = new_message_id();
        let t1 = Instant::now();
        creator
            .commands
            .send(Command::Send {
                to: one_to,
                text: body,
                plain: false,
                id,
            })
            .map_err(|e| e.to_string())?;
        wait_for(&creator.events, &format!("text {i} delivered 1:1"), |e| {
            matches!(e, EngineEvent::Delivered { id: d, .. } if d == id).then_some(())
        })?;
        if i >= warm {
            group_samples.push(took);
            one_samples.push(t1.elapsed());
        }
    }
    // Acked is the receipt of the envelope; give the members a moment to show the last one.
    let want = (warm + texts) as u64;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && shown.iter().any(|c| c.load(Ordering::Relaxed) < want) {
        thread::sleep(Duration::from_millis(10));
    }
    let shown_short = shown
        .iter()
        .map(|c| want.saturating_sub(c.load(Ordering::Relaxed)))
        .sum();
    drop(engines);
    for d in drains {
        let _ = d.join();
    }
    Ok(FanOut {
        group: Percentiles::of(group_samples),
        one: Percentiles::of(one_samples),
        setup_s,
        shown_short,
    })
}

struct CatchUp {
    seconds: f64,
    /// UDP payload bytes to and from the returning member, and datagrams both ways.
    bytes: u64,
    bytes_in: u64,
    bytes_out: u64,
    datagrams: u64,
    /// Bytes of the messages' texts.
    payload: u64,
    /// Bytes of the signed messages, as they are kept and sent.
    signed: u64,
}

/// Writes the group's messages to a member's store, with its status.
fn store(dir: &Path, gid: GroupId, msgs: &[Vec<u8>]) -> Result<(), String> {
    let mut h = History::open(dir).map_err(|e| e.to_string())?;
    let at = jiff::Timestamp::now();
    for m in msgs {
        h.append_group(gid, &GroupRecord::msg(m, at));
    }
    h.append_group(
        gid,
        &GroupRecord::Status {
            status: GroupStatus::Joined,
            at,
        },
    );
    h.commit().map_err(|e| e.to_string())
}

fn catch_up(temp: &Path, n: usize) -> Result<CatchUp, String> {
    let (ka, kb, kc) = (keypair()?, keypair()?, keypair()?);
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let member = |k: &Keypair, name: &str| Member {
        key: k.public,
        name: name.into(),
    };
    let (mut group, create) = Group::create(
        &ka,
        "catch-up",
        rand::random(),
        vec![member(&kb, "b"), member(&kc, "c")],
        now_ms,
        rand::rng(),
    )
    .map_err(|e| e.to_string())?;
    let gid = group.id();
    let mut all = vec![create.bytes().to_vec()];
    let mut payload = 0u64;
    let mut signed = 0u64;
    let mut want: HashSet<MsgRef> = HashSet::new();
    for i in 0..n {
        // a and b take turns, each following what the other wrote.
        let author = if i % 2 == 0 { &ka } else { &kb };
        let body = text(i);
        payload += body.len() as u64;
        let msg = group
            .compose(author, Body::Text(body), now_ms + i as i64, rand::rng())
            .map_err(|e| e.to_string())?;
        signed += msg.bytes().len() as u64;
        want.insert(msg.id());
        all.push(msg.bytes().to_vec());
    }
    let (dir_a, dir_c) = (temp.join("a"), temp.join("c"));
    store(&dir_a, gid, &all)?;
    store(&dir_c, gid, &all[..1])?;

    let (sa, sc) = (loopback(), loopback());
    let a_addr = sa.local_addr().map_err(|e| e.to_string())?;
    // c reaches a through a forwarder that counts every datagram either way.
    let relay = Relay::start(a_addr, 0.0);
    let mut oa = Options::new(engine::default_config());
    oa.protocol.identity = Some(ka.clone());
    oa.contacts = vec![contact("c", relay.client_side(), &kc)];
    oa.history = Some(History::open(&dir_a).map_err(|e| e.to_string())?);
    let a = Engines(vec![
        engine::spawn(sa, oa).map_err(|e| format!("engine a: {e}"))?,
    ]);
    // a holds the whole backlog before c comes back.
    let loaded = wait_for(&a.0[0].events, "a's groups loaded", |e| match e {
        EngineEvent::Groups(g) => Some(g),
        _ => None,
    })?;
    let held = loaded
        .iter()
        .find(|g| g.view.id == gid)
        .map_or(0, |g| g.items.len());
    if held != n + 1 {
        return Err(format!("a loaded {held} of {} messages", n + 1));
    }
    let a_events = a.0[0].events.clone();
    let drain = thread::spawn(move || for _ in a_events {});

    let mut oc = Options::new(engine::default_config());
    oc.protocol.identity = Some(kc.clone());
    oc.contacts = vec![contact("a", relay.addr, &ka)];
    oc.history = Some(History::open(&dir_c).map_err(|e| e.to_string())?);
    let before = relay.counted();
    let t0 = Instant::now();
    let c = Engines(vec![
        engine::spawn(sc, oc).map_err(|e| format!("engine c: {e}"))?,
    ]);
    let deadline = t0 + Duration::from_secs(60);
    let mut got = 0;
    let mut last = Instant::now();
    while got < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.0[0].events.recv_timeout(left.min(STEP)) {
            Ok(EngineEvent::GroupItems { group, items }) if group == gid => {
                for item in items {
                    if want.remove(&item.id) {
                        got += 1;
                        last = Instant::now();
                    }
                }
            }
            Ok(_) => {}
            Err(_) => {
                return Err(format!(
                    "c holds {got} of {n} after {:.1} s",
                    t0.elapsed().as_secs_f64()
                ));
            }
        }
    }
    let seconds = (last - t0).as_secs_f64();
    // What is still on its way (the last receipts) belongs to the catch-up too.
    thread::sleep(Duration::from_millis(300));
    let after = relay.counted();
    let [(up_d, up_b), (down_d, down_b)] =
        [0, 1].map(|i| (after[i].0 - before[i].0, after[i].1 - before[i].1));
    drop(c);
    drop(a);
    let _ = drain.join();
    drop(relay);
    Ok(CatchUp {
        seconds,
        bytes: up_b + down_b,
        bytes_in: down_b,
        bytes_out: up_b,
        datagrams: up_d + down_d,
        payload,
        signed,
    })
}
