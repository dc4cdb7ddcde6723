//! `qqchat send`: deliver messages and say, by exit status, whether they arrived.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crossbeam_channel::RecvTimeoutError;

use super::{
    Common, EngineLink, Say, Target, Terminal, ask_running, engine_options, one_off_book,
    open_history, start_engine, target,
};
use crate::control::Request;
use crate::engine::{Command, EngineEvent, new_message_id};

pub fn send(
    common: &Common,
    to: &str,
    text: &[String],
    timeout: f64,
    queue: bool,
) -> Result<ExitCode> {
    let book = one_off_book(common)?;
    // A contact's name wins over a group's; a group is then named by its id.
    let group = if book.by_name(to).is_some() {
        None
    } else {
        super::groups::for_send(&super::read_history(common)?, to)?
    };
    let target = match &group {
        Some(_) => None,
        None => Some(target(&book, to)?),
    };
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
    if let Some(view) = group {
        for (n, text) in messages.iter().enumerate() {
            if text.len() > crate::proto::group::MAX_TEXT {
                bail!(
                    "nothing was sent: message {} is too long for a group (at most {} bytes)",
                    n + 1,
                    crate::proto::group::MAX_TEXT
                );
            }
        }
        if queue {
            eprintln!(
                "qqchat: note: --queue is not needed for a group: members who are away catch up \
                 from the others"
            );
        }
        return super::groups::send(common, &book, &view, messages, timeout);
    }
    let target = target.expect("a target when not a group");
    if book.by_name(to).is_some()
        && let Ok(history) = super::read_history(common)
        && let Some(ids) = super::groups::ids_named(&history, to)
    {
        eprintln!(
            "qqchat: note: {to} is a contact, so this goes to them; to write to the group {to}, \
             name it by its id: qqchat send {ids} ..."
        );
    }
    for (n, text) in messages.iter().enumerate() {
        if let Some(err) = crate::engine::too_long(text, crate::proto::MAX_MESSAGE) {
            bail!("nothing was sent: message {} is too long: {err}", n + 1);
        }
    }
    let request = Request::Send {
        to: target.to_wire(),
        texts: messages.clone(),
        timeout_secs: timeout_secs.as_secs_f64(),
        queue,
    };
    if let Some(code) = ask_running(common, &request)? {
        return Ok(ExitCode::from(code));
    }
    let history = open_history(common)?;
    let mut options = engine_options(&book, Some(history), false)?;
    // `send` only appends to the history: no need to read it, nor the groups.
    options.load_history = false;
    options.load_groups = false;
    // `send` says no hello: it only talks to the one it sends to.
    options.watch = false;
    options.queue_failed = queue;
    options.protocol.give_up = timeout_secs;
    super::reach_ipmsg(common, &book, &target, &mut options);
    let engine = start_engine(book.me.listen, options)?;
    let code = deliver(
        &EngineLink::of(&engine),
        &mut Terminal,
        &target,
        &messages,
        timeout_secs,
        queue,
        false,
    );
    engine.shutdown();
    Ok(ExitCode::from(code))
}

/// Sends `messages` to `target` through `engine` and waits for each to be delivered,
/// reporting through `say`; the exit code. `shared`: the engine is a running chat's, whose
/// give-up time is its own, so `timeout` is enforced here and, without `queue`, what runs
/// out of retries fails instead of joining the chat's outbox.
pub(super) fn deliver(
    engine: &EngineLink<'_>,
    say: &mut dyn Say,
    target: &Target,
    messages: &[String],
    timeout: Duration,
    queue: bool,
    shared: bool,
) -> u8 {
    let mut pending: BTreeMap<u64, &str> = BTreeMap::new();
    for text in messages {
        let id = new_message_id();
        pending.insert(id, text);
        if shared {
            let _ = engine.commands.send(Command::Relayed { id, queue });
        }
        let sent = engine.commands.send(Command::Send {
            to: target.peer,
            text: text.clone(),
            plain: target.plain,
            id,
        });
        if sent.is_err() {
            say.err("qqchat: the engine stopped".into());
            return 1;
        }
    }
    // A little more than the engine's own give-up, so its verdict normally comes first.
    let deadline = Instant::now() + timeout + Duration::from_secs(2);
    let mut undelivered = Vec::new();
    // Why the engine refused a message outright, to say instead of "no receipt".
    let mut refused = None;
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events.recv_timeout(left) {
            Ok(EngineEvent::Delivered { id, .. } | EngineEvent::Sent { id, .. }) => {
                pending.remove(&id);
            }
            Ok(EngineEvent::Failed { id, .. } | EngineEvent::Queued { id, .. }) => {
                if let Some(text) = pending.remove(&id) {
                    undelivered.push(text);
                }
            }
            Ok(EngineEvent::Error(err)) => {
                say.err(format!("qqchat: {err}"));
                if let Some(why) = err.strip_prefix("not sent: ") {
                    refused = Some(why.to_owned());
                }
            }
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => {
                undelivered.extend(std::mem::take(&mut pending).into_values());
            }
            Err(RecvTimeoutError::Disconnected) => {
                say.err("qqchat: the engine stopped".into());
                return 1;
            }
        }
    }
    if undelivered.is_empty() {
        return 0;
    }
    let why = match refused {
        Some(err) => err,
        None => format!(
            "no receipt after {} s; is qqchat running there? (try: qqchat ping {})",
            timeout.as_secs_f64(),
            target.name
        ),
    };
    say.err(format!(
        "qqchat: not delivered to {} ({}): {} of {} message(s), {why}",
        target.name,
        target.addr,
        undelivered.len(),
        messages.len(),
    ));
    for text in undelivered {
        say.err(format!(
            "  not delivered: {}",
            crate::text::preview(text, 80)
        ));
    }
    if queue {
        say.err(format!(
            "qqchat: left in the outbox: the chat sends it when {} is next heard from",
            target.name
        ));
    } else {
        say.err("qqchat: not queued (add --queue to leave it in the outbox)".into());
    }
    1
}
