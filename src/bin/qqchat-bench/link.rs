//! A limited link for the file figures: two network namespaces the bench makes, joined by a
//! veth pair shaped with `tc tbf` both ways, optional random loss on the sender's egress
//! (nftables). Addresses are from RFC 5737 (198.51.100.0/24), so nothing can leave the
//! machine; the namespaces go when the [`Link`] is dropped, on Ctrl-C or SIGTERM (see
//! [`on_interrupt`]), and at the next run if a run was killed outright.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The link's rate.
pub const RATE_MBIT: u64 = 100;
/// tbf's bucket: bytes that may go at once at line speed (a few datagrams, enough for the
/// timer granularity at 100 Mbit/s).
pub const BURST_BYTES: u64 = 32 * 1024;
/// tbf's `latency`: the longest a packet may wait in its queue, which sets the queue's
/// length (rate × latency + burst, about 282 KB here).
pub const QUEUE_MS: u64 = 20;

/// Where each end's namespace name starts: `qqb<pid>-`, so a later run can tell which
/// belong to a process that is gone.
const NAME_START: &str = "qqb";

/// Namespaces alive now, and the bench's temporary directory, for the interrupt handler.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static TEMP: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The two ends: the sender's namespace and address, the receiver's.
pub struct Link {
    pub sender: String,
    pub receiver: String,
    pub sender_ip: Ipv4Addr,
    pub receiver_ip: Ipv4Addr,
}

/// One queue's worth of time at the link rate, in milliseconds.
pub fn queue_ms() -> f64 {
    QUEUE_MS as f64 + (BURST_BYTES * 8) as f64 / (RATE_MBIT as f64 * 1e3)
}

/// Why the link cannot be built here: not root, or `ip`, `tc` or `nft` missing or refused.
pub fn available() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse::<u32>().ok());
    if euid != Some(0) {
        return Err("not root (network namespaces, tc and nftables need root)".into());
    }
    for (program, flag) in [("ip", "-V"), ("tc", "-V"), ("nft", "--version")] {
        run(program, &[flag], None).map_err(|e| format!("`{program}` is missing: {e}"))?;
    }
    Ok(())
}

/// Runs `program args`; the error names the command and says what it said.
fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    use std::io::Write;
    let shown = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("`{shown}` could not start: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| format!("`{shown}`: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`{shown}`: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{shown}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn run_in(ns: &str, program: &str, args: &[&str], stdin: Option<&str>) -> Result<(), String> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all, stdin).map(|_| ())
}

/// `program` to run in namespace `ns`, or here when `None`.
pub fn command_in(ns: Option<&str>, program: &Path) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Kills what runs in `ns` and removes it, with its interfaces, qdiscs and tables.
fn remove_namespace(ns: &str) {
    if let Ok(pids) = run("ip", &["netns", "pids", ns], None) {
        for pid in pids.split_whitespace() {
            let _ = run("kill", &["-KILL", pid], None);
        }
    }
    let _ = run("ip", &["netns", "del", ns], None);
}

/// Removes namespaces of this bench left by a run whose process is gone.
pub fn remove_stale() {
    let Ok(list) = run("ip", &["netns", "list"], None) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(NAME_START) else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty()
            && rest[digits.len()..].starts_with('-')
            && !Path::new("/proc").join(&digits).exists()
        {
            remove_namespace(name);
        }
    }
}

/// On SIGINT or SIGTERM: kill the children, remove the namespaces and the temporary
/// directory `temp`, then exit as a shell reports an interrupted process.
pub fn on_interrupt(temp: &Path) {
    if let Ok(mut t) = TEMP.lock() {
        *t = Some(temp.to_owned());
    }
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        eprintln!("warning: cannot catch Ctrl-C; an interrupted run leaves its namespaces");
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            eprintln!("interrupted: removing the namespaces and temporary files");
            super::child::kill_all();
            let live = LIVE.lock().map(|g| g.clone()).unwrap_or_default();
            for ns in live {
                remove_namespace(&ns);
            }
            if let Some(dir) = TEMP.lock().ok().and_then(|t| t.clone()) {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(128 + signal);
        }
    });
}

impl Link {
    /// Both namespaces, the veth pair with its addresses, and tbf on each end.
    pub fn create() -> Result<Link, String> {
        remove_stale();
        let pid = std::process::id();
        let link = Link {
            sender: format!("{NAME_START}{pid}-a"),
            receiver: format!("{NAME_START}{pid}-b"),
            sender_ip: Ipv4Addr::new(198, 51, 100, 1),
            receiver_ip: Ipv4Addr::new(198, 51, 100, 2),
        };
        for ns in [&link.sender, &link.receiver] {
            run("ip", &["netns", "add", ns], None)?;
            if let Ok(mut g) = LIVE.lock() {
                g.push(ns.clone());
            }
        }
        run(
            "ip",
            &[
                "-n",
                &link.sender,
                "link",
                "add",
                "v0",
                "type",
                "veth",
                "peer",
                "name",
                "v0",
                "netns",
                &link.receiver,
            ],
            None,
        )?;
        let rate = format!("{RATE_MBIT}mbit");
        let burst = BURST_BYTES.to_string();
        let latency = format!("{QUEUE_MS}ms");
        for (ns, ip) in [
            (&link.sender, link.sender_ip),
            (&link.receiver, link.receiver_ip),
        ] {
            let cidr = format!("{ip}/24");
            run("ip", &["-n", ns, "addr", "add", &cidr, "dev", "v0"], None)?;
            run("ip", &["-n", ns, "link", "set", "v0", "up"], None)?;
            run("ip", &["-n", ns, "link", "set", "lo", "up"], None)?;
            run_in(
                ns,
                "tc",
                &[
                    "qdisc", "add", "dev", "v0", "root", "tbf", "rate", &rate, "burst", &burst,
                    "latency", &latency,
                ],
                None,
            )?;
        }
        Ok(link)
    }

    /// Drops `percent` of what leaves the sender's end, at random; 0 removes the rule.
    pub fn set_loss(&self, percent: u8) -> Result<(), String> {
        let mut script = String::from("table netdev qqloss {}\ndelete table netdev qqloss\n");
        if percent > 0 {
            script += &format!(
                "table netdev qqloss {{\n\
                 \tchain out {{\n\
                 \t\ttype filter hook egress device \"v0\" priority filter;\n\
                 \t\tnumgen random mod 100 < {percent} drop\n\
                 \t}}\n\
                 }}\n"
            );
        }
        run_in(&self.sender, "nft", &["-f", "-"], Some(&script))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in [&self.receiver, &self.sender] {
            remove_namespace(ns);
        }
        if let Ok(mut g) = LIVE.lock() {
            g.retain(|n| n != &self.sender && n != &self.receiver);
        }
    }
}
