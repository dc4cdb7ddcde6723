//! The real chat on a real terminal (tmux) for a new user: no contacts file at all.
//! It starts, says how to add a friend, and writes the file when the first one is added.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use qqchat_testkit::{TempDir, free_port, qqchat, text};

/// A tmux server of this test's own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` in a 100×30 terminal; `None` (loudly) when tmux is not installed,
    /// unless CI requires it.
    fn start(tag: &str, command: &str) -> Option<Tmux> {
        let socket = format!("qqchat-{tag}-{}", std::process::id());
        let started = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "100",
                "-y",
                "30",
                command,
            ])
            .status();
        match started {
            Ok(status) if status.success() => Some(Tmux { socket }),
            other => {
                let why =
                    format!("tmux could not start ({other:?}); install tmux to run this test");
                assert!(
                    std::env::var_os("QQCHAT_LAB_REQUIRED").is_none(),
                    "{why} (required here)"
                );
                eprintln!("SKIPPED: {why}");
                None
            }
        }
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        text(&out.stdout)
    }

    /// Waits until the screen shows `needle`; the screen either way.
    fn wait_for(&self, needle: &str) -> Result<String, String> {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return Ok(screen);
            }
            if Instant::now() > end {
                return Err(screen);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The command line that runs qqchat as the person of `dir`, for tmux (which takes one
/// shell command).
fn qqchat_line(dir: &Path, args: &str) -> String {
    let program = qqchat(dir).get_program().to_string_lossy().into_owned();
    let d = dir.display();
    format!(
        "cd '{d}' && env HOME='{d}' XDG_CONFIG_HOME='{d}/config' QQCHAT_DATA_DIR='{d}/data' '{program}' {args}; sleep 30"
    )
}

#[test]
fn a_first_start_without_a_contacts_file_chats_and_makes_the_file_on_the_first_add() {
    let dir = TempDir::new("first-start");
    let port = free_port();
    let Some(tmux) = Tmux::start(
        "first",
        &qqchat_line(dir.path(), &format!("--bind 127.0.0.1:{port}")),
    ) else {
        return;
    };
    let screen = tmux
        .wait_for("no contacts yet")
        .unwrap_or_else(|s| panic!("no first-start hint:\n{s}"));
    // On loopback nobody on the LAN could reach it, so the hint does not promise them.
    assert!(screen.contains("A adds a friend"), "{screen}");
    assert!(!screen.contains("appear by themselves"), "{screen}");
    let file = dir
        .path()
        .join("config")
        .join("qqchat")
        .join("contacts.toml");
    assert!(
        !file.exists(),
        "nothing is written before a contact is added"
    );

    // A friend's contact string, pasted with A.
    let key = "sd/1lfzxMpdqCdXuWHG0Tn/zjWTXuXkudTOWMLOTmHw=";
    tmux.keys(&["A"]);
    tmux.wait_for("contact string")
        .unwrap_or_else(|s| panic!("no prompt for the contact string:\n{s}"));
    tmux.keys(&["-l", &format!("qqchat:bob@127.0.0.1:9302?key={key}")]);
    tmux.keys(&["Enter"]);
    let screen = tmux
        .wait_for("bob added")
        .unwrap_or_else(|s| panic!("bob was not added:\n{s}"));
    assert!(screen.contains("bob"), "{screen}");
    let written = std::fs::read_to_string(&file).expect("the contacts file was made");
    assert!(written.contains(key), "{written}");
    assert!(
        written.contains(&format!("listen = \"127.0.0.1:{port}\"")),
        "{written}"
    );
    assert!(
        written.contains("# [lan]"),
        "commented like the example: {written}"
    );
    // The file loads as qqchat reads it.
    qqchat::contacts::ContactBook::load(&file).expect("the file written loads");
}

#[test]
fn naming_a_contacts_file_that_is_missing_still_stops_the_chat() {
    let dir = TempDir::new("first-missing");
    let out = qqchat(dir.path())
        .args(["--contacts", "nope.toml"])
        .output()
        .expect("run qqchat");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("nope.toml"), "{err}");
}
