//! `qqchat send`: deliver messages and say, by exit status, whether they arrived.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Common, load_book, resolve, start_engine};
use crate::engine::{self, Command, EngineEvent};

/// Where a message goes and how.
struct Target {
    name: String,
    addr: SocketAddr,
    plain: bool,
}

fn target(book: &crate::contacts::ContactBook, to: &str) -> Result<Target> {
    if let Some(c) = book.by_name(to) {
        return Ok(Target {
            name: c.name.clone(),
            addr: c.addr,
            plain: c.plain,
        });
    }
    match resolve(to) {
        Ok(addr) => Ok(match book.by_addr(addr) {
            Some(c) => Target {
                name: c.name.clone(),
                addr,
                plain: c.plain,
            },
            None => Target {
                name: addr.to_string(),
                addr,
                plain: false,
            },
        }),
        Err(_) => {
            let known: Vec<&str> = book.contacts.iter().map(|c| c.name.as_str()).collect();
            if known.is_empty() {
                bail!("{to:?} is neither a contact nor an ip:port (no contacts are known)")
            }
            bail!(
                "{to:?} is neither a contact nor an ip:port; contacts: {}",
                known.join(", ")
            )
        }
    }
}

pub fn send(common: &Common, to: &str, text: &[String], timeout: f64) -> Result<ExitCode> {
    let mut book = load_book(common, false)?;
    if common.bind.is_none() && common.contacts.is_none() && book.contacts.is_empty() {
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
    if !(timeout.is_finite() && timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    let mut config = engine::default_config();
    config.give_up = Duration::from_secs_f64(timeout);
    let engine = start_engine(book.me.listen, config)?;
    let mut pending: BTreeMap<u64, &str> = BTreeMap::new();
    for (tag, text) in (0u64..).zip(&messages) {
        pending.insert(tag, text);
        engine
            .commands
            .send(Command::Send {
                to: target.addr,
                text: text.clone(),
                plain: target.plain,
                tag,
            })
            .context("the engine stopped")?;
    }
    let mut failed = Vec::new();
    while !pending.is_empty() {
        match engine.events.recv() {
            Ok(EngineEvent::Delivered { tag, .. } | EngineEvent::Sent { tag, .. }) => {
                pending.remove(&tag);
            }
            Ok(EngineEvent::Failed { tag, .. }) => {
                if let Some(text) = pending.remove(&tag) {
                    failed.push(text);
                }
            }
            Ok(EngineEvent::Received { .. }) => {}
            Err(_) => bail!("the engine stopped"),
        }
    }
    let _ = engine.commands.send(Command::Shutdown);
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "qqchat: not delivered to {} ({}): {} of {} message(s), no receipt after {timeout} s; \
         is qqchat running there? (try: qqchat listen --bind {})",
        target.name,
        target.addr,
        failed.len(),
        messages.len(),
        target.addr,
    );
    for text in failed {
        eprintln!("  not delivered: {}", crate::text::one_line(text));
    }
    Ok(ExitCode::FAILURE)
}
