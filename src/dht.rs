//! Finding friends by key alone: our address record published on the BitTorrent Mainline
//! DHT, and friends' records looked up there (`[me] dht = true`).
//!
//! The record itself (sealed, signed by a blinded form of the identity key) is built and
//! checked in `proto::dht`; this module only moves it. A thread owns the `mainline` node
//! (which runs its own actor thread and socket) and talks to the rest of qqchat over
//! channels, as LAN discovery does: [`DhtCommand`]s in, [`DhtEvent`]s out on a crossbeam
//! channel that a front end merges into its `select!`. Lookups run on short threads of
//! their own, so a slow one never holds up a publish.
//!
//! `mainline` 8's blocking calls are marked deprecated in favour of its async API; they are
//! used here on purpose, since this module has threads and no async runtime, and the
//! blocking API needs fewer of the crate's features.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, select};
use mainline::MutableItem;

use crate::proto::PublicKey;
use crate::proto::dht::{Item, Record, publish_item, read_item};
use crate::proto::secure::Keypair;

/// How often the last record is put again: DHT nodes forget an item after about two hours.
pub const REPUBLISH: Duration = Duration::from_secs(60 * 60);

/// What the DHT client does, as plain data.
#[derive(Debug, Clone)]
pub struct DhtConfig {
    /// Our identity: the record is signed with a key derived from it.
    pub keys: Keypair,
    /// Nodes to join through (`host:port`); `None`: mainline's public bootstrap nodes.
    pub bootstrap: Option<Vec<String>>,
    /// The address the DHT socket binds to: every interface normally, loopback in tests.
    pub bind: Ipv4Addr,
    /// How often the last record is put again.
    pub republish: Duration,
}

impl DhtConfig {
    /// Every interface, republishing every [`REPUBLISH`].
    pub fn new(keys: Keypair, bootstrap: Option<Vec<String>>) -> DhtConfig {
        DhtConfig {
            keys,
            bootstrap,
            bind: Ipv4Addr::UNSPECIFIED,
            republish: REPUBLISH,
        }
    }
}

/// What the rest of qqchat asks of the DHT client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhtCommand {
    /// Publish this record now and keep republishing it until another replaces it.
    Publish(Record),
    /// Look up a friend's record by their X25519 key.
    Lookup(PublicKey),
}

/// Why a lookup gave nothing to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No node holds a record under the friend's key.
    Absent,
    /// Items were found, but none is a record the friend published (wrong key, bad seal,
    /// unreadable contents).
    Unreadable,
    /// The newest record found is no newer than the one found before.
    Stale { seq: i64 },
}

/// What the DHT client reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhtEvent {
    /// Joining the DHT finished: true if any node answered.
    Bootstrapped(bool),
    /// The record with this sequence number is stored on the DHT.
    Published { seq: i64 },
    /// The record could not be stored, and why.
    PublishFailed { seq: i64, reason: String },
    /// A friend's record newer than any found before.
    Found { key: PublicKey, record: Record },
    /// Nothing new for this friend.
    NotFound { key: PublicKey, why: Missing },
    /// The DHT client could not start, or a thread could not be started.
    Trouble(String),
}

/// The DHT client while it runs. Dropping it stops the client.
pub struct Dht {
    commands: Sender<DhtCommand>,
    events: Receiver<DhtEvent>,
}

impl Dht {
    /// Starts the client on its own thread. Never fails: what goes wrong arrives as
    /// [`DhtEvent::Trouble`]. Bootstrap names are resolved on that thread, not the caller's.
    pub fn start(config: DhtConfig) -> Dht {
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let (event_tx, events) = crossbeam_channel::unbounded();
        let tx = event_tx.clone();
        let spawned = thread::Builder::new()
            .name("qqchat-dht".into())
            .spawn(move || run(config, command_rx, tx));
        if let Err(err) = spawned {
            let _ = event_tx.send(DhtEvent::Trouble(format!(
                "the DHT thread could not start: {err}"
            )));
        }
        Dht { commands, events }
    }

