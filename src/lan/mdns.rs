//! The `mdns-sd` side of discovery: the daemon (its own thread and sockets), the
//! announcement, and two small threads that turn its browse and monitor channels into
//! [`LanEvent`]s on one crossbeam channel.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crossbeam_channel::Sender;
use mdns_sd::{DaemonEvent, IfKind, IfPredicate, ServiceDaemon, ServiceEvent, ServiceInfo};

use super::peers::{MAX_PEERS, Peers, Resolved};
use super::txt::{self, MAX_NAME_CHARS};
use super::{LanConfig, LanError, LanEvent, SERVICE_TYPE};

/// How long quitting waits for the daemon to send the goodbye and stop: a person pressing
/// Ctrl-C should not wait longer.
const STOP_WAIT: Duration = Duration::from_secs(1);
/// `mdns-sd` repeats a goodbye 120 ms after the first, in case the first is lost.
const GOODBYE_REPEAT: Duration = Duration::from_millis(150);
/// The most distinct trouble texts said; the rest would only repeat.
const MAX_SAID: usize = 32;

/// The running daemon and the name of the announcement to withdraw.
pub(super) struct Running {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Running {
    /// Withdraws the announcement, then stops the daemon; each waits at most [`STOP_WAIT`].
    pub(super) fn stop(self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname)
            && done.recv_timeout(STOP_WAIT).is_ok()
        {
            std::thread::sleep(GOODBYE_REPEAT);
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(STOP_WAIT);
        }
    }
}

/// Starts the daemon on the interfaces `config` selects, announces, and browses.
pub(super) fn start(config: &LanConfig, tx: Sender<LanEvent>) -> Result<Running, LanError> {
    check_interfaces(&config.interfaces)?;
    check_port()?;
    let daemon = ServiceDaemon::new()?;
    let chosen = config.interfaces.clone();
    let select = IfPredicate::new(move |i: &if_addrs::Interface| {
        selected(&chosen, &i.name, i.ip(), i.is_loopback())
    });
    // Selections apply in order: none, then the chosen ones.
    daemon.disable_interface(IfKind::All)?;
    daemon.enable_interface(IfKind::Predicate(select.clone()))?;

    let label = txt::instance_label(&config.name);
    let props = txt::build(
        &config.name,
        config.port,
        config.key.as_ref(),
        env!("CARGO_PKG_VERSION"),
    );
    let host = format!("qqchat-{}.local.", host_tag(config));
    let mut info = match config.ip {
        Some(ip) if !ip.is_unspecified() => {
            ServiceInfo::new(SERVICE_TYPE, &label, &host, ip, config.port, &props[..])?
        }
        // Bound to every interface: each selected interface's address, kept current.
        _ => ServiceInfo::new(SERVICE_TYPE, &label, &host, (), config.port, &props[..])?
            .enable_addr_auto(),
    };
    info.set_interfaces(vec![IfKind::Predicate(select)]);
    let fullname = info.get_fullname().to_owned();
    let browse = daemon.browse(SERVICE_TYPE)?;
    let monitor = daemon.monitor()?;
    daemon.register(info)?;

    let mut peers = Peers::new(&label, config.port, config.key);
    let browse_tx = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("qqchat-lan-browse".into())
        .spawn(move || {
            let mut refused = HashSet::new();
            // Ends when the daemon stops (its sender goes) or nobody listens any more.
            for event in browse.iter() {
                let out = match event {
                    ServiceEvent::ServiceResolved(service) => {
                        let fullname = service.get_fullname().to_owned();
                        let entries = service.get_properties().iter().map(|p| (p.key(), p.val()));
                        match txt::parse(entries) {
                            Ok(txt) => peers.resolved(Resolved {
                                fullname,
                                port: service.get_port(),
                                ips: service
                                    .get_addresses()
                                    .iter()
                                    .map(mdns_sd::ScopedIp::to_ip_addr)
                                    .collect(),
                                txt,
                            }),
                            // Said once for each announcer, and for a bounded number of them.
                            Err(why)
                                if refused.len() < MAX_PEERS
                                    && refused.insert(fullname.clone()) =>
                            {
                                Some(LanEvent::Trouble(format!(
                                    "an announcement on this network was ignored ({}): {why}",
                                    txt::bounded(&fullname, MAX_NAME_CHARS).unwrap_or_default()
                                )))
                            }
                            Err(_) => None,
                        }
                    }
                    ServiceEvent::ServiceRemoved(_, fullname) => peers.removed(&fullname),
                    _ => None,
                };
                if let Some(out) = out
                    && browse_tx.send(out).is_err()
                {
                    break;
                }
            }
        });
    if let Err(err) = spawned {
        let _ = daemon.shutdown();
        return Err(LanError::Thread(err));
    }
    let spawned = std::thread::Builder::new()
        .name("qqchat-lan-monitor".into())
        .spawn(move || {
            let mut said = HashSet::new();
            for event in monitor.iter() {
                let DaemonEvent::Error(err) = event else {
                    continue;
                };
                let text = txt::bounded(&format!("LAN discovery: {err}"), 200).unwrap_or_default();
                if said.len() < MAX_SAID
                    && said.insert(text.clone())
                    && tx.send(LanEvent::Trouble(text)).is_err()
                {
                    break;
                }
            }
        });
    if let Err(err) = spawned {
        let running = Running { daemon, fullname };
        running.stop();
        return Err(LanError::Thread(err));
    }
    Ok(Running { daemon, fullname })
}

