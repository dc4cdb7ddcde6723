//! The record of where we can be reached, as published on the BitTorrent Mainline DHT (a
//! BEP 44 mutable item), so that a friend who knows only our key finds our addresses.
//!
//! This module only builds and checks the item; a DHT client elsewhere stores and fetches it.
//!
//! # The key the item is signed with
//!
//! BEP 44 wants an Ed25519 key, and the friend must compute where to look from our X25519
//! public key alone. Three ways were weighed:
//!
//! - A second Ed25519 key, derived from our secret: the friend cannot compute its public half,
//!   so it would need a salt naming us, and anyone who knows our public key could derive any
//!   key pair from it and overwrite the record. Rejected.
//! - The Edwards form of the X25519 key itself, as XEdDSA signs with it: the friend computes
//!   it, but every DHT node that stores the item sees that key in the clear, maps it back to
//!   our X25519 key, and can then derive whatever key the addresses are sealed with.
//!   Rejected: the record would be public to the nodes and link us across the network.
//! - That Edwards key *blinded*, as Tor's onion services do: key `h·A` for a public factor `h`
//!   hashed from our X25519 key, secret `h·a`. The friend computes `h·A` from our public key;
//!   a node that sees `h·A` cannot tell whose it is without already knowing the key, and
//!   cannot read what is sealed with a key derived from it. Chosen.
//!
//! The signature is a plain Ed25519 signature by `h·A`, so every DHT node checks it as any
//! other BEP 44 item; no salt is used (the target is the SHA-1 of `h·A`), which also avoids
//! a salt that would mark the item as qqchat's.
//!
//! # The value
//!
//! The candidates, encoded with postcard, sealed with ChaCha20-Poly1305 under a key hashed
//! from our X25519 public key, with the sequence number and the DHT key as associated data.
//! The nonce is a keyed hash of the sequence number and the text, stored in front: the same
//! record always seals to the same bytes and two different ones never share a nonce, with no
//! source of randomness in this crate.

use std::net::SocketAddr;

use blake2::{Blake2b512, Blake2s256, Digest};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::Sha512;
use xeddsa::CalculateKeyPair;
use xeddsa::xed25519::PrivateKey;

use crate::PublicKey;
use crate::secure::Keypair;

#[cfg(test)]
mod tests;

/// The longest value BEP 44 lets a node store.
pub const MAX_VALUE: usize = 1000;
/// The most candidates a record holds: sixteen IPv6 ones still fit well under [`MAX_VALUE`].
pub const MAX_CANDIDATES: usize = 16;

/// Hashed with our X25519 key into the blinding factor; a new version gives a new DHT key.
const BLIND_CONTEXT: &[u8] = b"qqchat dht blinding v1\0";
/// Hashed with our X25519 key into the key that seals the candidates.
const SEAL_CONTEXT: &[u8] = b"qqchat dht seal v1\0";
/// Hashed with the seal key, the sequence number and the text into the nonce.
const NONCE_CONTEXT: &[u8] = b"qqchat dht nonce v1\0";
/// Hashed with our secret into the part of Ed25519's secret that makes signatures' nonces.
const PREFIX_CONTEXT: &[u8] = b"qqchat dht signing nonce v1\0";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// How an address was learnt, which tells a friend what to try first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CandidateKind {
    /// An address on our own network: reachable by friends on the same LAN.
    Lan,
    /// Our address as the Internet sees it (from STUN or a friend).
    Public,
    /// An address a TURN relay holds for us.
    Relay,
}

/// One address a friend may reach us at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Candidate {
    pub addr: SocketAddr,
    pub kind: CandidateKind,
}

/// What is published: our candidates, and a sequence number so that a newer record replaces
/// an older one on the DHT nodes and at the friend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: i64,
    pub candidates: Vec<Candidate>,
}

