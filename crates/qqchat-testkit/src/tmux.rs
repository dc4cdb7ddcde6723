//! The real chat in a real terminal: tmux runs it, keys go in with `send-keys`, the screen
//! comes back with `capture-pane`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{qqchat, text};

/// A tmux server of this test's own, killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` in a 100×30 terminal; `None` (loudly) when tmux is not installed,
    /// unless CI requires it.
    pub fn start(tag: &str, command: &str) -> Option<Tmux> {
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

    pub fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        text(&out.stdout)
    }

    /// Waits until the screen shows `needle`; the screen either way.
    pub fn wait_for(&self, needle: &str) -> Result<String, String> {
        self.wait_within(needle, Duration::from_secs(10))
    }

    /// [`Tmux::wait_for`], waiting up to `limit` (a file on its way takes longer).
    pub fn wait_within(&self, needle: &str, limit: Duration) -> Result<String, String> {
        let end = Instant::now() + limit;
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
pub fn qqchat_line(dir: &Path, args: &str) -> String {
    let program = qqchat(dir).get_program().to_string_lossy().into_owned();
    let d = dir.display();
    format!(
        "cd '{d}' && env HOME='{d}' XDG_CONFIG_HOME='{d}/config' QQCHAT_DATA_DIR='{d}/data' '{program}' {args}; sleep 30"
    )
}

/// The chat of `person`, in tmux: its config under `config/` holds the key `id` gave them.
/// `None` (loudly) when tmux is not installed, as [`Tmux::start`].
pub fn chat(person: &crate::process::Person, tag: &str) -> Option<Tmux> {
    let dir = person.dir.path();
    std::fs::create_dir_all(dir.join("config/qqchat")).expect("the config directory");
    std::fs::copy(
        dir.join("qqchat/identity.toml"),
        dir.join("config/qqchat/identity.toml"),
    )
    .expect("the identity file");
    let line = qqchat_line(dir, &format!("--contacts '{}'", person.contacts()));
    Tmux::start(tag, &line)
}
