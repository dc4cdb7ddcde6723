//! `qqchat send-file`: offer files and folders to a contact and wait until each is verified
//! there, with progress on stderr when it is a terminal.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crossbeam_channel::RecvTimeoutError;

use super::{
    Common, EngineLink, Say, Target, Terminal, engine_options, one_off_book, start_engine, target,
};
use crate::control::Request;
use crate::engine::{Command, DiskFiles, EngineEvent, FileProgress, new_message_id};
use crate::files::human_bytes;
use crate::files::outgoing::{Plan, manifest, plan};

pub fn send_file(
    common: &Common,
    to: &str,
    paths: &[PathBuf],
    rename: Option<String>,
    timeout: f64,
) -> Result<ExitCode> {
    let book = one_off_book(common)?;
    let target = target(&book, to)?;
    let Some(timeout) = super::seconds(timeout) else {
        bail!("--timeout must be a positive number of seconds, at most a year");
    };
    // Checked here first, so a wrong path is said before anything runs; absolute, since a
    // running qqchat that does the work has another working directory.
    plan_files(paths, rename.as_deref())?;
    let paths: Vec<PathBuf> = paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("{}", p.display())))
        .collect::<Result<_>>()?;
    let request = Request::SendFile {
        to: target.to_wire(),
        paths: paths.clone(),
        rename: rename.clone(),
        timeout_secs: timeout.as_secs_f64(),
    };
    if let Some(code) = super::ask_running(common, &request)? {
        return Ok(ExitCode::from(code));
    }
    let mut options = engine_options(&book, None, false)?;
    options.watch = false;
    options.files = Some(Box::new(DiskFiles::new(super::files_setup(
        common, &book.me,
    ))));
    // An IP Messenger client fetches the files over TCP on its port, 2425.
    let ipmsg = super::reach_ipmsg(common, &book, &target, &mut options);
    let engine = start_engine(book.me.listen, options)?;
    let code = deliver_files(
        &EngineLink::of(&engine),
        &mut Terminal,
        &target,
        ipmsg,
        (&paths, rename.as_deref()),
        timeout,
        std::io::stderr().is_terminal(),
    );
    engine.shutdown();
    Ok(ExitCode::from(code))
}

/// The files that sending `paths` offers, `rename` giving a single file another name.
fn plan_files(paths: &[PathBuf], rename: Option<&str>) -> Result<Plan> {
    let mut plan = plan(paths)?;
    if let Some(name) = rename {
        match plan.files.as_mut_slice() {
            [only] if paths.len() == 1 => only.name = name.to_owned(),
            _ => bail!("--as names a single file; it was given more than one file"),
        }
    }
    if plan.files.is_empty() {
        bail!("nothing to send: no regular file among the paths given");
    }
    Ok(plan)
}

/// Offers the files of `paths` to `target` through `engine` and waits until each one is
/// verified there (an IP Messenger client's: fetched whole), reporting through `say`; the
/// exit code. The engine is this command's own or a running chat's, asked over its control
/// socket. `bar`: draw one line of progress, redrawn in place (on a terminal only).
pub(super) fn deliver_files(
    engine: &EngineLink<'_>,
    say: &mut dyn Say,
    target: &Target,
    ipmsg: bool,
    (paths, rename): (&[PathBuf], Option<&str>),
    timeout: Duration,
    bar: bool,
) -> u8 {
    let plan = match plan_files(paths, rename) {
        Ok(plan) => plan,
        Err(err) => {
            say.err(format!("qqchat: {err:#}"));
            return 2;
        }
    };
    for (path, why) in &plan.skipped {
        say.err(format!("qqchat: {}: left out: {why}", path.display()));
    }
    let mut pending = BTreeMap::new();
    for file in &plan.files {
        let manifest = match manifest(&file.path, file.size) {
            Ok(m) => m,
            Err(err) => {
                say.err(format!("qqchat: reading {}: {err}", file.path.display()));
                return 2;
            }
        };
        let id = new_message_id();
        pending.insert(id, file.name.clone());
        let sent = engine.commands.send(Command::SendFile {
            to: target.peer,
            id,
            path: file.path.clone(),
            name: file.name.clone(),
            manifest,
        });
        if sent.is_err() {
            say.err("qqchat: the engine stopped".into());
            return 1;
        }
    }
    let mut bar = Bar::new(plan.total(), bar);
    let deadline = Instant::now() + timeout;
    let mut failed = 0;
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine
            .events
            .recv_timeout(left.max(Duration::from_millis(1)))
        {
            Ok(EngineEvent::FileProgress(p)) if p.outgoing && pending.contains_key(&p.id) => {
                bar.update(&p);
            }
            Ok(EngineEvent::FileDone {
                id, outgoing: true, ..
            }) => {
                if let Some(name) = pending.remove(&id) {
                    bar.clear();
                    let how = if ipmsg {
                        // IP Messenger has no hash: all that is known is that it was read.
                        "fetched whole"
                    } else {
                        "received and verified"
                    };
                    say.err(format!("qqchat: {name}: {how} by {}", target.name));
                }
            }
            Ok(EngineEvent::FileFailed {
                id,
                outgoing: true,
                reason,
                ..
            }) => {
                if let Some(name) = pending.remove(&id) {
                    bar.clear();
                    say.err(format!("qqchat: {name}: not sent: {reason}"));
                    failed += 1;
                }
            }
            Ok(EngineEvent::Error(err)) => {
                bar.clear();
                say.err(format!("qqchat: {err}"));
            }
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => {
                bar.clear();
                for name in pending.values() {
                    say.err(format!(
                        "qqchat: {name}: not verified by {} within {} s",
                        target.name,
                        timeout.as_secs_f64()
                    ));
                }
                failed += pending.len();
                pending.clear();
            }
            Err(RecvTimeoutError::Disconnected) => {
                say.err("qqchat: the engine stopped".into());
                return 1;
            }
        }
    }
    bar.clear();
    u8::from(failed > 0)
}

/// One line of progress over all files, redrawn in place; only on a terminal, so logs and
/// scripts get the plain lines alone.
struct Bar {
    on: bool,
    total: u64,
    done: BTreeMap<u64, (u64, f64)>,
    drawn: bool,
    last: Option<Instant>,
}

impl Bar {
    fn new(total: u64, on: bool) -> Self {
        Bar {
            on,
            total,
            done: BTreeMap::new(),
            drawn: false,
            last: None,
        }
    }

    fn update(&mut self, p: &FileProgress) {
        if !self.on {
            return;
        }
        self.done.insert(p.id, (p.done, p.rate));
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(Instant::now());
        let done: u64 = self.done.values().map(|d| d.0).sum();
        let rate: f64 = self.done.values().map(|d| d.1).sum();
        let left = self.total.saturating_sub(done);
        let eta = if rate > 1.0 {
            crate::text::duration_words(Duration::from_secs_f64(left as f64 / rate))
        } else {
            "…".to_owned()
        };
        let line = format!(
            "{} {} of {} at {}/s, {eta} left",
            crate::text::bar(done, self.total, 20),
            human_bytes(done),
            human_bytes(self.total),
            human_bytes(rate as u64),
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.drawn = true;
    }

    fn clear(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            self.drawn = false;
        }
    }
}
