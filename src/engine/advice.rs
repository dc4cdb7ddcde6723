//! What the user reads when keys do not match: what happened, and the command that fixes it.

use std::net::SocketAddr;

use super::api::history_key;
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
