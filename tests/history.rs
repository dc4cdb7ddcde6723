//! The history files: durable, append-only, readable, and forgiving of a torn last line.

use std::fs;
use std::io::Write;

use jiff::Timestamp;
use qqchat::proto::PathKind;
use qqchat::store::{ConversationKey, Direction, History, MessageState, Record};
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

/// Leaves half a record with no newline at the end of a conversation's file, as a writer
/// that died half way through a write does.
fn tear(h: &History, key: &ConversationKey) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(h.path(key))
        .expect("open file");
    f.write_all(br#"{"t":"msg","id":2,"dir":"in","peer":"127.0.0.1:9002","at":"2023-11-"#)
        .expect("write");
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
fn a_record_appended_after_another_writers_torn_line_is_not_lost() {
    let tmp = TempDir::new("history-torn-live");
    let dir = tmp.path();
    let mut h = History::open(dir).expect("open");
    h.append(
        &key("bob"),
        &msg(1, Direction::In, "first", MessageState::Received),
    );
    h.commit().expect("commit");
    // While this writer keeps running, another one (a second process on the same data
    // directory) dies half way through its record.
    tear(&h, &key("bob"));
    h.append(
        &key("bob"),
        &msg(3, Direction::In, "second", MessageState::Received),
    );
    h.commit().expect("commit");
    let texts = texts(&h, &key("bob"));
    assert_eq!(texts, vec!["first", "second"]);
}

#[test]
fn a_torn_last_line_is_skipped_and_not_glued_to_the_next_record() {
    let tmp = TempDir::new("history-torn");
    let dir = tmp.path();
    let mut h = History::open(dir).expect("open");
    h.append(
        &key("bob"),
        &msg(1, Direction::In, "whole", MessageState::Received),
    );
    h.commit().expect("commit");
    // A crash in the middle of a write leaves half a record and no newline.
    tear(&h, &key("bob"));
    assert_eq!(
        h.load(&key("bob")).expect("load").len(),
        1,
        "torn line skipped"
    );
    // After a restart the next record starts on its own line.
    let mut h = History::open(dir).expect("reopen");
    h.append(
        &key("bob"),
        &msg(3, Direction::In, "after", MessageState::Received),
    );
    h.commit().expect("commit");
    let texts = texts(&h, &key("bob"));
    assert_eq!(texts, vec!["whole", "after"]);
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
fn keys_survive_any_name_and_files_are_readable_json_lines() {
    let tmp = TempDir::new("history-keys");
    let dir = tmp.path();
    let mut h = History::open(dir).expect("open");
    for key in ["bob", "Erin S.", "addr-[::1]:9002", "../escape", "你好"] {
        h.append(
            &ConversationKey::new(key),
            &msg(1, Direction::In, "x", MessageState::Received),
        );
    }
    h.commit().expect("commit");
    let mut want = vec!["../escape", "Erin S.", "addr-[::1]:9002", "bob", "你好"];
    want.sort_unstable();
    let keys = h.keys().expect("keys");
    assert_eq!(
        keys.iter().map(ConversationKey::as_str).collect::<Vec<_>>(),
        want
    );
    for entry in fs::read_dir(h.dir()).expect("dir") {
        let path = entry.expect("entry").path();
        assert_eq!(
            path.parent(),
            Some(h.dir()),
            "no file escapes the history dir"
        );
        let text = fs::read_to_string(&path).expect("read");
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
        }
    }
    h.rename(&key("bob"), &key("robert")).expect("rename");
    assert_eq!(h.load(&key("robert")).expect("load").len(), 1);
    assert!(h.load(&key("bob")).expect("load").is_empty());
    // Renaming onto an existing conversation merges, never overwrites.
    h.append(
        &key("Erin S."),
        &msg(2, Direction::In, "y", MessageState::Received),
    );
    h.commit().expect("commit");
    h.rename(&key("robert"), &key("Erin S.")).expect("merge");
    assert_eq!(h.load(&key("Erin S.")).expect("load").len(), 2);
}

#[test]
fn two_writers_on_one_file_do_not_corrupt_it() {
    let tmp = TempDir::new("history-writers");
    let dir = tmp.path();
    let handles: Vec<_> = (0..2u64)
        .map(|w| {
            let dir = dir.to_path_buf();
            std::thread::spawn(move || {
                let mut h = History::open(&dir).expect("open");
                for i in 0..200 {
                    let text = format!("writer {w} message {i} {}", "x".repeat(300));
                    h.append(
                        &key("bob"),
                        &msg(w * 1000 + i, Direction::In, &text, MessageState::Received),
                    );
                    h.commit().expect("commit");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer");
    }
    let h = History::open(dir).expect("open");
    assert_eq!(h.load(&key("bob")).expect("load").len(), 400);
}

#[test]
fn the_last_part_of_a_long_conversation_reads_whole_lines_only() {
    let tmp = TempDir::new("history-last");
    let dir = tmp.path();
    let mut h = History::open(dir).expect("open");
    for id in 0..1000 {
        h.append(
            &key("bob"),
            &msg(
                id,
                Direction::In,
                &format!("message {id}"),
                MessageState::Received,
            ),
        );
    }
    h.commit().expect("commit");
    let all = h.load(&key("bob")).expect("load");
    let last = h.load_last(&key("bob"), 4096).expect("load last");
    assert!(
        last.len() > 10 && last.len() < 100,
        "{} messages",
        last.len()
    );
    assert_eq!(
        last[..],
        all[all.len() - last.len()..],
        "a suffix, no torn first line"
    );
    assert_eq!(h.load_last(&key("bob"), u64::MAX).expect("all"), all);
}

#[test]
fn the_path_a_message_came_over_is_kept_and_older_lines_without_it_still_load() {
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
    h.commit().expect("commit");
    let file = h.path(&key("bob"));
    let written = fs::read_to_string(&file).expect("read");
    assert!(written.contains("\"path\":\"relay\""), "{written}");
    // A line from before paths were kept, and one from a later version with a kind this
    // one does not know: both load, without a path.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .expect("open the file");
    f.write_all(
        b"{\"t\":\"msg\",\"id\":1,\"dir\":\"in\",\"peer\":\"127.0.0.1:9002\",\
          \"at\":\"2023-11-14T22:13:20Z\",\"text\":\"old\",\"state\":\"received\"}\n\
          {\"t\":\"msg\",\"id\":3,\"dir\":\"in\",\"peer\":\"127.0.0.1:9002\",\"path\":\"pigeon\",\
          \"at\":\"2023-11-14T22:13:20Z\",\"text\":\"new\",\"state\":\"received\"}\n",
    )
    .expect("append");
    let loaded = h.load(&key("bob")).expect("load");
    let got: Vec<(&str, Option<PathKind>)> =
        loaded.iter().map(|m| (m.text.as_str(), m.path)).collect();
    assert_eq!(
        got,
        [
            ("through the relay", Some(PathKind::Relay)),
            ("old", None),
            ("new", None),
        ]
    );
}
