//! `qqchat ping`: is a contact there, and how good is the link? Explains what to check when
//! nothing answers, the commonest trouble with peer-to-peer chat.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{
    Common, EngineLink, Say, Target, Terminal, ask_running, engine_options, one_off_book,
    start_engine, target,
};
use crate::control::Request;
use crate::engine::{Command, EngineEvent};

pub fn ping(common: &Common, who: &str, count: u32, interval: f64) -> Result<ExitCode> {
    let book = one_off_book(common)?;
    let target = target(&book, who)?;
    if target.plain {
        bail!(
            "{} is a plain UDP peer: it does not answer pings (plain peers get bare text only)",
            target.name
        );
    }
    let Some(interval) = super::seconds(interval) else {
        bail!("--interval must be a positive number of seconds, at most a year");
    };
    let request = Request::Ping {
        to: target.to_wire(),
        count,
        interval_secs: interval.as_secs_f64(),
    };
    if let Some(code) = ask_running(common, &request)? {
        return Ok(ExitCode::from(code));
    }
    let mut options = engine_options(&book, None, false)?;
    options.watch = false;
    let engine = start_engine(book.me.listen, options)?;
    let code = probe(
        &EngineLink::of(&engine),
        &mut Terminal,
        &target,
        engine.local_addr,
        count,
        interval,
    );
    engine.shutdown();
    Ok(ExitCode::from(code))
}

/// Pings `target` `count` times through `engine` (bound at `local`), one probe every
/// `interval`, reporting through `say` as ping(8) does; the exit code.
pub(super) fn probe(
    engine: &EngineLink<'_>,
    say: &mut dyn Say,
    target: &Target,
    local: SocketAddr,
    count: u32,
    interval: Duration,
) -> u8 {
    say.out(format!(
        "PING {} ({}) from {local}",
        target.name, target.addr
    ));
    let mut rtts = Vec::new();
    for seq in 1..=count.max(1) {
        let sent = Instant::now();
        let _ = engine.commands.send(Command::Ping(target.peer));
        let deadline = sent + interval;
        let mut answered = false;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match engine.events.recv_timeout(left) {
                Ok(EngineEvent::Pong {
                    peer,
                    rtt,
                    path,
                    kind,
                }) if peer == target.peer && !answered => {
                    answered = true;
                    rtts.push(rtt);
                    // The path it answered on, which for a keyed contact may not be the
                    // address in the contacts file (a relayed or punched one).
                    say.out(format!(
                        "reply from {} via {path} ({kind}): seq={seq} time={:.3} ms",
                        target.name,
                        rtt.as_secs_f64() * 1e3
                    ));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if !answered {
            say.out(format!("no reply from {}: seq={seq}", target.addr));
        }
    }
    let sent = count.max(1) as usize;
    let loss = 100.0 * (sent - rtts.len()) as f64 / sent as f64;
    say.out(format!("--- {} ping statistics ---", target.name));
    say.out(format!(
        "{sent} probes sent, {} answered, {loss:.0}% loss",
        rtts.len()
    ));
    if let (Some(min), Some(max)) = (rtts.iter().min(), rtts.iter().max()) {
        let avg = rtts.iter().sum::<Duration>() / rtts.len() as u32;
        say.out(format!(
            "rtt min/avg/max = {:.3}/{:.3}/{:.3} ms",
            min.as_secs_f64() * 1e3,
            avg.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        ));
        return 0;
    }
    for line in silence_advice(target.addr, &target.name).lines() {
        say.err(line.to_owned());
    }
    1
}

/// What to check when nothing answered `addr`, in the order most likely to help. On loopback
/// only the first steps apply: there is no LAN address, firewall or router in the way.
fn silence_advice(addr: SocketAddr, name: &str) -> String {
    let port = addr.port();
    let mut steps = if addr.ip().is_loopback() {
        vec![
            format!(
                "Is qqchat running on this machine, on port {port}? Start it with `qqchat`, or \
                 `qqchat listen --bind {addr}`."
            ),
            "Is the port right? `qqchat id` or the chat's status line shows the port qqchat \
             listens on."
                .to_owned(),
        ]
    } else {
        vec![
            format!(
                "Is qqchat running on {name}'s machine, on port {port}? There `qqchat id` or the \
                 status line shows the listen address; it must match {addr} in your contacts file."
            ),
            "Is the address right? A typo in contacts.toml, or a machine whose IP changed \
             (DHCP). On a LAN use the machine's LAN address (ip addr / ipconfig), not 127.0.0.1."
                .to_owned(),
            format!(
                "A firewall: UDP port {port} must be open for incoming datagrams there (e.g. \
                 `sudo ufw allow {port}/udp`, or allow qqchat in the Windows firewall)."
            ),
            format!(
                "NAT: across the internet, a home router drops unsolicited datagrams. Forward UDP \
                 port {port} on {name}'s router to their machine, or use a VPN such as WireGuard."
            ),
        ]
    };
    steps.push(
        "Both sides can test with `qqchat listen` on one and `qqchat send` on the other."
            .to_owned(),
    );
    let mut text = format!("\nNothing answered from {addr}. Check, in order:");
    for (n, step) in steps.iter().enumerate() {
        text.push_str(&format!("\n{}. {step}", n + 1));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_for_loopback_speaks_of_this_machine_only() {
        let advice = silence_advice(
            "127.0.0.1:9009".parse().expect("an address"),
            "127.0.0.1:9009",
        );
        assert!(
            advice.contains("running on this machine, on port 9009"),
            "{advice}"
        );
        for wrong in ["not 127.0.0.1", "NAT", "firewall", "'s machine"] {
            assert!(!advice.contains(wrong), "{wrong:?} in {advice}");
        }
    }

    #[test]
    fn advice_for_another_machine_covers_address_firewall_and_nat() {
        let advice = silence_advice("192.0.2.7:9002".parse().expect("an address"), "bob");
        for hint in [
            "running on bob's machine",
            "not 127.0.0.1",
            "firewall",
            "NAT",
            "bob's router",
        ] {
            assert!(advice.contains(hint), "no {hint:?} in {advice}");
        }
    }
}
