//! The history database: records folded in order, each message kept once, one writer at a
//! time beside any number of readers, pages read from the end, and the files of the earlier
//! JSON-lines store read in once and left as they were.

use std::fs;

use jiff::Timestamp;
use qqchat::proto::PathKind;
use qqchat::store::{
    ConversationKey, DB_FILE, Direction, GroupRecord, GroupStatus, History, MessageState, Record,
    Search, conversation_path, group_path,
};
use qqchat_testkit::TempDir;

fn key(name: &str) -> ConversationKey {
    ConversationKey::new(name)
}

fn msg(id: u64, dir: Direction, text: &str, state: MessageState) -> Record {
    Record::Msg {
        id,
        dir,
        peer: "127.0.0.1:9002".into(),
        path: None,
        at: Timestamp::from_second(1_700_000_000).expect("valid"),
        sent_at: None,
        text: text.into(),
        plain: false,
        state,
    }
}

/// The texts of a conversation, in order.
fn texts(h: &History, key: &ConversationKey) -> Vec<String> {
    h.load(key)
        .expect("load")
        .into_iter()
        .map(|m| m.text)
        .collect()
}

#[test]
fn records_fold_into_messages_in_order() {
    let tmp = TempDir::new("history-fold");
    let dir = tmp.path();
    let mut h = History::open(dir).expect("open");
    h.append(
        &key("bob"),
        &msg(1, Direction::Out, "hi", MessageState::Pending),
    );
    h.append(
        &key("bob"),
        &msg(2, Direction::In, "hello", MessageState::Received),
    );
    h.append(
        &key("bob"),
        &Record::State {
            id: 1,
            state: MessageState::Delivered,
        },
    );
    h.append(
        &key("bob"),
        &msg(3, Direction::Out, "later", MessageState::Pending),
    );
    h.append(
        &key("bob"),
        &Record::State {
            id: 3,
            state: MessageState::Queued,
        },
    );
    h.commit().expect("commit");
    let got = h.load(&key("bob")).expect("load");
    let summary: Vec<(u64, &str, MessageState)> = got
        .iter()
        .map(|m| (m.id, m.text.as_str(), m.state))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "hi", MessageState::Delivered),
            (2, "hello", MessageState::Received),
            (3, "later", MessageState::Queued),
        ]
    );
    assert!(h.load(&key("nobody")).expect("load").is_empty());
}

#[test]
fn a_message_stored_twice_is_shown_once() {
    let tmp = TempDir::new("history-twice");
    let dir = tmp.path();
    let mut h = History::open(dir).expect("open");
    h.append(
        &key("bob"),
        &msg(7, Direction::In, "once", MessageState::Received),
    );
    h.append(
        &key("bob"),
        &msg(7, Direction::In, "once", MessageState::Received),
    );
    h.commit().expect("commit");
    assert_eq!(h.load(&key("bob")).expect("load").len(), 1);
}

#[test]
fn keys_survive_any_name_and_renames_merge() {
    let tmp = TempDir::new("history-keys");
    let mut h = History::open(tmp.path()).expect("open");
    for key in [
        "bob",
        "Erin S.",
        "addr-[::1]:9002",
        "../escape",
        "你好",
        "a'b\"c",
    ] {
        h.append(
            &ConversationKey::new(key),
            &msg(1, Direction::In, "x", MessageState::Received),
        );
    }
    h.commit().expect("commit");
    let mut want = vec![
        "../escape",
        "Erin S.",
        "a'b\"c",
        "addr-[::1]:9002",
        "bob",
        "你好",
    ];
    want.sort_unstable();
    let keys = h.keys().expect("keys");
    assert_eq!(
        keys.iter().map(ConversationKey::as_str).collect::<Vec<_>>(),
        want
    );
    h.rename(&key("bob"), &key("robert")).expect("rename");
    assert_eq!(h.load(&key("robert")).expect("load").len(), 1);
    assert!(h.load(&key("bob")).expect("load").is_empty());
    // Renaming onto an existing conversation merges, never overwrites; a message both hold
    // is kept once.
    h.append(
        &key("Erin S."),
        &msg(2, Direction::In, "y", MessageState::Received),
    );
    h.commit().expect("commit");
    h.rename(&key("robert"), &key("Erin S.")).expect("merge");
    assert_eq!(texts(&h, &key("Erin S.")), ["x", "y"]);
    assert!(h.load(&key("robert")).expect("load").is_empty());
    // Search still finds a renamed conversation's messages under the new name.
    let hits = h
        .search(&Search {
            text: "y".into(),
            limit: 10,
            ..Search::default()
        })
        .expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].key, key("Erin S."));
}

