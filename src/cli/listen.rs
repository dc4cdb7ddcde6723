//! `qqchat listen`: print each message as it arrives, for people and for scripts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use jiff::tz::TimeZone;
use serde_json::json;

use super::{Common, engine_options, load_book, open_history, serve_control, start_engine};
use std::net::SocketAddr;

use crate::contacts::{Contact, ContactBook};
use crate::engine::{Command, EngineEvent};
use crate::identity;
use crate::lan::{Lan, LanConfig, LanEvent};
use signal_hook::consts::{SIGINT, SIGTERM};

/// What the listening loop waits for next.
enum Next {
    Engine(EngineEvent),
    Lan(LanEvent),
    /// SIGINT or SIGTERM, by number.
    Quit(i32),
    Stopped,
}

pub fn listen(common: &Common, json: bool) -> Result<ExitCode> {
    let (book, path) = load_book(common, false)?;
    let history = open_history(common)?;
    // Like the chat, a running `listen` delivers the outbox when a contact is heard from.
    let mut options = engine_options(&book, Some(history), true)?;
    super::reach_options(&mut options, &book.me)?;
    let public_key = options.protocol.identity.as_ref().map(|keys| keys.public);
    let engine = start_engine(book.me.listen, options)?;
    let _control = serve_control(common, &engine, book.me.relay.is_some())?;
    let config = lan_config(common, &book, public_key, engine.local_addr);
    // Caught only while announcing, so that the announcement is withdrawn on the way out;
    // otherwise they end the process as they always did.
    let quit = if config.discover {
        quit_signals()?
    } else {
        crossbeam_channel::never()
    };
    let mut lan = Lan::start(config);
    let book = Arc::new(Mutex::new(book));
    if let Some(path) = path.clone() {
        follow(path, Arc::clone(&book), engine.commands.clone())?;
    }
    let book = || book.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let name = book().me.name;
    eprintln!(
        "qqchat: listening on {} as {}; Ctrl-C stops",
        engine.local_addr, name
    );
    let tz = TimeZone::system();
    let stdout = std::io::stdout();
    // A failing relay is retried every minute: its reason is said once, not every time.
    let mut relay_said = None;
    loop {
        let next = crossbeam_channel::select! {
            recv(engine.events) -> event => event.map_or(Next::Stopped, Next::Engine),
            recv(lan.events()) -> event => match event {
                Ok(event) => Next::Lan(event),
                Err(_) => continue,
            },
            recv(quit) -> signal => Next::Quit(signal.unwrap_or(SIGTERM)),
        };
        let event = match next {
            Next::Engine(event) => event,
            Next::Lan(event) => {
                eprintln!("qqchat: {}", describe(&event));
                continue;
            }
            Next::Quit(signal) => {
                lan.withdraw();
                engine.shutdown();
                // As a shell reports a process a signal ended.
                return Ok(ExitCode::from(128u8.saturating_add(signal as u8)));
            }
            Next::Stopped => break,
        };
        let line = match event {
            EngineEvent::Received {
                from,
                path,
                kind,
                text,
                sent_at,
                received_at,
                plain,
                ..
            } => {
                let name = book().by_peer(from).map(|c| c.name.clone());
                if json {
                    json!({
                        "from": name,
                        "addr": path.to_string(),
                        "path": kind.name(),
                        "text": text,
                        "plain": plain,
                        "sent_at": sent_at.map(|t| t.to_string()),
                        "received_at": received_at.to_string(),
                    })
                    .to_string()
                } else {
                    format!(
                        "[{}] {}: {}",
                        received_at.to_zoned(tz.clone()).strftime("%H:%M:%S"),
                        crate::text::one_line(&name.unwrap_or_else(|| path.to_string())),
                        crate::text::one_line(&text),
                    )
                }
            }
            EngineEvent::Relay(report) => {
                if let Some(line) = report.describe()
                    && relay_said.as_ref() != Some(&line)
                {
                    eprintln!("qqchat: {line}");
                    relay_said = Some(line);
                }
                continue;
            }
            EngineEvent::Candidates { peer, addrs } => {
                if let (Some(file), Some(c)) = (&path, book().by_peer(peer)) {
                    learned(file, c, &addrs);
                }
                continue;
            }
            EngineEvent::Error(err) | EngineEvent::Trouble { text: err, .. } => {
                eprintln!("qqchat: {err}");
                continue;
            }
            _ => continue,
        };
        let mut out = stdout.lock();
        // A closed pipe (`qqchat listen | head`) ends listening quietly.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            lan.withdraw();
            engine.shutdown();
            return Ok(ExitCode::SUCCESS);
        }
    }
    bail!("the engine stopped")
}

