//! Group messages against forgery, membership rules, causal display, catch-up pages and the
//! envelope's text form.

use std::time::{Duration, Instant};

use super::*;
use crate::PublicKey;
use crate::secure::Keypair;

fn keys() -> Keypair {
    Keypair::generate().expect("a key pair")
}

fn member(k: &Keypair, name: &str) -> Member {
    Member {
        key: k.public,
        name: name.to_owned(),
    }
}

fn text(s: &str) -> Body {
    Body::Text(s.to_owned())
}

fn everyone(_: &PublicKey) -> bool {
    true
}

/// A key that only stands in a member list: nobody signs with it.
fn stand_in(i: usize) -> PublicKey {
    let mut b = [0; 32];
    b[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    PublicKey::from_bytes(b)
}

/// A group of `names.len()` members, the first its creator, each with its own copy holding
/// the Create.
struct Fixture {
    keys: Vec<Keypair>,
    groups: Vec<Group>,
    syncs: Vec<Sync>,
    create: GroupMsg,
    t0: Instant,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        let keys: Vec<Keypair> = (0..n).map(|_| keys()).collect();
        let others = keys[1..]
            .iter()
            .enumerate()
            .map(|(i, k)| member(k, &format!("m{}", i + 1)))
            .collect();
        let (creator, create) =
            Group::create(&keys[0], "friends", [7; 16], others, 1000, rand::rng())
                .expect("created");
        let mut groups = vec![creator];
        for _ in 1..n {
            let mut g = Group::new(create.content.group);
            g.insert(create.clone(), None).expect("the create");
            groups.push(g);
        }
        Fixture {
            syncs: (0..n).map(|_| Sync::default()).collect(),
            keys,
            groups,
            create,
            t0: Instant::now(),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn key(&self, i: usize) -> PublicKey {
        self.keys[i].public
    }

    fn id(&self) -> GroupId {
        self.create.content.group
    }

    fn post(&mut self, i: usize, body: Body) -> (GroupMsg, Vec<Outgoing>) {
        self.groups[i]
            .post(&self.keys[i], body, 2000, rand::rng(), &everyone)
            .expect("posted")
    }

    fn receive(
        &mut self,
        to: usize,
        from: usize,
        envelope: Envelope,
        now: Instant,
    ) -> Result<Received, GroupError> {
        let me = self.keys[to].public;
        let from = self.keys[from].public;
        self.groups[to].receive(&mut self.syncs[to], &me, from, envelope, now, &everyone)
    }

    /// The message `author` would write next in `group`, signed by `signer`: for forgeries.
    fn craft(&self, signer: &Keypair, author: PublicKey, seq: u64, body: Body) -> GroupMsg {
        let content = Content {
            group: self.id(),
            author,
            seq,
            lamport: 2,
            parents: vec![self.create.id()],
            sent_at_ms: 3000,
            body,
        };
        GroupMsg::sign(signer, content, rand::rng())
    }
}

fn live(group: GroupId, msgs: &[&GroupMsg]) -> Envelope {
    Envelope::Live {
        group,
        msgs: encode_all(msgs.iter().copied()),
        reached: Vec::new(),
    }
}

fn shown_ids(g: &Group) -> Vec<MsgRef> {
    g.shown().map(|m| m.id()).collect()
}

fn sent_to(send: &[Outgoing]) -> Vec<PublicKey> {
    let mut to: Vec<PublicKey> = send.iter().map(|o| o.to).collect();
    to.sort();
    to
}

#[test]
fn a_forwarded_message_with_another_text_is_refused() {
    let mut f = Fixture::new(3);
    let (msg, _) = f.post(0, text("meet at 6"));
    let mut bytes = msg.bytes().to_vec();
    let at = bytes
        .windows(9)
        .position(|w| w == b"meet at 6")
        .expect("the text in the bytes");
    bytes[at + 8] = b'9';
    assert_eq!(GroupMsg::decode(&bytes), Err(GroupError::BadSignature));
    // Forwarded by member 1 to member 2: refused, nothing held.
    let envelope = Envelope::Live {
        group: f.id(),
        msgs: vec![bytes.clone()],
        reached: Vec::new(),
    };
    let now = f.at(1);
    let got = f.receive(2, 1, envelope, now).expect("read");
    assert_eq!((got.rejected, got.new.len()), (1, 0));
    assert_eq!(f.groups[2].len(), 1);
    // The genuine one, forwarded behind the changed one in one page, is taken (and
    // reported, to be stored): one bad message costs only itself.
    let now = f.at(2);
    let page = Envelope::Page {
        group: f.id(),
        msgs: vec![bytes, msg.bytes().to_vec()],
        more: false,
    };
    let got = f.receive(2, 1, page, now).expect("taken");
    assert_eq!(got.rejected, 1);
    assert_eq!(got.new, vec![msg.clone()]);
    assert_eq!(f.groups[2].get(&msg.id()), Some(&msg));
}

#[test]
fn a_message_signed_by_someone_else_than_its_author_is_refused() {
    let f = Fixture::new(3);
    let mallory = keys();
    // Mallory signs, the message says member 1 wrote it.
    let forged = f.craft(&mallory, f.key(1), 1, text("I owe mallory 100"));
    assert_eq!(
        GroupMsg::decode(forged.bytes()),
        Err(GroupError::BadSignature)
    );
    // A member signs as another member.
    let forged = f.craft(&f.keys[2], f.key(1), 1, text("from 1, really"));
    assert_eq!(
        GroupMsg::decode(forged.bytes()),
        Err(GroupError::BadSignature)
    );
    let honest = f.craft(&f.keys[1], f.key(1), 1, text("from 1, really"));
    assert_eq!(
        GroupMsg::decode(honest.bytes()).map(|m| m.content),
        Ok(honest.content)
    );
}

#[test]
fn an_invitation_whose_add_is_signed_by_a_non_member_is_refused() {
    let mut f = Fixture::new(2);
    let (mallory, invitee) = (keys(), keys());
    let add = f.craft(
        &mallory,
        mallory.public,
        1,
        Body::Add(member(&invitee, "eve")),
    );
    let envelope = Envelope::Invite {
        group: f.id(),
        msgs: encode_all([&f.create, &add]),
    };
    let mut theirs = Group::new(f.id());
    let got = theirs.receive(
        &mut Sync::default(),
        &invitee.public,
        mallory.public,
        envelope,
        f.at(1),
        &everyone,
    );
    assert!(got.is_ok(), "{got:?}");
    assert!(!theirs.is_member(&invitee.public));
    assert!(!theirs.is_member(&mallory.public));
    assert_eq!(theirs.len(), 1, "only the create is held");
    // Nor does a member's copy take it, whoever forwards it.
    let now = f.at(1);
    assert_eq!(
        f.groups[0].insert(add.clone(), Some(now)),
        Err(GroupError::NotMember)
    );
    assert!(!f.groups[0].is_member(&invitee.public));
    // The same Add by a member does make them one.
    let (_, send) = f.post(1, Body::Add(member(&invitee, "eve")));
    assert_eq!(sent_to(&send), {
        let mut v = vec![f.key(0), invitee.public];
        v.sort();
        v
    });
    let invitation = f.groups[1].invitation(invitee.public);
    let mut theirs = Group::new(f.id());
    theirs
        .receive(
            &mut Sync::default(),
            &invitee.public,
            f.key(1),
            invitation.envelope,
            f.at(2),
            &everyone,
        )
        .expect("invited");
    assert!(theirs.is_member(&invitee.public));
}

#[test]
fn a_create_by_someone_else_than_whose_key_made_the_id_is_refused() {
    let f = Fixture::new(2);
    let mallory = keys();
    let Body::Create { salt, .. } = &f.create.content.body else {
        panic!("not a create");
    };
    let content = Content {
        group: f.id(),
        author: mallory.public,
        seq: 1,
        lamport: 1,
        parents: Vec::new(),
        sent_at_ms: 0,
        body: Body::Create {
            name: "mine now".to_owned(),
            salt: *salt,
            members: vec![member(&mallory, "boss")],
        },
    };
    let fake = GroupMsg::sign(&mallory, content, rand::rng());
    assert!(matches!(
        GroupMsg::decode(fake.bytes()),
        Err(GroupError::Malformed(_))
    ));
    // Sent first to someone who knows only the id: nothing taken.
    let mut fresh = Group::new(f.id());
    let me = keys();
    let got = fresh.receive(
        &mut Sync::default(),
        &me.public,
        mallory.public,
        Envelope::Invite {
            group: f.id(),
            msgs: encode_all([&fake]),
        },
        f.at(1),
        &everyone,
    );
    let got = got.expect("read");
    assert_eq!((got.rejected, got.new.len()), (1, 0), "{got:?}");
    assert!(fresh.is_empty());
    assert_eq!(fresh.membership().creator, None);
}

#[test]
fn only_the_creator_removes_and_a_removed_member_is_refused() {
    let mut f = Fixture::new(4);
    let (c0, c1, c2, c3) = (f.key(0), f.key(1), f.key(2), f.key(3));
    // A member who is not the creator: the message is held, nobody is removed.
    let (not_removed, send) = f.post(1, Body::Remove(c2));
    assert!(f.groups[1].is_member(&c2));
    for to in [0, 2, 3] {
        assert_eq!(send.iter().filter(|o| o.to == f.key(to)).count(), 1);
        let env = send
            .iter()
            .find(|o| o.to == f.key(to))
            .expect("sent")
            .envelope
            .clone();
        let now = f.at(1);
        f.receive(to, 1, env, now).expect("taken");
        assert!(f.groups[to].is_member(&c2));
        assert!(f.groups[to].get(&not_removed.id()).is_some());
    }
    // The creator removes member 2, who is told of it.
    let (removal, send) = f.post(0, Body::Remove(c2));
    assert_eq!(sent_to(&send), {
        let mut v = vec![c1, c2, c3];
        v.sort();
        v
    });
    assert!(!f.groups[0].is_member(&c2));
    for to in [1, 3] {
        let env = send
            .iter()
            .find(|o| o.to == f.key(to))
            .expect("sent")
            .envelope
            .clone();
        let now = f.at(2);
        f.receive(to, 0, env, now).expect("taken");
        assert!(!f.groups[to].is_member(&c2));
    }
    // Member 2 has not got it yet, and posts: refused.
    let (late, _) = f.post(2, text("still here?"));
    let now = f.at(3);
    assert_eq!(
        f.receive(0, 2, live(f.id(), &[&late]), now).err(),
        Some(GroupError::NotMember)
    );
    let hello = f.groups[2].hello(&mut f.syncs[2], c0).envelope;
    assert_eq!(
        f.receive(0, 2, hello, now).err(),
        Some(GroupError::NotMember)
    );
    // Then it gets the removal, and can no longer write.
    let env = send
        .iter()
        .find(|o| o.to == c2)
        .expect("told")
        .envelope
        .clone();
    let got = f.receive(2, 0, env, now).expect("taken");
    assert!(got.inserted.membership);
    assert!(!f.groups[2].is_member(&c2));
    assert_eq!(
        f.groups[2]
            .compose(&f.keys[2], text("hello?"), 0, rand::rng())
            .err(),
        Some(GroupError::NotMember)
    );
    // Nothing posted after the removal goes to member 2.
    let (_, send) = f.post(0, text("just us"));
    assert_eq!(sent_to(&send), {
        let mut v = vec![c1, c3];
        v.sort();
        v
    });
    let (_, send) = f.post(3, text("just us, yes"));
    assert_eq!(sent_to(&send), {
        let mut v = vec![c0, c1];
        v.sort();
        v
    });
    // Its Have is refused by everyone who knows.
    for to in [0, 1, 3] {
        let key = f.key(to);
        let hello = f.groups[2].hello(&mut f.syncs[2], key).envelope;
        let now = f.at(4);
        assert_eq!(
            f.receive(to, 2, hello, now).err(),
            Some(GroupError::NotMember)
        );
    }
    assert!(f.groups[0].get(&removal.id()).is_some());
    // The creator is not removed, by anyone.
    let (_, send) = f.post(0, Body::Remove(c0));
    assert!(f.groups[0].is_member(&c0));
    assert!(send.iter().any(|o| o.to == c1));
}

#[test]
fn a_member_leaves() {
    let mut f = Fixture::new(3);
    let (leave, send) = f.post(2, Body::Leave);
    assert!(!f.groups[2].is_member(&f.key(2)));
    assert_eq!(sent_to(&send), {
        let mut v = vec![f.key(0), f.key(1)];
        v.sort();
        v
    });
    for to in [0, 1] {
        let now = f.at(1);
        f.receive(to, 2, live(f.id(), &[&leave]), now)
            .expect("taken");
        assert!(!f.groups[to].is_member(&f.key(2)));
        assert!(f.groups[to].is_member(&f.key(1 - to)));
    }
    let key = f.key(0);
    let hello = f.groups[2].hello(&mut f.syncs[2], key).envelope;
    let now = f.at(2);
    assert_eq!(
        f.receive(0, 2, hello, now).err(),
        Some(GroupError::NotMember)
    );
    let (_, send) = f.post(0, text("bye"));
    assert_eq!(sent_to(&send), vec![f.key(1)]);
}

#[test]
fn a_group_has_at_most_max_members() {
    let creator = keys();
    let others: Vec<Member> = (0..MAX_MEMBERS)
        .map(|i| Member {
            key: stand_in(i),
            name: format!("m{i}"),
        })
        .collect();
    assert_eq!(
        Group::create(&creator, "big", [1; 16], others.clone(), 0, rand::rng()).err(),
        Some(GroupError::TooManyMembers)
    );
    let (mut group, _) = Group::create(
        &creator,
        "big",
        [1; 16],
        others[..MAX_MEMBERS - 1].to_vec(),
        0,
        rand::rng(),
    )
    .expect("64 with its creator");
    assert_eq!(group.members().len(), MAX_MEMBERS);
    let one_more = Member {
        key: stand_in(1000),
        name: "one more".to_owned(),
    };
    assert_eq!(
        group
            .compose(&creator, Body::Add(one_more.clone()), 0, rand::rng())
            .err(),
        Some(GroupError::TooManyMembers)
    );
    // An Add written anyway (by another client) is held but changes nothing.
    let content = Content {
        group: group.id(),
        author: creator.public,
        seq: 2,
        lamport: 2,
        parents: Vec::new(),
        sent_at_ms: 0,
        body: Body::Add(one_more.clone()),
    };
    let add = GroupMsg::sign(&creator, content, rand::rng());
    let add = GroupMsg::decode(add.bytes()).expect("well formed");
    group.insert(add, None).expect("held");
    assert_eq!(group.members().len(), MAX_MEMBERS);
    assert!(!group.is_member(&one_more.key));
    // One leaves: there is room again.
    let m0 = others[0].key;
    group
        .compose(&creator, Body::Remove(m0), 0, rand::rng())
        .expect("removed");
    assert_eq!(group.members().len(), MAX_MEMBERS - 1);
    group
        .compose(&creator, Body::Add(one_more.clone()), 0, rand::rng())
        .expect("added");
    assert!(group.is_member(&one_more.key));
}

#[test]
fn an_answer_waits_for_its_question() {
    let mut f = Fixture::new(3);
    let (question, _) = f.post(0, text("lunch?"));
    let now = f.at(1);
    f.receive(1, 0, live(f.id(), &[&question]), now)
        .expect("taken");
    let (answer, _) = f.post(1, text("yes"));
    assert!(answer.content.follows().any(|p| p == question.id()));
    // Member 2 gets the answer first: held, not shown, and it asks for what it lacks.
    let now = f.at(2);
    let got = f
        .receive(2, 1, live(f.id(), &[&answer]), now)
        .expect("taken");
    assert_eq!(got.inserted.held, vec![answer.id()]);
    assert!(got.inserted.shown.is_empty());
    assert!(
        got.send
            .iter()
            .any(|o| o.to == f.key(1) && matches!(o.envelope, Envelope::Have { .. }))
    );
    assert!(!f.groups[2].is_shown(&answer.id()));
    assert_eq!(shown_ids(&f.groups[2]), vec![f.create.id()]);
    assert_eq!(f.groups[2].missing(), 1);
    // The question comes: both shown, question first.
    let now = f.at(3);
    let got = f
        .receive(2, 0, live(f.id(), &[&question]), now)
        .expect("taken");
    assert_eq!(got.inserted.shown, vec![question.id(), answer.id()]);
    assert!(got.inserted.completed.is_empty());
    assert_eq!(
        shown_ids(&f.groups[2]),
        vec![f.create.id(), question.id(), answer.id()]
    );
    assert!(!f.groups[2].gap_before(&answer.id()));
    assert_eq!(f.groups[2].missing(), 0);
}

#[test]
fn an_answer_is_shown_with_a_gap_after_the_wait_until_its_question_comes() {
    let mut f = Fixture::new(3);
    let (question, _) = f.post(0, text("lunch?"));
    let now = f.at(1);
    f.receive(1, 0, live(f.id(), &[&question]), now)
        .expect("taken");
    let (answer, _) = f.post(1, text("yes"));
    let t = f.at(10);
    f.receive(2, 1, live(f.id(), &[&answer]), t).expect("taken");
    assert_eq!(f.groups[2].next_release(GAP_WAIT), Some(t + GAP_WAIT));
    assert!(
        f.groups[2]
            .release(t + GAP_WAIT - Duration::from_millis(1), GAP_WAIT)
            .is_empty()
    );
    assert!(!f.groups[2].is_shown(&answer.id()));
    assert_eq!(
        f.groups[2].release(t + GAP_WAIT, GAP_WAIT),
        vec![answer.id()]
    );
    assert!(f.groups[2].is_shown(&answer.id()));
    assert!(f.groups[2].gap_before(&answer.id()));
    assert_eq!(f.groups[2].next_release(GAP_WAIT), None);
    assert!(f.groups[2].release(t + GAP_WAIT * 2, GAP_WAIT).is_empty());
    // The question comes: shown, and the gap before the answer closes.
    let got = f
        .receive(2, 0, live(f.id(), &[&question]), t + GAP_WAIT * 3)
        .expect("taken");
    assert_eq!(got.inserted.shown, vec![question.id()]);
    assert_eq!(got.inserted.completed, vec![answer.id()]);
    assert!(!f.groups[2].gap_before(&answer.id()));
    assert_eq!(
        shown_ids(&f.groups[2]),
        vec![f.create.id(), question.id(), answer.id()]
    );
}

#[test]
fn a_message_forwarded_to_members_its_author_did_not_reach() {
    let mut f = Fixture::new(3);
    let (c1, c2) = (f.key(1), f.key(2));
    // Member 0 reaches member 1 only.
    let (msg, send) = f.groups[0]
        .post(&f.keys[0], text("pass it on"), 0, rand::rng(), &|k| {
            *k == c1
        })
        .expect("posted");
    assert_eq!(sent_to(&send), vec![c1]);
    let got = f
        .receive(1, 0, send[0].envelope.clone(), f.t0)
        .expect("taken");
    assert_eq!(sent_to(&got.send), vec![c2]);
    let got = f
        .receive(2, 1, got.send[0].envelope.clone(), f.t0)
        .expect("taken");
    assert_eq!(got.new, vec![msg.clone()]);
    // Forwarded, not by its author: not forwarded again.
    assert!(got.send.is_empty());
    // Reached by the author too: nobody forwards it.
    let (_, send) = f.post(0, text("to all"));
    let to1 = send.iter().find(|o| o.to == c1).expect("sent");
    let got = f.receive(1, 0, to1.envelope.clone(), f.t0).expect("taken");
    assert!(got.send.is_empty());
}

#[test]
fn duplicates_are_held_once_and_a_conflict_is_refused() {
    let mut f = Fixture::new(2);
    let (msg, _) = f.post(0, text("once"));
    let got = f
        .receive(1, 0, live(f.id(), &[&msg, &msg]), f.t0)
        .expect("taken");
    assert_eq!(got.new, vec![msg.clone()]);
    assert_eq!(f.groups[1].len(), 2);
    assert_eq!(
        f.groups[1].insert(msg.clone(), Some(f.t0)),
        Err(GroupError::Duplicate)
    );
    // Signed again (another nonce, other bytes): the same message.
    let again = GroupMsg::sign(&f.keys[0], msg.content.clone(), rand::rng());
    let again = GroupMsg::decode(again.bytes()).expect("well formed");
    assert_eq!(
        f.groups[1].insert(again, Some(f.t0)),
        Err(GroupError::Duplicate)
    );
    let got = f
        .receive(1, 0, live(f.id(), &[&msg]), f.t0)
        .expect("answered");
    assert!(got.new.is_empty() && got.inserted.held.is_empty());
    // The author writes something else under the same count.
    let mut content = msg.content.clone();
    content.body = text("twice");
    let other = GroupMsg::sign(&f.keys[0], content, rand::rng());
    let other = GroupMsg::decode(other.bytes()).expect("well formed");
    assert_eq!(
        f.groups[1].insert(other, Some(f.t0)),
        Err(GroupError::Conflict)
    );
    assert_eq!(f.groups[1].len(), 2);
    assert_eq!(f.groups[1].get(&msg.id()), Some(&msg));
    assert_eq!(shown_ids(&f.groups[1]), vec![f.create.id(), msg.id()]);
    // A second Create, even by the creator, is a conflict.
    let Body::Create { salt, .. } = f.create.content.body.clone() else {
        panic!("not a create");
    };
    let second = Content {
        group: f.id(),
        author: f.key(0),
        seq: 1,
        lamport: 1,
        parents: Vec::new(),
        sent_at_ms: 0,
        body: Body::Create {
            name: "renamed".to_owned(),
            salt,
            members: Vec::new(),
        },
    };
    let second = GroupMsg::sign(&f.keys[0], second, rand::rng());
    let second = GroupMsg::decode(second.bytes()).expect("well formed");
    assert_eq!(f.groups[1].insert(second, None), Err(GroupError::Conflict));
    assert_eq!(f.groups[1].name(), "friends");
}

#[test]
fn pages_hold_at_most_page_messages() {
    let mut f = Fixture::new(2);
    for i in 0..PAGE_MESSAGES + 5 {
        f.groups[0]
            .compose(&f.keys[0], text(&format!("n{i}")), 0, rand::rng())
            .expect("composed");
    }
    let total = f.groups[0].len();
    assert_eq!(total, PAGE_MESSAGES + 6);
    let (page, more) = f.groups[0].page(&[], PAGE_MESSAGES, PAGE_BYTES);
    assert_eq!(page.len(), PAGE_MESSAGES);
    assert!(more);
    let held: Vec<GroupMsg> = f.groups[0].all().cloned().collect();
    assert_eq!(page, held[..PAGE_MESSAGES]);
    // Catch-up through the envelopes: two pages, the second the last.
    let from = f.key(0);
    let hello = f.groups[1].hello(&mut f.syncs[1], from).envelope;
    let got = f.receive(0, 1, hello, f.t0).expect("answered");
    let [Outgoing { envelope, .. }] = &got.send[..] else {
        panic!("one page: {:?}", got.send.len());
    };
    let Envelope::Page { msgs, more, .. } = envelope else {
        panic!("a page");
    };
    // The create, already held there, is not sent.
    assert_eq!((msgs.len(), *more), (PAGE_MESSAGES, true));
    let got = f.receive(1, 0, envelope.clone(), f.t0).expect("taken");
    assert_eq!(got.new.len(), PAGE_MESSAGES);
    let [ask] = &got.send[..] else {
        panic!("asks for more");
    };
    let got = f
        .receive(0, 1, ask.envelope.clone(), f.t0)
        .expect("answered");
    let Envelope::Page { msgs, more, .. } = &got.send[0].envelope else {
        panic!("a page");
    };
    assert_eq!((msgs.len(), *more), (5, false));
    let envelope = got.send[0].envelope.clone();
    let got = f.receive(1, 0, envelope, f.t0).expect("taken");
    assert!(got.send.is_empty());
    assert_eq!(f.groups[1].len(), total);
    assert_eq!(
        shown_ids(&f.groups[1]),
        shown_ids(&f.groups[0]),
        "the same order"
    );
}

#[test]
fn pages_hold_about_page_bytes() {
    let mut f = Fixture::new(2);
    let big = "x".repeat(200_000);
    for _ in 0..5 {
        f.groups[0]
            .compose(&f.keys[0], text(&big), 0, rand::rng())
            .expect("composed");
    }
    let theirs = f.groups[1].have();
    let (page, more) = f.groups[0].page(&theirs, PAGE_MESSAGES, PAGE_BYTES);
    assert_eq!(page.len(), 2);
    assert!(more);
    assert!(page.iter().map(|m| m.bytes().len()).sum::<usize>() <= PAGE_BYTES);
    for m in page {
        f.groups[1].insert(m, Some(f.t0)).expect("taken");
    }
    let (page, more) = f.groups[0].page(&f.groups[1].have(), PAGE_MESSAGES, PAGE_BYTES);
    assert_eq!((page.len(), more), (2, true));
    for m in page {
        f.groups[1].insert(m, Some(f.t0)).expect("taken");
    }
    let (page, more) = f.groups[0].page(&f.groups[1].have(), PAGE_MESSAGES, PAGE_BYTES);
    assert_eq!((page.len(), more), (1, false));
    // A message longer than a page still goes, alone.
    let (page, more) = f.groups[0].page(&[], PAGE_MESSAGES, 10);
    assert_eq!((page.len(), more), (1, true));
    // Nothing lacking: an empty page.
    let (page, more) = f.groups[0].page(&f.groups[0].have(), PAGE_MESSAGES, PAGE_BYTES);
    assert!(page.is_empty() && !more);
}

#[test]
fn envelopes_read_back_from_their_text() {
    let mut f = Fixture::new(2);
    let key = f.key(1);
    let hello = f.groups[0].hello(&mut f.syncs[0], key).envelope;
    let envelopes = [
        live(f.id(), &[&f.create]),
        Envelope::Page {
            group: f.id(),
            msgs: encode_all([&f.create]),
            more: true,
        },
        hello,
        f.groups[0].invitation(f.key(1)).envelope,
        Envelope::Have {
            group: f.id(),
            have: Vec::new(),
            answer: true,
        },
    ];
    for e in envelopes {
        let text = e.to_text();
        assert!(Envelope::is_envelope(&text));
        assert!(text.starts_with(MARK));
        assert_eq!(Envelope::from_text(&text), Ok(e.clone()));
        // Cut anywhere, or with a letter changed: an error, never a panic.
        for cut in MARK.len()..text.len() {
            if text.is_char_boundary(cut) {
                let _ = Envelope::from_text(&text[..cut]);
            }
        }
        let mut garbled: Vec<u8> = text.clone().into_bytes();
        for i in MARK.len()..garbled.len() {
            let keep = garbled[i];
            garbled[i] = if keep == b'A' { b'B' } else { b'A' };
            if let Ok(s) = std::str::from_utf8(&garbled)
                && let Ok(read) = Envelope::from_text(s)
                && let Envelope::Live { msgs, .. } | Envelope::Page { msgs, .. } = read
            {
                for m in msgs {
                    let _ = GroupMsg::decode(&m);
                }
            }
            garbled[i] = keep;
        }
        let half = MARK.len() + (text.len() - MARK.len()) / 2;
        assert_eq!(
            Envelope::from_text(&text[..half]),
            Err(GroupError::Undecodable)
        );
        assert_eq!(
            Envelope::from_text(&format!("{text}!!")),
            Err(GroupError::Undecodable)
        );
    }
    assert_eq!(Envelope::from_text(MARK), Err(GroupError::Undecodable));
    assert_eq!(
        Envelope::from_text(&format!("{MARK}not base64 at all")),
        Err(GroupError::Undecodable)
    );
}

#[test]
fn a_chat_message_is_never_taken_for_an_envelope() {
    for text in [
        "",
        "hello",
        "qqg1 AAAA",
        " qqg1 AAAA",
        "\u{FFFE}qqg1 AAAA",
        "\u{FFFF}",
        "\u{FFFF}qqg1",
        "\u{FFFF}qqg2 AAAA",
        "\u{FEFF}\u{FFFF}qqg1 AAAA",
    ] {
        assert!(!Envelope::is_envelope(text), "{text:?}");
        assert_eq!(Envelope::from_text(text), Err(GroupError::Undecodable));
    }
}

#[test]
fn group_ids_read_back_from_hex() {
    let f = Fixture::new(1);
    let hex = f.id().to_hex();
    assert_eq!(GroupId::from_hex(&hex), Some(f.id()));
    assert_eq!(GroupId::from_hex(&hex[1..]), None);
    assert_eq!(GroupId::from_hex(&format!("{}g", &hex[1..])), None);
    assert_eq!(GroupId::from_hex(&"é".repeat(16)), None);
}

#[test]
fn a_removed_member_cannot_push_messages_into_a_member_as_an_invitation() {
    let mut f = Fixture::new(3);
    let removed = f.key(2);
    let (removal, _) = f.post(0, Body::Remove(removed));
    f.groups[1]
        .insert(removal, Some(f.t0))
        .expect("bob holds the removal");
    // Carol, removed, writes on in her copy and sends it to bob as an "invitation".
    let late = f.craft(&f.keys[2].clone(), removed, 1, text("still here"));
    let invite = Envelope::Invite {
        group: f.id(),
        msgs: encode_all([&late]),
    };
    assert_eq!(
        f.receive(1, 2, invite, f.t0).map(|r| r.new.len()),
        Err(GroupError::NotMember)
    );
    assert!(f.groups[1].get(&late.id()).is_none());
}

#[test]
fn a_start_naming_max_members_others_is_refused() {
    let creator = keys();
    let others: Vec<Member> = (0..MAX_MEMBERS)
        .map(|i| member(&keys(), &format!("m{i}")))
        .collect();
    assert_eq!(
        Group::create(&creator, "big", [1; 16], others, 0, rand::rng()).map(|_| ()),
        Err(GroupError::TooManyMembers)
    );
}

#[test]
fn a_copy_already_held_does_not_use_up_its_authors_allowance() {
    let mut f = Fixture::new(2);
    let (msg, _) = f.post(0, text("once"));
    let copy = live(f.id(), &[&msg]);
    let mut limited = 0;
    for _ in 0..AUTHOR_BURST + 50 {
        limited += f.receive(1, 0, copy.clone(), f.t0).expect("taken").limited;
    }
    assert_eq!(limited, 0);
    let (next, _) = f.post(0, text("twice"));
    let r = f
        .receive(1, 0, live(f.id(), &[&next]), f.t0)
        .expect("taken");
    assert_eq!(r.new.len(), 1, "the author's allowance is whole");
}

#[test]
fn what_follows_a_lost_message_of_a_removed_member_does_not_wait_for_it() {
    let mut f = Fixture::new(3);
    // Carol writes twice; only her second message reaches alice, then carol is removed.
    let carol = f.key(2);
    let (lost, _) = f.post(2, text("lost"));
    let (second, _) = f.post(2, text("second"));
    f.groups[0]
        .insert(second.clone(), Some(f.t0))
        .expect("held");
    assert!(
        !f.groups[0].is_shown(&second.id()),
        "it waits for the first"
    );
    let (removal, _) = f.post(0, Body::Remove(carol));
    assert!(
        f.groups[0].is_shown(&second.id()) && !f.groups[0].gap_before(&second.id()),
        "her lost message will never come: nothing waits for it"
    );
    // Bob's answer, which follows her second message, shows at once.
    for m in [&second, &removal] {
        f.groups[1].insert((*m).clone(), Some(f.t0)).expect("held");
    }
    let (answer, _) = f.post(1, text("answer"));
    assert!(f.groups[1].is_shown(&answer.id()));
    // And if the lost one comes after all, it takes its place before the second.
    f.groups[0].insert(lost.clone(), Some(f.t0)).expect("held");
    let order = shown_ids(&f.groups[0]);
    let at = |id: MsgRef| order.iter().position(|o| *o == id);
    assert!(at(lost.id()) < at(second.id()));
}

#[test]
fn a_creator_naming_itself_among_max_members_is_not_counted_twice() {
    let creator = keys();
    let mut named: Vec<Member> = vec![member(&creator, "me")];
    named.extend((0..MAX_MEMBERS - 1).map(|i| member(&keys(), &format!("m{i}"))));
    let (group, _) = Group::create(&creator, "full", [2; 16], named, 0, rand::rng())
        .expect("64 with the creator");
    assert_eq!(group.members().len(), MAX_MEMBERS);
    assert_eq!(
        group
            .membership()
            .members
            .get(&creator.public)
            .map(String::as_str),
        Some("me"),
        "the creator under the name it gave itself"
    );
}