    /// Publishes `record`, replacing the one published before.
    pub fn publish(&self, record: Record) {
        let _ = self.commands.send(DhtCommand::Publish(record));
    }

    /// Looks up `friend`'s record; the answer comes as [`DhtEvent::Found`] or
    /// [`DhtEvent::NotFound`]. A lookup of a friend already under way is not repeated.
    pub fn lookup(&self, friend: PublicKey) {
        let _ = self.commands.send(DhtCommand::Lookup(friend));
    }

    /// Where [`DhtEvent`]s arrive.
    pub fn events(&self) -> &Receiver<DhtEvent> {
        &self.events
    }
}

/// A sequence number for a new record that is newer than `previous` and than any record
/// published before a restart: `now_secs`, the wall clock in seconds since 1970, or one more
/// than `previous`.
pub fn next_seq(previous: Option<i64>, now_secs: i64) -> i64 {
    match previous {
        Some(previous) if previous >= now_secs => previous.saturating_add(1),
        _ => now_secs,
    }
}

/// The newest of `items` that `friend` published, if it is newer than `seen`: items under
/// another key, with a bad signature or seal, or unreadable, are skipped, so one bad item
/// cannot hide a good one.
pub fn newest_record(
    friend: &PublicKey,
    items: impl IntoIterator<Item = MutableItem>,
    seen: Option<i64>,
) -> Result<Record, Missing> {
    let mut any = false;
    let mut best: Option<Record> = None;
    for item in items {
        any = true;
        let Ok(record) = read_item(friend, &from_mainline(&item)) else {
            continue;
        };
        if best.as_ref().is_none_or(|b| record.seq > b.seq) {
            best = Some(record);
        }
    }
    match best {
        Some(record) if crate::proto::dht::newer(seen, record.seq) => Ok(record),
        Some(record) => Err(Missing::Stale { seq: record.seq }),
        None if any => Err(Missing::Unreadable),
        None => Err(Missing::Absent),
    }
}

/// Our item as `mainline` puts it; already signed, so mainline need not know the key.
pub fn to_mainline(item: &Item) -> MutableItem {
    MutableItem::new_signed_unchecked(
        item.key,
        item.signature,
        &item.value,
        item.seq,
        item.salt.as_deref(),
    )
}

fn from_mainline(item: &MutableItem) -> Item {
    Item {
        key: *item.key(),
        salt: item.salt().map(<[u8]>::to_vec),
        value: item.value().to_vec(),
        seq: item.seq(),
        signature: *item.signature(),
    }
}

/// A lookup's answer, back on the service thread to be checked against what was seen.
struct Answer {
    friend: PublicKey,
    items: Vec<MutableItem>,
}

