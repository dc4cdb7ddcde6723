//! `qqchat id` and `qqchat add`: exchanging public keys, the step that lets two people know
//! they talk to each other and no one else.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{Common, EngineLink, Say, load_book, load_identity, resolve};

use crate::contacts::{self, ContactsError, KeyedAdd};
use crate::engine::{Command, Mapping};
use crate::identity::{self, contact_string, encode_key, parse_contact_string};

/// `qqchat id`: this user's public key, listen address and contact string. The contact
/// string carries every address a friend may reach this machine at: the LAN one (when qqchat
/// listens on every interface, the address of the interface this machine sends from), then,
/// when a qqchat runs here, the public address STUN sees and the relayed one, then each
/// `--addr`. Never one a friend cannot send to (0.0.0.0, port 0).
pub fn id(common: &Common, addrs: &[String], quiet: bool, qr: bool) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let keys = load_identity()?;
    // A running qqchat knows the port it really got (--bind, or port 0 in the file), and
    // what STUN and its relay see.
    let running = running(common)?;
    let listen = running.as_ref().map_or(book.me.listen, |r| r.local);
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
    let seen = running.unwrap_or(Running {
        local: listen,
        public: None,
        relay: None,
    });
    let (shown, note) = candidates(local, &seen, &given);
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
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
    let addrs: Vec<SocketAddr> = shown.iter().map(|&(_, a)| a).collect();
    let line = contact_string(&book.me.name, &addrs, &keys.public);
    if quiet {
        println!("{line}");
        if qr {
            print!("{}", qr_text(&line)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!("name:        {}", book.me.name);
    println!("public key:  {}", encode_key(&keys.public));
    println!("listening:   {listen}");
    println!("key file:    {}", identity::identity_path()?.display());
    println!("candidates:");
    for (kind, addr) in &shown {
        println!("  {:<14} {addr}", kind.label());
    }
    println!();
    println!("Give your friend this line; they run: qqchat add \"<the line>\"");
    println!("{line}");
    if qr {
        println!();
        println!("Or let them scan it (the line above, as a QR code):");
        print!("{}", qr_text(&line)?);
    }
    if addrs.iter().all(|&a| crate::proto::is_lan(a)) {
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

/// Where a candidate in the contact string comes from, for the labels `id` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lan,
    Public,
    Relay,
    Given,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Lan => "LAN",
            Kind::Public => "public (STUN)",
            Kind::Relay => "relay",
            Kind::Given => "given (--addr)",
        }
    }
}

/// What the qqchat running here reported: its socket, the public address STUN saw with
/// what its NAT does, and its relayed address.
#[derive(Debug, Clone, PartialEq)]
struct Running {
    local: SocketAddr,
    public: Option<(SocketAddr, Option<Mapping>)>,
    relay: Option<SocketAddr>,
}

/// The contact string's candidates, in the order a friend should try them: LAN, public
/// (only behind an endpoint-independent NAT: a symmetric one gives a friend another port
/// than the one STUN saw), relay, then `given`. No duplicates, nothing unusable. The
/// second value says why a public address was left out.
fn candidates(
    lan: SocketAddr,
    seen: &Running,
    given: &[SocketAddr],
) -> (Vec<(Kind, SocketAddr)>, Option<String>) {
    let mut note = None;
    let public = match seen.public {
        Some((addr, Some(Mapping::EndpointIndependent))) => Some(addr),
        Some((addr, Some(Mapping::Symmetric))) => {
            note = Some(format!(
                "STUN sees you at {addr}, but your NAT gives each destination its own port \
                 (symmetric), so a friend could not reach you there: left out. A relay \
                 ([me] relay) gets you an address they can reach"
            ));
            None
        }
        Some((addr, None)) => {
            note = Some(format!(
                "STUN sees you at {addr}, but it takes two STUN servers on different IPs to \
                 tell whether your NAT keeps that port for every friend: left out. List two \
                 in [me] stun, or give it with --addr if you know it works"
            ));
            None
        }
        None => None,
    };
    let all = std::iter::once((Kind::Lan, lan))
        .chain(public.map(|a| (Kind::Public, a)))
        .chain(seen.relay.map(|a| (Kind::Relay, a)))
        .chain(given.iter().map(|&a| (Kind::Given, a)));
    let mut out: Vec<(Kind, SocketAddr)> = Vec::new();
    for (kind, addr) in all {
        if identity::unusable(addr).is_none() && !out.iter().any(|&(_, a)| a == addr) {
            out.push((kind, addr));
        }
    }
    (out, note)
}

/// Answers `qqchat id` in the running qqchat: its socket address first (all an older client
/// reads), then `public ADDR NAT` and `relay ADDR` as STUN and the relay see them now.
pub(super) fn answer_id(
    engine: &EngineLink<'_>,
    say: &mut dyn Say,
    local: SocketAddr,
    relay: bool,
) -> u8 {
    say.out(local.to_string());
    let _ = engine.commands.send(Command::CheckReachability);
    let super::doctor::Waited { reach, relayed, .. } = super::doctor::wait(engine, &[], relay);
    if let Some(reach) = reach
        && let Some(public) = reach.public()
    {
        let nat = match reach.mapping {
            Some(Mapping::EndpointIndependent) => "independent",
            Some(Mapping::Symmetric) => "symmetric",
            None => "unknown",
        };
        say.out(format!("public {public} {nat}"));
    }
    if let Some(addr) = relayed.and_then(|r| r.relayed()) {
        say.out(format!("relay {addr}"));
    }
    0
}

/// Reads [`answer_id`]'s lines; lines it does not know are skipped.
fn parse_running(lines: &[String]) -> Option<Running> {
    let local = lines.first()?.parse().ok()?;
    let mut running = Running {
        local,
        public: None,
        relay: None,
    };
    for line in &lines[1..] {
        let mut words = line.split_whitespace();
        let (kind, addr) = (words.next(), words.next().and_then(|a| a.parse().ok()));
        match (kind, addr) {
            (Some("public"), Some(addr)) => {
                let mapping = match words.next() {
                    Some("independent") => Some(Mapping::EndpointIndependent),
                    Some("symmetric") => Some(Mapping::Symmetric),
                    _ => None,
                };
                running.public = Some((addr, mapping));
            }
            (Some("relay"), Some(addr)) => running.relay = Some(addr),
            _ => {}
        }
    }
    Some(running)
}

/// What the qqchat running with this data directory reports, if one runs.
fn running(common: &Common) -> Result<Option<Running>> {
    let Some((_, path)) = super::control_paths(common) else {
        return Ok(None);
    };
    Ok(
        match crate::control::query(&path, &crate::control::Request::Id)? {
            Some((0, lines)) => parse_running(&lines),
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
            contacts::create_file(&path, common.name.as_deref(), listen)?;
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
        // A friend already keyed, by name or else at one of these addresses: the line
        // names another key for them. It is written down, and held back until accepted.
        let parsed_addrs: Vec<SocketAddr> =
            parsed.addrs.iter().filter_map(|a| a.parse().ok()).collect();
        let keyed = book.by_name(name).filter(|c| c.key.is_some()).or_else(|| {
            book.contacts
                .iter()
                .find(|c| c.key.is_some() && parsed_addrs.iter().any(|&a| c.has_addr(a)))
        });
        if let Some(c) = keyed {
            let existing = c.name.clone();
            return add_new_key(common, &path, &existing, &parsed, line);
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

/// `add` with a line for a friend already in the file with another key: the new key goes
/// in their entry (with the line's addresses), and the key first trusted stays the one
/// used until the user accepts the new one; the user is told so, loudly.
fn add_new_key(
    common: &Common,
    path: &std::path::Path,
    existing: &str,
    parsed: &identity::ContactString,
    line: &str,
) -> Result<ExitCode> {
    // The key in the file now is the one to hold to, if nothing was trusted for them yet.
    let (mut book, _) = super::load_book_quiet(common, false)?;
    super::trust::hold_book(common, &mut book)?;
    if super::store::data_dir(common.data_dir.clone()).is_none() {
        bail!(
            "{existing} is already in {} with another key, and there is no data directory \
             to keep the trusted key in: nothing changed (give one with --data-dir DIR)",
            path.display()
        );
    }
    crate::contacts::replace_key(path, existing, &parsed.addrs, &parsed.key)
        .with_context(|| format!("{existing}'s entry in {} not changed", path.display()))?;
    let arg = if existing
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.@".contains(c))
    {
        existing.to_owned()
    } else {
        format!("'{}'", existing.replace('\'', r"'\''"))
    };
    eprintln!(
        "qqchat: WARNING: {existing} is already a contact, with another key. The new key {} \
         is written in {}, but qqchat keeps using the old key and sends nothing to the new \
         one until you accept it. Compare safety numbers with {existing} (in person, or by a \
         call): qqchat verify {arg}; if they match, run: qqchat verify {arg} \
         --accept-new-key. If the line is someone else's, undo it in the file, or add them \
         under another name: qqchat add --as NAME \"{}\"",
        super::trust::short_key(&parsed.key),
        path.display(),
        line.trim()
    );
    Ok(ExitCode::SUCCESS)
}

/// A new contacts file for `add`, with `--name` and `--bind` when given, so it listens
/// where the user said and not on a default they never saw.
/// `text` as a QR code in text, two modules per character cell, with its quiet zone. Light
/// modules are the blocks, as `qrencode -t UTF8` draws them, so it reads on the dark
/// background most terminals have (phone scanners read either way round).
pub fn qr_text(text: &str) -> Result<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes())
        .context("the contact string is too long for a QR code")?;
    let mut image = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    image.push('\n');
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("a test address")
    }

    fn seen(public: Option<(&str, Option<Mapping>)>, relay: Option<&str>) -> Running {
        Running {
            local: addr("0.0.0.0:9001"),
            public: public.map(|(a, m)| (addr(a), m)),
            relay: relay.map(addr),
        }
    }

    #[test]
    fn candidates_come_lan_public_relay_given() {
        let (shown, note) = candidates(
            addr("192.168.1.20:9001"),
            &seen(
                Some(("203.0.113.7:9001", Some(Mapping::EndpointIndependent))),
                Some("198.51.100.1:49152"),
            ),
            &[addr("203.0.113.7:9001"), addr("203.0.113.8:9001")],
        );
        assert_eq!(
            shown,
            vec![
                (Kind::Lan, addr("192.168.1.20:9001")),
                (Kind::Public, addr("203.0.113.7:9001")),
                (Kind::Relay, addr("198.51.100.1:49152")),
                (Kind::Given, addr("203.0.113.8:9001")),
            ]
        );
        assert_eq!(note, None);
    }

    #[test]
    fn a_symmetric_or_unknown_mapping_is_left_out_with_a_reason() {
        for mapping in [Some(Mapping::Symmetric), None] {
            let (shown, note) = candidates(
                addr("192.168.1.20:9001"),
                &seen(
                    Some(("203.0.113.7:40000", mapping)),
                    Some("198.51.100.1:49152"),
                ),
                &[],
            );
            assert_eq!(
                shown,
                vec![
                    (Kind::Lan, addr("192.168.1.20:9001")),
                    (Kind::Relay, addr("198.51.100.1:49152")),
                ]
            );
            assert!(note.is_some_and(|n| n.contains("203.0.113.7:40000")));
        }
    }

    #[test]
    fn unusable_and_duplicate_addresses_are_dropped() {
        let (shown, _) = candidates(
            addr("0.0.0.0:9001"),
            &seen(
                Some(("203.0.113.7:0", Some(Mapping::EndpointIndependent))),
                Some("203.0.113.9:9001"),
            ),
            &[addr("203.0.113.9:9001")],
        );
        assert_eq!(shown, vec![(Kind::Relay, addr("203.0.113.9:9001"))]);
    }

    #[test]
    fn the_running_answer_is_read_and_an_old_one_still_works() {
        let lines = [
            "0.0.0.0:9001",
            "public 203.0.113.7:9001 independent",
            "relay 198.51.100.1:49152",
            "something new 1.2.3.4:5",
        ]
        .map(String::from);
        assert_eq!(
            parse_running(&lines),
            Some(seen(
                Some(("203.0.113.7:9001", Some(Mapping::EndpointIndependent))),
                Some("198.51.100.1:49152")
            ))
        );
        assert_eq!(
            parse_running(&lines[..1]),
            Some(seen(None, None)),
            "an answer with the socket address only"
        );
        assert_eq!(parse_running(&[]), None);
    }
}
