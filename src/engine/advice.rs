//! What the user reads when keys do not match or the relay fails: what happened, and what
//! fixes it.

use std::net::SocketAddr;

use super::api::history_key;
use super::turn::{REBINDS, RelayFailure, RelayReport, RelayState};
use crate::contacts::Contact;
use crate::identity::encode_key;
use crate::proto::{PeerId, PublicKey, Trouble};

/// A handshake offered a key that no contact carries; `expected` is the keyed contact whose
/// address it came from, if any.
pub(super) fn key_refused(
    contacts: &[Contact],
    from: SocketAddr,
    offered: &PublicKey,
    expected: Option<PublicKey>,
) -> String {
    let offered = encode_key(offered);
    match expected {
        Some(key) => {
            let name = history_key(contacts, PeerId::Key(key), from);
            format!(
                "REFUSED: {from} claimed to be {name} with another key ({offered}), \
                 not the one in your contacts ({}). If {name} really made a new \
                 identity, put the new key in contacts.toml; if not, someone is \
                 impersonating {name}.",
                encode_key(&key)
            )
        }
        None => format!(
            "refused a handshake from {from}: its key {offered} is in none of \
             your contacts (add it with qqchat add)"
        ),
    }
}

/// Why the contact called `name` cannot be reached, and what to do about it.
pub(super) fn trouble(name: &str, trouble: Trouble) -> String {
    match trouble {
        Trouble::NoHandshakeAnswer => format!(
            "no handshake answer from {name}: {name} may be offline, or have a different \
             key for you, or no key (ask them to run qqchat add with your contact string \
             from qqchat id)"
        ),
        Trouble::SendsEncrypted => format!(
            "{name} sends encrypted messages: add {name}'s key (qqchat add with the \
             contact string {name}'s qqchat id prints)"
        ),
        Trouble::SendsPlain => format!(
            "{name} sends without encryption: {name} has no key for you (ask them to run \
             qqchat add with your contact string from qqchat id)"
        ),
    }
}

/// The relay as one line for people: the relayed address, or why there is none and what
/// fixes it; `None` while it is still being allocated.
impl RelayReport {
    pub fn describe(&self) -> Option<String> {
        let server = &self.server;
        let at = match self.addr {
            Some(a) if a.to_string() != *server => format!(" ({a})"),
            _ => String::new(),
        };
        let why = match self.state {
            RelayState::Allocating => return None,
            RelayState::Allocated(relayed) => {
                return Some(format!("relayed address {relayed} (via {server})"));
            }
            RelayState::Failed(RelayFailure::Unresolved) => {
                "the name does not resolve: check server in [me] relay and the DNS settings"
                    .to_owned()
            }
            RelayState::Failed(RelayFailure::NoAnswer) => {
                "no answer: the server is unreachable or UDP to it is blocked; check server in \
                 [me] relay, that the TURN server runs, and that no firewall drops UDP to it"
                    .to_owned()
            }
            RelayState::Failed(RelayFailure::Unauthorized) => {
                "wrong credentials: check username and password in [me] relay against the \
                 TURN server's user"
                    .to_owned()
            }
            RelayState::Failed(RelayFailure::AllocationMismatch) => {
                format!(
                    "437 allocation mismatch from {REBINDS} new relay ports in a row: the server \
                     still holds an allocation for the address it sees (a NAT mapping every port \
                     to the same one?); it expires within 10 minutes and qqchat tries again \
                     every minute, or the TURN server's log says more"
                )
            }
            RelayState::Failed(RelayFailure::Refused(code)) => {
                format!("refused with error {code}: the TURN server's log says why")
            }
        };
        Some(format!("relay {server}{at} failed: {why}"))
    }
}

/// IP Messenger's port could not be had: what that means and what to do.
pub(crate) fn lan_port(port: u16, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "IP Messenger is off: UDP port {port} is in use, most likely by another IP Messenger, \
             Feiq or iptux on this machine (quit it to talk with them from qqchat); qqchat's own \
             chat works as usual"
        )
    } else {
        format!("IP Messenger is off: cannot open UDP port {port}: {err}")
    }
}