/// Whether discovery uses the interface `name` with address `ip`: IPv4 only, never
/// loopback, and among `chosen` when any are.
pub(super) fn selected(chosen: &[String], name: &str, ip: IpAddr, loopback: bool) -> bool {
    ip.is_ipv4() && !loopback && (chosen.is_empty() || chosen.iter().any(|c| c == name))
}

/// Fails, saying why, when no interface would be used: better told at once than finding
/// nobody in silence.
fn check_interfaces(chosen: &[String]) -> Result<(), LanError> {
    let all = if_addrs::get_if_addrs().map_err(LanError::Interfaces)?;
    let usable: Vec<&if_addrs::Interface> = all
        .iter()
        .filter(|i| i.is_oper_up() && selected(chosen, &i.name, i.ip(), i.is_loopback()))
        .collect();
    if let Some(missing) = chosen
        .iter()
        .find(|c| !usable.iter().any(|i| &&i.name == c))
    {
        return Err(LanError::NoSuchInterface(missing.clone()));
    }
    if usable.is_empty() {
        return Err(LanError::NoInterface);
    }
    Ok(())
}

/// Opens the mDNS port as `mdns-sd` does (shared with Avahi and others through
/// `SO_REUSEPORT`), since the daemon itself only logs when it cannot.
fn check_port() -> Result<(), LanError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket =
        Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(LanError::Socket)?;
    socket.set_reuse_address(true).map_err(LanError::Socket)?;
    #[cfg(unix)]
    socket.set_reuse_port(true).map_err(LanError::Socket)?;
    let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, mdns_sd::MDNS_PORT));
    socket.bind(&any.into()).map_err(LanError::Socket)
}

/// The host label of the A records: one per qqchat, since two on one machine (or in two
/// network namespaces of one machine) must not claim the same host name with different
/// addresses. From the key when there is one, so it stays the same across restarts.
fn host_tag(config: &LanConfig) -> String {
    match &config.key {
        Some(key) => key.as_bytes()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        None => format!("{:x}-{}", std::process::id(), config.port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ipv4_non_loopback_interfaces_are_selected_and_only_the_chosen_ones() {
        let v4 = IpAddr::from([192, 168, 77, 10]);
        assert!(selected(&[], "eth0", v4, false));
        assert!(!selected(&[], "lo", IpAddr::from([127, 0, 0, 1]), true));
        assert!(!selected(
            &[],
            "eth0",
            "fe80::1".parse().expect("an address"),
            false
        ));
        let chosen = vec!["wlan0".to_owned()];
        assert!(!selected(&chosen, "eth0", v4, false));
        assert!(selected(&chosen, "wlan0", v4, false));
    }

    #[test]
    fn an_interface_that_does_not_exist_is_named_in_the_error() {
        let err = check_interfaces(&["no-such-if0".to_owned()]).expect_err("no such interface");
        assert!(err.to_string().contains("no-such-if0"), "{err}");
    }

    #[test]
    fn the_host_label_is_a_dns_label() {
        let config = LanConfig {
            discover: true,
            interfaces: Vec::new(),
            name: "a.b".into(),
            port: 9001,
            key: Some(crate::proto::PublicKey::from_bytes([0xab; 32])),
            ip: None,
        };
        assert_eq!(host_tag(&config), "abababababab");
        let tag = host_tag(&LanConfig {
            key: None,
            ..config
        });
        assert!(
            tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{tag}"
        );
    }
}
