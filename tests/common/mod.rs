//! Shared by the loopback and command-line tests: a seeded generator, junk datagrams, a lossy
//! UDP relay, free ports, temporary directories, child processes that are always killed, and
//! line readers with timeouts.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use qqchat::proto::wire::{self, Data, Datagram, MAX_DATAGRAM, Packet};

/// How long to wait for something that normally takes milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// The loopback address with `port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A UDP socket on loopback with an ephemeral port.
pub fn loopback_socket() -> UdpSocket {
    UdpSocket::bind(loopback(0)).expect("bind a loopback socket")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    loopback_socket()
        .local_addr()
        .expect("local address of a fresh socket")
        .port()
}

/// The protocol's own seeded generator, with what the tests draw from it.
pub use qqchat::proto::sim::Rng;

/// Lengths, percentages and bytes from an [`Rng`].
pub trait Draw {
    /// A length in `lo..=hi`.
    fn len_in(&mut self, lo: usize, hi: usize) -> usize;
    /// True `percent` times in a hundred.
    fn percent(&mut self, percent: u64) -> bool;
    fn bytes(&mut self, len: usize) -> Vec<u8>;
}

impl Draw for Rng {
    fn len_in(&mut self, lo: usize, hi: usize) -> usize {
        let span = u64::try_from(hi - lo + 1).expect("a small span");
        lo + usize::try_from(self.below(span)).expect("a small length")
    }

    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64().to_le_bytes()[0]).collect()
    }
}

/// `count` datagrams that no receiver may take for a message: random bytes that are never
/// UTF-8 (the first byte is 0xFF or 0xC0, neither of which can start UTF-8 text), the magic
/// with version 1 and garbage after it, an unknown version, truncated valid packets, and
/// oversized datagrams. A magic-prefixed datagram that happens to decode as a real packet is
/// replaced, so that every one of them is junk by the wire format's own rules.
pub fn junk_datagrams(rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let datagram = match out.len() % 10 {
            // Garbage after the magic and the current version.
            0 | 1 => {
                let mut d = vec![0xFF, b'q', b'q', wire::VERSION];
                let len = rng.len_in(0, 64);
                d.extend(rng.bytes(len));
                d
            }
            // The magic with a version this build does not speak, and a valid packet after it.
            2 => {
                let mut d = valid_data_packet(rng, 16);
                d[3] = 9;
                d
            }
            // A valid data packet cut short (never to nothing: an empty datagram is UTF-8).
            3 => {
                let d = valid_data_packet(rng, 40);
                let keep = rng.len_in(1, d.len() - 1);
                d[..keep].to_vec()
            }
            // Oversized: a valid packet header and 1,300 bytes in all.
            4 => {
                let mut d = valid_data_packet(rng, 1_300 - 40);
                d.resize(1_300, b'x');
                d
            }
            // Random bytes of any length that are never UTF-8.
            _ => {
                let len = rng.len_in(1, 1_500);
                let mut d = rng.bytes(len);
                d[0] = if rng.percent(50) { 0xFF } else { 0xC0 };
                d
            }
        };
        let accepted = datagram.len() <= MAX_DATAGRAM
            && matches!(wire::decode(&datagram), Ok(Datagram::Packets(_)));
        if !accepted {
            out.push(datagram);
        }
    }
    out
}

/// An encoded data packet with a payload of `payload_len` ASCII bytes.
fn valid_data_packet(rng: &mut Rng, payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len)
        .map(|_| b'a' + rng.next_u64().to_le_bytes()[0] % 26)
        .collect();
    wire::encode(&Packet::Data(Data {
        epoch: rng.next_u64(),
        seq: rng.below(4),
        floor: 0,
        id: rng.next_u64(),
        sent_at_ms: 1_700_000_000_000,
        frag: 0,
        frags: 1,
        payload: &payload,
    }))
}

/// How often the relay mistreats datagrams, in percent.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    pub drop: u64,
    pub duplicate: u64,
    pub reorder: u64,
}

impl Impairment {
    pub const HOSTILE: Impairment = Impairment {
        drop: 20,
        duplicate: 10,
        reorder: 10,
    };
}

/// What the relay did, for checking that it really was lossy.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
    pub duplicated: AtomicU64,
    pub reordered: AtomicU64,
}

/// A UDP relay on loopback between a client and a server that drops, duplicates and reorders
/// datagrams in both directions. The client sends to [`Relay::addr`]; the relay forwards to
/// the server from a second socket and forwards the server's answers back to the client.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stats: Arc<RelayStats>,
    thread: Option<JoinHandle<()>>,
}