/// A BEP 44 mutable item, field for field what a put sends and a get returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The Ed25519 key the item is signed with (`k`).
    pub key: [u8; 32],
    /// Always `None` for our records; kept so an item from the DHT is checked whole.
    pub salt: Option<Vec<u8>>,
    /// The sealed candidates (`v`).
    pub value: Vec<u8>,
    pub seq: i64,
    /// The Ed25519 signature over the bencoded salt, seq and value (`sig`).
    pub signature: [u8; 64],
}

/// Why a record was not built or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DhtRecordError {
    #[error("a record holds at most {MAX_CANDIDATES} addresses, not {0}")]
    TooManyCandidates(usize),
    #[error("the record is {0} bytes, more than the {MAX_VALUE} a DHT node stores")]
    TooLarge(usize),
    #[error("the key cannot be used to sign or check a record")]
    UnusableKey,
    #[error("the record was not published under this friend's key")]
    WrongKey,
    #[error("the record's signature does not match its contents")]
    BadSignature,
    #[error("the record cannot be unsealed with this friend's key")]
    Undecryptable,
    #[error("the record's contents cannot be read")]
    Undecodable,
}

/// The Ed25519 key a friend's records are signed with, computed from their X25519 key alone.
pub fn dht_key(friend: &PublicKey) -> Result<[u8; 32], DhtRecordError> {
    let point = edwards(friend)? * blinding(friend);
    Ok(point.compress().to_bytes())
}

/// The BEP 44 target to look a friend's record up by: the SHA-1 of their DHT key (no salt).
pub fn lookup_target(friend: &PublicKey) -> Result<[u8; 20], DhtRecordError> {
    Ok(Sha1::digest(dht_key(friend)?).into())
}

/// Whether a record with sequence number `got` should replace the one seen last, if any.
pub fn newer(seen: Option<i64>, got: i64) -> bool {
    seen.is_none_or(|seen| got > seen)
}

/// Seals and signs `record` as the owner of `keys`: the item to put on the DHT.
pub fn publish_item(keys: &Keypair, record: &Record) -> Result<Item, DhtRecordError> {
    if record.candidates.len() > MAX_CANDIDATES {
        return Err(DhtRecordError::TooManyCandidates(record.candidates.len()));
    }
    let signer = Signer::new(keys)?;
    let text = postcard::to_stdvec(&record.candidates).map_err(|_| DhtRecordError::Undecodable)?;
    let value = seal(&keys.public, &signer.key, record.seq, &text)?;
    if value.len() > MAX_VALUE {
        return Err(DhtRecordError::TooLarge(value.len()));
    }
    Ok(signer.sign(record.seq, value))
}

/// Checks that `item` was published by `friend`, and reads their record from it.
pub fn read_item(friend: &PublicKey, item: &Item) -> Result<Record, DhtRecordError> {
    let key = dht_key(friend)?;
    if item.key != key || item.salt.is_some() {
        return Err(DhtRecordError::WrongKey);
    }
    if item.value.len() > MAX_VALUE {
        return Err(DhtRecordError::TooLarge(item.value.len()));
    }
    let verifying = VerifyingKey::from_bytes(&key).map_err(|_| DhtRecordError::UnusableKey)?;
    let signature = Signature::from_bytes(&item.signature);
    verifying
        .verify_strict(&signable(item.seq, &item.value), &signature)
        .map_err(|_| DhtRecordError::BadSignature)?;
    let text = unseal(friend, &key, item.seq, &item.value)?;
    let candidates: Vec<Candidate> =
        postcard::from_bytes(&text).map_err(|_| DhtRecordError::Undecodable)?;
    if candidates.len() > MAX_CANDIDATES {
        return Err(DhtRecordError::TooManyCandidates(candidates.len()));
    }
    Ok(Record {
        seq: item.seq,
        candidates,
    })
}

/// The blinded signing key: `h·a` for the XEdDSA secret `a` of our X25519 key.
struct Signer {
    secret: ExpandedSecretKey,
    verifying: VerifyingKey,
    key: [u8; 32],
}

