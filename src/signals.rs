//! The signals that end a long-running qqchat, as a channel: each front end ends through
//! its own exit on them, so the goodbye is said and what is written is closed.

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The signals that stop `listen`, `bot` and the chat the way Ctrl-C (or quitting) does
/// (goodbye sent, history closed), as a channel for a loop's `select!`: SIGTERM always, SIGINT and
/// SIGHUP unless they were ignored when qqchat started. `nohup` ignores SIGHUP and a shell
/// ignores SIGINT for a job it starts in the background; both choices are kept.
pub fn quit_signals() -> Result<crossbeam_channel::Receiver<i32>> {
    let wanted: Vec<i32> = [SIGTERM, SIGINT, SIGHUP]
        .into_iter()
        .filter(|&s| s == SIGTERM || !ignored_at_start(s))
        .collect();
    let mut signals =
        signal_hook::iterator::Signals::new(&wanted).context("catch SIGTERM, SIGINT and SIGHUP")?;
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("qqchat-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if tx.send(signal).is_err() {
                    break;
                }
            }
        })
        .context("start the signal thread")?;
    Ok(rx)
}

/// Whether `signal` is ignored (`SIG_IGN`) in this process, as it was inherited.
#[cfg(unix)]
fn ignored_at_start(signal: i32) -> bool {
    // SAFETY: sigaction(2) with no new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

#[cfg(not(unix))]
fn ignored_at_start(_signal: i32) -> bool {
    false
}
