//! A NAT lab in network namespaces, for testing qqchat between two home networks: hosts on
//! LANs behind routers that masquerade like home routers, a "public" segment with RFC 5737
//! documentation addresses, and the real binary run inside. Nothing leaves the namespaces the
//! lab made, and dropping the lab removes them, also when the test panicked.
//!
//! ```text
//!  alice 10.0.1.10 ─ lan ┤ router 1 ├ wan 203.0.113.1 ─┐
//!                                                      ├─ br0 (switch) ─ 203.0.113.101 public host
//!  bob   10.0.2.10 ─ lan ┤ router 2 ├ wan 203.0.113.2 ─┘
//! ```
//!
//! Routers forward LAN to WAN only, accept from the WAN only what belongs to a flow a LAN host
//! started (conntrack, like a home router), and translate with nftables `masquerade`.
//!
//! A plain LAN segment ([`Lab::lan_segment`]) is hosts on one bridge with no router between
//! them, where broadcast and multicast (mDNS) reach every host:
//!
//! ```text
//!  alice 192.168.77.10 ─┐
//!  bob   192.168.77.11 ─┼─ seg0 (switch, gateway 192.168.77.1)
//!  ...                 ─┘
//! ```

mod sys;

use std::ffi::OsStr;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::process::{Person, Running, as_person};

/// How a router maps a LAN host's UDP port to its public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// Plain `masquerade`: one public port per LAN socket whatever the destination (Linux
    /// keeps the source port when it is free), so hole punching works.
    EndpointIndependent,
    /// `masquerade fully-random`: a new random public port for each destination, so what a
    /// STUN server sees is no use to a peer; only a relay gets through.
    Symmetric,
}

impl Nat {
    fn rule(self) -> &'static str {
        match self {
            Nat::EndpointIndependent => "oifname \"wan\" masquerade",
            Nat::Symmetric => "oifname \"wan\" masquerade fully-random",
        }
    }
}

/// A machine in the lab: its namespace and its one address.
#[derive(Debug, Clone)]
pub struct Host {
    pub ns: String,
    pub ip: Ipv4Addr,
}

impl Host {
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip, port))
    }
}

/// A home router: `public` on the public segment, `lan` the gateway of its LAN.
#[derive(Debug, Clone)]
pub struct Router {
    pub ns: String,
    pub public: Ipv4Addr,
    pub lan: Ipv4Addr,
    index: usize,
}

impl Router {
    /// The router's public address with `port`: where a friend outside sends.
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.public, port))
    }
}

/// A plain LAN segment: hosts on one bridge, like machines on one switch at home, with no
/// router between them, so broadcast and multicast (mDNS) reach every host on it.
#[derive(Debug, Clone)]
pub struct Segment {
    /// `192.168.<net>.0/24`.
    net: u8,
    bridge: String,
    /// The bridge's own address, each host's default gateway.
    pub gateway: Ipv4Addr,
}

/// The lab. Build it with [`Lab::start`] (or [`Lab::create`]), then add routers and hosts.
pub struct Lab {
    prefix: String,
    /// In creation order; removed in reverse.
    namespaces: Vec<String>,
    switch: String,
    /// Hosts so far on each router's LAN.
    lan_hosts: Vec<u8>,
    public_hosts: u8,
    /// Hosts so far on each plain LAN segment.
    segment_hosts: Vec<u8>,
}

/// True where a lab test must run rather than skip: in CI, or when asked.
pub fn lab_required() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    ci || std::env::var("QQCHAT_LAB_REQUIRED").is_ok_and(|v| v == "1")
}

impl Lab {
    /// `Err(why)` when this machine cannot build the lab: not root, or `ip`, `nft` or
    /// `conntrack` missing or not allowed.
    pub fn available() -> Result<(), String> {
        sys::check()
    }

