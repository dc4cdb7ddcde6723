//! Groups between engine cores on a simulated clock and network: invitations, fan-out with
//! acks per member, a member away catching up in order when back, a restart keeping the
//! group, and a removed member getting nothing new. The group protocol's own properties
//! (order under loss and partitions, forgery) are tested in `qqchat-proto`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use qqchat::contacts::Contact;
use qqchat::engine::{
    Command, CoreOptions, EngineCore, EngineEvent, GroupItem, GroupItemKind, Now, SeededIds,
    StoreOp,
};
use qqchat::proto::group::{GroupId, MsgRef};
use qqchat::proto::secure::Keypair;
use qqchat::proto::{Config, PeerId, PublicKey};
use qqchat::store::{GroupRecord, GroupStatus, StoredGroup};

struct Clock {
    start: Instant,
    elapsed: Duration,
}

impl Clock {
    fn now(&self) -> Now {
        Now {
            mono: self.start + self.elapsed,
            wall: Timestamp::from_second(1_800_000_000)
                .and_then(|t| t.checked_add(self.elapsed))
                .expect("a valid time"),
        }
    }
}

struct Side {
    name: &'static str,
    addr: SocketAddr,
    keys: Keypair,
    core: EngineCore,
    events: Vec<EngineEvent>,
    /// Group records, as the driver would write them.
    stored: Vec<(GroupId, GroupRecord)>,
}

struct Net {
    clock: Clock,
    sides: Vec<Side>,
    /// Sides whose datagrams are dropped both ways (gone offline).
    down: HashSet<usize>,
    /// Pairs of sides that cannot reach each other (both ways).
    cut: HashSet<(usize, usize)>,
}

const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7300 + i as u16))
}

fn contacts(keys: &[Keypair], me: usize) -> Vec<Contact> {
    (0..keys.len())
        .filter(|&i| i != me)
        .map(|i| {
            let mut c = Contact::at(NAMES[i], addr(i));
            c.key = Some(keys[i].public);
            c
        })
        .collect()
}

fn core(keys: &[Keypair], i: usize, epoch: u64, clock: &Clock) -> EngineCore {
    let mut config = Config::new(epoch);
    config.identity = Some(keys[i].clone());
    let mut options = CoreOptions::new(config);
    options.contacts = contacts(keys, i);
    let mut core = EngineCore::new(options, Box::new(SeededIds::new(epoch)));
    core.start(clock.now(), None);
    core
}

impl Net {
    fn new(n: usize) -> Net {
        let clock = Clock {
            start: Instant::now(),
            elapsed: Duration::ZERO,
        };
        let keys: Vec<Keypair> = (0..n)
            .map(|_| Keypair::generate().expect("a key pair"))
            .collect();
        let sides = (0..n)
            .map(|i| Side {
                name: NAMES[i],
                addr: addr(i),
                keys: keys[i].clone(),
                core: core(&keys, i, 100 + i as u64, &clock),
                events: Vec::new(),
                stored: Vec::new(),
            })
            .collect();
        let mut net = Net {
            clock,
            sides,
            down: HashSet::new(),
            cut: HashSet::new(),
        };
        net.run_for(Duration::from_secs(2));
        net
    }

    fn keys(&self) -> Vec<Keypair> {
        self.sides.iter().map(|s| s.keys.clone()).collect()
    }

    fn key(&self, i: usize) -> PublicKey {
        self.sides[i].keys.public
    }

