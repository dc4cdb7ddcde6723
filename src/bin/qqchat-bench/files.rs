//! `qqchat-bench files`: file transfers with the real `send-file` and `listen
//! --accept-files`, each beside the limit of its path and a plain TCP copy on that path,
//! measured in the same run: loopback against the raw datagram rate, a 100 Mbit/s link
//! between two namespaces (clean, with 1 % loss, shared with TCP), chat round trips during a
//! transfer, and the receiver's memory for a file much larger than it.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qqchat::proto::transfer::{cc::MSS, wire::MAX_CHUNK};
use serde_json::{Value, json};

use super::child::{Proc, memory_kb};
use super::link::{self, BURST_BYTES, Link, QUEUE_MS, RATE_MBIT};
use super::people::{Person, pair};

const MB: f64 = 1e6;
const MIB: u64 = 1 << 20;

/// Sizes of one run.
struct Plan {
    loopback: u64,
    link: u64,
    memory: u64,
}

/// What the bench runs: the `qqchat` beside this binary, and this binary for TCP.
struct Ctx {
    qqchat: PathBuf,
    bench: PathBuf,
    temp: PathBuf,
}

pub fn run(quick: bool, json_path: &str) -> Result<(), String> {
    let bench = std::env::current_exe().map_err(|e| e.to_string())?;
    let qqchat = bench.with_file_name("qqchat");
    if !qqchat.exists() {
        return Err(format!(
            "{} is missing: build it first (cargo build --release --bins)",
            qqchat.display()
        ));
    }
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&qqchat) < modified(&bench) {
        eprintln!(
            "warning: {} is older than this bench; `cargo build --release --bins` first",
            qqchat.display()
        );
    }
    let temp = std::env::temp_dir().join(format!("qqchat-bench-files-{}", std::process::id()));
    std::fs::create_dir_all(&temp).map_err(|e| format!("{}: {e}", temp.display()))?;
    link::on_interrupt(&temp);
    let ctx = Ctx {
        qqchat,
        bench,
        temp,
    };
    let result = measure(&ctx, quick, json_path);
    let _ = std::fs::remove_dir_all(&ctx.temp);
    result
}