fn run(config: DhtConfig, commands: Receiver<DhtCommand>, events: Sender<DhtEvent>) {
    let mut builder = mainline::Dht::builder();
    builder.bind_address(config.bind);
    if let Some(nodes) = &config.bootstrap {
        builder.bootstrap(nodes);
    }
    let dht = match builder.build() {
        Ok(dht) => dht,
        Err(err) => {
            let _ = events.send(DhtEvent::Trouble(format!(
                "the DHT could not open its socket: {err}"
            )));
            return;
        }
    };
    {
        let dht = dht.clone();
        let joined_tx = events.clone();
        let spawned = thread::Builder::new()
            .name("qqchat-dht-join".into())
            .spawn(move || {
                #[allow(deprecated)]
                let joined = dht.bootstrapped();
                let _ = joined_tx.send(DhtEvent::Bootstrapped(joined));
            });
        if let Err(err) = spawned {
            let _ = events.send(DhtEvent::Trouble(format!(
                "the DHT thread could not start: {err}"
            )));
        }
    }

    let (answer_tx, answers) = crossbeam_channel::unbounded::<Answer>();
    let mut seen: HashMap<PublicKey, i64> = HashMap::new();
    let mut looking: HashSet<PublicKey> = HashSet::new();
    let mut current: Option<Item> = None;
    let republish = crossbeam_channel::tick(config.republish);
    loop {
        select! {
            recv(commands) -> command => match command {
                Ok(DhtCommand::Publish(record)) => {
                    // Candidates come in bursts at start (LAN, then STUN, then the relay):
                    // only the last record of a burst is worth the seconds a put takes.
                    let mut record = record;
                    for queued in commands.try_iter() {
                        match queued {
                            DhtCommand::Publish(newer) => record = newer,
                            DhtCommand::Lookup(friend) => {
                                start_lookup(&dht, friend, &mut looking, &answer_tx, &events);
                            }
                        }
                    }
                    match publish_item(&config.keys, &record) {
                        Ok(item) => {
                            put(&dht, &item, &events);
                            current = Some(item);
                        }
                        Err(err) => {
                            let _ = events.send(DhtEvent::PublishFailed {
                                seq: record.seq,
                                reason: err.to_string(),
                            });
                        }
                    }
                }
                Ok(DhtCommand::Lookup(friend)) => {
                    start_lookup(&dht, friend, &mut looking, &answer_tx, &events);
                }
                // The handle is gone: stop, which drops the node and ends its thread.
                Err(_) => return,
            },
            recv(answers) -> answer => {
                let Ok(Answer { friend, items }) = answer else { continue };
                looking.remove(&friend);
                let event = match newest_record(&friend, items, seen.get(&friend).copied()) {
                    Ok(record) => {
                        seen.insert(friend, record.seq);
                        DhtEvent::Found { key: friend, record }
                    }
                    Err(why) => DhtEvent::NotFound { key: friend, why },
                };
                let _ = events.send(event);
            },
            recv(republish) -> _ => {
                if let Some(item) = &current {
                    put(&dht, item, &events);
                }
            },
        }
    }
}

/// Starts a lookup of `friend` unless one is under way.
fn start_lookup(
    dht: &mainline::Dht,
    friend: PublicKey,
    looking: &mut HashSet<PublicKey>,
    answers: &Sender<Answer>,
    events: &Sender<DhtEvent>,
) {
    if looking.insert(friend) && !lookup(dht, friend, answers, events) {
        looking.remove(&friend);
    }
}

/// Stores `item` on the nodes closest to its target; blocks until they answered.
fn put(dht: &mainline::Dht, item: &Item, events: &Sender<DhtEvent>) {
    #[allow(deprecated)]
    let stored = dht.put_mutable(to_mainline(item), None);
    let event = match stored {
        Ok(_) => DhtEvent::Published { seq: item.seq },
        Err(err) => DhtEvent::PublishFailed {
            seq: item.seq,
            reason: err.to_string(),
        },
    };
    let _ = events.send(event);
}

/// Gathers every item stored under `friend`'s DHT key, on a thread of its own; false if
/// that thread could not start.
fn lookup(
    dht: &mainline::Dht,
    friend: PublicKey,
    answers: &Sender<Answer>,
    events: &Sender<DhtEvent>,
) -> bool {
    let answers = answers.clone();
    let Ok(key) = crate::proto::dht::dht_key(&friend) else {
        // A key no record can be published under (of small order): nothing to ask for.
        let _ = answers.send(Answer {
            friend,
            items: Vec::new(),
        });
        return true;
    };
    let dht = dht.clone();
    let spawned = thread::Builder::new()
        .name("qqchat-dht-lookup".into())
        .spawn(move || {
            #[allow(deprecated)]
            let items: Vec<MutableItem> = dht.get_mutable(&key, None, None).collect();
            let _ = answers.send(Answer { friend, items });
        });
    match spawned {
        Ok(_) => true,
        Err(err) => {
            let _ = events.send(DhtEvent::Trouble(format!(
                "a DHT lookup could not start: {err}"
            )));
            false
        }
    }
}
