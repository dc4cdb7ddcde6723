//! Signatures made with the identity key itself (XEdDSA, as Signal does): the X25519 key
//! that Noise uses also signs, so a message can carry proof of who wrote it to people who
//! got it from someone else, and every key already in a contacts file can check it. No new
//! key, and no migration of existing identity files.

use xeddsa::xed25519::{PrivateKey, PublicKey as XPublicKey};
use xeddsa::{Sign, Verify};

use super::Keypair;
use crate::PublicKey;

/// The length of a signature in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// An XEdDSA signature (an Ed25519 signature by the key's Edwards form).
pub type Signature = [u8; SIGNATURE_LEN];

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature does not match the text and its author")]
    Invalid,
    #[error("the author's key cannot be used to check a signature")]
    UnusableKey,
}

/// Signs `message` as the owner of `keys`. `rng` gives the signature's random nonce (a
/// repeated nonce would not leak the key with XEdDSA, but a fresh one is what it is defined
/// with); the caller owns it, as this crate owns no source of randomness.
pub fn sign(keys: &Keypair, message: &[u8], rng: impl rand::CryptoRng) -> Signature {
    PrivateKey(keys.private).sign(message, rng)
}

/// Checks that `author` signed exactly `message`.
pub fn verify(
    author: &PublicKey,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    XPublicKey(*author.as_bytes())
        .verify(message, signature)
        .map_err(|err| match err {
            xeddsa::Error::UnusablePublicKey => SignatureError::UnusableKey,
            _ => SignatureError::Invalid,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keypair {
        Keypair::generate().expect("a key pair")
    }

    #[test]
    fn a_signature_checks_out_for_its_author_and_text_only() {
        let (alice, mallory) = (keys(), keys());
        let text = "meet at 6".as_bytes();
        let signature = sign(&alice, text, rand::rng());
        assert_eq!(verify(&alice.public, text, &signature), Ok(()));
        // Another text, another author, or a changed byte of the signature: refused.
        assert_eq!(
            verify(&alice.public, b"meet at 7", &signature),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&mallory.public, text, &signature),
            Err(SignatureError::Invalid)
        );
        let mut forged = signature;
        forged[10] ^= 1;
        assert_eq!(
            verify(&alice.public, text, &forged),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn a_key_already_in_use_signs_without_any_change() {
        // A key pair as identity files hold it: the private bytes, the public one derived
        // by X25519. Its owner signs, and the public key friends already have checks it.
        let stored = keys();
        let reloaded = Keypair {
            private: stored.private,
            public: stored.public,
        };
        let signature = sign(&reloaded, b"hello", rand::rng());
        assert_eq!(verify(&stored.public, b"hello", &signature), Ok(()));
    }

    #[test]
    fn the_all_zero_key_is_refused() {
        let signature = sign(&keys(), b"x", rand::rng());
        assert!(verify(&PublicKey::from_bytes([0; 32]), b"x", &signature).is_err());
    }
}