    /// A new lab for `test`, or `None` after saying loudly why it was skipped. Where the lab
    /// is required ([`lab_required`]) a missing lab fails the test instead.
    pub fn start(test: &str) -> Option<Lab> {
        match Lab::available() {
            Ok(()) => Some(Lab::create()),
            Err(reason) if lab_required() => panic!(
                "{test}: the NAT lab is required here (CI or QQCHAT_LAB_REQUIRED=1) but cannot \
                 run: {reason}"
            ),
            Err(reason) => {
                // Straight to stderr, past the test harness's capture: a skip must be seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: {test}: the NAT lab cannot run here: {reason}. It needs root, \
                     iproute2, nftables and conntrack; CI runs it."
                );
                None
            }
        }
    }

    /// An empty lab: the public segment only. Panics when the system refuses; check
    /// [`Lab::available`] first.
    pub fn create() -> Lab {
        Lab::remove_stale();
        static LABS: AtomicU32 = AtomicU32::new(0);
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let mut lab = Lab {
            prefix: format!("{}{}-{n}-", sys::NAME_START, std::process::id()),
            namespaces: Vec::new(),
            switch: String::new(),
            lan_hosts: Vec::new(),
            public_hosts: 0,
            segment_hosts: Vec::new(),
        };
        let sw = lab.namespace("sw");
        lab.ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        lab.ip(&["-n", &sw, "link", "set", "br0", "up"]);
        lab.switch = sw;
        lab
    }

    /// Removes namespaces left by an earlier run that was killed before it could clean up.
    pub fn remove_stale() {
        for ns in sys::stale_namespaces() {
            sys::remove_namespace(&ns);
        }
    }

    /// What every namespace of this lab is named with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A router on the public segment with a LAN of its own, translating as `nat` says.
    pub fn router(&mut self, name: &str, nat: Nat) -> Router {
        let index = self.lan_hosts.len() + 1;
        assert!(index < 100, "at most 99 routers");
        let ns = self.namespace(name);
        let public = Ipv4Addr::new(203, 0, 113, index as u8);
        let lan = Ipv4Addr::new(10, 0, index as u8, 1);
        self.plug(&ns, "wan", &format!("r{index}"), public);
        self.ip(&["-n", &ns, "link", "add", "lan", "type", "bridge"]);
        self.ip(&["-n", &ns, "addr", "add", &format!("{lan}/24"), "dev", "lan"]);
        self.ip(&["-n", &ns, "link", "set", "lan", "up"]);
        self.must(sys::run_in(
            &ns,
            "sh",
            &["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
            None,
        ));
        let rules = format!(
            "table ip qqlab {{\n\
             \tchain nat {{\n\
             \t\ttype nat hook postrouting priority srcnat;\n\
             \t\t{}\n\
             \t}}\n\
             \tchain forward {{\n\
             \t\ttype filter hook forward priority filter; policy drop;\n\
             \t\tct state established,related accept\n\
             \t\tiifname \"lan\" oifname \"wan\" accept\n\
             \t}}\n\
             \tchain input {{\n\
             \t\ttype filter hook input priority filter;\n\
             \t\tiifname \"wan\" ct state established,related accept\n\
             \t\tiifname \"wan\" drop\n\
             \t}}\n\
             }}\n",
            nat.rule()
        );
        self.nft(&ns, &rules);
        self.lan_hosts.push(0);
        Router {
            ns,
            public,
            lan,
            index,
        }
    }

    /// A host on `router`'s LAN, with the router as its default gateway.
    pub fn host(&mut self, name: &str, router: &Router) -> Host {
        let count = &mut self.lan_hosts[router.index - 1];
        *count += 1;
        let n = *count;
        assert!(n < 200, "at most 199 hosts on a LAN");
        let ns = self.namespace(name);
        let port = format!("h{n}");
        self.veth(&ns, "eth0", &router.ns, &port);
        self.ip(&["-n", &router.ns, "link", "set", &port, "master", "lan"]);
        self.ip(&["-n", &router.ns, "link", "set", &port, "up"]);
        let ip = Ipv4Addr::new(10, 0, router.index as u8, 10 + n);
        self.ip(&["-n", &ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        self.ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        let gateway = router.lan.to_string();
        self.ip(&["-n", &ns, "route", "add", "default", "via", &gateway]);
        Host { ns, ip }
    }

    /// A host on the public segment itself (a STUN or TURN server, a plain receiver).
    pub fn public_host(&mut self, name: &str) -> Host {
        self.public_hosts += 1;
        let k = self.public_hosts;
        assert!(k < 100, "at most 99 public hosts");
        let ns = self.namespace(name);
        let ip = Ipv4Addr::new(203, 0, 113, 100 + k);
        self.plug(&ns, "eth0", &format!("p{k}"), ip);
        Host { ns, ip }
    }

    /// A plain LAN segment, `192.168.77.0/24` for the first (then .78, ...): a bridge in the
    /// switch's namespace with the gateway address `.1` on it. Add hosts with
    /// [`Lab::segment_host`].
    pub fn lan_segment(&mut self) -> Segment {
        let index = self.segment_hosts.len();
        assert!(index < 20, "at most 20 LAN segments");
        let net = 77 + index as u8;
        let bridge = format!("seg{index}");
        let gateway = Ipv4Addr::new(192, 168, net, 1);
        let sw = self.switch.clone();
        self.ip(&["-n", &sw, "link", "add", &bridge, "type", "bridge"]);
        // Every multicast frame to every port, as a plain switch does; the kernel's
        // snooping would otherwise decide by IGMP reports it may not have seen yet.
        self.ip(&[
            "-n",
            &sw,
            "link",
            "set",
            &bridge,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        self.ip(&[
            "-n",
            &sw,
            "addr",
            "add",
            &format!("{gateway}/24"),
            "dev",
            &bridge,
        ]);
        self.ip(&["-n", &sw, "link", "set", &bridge, "up"]);
        self.segment_hosts.push(0);
        Segment {
            net,
            bridge,
            gateway,
        }
    }

    /// A host on `segment`: `192.168.<net>.10` for the first, then .11, ..., its default
    /// route through the segment's gateway (multicast and broadcast need a route out).
    pub fn segment_host(&mut self, name: &str, segment: &Segment) -> Host {
        let index = usize::from(segment.net - 77);
        let count = &mut self.segment_hosts[index];
        *count += 1;
        let n = *count;
        assert!(n < 200, "at most 199 hosts on a segment");
        let ns = self.namespace(name);
        let port = format!("s{index}h{n}");
        let sw = self.switch.clone();
        self.veth(&ns, "eth0", &sw, &port);
        self.ip(&["-n", &sw, "link", "set", &port, "master", &segment.bridge]);
        self.ip(&["-n", &sw, "link", "set", &port, "up"]);
        let ip = Ipv4Addr::new(192, 168, segment.net, 9 + n);
        self.ip(&["-n", &ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        self.ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        let gateway = segment.gateway.to_string();
        self.ip(&["-n", &ns, "route", "add", "default", "via", &gateway]);
        Host { ns, ip }
    }

    /// Changes how `router` translates new flows; flows it already tracks keep their mapping
    /// until [`Lab::flush_conntrack`].
    pub fn set_nat(&self, router: &Router, nat: Nat) {
        let script = format!(
            "flush chain ip qqlab nat\nadd rule ip qqlab nat {}\n",
            nat.rule()
        );
        self.nft(&router.ns, &script);
    }

    /// Drops `percent` of the datagrams on `router`'s public link, each way, on the wire: a
    /// packet lost outbound has still made its mapping, as on a real network. 0 removes it.
    pub fn set_loss(&self, router: &Router, percent: u8) {
        let mut script = String::from("table netdev qqloss {}\ndelete table netdev qqloss\n");
        assert!(percent <= 100, "loss of {percent}%");
        // numgen's range is 0..100, so `< 100` is refused: all is plain `drop`.
        let drop = match percent {
            100 => "drop".to_owned(),
            _ => format!("numgen random mod 100 < {percent} drop"),
        };
        if percent > 0 {
            script += &format!(
                "table netdev qqloss {{\n\
                 \tchain out {{\n\
                 \t\ttype filter hook egress device \"wan\" priority filter;\n\
                 \t\t{drop}\n\
                 \t}}\n\
                 \tchain in {{\n\
                 \t\ttype filter hook ingress device \"wan\" priority filter;\n\
                 \t\t{drop}\n\
                 \t}}\n\
                 }}\n"
            );
        }
        self.nft(&router.ns, &script);
    }

    /// Forgets every mapping `router` holds, as a router reboot or a long silence would.
    pub fn flush_conntrack(&self, router: &Router) {
        self.must(sys::run_in(&router.ns, "conntrack", &["-F"], None));
    }

    /// `program` to be run inside namespace `ns`; add arguments and start it.
    pub fn command(&self, ns: &str, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]).arg(program);
        command
    }

    /// The `qqchat` binary on `host`, set up as [`crate::qqchat`] sets it up for `dir`.
    pub fn qqchat(&self, host: &Host, dir: &Path) -> Command {
        let mut command = self.command(&host.ns, assert_cmd::cargo::cargo_bin("qqchat"));
        as_person(&mut command, dir);
        command
    }

    /// `qqchat listen` for `person` on `host`, once it says it listens.
    pub fn listen(&self, host: &Host, person: &Person) -> Running {
        let mut command = self.qqchat(host, person.dir.path());
        command.args(["--contacts", &person.contacts(), "listen"]);
        let running = Running::start(command);
        running.wait_ready("listening on");
        running
    }

    /// `qqchat send --timeout 10` for `person` on `host` (through the qqchat running there,
    /// if any), which must be delivered: the panic says what the command said otherwise.
    pub fn delivered(&self, host: &Host, person: &Person, to: &str, text: &str) {
        let out = self
            .qqchat(host, person.dir.path())
            .args([
                "--contacts",
                &person.contacts(),
                "send",
                "--timeout",
                "10",
                to,
                text,
            ])
            .output()
            .expect("run qqchat send");
        assert!(
            out.status.success(),
            "{text:?} from {} to {to} not delivered: {}",
            person.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A UDP socket bound on `host` (port 0 for any).
    pub fn udp_socket(&self, host: &Host, port: u16) -> UdpSocket {
        let addr = host.addr(port);
        sys::in_namespace(&host.ns, move || UdpSocket::bind(addr))
            .unwrap_or_else(|e| panic!("bind {addr} in {}: {e}", host.ns))
    }

    fn namespace(&mut self, name: &str) -> String {
        // Short and plain: it becomes a file name under /run/netns and shows in `ip netns`.
        assert!(
            !name.is_empty() && name.len() <= 16 && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "a lab machine needs a short alphanumeric name, not {name:?}"
        );
        let ns = format!("{}{name}", self.prefix);
        assert!(
            !self.namespaces.contains(&ns),
            "two lab machines named {name}"
        );
        self.ip(&["netns", "add", &ns]);
        // Owned from here on, so that a failure below still removes it.
        self.namespaces.push(ns.clone());
        self.ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ns
    }

    /// Connects `ns` by its interface `inner` to the switch's `port` on the public segment.
    fn plug(&self, ns: &str, inner: &str, port: &str, ip: Ipv4Addr) {
        self.veth(ns, inner, &self.switch, port);
        self.ip(&["-n", &self.switch, "link", "set", port, "master", "br0"]);
        self.ip(&["-n", &self.switch, "link", "set", port, "up"]);
        self.ip(&["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", inner]);
        self.ip(&["-n", ns, "link", "set", inner, "up"]);
    }

    /// A veth pair made inside the lab's namespaces, so its names never meet the host's.
    fn veth(&self, a_ns: &str, a: &str, b_ns: &str, b: &str) {
        self.ip(&[
            "-n", a_ns, "link", "add", a, "type", "veth", "peer", "name", b, "netns", b_ns,
        ]);
    }

    fn ip(&self, args: &[&str]) {
        self.must(sys::run("ip", args, None));
    }

    fn nft(&self, ns: &str, script: &str) {
        self.must(sys::run_in(ns, "nft", &["-f", "-"], Some(script)));
    }

    fn must(&self, result: Result<String, String>) {
        if let Err(e) = result {
            panic!("building the NAT lab {}: {e}", self.prefix);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            sys::remove_namespace(ns);
        }
    }
}
