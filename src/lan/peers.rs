//! The qqchats seen on the LAN: which announcements are new, changed or gone, which one is
//! this qqchat's own, and how many are kept. Pure, so it is tested without a network.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::LanEvent;
use super::txt::{self, MAX_NAME_CHARS, Txt};
use crate::proto::PublicKey;

/// The most qqchats kept at once. A LAN with more is unusual; a flood of fake
/// announcements must not grow memory or the roster without end.
pub const MAX_PEERS: usize = 256;
/// The most addresses kept for one qqchat.
pub const MAX_ADDRS: usize = 16;

/// One resolved announcement (SRV, address and TXT records together), as the browser gave it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `<instance>._qqchat._udp.local.`, what a later removal names.
    pub fullname: String,
    /// The SRV port: where the chat listens.
    pub port: u16,
    pub ips: Vec<IpAddr>,
    pub txt: Txt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    name: String,
    addrs: Vec<SocketAddr>,
    key: Option<PublicKey>,
    version: Option<String>,
}

/// The table of qqchats seen, keyed by their full service name.
#[derive(Debug)]
pub struct Peers {
    own_fullname: String,
    own_label: String,
    own_port: u16,
    own_key: Option<PublicKey>,
    known: HashMap<String, Known>,
    /// Whether [`MAX_PEERS`] was reached and said so: said once.
    full_said: bool,
}

impl Peers {
    /// A table that ignores this qqchat's own announcement: the one named `own_label`
    /// (the instance name) with `own_port`, or any with `own_key`.
    pub fn new(own_label: &str, own_port: u16, own_key: Option<PublicKey>) -> Peers {
        Peers {
            own_fullname: fullname(own_label).to_ascii_lowercase(),
            own_label: own_label.to_owned(),
            own_port,
            own_key,
            known: HashMap::new(),
            full_said: false,
        }
    }

    /// How many qqchats are known.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// What a resolved announcement changes: `Discovered` when it is new or different,
    /// nothing when it is this qqchat's own, unusable, or the same as before.
    pub fn resolved(&mut self, r: Resolved) -> Option<LanEvent> {
        let id = r.fullname.to_ascii_lowercase();
        let label = instance_of(&r.fullname);
        // A key says who it is, whatever the name: another alice on the LAN keeps the name
        // "alice" when this one was renamed "alice (2)" by mDNS conflict resolution.
        let own = match r.txt.key {
            Some(key) => Some(key) == self.own_key,
            None => {
                id == self.own_fullname
                    || (label.as_deref() == Some(self.own_label.as_str())
                        && r.port == self.own_port)
            }
        };
        if own || r.port == 0 {
            return None;
        }
        let mut addrs: Vec<SocketAddr> = r
            .ips
            .iter()
            .copied()
            .filter(|ip| usable(*ip))
            .map(|ip| SocketAddr::new(ip, r.port))
            .collect();
        addrs.sort();
        addrs.dedup();
        addrs.truncate(MAX_ADDRS);
        if addrs.is_empty() {
            return None;
        }
        let name = r
            .txt
            .name
            .or_else(|| {
                label
                    .as_deref()
                    .and_then(|l| txt::bounded(l, MAX_NAME_CHARS))
            })
            .unwrap_or_else(|| "?".to_owned());
        let peer = Known {
            name,
            addrs,
            key: r.txt.key,
            version: r.txt.version,
        };
        if self.known.get(&id) == Some(&peer) {
            return None;
        }
        if !self.known.contains_key(&id) && self.known.len() >= MAX_PEERS {
            if self.full_said {
                return None;
            }
            self.full_said = true;
            return Some(LanEvent::Trouble(format!(
                "more than {MAX_PEERS} qqchats announce themselves on this network; the others \
                 are ignored"
            )));
        }
        self.known.insert(id, peer.clone());
        Some(LanEvent::Discovered {
            name: peer.name,
            addrs: peer.addrs,
            key: peer.key,
            version: peer.version,
        })
    }

    /// `Gone` for a known qqchat whose announcement was withdrawn or expired.
    pub fn removed(&mut self, fullname: &str) -> Option<LanEvent> {
        let gone = self.known.remove(&fullname.to_ascii_lowercase())?;
        if self.known.len() < MAX_PEERS {
            self.full_said = false;
        }
        Some(LanEvent::Gone { name: gone.name })
    }
}

/// The full service name of instance `label`, as `mdns-sd` writes it (dots and backslashes
/// in the label escaped).
pub(super) fn fullname(label: &str) -> String {
    let escaped = label.replace('\\', "\\\\").replace('.', "\\.");
    format!("{escaped}.{}", super::SERVICE_TYPE)
}

/// The instance label of a full service name, unescaped; `None` if it is not one of ours.
fn instance_of(fullname: &str) -> Option<String> {
    let suffix = format!(".{}", super::SERVICE_TYPE);
    let cut = fullname.len().checked_sub(suffix.len())?;
    if !fullname.is_char_boundary(cut) || !fullname[cut..].eq_ignore_ascii_case(&suffix) {
        return None;
    }
    let mut label = String::with_capacity(cut);
    let mut chars = fullname[..cut].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => label.extend(chars.next()),
            c => label.push(c),
        }
    }
    Some(label)
}

