//! `qqchat bot`: a peer that answers every message, for demos and for testing a link.

use std::net::SocketAddr;

use crate::proto::PeerId;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context, Result};
use clap::ValueEnum;

use super::{Common, engine_options, load_book, serve_control, start_engine};
use crate::engine::{Command, EngineEvent, EngineHandle, new_message_id};

/// How the bot answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Reply {
    /// The text in capitals.
    Upper,
    /// The text as it came.
    Echo,
    /// The local time, formatted with the text as a strftime pattern.
    Time,
}

impl Reply {
    pub fn answer(self, text: &str, now: &jiff::Zoned) -> String {
        match self {
            Reply::Upper => text.to_uppercase(),
            Reply::Echo => text.to_owned(),
            Reply::Time => {
                let pattern = if text.trim().is_empty() {
                    "%Y-%m-%d %H:%M:%S"
                } else {
                    text
                };
                jiff::fmt::strtime::format(pattern, now)
                    .unwrap_or_else(|err| format!("cannot format the time with {pattern:?}: {err}"))
            }
        }
    }
}

pub fn bot(common: &Common, reply: Reply) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    // The bot keeps no history: it would only fill the disk with its own echoes.
    let mut options = engine_options(&book, None, false)?;
    super::reach_options(&mut options, &book.me)?;
    super::lan_options(common, &book, &mut options, book.me.listen);
    let on_lan = options.discovery.is_some() || options.lan.is_some();
    let engine = start_engine(book.me.listen, options)?;
    let _control = serve_control(common, &engine, book.me.relay.is_some())?;
    // On the LAN, SIGINT and SIGTERM stop the engine, which withdraws the announcement and
    // says goodbye; the answering loop then ends as the engine's events do.
    let stopped_by = Arc::new(AtomicI32::new(0));
    if on_lan {
        let signals = super::listen::quit_signals()?;
        let (commands, stopped_by) = (engine.commands.clone(), Arc::clone(&stopped_by));
        std::thread::Builder::new()
            .name("qqchat-bot-signals".into())
            .spawn(move || {
                if let Ok(signal) = signals.recv() {
                    stopped_by.store(signal, Ordering::Relaxed);
                    let _ = commands.send(Command::Shutdown);
                }
            })
            .context("start the signal thread")?;
    }
    eprintln!(
        "qqchat: bot ({reply:?}) answering on {}; Ctrl-C stops",
        engine.local_addr
    );
    serve(&engine, reply, |from, path| {
        let name = book
            .by_peer(from)
            .map_or_else(|| path.to_string(), |c| c.name.clone());
        eprintln!("qqchat: answered {name}");
    });
    match stopped_by.load(Ordering::Relaxed) {
        0 => Ok(ExitCode::SUCCESS),
        // As a shell reports a process a signal ended.
        signal => Ok(ExitCode::from(128u8.saturating_add(signal as u8))),
    }
}

/// Sends each non-empty line of `text` to `to` as its own message.
pub(super) fn greet(engine: &EngineHandle, to: PeerId, text: &str) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let _ = engine.commands.send(Command::Send {
            to,
            text: line.to_owned(),
            plain: false,
            id: new_message_id(),
        });
    }
}

/// Answers every message until the engine stops, in the sender's own format.
pub(super) fn serve(
    engine: &EngineHandle,
    reply: Reply,
    mut answered: impl FnMut(PeerId, SocketAddr),
) {
    for event in &engine.events {
        if let EngineEvent::Received {
            from,
            path,
            text,
            plain,
            ..
        } = event
        {
            let text = reply.answer(&text, &jiff::Zoned::now());
            if engine
                .commands
                .send(Command::Send {
                    to: from,
                    text,
                    plain,
                    id: new_message_id(),
                })
                .is_err()
            {
                return;
            }
            answered(from, path);
        }
    }
}