#[test]
fn a_second_writer_is_told_who_holds_the_history_and_readers_read_beside_it() {
    let tmp = TempDir::new("history-writers");
    let dir = tmp.path();
    let mut writer = History::open(dir).expect("open");
    let err = History::open(dir)
        .err()
        .expect("a second writer is refused");
    let text = err.to_string();
    assert!(
        text.contains("another qqchat")
            && text.contains(&format!("process {}", std::process::id()))
            && text.contains("--data-dir"),
        "{text}"
    );
    let reader = History::open_read(dir).expect("a reader opens beside the writer");
    writer.append(
        &key("bob"),
        &msg(
            1,
            Direction::In,
            "seen by the reader",
            MessageState::Received,
        ),
    );
    writer.commit().expect("commit");
    assert_eq!(texts(&reader, &key("bob")), ["seen by the reader"]);
    drop(writer);
    // Once the first has gone, the next one writes.
    let mut next = History::open(dir).expect("the next writer");
    next.append(
        &key("bob"),
        &msg(2, Direction::In, "two", MessageState::Received),
    );
    next.commit().expect("commit");
    assert_eq!(texts(&reader, &key("bob")), ["seen by the reader", "two"]);
}

fn numbered(h: &mut History, count: u64, at: impl Fn(u64) -> Timestamp) {
    for id in 0..count {
        let mut record = msg(
            id,
            Direction::In,
            &format!("message {id}"),
            MessageState::Received,
        );
        if let Record::Msg { at: when, .. } = &mut record {
            *when = at(id);
        }
        h.append(&key("bob"), &record);
    }
    h.commit().expect("commit");
}

#[test]
fn the_last_page_and_the_pages_before_it_cover_the_conversation_once() {
    let tmp = TempDir::new("history-pages");
    let mut h = History::open(tmp.path()).expect("open");
    let start = Timestamp::from_second(1_700_000_000).expect("valid");
    // Two messages share each instant, so a page boundary falls inside a pair.
    numbered(&mut h, 1001, |id| {
        start + jiff::SignedDuration::from_secs(i64::try_from(id / 2).expect("small"))
    });
    let all = h.load(&key("bob")).expect("load");
    assert_eq!(all.len(), 1001);
    let mut shown = h.load_recent(&key("bob"), 100).expect("recent");
    assert_eq!(
        shown[..],
        all[all.len() - 100..],
        "the last 100, oldest first"
    );
    let mut pages = 0;
    loop {
        let before = shown[0].at;
        let page = h.load_before(&key("bob"), before, 100).expect("page");
        // What the chat does: drop what it shows already (those at the first instant).
        let older: Vec<_> = page
            .iter()
            .filter(|m| !shown.iter().any(|s| s.id == m.id))
            .cloned()
            .collect();
        shown.splice(0..0, older);
        pages += 1;
        if page.len() < 100 {
            break;
        }
        assert!(pages < 20, "paging ends");
    }
    assert_eq!(shown, all, "every message once, in order");
}

