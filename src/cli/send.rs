//! `qqchat send`: deliver messages and say, by exit status, whether they arrived.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{Common, engine_options, load_book, open_history, start_engine, target};
use crate::engine::{Command, EngineEvent, new_message_id};

pub fn send(
    common: &Common,
    to: &str,
    text: &[String],
    timeout: f64,
    queue: bool,
) -> Result<ExitCode> {
    let (mut book, path) = load_book(common, false)?;
    if common.bind.is_none() && path.is_none() {
        // No identity to keep: any free port will do.
        book.me.listen.set_port(0);
    }
    let target = target(&book, to)?;
    let messages: Vec<String> = if text.is_empty() {
        let mut lines = Vec::new();
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading standard input")?;
            if !line.trim().is_empty() {
                lines.push(line);
            }
        }
        lines
    } else {
        vec![text.join(" ")]
    };
    if messages.is_empty() {
        bail!("nothing to send: give the text as arguments or on standard input");
    }
    let Some(timeout_secs) = super::seconds(timeout) else {
        bail!("--timeout must be a positive number of seconds, at most a year");
    };
    for (n, text) in messages.iter().enumerate() {
        if let Some(err) = crate::engine::too_long(text, crate::proto::MAX_MESSAGE) {
            bail!("nothing was sent: message {} is too long: {err}", n + 1);
        }
    }
    let history = open_history(common)?;
    let mut options = engine_options(&book, Some(history), false)?;
    // `send` only appends to the history: no need to read it.
    options.load_history = false;
    // `send` says no hello: it only talks to the one it sends to.
    options.watch = false;
    options.queue_failed = queue;
    options.protocol.give_up = timeout_secs;
    let engine = start_engine(book.me.listen, options)?;
    let mut pending: BTreeMap<u64, &str> = BTreeMap::new();
    for text in &messages {
        let id = new_message_id();
        pending.insert(id, text);
        engine
            .commands
            .send(Command::Send {
                to: target.peer,
                text: text.clone(),
                plain: target.plain,
                id,
            })
            .context("the engine stopped")?;
    }
    let mut undelivered = Vec::new();
    while !pending.is_empty() {
        match engine.events.recv() {
            Ok(EngineEvent::Delivered { id, .. } | EngineEvent::Sent { id, .. }) => {
                pending.remove(&id);
            }
            Ok(EngineEvent::Failed { id, .. } | EngineEvent::Queued { id, .. }) => {
                if let Some(text) = pending.remove(&id) {
                    undelivered.push(text);
                }
            }
            Ok(EngineEvent::Error(err)) => eprintln!("qqchat: {err}"),
            Ok(_) => {}
            Err(_) => bail!("the engine stopped"),
        }
    }
    engine.shutdown();
    if undelivered.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "qqchat: not delivered to {} ({}): {} of {} message(s), no receipt after {timeout} s; \
         is qqchat running there? (try: qqchat ping {})",
        target.name,
        target.addr,
        undelivered.len(),
        messages.len(),
        target.name,
    );
    for text in undelivered {
        eprintln!("  not delivered: {}", crate::text::preview(text, 80));
    }
    if queue {
        eprintln!(
            "qqchat: left in the outbox: the chat sends it when {} is next heard from",
            target.name
        );
    } else {
        eprintln!("qqchat: not queued (add --queue to leave it in the outbox)");
    }
    Ok(ExitCode::FAILURE)
}
