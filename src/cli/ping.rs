//! `qqchat ping`: is a contact there, and how good is the link? Explains what to check when
//! nothing answers, the commonest trouble with peer-to-peer chat.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{Common, engine_options, load_book, start_engine, target};
use crate::engine::{Command, EngineEvent};

pub fn ping(common: &Common, who: &str, count: u32, interval: f64) -> Result<ExitCode> {
    let (mut book, path) = load_book(common, false)?;
    if common.bind.is_none() && path.is_none() {
        book.me.listen.set_port(0);
    }
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
    let mut options = engine_options(&book, None, false)?;
    options.watch = false;
    let engine = start_engine(book.me.listen, options)?;
    println!(
        "PING {} ({}) from {}",
        target.name, target.addr, engine.local_addr
    );
    let mut rtts = Vec::new();
    for seq in 1..=count.max(1) {
        let sent = Instant::now();
        let _ = engine.commands.send(Command::Ping(target.peer));
        let deadline = sent + interval;
        let mut answered = false;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match engine.events.recv_timeout(left) {
                Ok(EngineEvent::Pong { peer, rtt }) if peer == target.peer && !answered => {
                    answered = true;
                    rtts.push(rtt);
                    println!(
                        "reply from {} ({}): seq={seq} rtt={:.3} ms",
                        target.name,
                        target.addr,
                        rtt.as_secs_f64() * 1e3
                    );
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if !answered {
            println!("no reply from {}: seq={seq}", target.addr);
        }
    }
    engine.shutdown();
    let sent = count.max(1) as usize;
    let loss = 100.0 * (sent - rtts.len()) as f64 / sent as f64;
    println!(
        "--- {} ping statistics ---\n{sent} probes sent, {} answered, {loss:.0}% loss",
        target.name,
        rtts.len()
    );
    if let (Some(min), Some(max)) = (rtts.iter().min(), rtts.iter().max()) {
        let avg = rtts.iter().sum::<Duration>() / rtts.len() as u32;
        println!(
            "rtt min/avg/max = {:.3}/{:.3}/{:.3} ms",
            min.as_secs_f64() * 1e3,
            avg.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "\nNothing answered from {addr}. Check, in order:\n\
         1. Is qqchat running there, on that port? On {name}'s machine `qqchat id` or the status\n   \
            line shows the listen address; it must match {addr} in your contacts file.\n\
         2. Is the address right? A typo in contacts.toml, or a machine whose IP changed (DHCP).\n   \
            On a LAN use the machine's LAN address (ip addr / ipconfig), not 127.0.0.1.\n\
         3. A firewall: UDP port {port} must be open for incoming datagrams there\n   \
            (e.g. `sudo ufw allow {port}/udp`, or allow qqchat in the Windows firewall).\n\
         4. NAT: across the internet, a home router drops unsolicited datagrams. Forward UDP\n   \
            port {port} on {name}'s router to their machine, or use a VPN such as WireGuard.\n\
         5. Both sides can test with `qqchat listen` on one and `qqchat send` on the other.",
        addr = target.addr,
        name = target.name,
        port = target.addr.port(),
    );
    Ok(ExitCode::FAILURE)
}