fn measure(ctx: &Ctx, quick: bool, json_path: &str) -> Result<(), String> {
    let mut plan = if quick {
        Plan {
            loopback: 128 * MIB,
            link: 40_000_000,
            memory: 512 * MIB,
        }
    } else {
        Plan {
            loopback: 1024 * MIB,
            link: 200_000_000,
            memory: 4096 * MIB,
        }
    };
    let mut notes = Vec::new();
    // At once on disk at most: the largest source, its received copy, and a margin.
    let free = free_bytes(&ctx.temp);
    let need = |p: &Plan| 2 * p.memory.max(p.loopback) + 512 * MIB;
    while free.is_some_and(|f| f < need(&plan)) && plan.memory > 64 * MIB {
        plan.memory /= 2;
        plan.loopback = plan.loopback.min(plan.memory);
    }
    if let Some(f) = free {
        eprintln!("{:.1} GB free for temporary files", f as f64 / 1e9);
        if !quick && plan.memory < 4096 * MIB {
            notes.push(format!(
                "only {:.1} GB free: the memory figure uses {} MiB instead of 4096",
                f as f64 / 1e9,
                plan.memory / MIB
            ));
        }
    }
    let mut rows: Vec<String> = Vec::new();
    let mut out = json!({ "machine": super::machine(), "load": load() });

    // 1. Loopback.
    let payload = f64::from(MAX_CHUNK);
    let datagram = MSS as usize;
    let raw_dps = super::raw_blast(datagram, if quick { 200_000 } else { 1_000_000 });
    let raw = raw_dps * payload / MB;
    let file = ctx.temp.join("loopback.bin");
    write_noise(&file, plan.loopback)?;
    rows.push(format!("loopback, a {} MiB file", plan.loopback / MIB));
    rows.push(format!(
        "  {:<38} {:>8.1} MB/s of payload ({raw_dps:.0} datagrams/s of {datagram} bytes, {MAX_CHUNK} of file each)",
        "raw UDP limit", raw
    ));
    let mut loop_json = json!({ "file_bytes": plan.loopback, "datagram_bytes": datagram,
        "raw_datagrams_per_s": raw_dps, "raw_payload_mb_s": raw });
    for keyed in [false, true] {
        let label = if keyed { "keyed" } else { "unkeyed" };
        let root = ctx.temp.join(format!("loop-{label}"));
        let (a, b) = pair(&ctx.qqchat, &root, free_addr()?, free_addr()?, keyed)?;
        let r = qq_transfer(ctx, None, &a, &b, &file, None);
        let _ = std::fs::remove_dir_all(&root);
        match r {
            Ok(r) => {
                let mbs = r.mb_s();
                rows.push(format!(
                    "  {:<38} {mbs:>8.1} MB/s   {:.2} × raw   target ≥ 0.5 × raw: {}",
                    format!("qqchat {label}"),
                    mbs / raw,
                    verdict(mbs / raw >= 0.5)
                ));
                loop_json[label] =
                    json!({ "mb_s": mbs, "seconds": r.seconds, "ratio_to_raw": mbs / raw });
            }
            Err(e) => {
                rows.push(format!("  qqchat {label}: FAILED: {e}"));
                loop_json[label] = json!({ "error": e });
            }
        }
    }
    match tcp_transfer(ctx, None, "127.0.0.1:0", &file) {
        Ok(t) => {
            rows.push(format!("  {:<38} {:>8.1} MB/s", "TCP", t.mb_s()));
            loop_json["tcp"] = json!({ "mb_s": t.mb_s(), "seconds": t.seconds });
        }
        Err(e) => rows.push(format!("  TCP: FAILED: {e}")),
    }
    let _ = std::fs::remove_file(&file);
    out["loopback"] = loop_json;

    // 2–5. The limited link.
    match link::available() {
        Err(why) => {
            let line = format!(
                "SKIPPED: the 100 Mbit/s link figures: {why}; run the bench as root for them"
            );
            eprintln!("{line}");
            rows.push(line.clone());
            out["link"] = json!({ "skipped": why });
        }
        Ok(()) => match on_link(ctx, &plan, &mut rows) {
            Ok(j) => out["link"] = j,
            Err(e) => {
                rows.push(format!("link figures FAILED: {e}"));
                out["link"] = json!({ "error": e });
            }
        },
    }

    // 6. The receiver's memory for a large file.
    match memory(ctx, plan.memory) {
        Ok((peak, start)) => {
            rows.push(format!(
                "receiver memory, a {} MiB file on loopback: peak {:.1} MB (VmHWM), {:.1} MB when listening began",
                plan.memory / MIB,
                peak as f64 / 1024.0,
                start as f64 / 1024.0
            ));
            out["memory"] =
                json!({ "file_bytes": plan.memory, "peak_kb": peak, "start_kb": start });
        }
        Err(e) => rows.push(format!("receiver memory: FAILED: {e}")),
    }
    out["notes"] = json!(notes);
    for n in &notes {
        rows.push(format!("note: {n}"));
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

fn on_link(ctx: &Ctx, plan: &Plan, rows: &mut Vec<String>) -> Result<Value, String> {
    let link = Link::create()?;
    let (sa, sb) = (link.sender.as_str(), link.receiver.as_str());
    let limit = RATE_MBIT as f64 * 1e6 / 8.0 / MB;
    rows.push(format!(
        "a {RATE_MBIT} Mbit/s link (veth, tc tbf both ways: burst {} KiB, latency {QUEUE_MS} ms), a {} MB file, keyed",
        BURST_BYTES / 1024,
        plan.link / 1_000_000
    ));
    rows.push(format!(
        "  {:<38} {limit:>8.1} MB/s on the wire",
        "link limit"
    ));
    let file = ctx.temp.join("link.bin");
    write_noise(&file, plan.link)?;
    let root = ctx.temp.join("link-people");
    let (a, b) = pair(
        &ctx.qqchat,
        &root,
        SocketAddr::from((link.sender_ip, 9001)),
        SocketAddr::from((link.receiver_ip, 9002)),
        true,
    )?;
    let tcp_at = format!("{}:5201", link.receiver_ip);
    let mut j = json!({ "rate_mbit": RATE_MBIT, "burst_bytes": BURST_BYTES, "queue_ms": QUEUE_MS,
        "file_bytes": plan.link });
    for loss in [0u8, 1] {
        link.set_loss(loss)?;
        let qq = qq_transfer(ctx, Some((sa, sb)), &a, &b, &file, None).map(|r| r.mb_s());
        let tcp = tcp_transfer(ctx, Some((sa, sb)), &tcp_at, &file).map(|t| t.mb_s());
        let what = if loss == 0 {
            "alone".to_owned()
        } else {
            format!("{loss} % loss")
        };
        match (&qq, &tcp) {
            (Ok(q), Ok(t)) => {
                rows.push(format!(
                    "  {:<38} {q:>8.1} MB/s   {:.2} × TCP   target ≥ 0.9 × TCP: {}",
                    format!("qqchat, {what}"),
                    q / t,
                    verdict(q / t >= 0.9)
                ));
                rows.push(format!("  {:<38} {t:>8.1} MB/s", format!("TCP, {what}")));
            }
            _ => rows.push(format!("  {what}: qqchat {qq:?}, TCP {tcp:?}")),
        }
        j[format!("loss_{loss}")] = json!({ "qqchat_mb_s": qq.ok(), "tcp_mb_s": tcp.ok() });
    }
    link.set_loss(0)?;

    // Both at once: TCP first, then qqchat's transfer while TCP goes on.
    match competing(ctx, &link, &a, &b, &file, &tcp_at) {
        Ok((q, t)) => {
            rows.push(format!(
                "  {:<38} {q:>8.1} MB/s   TCP beside it {t:.1} MB/s: {:.2} × TCP's share   target 0.5–2 ×: {}",
                "qqchat and TCP at once",
                q / t,
                verdict((0.5..=2.0).contains(&(q / t)))
            ));
            j["competing"] = json!({ "qqchat_mb_s": q, "tcp_mb_s": t, "ratio": q / t });
        }
        Err(e) => rows.push(format!("  qqchat and TCP at once: FAILED: {e}")),
    }

    // Chat round trips, idle and during a transfer.
    match chat_latency(ctx, &link, &a, &b, &file, plan.link) {
        Ok((idle, busy)) => {
            let bound = 2.0 * idle.1 + link::queue_ms();
            rows.push(format!(
                "  {:<38} {:>8.2} ms p50  {:>7.2} ms p99",
                "chat round trip, idle link", idle.0, idle.1
            ));
            rows.push(format!(
                "  {:<38} {:>8.2} ms p50  {:>7.2} ms p99   target p99 < 2 × idle + {:.1} ms queue = {bound:.1} ms: {}",
                "chat round trip, during a transfer",
                busy.0,
                busy.1,
                link::queue_ms(),
                verdict(busy.1 < bound)
            ));
            j["chat_rtt_ms"] = json!({ "idle": { "p50": idle.0, "p99": idle.1 },
                "during_transfer": { "p50": busy.0, "p99": busy.1 }, "target_p99": bound });
        }
        Err(e) => rows.push(format!("  chat round trips: FAILED: {e}")),
    }
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir_all(&root);
    Ok(j)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

struct Timed {
    bytes: u64,
    seconds: f64,
    offered: Instant,
    verified: Instant,
    peak_kb: Option<u64>,
    start_kb: Option<u64>,
    pings: Vec<f64>,
}

impl Timed {
    fn mb_s(&self) -> f64 {
        self.bytes as f64 / self.seconds / MB
    }
}

/// One file from a to b with the real commands: from the offer bob's `listen` announces to
/// the verified line it prints. With `ping`, bob pings alice that many times, every 100 ms,
/// once the transfer has run two seconds.
fn qq_transfer(
    ctx: &Ctx,
    ns: Option<(&str, &str)>,
    a: &Person,
    b: &Person,
    file: &Path,
    ping: Option<u32>,
) -> Result<Timed, String> {
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    let inbox = b.dir.join("inbox");
    let _ = std::fs::remove_dir_all(&inbox);
    let mut listen = b.qqchat(&ctx.qqchat, ns.map(|n| n.1));
    listen
        .args(["listen", "--json", "--accept-files"])
        .arg(&inbox);
    let listen = Proc::start(listen)?;
    listen
        .err
        .wait_for("listening on", Duration::from_secs(20))?;
    let start_kb = memory_kb(listen.pid()).map(|m| m.1);
    let mut send = a.qqchat(&ctx.qqchat, ns.map(|n| n.0));
    send.args(["send-file", "--timeout", "1200", b.name])
        .arg(file);
    let mut send = Proc::start(send)?;
    // Hashing a large file comes before the offer.
    let (offered, _) = listen.err.wait_for(" sends ", Duration::from_secs(300))?;
    let pinger = match ping {
        Some(count) => {
            std::thread::sleep(Duration::from_secs(2));
            let mut p = b.qqchat(&ctx.qqchat, ns.map(|n| n.1));
            p.args(["ping", "-n", &count.to_string(), "-i", "0.1", a.name]);
            Some(Proc::start(p)?)
        }
        None => None,
    };
    let (verified, _) = listen
        .out
        .wait_for("\"verified\":true", Duration::from_secs(1200))
        .map_err(|e| format!("{e}; the sender said {:?}", send.err.drain()))?;
    let peak_kb = memory_kb(listen.pid()).map(|m| m.0);
    let status = send.wait(Duration::from_secs(30));
    if !status.is_some_and(|s| s.success()) {
        return Err(format!(
            "send-file ended {status:?}: {:?}",
            send.err.drain()
        ));
    }
    let pings = match pinger {
        Some(mut p) => {
            let _ = p.wait(Duration::from_secs(60));
            rtts(&p)
        }
        None => Vec::new(),
    };
    drop(listen);
    let _ = std::fs::remove_dir_all(&inbox);
    Ok(Timed {
        bytes: size,
        seconds: (verified - offered).as_secs_f64(),
        offered,
        verified,
        peak_kb,
        start_kb,
        pings,
    })
}

/// The round trips `qqchat ping` printed, in milliseconds.
fn rtts(p: &Proc) -> Vec<f64> {
    p.out
        .drain()
        .into_iter()
        .chain(p.err.drain())
        .filter_map(|(_, l)| {
            l.split_once("time=")
                .and_then(|(_, t)| t.split_whitespace().next())
                .and_then(|t| t.parse::<f64>().ok())
        })
        .collect()
}

struct TcpTimed {
    bytes: u64,
    seconds: f64,
}

impl TcpTimed {
    fn mb_s(&self) -> f64 {
        self.bytes as f64 / self.seconds / MB
    }
}

/// The file over one TCP connection on the same path, into a file beside qqchat's.
fn tcp_transfer(
    ctx: &Ctx,
    ns: Option<(&str, &str)>,
    bind: &str,
    file: &Path,
) -> Result<TcpTimed, String> {
    let out = ctx.temp.join("tcp-received.bin");
    let (sink, addr) = tcp_sink(ctx, ns.map(|n| n.1), bind, &out)?;
    let mut source = link::command_in(ns.map(|n| n.0), &ctx.bench);
    source.arg("tcp-source").arg(&addr).arg(file);
    let mut source = Proc::start(source)?;
    let (_, done) = sink.out.wait_for("done ", Duration::from_secs(1200))?;
    let _ = source.wait(Duration::from_secs(10));
    let _ = std::fs::remove_file(&out);
    let mut words = done.split_whitespace().skip(1);
    let bytes = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let seconds = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(f64::NAN);
    Ok(TcpTimed { bytes, seconds })
}

fn tcp_sink(ctx: &Ctx, ns: Option<&str>, bind: &str, out: &Path) -> Result<(Proc, String), String> {
    let mut sink = link::command_in(ns, &ctx.bench);
    sink.args(["tcp-sink", bind]).arg(out);
    let sink = Proc::start(sink)?;
    let (_, ready) = sink.err.wait_for("ready ", Duration::from_secs(10))?;
    let addr = ready.trim_start_matches("ready ").trim().to_owned();
    Ok((sink, addr))
}

/// qqchat's and TCP's goodput while both share the link: a TCP flow runs from before the
/// offer to after the verification; its bytes are counted over the transfer's span.
fn competing(
    ctx: &Ctx,
    link: &Link,
    a: &Person,
    b: &Person,
    file: &Path,
    tcp_at: &str,
) -> Result<(f64, f64), String> {
    let out = ctx.temp.join("tcp-competing.bin");
    let (sink, addr) = tcp_sink(ctx, Some(&link.receiver), tcp_at, &out)?;
    let mut source = link::command_in(Some(&link.sender), &ctx.bench);
    source
        .arg("tcp-source")
        .arg(&addr)
        .arg(file)
        .arg("--forever");
    let source = Proc::start(source)?;
    std::thread::sleep(Duration::from_secs(2));
    let qq = qq_transfer(ctx, Some((&link.sender, &link.receiver)), a, b, file, None);
    drop(source);
    std::thread::sleep(Duration::from_millis(200));
    let seen: Vec<(Instant, u64)> = sink
        .out
        .drain()
        .into_iter()
        .filter_map(|(at, l)| {
            l.strip_prefix("bytes ")
                .and_then(|n| n.trim().parse().ok())
                .map(|n| (at, n))
        })
        .collect();
    drop(sink);
    let _ = std::fs::remove_file(&out);
    let qq = qq?;
    let at = |t: Instant| bytes_at(&seen, t);
    let (b0, b1) = (at(qq.offered), at(qq.verified));
    let tcp = (b1 - b0) / qq.seconds / MB;
    Ok((qq.mb_s(), tcp))
}

/// Bytes the sink had at `t`, between the two reports around it.
fn bytes_at(seen: &[(Instant, u64)], t: Instant) -> f64 {
    let after = seen.iter().position(|&(at, _)| at >= t);
    match after {
        Some(0) | None if seen.is_empty() => 0.0,
        Some(0) => seen[0].1 as f64,
        None => seen[seen.len() - 1].1 as f64,
        Some(i) => {
            let (t0, b0) = seen[i - 1];
            let (t1, b1) = seen[i];
            let span = (t1 - t0).as_secs_f64().max(1e-9);
            b0 as f64 + (b1 as f64 - b0 as f64) * (t - t0).as_secs_f64() / span
        }
    }
}

type P50P99 = (f64, f64);

/// `qqchat ping` from the receiver to the sender: on the idle link (alice's `listen`
/// answering), then during a transfer (her `send-file` answering).
fn chat_latency(
    ctx: &Ctx,
    link: &Link,
    a: &Person,
    b: &Person,
    file: &Path,
    size: u64,
) -> Result<(P50P99, P50P99), String> {
    let count = 100;
    let idle = {
        let mut la = a.qqchat(&ctx.qqchat, Some(&link.sender));
        la.arg("listen");
        let la = Proc::start(la)?;
        la.err.wait_for("listening on", Duration::from_secs(20))?;
        let mut p = b.qqchat(&ctx.qqchat, Some(&link.receiver));
        p.args(["ping", "-n", &count.to_string(), "-i", "0.1", a.name]);
        let mut p = Proc::start(p)?;
        let _ = p.wait(Duration::from_secs(60));
        rtts(&p)
    };
    // As many probes as fit in the transfer after its first two seconds, at most 300.
    let secs = size as f64 * 8.0 / (RATE_MBIT as f64 * 1e6);
    let during = ((secs - 4.0) * 10.0).clamp(10.0, 300.0) as u32;
    let busy = qq_transfer(
        ctx,
        Some((&link.sender, &link.receiver)),
        a,
        b,
        file,
        Some(during),
    )?
    .pings;
    if idle.is_empty() || busy.is_empty() {
        return Err(format!(
            "no round trips: {} idle, {} during",
            idle.len(),
            busy.len()
        ));
    }
    Ok((percentiles(idle), percentiles(busy)))
}

fn percentiles(mut v: Vec<f64>) -> P50P99 {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

/// The receiving `listen`'s peak memory for a file of `size` bytes (sparse at the sender),
/// and its memory when it began listening, in KiB.
fn memory(ctx: &Ctx, size: u64) -> Result<(u64, u64), String> {
    let file = ctx.temp.join("large.bin");
    let f = std::fs::File::create(&file).map_err(|e| e.to_string())?;
    f.set_len(size).map_err(|e| e.to_string())?;
    drop(f);
    let root = ctx.temp.join("memory");
    let (a, b) = pair(&ctx.qqchat, &root, free_addr()?, free_addr()?, true)?;
    let r = qq_transfer(ctx, None, &a, &b, &file, None);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir_all(&root);
    let r = r?;
    eprintln!(
        "{} MiB on loopback, keyed, in {:.1} s ({:.1} MB/s)",
        size / MIB,
        r.seconds,
        r.mb_s()
    );
    Ok((r.peak_kb.unwrap_or(0), r.start_kb.unwrap_or(0)))
}

/// A loopback address with a port free now.
fn free_addr() -> Result<SocketAddr, String> {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map_err(|e| e.to_string())
}

/// `size` bytes no compressor or sparse file shortcut helps with.
fn write_noise(path: &Path, size: u64) -> Result<(), String> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(MIB) as usize;
        f.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", path.display()))?;
        left -= n as u64;
    }
    f.flush().map_err(|e| e.to_string())
}

/// Bytes free where the temporary files go, as `df` says.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
}

/// The load average when the run began: other work on the machine disturbs the figures.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
