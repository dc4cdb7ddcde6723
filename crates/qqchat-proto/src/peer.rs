//! Who a peer is: a contact with a key is its [`PublicKey`], anyone else their address.

use std::fmt;
use std::net::SocketAddr;

/// An X25519 public key: a contact's identity, whatever address it writes from.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for PublicKey {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

/// Short: the first bytes in hex are enough to tell keys apart in a log.
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// Who a peer is. A contact with a key is its key, so it stays the same peer from whatever
/// address it writes (WireGuard's roaming); anyone else is known only by their address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerId {
    Key(PublicKey),
    /// Always in [`canonical`] form: make it with [`PeerId::addr`].
    Addr(SocketAddr),
}

impl PeerId {
    /// The peer known only by `addr`, in canonical form so that the same socket is the same
    /// peer however the OS reported it.
    pub fn addr(addr: SocketAddr) -> Self {
        PeerId::Addr(canonical(addr))
    }

    pub fn key(&self) -> Option<PublicKey> {
        match self {
            PeerId::Key(k) => Some(*k),
            PeerId::Addr(_) => None,
        }
    }
}

impl From<PublicKey> for PeerId {
    fn from(key: PublicKey) -> Self {
        PeerId::Key(key)
    }
}

/// For logs: an address as itself, a key by its first bytes.
impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerId::Addr(a) => write!(f, "{a}"),
            PeerId::Key(k) => {
                write!(f, "key:")?;
                k.0[..4].iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// `addr` with an IPv4-mapped IPv6 address turned back into IPv4: a dual-stack socket
/// reports IPv4 peers as `::ffff:a.b.c.d`, and they are the same peer as `a.b.c.d`.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_ipv6_address_is_the_same_peer_as_its_ipv4_self() {
        let v4: SocketAddr = "127.0.0.1:5555".parse().expect("an address");
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5555".parse().expect("an address");
        let other_port: SocketAddr = "127.0.0.1:5556".parse().expect("an address");
        assert_eq!(PeerId::addr(v4), PeerId::addr(mapped));
        assert_ne!(PeerId::addr(v4), PeerId::addr(other_port));
        assert_eq!(PeerId::addr(mapped).to_string(), "127.0.0.1:5555");
    }
}