impl Signer {
    fn new(keys: &Keypair) -> Result<Signer, DhtRecordError> {
        // XEdDSA's key pair: the Edwards form of our key with sign bit 0, the one a friend
        // computes from the X25519 key, and the secret scalar that goes with it.
        let (scalar, _) = PrivateKey(keys.private).calculate_key_pair(0);
        let scalar = Scalar::from_bytes_mod_order(scalar) * blinding(&keys.public);
        let prefix = Blake2s256::new()
            .chain_update(PREFIX_CONTEXT)
            .chain_update(keys.private)
            .finalize()
            .into();
        let secret = ExpandedSecretKey {
            scalar,
            hash_prefix: prefix,
        };
        let verifying = VerifyingKey::from(&secret);
        let key = dht_key(&keys.public)?;
        // The two ways to the public key agree unless the stored key pair is inconsistent.
        if verifying.to_bytes() != key {
            return Err(DhtRecordError::UnusableKey);
        }
        Ok(Signer {
            secret,
            verifying,
            key,
        })
    }

    fn sign(&self, seq: i64, value: Vec<u8>) -> Item {
        let signature = raw_sign::<Sha512>(&self.secret, &signable(seq, &value), &self.verifying);
        Item {
            key: self.key,
            salt: None,
            value,
            seq,
            signature: signature.to_bytes(),
        }
    }
}

/// The Edwards point of an X25519 key with sign bit 0, refusing keys of small order.
fn edwards(key: &PublicKey) -> Result<EdwardsPoint, DhtRecordError> {
    let point = MontgomeryPoint(*key.as_bytes())
        .to_edwards(0)
        .ok_or(DhtRecordError::UnusableKey)?;
    if point.is_small_order() {
        return Err(DhtRecordError::UnusableKey);
    }
    Ok(point)
}

/// The public blinding factor `h` for an X25519 key.
fn blinding(key: &PublicKey) -> Scalar {
    let hash = Blake2b512::new()
        .chain_update(BLIND_CONTEXT)
        .chain_update(key.as_bytes())
        .finalize();
    Scalar::from_bytes_mod_order_wide(&hash.into())
}

/// What BEP 44 signs, with no salt: the bencoded `seq` and `v` keys of the item.
fn signable(seq: i64, value: &[u8]) -> Vec<u8> {
    let mut bytes = format!("3:seqi{seq}e1:v{}:", value.len()).into_bytes();
    bytes.extend_from_slice(value);
    bytes
}

fn seal_key(owner: &PublicKey) -> Key {
    Blake2s256::new()
        .chain_update(SEAL_CONTEXT)
        .chain_update(owner.as_bytes())
        .finalize()
}

fn associated(dht_key: &[u8; 32], seq: i64) -> Vec<u8> {
    [&dht_key[..], &seq.to_be_bytes()].concat()
}

/// The nonce, then the sealed text.
fn seal(
    owner: &PublicKey,
    dht_key: &[u8; 32],
    seq: i64,
    text: &[u8],
) -> Result<Vec<u8>, DhtRecordError> {
    let key = seal_key(owner);
    let digest = Blake2s256::new()
        .chain_update(NONCE_CONTEXT)
        .chain_update(key)
        .chain_update(seq.to_be_bytes())
        .chain_update(text)
        .finalize();
    let nonce = Nonce::from_slice(&digest[..NONCE_LEN]);
    let sealed = ChaCha20Poly1305::new(&key)
        .encrypt(
            nonce,
            Payload {
                msg: text,
                aad: &associated(dht_key, seq),
            },
        )
        .map_err(|_| DhtRecordError::TooLarge(text.len()))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

fn unseal(
    owner: &PublicKey,
    dht_key: &[u8; 32],
    seq: i64,
    value: &[u8],
) -> Result<Vec<u8>, DhtRecordError> {
    if value.len() < NONCE_LEN + TAG_LEN {
        return Err(DhtRecordError::Undecryptable);
    }
    let (nonce, sealed) = value.split_at(NONCE_LEN);
    ChaCha20Poly1305::new(&seal_key(owner))
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &associated(dht_key, seq),
            },
        )
        .map_err(|_| DhtRecordError::Undecryptable)
}
