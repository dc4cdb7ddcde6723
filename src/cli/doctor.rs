//! `qqchat doctor`: can friends reach me, and can I reach them? Prints the local addresses,
//! the public address each STUN server sees, what the NAT does with it, and which contacts
//! answer, with a fix in words a user can act on for whatever failed.
//!
//! When a qqchat runs for this data directory it does the checking from its own socket (the
//! one friends reach), through the control socket; otherwise doctor binds the configured port
//! for the few seconds the checks take.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{
    Common, EngineLink, Say, Target, Terminal, ask_running, engine_options, load_book,
    start_engine, target,
};
use crate::control::Request;
use crate::engine::{Command, EngineEvent, Mapping, Probe, Reachability, RelayReport};
use crate::proto::{PathKind, Trouble, is_lan};

/// Pings to a contact before it counts as silent, one a second.
const PINGS: u32 = 4;
const PING_EVERY: Duration = Duration::from_secs(1);
/// The longest wait for STUN: its retransmissions give up after about 7 s.
const STUN_WAIT: Duration = Duration::from_secs(12);

pub fn doctor(common: &Common) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let mut targets = Vec::new();
    for c in &book.contacts {
        if c.plain {
            println!(
                "{} is a plain UDP peer: it does not answer pings, so it is not checked",
                c.name
            );
        } else {
            targets.push(target(&book, &c.name)?);
        }
    }
    let request = Request::Doctor {
        to: targets.iter().map(Target::to_wire).collect(),
    };
    if let Some(code) = ask_running(common, &request)? {
        return Ok(ExitCode::from(code));
    }
    let mut options = engine_options(&book, None, false)?;
    options.watch = false;
    super::reach_options(&mut options, &book.me)?;
    let engine = start_engine(book.me.listen, options)?;
    println!(
        "(no qqchat is running here: checking from a socket of its own on {})",
        engine.local_addr
    );
    let code = examine(
        &EngineLink::of(&engine),
        &mut Terminal,
        engine.local_addr,
        &targets,
        book.me.relay.is_some(),
    );
    engine.shutdown();
    Ok(ExitCode::from(code))
}

/// Runs every check through `engine`, whose socket is bound at `local`, and reports through
/// `say`; 0 when everything asked answered, 1 otherwise. `relay`: whether `[me] relay`
/// is configured, so its allocation is waited for.
pub(super) fn examine(
    engine: &EngineLink<'_>,
    say: &mut dyn Say,
    local: SocketAddr,
    targets: &[Target],
    relay: bool,
) -> u8 {
    say.out("Local addresses:".to_owned());
    say.out(format!("  socket  {local}"));
    let lan = crate::net::outbound_ip(local).map(|ip| SocketAddr::new(ip, local.port()));
    if let Some(lan) = lan {
        say.out(format!("  LAN     {lan}"));
    }
    let _ = engine.commands.send(Command::CheckReachability);
    let Waited {
        reach,
        relayed,
        answers,
        troubles,
    } = wait(engine, targets, relay);
    let mut problems = Vec::new();
    report_stun(say, reach.as_ref(), local, &mut problems);
    if relay {
        report_relay(say, relayed.as_ref(), &mut problems);
    }
    say.out("Contacts:".to_owned());
    if targets.is_empty() {
        say.out("  (none to check)".to_owned());
    }
    let symmetric = reach
        .as_ref()
        .is_some_and(|r| r.mapping == Some(Mapping::Symmetric));
    for ((t, answer), trouble) in targets.iter().zip(&answers).zip(&troubles) {
        match answer {
            Some(a) => {
                say.out(format!(
                    "  {} answers on {} ({}, rtt {:.1} ms)",
                    t.name,
                    a.path,
                    a.kind,
                    a.rtt.as_secs_f64() * 1e3
                ));
            }
            None => {
                say.out(format!("  {} does not answer on {}", t.name, t.addr));
                let seen = Seen {
                    trouble: trouble.clone(),
                    symmetric,
                    relay,
                };
                problems.push(silent(t, &seen));
            }
        }
    }
    if problems.is_empty() {
        say.out("Everything answered.".to_owned());
        return 0;
    }
    say.out("Problems:".to_owned());
    for p in problems {
        say.out(format!("  - {p}"));
    }
    1
}

/// A contact's first answer: the path it came over, and after how long.
#[derive(Debug, Clone, Copy)]
pub(super) struct Answer {
    pub rtt: Duration,
    pub path: SocketAddr,
    pub kind: PathKind,
}

/// What [`wait`] saw: STUN's outcome, the relay's, and per target its answer or the trouble
/// the engine reported with it.
pub(super) struct Waited {
    pub reach: Option<Reachability>,
    pub relayed: Option<RelayReport>,
    pub answers: Vec<Option<Answer>>,
    pub troubles: Vec<Option<(Trouble, String)>>,
}

