//! The front ends: the chat TUI, the demo, and the headless `send`, `listen` and `bot`, all
//! driving the same engine.

mod bot;
mod listen;
mod send;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::contacts::{self, Contact, ContactBook, Me};
use crate::engine::{self, EngineHandle};
use crate::proto::Config;

pub use bot::{Reply, bot};
pub use listen::listen;
pub use send::send;

/// Flags every command takes.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub contacts: Option<PathBuf>,
    pub bind: Option<String>,
    pub name: Option<String>,
}

/// Loads the contacts file. The chat needs one; the headless commands can do without,
/// unless one was named with `--contacts`.
fn load_book(common: &Common, required: bool) -> Result<ContactBook> {
    let mut book = match contacts::locate(common.contacts.as_deref()) {
        Ok(path) => ContactBook::load(&path)?,
        Err(err) if required || common.contacts.is_some() => return Err(err.into()),
        Err(_) => ContactBook::empty(Me::default()),
    };
    if let Some(name) = &common.name {
        if name.trim().is_empty() {
            bail!("--name must not be empty");
        }
        book.me.name.clone_from(name);
    }
    if let Some(bind) = &common.bind {
        book.me.listen = resolve(bind).with_context(|| format!("--bind {bind}"))?;
    }
    Ok(book)
}

/// Parses `ip:port` or `host:port`.
pub fn resolve(text: &str) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .with_context(|| format!("{text:?} is not an address like 127.0.0.1:9002 or [::1]:9002"))?
        .next()
        .with_context(|| format!("{text:?} did not resolve to any address"))
}

/// Binds the socket and starts the engine, before any terminal set-up.
fn start_engine(listen: SocketAddr, config: Config) -> Result<EngineHandle> {
    let socket = crate::net::bind(listen)?;
    Ok(engine::spawn(socket, config)?)
}

/// `qqchat`: the chat.
pub fn chat(common: &Common) -> Result<ExitCode> {
    let book = load_book(common, true)?;
    let engine = start_engine(book.me.listen, engine::default_config())?;
    crate::tui::run(book, engine)?;
    Ok(ExitCode::SUCCESS)
}

/// `qqchat demo`: the chat on loopback, with a bot contact answering from this process.
pub fn demo() -> Result<ExitCode> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let bot_engine = start_engine(loopback, engine::default_config())?;
    let bot_addr = bot_engine.local_addr;
    let me = Me {
        name: "you".into(),
        listen: loopback,
        bell: true,
    };
    let mut book = ContactBook::empty(me);
    book.contacts.push(Contact {
        name: "bot".into(),
        addr: bot_addr,
        plain: false,
    });
    let engine = start_engine(loopback, engine::default_config())?;
    let you = engine.local_addr;
    std::thread::Builder::new()
        .name("qqchat-demo-bot".into())
        .spawn(move || {
            bot::greet(
                &bot_engine,
                you,
                include_str!("../../assets/demo-greeting.txt"),
            );
            bot::serve(&bot_engine, Reply::Upper, |_| {});
        })?;
    book.me.listen = you;
    crate::tui::run(book, engine)?;
    Ok(ExitCode::SUCCESS)
}