#[test]
fn the_path_a_message_came_over_is_kept_and_one_a_later_version_names_still_loads() {
    let tmp = TempDir::new("history-path");
    let mut h = History::open(tmp.path()).expect("open");
    let mut relayed = msg(
        2,
        Direction::In,
        "through the relay",
        MessageState::Received,
    );
    if let Record::Msg { path, .. } = &mut relayed {
        *path = Some(PathKind::Relay);
    }
    h.append(&key("bob"), &relayed);
    h.append(
        &key("bob"),
        &msg(3, Direction::In, "new", MessageState::Received),
    );
    h.commit().expect("commit");
    drop(h);
    // A later version wrote a kind of path this one does not know.
    let db = rusqlite::Connection::open(tmp.path().join(DB_FILE)).expect("the database");
    db.execute("UPDATE messages SET path = 'pigeon' WHERE id = 3", [])
        .expect("update");
    drop(db);
    let h = History::open_read(tmp.path()).expect("open");
    let loaded = h.load(&key("bob")).expect("load");
    let got: Vec<(&str, Option<PathKind>)> =
        loaded.iter().map(|m| (m.text.as_str(), m.path)).collect();
    assert_eq!(
        got,
        [("through the relay", Some(PathKind::Relay)), ("new", None)]
    );
}

#[test]
fn the_engine_starts_from_what_is_owed_and_the_last_received_only() {
    let tmp = TempDir::new("history-startup");
    let mut h = History::open(tmp.path()).expect("open");
    numbered(&mut h, 50, |_| {
        Timestamp::from_second(1_700_000_000).expect("valid")
    });
    h.append(
        &key("carol"),
        &msg(900, Direction::Out, "owed", MessageState::Queued),
    );
    h.append(
        &key("carol"),
        &msg(901, Direction::Out, "done", MessageState::Delivered),
    );
    h.append(
        &key("carol"),
        &msg(902, Direction::Out, "pending", MessageState::Pending),
    );
    h.commit().expect("commit");
    let start = h.startup(10).expect("startup");
    let summary: Vec<(String, Vec<u64>)> = start
        .iter()
        .map(|c| (c.key.to_string(), c.messages.iter().map(|m| m.id).collect()))
        .collect();
    assert_eq!(
        summary,
        [
            ("bob".to_owned(), (40..50).collect::<Vec<u64>>()),
            ("carol".to_owned(), vec![900, 902]),
        ]
    );
}

/// The lines the JSON-lines store wrote, as it wrote them.
fn jsonl(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).expect("json") + "\n")
        .collect()
}