/// Whether a chat could be reached at `ip`: not a wildcard, multicast or loopback address
/// (which would mean the announcer itself), nor an IPv6 link-local one, which needs a scope
/// the announcement does not carry.
fn usable(ip: IpAddr) -> bool {
    let link_local_v6 = matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
    !(ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() || link_local_v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PublicKey {
        PublicKey::from_bytes([n; 32])
    }

    fn announce(label: &str, port: u16, ip: [u8; 4], key: Option<PublicKey>) -> Resolved {
        Resolved {
            fullname: fullname(label),
            port,
            ips: vec![IpAddr::from(ip)],
            txt: Txt {
                name: Some(label.to_owned()),
                port: Some(port),
                key,
                version: Some("0.1.0".into()),
            },
        }
    }

    #[test]
    fn a_new_qqchat_is_discovered_once_and_gone_when_removed() {
        let mut peers = Peers::new("alice", 9001, Some(key(1)));
        let bob = announce("bob", 9002, [192, 168, 77, 11], Some(key(2)));
        assert_eq!(
            peers.resolved(bob.clone()),
            Some(LanEvent::Discovered {
                name: "bob".into(),
                addrs: vec!["192.168.77.11:9002".parse().expect("an address")],
                key: Some(key(2)),
                version: Some("0.1.0".into()),
            })
        );
        assert_eq!(
            peers.resolved(bob.clone()),
            None,
            "the same again is no news"
        );
        let mut moved = bob.clone();
        moved.ips.push(IpAddr::from([10, 0, 0, 2]));
        assert!(
            matches!(peers.resolved(moved), Some(LanEvent::Discovered { addrs, .. }) if addrs.len() == 2)
        );
        assert_eq!(
            peers.removed(&bob.fullname.to_uppercase()),
            Some(LanEvent::Gone { name: "bob".into() })
        );
        assert_eq!(peers.removed(&bob.fullname), None);
        assert!(peers.is_empty());
    }

    #[test]
    fn its_own_announcement_is_ignored() {
        let mut peers = Peers::new("alice", 9001, Some(key(1)));
        // Its own, by name.
        assert_eq!(
            peers.resolved(announce("alice", 9001, [192, 168, 77, 10], Some(key(1)))),
            None
        );
        // Its own, renamed by mDNS conflict resolution: same key.
        assert_eq!(
            peers.resolved(announce(
                "alice (2)",
                9001,
                [192, 168, 77, 10],
                Some(key(1))
            )),
            None
        );
        // Same name and port, no key: taken as its own.
        assert_eq!(
            peers.resolved(announce("alice", 9001, [192, 168, 77, 10], None)),
            None
        );
        // Another alice, with her own key: someone else, even under this one's full name
        // (this one may have been renamed).
        assert!(matches!(
            peers.resolved(announce("alice", 9001, [192, 168, 77, 12], Some(key(3)))),
            Some(LanEvent::Discovered { .. })
        ));
        // Without a key, the full name is this one's, whatever the port.
        assert_eq!(
            peers.resolved(announce("alice", 9005, [192, 168, 77, 13], None)),
            None
        );
        let mut other = announce("alice (2)", 9005, [192, 168, 77, 13], None);
        other.txt.name = Some("alice".into());
        assert!(
            matches!(peers.resolved(other), Some(LanEvent::Discovered { name, .. }) if name == "alice")
        );
    }

    #[test]
    fn unusable_addresses_are_dropped_and_kept_addresses_bounded() {
        let mut peers = Peers::new("alice", 9001, None);
        let mut bob = announce("bob", 9002, [127, 0, 0, 1], None);
        bob.ips.push("fe80::1".parse().expect("an address"));
        bob.ips.push(IpAddr::from([0, 0, 0, 0]));
        bob.ips.push(IpAddr::from([224, 0, 0, 251]));
        assert_eq!(
            peers.resolved(bob.clone()),
            None,
            "nothing usable: not announced"
        );
        bob.ips = (0..=255u8).map(|n| IpAddr::from([10, 1, 0, n])).collect();
        match peers.resolved(bob) {
            Some(LanEvent::Discovered { addrs, .. }) => assert_eq!(addrs.len(), MAX_ADDRS),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            peers.resolved(announce("carol", 0, [10, 0, 0, 3], None)),
            None,
            "port 0"
        );
    }

    #[test]
    fn no_more_than_max_peers_are_kept_and_the_limit_is_said_once() {
        let mut peers = Peers::new("alice", 9001, None);
        for n in 0..MAX_PEERS {
            let label = format!("peer{n}");
            let event = peers.resolved(announce(&label, 9000, [10, 0, 1, 1], None));
            assert!(
                matches!(event, Some(LanEvent::Discovered { .. })),
                "{n}: {event:?}"
            );
        }
        assert!(matches!(
            peers.resolved(announce("one-more", 9000, [10, 0, 1, 1], None)),
            Some(LanEvent::Trouble(_))
        ));
        assert_eq!(
            peers.resolved(announce("two-more", 9000, [10, 0, 1, 1], None)),
            None
        );
        assert_eq!(peers.len(), MAX_PEERS);
        // A known one still updates.
        assert!(
            peers
                .resolved(announce("peer0", 9001, [10, 0, 1, 1], None))
                .is_some()
        );
        assert!(peers.removed(&fullname("peer1")).is_some());
        assert!(matches!(
            peers.resolved(announce("two-more", 9000, [10, 0, 1, 1], None)),
            Some(LanEvent::Discovered { .. })
        ));
    }

    #[test]
    fn without_a_txt_name_the_instance_name_is_used_unescaped() {
        let mut peers = Peers::new("alice", 9001, None);
        let mut dotted = announce("dr.who\\x", 9002, [10, 0, 0, 9], None);
        dotted.txt.name = None;
        assert_eq!(dotted.fullname, "dr\\.who\\\\x._qqchat._udp.local.");
        assert!(
            matches!(peers.resolved(dotted), Some(LanEvent::Discovered { name, .. }) if name == "dr.who\\x")
        );
        assert_eq!(instance_of("bob._other._udp.local."), None);
        assert_eq!(
            instance_of("BOB._QQCHAT._UDP.LOCAL.").as_deref(),
            Some("BOB")
        );
    }
}