/// Waits for STUN's outcome, the relay's (with `relay`), and each target's first pong,
/// pinging every second. `id` uses it too, with no targets, for the current candidates.
pub(super) fn wait(engine: &EngineLink<'_>, targets: &[Target], relay: bool) -> Waited {
    let start = Instant::now();
    let mut reach: Option<Reachability> = None;
    let mut relayed: Option<RelayReport> = None;
    let mut answers: Vec<Option<Answer>> = vec![None; targets.len()];
    let mut troubles: Vec<Option<(Trouble, String)>> = vec![None; targets.len()];
    let mut pings = 0;
    let mut next_ping = start;
    loop {
        let now = Instant::now();
        let stun_done = reach.as_ref().is_some_and(|r| !r.checking)
            && (!relay || relayed.as_ref().is_some_and(|r| r.describe().is_some()));
        let pings_done = answers.iter().all(Option::is_some) || pings >= PINGS && now >= next_ping;
        if (stun_done && pings_done) || now >= start + STUN_WAIT {
            break;
        }
        if pings < PINGS && now >= next_ping {
            for (t, a) in targets.iter().zip(&answers) {
                if a.is_none() {
                    let _ = engine.commands.send(Command::Ping(t.peer));
                }
            }
            pings += 1;
            next_ping = now + PING_EVERY;
        }
        let until = if pings_done {
            start + STUN_WAIT
        } else {
            next_ping
        };
        match engine
            .events
            .recv_timeout(until.saturating_duration_since(now))
        {
            Ok(EngineEvent::Reachability(r)) => reach = Some(r),
            Ok(EngineEvent::Relay(r)) => relayed = Some(r),
            Ok(EngineEvent::Pong {
                peer,
                rtt,
                path,
                kind,
            }) => {
                for (t, a) in targets.iter().zip(answers.iter_mut()) {
                    if t.peer == peer && a.is_none() {
                        *a = Some(Answer { rtt, path, kind });
                    }
                }
            }
            Ok(EngineEvent::Trouble { peer, why, text }) => {
                for (t, slot) in targets.iter().zip(troubles.iter_mut()) {
                    if t.peer == peer {
                        *slot = Some((why, text.clone()));
                    }
                }
            }
            Ok(_) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    Waited {
        reach,
        relayed,
        answers,
        troubles,
    }
}

/// Whether the relay allocation works: the relayed address, or why not and the fix.
fn report_relay(say: &mut dyn Say, report: Option<&RelayReport>, problems: &mut Vec<String>) {
    say.out("Relay (TURN):".to_owned());
    match report {
        Some(r) if r.relayed().is_some() => {
            let line = r.describe().unwrap_or_default();
            say.out(format!("  works: {line}"));
        }
        Some(r) => match r.describe() {
            Some(line) => {
                say.out(format!("  {line}"));
                problems.push(line);
            }
            None => {
                let line = format!("relay {}: no allocation yet", r.server);
                say.out(format!("  {line}"));
                problems.push(format!("{line}: the server answers slowly, or not at all"));
            }
        },
        None => {
            say.out("  no report from the relay".to_owned());
            problems.push("the relay said nothing: is [me] relay configured?".to_owned());
        }
    }
}

/// The public address from each server, and what the NAT does.
fn report_stun(
    say: &mut dyn Say,
    reach: Option<&Reachability>,
    local: SocketAddr,
    problems: &mut Vec<String>,
) {
    say.out("Public address (STUN):".to_owned());
    let Some(reach) = reach.filter(|r| !r.servers.is_empty()) else {
        say.out("  STUN is off ([me] stun = [], or a loopback address): not asked".to_owned());
        return;
    };
    for s in &reach.servers {
        // The address after the name, unless the name is the address.
        let at = match s.addr {
            Some(a) if a.to_string() != s.name => format!(" ({a})"),
            _ => String::new(),
        };
        let said = match s.probe {
            Probe::Answered(public) => format!("sees you at {public}"),
            Probe::Unresolved => "the name does not resolve".to_owned(),
            Probe::NoAnswer => "no answer".to_owned(),
            Probe::Waiting | Probe::Resolving => "no answer yet".to_owned(),
        };
        say.out(format!("  {}{at}: {said}", s.name));
    }
    let answered = reach
        .servers
        .iter()
        .filter(|s| matches!(s.probe, Probe::Answered(_)))
        .count();
    let resolved = reach.servers.iter().filter(|s| s.addr.is_some()).count();
    if resolved == 0 {
        problems.push(
            "no STUN server name resolved: check the DNS settings, or write IP addresses in \
             [me] stun"
                .to_owned(),
        );
    } else if answered == 0 {
        problems.push(
            "no STUN server answered: UDP to the internet may be blocked (a firewall, or a \
             network that allows only web traffic)"
                .to_owned(),
        );
    } else if answered < reach.servers.len() {
        problems
            .push("a STUN server did not answer: check its name and port in [me] stun".to_owned());
    }
    let nat = match reach.mapping {
        Some(Mapping::EndpointIndependent) => {
            "endpoint-independent mapping (one public port for every destination): friends \
             can reach you at your public address once you have written to them"
        }
        Some(Mapping::Symmetric) => {
            problems.push(
                "your NAT gives each destination its own port (symmetric): direct connections \
                 to friends behind NAT will fail; configure a relay"
                    .to_owned(),
            );
            "symmetric (a new public port for each destination)"
        }
        None if answered > 0 => {
            "unknown: it takes two STUN servers on different IPs to tell; list two in [me] stun"
        }
        None => "unknown",
    };
    say.out(format!("NAT: {nat}"));
    if let (Some(public), Some(kept)) = (reach.public(), reach.port_preserved) {
        if public.ip() == local.ip() {
            say.out("  no NAT: the socket's own address is public".to_owned());
        } else if kept {
            say.out(format!("  port preserved: {} outside too", local.port()));
        } else {
            say.out(format!(
                "  port not preserved: local {} is {} outside",
                local.port(),
                public.port()
            ));
        }
    }
}

/// What the engine knows of a silent contact and of this end, to pick its fix.
struct Seen {
    /// The trouble the engine reported with the contact's datagrams, if any.
    trouble: Option<(Trouble, String)>,
    /// STUN found this end behind a NAT that gives each destination its own port.
    symmetric: bool,
    /// `[me] relay` is configured.
    relay: bool,
}

/// The fix for a contact that did not answer, from what the engine saw: a contact whose
/// datagrams arrive but are refused needs keys exchanged; a symmetric NAT here without a
/// relay needs one; otherwise it is offline, or something on the way drops the datagrams.
fn silent(t: &Target, seen: &Seen) -> String {
    let head = format!("{} does not answer on {}", t.name, t.addr);
    let name = &t.name;
    match &seen.trouble {
        // Its datagrams arrive: it runs, and only the keys are wrong.
        Some((Trouble::SendsEncrypted | Trouble::SendsPlain, text)) => {
            return format!("{head}: it runs, but {text}");
        }
        Some((Trouble::NoHandshakeAnswer, _)) | None => {}
    }
    let keys = if matches!(seen.trouble, Some((Trouble::NoHandshakeAnswer, _))) {
        format!(
            "; if it runs, {name} may have another key for you, or none (they run qqchat add \
             with your contact string from qqchat id)"
        )
    } else {
        String::new()
    };
    if t.addr.ip().is_loopback() {
        return format!(
            "{head}: is qqchat running on this machine, on port {}?{keys}",
            t.addr.port()
        );
    }
    if seen.symmetric && !seen.relay && !is_lan(t.addr) {
        return format!(
            "{head}: your NAT gives each destination its own port (symmetric), so a direct \
             path fails when {name} is behind a NAT too; configure [me] relay and give {name} \
             the contact string qqchat id then prints (or is {name} offline?){keys}"
        );
    }
    format!(
        "{head}: is {name} offline? Else is UDP port {} forwarded on {name}'s router (or open \
         in their firewall), or are you both behind NATs that need a relay ([me] relay)?{keys}",
        t.addr.port()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{PeerId, PublicKey};

    fn bob(addr: &str) -> Target {
        Target {
            name: "bob".into(),
            peer: PeerId::Key(PublicKey::from_bytes([2; 32])),
            addr: addr.parse().expect("an address"),
            plain: false,
        }
    }

    fn seen(trouble: Option<Trouble>, symmetric: bool, relay: bool) -> Seen {
        Seen {
            trouble: trouble.map(|t| (t, format!("what the engine says of {t:?}"))),
            symmetric,
            relay,
        }
    }

    #[test]
    fn a_contact_whose_datagrams_arrive_but_are_refused_needs_keys_not_a_router() {
        for trouble in [Trouble::SendsEncrypted, Trouble::SendsPlain] {
            let fix = silent(&bob("203.0.113.7:9001"), &seen(Some(trouble), true, false));
            assert!(
                fix.starts_with("bob does not answer on 203.0.113.7:9001: it runs, but what"),
                "{fix}"
            );
            assert!(!fix.contains("router") && !fix.contains("relay"), "{fix}");
        }
    }

    #[test]
    fn behind_a_symmetric_nat_without_a_relay_the_fix_is_a_relay() {
        let fix = silent(&bob("203.0.113.7:9001"), &seen(None, true, false));
        assert!(fix.contains("configure [me] relay"), "{fix}");
        // With a relay configured, or a contact on the LAN, the NAT is not the question.
        for (addr, relay) in [("203.0.113.7:9001", true), ("192.168.1.20:9001", false)] {
            let fix = silent(&bob(addr), &seen(None, true, relay));
            assert!(!fix.contains("configure [me] relay"), "{fix}");
            assert!(fix.contains("is bob offline?"), "{fix}");
        }
    }

    #[test]
    fn unanswered_handshakes_add_the_key_question_to_the_usual_ones() {
        let fix = silent(
            &bob("127.0.0.1:9001"),
            &seen(Some(Trouble::NoHandshakeAnswer), false, false),
        );
        assert!(
            fix.contains("is qqchat running on this machine, on port 9001?"),
            "{fix}"
        );
        assert!(fix.contains("may have another key for you"), "{fix}");
        let fix = silent(&bob("127.0.0.1:9001"), &seen(None, false, false));
        assert!(!fix.contains("key"), "{fix}");
    }
}
