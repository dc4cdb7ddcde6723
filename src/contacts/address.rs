//! Addresses as written in the file: parsed, resolved, and the faults explained.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use super::parse::AddrSite;
use super::*;

/// The same address one port up: a plausible fix for a duplicate.
pub(super) fn next_port(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(
        addr.ip(),
        addr.port().checked_add(1).unwrap_or(DEFAULT_PORT),
    )
}

/// `addrs` as written in the file: `["a:1", "b:2"]`.
pub(super) fn addr_list(addrs: &[SocketAddr]) -> String {
    let quoted: Vec<String> = addrs
        .iter()
        .map(|a| format!("{:?}", a.to_string()))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// Why an address string was refused, before it is placed in the file.
#[derive(Debug)]
pub(super) enum AddrFault {
    /// `host` is how to write the host part before `:port`.
    MissingPort {
        host: String,
    },
    BadPort {
        host: String,
        port: String,
    },
    PortZero {
        host: String,
    },
    /// Only a port, as in `listen = "9001"`.
    OnlyPort {
        port: u16,
    },
    /// `fix`, when there is one, is the address the user most likely meant.
    Malformed {
        reason: &'static str,
        fix: Option<String>,
    },
    Unresolved {
        host: String,
        port: u16,
        reason: String,
    },
}

impl AddrFault {
    pub(super) fn into_problem(self, raw: &str, site: &AddrSite<'_>) -> Problem {
        let what = site.what();
        let addr = raw.to_owned();
        match self {
            AddrFault::MissingPort { host } => Problem::MissingPort {
                example: site.example(&format!("{host}:{DEFAULT_PORT}")),
                what,
                addr,
            },
            AddrFault::BadPort { host, port } => Problem::BadPort {
                example: site.example(&format!("{host}:{DEFAULT_PORT}")),
                what,
                addr,
                port,
            },
            AddrFault::PortZero { host } => Problem::PortZero {
                example: site.example(&format!("{host}:{DEFAULT_PORT}")),
                what,
                addr,
            },
            AddrFault::OnlyPort { port } => Problem::BadAddress {
                example: site.example(&site.sample_addr(port)),
                what,
                addr,
                reason: "it is only a port: the IP address goes before it".to_owned(),
            },
            AddrFault::Malformed { reason, fix } => Problem::BadAddress {
                example: site.example(&fix.unwrap_or_else(|| site.sample_addr(DEFAULT_PORT))),
                what,
                addr,
                reason: reason.to_owned(),
            },
            AddrFault::Unresolved { host, port, reason } => Problem::Unresolved {
                example: site.example(&format!("192.168.1.20:{port}")),
                what,
                host,
                reason,
            },
        }
    }
}

/// Parse `host:port`: an IPv4 address, an IPv6 address in brackets, or a host name resolved
/// now (the first result wins).
pub(super) fn parse_address(s: &str, allow_port_zero: bool) -> Result<SocketAddr, AddrFault> {
    if s.is_empty() {
        return Err(AddrFault::Malformed {
            reason: "it is empty",
            fix: None,
        });
    }
    if let Some(fault) = likely_slip(s) {
        return Err(fault);
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        if addr.port() == 0 && !allow_port_zero {
            return Err(AddrFault::PortZero {
                host: host_part(addr.ip()),
            });
        }
        return Ok(addr);
    }
    // A bare IP address: only the port is missing.
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Err(AddrFault::MissingPort {
            host: host_part(ip),
        });
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(AddrFault::Malformed {
            reason: "the [ of an IPv6 address is never closed with ]",
            fix: None,
        })?;
        let ip: Ipv6Addr = inside.parse().map_err(|_| AddrFault::Malformed {
            reason: "the part in brackets is not an IPv6 address",
            fix: None,
        })?;
        let host = format!("[{ip}]");
        if after.is_empty() {
            return Err(AddrFault::MissingPort { host });
        }
        let port = after.strip_prefix(':').ok_or(AddrFault::Malformed {
            reason: "the ] of an IPv6 address must be followed by :port",
            fix: None,
        })?;
        let port = check_port(&host, port, allow_port_zero)?;
        return Ok(SocketAddr::new(IpAddr::V6(ip), port));
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        check_host(s)?;
        return Err(AddrFault::MissingPort { host: s.to_owned() });
    };
    if host.contains(':') {
        return Err(AddrFault::Malformed {
            reason: "an IPv6 address goes in brackets, as in [::1]:9002",
            fix: None,
        });
    }
    check_host(host)?;
    let port = check_port(host, port, allow_port_zero)?;
    let unresolved = |reason: String| AddrFault::Unresolved {
        host: host.to_owned(),
        port,
        reason,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| unresolved(e.to_string()))?
        .next()
        .ok_or_else(|| unresolved("it has no addresses".to_owned()))
}