    /// Runs everything for `span` of simulated time: datagrams arrive at once, timers fire
    /// when due.
    fn run_for(&mut self, span: Duration) {
        let end = self.clock.elapsed + span;
        for _ in 0..1_000_000 {
            let now = self.clock.now();
            let mut flight = Vec::new();
            for (i, s) in self.sides.iter_mut().enumerate() {
                let out = s.core.poll_output(now);
                for op in out.store {
                    if let StoreOp::Group { id, record } = op {
                        s.stored.push((id, record));
                    }
                }
                s.events.extend(out.events);
                flight.extend(out.transmits.into_iter().map(|t| (i, s.addr, t)));
            }
            if !flight.is_empty() {
                self.clock.elapsed += Duration::from_micros(200);
                for (i, from, t) in flight {
                    let Some(j) = self.sides.iter().position(|s| s.addr == t.dst) else {
                        continue;
                    };
                    if self.down.contains(&i)
                        || self.down.contains(&j)
                        || self.cut.contains(&(i, j))
                        || self.cut.contains(&(j, i))
                    {
                        continue;
                    }
                    self.sides[j].core.handle_datagram(now, from, &t.payload);
                }
                continue;
            }
            let next = self
                .sides
                .iter()
                .filter_map(|s| s.core.poll_timeout())
                .min();
            let next = next.map_or(end, |n| n.saturating_duration_since(self.clock.start));
            if next >= end {
                self.clock.elapsed = end;
                return;
            }
            self.clock.elapsed = self.clock.elapsed.max(next);
            let now = self.clock.now();
            for s in &mut self.sides {
                if s.core.poll_timeout().is_some_and(|d| d <= now.mono) {
                    s.core.handle_timeout(now);
                }
            }
        }
        panic!("did not settle");
    }

    fn command(&mut self, i: usize, cmd: Command) {
        let now = self.clock.now();
        self.sides[i].core.handle_command(now, cmd);
    }

    /// Alice creates "hikers" with everyone else and tells its id, after `settle`.
    fn create(&mut self, settle: Duration) -> GroupId {
        let members = (1..self.sides.len())
            .map(|i| PeerId::Key(self.key(i)))
            .collect();
        self.command(
            0,
            Command::GroupCreate {
                id: 1,
                name: "hikers".into(),
                members,
            },
        );
        self.run_for(settle);
        self.sides[0]
            .events
            .iter()
            .find_map(|e| match e {
                EngineEvent::GroupCreated { group, .. } => Some(*group),
                _ => None,
            })
            .expect("the group was created")
    }

    /// Alice creates a group with everyone else; the others accept.
    fn group(&mut self) -> GroupId {
        let gid = self.create(Duration::from_secs(1));
        for i in 1..self.sides.len() {
            assert_eq!(
                status(&self.sides[i], gid),
                Some(GroupStatus::Invited),
                "{} was invited",
                self.sides[i].name
            );
            self.command(
                i,
                Command::GroupAnswer {
                    group: gid,
                    accept: true,
                },
            );
        }
        self.run_for(Duration::from_secs(1));
        gid
    }

    fn say(&mut self, i: usize, gid: GroupId, text: &str) {
        self.command(
            i,
            Command::GroupSend {
                group: gid,
                text: text.into(),
                id: 0,
            },
        );
    }
}

fn status(side: &Side, gid: GroupId) -> Option<GroupStatus> {
    side.events.iter().rev().find_map(|e| match e {
        EngineEvent::Group(v) if v.id == gid => Some(v.status),
        _ => None,
    })
}

/// The items a front end shows of `gid`, after applying every event in order.
fn items(side: &Side, gid: GroupId) -> Vec<GroupItem> {
    let mut shown: Vec<GroupItem> = Vec::new();
    for e in &side.events {
        let new: Vec<GroupItem> = match e {
            EngineEvent::Groups(all) => all
                .iter()
                .filter(|g| g.view.id == gid)
                .flat_map(|g| g.items.clone())
                .collect(),
            EngineEvent::GroupItems { group, items } if *group == gid => items.clone(),
            _ => continue,
        };
        for item in new {
            shown.retain(|s| s.id != item.id);
            shown.push(item);
        }
    }
    shown.sort_by_key(|i| i.order);
    shown
}

fn texts(side: &Side, gid: GroupId) -> Vec<String> {
    items(side, gid)
        .into_iter()
        .filter_map(|i| match i.kind {
            GroupItemKind::Text(t) => Some(t),
            _ => None,
        })
        .collect()
}

