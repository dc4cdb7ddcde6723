//! `qqchat listen`: print each message as it arrives, for people and for scripts.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use jiff::tz::TimeZone;
use serde_json::json;

use super::{Common, load_book, start_engine};
use crate::contacts::ContactBook;
use crate::engine::{self, EngineEvent};

pub fn listen(common: &Common, json: bool) -> Result<ExitCode> {
    let book = load_book(common, false)?;
    let engine = start_engine(book.me.listen, engine::default_config())?;
    eprintln!(
        "qqchat: listening on {} as {}; Ctrl-C stops",
        engine.local_addr, book.me.name
    );
    let tz = TimeZone::system();
    let stdout = std::io::stdout();
    for event in &engine.events {
        let EngineEvent::Received {
            from,
            text,
            sent_at,
            received_at,
            plain,
        } = event
        else {
            continue;
        };
        let name = book.by_addr(from).map(|c| c.name.clone());
        let line = if json {
            json!({
                "from": name,
                "addr": from.to_string(),
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
                crate::text::one_line(&name.unwrap_or_else(|| from.to_string())),
                crate::text::one_line(&text),
            )
        };
        let mut out = stdout.lock();
        // A closed pipe (`qqchat listen | head`) ends listening quietly.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    Err(anyhow::anyhow!("the engine stopped")).context(describe(&book))
}

fn describe(book: &ContactBook) -> String {
    format!("listening on {}", book.me.listen)
}
