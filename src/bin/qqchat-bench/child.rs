//! The bench's child processes: killed when dropped (and by the interrupt handler), their
//! output read line by line on threads, each line stamped with the moment it arrived, so a
//! transfer is timed from what the receiver printed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

/// Pids of the children alive now, for the interrupt handler.
static ALIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Kills every child still alive: the interrupt handler's part.
pub fn kill_all() {
    let pids = ALIVE.lock().map(|g| g.clone()).unwrap_or_default();
    for pid in pids {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// A running child with its stdout and stderr as stamped lines.
pub struct Proc {
    child: Child,
    pub out: Lines,
    pub err: Lines,
}

impl Proc {
    pub fn start(mut command: Command) -> Result<Proc, String> {
        let shown = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {shown}: {e}"))?;
        if let Ok(mut g) = ALIVE.lock() {
            g.push(child.id());
        }
        let out = Lines::new(child.stdout.take());
        let err = Lines::new(child.stderr.take());
        Ok(Proc { child, out, err })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status within `limit`, or `None` while it still runs.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let pid = self.child.id();
        if let Ok(mut g) = ALIVE.lock() {
            g.retain(|&p| p != pid);
        }
    }
}

/// Lines of one stream with the moment each arrived.
pub struct Lines {
    rx: Receiver<(Instant, String)>,
}

impl Lines {
    fn new(stream: Option<impl Read + Send + 'static>) -> Lines {
        let (tx, rx) = crossbeam_channel::unbounded();
        if let Some(stream) = stream {
            thread::spawn(move || {
                // Ends at end of file, at the latest when the child is killed.
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((Instant::now(), line)).is_err() {
                        break;
                    }
                }
            });
        }
        Lines { rx }
    }

    /// The first line containing `needle` within `timeout`, or every line seen instead.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<(Instant, String), String> {
        let end = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((at, line)) if line.contains(needle) => return Ok((at, line)),
                Ok((_, line)) => seen.push(line),
                Err(_) => {
                    return Err(format!(
                        "no line with {needle:?} within {timeout:?}; seen: {seen:?}"
                    ));
                }
            }
        }
    }

    /// Every line that arrived so far.
    pub fn drain(&self) -> Vec<(Instant, String)> {
        self.rx.try_iter().collect()
    }
}

/// The peak and current resident memory of process `pid`, in KiB (VmHWM, VmRSS).
pub fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}