#[test]
fn a_group_message_reaches_every_member_and_each_ack_is_counted() {
    let mut net = Net::new(4);
    let gid = net.group();
    net.say(0, gid, "trail opens at 9");
    net.run_for(Duration::from_secs(2));
    for side in &net.sides[1..] {
        assert_eq!(texts(side, gid), ["trail opens at 9"], "{}", side.name);
        let item = items(side, gid).pop().expect("an item");
        assert_eq!(item.author, net.key(0));
        assert!(!item.mine && !item.gap_before);
    }
    let mine = items(&net.sides[0], gid)
        .into_iter()
        .last()
        .expect("an item");
    assert!(mine.mine);
    let acked: HashSet<PublicKey> = mine.acked.into_iter().collect();
    assert_eq!(acked, (1..4).map(|i| net.key(i)).collect());
}

#[test]
fn a_member_away_catches_up_in_order_when_back() {
    let mut net = Net::new(4);
    let gid = net.group();
    net.down.insert(3);
    // Long enough for dave to be seen offline, and his sends to fail.
    net.run_for(Duration::from_secs(90));
    for n in 0..20 {
        net.say(n % 3, gid, &format!("message {n}"));
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(5));
    assert!(texts(&net.sides[3], gid).is_empty(), "dave was away");
    let sent: Vec<String> = (0..20).map(|n| format!("message {n}")).collect();
    assert_eq!(texts(&net.sides[0], gid), sent);
    let ours = items(&net.sides[0], gid);
    let last = ours.last().expect("an item");
    assert!(
        !last.acked.contains(&net.key(3)),
        "dave has not acked what he never got"
    );
    net.down.clear();
    net.run_for(Duration::from_secs(120));
    assert_eq!(texts(&net.sides[3], gid), sent, "dave caught up, in order");
    let theirs: Vec<MsgRef> = items(&net.sides[3], gid).iter().map(|i| i.id).collect();
    let ours: Vec<MsgRef> = items(&net.sides[0], gid).iter().map(|i| i.id).collect();
    assert_eq!(theirs, ours, "the same order on both screens");
    assert!(items(&net.sides[3], gid).iter().all(|i| !i.gap_before));
    // Alice learns dave has her messages, from his catch-up.
    let mine = items(&net.sides[0], gid);
    let mine = mine.iter().rev().find(|i| i.mine).expect("an item");
    assert!(
        mine.acked.contains(&net.key(3)),
        "dave's Have acks alice's messages"
    );
}

#[test]
fn a_restarted_member_reads_its_groups_back() {
    let mut net = Net::new(3);
    let gid = net.group();
    net.say(0, gid, "first");
    net.run_for(Duration::from_millis(500));
    net.say(1, gid, "second");
    net.run_for(Duration::from_secs(2));
    let before = items(&net.sides[2], gid);
    // Carol's store, read back as the driver does at start.
    let records: Vec<GroupRecord> = net.sides[2]
        .stored
        .iter()
        .filter(|(id, _)| *id == gid)
        .map(|(_, r)| r.clone())
        .collect();
    let dir = qqchat_testkit::TempDir::new("groups-restart");
    let path = qqchat::store::group_path(dir.path(), &gid);
    let lines: String = records
        .iter()
        .map(|r| serde_json::to_string(r).expect("json") + "\n")
        .collect();
    std::fs::write(&path, lines).expect("written");
    let stored: StoredGroup = qqchat::store::load_group(dir.path(), gid)
        .expect("read")
        .expect("the group");
    assert_eq!(stored.status, GroupStatus::Joined);
    let keys = net.keys();
    let mut carol = core(&keys, 2, 900, &net.clock);
    carol.load_groups(vec![stored]);
    let out = carol.poll_output(net.clock.now());
    let snapshot = out
        .events
        .iter()
        .find_map(|e| match e {
            EngineEvent::Groups(g) => g.iter().find(|g| g.view.id == gid).cloned(),
            _ => None,
        })
        .expect("the group is back");
    assert_eq!(snapshot.view.name, "hikers");
    assert_eq!(snapshot.view.members.len(), 3);
    assert_eq!(snapshot.items, before);
}

