//! The Noise IK handshake: the static key pair, building and reading the two handshake
//! messages, and `mac1`, which lets a responder refuse junk before any Diffie-Hellman.
//!
//! Each function is one step and holds no state between calls; [`super::Secure`] decides
//! which peer a message belongs to and keeps the [`Pending`] handshake with that peer.

use std::time::Instant;

use blake2::digest::{FixedOutput, KeyInit, Mac, Update};
use blake2::{Blake2s256, Blake2sMac, Digest};
use snow::{HandshakeState, StatelessTransportState};

use crate::PublicKey;

use super::{HEADER, Refusal, TYPE_INIT, TYPE_RESPONSE, header, u32_at, u64_at};

const NOISE_PARAMS: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// Binds both sides to this protocol and version: a handshake of anything else fails.
const PROLOGUE: &[u8] = b"qqchat v2";
const MAC_LEN: usize = 16;
const INIT_NOISE_LEN: usize = 32 + 48 + 8 + 16;
const RESPONSE_NOISE_LEN: usize = 32 + 16;
const INIT_LEN: usize = HEADER + 4 + INIT_NOISE_LEN + MAC_LEN;
const RESPONSE_LEN: usize = HEADER + 8 + RESPONSE_NOISE_LEN + MAC_LEN;

/// A static X25519 key pair.
#[derive(Clone)]
pub struct Keypair {
    pub private: [u8; 32],
    pub public: PublicKey,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key, not even in a debug log.
        f.debug_struct("Keypair")
            .field("public", &self.public)
            .finish()
    }
}

impl Keypair {
    /// A fresh random key pair.
    pub fn generate() -> Result<Keypair, snow::Error> {
        let params = NOISE_PARAMS.parse()?;
        let kp = snow::Builder::new(params).generate_keypair()?;
        let mut private = [0; 32];
        private.copy_from_slice(&kp.private);
        let mut public = [0; 32];
        public.copy_from_slice(&kp.public);
        Ok(Keypair {
            private,
            public: PublicKey::from_bytes(public),
        })
    }
}

/// A handshake this side started and the peer has not answered yet.
pub(super) struct Pending {
    pub(super) hs: HandshakeState,
    /// Our index for the session it will make; the response names it.
    pub(super) index: u32,
    /// When the first try went out: retries keep it, so give-up counts from the start.
    pub(super) started: Instant,
    pub(super) last_sent: Instant,
    /// The initiation as sent, so hole punching can send the same one to every candidate
    /// (the peer answers the first copy that reaches it and refuses the rest as replays).
    pub(super) bytes: Vec<u8>,
}

/// The key `mac1` is computed with for datagrams to the owner of `public` (WireGuard's).
pub(super) fn mac1_key(public: &PublicKey) -> [u8; 32] {
    let mut h = Blake2s256::new();
    Digest::update(&mut h, b"mac1----");
    Digest::update(&mut h, public.as_bytes());
    h.finalize().into()
}

fn mac1_state(key: &[u8; 32], msg: &[u8]) -> Blake2sMac<blake2::digest::consts::U16> {
    let mut mac = <Blake2sMac<blake2::digest::consts::U16> as KeyInit>::new_from_slice(key)
        .expect("a 32-byte key is valid for BLAKE2s");
    Update::update(&mut mac, msg);
    mac
}

fn mac1(key: &[u8; 32], msg: &[u8]) -> [u8; MAC_LEN] {
    mac1_state(key, msg).finalize_fixed().into()
}

/// Checks the `mac1` at the end of `msg` in constant time.
fn mac_ok(key: &[u8; 32], msg: &[u8]) -> bool {
    let (body, tag) = msg.split_at(msg.len() - MAC_LEN);
    mac1_state(key, body).verify_slice(tag).is_ok()
}

fn params() -> snow::params::NoiseParams {
    NOISE_PARAMS
        .parse()
        .expect("the Noise parameter string is valid")
}

/// Builds an initiation to the owner of `remote`, carrying the wall clock so the responder
/// can refuse a replayed one.
pub(super) fn initiation(
    keys: &Keypair,
    remote: &PublicKey,
    remote_mac1_key: &[u8; 32],
    index: u32,
    wall_ns: u64,
) -> Option<(HandshakeState, Vec<u8>)> {
    let mut hs = snow::Builder::new(params())
        .local_private_key(&keys.private)
        .ok()?
        .remote_public_key(remote.as_bytes())
        .ok()?
        .prologue(PROLOGUE)
        .ok()?
        .build_initiator()
        .ok()?;
    let mut out = header(TYPE_INIT);
    out.extend_from_slice(&index.to_le_bytes());
    let mut msg = [0u8; INIT_NOISE_LEN];
    let len = hs.write_message(&wall_ns.to_le_bytes(), &mut msg).ok()?;
    out.extend_from_slice(&msg[..len]);
    let tag = mac1(remote_mac1_key, &out);
    out.extend_from_slice(&tag);
    Some((hs, out))
}

