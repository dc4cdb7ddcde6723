//! Keys you can trust, from the command line: every command holds contacts to the key they
//! were first trusted with and warns when the file names another, and `qqchat verify` shows
//! the safety number, marks a contact verified, or accepts a changed key.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{Common, load_identity};
use crate::contacts::ContactBook;
use crate::engine::{KeyChange, accept_change, hold_keys};
use crate::identity::{encode_key, format_safety_number, safety_number};
use crate::store::{self, TrustBook, load_trust, save_trust};

/// The trusted keys of this data directory, and what holding the book to them set aside.
pub(crate) struct Held {
    pub dir: Option<PathBuf>,
    pub trust: TrustBook,
    pub changes: Vec<KeyChange>,
}

/// Holds `book`'s contacts to their trusted keys (see [`hold_keys`]), recording the keys of
/// contacts seen for the first time in the data directory.
pub(crate) fn hold_book(common: &Common, book: &mut ContactBook) -> Result<Held> {
    let dir = store::data_dir(common.data_dir.clone());
    hold_in(dir, book)
}

/// [`hold_book`] with the data directory known.
pub(crate) fn hold_in(dir: Option<PathBuf>, book: &mut ContactBook) -> Result<Held> {
    let mut trust = match &dir {
        Some(dir) => load_trust(dir)?,
        None => TrustBook::default(),
    };
    let before = trust.clone();
    let changes = hold_keys(&mut trust, &mut book.contacts);
    if let Some(dir) = dir.as_deref().filter(|_| trust != before) {
        save_trust(dir, &trust)?;
    }
    Ok(Held {
        dir,
        trust,
        changes,
    })
}

/// The first characters of a key, enough to tell two apart in a warning.
pub(crate) fn short_key(key: &crate::proto::PublicKey) -> String {
    encode_key(key).chars().take(12).collect::<String>() + "…"
}

/// The loud warning for a contact whose key changed in the file, in words for a person.
pub fn warning(change: &KeyChange) -> String {
    let name = crate::text::one_line(&change.name);
    let what = match change.offered {
        Some(new) => format!(
            "the key of {name} in the contacts file changed (new key {}, trusted key {})",
            short_key(&new),
            short_key(&change.trusted)
        ),
        None => format!(
            "{name} has no key in the contacts file any more (trusted key {})",
            short_key(&change.trusted)
        ),
    };
    format!(
        "WARNING: {what}. qqchat keeps using the trusted key: nothing is sent to the new one. \
         If {name} really changed keys, compare safety numbers: qqchat verify {arg}, then \
         qqchat verify {arg} --accept-new-key",
        arg = shell_word(&change.name)
    )
}

/// Prints [`warning`] for each change on standard error.
pub(crate) fn warn(changes: &[KeyChange]) {
    for change in changes {
        eprintln!("qqchat: {}", warning(change));
    }
}

/// A name as it is typed in a shell: quoted when it holds anything but plain characters.
fn shell_word(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.@".contains(c))
    {
        name.to_owned()
    } else {
        format!("'{}'", name.replace('\'', r"'\''"))
    }
}

/// What `qqchat verify` was asked to do besides showing the number.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyArgs {
    pub mark: bool,
    pub unmark: bool,
    pub accept_new_key: bool,
}

/// `qqchat verify CONTACT`: the safety number with a contact, to compare with the one they
/// see; marks the contact verified (`--mark`, or `y` when asked at a terminal), or accepts
/// the new key the contacts file names for them (`--accept-new-key`).
pub fn verify(common: &Common, contact: &str, args: VerifyArgs) -> Result<ExitCode> {
    if args.mark && args.unmark {
        bail!("--mark and --unmark together say nothing: give one");
    }
    let (mut book, _) = super::load_book_quiet(common, false)?;
    let Held {
        dir,
        mut trust,
        changes,
    } = hold_book(common, &mut book)?;
    let Some(found) = book.by_name(contact) else {
        let known: Vec<&str> = book.contacts.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "no contact called {contact:?}{}",
            if known.is_empty() {
                String::new()
            } else {
                format!("; the contacts are: {}", known.join(", "))
            }
        );
    };
    let name = found.name.clone();
    let Some(key) = found.key else {
        bail!(
            "{name} has no key, so there is no safety number: ask {name} for the line \
             qqchat id prints, and run qqchat add \"<the line>\""
        );
    };
    let keys = load_identity()?;
    let change = changes.iter().find(|c| c.name == name);
    let verified = trust.get(&name).is_some_and(|t| t.verified);
    println!("{:<14} {}", "your key:", encode_key(&keys.public));
    println!("{:<14} {}", format!("{name}'s key:"), encode_key(&key));
    println!(
        "status:        {}",
        if verified {
            "verified (you compared the safety number)"
        } else {
            "not verified"
        }
    );
    println!();
    println!(
        "Safety number ({name} sees the same one with: qqchat verify {}):",
        shell_word(&book.me.name)
    );
    for line in format_safety_number(&safety_number(&keys.public, &key), 4) {
        println!("  {line}");
    }
    if let Some(change) = change {
        println!();
        eprintln!("qqchat: {}", warning(change));
        match change.offered {
            Some(new) => {
                println!(
                    "The contacts file names a NEW key for {name}: {}",
                    encode_key(&new)
                );
                println!("Safety number with the new key:");
                for line in format_safety_number(&safety_number(&keys.public, &new), 4) {
                    println!("  {line}");
                }
            }
            None => println!("The contacts file names NO key for {name}."),
        }
    }
    let Some(dir) = dir else {
        if args.mark || args.unmark || args.accept_new_key {
            bail!("no data directory to keep trusted keys in: give one with --data-dir DIR");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut accept = args.accept_new_key;
    let mut mark = args.mark;
    let asking = !accept && !mark && !args.unmark && std::io::stdin().is_terminal();
    match change {
        Some(_) if asking => {
            accept = ask(&format!(
                "Does {name} see the new safety number above? Accept the new key"
            ))?;
            mark = accept;
        }
        None if asking && !verified => {
            mark = ask(&format!(
                "Does {name} see the same number? Mark {name} verified"
            ))?;
        }
        Some(_) if mark && !accept => bail!(
            "{name}'s key changed: --mark alone would mark the old key. Compare the new \
             safety number, then: qqchat verify {} --accept-new-key --mark",
            shell_word(&name)
        ),
        None if accept => {
            println!();
            println!("{name}'s key has not changed: nothing to accept.");
            accept = false;
        }
        _ => {}
    }
    let mut said = Vec::new();
    if let Some(change) = change.filter(|_| accept) {
        accept_change(&mut trust, change);
        said.push(match change.offered {
            Some(new) => format!("{name}'s new key {} is trusted now", short_key(&new)),
            None => format!("{name} is spoken to without a key now"),
        });
    }
    if mark && trust.set_verified(&name, true) {
        said.push(format!("{name} is marked verified"));
    }
    if args.unmark && trust.set_verified(&name, false) {
        said.push(format!("{name} is no longer marked verified"));
    }
    if !said.is_empty() {
        save(&dir, &trust)?;
        println!();
        println!(
            "Done: {}. A running chat picks this up when it reloads the contacts (F5).",
            said.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn save(dir: &Path, trust: &TrustBook) -> Result<()> {
    save_trust(dir, trust).context("the trusted keys were not changed")
}

/// Asks a yes/no question on the terminal; anything but `y` or `yes` is no.
fn ask(question: &str) -> Result<bool> {
    print!("\n{question}? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}
