//! `qqchat id` and `qqchat add`: exchanging public keys, the step that lets two people know
//! they talk to each other and no one else.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{Common, load_book, load_identity, resolve};

use crate::contacts::{self, ContactsError};
use crate::identity::{self, contact_string, encode_key, parse_contact_string};

/// `qqchat id`: this user's public key, listen address and contact string.
pub fn id(common: &Common, addr: Option<&str>, quiet: bool) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let keys = load_identity()?;
    let shown = match addr {
        Some(text) => resolve(text).with_context(|| format!("--addr {text}"))?,
        None => book.me.listen,
    };
    let line = contact_string(&book.me.name, shown, &keys.public);
    if quiet {
        println!("{line}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("name:        {}", book.me.name);
    println!("public key:  {}", encode_key(&keys.public));
    println!("listening:   {}", book.me.listen);
    println!("key file:    {}", identity::identity_path()?.display());
    println!();
    println!("Give your friend this line; they run: qqchat add \"<the line>\"");
    println!("{line}");
    if shown.ip().is_unspecified() {
        eprintln!(
            "\nnote: {} means every network interface, which is no use to a friend. Put the\n\
             address they reach you at instead (your LAN address from `ip addr`, or the public\n\
             one), e.g. qqchat id --addr 192.168.1.20:{}",
            shown.ip(),
            shown.port()
        );
    }
    Ok(ExitCode::SUCCESS)
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
            create_contacts_file(&path)?;
            path
        }
        Err(err) => return Err(err.into()),
    };
    if let Ok(book) = crate::contacts::ContactBook::load(&path)
        && let Some(c) = book.contacts.iter().find(|c| c.key == Some(parsed.key))
    {
        bail!(
            "{} already has this key in {}; nothing added",
            c.name,
            path.display()
        );
    }
    crate::contacts::add_keyed_contact(&path, name, &parsed.addr, &parsed.key).map_err(|e| {
        anyhow::anyhow!("{e}").context(match e {
            crate::contacts::EditError::NameTaken { .. } => format!(
                "not added; choose another name with: qqchat add --as NAME \"{}\"",
                line.trim()
            ),
            _ => format!("not added to {}", path.display()),
        })
    })?;
    println!(
        "added {name} ({}, key {}) to {}",
        parsed.addr,
        encode_key(&parsed.key),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn create_contacts_file(path: &std::path::Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
    }
    let text = "# qqchat contacts: who you are and whom you talk to.\n\
                # See the README for the format; `qqchat add` puts friends here.\n\n\
                [me]\nlisten = \"0.0.0.0:9001\"\n\n[contacts]\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