/// Discovery for this `listen`: on unless `--no-lan`, or the chat socket is on loopback,
/// where nobody on the LAN could reach it anyway.
fn lan_config(
    common: &Common,
    book: &ContactBook,
    key: Option<crate::proto::PublicKey>,
    local: SocketAddr,
) -> LanConfig {
    LanConfig {
        discover: !common.no_lan && !local.ip().is_loopback(),
        interfaces: common.lan_interfaces.clone(),
        name: book.me.name.clone(),
        port: local.port(),
        key,
        ip: (!local.ip().is_unspecified()).then_some(local.ip()),
    }
}

/// SIGINT and SIGTERM as a channel, for the listening loop's `select!`.
fn quit_signals() -> Result<crossbeam_channel::Receiver<i32>> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("catch SIGINT and SIGTERM")?;
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

/// The line `listen` prints on stderr for a discovery event. Names and versions come
/// bounded and sanitized from [`crate::lan`].
fn describe(event: &LanEvent) -> String {
    match event {
        LanEvent::Discovered {
            name,
            addrs,
            key,
            version,
        } => {
            let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            let key = key.map_or_else(
                || "no key".to_owned(),
                |k| format!("key {}", identity::encode_key(&k)),
            );
            let version = version
                .as_ref()
                .map(|v| format!(", qqchat {v}"))
                .unwrap_or_default();
            format!(
                "on this network: {name} at {} ({key}{version})",
                addrs.join(", ")
            )
        }
        LanEvent::Gone { name } => format!("gone from this network: {name}"),
        LanEvent::Trouble(why) => why.clone(),
    }
}

/// Keeps the addresses a keyed contact told in the contacts file (which [`follow`] then
/// reads back), and says so.
fn learned(file: &std::path::Path, contact: &Contact, addrs: &[SocketAddr]) {
    let Some(key) = &contact.key else {
        return;
    };
    let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    match crate::contacts::learn_addrs(file, &contact.name, key, addrs) {
        Ok(()) => eprintln!(
            "qqchat: {} told its addresses ({}): kept in {}",
            crate::text::one_line(&contact.name),
            list.join(", "),
            file.display()
        ),
        Err(err) => eprintln!("qqchat: {}'s new addresses not kept: {err}", contact.name),
    }
}

/// How often a running `listen` looks at its contacts file.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Follows edits of the contacts file, as the chat does: a friend's new address (a relayed
/// one, say) takes effect without a restart, which would lose the relay allocation. A file
/// that does not parse keeps the old contacts, and says why.
fn follow(
    path: PathBuf,
    book: Arc<Mutex<ContactBook>>,
    commands: crossbeam_channel::Sender<Command>,
) -> Result<()> {
    let stamp = |path: &PathBuf| -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    let mut last = stamp(&path);
    std::thread::Builder::new()
        .name("qqchat-listen-contacts".into())
        .spawn(move || {
            loop {
                std::thread::sleep(FOLLOW_EVERY);
                let now = stamp(&path);
                if now == last {
                    continue;
                }
                last = now;
                let new = match ContactBook::load(&path) {
                    Ok(new) => new,
                    Err(err) => {
                        eprintln!("qqchat: old contacts kept: {err}");
                        continue;
                    }
                };
                let mut kept = book.lock().unwrap_or_else(PoisonError::into_inner);
                if new.contacts != kept.contacts {
                    kept.contacts.clone_from(&new.contacts);
                    if commands.send(Command::SetContacts(new.contacts)).is_err() {
                        break;
                    }
                    eprintln!("qqchat: contacts reloaded");
                }
            }
        })
        .context("start following the contacts file")?;
    Ok(())
}
