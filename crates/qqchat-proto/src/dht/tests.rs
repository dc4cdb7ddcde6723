use std::net::{Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::*;

fn keys() -> Keypair {
    Keypair::generate().expect("a key pair")
}

fn candidate(addr: &str, kind: CandidateKind) -> Candidate {
    Candidate {
        addr: addr.parse().expect("an address"),
        kind,
    }
}

fn record(seq: i64) -> Record {
    Record {
        seq,
        candidates: vec![
            candidate("192.168.1.20:4400", CandidateKind::Lan),
            candidate("203.0.113.7:61000", CandidateKind::Public),
            candidate("[2001:db8::1]:3478", CandidateKind::Relay),
        ],
    }
}

/// The most an encoded record can weigh: every candidate IPv6 with the largest port.
fn largest() -> Record {
    let addr = SocketAddr::new(Ipv6Addr::from([0xff; 16]).into(), u16::MAX);
    Record {
        seq: i64::MIN,
        candidates: vec![
            Candidate {
                addr,
                kind: CandidateKind::Relay,
            };
            MAX_CANDIDATES
        ],
    }
}

#[test]
fn a_record_reads_back_as_published() {
    let alice = keys();
    let item = publish_item(&alice, &record(7)).expect("publishes");
    assert_eq!(item.seq, 7);
    assert_eq!(item.salt, None);
    assert_eq!(item.key, dht_key(&alice.public).expect("a key"));
    assert_eq!(read_item(&alice.public, &item), Ok(record(7)));
    // The same record always seals to the same bytes; another sequence number does not.
    assert_eq!(publish_item(&alice, &record(7)), Ok(item.clone()));
    let next = publish_item(&alice, &record(8)).expect("publishes");
    assert_ne!(next.value, item.value);
}

#[test]
fn the_signature_is_plain_ed25519_by_the_published_key() {
    // What any DHT node checks: BEP 44's signable bytes, the item's key, nothing of ours.
    let item = publish_item(&keys(), &record(1)).expect("publishes");
    let key = VerifyingKey::from_bytes(&item.key).expect("a key");
    let mut signed = format!("3:seqi1e1:v{}:", item.value.len()).into_bytes();
    signed.extend_from_slice(&item.value);
    assert!(
        key.verify_strict(&signed, &Signature::from_bytes(&item.signature))
            .is_ok()
    );
}

#[test]
fn the_dht_sees_neither_the_identity_key_nor_the_addresses() {
    let alice = keys();
    let item = publish_item(&alice, &record(1)).expect("publishes");
    let plain = MontgomeryPoint(*alice.public.as_bytes())
        .to_edwards(0)
        .expect("a point")
        .compress()
        .to_bytes();
    assert_ne!(item.key, plain);
    assert_ne!(item.key, *alice.public.as_bytes());
    let text = postcard::to_stdvec(&record(1).candidates).expect("encodes");
    assert!(!item.value.windows(4).any(|w| w == [203, 0, 113, 7]));
    assert!(item.value.len() >= text.len() + NONCE_LEN + TAG_LEN);
}

#[test]
fn the_lookup_target_is_the_sha1_of_the_key_alone() {
    let alice = keys();
    let item = publish_item(&alice, &record(1)).expect("publishes");
    let target: [u8; 20] = Sha1::digest(item.key).into();
    assert_eq!(lookup_target(&alice.public), Ok(target));
    assert_ne!(lookup_target(&keys().public), Ok(target));
}

#[test]
fn the_largest_record_fits_and_one_more_candidate_is_refused() {
    let alice = keys();
    let item = publish_item(&alice, &largest()).expect("the largest record fits");
    assert!(item.value.len() <= MAX_VALUE);
    let mut over = largest();
    over.candidates.push(over.candidates[0]);
    assert_eq!(
        publish_item(&alice, &over),
        Err(DhtRecordError::TooManyCandidates(MAX_CANDIDATES + 1))
    );
}

#[test]
fn a_record_by_another_key_is_refused() {
    let (alice, mallory) = (keys(), keys());
    let forged = publish_item(&mallory, &record(9)).expect("publishes");
    assert_eq!(
        read_item(&alice.public, &forged),
        Err(DhtRecordError::WrongKey)
    );
    // Mallory's signature and value under Alice's key: the signature does not match.
    let mut swapped = forged;
    swapped.key = dht_key(&alice.public).expect("a key");
    assert_eq!(
        read_item(&alice.public, &swapped),
        Err(DhtRecordError::BadSignature)
    );
}

#[test]
fn a_changed_item_is_refused() {
    let alice = keys();
    let item = publish_item(&alice, &record(3)).expect("publishes");
    for at in [0, NONCE_LEN, item.value.len() - 1] {
        let mut tampered = item.clone();
        tampered.value[at] ^= 1;
        assert_eq!(
            read_item(&alice.public, &tampered),
            Err(DhtRecordError::BadSignature)
        );
    }
    let mut replayed = item.clone();
    replayed.seq = 4;
    assert_eq!(
        read_item(&alice.public, &replayed),
        Err(DhtRecordError::BadSignature)
    );
    let mut salted = item.clone();
    salted.salt = Some(b"x".to_vec());
    assert_eq!(
        read_item(&alice.public, &salted),
        Err(DhtRecordError::WrongKey)
    );
    let mut signature = item;
    signature.signature[40] ^= 1;
    assert_eq!(
        read_item(&alice.public, &signature),
        Err(DhtRecordError::BadSignature)
    );
}

#[test]
fn a_validly_signed_value_that_does_not_unseal_is_refused() {
    // Signed with the right key but sealed wrongly, as a buggy or future version might.
    let alice = keys();
    let signer = Signer::new(&alice).expect("a signer");
    let mut sealed = seal(&alice.public, &signer.key, 5, b"\x01").expect("seals");
    let item = signer.sign(6, sealed.clone());
    assert_eq!(
        read_item(&alice.public, &item),
        Err(DhtRecordError::Undecryptable)
    );
    sealed.truncate(NONCE_LEN);
    let short = signer.sign(5, sealed);
    assert_eq!(
        read_item(&alice.public, &short),
        Err(DhtRecordError::Undecryptable)
    );
}

#[test]
fn an_older_sequence_number_is_not_newer() {
    assert!(newer(None, i64::MIN));
    assert!(newer(Some(4), 5));
    assert!(!newer(Some(5), 5));
    assert!(!newer(Some(5), 4));
}

#[test]
fn an_unusable_key_is_refused() {
    let zero = PublicKey::from_bytes([0; 32]);
    assert_eq!(dht_key(&zero), Err(DhtRecordError::UnusableKey));
    assert_eq!(lookup_target(&zero), Err(DhtRecordError::UnusableKey));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_items_are_refused_without_panicking(
        value in proptest::collection::vec(any::<u8>(), 0..1100),
        seq in any::<i64>(),
        signature in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let alice = keys();
        let mut item = Item {
            key: dht_key(&alice.public).expect("a key"),
            salt: None,
            value,
            seq,
            signature: [0; 64],
        };
        item.signature.copy_from_slice(&signature);
        prop_assert!(read_item(&alice.public, &item).is_err());
    }

    #[test]
    fn random_sealed_texts_signed_by_the_owner_never_panic(
        text in proptest::collection::vec(any::<u8>(), 0..900),
        seq in any::<i64>(),
    ) {
        // Past the signature and the seal: only the decoder stands between them and a panic.
        let alice = keys();
        let signer = Signer::new(&alice).expect("a signer");
        let sealed = seal(&alice.public, &signer.key, seq, &text).expect("seals");
        let item = signer.sign(seq, sealed);
        if let Ok(read) = read_item(&alice.public, &item) {
            prop_assert!(read.candidates.len() <= MAX_CANDIDATES);
            prop_assert_eq!(read.seq, seq);
        }
    }
}
