//! `listen` and `bot` running unattended: they stop the way Ctrl-C stops them (goodbye
//! sent, history closed, the exit status a shell shows for the signal) on SIGTERM from a
//! service manager and on SIGHUP when their terminal goes, and they keep a signal ignored
//! when they were started that way (`nohup`, a shell's background job).

#![cfg(unix)]

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use qqchat_testkit::{Person, Running, friends, qqchat};

/// Bounds a stop that should come at once; not a timing: a stop that never comes is the bug.
const STOPS: Duration = Duration::from_secs(30);

fn listen(person: &Person, ignore: &'static [i32]) -> Running {
    let mut command: Command = qqchat(person.dir.path());
    command.args(["--contacts", &person.contacts(), "listen"]);
    // SAFETY: between fork and exec only signal(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            // Each signal as the test says, whatever the test runner itself was started
            // with (under `nohup`, SIGHUP would be ignored for every child).
            for s in [libc::SIGHUP, libc::SIGINT] {
                let how = if ignore.contains(&s) {
                    libc::SIG_IGN
                } else {
                    libc::SIG_DFL
                };
                libc::signal(s, how);
            }
            Ok(())
        });
    }
    let running = Running::start(command);
    running.wait_ready("listening on");
    running
}

#[test]
fn listen_stops_on_sighup_as_on_ctrl_c() {
    let (alice, _bob) = friends("alice", "bob");
    let mut running = listen(&alice, &[]);
    running.child.signal(libc::SIGHUP);
    // 128 + 1, as a shell reports a process SIGHUP ended: it stopped through its own exit,
    // not killed by the signal (which leaves no exit code at all).
    assert_eq!(running.child.wait_for(STOPS), Some(129));
}

#[test]
fn a_bot_with_no_lan_stops_on_sigterm_as_on_ctrl_c() {
    let (_alice, bot) = friends("alice", "bot");
    let mut command = qqchat(bot.dir.path());
    command.args(["--contacts", &bot.contacts(), "bot"]);
    let mut running = Running::start(command);
    running.wait_ready("answering on");
    running.child.terminate();
    assert_eq!(running.child.wait_for(STOPS), Some(143));
}

#[test]
fn started_in_the_background_or_with_nohup_it_keeps_those_signals_ignored() {
    let (alice, _bob) = friends("alice", "bob");
    // As `nohup qqchat listen &` from a script: SIGHUP and SIGINT ignored.
    let mut running = listen(&alice, &[libc::SIGHUP, libc::SIGINT]);
    running.child.signal(libc::SIGHUP);
    running.child.signal(libc::SIGINT);
    // Both ignored, as asked: it is still there to stop with SIGTERM, cleanly.
    assert_eq!(running.child.wait_for(Duration::from_secs(2)), None);
    assert!(
        running.child.is_running(),
        "a signal it was told to ignore stopped it"
    );
    running.child.terminate();
    assert_eq!(running.child.wait_for(STOPS), Some(143));
}

#[test]
fn the_example_systemd_unit_runs_a_real_command() {
    let unit = include_str!("../assets/qqchat-bot.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    let program = words.next().expect("a program");
    assert!(program.ends_with("/qqchat"), "{program}");
    let args: Vec<&str> = words.collect();
    assert!(unit.contains("KillSignal=SIGTERM"));
    // The same arguments, asked for their help, are a command qqchat knows.
    let dir = qqchat_testkit::TempDir::new("unit");
    let out = qqchat(dir.path())
        .args(&args)
        .arg("--help")
        .output()
        .expect("run qqchat");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
