//! The programs `[me] notify_command` and `[me] on_message` name, run for notifications and
//! for every message. Each runs on a thread of its own, so a slow or stuck program never
//! holds the chat up; none goes through a shell, so no text from the network is ever part
//! of a command line; and they are rate-limited, so a flood of messages cannot start a
//! flood of processes.

use std::collections::VecDeque;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// At most this many runs of each program in [`WINDOW`]; beyond, a run is skipped.
pub const MAX_RUNS: usize = 20;
pub const WINDOW: Duration = Duration::from_secs(10);

/// A program and how often it ran lately.
#[derive(Debug)]
pub struct Hook {
    argv: Vec<String>,
    runs: VecDeque<Instant>,
}

impl Hook {
    pub fn new(argv: Vec<String>) -> Hook {
        Hook {
            argv,
            runs: VecDeque::new(),
        }
    }

    /// Whether a run at `now` is within the limit (and counts it).
    fn allowed(&mut self, now: Instant) -> bool {
        while self
            .runs
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.runs.pop_front();
        }
        if self.runs.len() >= MAX_RUNS {
            return false;
        }
        self.runs.push_back(now);
        true
    }

    /// Runs the program with `env` added and `input` on its standard input, unless the
    /// limit is reached; returns whether it was started. Its output goes nowhere (the
    /// terminal belongs to the chat), and it is waited for on its own thread.
    pub fn run(&mut self, now: Instant, env: &[(&str, &str)], input: Option<String>) -> bool {
        if !self.allowed(now) {
            return false;
        }
        let Some((program, args)) = self.argv.split_first() else {
            return false;
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(env.iter().copied())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let Ok(mut child) = command.spawn() else {
            return false;
        };
        let stdin = child.stdin.take();
        let _ = std::thread::Builder::new()
            .name("qqchat-hook".into())
            .spawn(move || {
                if let (Some(mut stdin), Some(input)) = (stdin, input) {
                    let _ = stdin.write_all(input.as_bytes());
                }
                let _ = child.wait();
            });
        true
    }
}

/// The JSON line `on_message` reads: who wrote, where (a group's name and hex id, if any),
/// the text and when it arrived.
pub fn message_json(
    from: &str,
    group: Option<(&str, &str)>,
    text: &str,
    at: jiff::Timestamp,
) -> String {
    let value = serde_json::json!({
        "from": from,
        "group": group.map(|(name, _)| name),
        "group_id": group.map(|(_, id)| id),
        "text": text,
        "received_at": at.to_string(),
    });
    format!("{value}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_limited_per_window() {
        let mut hook = Hook::new(vec!["true".into()]);
        let t0 = Instant::now();
        let started = (0..MAX_RUNS + 5).filter(|_| hook.allowed(t0)).count();
        assert_eq!(started, MAX_RUNS);
        assert!(hook.allowed(t0 + WINDOW), "a new window, new runs");
    }

    #[test]
    fn the_message_is_one_json_line_with_the_text_as_data() {
        let at = jiff::Timestamp::from_second(1_800_000_000).expect("a time");
        let line = message_json("bob", None, "hi \"there\"\n$(rm -rf /)", at);
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line:?}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(v["from"], "bob");
        assert_eq!(v["text"], "hi \"there\"\n$(rm -rf /)");
        assert!(v["group"].is_null());
    }

    #[cfg(unix)]
    #[test]
    fn the_program_gets_the_text_on_stdin_and_in_its_environment_never_in_a_command_line() {
        let dir = std::env::temp_dir().join(format!("qqchat-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a dir");
        let out = dir.join("got");
        // A fixed script: the text reaches it only as data.
        let script = format!(
            "cat > '{0}.in'; printf '%s|%s' \"$QQCHAT_FROM\" \"$QQCHAT_TEXT\" > '{0}.env'; mv '{0}.in' '{0}'",
            out.display()
        );
        let mut hook = Hook::new(vec!["sh".into(), "-c".into(), script]);
        let text = "x'; touch pwned; '";
        assert!(hook.run(
            Instant::now(),
            &[("QQCHAT_FROM", "bob"), ("QQCHAT_TEXT", text)],
            Some("line\n".into()),
        ));
        let mut got = None;
        for _ in 0..500 {
            if let Ok(t) = std::fs::read_to_string(&out) {
                got = Some(t);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(got.as_deref(), Some("line\n"));
        let env = std::fs::read_to_string(format!("{}.env", out.display())).expect("env");
        assert_eq!(env, format!("bob|{text}"));
        assert!(!dir.join("pwned").exists() && !std::path::Path::new("pwned").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