/// A datagram held back so that the next one overtakes it.
struct Held {
    bytes: Vec<u8>,
    since: Instant,
}

/// One direction of the relay.
struct Lane {
    held: Option<Held>,
}

/// The relay stops by itself after this long even if nobody stops it.
const RELAY_LIFETIME: Duration = Duration::from_secs(60);
/// A held datagram with nothing behind it to overtake it is released after this long.
const HOLD_AT_MOST: Duration = Duration::from_millis(30);

impl Relay {
    pub fn start(server: SocketAddr, impairment: Impairment, seed: u64) -> Relay {
        let front = loopback_socket();
        let back = loopback_socket();
        let addr = front.local_addr().expect("relay address");
        for s in [&front, &back] {
            s.set_nonblocking(true)
                .expect("make the relay sockets non-blocking");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(RelayStats::default());
        let thread = {
            let stop = Arc::clone(&stop);
            let stats = Arc::clone(&stats);
            thread::Builder::new()
                .name("lossy-relay".into())
                .spawn(move || {
                    run_relay(&front, &back, server, impairment, seed, &stop, &stats);
                })
                .expect("start the relay thread")
        };
        Relay {
            addr,
            stop,
            stats,
            thread: Some(thread),
        }
    }

    /// Where the client sends.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }

    /// A one-line summary for assertion messages.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        format!(
            "relay forwarded {}, dropped {}, duplicated {}, reordered {}",
            s.forwarded.load(Ordering::Relaxed),
            s.dropped.load(Ordering::Relaxed),
            s.duplicated.load(Ordering::Relaxed),
            s.reordered.load(Ordering::Relaxed),
        )
    }

    /// Asserts that the relay dropped, duplicated and reordered at least one datagram each.
    pub fn assert_was_hostile(&self) {
        let s = &self.stats;
        assert!(
            s.dropped.load(Ordering::Relaxed) > 0
                && s.duplicated.load(Ordering::Relaxed) > 0
                && s.reordered.load(Ordering::Relaxed) > 0,
            "the relay was not hostile enough to test anything: {}",
            self.summary()
        );
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run_relay(
    front: &UdpSocket,
    back: &UdpSocket,
    server: SocketAddr,
    impairment: Impairment,
    seed: u64,
    stop: &AtomicBool,
    stats: &RelayStats,
) {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; 65_536];
    let mut client: Option<SocketAddr> = None;
    let mut to_server = Lane { held: None };
    let mut to_client = Lane { held: None };
    while !stop.load(Ordering::Relaxed) && started.elapsed() < RELAY_LIFETIME {
        let mut busy = false;
        // Take turns, a bounded batch from each side, so neither starves the other.
        for _ in 0..64 {
            let Ok((len, from)) = front.recv_from(&mut buf) else {
                break;
            };
            busy = true;
            client = Some(from);
            to_server.pass(&buf[..len], back, server, impairment, &mut rng, stats);
        }
        for _ in 0..64 {
            let Ok((len, from)) = back.recv_from(&mut buf) else {
                break;
            };
            busy = true;
            if let (true, Some(client)) = (from == server, client) {
                to_client.pass(&buf[..len], front, client, impairment, &mut rng, stats);
            }
        }
        to_server.release_stale(back, server);
        if let Some(client) = client {
            to_client.release_stale(front, client);
        }
        if !busy {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Lane {
    fn pass(
        &mut self,
        bytes: &[u8],
        out: &UdpSocket,
        dst: SocketAddr,
        impairment: Impairment,
        rng: &mut Rng,
        stats: &RelayStats,
    ) {
        if rng.percent(impairment.drop) {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.held.is_none() && rng.percent(impairment.reorder) {
            stats.reordered.fetch_add(1, Ordering::Relaxed);
            self.held = Some(Held {
                bytes: bytes.to_vec(),
                since: Instant::now(),
            });
            return;
        }
        let copies = if rng.percent(impairment.duplicate) {
            stats.duplicated.fetch_add(1, Ordering::Relaxed);
            2
        } else {
            1
        };
        for _ in 0..copies {
            let _ = out.send_to(bytes, dst);
        }
        stats.forwarded.fetch_add(1, Ordering::Relaxed);
        // The held datagram goes out after the one that overtook it.
        if let Some(held) = self.held.take() {
            let _ = out.send_to(&held.bytes, dst);
        }
    }

    fn release_stale(&mut self, out: &UdpSocket, dst: SocketAddr) {
        if self
            .held
            .as_ref()
            .is_some_and(|h| h.since.elapsed() >= HOLD_AT_MOST)
            && let Some(held) = self.held.take()
        {
            let _ = out.send_to(&held.bytes, dst);
        }
    }
}

/// A temporary directory under the system one, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("qqchat-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `name` in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a temporary file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that is killed and reaped when dropped, whatever happened in the test.
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    pub fn spawn(command: &mut Command) -> ChildGuard {
        let child = command.spawn().expect("start the child process");
        ChildGuard { child }
    }

    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout is piped")
    }

    pub fn take_stderr(&mut self) -> ChildStderr {
        self.child.stderr.take().expect("stderr is piped")
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn take_stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin is piped")
    }

    /// SIGKILL: no chance to clean up, as after a crash or a power cut.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `limit` for the exit code; `None` if it is still running (or was killed).
    pub fn wait_for(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Everything the process wrote to stderr (call after it exited).
    pub fn read_stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of a stream, read on a thread so that every wait has a timeout. Lines are raw bytes
/// without the final `\n` (a `\r` before it is kept).
pub struct Lines {
    rx: Receiver<Vec<u8>>,
}

impl Lines {
    pub fn new(stream: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = crossbeam_channel::unbounded();
        thread::Builder::new()
            .name("line-reader".into())
            .spawn(move || {
                let mut reader = BufReader::new(stream);
                // Ends at end of file, which comes at the latest when the child is killed.
                loop {
                    let mut line = Vec::new();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if line.last() == Some(&b'\n') {
                                line.pop();
                            }
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                    }
                }
            })
            .expect("start a line reader");
        Lines { rx }
    }

    /// The next line as bytes, or `None` after `timeout` or at end of stream.
    pub fn next_bytes(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next line, or `None` after `timeout` or at end of stream.
    pub fn next(&self, timeout: Duration) -> Option<String> {
        self.next_bytes(timeout)
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    }

    /// Waits for a line containing `needle`, skipping others; returns every line read.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<String, Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    let line = String::from_utf8_lossy(&line).into_owned();
                    if line.contains(needle) {
                        return Ok(line);
                    }
                    seen.push(line);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    return Err(seen);
                }
            }
        }
    }
}

