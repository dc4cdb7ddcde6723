//! Loopback addresses and ports.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

/// How long to wait for something that normally takes milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// The loopback address with `port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A UDP socket on loopback with an ephemeral port.
pub fn loopback_socket() -> UdpSocket {
    UdpSocket::bind(loopback(0)).expect("bind a loopback socket")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    loopback_socket()
        .local_addr()
        .expect("local address of a fresh socket")
        .port()
}

/// A loopback address that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    loopback(free_port())
}

/// An address written in a test, such as `"127.0.0.1:9001"`.
pub fn addr(text: &str) -> SocketAddr {
    text.parse().expect("a socket address written in a test")
}
