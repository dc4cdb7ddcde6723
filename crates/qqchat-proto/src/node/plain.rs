//! Plain peers' text: UTF-8 unless the contact says otherwise, since the teaching scripts
//! qqchat grew from and Chinese Windows tools send GBK.

use std::borrow::Cow;
use std::collections::HashMap;

use encoding_rs::{Encoding, GB18030, UTF_8};

use crate::PeerId;

/// Each plain contact's encoding, when it is not UTF-8.
#[derive(Default)]
pub(crate) struct Encodings {
    by_peer: HashMap<PeerId, &'static Encoding>,
}

impl Encodings {
    pub(crate) fn set(&mut self, peer: PeerId, encoding: Option<&'static Encoding>) {
        match encoding.filter(|&e| e != UTF_8) {
            Some(e) => {
                self.by_peer.insert(peer, e);
            }
            None => {
                self.by_peer.remove(&peer);
            }
        }
    }

    pub(crate) fn remove(&mut self, peer: PeerId) {
        self.by_peer.remove(&peer);
    }

    /// The text of a plain datagram from `peer`: in the contact's encoding when it has one;
    /// otherwise UTF-8, or failing that GB18030 (shown rather than dropped). `None` when it
    /// is not text in any of them.
    pub(crate) fn decode<'b>(&self, peer: PeerId, bytes: &'b [u8]) -> Option<Cow<'b, str>> {
        if let Some(encoding) = self.by_peer.get(&peer) {
            return encoding.decode_without_bom_handling_and_without_replacement(bytes);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Some(Cow::Borrowed(text)),
            // GB18030 reads most byte strings as something: only what reads as ordinary text
            // is taken for it, so junk stays junk.
            Err(_) => GB18030
                .decode_without_bom_handling_and_without_replacement(bytes)
                .filter(|text| text.chars().all(ordinary)),
        }
    }

    /// The bytes to send `peer` for `text`, in its encoding (characters it cannot express
    /// become numeric references, as browsers do).
    pub(crate) fn encode<'t>(&self, peer: PeerId, text: &'t str) -> Cow<'t, [u8]> {
        match self.by_peer.get(&peer) {
            Some(encoding) => encoding.encode(text).0,
            None => Cow::Borrowed(text.as_bytes()),
        }
    }

    /// Whether text to `peer` may grow when encoded (GB18030 takes four bytes for some
    /// characters UTF-8 writes in two), so chunks must leave room.
    pub(crate) fn may_grow(&self, peer: PeerId) -> bool {
        self.by_peer.contains_key(&peer)
    }
}

/// A character a person would send: no control characters but line breaks and tabs, nothing
/// from the private use areas (where GB18030 puts byte pairs no text uses).
fn ordinary(c: char) -> bool {
    let private = matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..);
    (!c.is_control() || matches!(c, '\n' | '\r' | '\t')) && !private
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn peer(port: u16) -> PeerId {
        PeerId::addr(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    #[test]
    fn a_gbk_contact_is_read_and_written_in_gbk() {
        let mut e = Encodings::default();
        e.set(peer(1), Some(encoding_rs::GBK));
        let gbk = [0xC4, 0xE3, 0xBA, 0xC3]; // 你好
        assert_eq!(e.decode(peer(1), &gbk).as_deref(), Some("你好"));
        assert_eq!(&*e.encode(peer(1), "你好"), &gbk);
        assert!(e.may_grow(peer(1)));
        e.set(peer(1), None);
        assert_eq!(&*e.encode(peer(1), "你好"), "你好".as_bytes());
    }

    #[test]
    fn an_unknown_sender_in_gb18030_is_shown_and_junk_is_not() {
        let e = Encodings::default();
        let gb = [0xCA, 0xC0, 0xBD, 0xE7]; // 世界
        assert_eq!(e.decode(peer(2), &gb).as_deref(), Some("世界"));
        assert_eq!(
            e.decode(peer(2), "héllo".as_bytes()).as_deref(),
            Some("héllo")
        );
        // A lead byte with nothing after it is neither UTF-8 nor GB18030.
        assert_eq!(e.decode(peer(2), &[0x81]), None);
        // GB18030 for a character in a private use area, or with control bytes: junk.
        assert_eq!(e.decode(peer(2), &[0xAA, 0xA1]), None);
        assert_eq!(e.decode(peer(2), &[0xCA, 0xC0, 0x01, 0x02]), None);
        assert_eq!(
            e.decode(peer(2), &[0xCA, 0xC0, b'\n', 0xBD, 0xE7])
                .as_deref(),
            Some("世\n界")
        );
    }
}