/// The cheap checks on an initiation: its length and our `mac1`. Only past these is the
/// Diffie-Hellman of [`read_init`] worth doing.
pub(super) fn check_init(own_mac1_key: &[u8; 32], bytes: &[u8]) -> Result<(), Refusal> {
    if bytes.len() != INIT_LEN {
        return Err(Refusal::Malformed);
    }
    if !mac_ok(own_mac1_key, bytes) {
        return Err(Refusal::BadMac);
    }
    Ok(())
}

/// An initiation read by the responder, not yet answered.
pub(super) struct Init {
    pub(super) hs: HandshakeState,
    /// The initiator's index, which our response and transport datagrams carry.
    pub(super) sender: u32,
    /// The static key the initiator claims; it is checked against the contacts.
    pub(super) offered: PublicKey,
    /// The initiator's wall clock: an initiation not newer than the last is a replay.
    pub(super) timestamp: u64,
}

/// Reads an initiation that passed [`check_init`].
pub(super) fn read_init(keys: &Keypair, bytes: &[u8]) -> Result<Init, Refusal> {
    let (Some(sender), Some(noise)) = (
        u32_at(bytes, HEADER),
        bytes.get(HEADER + 4..bytes.len().saturating_sub(MAC_LEN)),
    ) else {
        return Err(Refusal::Malformed);
    };
    let Ok(mut hs) = responder(keys) else {
        return Err(Refusal::Malformed);
    };
    let mut payload = [0u8; 64];
    let Ok(n) = hs.read_message(noise, &mut payload) else {
        return Err(Refusal::Unauthenticated);
    };
    let Some(offered) = hs
        .get_remote_static()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .map(PublicKey::from_bytes)
    else {
        return Err(Refusal::Unauthenticated);
    };
    let timestamp = if n >= 8 {
        u64_at(&payload, 0).unwrap_or(0)
    } else {
        0
    };
    Ok(Init {
        hs,
        sender,
        offered,
        timestamp,
    })
}

fn responder(keys: &Keypair) -> Result<HandshakeState, snow::Error> {
    snow::Builder::new(params())
        .local_private_key(&keys.private)?
        .prologue(PROLOGUE)?
        .build_responder()
}

/// Answers an initiation: the response datagram and the session's transport keys.
pub(super) fn respond(
    mut hs: HandshakeState,
    index: u32,
    sender: u32,
    remote_mac1_key: &[u8; 32],
) -> Result<(Vec<u8>, StatelessTransportState), Refusal> {
    let mut out = header(TYPE_RESPONSE);
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&sender.to_le_bytes());
    let mut msg = [0u8; RESPONSE_NOISE_LEN];
    let Ok(len) = hs.write_message(&[], &mut msg) else {
        return Err(Refusal::Malformed);
    };
    out.extend_from_slice(&msg[..len]);
    let tag = mac1(remote_mac1_key, &out);
    out.extend_from_slice(&tag);
    let Ok(transport) = hs.into_stateless_transport_mode() else {
        return Err(Refusal::Malformed);
    };
    Ok((out, transport))
}

/// A response's two indices (the responder's, then ours), after its length and `mac1`.
pub(super) fn check_response(own_mac1_key: &[u8; 32], bytes: &[u8]) -> Result<(u32, u32), Refusal> {
    if bytes.len() != RESPONSE_LEN {
        return Err(Refusal::Malformed);
    }
    if !mac_ok(own_mac1_key, bytes) {
        return Err(Refusal::BadMac);
    }
    let (Some(sender), Some(receiver)) = (u32_at(bytes, HEADER), u32_at(bytes, HEADER + 4)) else {
        return Err(Refusal::Malformed);
    };
    Ok((sender, receiver))
}

/// Reads a response into the pending handshake it answers. On failure the handshake stays
/// pending, so a forged response cannot cancel it.
pub(super) fn read_response(pending: &mut Pending, bytes: &[u8]) -> Result<(), Refusal> {
    let Some(noise) = bytes.get(HEADER + 8..bytes.len().saturating_sub(MAC_LEN)) else {
        return Err(Refusal::Malformed);
    };
    let mut payload = [0u8; 16];
    if pending.hs.read_message(noise, &mut payload).is_err() {
        return Err(Refusal::Unauthenticated);
    }
    Ok(())
}
