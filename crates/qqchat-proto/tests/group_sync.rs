//! Catch-up between two members, envelopes passed by hand in the order they were sent.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use qqchat_proto::PublicKey;
use qqchat_proto::group::{Body, Envelope, Group, Member, Outgoing, Sync};
use qqchat_proto::secure::Keypair;

struct Side {
    keys: Keypair,
    group: Group,
    sync: Sync,
}

impl Side {
    fn receive(&mut self, from: PublicKey, envelope: Envelope, now: Instant) -> Vec<Outgoing> {
        let me = self.keys.public;
        self.group
            .receive(&mut self.sync, &me, from, envelope, now, &|_| true)
            .expect("an envelope from a member")
            .send
    }
}

/// When two members meet, both say what they hold at once; the one behind must still get
/// each page once, not once per hello.
#[test]
fn meeting_members_catch_up_with_each_page_once() {
    let (ka, kc) = (
        Keypair::generate().expect("a key"),
        Keypair::generate().expect("a key"),
    );
    let (mut group, create) = Group::create(
        &ka,
        "g",
        [7; 16],
        vec![Member {
            key: kc.public,
            name: "c".into(),
        }],
        1,
        rand::rng(),
    )
    .expect("a group");
    // Large texts, so a page holds two of them (signing thousands of small ones is slow
    // in a debug build).
    let n = 5;
    for i in 0..n {
        let text = format!("text {i} ") + &"x".repeat(200_000);
        group
            .compose(&ka, Body::Text(text), 2 + i, rand::rng())
            .expect("a message");
    }
    let mut behind = Group::new(group.id());
    behind.insert(create, None).expect("the creation");
    let mut a = Side {
        keys: ka,
        group,
        sync: Sync::default(),
    };
    let mut c = Side {
        keys: kc,
        group: behind,
        sync: Sync::default(),
    };
    let (pa, pc) = (a.keys.public, c.keys.public);
    // Each side's hello, sent as it sees the other come online.
    let mut to_a: VecDeque<Envelope> = VecDeque::from([c.group.hello(&mut c.sync, pa).envelope]);
    let mut to_c: VecDeque<Envelope> = VecDeque::from([a.group.hello(&mut a.sync, pc).envelope]);
    let mut now = Instant::now();
    let mut pages = 0;
    for _ in 0..1000 {
        if to_a.is_empty() && to_c.is_empty() {
            break;
        }
        now += Duration::from_millis(10);
        if let Some(e) = to_c.pop_front() {
            for o in c.receive(pa, e, now) {
                to_a.push_back(o.envelope);
            }
        }
        if let Some(e) = to_a.pop_front() {
            for o in a.receive(pc, e, now) {
                if matches!(o.envelope, Envelope::Page { .. }) {
                    pages += 1;
                }
                to_c.push_back(o.envelope);
            }
        }
    }
    assert_eq!(
        c.group.len(),
        a.group.len(),
        "the member behind holds everything"
    );
    assert_eq!(pages, 3, "pages served: {pages}, 3 needed");
}
