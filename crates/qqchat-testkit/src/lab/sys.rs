//! The lab's contact with the system: running `ip`, `nft` and `conntrack`, checking that they
//! can run at all, removing what a killed earlier run left, and opening sockets inside a
//! namespace.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;

/// Every namespace of the lab is named `qq<pid>-...`, so that a later run can tell which ones
/// belong to a process that is gone.
pub(crate) const NAME_START: &str = "qq";

/// Runs `program args`, feeding `stdin` when given; the error names the command and carries
/// what it said.
pub(crate) fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let shown = format!("{program} {}", args.join(" "));
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("`{shown}` could not start: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| format!("`{shown}`: writing its input: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`{shown}`: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{shown}` failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            stdin
                .map(|s| format!("\ninput was:\n{s}"))
                .unwrap_or_default()
        ))
    }
}

/// Runs `program args` inside namespace `ns`.
pub(crate) fn run_in(
    ns: &str,
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, String> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all, stdin)
}

/// Why the lab cannot run on this machine, checked once per process.
pub(crate) fn check() -> Result<(), String> {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    CHECKED.get_or_init(check_now).clone()
}

fn check_now() -> Result<(), String> {
    if effective_uid()? != 0 {
        return Err("not root (network namespaces and nftables need root)".into());
    }
    for (program, flag, package) in [
        ("ip", "-V", "iproute2"),
        ("nft", "--version", "nftables"),
        ("conntrack", "--version", "conntrack"),
    ] {
        run(program, &[flag], None)
            .map_err(|e| format!("`{program}` is missing (apt-get install {package}): {e}"))?;
    }
    // Root is not always enough (a container without CAP_SYS_ADMIN): try the real thing.
    let probe = format!("{NAME_START}{}-probe", std::process::id());
    let _ = run("ip", &["netns", "del", &probe], None);
    run("ip", &["netns", "add", &probe], None)?;
    let tried = run_in(
        &probe,
        "nft",
        &["-f", "-"],
        Some(
            "table ip probe {\n chain c { type nat hook postrouting priority srcnat; masquerade fully-random; }\n}\n",
        ),
    );
    let _ = run("ip", &["netns", "del", &probe], None);
    tried.map(|_| ())
}

fn effective_uid() -> Result<u32, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
        .ok_or_else(|| "no effective uid in /proc/self/status".into())
}

/// Namespaces named `qq<pid>-...` whose process is gone: left by a run that was killed before
/// its guards could clean up. Namespaces of live processes (another test binary, another
/// engineer's run) are never touched.
pub(crate) fn stale_namespaces() -> Vec<String> {
    let Ok(list) = run("ip", &["netns", "list"], None) else {
        return Vec::new();
    };
    list.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| {
            let Some(rest) = name.strip_prefix(NAME_START) else {
                return false;
            };
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            !digits.is_empty()
                && rest[digits.len()..].starts_with('-')
                && !Path::new("/proc").join(&digits).exists()
        })
        .map(str::to_owned)
        .collect()
}

/// Kills what still runs in `ns` (it was started there by a lab) and removes the namespace;
/// its interfaces, bridges, nftables tables and conntrack entries go with it.
pub(crate) fn remove_namespace(ns: &str) {
    if let Ok(pids) = run("ip", &["netns", "pids", ns], None) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            // SAFETY: kill(2) with a pid read from the kernel's list of this namespace.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    let _ = run("ip", &["netns", "del", ns], None);
}

/// Runs `make` on a short-lived thread that has entered namespace `ns`; a socket made there
/// stays in that namespace for its whole life, whichever thread uses it later.
pub(crate) fn in_namespace<T: Send + 'static>(
    ns: &str,
    make: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let path = Path::new("/run/netns").join(ns);
    thread::spawn(move || {
        let file = File::open(&path)?;
        // SAFETY: setns(2) on an open namespace file; it changes only this thread, which
        // ends right after `make`.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        make()
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?
}
