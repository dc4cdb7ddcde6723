//! A member flooding a group is limited like a stranger: each author's new messages are
//! taken 200 at once, then 20 a second, whether they come as new messages or as a page
//! nobody asked for; a page asked for is taken whole (that is catch-up), and an invitation
//! carries membership only.

use std::time::{Duration, Instant};

use qqchat_proto::group::{
    AUTHOR_BURST, AUTHOR_RATE, Body, Envelope, Group, GroupMsg, Member, Sync, encode_all,
};
use qqchat_proto::secure::Keypair;

fn keys() -> Keypair {
    Keypair::generate().expect("a key pair")
}

/// Alice's copy of a group with Bob, and Bob's copy holding `n` messages of his.
fn group_with_flood(n: usize) -> (Keypair, Keypair, Group, Vec<GroupMsg>) {
    let (alice, bob) = (keys(), keys());
    let member = Member {
        key: bob.public,
        name: "bob".into(),
    };
    let (group, create) =
        Group::create(&alice, "g", [1; 16], vec![member], 0, rand::rng()).expect("a group");
    let mut bobs = Group::new(group.id());
    bobs.insert(create, None).expect("bob holds the start");
    let flood = (0..n)
        .map(|i| {
            bobs.compose(&bob, Body::Text(format!("spam {i}")), 0, rand::rng())
                .expect("bob writes")
        })
        .collect();
    (alice, bob, group, flood)
}

fn everyone(_: &qqchat_proto::PublicKey) -> bool {
    true
}

#[test]
fn new_messages_from_one_author_are_taken_in_a_burst_then_at_a_rate() {
    let (alice, bob, mut group, flood) = group_with_flood(AUTHOR_BURST + 100);
    let mut sync = Sync::default();
    let t0 = Instant::now();
    let mut held = 0;
    let mut limited = 0;
    for msg in &flood {
        let live = Envelope::Live {
            group: group.id(),
            msgs: encode_all([msg]),
            reached: Vec::new(),
        };
        let r = group
            .receive(&mut sync, &alice.public, bob.public, live, t0, &everyone)
            .expect("taken or limited");
        held += r.new.len();
        limited += r.limited;
    }
    assert_eq!(held, AUTHOR_BURST);
    assert_eq!(limited, 100);
    // A second later, the rate's worth more (sent again: the flood's later messages).
    let later = t0 + Duration::from_secs(1);
    let mut again = 0;
    for msg in &flood[AUTHOR_BURST..] {
        let live = Envelope::Live {
            group: group.id(),
            msgs: encode_all([msg]),
            reached: Vec::new(),
        };
        let r = group
            .receive(&mut sync, &alice.public, bob.public, live, later, &everyone)
            .expect("taken or limited");
        again += r.new.len();
    }
    assert_eq!(again, AUTHOR_RATE);
}

#[test]
fn a_page_nobody_asked_for_is_limited_and_one_asked_for_is_taken_whole() {
    let (alice, bob, mut group, flood) = group_with_flood(AUTHOR_BURST + 300);
    let mut sync = Sync::default();
    let t0 = Instant::now();
    let gid = group.id();
    let page = |msgs: &[GroupMsg]| Envelope::Page {
        group: gid,
        msgs: encode_all(msgs),
        more: false,
    };
    let unasked = page(&flood[..AUTHOR_BURST + 100]);
    let r = group
        .receive(&mut sync, &alice.public, bob.public, unasked, t0, &everyone)
        .expect("taken or limited");
    assert_eq!(
        r.new.len(),
        AUTHOR_BURST,
        "an unasked page counts as new messages"
    );
    assert_eq!(r.limited, 100);
    // Alice asks bob what she lacks; his page is catch-up, taken whole.
    sync.asked(bob.public);
    let asked = page(&flood);
    let r = group
        .receive(&mut sync, &alice.public, bob.public, asked, t0, &everyone)
        .expect("taken");
    assert_eq!(r.limited, 0);
    assert_eq!(group.len(), 1 + flood.len());
}

#[test]
fn an_invitation_carries_membership_and_nothing_else() {
    let (alice, bob, group, flood) = group_with_flood(3);
    let carol = keys();
    let mut carols = Group::new(group.id());
    let mut msgs = encode_all(&group.membership_messages());
    msgs.extend(encode_all(&flood));
    let invite = Envelope::Invite {
        group: group.id(),
        msgs,
    };
    let mut sync = Sync::default();
    carols
        .receive(
            &mut sync,
            &carol.public,
            alice.public,
            invite,
            Instant::now(),
            &everyone,
        )
        .expect("taken");
    assert_eq!(carols.len(), 1, "the start of the group, not bob's texts");
    let _ = bob;
}