/// The `qqchat` binary, run in `dir` with no contacts file found by default: the working
/// directory and the config directory are both `dir`, which holds no `contacts.toml`.
pub fn qqchat(dir: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("qqchat"));
    command
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("HOME", dir)
        .env("QQCHAT_DATA_DIR", dir.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A long-running `qqchat` command with its output read line by line.
pub struct Running {
    pub child: ChildGuard,
    pub stdout: Lines,
    pub stderr: Lines,
}

impl Running {
    pub fn start(mut command: Command) -> Running {
        let mut child = ChildGuard::spawn(&mut command);
        let stdout = Lines::new(child.take_stdout());
        let stderr = Lines::new(child.take_stderr());
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for the stderr line that says the command is ready; panics with what it said
    /// instead.
    pub fn wait_ready(&self, needle: &str) -> String {
        match self.stderr.wait_for(needle, WAIT) {
            Ok(line) => line,
            Err(seen) => panic!("no {needle:?} on stderr within {WAIT:?}; it said: {seen:#?}"),
        }
    }
}

/// Runs `qqchat ARGS` in `dir` to completion.
pub fn run(dir: &TempDir, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut command = assert_cmd::Command::from_std(qqchat(dir.path()));
    command.args(args).timeout(Duration::from_secs(20));
    if let Some(input) = stdin {
        command.write_stdin(input);
    }
    command.output().expect("run qqchat")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A person: a directory (their config, key and history) and a contacts file.
pub struct Person {
    pub dir: TempDir,
    pub name: &'static str,
    pub port: u16,
}

impl Person {
    pub fn new(name: &'static str) -> Person {
        let dir = TempDir::new(name);
        let port = free_port();
        dir.write(
            "contacts.toml",
            &format!(
                "# {name}'s contacts\n[me]\nname = \"{name}\"\nlisten = \"{}\"\n\n[contacts]\n",
                loopback(port)
            ),
        );
        Person { dir, name, port }
    }

    pub fn contacts(&self) -> String {
        self.dir.path().join("contacts.toml").display().to_string()
    }

    pub fn id(&self) -> String {
        let out = run(
            &self.dir,
            &["--contacts", &self.contacts(), "id", "-q"],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    }

    pub fn add(&self, line: &str) {
        let out = run(
            &self.dir,
            &["--contacts", &self.contacts(), "add", line],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    pub fn listen(&self) -> Running {
        let mut command = qqchat(self.dir.path());
        command.args(["--contacts", &self.contacts(), "listen"]);
        let running = Running::start(command);
        running.wait_ready("listening on");
        running
    }
}