#[test]
fn an_earlier_versions_files_are_read_in_once_and_left_as_they_were() {
    let tmp = TempDir::new("history-import");
    let dir = tmp.path();
    let files = dir.join("history");
    fs::create_dir_all(&files).expect("dir");
    let bob_file = conversation_path(&files, &key("bob"));
    let bob = jsonl(&[
        msg(1, Direction::Out, "hi", MessageState::Pending),
        msg(2, Direction::In, "hello 世界", MessageState::Received),
        Record::State {
            id: 1,
            state: MessageState::Delivered,
        },
        msg(3, Direction::Out, "still owed", MessageState::Queued),
        // Stored twice (sent again after a restart): kept once.
        msg(2, Direction::In, "hello 世界", MessageState::Received),
    ]) + r#"{"t":"msg","id":4,"dir":"in","peer":"127.0.0.1:9002","at":"2023-11-"#;
    fs::write(&bob_file, &bob).expect("write bob");
    let odd_file = conversation_path(&files, &key("Erin S./你好"));
    let odd = jsonl(&[msg(5, Direction::In, "odd name", MessageState::Received)]);
    fs::write(&odd_file, &odd).expect("write odd");
    let groups = dir.join("groups");
    fs::create_dir_all(&groups).expect("groups dir");
    let gid = qqchat::proto::group::GroupId::from_hex(&"ab".repeat(16)).expect("an id");
    let group_lines = jsonl_group(&[
        GroupRecord::Status {
            status: GroupStatus::Invited,
            at: Timestamp::from_second(1_700_000_000).expect("valid"),
        },
        GroupRecord::msg(
            b"signed bytes",
            Timestamp::from_second(1_700_000_001).expect("valid"),
        ),
    ]);
    fs::write(group_path(&groups, &gid), &group_lines).expect("write group");

    let h = History::open(dir).expect("open");
    let loaded = h.load(&key("bob")).expect("load");
    let summary: Vec<(u64, &str, MessageState)> = loaded
        .iter()
        .map(|m| (m.id, m.text.as_str(), m.state))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "hi", MessageState::Delivered),
            (2, "hello 世界", MessageState::Received),
            (3, "still owed", MessageState::Queued),
        ]
    );
    assert_eq!(texts(&h, &key("Erin S./你好")), ["odd name"]);
    let stored = h.groups().expect("groups");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, gid);
    assert_eq!(stored[0].status, GroupStatus::Invited);
    assert_eq!(stored[0].msgs[0].0, b"signed bytes");
    // Searchable at once, and what is owed is owed.
    assert_eq!(
        h.search(&Search {
            text: "世界".into(),
            limit: 10,
            ..Search::default()
        })
        .expect("search")
        .len(),
        1
    );
    let owed: Vec<u64> = h
        .startup(0)
        .expect("startup")
        .into_iter()
        .flat_map(|c| c.messages)
        .map(|m| m.id)
        .collect();
    assert_eq!(owed, [3]);
    drop(h);
    // Opened again (to write or to read), nothing is read in twice.
    let h = History::open(dir).expect("reopen");
    assert_eq!(h.load(&key("bob")).expect("load").len(), 3);
    assert_eq!(h.groups().expect("groups")[0].msgs.len(), 1);
    drop(h);
    assert_eq!(
        History::open_read(dir)
            .expect("read")
            .load(&key("bob"))
            .expect("load")
            .len(),
        3
    );
    // The files are as they were.
    assert_eq!(fs::read_to_string(&bob_file).expect("bob"), bob);
    assert_eq!(fs::read_to_string(&odd_file).expect("odd"), odd);
    assert_eq!(
        fs::read_to_string(group_path(&groups, &gid)).expect("group"),
        group_lines
    );
}

fn jsonl_group(records: &[GroupRecord]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).expect("json") + "\n")
        .collect()
}

#[test]
fn a_reader_of_an_unconverted_directory_reads_it_in_too() {
    let tmp = TempDir::new("history-import-read");
    let files = tmp.path().join("history");
    fs::create_dir_all(&files).expect("dir");
    fs::write(
        conversation_path(&files, &key("bob")),
        jsonl(&[msg(1, Direction::In, "old", MessageState::Received)]),
    )
    .expect("write");
    let h = History::open_read(tmp.path()).expect("read");
    assert_eq!(texts(&h, &key("bob")), ["old"]);
}

#[test]
fn the_requests_are_the_conversations_with_addresses_with_their_last_time_and_bytes() {
    let tmp = TempDir::new("history-requests");
    let mut h = History::open(tmp.path()).expect("open");
    for (conv, id, text) in [
        ("addr-127.0.0.1:5000", 1, "hi"),
        ("addr-127.0.0.1:5000", 2, "你好"),
        ("addr-[::1]:6000", 3, "x"),
        ("addrbook", 4, "a contact whose name starts like one"),
        ("bob", 5, "a contact"),
    ] {
        h.append(
            &key(conv),
            &msg(id, Direction::In, text, MessageState::Received),
        );
    }
    h.commit().expect("commit");
    let mut found = h.requests().expect("requests");
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let summary: Vec<(&str, u64)> = found.iter().map(|(k, _, b)| (k.as_str(), *b)).collect();
    assert_eq!(
        summary,
        [("addr-127.0.0.1:5000", 2 + 6), ("addr-[::1]:6000", 1)]
    );
}
