//! `qqchat id` and `qqchat add`: exchanging public keys, the step that lets two people know
//! they talk to each other and no one else.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{Common, load_book, load_identity, resolve};

use crate::contacts::{self, ContactsError, KeyedAdd};
use crate::identity::{self, contact_string, encode_key, parse_contact_string};

/// `qqchat id`: this user's public key, listen address and contact string. The contact
/// string carries every address a friend may reach this machine at: the LAN one (when qqchat
/// listens on every interface, the address of the interface this machine sends from), then
/// each `--addr`. Never one a friend cannot send to (0.0.0.0, port 0).
pub fn id(common: &Common, addrs: &[String], quiet: bool) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let keys = load_identity()?;
    // A running qqchat knows the port it really got (--bind, or port 0 in the file).
    let listen = running_addr(common)?.unwrap_or(book.me.listen);
    let mut given = Vec::with_capacity(addrs.len());
    for text in addrs {
        let addr = resolve(text).with_context(|| format!("--addr {text}"))?;
        if let Some(why) = identity::unusable(addr) {
            bail!("--addr {text}: {addr} is no use to a friend ({why})");
        }
        given.push(addr);
    }
    let lan = crate::net::outbound_ip(listen).map(|ip| SocketAddr::new(ip, listen.port()));
    let local = lan.unwrap_or(listen);
    let shown = identity::own_candidates(local, &given);
    if shown.is_empty() {
        let why = identity::unusable(local).unwrap_or("no address");
        let port = if local.port() == 0 {
            9001
        } else {
            local.port()
        };
        bail!(
            "no contact string printed: {local} is no use to a friend ({why}). Give the \
             address they reach you at, e.g. qqchat id --addr 192.168.1.20:{port}{also}",
            also = if local.port() == 0 {
                ", and listen on that fixed port ([me] listen or --bind)"
            } else {
                ""
            }
        );
    }
    let line = contact_string(&book.me.name, &shown, &keys.public);
    if quiet {
        println!("{line}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("name:        {}", book.me.name);
    println!("public key:  {}", encode_key(&keys.public));
    println!("listening:   {listen}");
    println!("key file:    {}", identity::identity_path()?.display());
    println!();
    println!("Give your friend this line; they run: qqchat add \"<the line>\"");
    println!("{line}");
    if given.is_empty() && shown.iter().all(|&a| crate::proto::is_lan(a)) {
        eprintln!(
            "\nnote: {} is this machine's address on its own network. A friend elsewhere also\n\
             needs your public address (a forwarded port, or a router that keeps one public\n\
             port per socket): qqchat id --addr <public ip>:{}",
            local.ip(),
            local.port()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The address the qqchat running with this data directory listens on, if one runs.
fn running_addr(common: &Common) -> Result<Option<SocketAddr>> {
    let Some(dir) = crate::store::data_dir(common.data_dir.clone()) else {
        return Ok(None);
    };
    let path = crate::control::socket_path(&dir);
    Ok(
        match crate::control::query(&path, &crate::control::Request::Id)? {
            Some((0, lines)) => lines.first().and_then(|l| l.parse().ok()),
            _ => None,
        },
    )
}

/// `qqchat add "<contact string>"`: puts a friend, with their key, in the contacts file,
/// keeping its comments and layout. Makes the file when there is none.
pub fn add(common: &Common, line: &str, name: Option<&str>) -> Result<ExitCode> {
    let parsed = parse_contact_string(line).map_err(|why| anyhow::anyhow!("{why}"))?;
    let name = name.unwrap_or(&parsed.name);
    let path = match contacts::locate(common.contacts.as_deref()) {
        Ok(path) => path,
        Err(ContactsError::NotFound { .. } | ContactsError::Missing { .. }) => {
            let path = match &common.contacts {
                Some(p) => p.clone(),
                None => contacts::search_paths(None)
                    .pop()
                    .context("no config directory for a contacts file: use --contacts FILE")?,
            };
            let listen = match &common.bind {
                Some(bind) => resolve(bind).with_context(|| format!("--bind {bind}"))?,
                None => contacts::DEFAULT_LISTEN,
            };
            create_contacts_file(&path, common.name.as_deref(), listen)?;
            eprintln!(
                "made {}, listening on {listen}: the port in the line you gave your friend \
                 must be {} (else change [me] listen there, or use --bind)",
                path.display(),
                listen.port()
            );
            path
        }
        Err(err) => return Err(err.into()),
    };
    if let Ok(book) = crate::contacts::ContactBook::load(&path) {
        if let Some(c) = book.contacts.iter().find(|c| c.key == Some(parsed.key)) {
            bail!(
                "{} already has this key in {}; nothing added",
                c.name,
                path.display()
            );
        }
        if let Some(c) = book.by_name(name).filter(|c| c.key.is_some()) {
            bail!(
                "{} is already in {} with a different key; nothing changed. If {}'s key \
                 really changed, check with them, then remove the contact and add it again; \
                 or keep both: qqchat add --as NAME \"{}\"",
                c.name,
                path.display(),
                c.name,
                line.trim()
            );
        }
    }
    let added = crate::contacts::add_keyed_contact(&path, name, &parsed.addrs, &parsed.key)
        .map_err(|e| {
            anyhow::anyhow!("{e}").context(match e {
                crate::contacts::EditError::NameTaken { .. } => format!(
                    "not added; choose another name with: qqchat add --as NAME \"{}\"",
                    line.trim()
                ),
                _ => format!("not added to {}", path.display()),
            })
        })?;
    match added {
        KeyedAdd::New => println!(
            "added {name} ({}, key {}) to {}",
            parsed.addrs.join(", "),
            encode_key(&parsed.key),
            path.display()
        ),
        KeyedAdd::KeyGiven { name, addr_changed } => println!(
            "{name} was already a contact, without a key: gave {name} the key {}{} in {}; \
             from now on everything with {name} is encrypted and authenticated",
            encode_key(&parsed.key),
            if addr_changed {
                format!(" and the addresses {}", parsed.addrs.join(", "))
            } else {
                String::new()
            },
            path.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// A new contacts file for `add`, with `--name` and `--bind` when given, so it listens
/// where the user said and not on a default they never saw.
fn create_contacts_file(
    path: &std::path::Path,
    name: Option<&str>,
    listen: SocketAddr,
) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
    }
    let text = "# qqchat contacts: who you are and whom you talk to.\n\
                # See the README for the format; `qqchat add` puts friends here.\n\n\
                [me]\n";
    let name = name
        .map(|n| format!("name = {}\n", toml::Value::String(n.to_owned())))
        .unwrap_or_default();
    let text = format!("{text}{name}listen = \"{listen}\"\n\n[contacts]\n");
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
