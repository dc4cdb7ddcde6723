//! `qqchat listen`: print each message as it arrives, for people and for scripts.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use jiff::tz::TimeZone;
use serde_json::json;

use super::{Common, engine_options, load_book, open_history, serve_control, start_engine};
use crate::engine::EngineEvent;

pub fn listen(common: &Common, json: bool) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let history = open_history(common)?;
    // Like the chat, a running `listen` delivers the outbox when a contact is heard from.
    let mut options = engine_options(&book, Some(history), true)?;
    options.stun = super::stun_servers(&book.me);
    let engine = start_engine(book.me.listen, options)?;
    let _control = serve_control(common, &engine)?;
    eprintln!(
        "qqchat: listening on {} as {}; Ctrl-C stops",
        engine.local_addr, book.me.name
    );
    let tz = TimeZone::system();
    let stdout = std::io::stdout();
    for event in &engine.events {
        let line = match event {
            EngineEvent::Received {
                from,
                path,
                text,
                sent_at,
                received_at,
                plain,
                ..
            } => {
                let name = book.by_peer(from).map(|c| c.name.clone());
                if json {
                    json!({
                        "from": name,
                        "addr": path.to_string(),
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
            EngineEvent::Error(err) | EngineEvent::Trouble { text: err, .. } => {
                eprintln!("qqchat: {err}");
                continue;
            }
            _ => continue,
        };
        let mut out = stdout.lock();
        // A closed pipe (`qqchat listen | head`) ends listening quietly.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            engine.shutdown();
            return Ok(ExitCode::SUCCESS);
        }
    }
    bail!("the engine stopped")
}
