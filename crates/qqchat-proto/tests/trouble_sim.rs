//! Keys that one side has and the other lacks or has wrong: each side hears why at the first
//! refused or unanswered handshake, and again at most once a minute, however many come.

use std::time::Duration;

use qqchat_proto::secure::{Keypair, SecureConfig};
use qqchat_proto::sim::{Link, Pair};
use qqchat_proto::{Config, Event, Node, PeerId, PublicKey, Trouble};

fn keys() -> Keypair {
    Keypair::generate().expect("a key pair")
}

fn node(epoch: u64, identity: Option<&Keypair>) -> Node {
    let mut config = Config::new(epoch);
    config.identity = identity.cloned();
    config.secure = SecureConfig::default();
    Node::new(config)
}

/// Node `i` has the other as a keyed contact with `key`, and watches it.
fn keyed_contact(p: &mut Pair, i: usize, key: PublicKey) {
    let (now, path) = (p.now, p.addrs[1 - i]);
    p.nodes[i].add_peer(now, PeerId::Key(key), path);
    p.ids[1 - i] = PeerId::Key(key);
    p.nodes[i].watch(now, PeerId::Key(key));
}

/// Node `i` has the other as a contact without a key, and watches it.
fn unkeyed_contact(p: &mut Pair, i: usize) {
    let (now, path) = (p.now, p.addrs[1 - i]);
    p.nodes[i].add_peer(now, PeerId::addr(path), path);
    p.nodes[i].watch(now, PeerId::addr(path));
}

fn troubles(p: &Pair, i: usize) -> Vec<(PeerId, Trouble)> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Trouble { peer, trouble } => Some((*peer, *trouble)),
            _ => None,
        })
        .collect()
}

fn refusals(p: &Pair, i: usize) -> Vec<(PublicKey, Option<PublicKey>)> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::KeyRefused {
                offered, expected, ..
            } => Some((*offered, *expected)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_changed_key_is_reported_at_once_by_the_refusing_side_and_then_once_a_minute() {
    let (ka, kb, old) = (keys(), keys(), keys());
    let mut p = Pair::new(node(1, Some(&ka)), node(2, Some(&kb)), Link::perfect(), 1);
    // Alice made a new key; bob still has her old one.
    keyed_contact(&mut p, 0, kb.public);
    keyed_contact(&mut p, 1, old.public);
    p.advance(Duration::from_millis(50));
    assert_eq!(
        refusals(&p, 1),
        [(ka.public, Some(old.public))],
        "the first handshake"
    );
    // Alice retries every second: bob does not repeat himself...
    p.advance(Duration::from_secs(50));
    assert_eq!(refusals(&p, 1).len(), 1);
    // ...until a minute has passed.
    p.advance(Duration::from_secs(15));
    assert_eq!(refusals(&p, 1).len(), 2);
    // Alice's handshakes go unanswered: she hears that, once, after a few seconds. So do
    // bob's, made for her old key, which she cannot even read.
    let (alice, bob) = (PeerId::Key(old.public), PeerId::Key(kb.public));
    assert_eq!(troubles(&p, 0), [(bob, Trouble::NoHandshakeAnswer)]);
    assert_eq!(troubles(&p, 1), [(alice, Trouble::NoHandshakeAnswer)]);
}

#[test]
fn an_unanswered_handshake_is_reported_after_a_few_retries_and_not_again() {
    let (ka, kb) = (keys(), keys());
    let mut p = Pair::new(node(1, Some(&ka)), node(2, Some(&kb)), Link::perfect(), 2);
    // Alice has bob's key; bob has no contact for alice at all.
    keyed_contact(&mut p, 0, kb.public);
    p.advance(Duration::from_millis(1500));
    assert!(troubles(&p, 0).is_empty(), "one lost try is no news");
    assert_eq!(refusals(&p, 1), [(ka.public, None)]);
    p.advance(Duration::from_secs(2));
    let bob = PeerId::Key(kb.public);
    assert_eq!(troubles(&p, 0), [(bob, Trouble::NoHandshakeAnswer)]);
    // Probes and retries go on for minutes: said once is enough until something changes.
    p.advance(Duration::from_secs(300));
    assert_eq!(troubles(&p, 0).len(), 1);
    assert!(refusals(&p, 1).len() <= 6, "{}", refusals(&p, 1).len());
}

#[test]
fn healthy_keyed_contacts_report_no_trouble() {
    let (ka, kb) = (keys(), keys());
    let mut link = Link::hostile();
    link.loss = 0.1;
    let mut p = Pair::new(node(1, Some(&ka)), node(2, Some(&kb)), link, 3);
    keyed_contact(&mut p, 0, kb.public);
    keyed_contact(&mut p, 1, ka.public);
    p.advance(Duration::from_secs(600));
    assert!(troubles(&p, 0).is_empty() && troubles(&p, 1).is_empty());
    assert!(refusals(&p, 0).is_empty() && refusals(&p, 1).is_empty());
}

#[test]
fn keyed_on_one_side_and_unkeyed_on_the_other_is_reported_on_both() {
    for bob_has_identity in [true, false] {
        let (ka, kb) = (keys(), keys());
        let bob_keys = bob_has_identity.then_some(&kb);
        let mut p = Pair::new(node(1, Some(&ka)), node(2, bob_keys), Link::perfect(), 4);
        // Alice has bob's key; bob has alice as a contact without one.
        keyed_contact(&mut p, 0, kb.public);
        unkeyed_contact(&mut p, 1);
        p.advance(Duration::from_millis(100));
        let (alice, bob) = (PeerId::addr(p.addrs[0]), PeerId::Key(kb.public));
        assert_eq!(troubles(&p, 1), [(alice, Trouble::SendsEncrypted)]);
        assert!(refusals(&p, 1).is_empty(), "said as the contact's trouble");
        assert_eq!(troubles(&p, 0), [(bob, Trouble::SendsPlain)]);
        // A flood of either is one line a minute.
        p.advance(Duration::from_secs(59));
        let count =
            |p: &Pair, i: usize, t: Trouble| troubles(p, i).iter().filter(|(_, x)| *x == t).count();
        assert_eq!(count(&p, 1, Trouble::SendsEncrypted), 1);
        assert_eq!(count(&p, 0, Trouble::SendsPlain), 1);
        p.advance(Duration::from_secs(31));
        assert_eq!(count(&p, 1, Trouble::SendsEncrypted), 2);
        assert_eq!(count(&p, 0, Trouble::SendsPlain), 2);
    }
}

#[test]
fn junk_from_a_keyed_contacts_address_reports_nothing() {
    let (ka, kb) = (keys(), keys());
    let mut p = Pair::new(node(1, Some(&ka)), node(2, Some(&kb)), Link::perfect(), 5);
    keyed_contact(&mut p, 0, kb.public);
    keyed_contact(&mut p, 1, ka.public);
    p.advance(Duration::from_millis(100));
    let (now, a) = (p.now, p.addrs[0]);
    p.nodes[1].handle_datagram(now, a, &[0xFF, 0x00, 0xC3]);
    p.advance(Duration::from_millis(100));
    assert!(troubles(&p, 1).is_empty());
}