/// Addresses that are almost right, with the address meant: an IPv6 address with its port
/// but no brackets (`::1:9003` is itself a valid IPv6 address, so it must be caught before
/// it is taken for one), a port alone, and an address written as a URL.
fn likely_slip(s: &str) -> Option<AddrFault> {
    if let Some((ip, port)) = s.rsplit_once(':')
        && !ip.starts_with('[')
        && port.bytes().all(|b| b.is_ascii_digit())
        && let Ok(ip) = ip.parse::<Ipv6Addr>()
        && let Ok(port) = port.parse::<u16>()
        && port != 0
    {
        return Some(AddrFault::Malformed {
            reason: "an IPv6 address goes in brackets before its :port",
            fix: Some(format!("[{ip}]:{port}")),
        });
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Some(AddrFault::OnlyPort {
            port: s.parse().ok().filter(|&p| p != 0).unwrap_or(DEFAULT_PORT),
        });
    }
    if let Some((_, rest)) = s.split_once("://") {
        let rest = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        return Some(AddrFault::Malformed {
            reason: "it is a URL: write only the host and its port, without the scheme",
            fix: rest
                .parse::<SocketAddr>()
                .ok()
                .filter(|a| a.port() != 0)
                .map(|a| a.to_string()),
        });
    }
    None
}

/// The host as it is written before `:port`, brackets included for IPv6.
pub(super) fn host_part(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Refuse host names that the resolver would refuse anyway, with a clearer reason.
pub(super) fn check_host(host: &str) -> Result<(), AddrFault> {
    if host.is_empty() {
        return Err(AddrFault::Malformed {
            reason: "there is no host before the :",
            fix: None,
        });
    }
    if !host
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(AddrFault::Malformed {
            reason: "a host name has only letters, digits, - and .",
            fix: None,
        });
    }
    Ok(())
}

pub(super) fn check_port(host: &str, port: &str, allow_zero: bool) -> Result<u16, AddrFault> {
    let bad = || AddrFault::BadPort {
        host: host.to_owned(),
        port: port.to_owned(),
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(0) if !allow_zero => Err(AddrFault::PortZero {
            host: host.to_owned(),
        }),
        Ok(p) => Ok(p),
        Err(_) => Err(bad()),
    }
}

/// The allowed key that `key` is probably a misspelling of.
pub(super) fn near_miss(key: &str, allowed: &[&'static str]) -> Option<&'static str> {
    let key = key.to_lowercase();
    allowed
        .iter()
        .copied()
        .map(|a| (a, edit_distance(&key, a)))
        .filter(|&(a, d)| d <= 1 || (d <= 2 && a.len() > 3))
        .min_by_key(|&(_, d)| d)
        .map(|(a, _)| a)
}

/// Levenshtein distance, for [`near_miss`].
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diag = above;
        }
    }
    row[b.len()]
}

impl parse::Doc<'_> {
    /// A list of servers (`[me] stun`, `[me] dht_bootstrap`): each entry a `host:port` in
    /// double quotes, checked by [`check_server`] and then by `refuse`, which says why an
    /// entry of the right form is still not taken. `example` is the line to suggest.
    pub(super) fn server_list(
        &self,
        entries: &[toml::Spanned<toml::de::DeValue<'_>>],
        what: &str,
        example: &str,
        sample: &str,
        line_for: impl Fn(&str) -> String,
        refuse: impl Fn(&str) -> Option<Problem>,
    ) -> Result<Vec<String>, ContactsError> {
        let mut servers = Vec::new();
        for entry in entries {
            let toml::de::DeValue::String(raw) = entry.get_ref() else {
                return Err(self.wrong_type(
                    entry,
                    what,
                    "a host:port in double quotes",
                    example.to_owned(),
                ));
            };
            let raw = raw.trim();
            check_server(raw, what, sample, &line_for)
                .and_then(|()| refuse(raw).map_or(Ok(()), Err))
                .map_err(|problem| self.err(entry.span(), problem))?;
            servers.push(raw.to_owned());
        }
        Ok(servers)
    }
}

/// A server written as `host:port`, resolved only when it is used (`[me] stun`, `[me] relay`):
/// a host, and a port from 1 to 65535, an IPv6 host in brackets. `what` names the setting,
/// `sample` is a host to suggest when none is written, `example` writes the line to suggest.
pub(super) fn check_server(
    raw: &str,
    what: &str,
    sample: &str,
    example: impl Fn(&str) -> String,
) -> Result<(), Problem> {
    let Some((host, port)) = raw.rsplit_once(':') else {
        return Err(Problem::MissingPort {
            what: what.to_owned(),
            addr: raw.to_owned(),
            example: example(if raw.is_empty() { sample } else { raw }),
        });
    };
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || (host.contains(':') && !bracketed) {
        return Err(Problem::BadAddress {
            what: what.to_owned(),
            addr: raw.to_owned(),
            reason: if host.is_empty() {
                "no host before the port".to_owned()
            } else {
                "an IPv6 address needs brackets".to_owned()
            },
            example: example(sample),
        });
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(Problem::BadPort {
            what: what.to_owned(),
            addr: raw.to_owned(),
            port: port.to_owned(),
            example: example(host),
        }),
    }
}
