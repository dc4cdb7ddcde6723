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
    let (reach, relayed, answers) = wait(engine, targets, relay);
    let mut problems = Vec::new();
    report_stun(say, reach.as_ref(), local, &mut problems);
    if relay {
        report_relay(say, relayed.as_ref(), &mut problems);
    }
    say.out("Contacts:".to_owned());
    if targets.is_empty() {
        say.out("  (none to check)".to_owned());
    }
    for (t, rtt) in targets.iter().zip(&answers) {
        match rtt {
            Some(rtt) => {
                say.out(format!(
                    "  {} answers on {} (rtt {:.1} ms)",
                    t.name,
                    t.addr,
                    rtt.as_secs_f64() * 1e3
                ));
            }
            None => {
                say.out(format!("  {} does not answer on {}", t.name, t.addr));
                problems.push(silent(t));
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

/// Waits for STUN's outcome, the relay's (with `relay`), and each target's first pong,
/// pinging every second. `id` uses it too, with no targets, for the current candidates.
pub(super) fn wait(
    engine: &EngineLink<'_>,
    targets: &[Target],
    relay: bool,
) -> (
    Option<Reachability>,
    Option<RelayReport>,
    Vec<Option<Duration>>,
) {
    let start = Instant::now();
    let mut reach: Option<Reachability> = None;
    let mut relayed: Option<RelayReport> = None;
    let mut answers: Vec<Option<Duration>> = vec![None; targets.len()];
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
            Ok(EngineEvent::Pong { peer, rtt }) => {
                for (t, a) in targets.iter().zip(answers.iter_mut()) {
                    if t.peer == peer && a.is_none() {
                        *a = Some(rtt);
                    }
                }
            }
            Ok(_) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    (reach, relayed, answers)
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

/// The fix for a contact that did not answer.
fn silent(t: &Target) -> String {
    if t.addr.ip().is_loopback() {
        format!(
            "{} does not answer on {}: is qqchat running on this machine, on port {}?",
            t.name,
            t.addr,
            t.addr.port()
        )
    } else {
        format!(
            "{} does not answer on {}: is qqchat running there, and is UDP port {} forwarded \
             on {}'s router (or open in their firewall)?",
            t.name,
            t.addr,
            t.addr.port(),
            t.name
        )
    }
}
