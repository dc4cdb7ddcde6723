//! A Noise transport session with one contact: explicit nonces on the wire (snow's stateless
//! transport), so a lost or reordered datagram costs nothing, and a sliding window that
//! refuses each nonce a second time.

use std::time::Instant;

use snow::StatelessTransportState;

use super::{HEADER, Refusal, SecureConfig, TYPE_TRANSPORT, header, u32_at, u64_at};

/// Header, receiver index, counter and the AEAD tag: what a transport datagram adds.
pub(super) const TRANSPORT_OVERHEAD: usize = HEADER + 4 + 8 + 16;
/// Replay window, in messages (as WireGuard's).
const WINDOW: u64 = 2048;

/// The sliding window of nonces seen (RFC 6479's idea, with a plain bit set).
#[derive(Debug, Clone, Default)]
struct ReplayWindow {
    /// One past the highest counter accepted.
    top: u64,
    bits: Vec<u64>,
}

impl ReplayWindow {
    fn new() -> Self {
        Self {
            top: 0,
            bits: vec![0; (WINDOW / 64) as usize],
        }
    }

    fn bit(&self, n: u64) -> (usize, u64) {
        let i = n % WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    /// Whether `n` is new and within the window (nothing is changed).
    fn check(&self, n: u64) -> bool {
        if n >= self.top {
            return true;
        }
        if self.top - n > WINDOW {
            return false;
        }
        let (w, b) = self.bit(n);
        self.bits[w] & b == 0
    }

    /// Marks `n` seen; call only after it authenticated, or a forgery could burn real nonces.
    fn mark(&mut self, n: u64) {
        if n >= self.top {
            // Clear the slots that slide into the window.
            let advance = (n + 1 - self.top).min(WINDOW);
            for k in 0..advance {
                let (w, b) = self.bit(self.top + k);
                self.bits[w] &= !b;
            }
            self.top = n + 1;
        }
        let (w, b) = self.bit(n);
        self.bits[w] |= b;
    }
}

/// One established session: its indices, keys, send counter and replay window.
pub(super) struct Session {
    /// The index the peer puts in datagrams to us.
    pub(super) local: u32,
    /// The index we put in datagrams to the peer.
    remote: u32,
    transport: StatelessTransportState,
    send_counter: u64,
    replay: ReplayWindow,
    created: Instant,
    /// Only the initiator rekeys at `rekey_after`, so both sides do not rekey at once.
    initiator: bool,
}

impl Session {
    pub(super) fn new(
        local: u32,
        remote: u32,
        transport: StatelessTransportState,
        now: Instant,
        initiator: bool,
    ) -> Self {
        Self {
            local,
            remote,
            transport,
            send_counter: 0,
            replay: ReplayWindow::new(),
            created: now,
            initiator,
        }
    }

    /// Whether it may still encrypt: not too old, and its nonces not exhausted.
    pub(super) fn can_send(&self, now: Instant, config: &SecureConfig) -> bool {
        now < self.created + config.reject_after && self.send_counter < u64::MAX - 1
    }

    /// Whether it is old enough that a new handshake should replace it.
    pub(super) fn rekey_due(&self, now: Instant, config: &SecureConfig) -> bool {
        let age = now.saturating_duration_since(self.created);
        (self.initiator && age >= config.rekey_after) || age >= config.rekey_any_after
    }

    /// Encrypts one transport datagram.
    pub(super) fn encrypt(&mut self, plain: &[u8]) -> Option<Vec<u8>> {
        let counter = self.send_counter;
        self.send_counter += 1;
        let mut out = header(TYPE_TRANSPORT);
        out.extend_from_slice(&self.remote.to_le_bytes());
        out.extend_from_slice(&counter.to_le_bytes());
        let start = out.len();
        out.resize(start + plain.len() + 16, 0);
        let n = self
            .transport
            .write_message(counter, plain, &mut out[start..])
            .ok()?;
        out.truncate(start + n);
        Some(out)
    }

    /// Authenticates and decrypts a transport datagram addressed to this session.
    pub(super) fn decrypt(
        &mut self,
        now: Instant,
        config: &SecureConfig,
        counter: u64,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, Refusal> {
        if now >= self.created + config.reject_after {
            return Err(Refusal::Expired);
        }
        if !self.replay.check(counter) {
            return Err(Refusal::Replay);
        }
        let mut plain = vec![0u8; ciphertext.len()];
        let Ok(n) = self.transport.read_message(counter, ciphertext, &mut plain) else {
            return Err(Refusal::Unauthenticated);
        };
        self.replay.mark(counter);
        plain.truncate(n);
        Ok(plain)
    }
}

/// A transport datagram's receiver index, counter and ciphertext.
pub(super) fn parse_transport(bytes: &[u8]) -> Result<(u32, u64, &[u8]), Refusal> {
    if bytes.len() < TRANSPORT_OVERHEAD {
        return Err(Refusal::Malformed);
    }
    let (Some(receiver), Some(counter), Some(ciphertext)) = (
        u32_at(bytes, HEADER),
        u64_at(bytes, HEADER + 4),
        bytes.get(HEADER + 12..),
    ) else {
        return Err(Refusal::Malformed);
    };
    Ok((receiver, counter, ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_window_accepts_each_nonce_once_and_refuses_old_ones() {
        let mut w = ReplayWindow::new();
        for n in [0, 2, 1, 5, 4, 3] {
            assert!(w.check(n), "{n}");
            w.mark(n);
            assert!(!w.check(n), "{n} again");
        }
        w.mark(10_000);
        assert!(!w.check(5), "far behind the window");
        assert!(w.check(10_000 - 100));
        assert!(!w.check(10_000 - WINDOW - 1));
        assert!(w.check(10_001));
    }
}