#[test]
fn a_removed_member_gets_nothing_new_and_only_the_creator_removes() {
    let mut net = Net::new(4);
    let gid = net.group();
    // Bob is not the creator: his removal of carol is refused.
    let carol = net.key(2);
    net.command(
        1,
        Command::GroupRemove {
            group: gid,
            member: carol,
        },
    );
    net.run_for(Duration::from_secs(1));
    assert!(net.sides[1].events.iter().any(|e| matches!(
        e,
        EngineEvent::GroupRefused { reason, .. } if reason.contains("creator")
    )));
    net.command(
        0,
        Command::GroupRemove {
            group: gid,
            member: carol,
        },
    );
    net.run_for(Duration::from_secs(2));
    assert_eq!(status(&net.sides[2], gid), Some(GroupStatus::Removed));
    net.say(0, gid, "without carol");
    net.run_for(Duration::from_millis(500));
    net.say(1, gid, "indeed");
    net.run_for(Duration::from_secs(3));
    assert!(
        texts(&net.sides[2], gid).is_empty(),
        "carol gets nothing new"
    );
    assert_eq!(texts(&net.sides[3], gid), ["without carol", "indeed"]);
    // Carol can no longer write to the group.
    net.say(2, gid, "still here?");
    net.run_for(Duration::from_secs(2));
    assert_eq!(texts(&net.sides[3], gid), ["without carol", "indeed"]);
}

#[test]
fn an_invitation_sent_while_the_member_was_away_arrives_when_it_is_back() {
    let mut net = Net::new(3);
    net.down.insert(2);
    net.run_for(Duration::from_secs(90));
    let gid = net.create(Duration::from_secs(60));
    net.say(0, gid, "who is coming?");
    net.run_for(Duration::from_secs(60));
    assert_eq!(status(&net.sides[2], gid), None, "carol was away");
    net.down.clear();
    net.run_for(Duration::from_secs(120));
    assert_eq!(status(&net.sides[2], gid), Some(GroupStatus::Invited));
    net.command(
        2,
        Command::GroupAnswer {
            group: gid,
            accept: true,
        },
    );
    net.run_for(Duration::from_secs(5));
    assert_eq!(texts(&net.sides[2], gid), ["who is coming?"]);
}

#[test]
fn messages_dropped_for_coming_too_fast_are_fetched_a_little_later() {
    let mut net = Net::new(2);
    let gid = net.group();
    let n = qqchat::proto::group::AUTHOR_BURST + 40;
    for i in 0..n {
        net.say(0, gid, &format!("line {i}"));
    }
    net.run_for(Duration::from_secs(3));
    let got = texts(&net.sides[1], gid).len();
    assert!(got < n, "the burst is limited: {got} of {n}");
    net.run_for(Duration::from_secs(60));
    let expected: Vec<String> = (0..n).map(|i| format!("line {i}")).collect();
    assert_eq!(texts(&net.sides[1], gid), expected, "all of them, in order");
}

#[test]
fn a_removal_learnt_late_hides_what_the_removed_member_wrote_after_it() {
    let mut net = Net::new(4);
    let gid = net.group();
    // Alice cannot reach carol or dave for a while; bob reaches everyone.
    net.cut.extend([(0, 2), (0, 3)]);
    net.run_for(Duration::from_secs(90));
    let carol = net.key(2);
    net.command(
        0,
        Command::GroupRemove {
            group: gid,
            member: carol,
        },
    );
    net.say(2, gid, "one");
    net.run_for(Duration::from_millis(300));
    net.say(2, gid, "two");
    net.run_for(Duration::from_secs(2));
    let shown = |side: &Side| -> Vec<String> {
        items(side, gid)
            .into_iter()
            .filter(|i| i.visible)
            .filter_map(|i| match i.kind {
                GroupItemKind::Text(t) => Some(t),
                _ => None,
            })
            .collect()
    };
    assert!(
        shown(&net.sides[3]).contains(&"two".to_owned()),
        "dave saw it"
    );
    net.cut.clear();
    net.run_for(Duration::from_secs(120));
    // Carol's second message comes after her removal in the group's order: nobody shows it.
    for i in [0, 1, 3] {
        assert!(
            !shown(&net.sides[i]).contains(&"two".to_owned()),
            "{} still shows what carol wrote after her removal",
            net.sides[i].name
        );
    }
}
