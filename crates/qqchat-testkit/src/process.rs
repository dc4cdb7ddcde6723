//! Child processes that are always stopped, their output read line by line with timeouts, and
//! the `qqchat` binary run as a person would.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::fs::TempDir;
use crate::net::{WAIT, free_port, loopback};

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

    /// SIGTERM: asked to stop, as a service manager or `kill` asks, with the chance to
    /// clean up on the way out.
    pub fn terminate(&mut self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends `signal` (SIGHUP: the terminal closed; SIGINT: Ctrl-C).
    pub fn signal(&mut self, signal: i32) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child, which is not reaped yet (so the pid is its).
            unsafe {
                libc::kill(pid, signal);
            }
        }
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
    as_person(&mut command, dir);
    command
}

/// Sets up `command` (qqchat, perhaps behind `ip netns exec`) to run as the person of `dir`.
pub(crate) fn as_person(command: &mut Command, dir: &Path) {
    command
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("HOME", dir)
        .env("QQCHAT_DATA_DIR", dir.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    run_within(dir, args, stdin, Duration::from_secs(20))
}

/// Like [`run`], killing the command only after `limit`: for a command given a longer
/// timeout of its own, which must have the chance to say how it ended.
pub fn run_within(
    dir: &TempDir,
    args: &[&str],
    stdin: Option<&str>,
    limit: Duration,
) -> std::process::Output {
    let mut command = assert_cmd::Command::from_std(qqchat(dir.path()));
    command.args(args).timeout(limit);
    if let Some(input) = stdin {
        command.write_stdin(input);
    }
    command.output().expect("run qqchat")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Written into every contacts file the test support makes: a test never asks the public
/// STUN servers qqchat asks by default (a lab test sets its own servers instead).
pub const STUN_OFF: &str = "stun = []";

/// Written into every contacts file the test support makes: should a test turn `[me] dht`
/// on without a DHT of its own, the client joins the discard port on loopback, where nothing
/// answers, never the public bootstrap nodes. [`Person::use_dht`] replaces it.
pub const DHT_LOCAL: &str = "dht_bootstrap = [\"127.0.0.1:9\"]";

/// A person: a directory (their config, key and history) and a contacts file.
pub struct Person {
    pub dir: TempDir,
    pub name: &'static str,
    pub port: u16,
}

impl Person {
    pub fn new(name: &'static str) -> Person {
        Person::at(name, loopback(free_port()))
    }

    /// A person whose qqchat listens on `listen` (in the NAT lab: their host's LAN address).
    pub fn at(name: &'static str, listen: SocketAddr) -> Person {
        let dir = TempDir::new(name);
        let port = listen.port();
        dir.write(
            "contacts.toml",
            &format!(
                "# {name}'s contacts\n[me]\nname = \"{name}\"\nlisten = \"{}\"\n{STUN_OFF}\n{DHT_LOCAL}\n\n[contacts]\n",
                listen
            ),
        );
        Person { dir, name, port }
    }

    /// Asks these STUN servers (in the lab) instead of none.
    pub fn set_stun(&self, servers: &[SocketAddr]) {
        let path = self.dir.path().join("contacts.toml");
        let text = std::fs::read_to_string(&path).expect("read the contacts file");
        let list: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
        let line = format!("stun = [{}]", list.join(", "));
        assert!(text.contains(STUN_OFF), "no {STUN_OFF:?} line to replace");
        self.dir
            .write("contacts.toml", &text.replacen(STUN_OFF, &line, 1));
    }

    /// Turns `[me] dht` on, joining only the DHT nodes `bootstrap` (a local testnet).
    pub fn use_dht(&self, bootstrap: &[String]) {
        let path = self.dir.path().join("contacts.toml");
        let text = std::fs::read_to_string(&path).expect("read the contacts file");
        let list: Vec<String> = bootstrap.iter().map(|s| format!("\"{s}\"")).collect();
        let line = format!("dht = true\ndht_bootstrap = [{}]", list.join(", "));
        assert!(text.contains(DHT_LOCAL), "no {DHT_LOCAL:?} line to replace");
        self.dir
            .write("contacts.toml", &text.replacen(DHT_LOCAL, &line, 1));
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

    /// The contact string with `addr` in it: where friends elsewhere reach this person.
    pub fn id_at(&self, addr: SocketAddr) -> String {
        let addr = addr.to_string();
        let out = run(
            &self.dir,
            &["--contacts", &self.contacts(), "id", "-q", "--addr", &addr],
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

/// Two people who exchanged contact strings (`id`, then `add` on each side).
pub fn friends(a: &'static str, b: &'static str) -> (Person, Person) {
    let (a, b) = (Person::new(a), Person::new(b));
    a.add(&b.id());
    b.add(&a.id());
    (a, b)
}
