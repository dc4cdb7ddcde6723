//! Full-text search over the history and exporting it: any part of a word in any script
//! (Chinese without spaces included), every word required, best matches first, filters by
//! conversation and date, and query text never read as query syntax.

use jiff::{SignedDuration, Timestamp};
use qqchat::store::{ConversationKey, Direction, History, MessageState, Order, Record, Search};
use qqchat_testkit::TempDir;

fn key(name: &str) -> ConversationKey {
    ConversationKey::new(name)
}

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000).expect("valid") + SignedDuration::from_mins(minutes)
}

/// A history with these `(conversation, minutes, text)` messages, ids in order.
fn history(tmp: &TempDir, messages: &[(&str, i64, &str)]) -> History {
    let mut h = History::open(tmp.path()).expect("open");
    for (id, (conv, minutes, text)) in messages.iter().enumerate() {
        h.append(
            &key(conv),
            &Record::Msg {
                id: id as u64,
                dir: if id % 2 == 0 {
                    Direction::In
                } else {
                    Direction::Out
                },
                peer: "127.0.0.1:9002".into(),
                path: None,
                at: at(*minutes),
                sent_at: None,
                text: (*text).to_owned(),
                plain: false,
                state: if id % 2 == 0 {
                    MessageState::Received
                } else {
                    MessageState::Delivered
                },
            },
        );
    }
    h.commit().expect("commit");
    h
}

fn find(h: &History, text: &str) -> Vec<String> {
    found(h, &search(text))
}

fn search(text: &str) -> Search {
    Search {
        text: text.into(),
        limit: 50,
        ..Search::default()
    }
}

fn found(h: &History, search: &Search) -> Vec<String> {
    h.search(search)
        .expect("search")
        .into_iter()
        .map(|hit| hit.message.text)
        .collect()
}

#[test]
fn chinese_is_found_inside_text_without_spaces() {
    let tmp = TempDir::new("search-cjk");
    let h = history(
        &tmp,
        &[
            ("bob", 0, "你好世界"),
            ("bob", 1, "世界很大"),
            ("bob", 2, "你好"),
            ("carol", 3, "明天见，朋友们"),
            ("carol", 4, "hello world"),
        ],
    );
    // Two characters: shorter than a trigram, found by the scan.
    assert_eq!(find(&h, "世界"), ["世界很大", "你好世界"]);
    // Three: through the index.
    assert_eq!(find(&h, "明天见"), ["明天见，朋友们"]);
    assert_eq!(find(&h, "好世界"), ["你好世界"]);
    assert_eq!(find(&h, "再见"), Vec::<String>::new());
}

#[test]
fn any_part_of_a_word_in_any_case_and_every_word_is_required() {
    let tmp = TempDir::new("search-words");
    let h = history(
        &tmp,
        &[
            ("bob", 0, "Lunch at Noon tomorrow?"),
            ("bob", 1, "noonish works"),
            ("bob", 2, "dinner at eight"),
            ("bob", 3, "lunch is cancelled"),
        ],
    );
    let mut noon = find(&h, "NOON");
    noon.sort();
    assert_eq!(noon, ["Lunch at Noon tomorrow?", "noonish works"]);
    assert_eq!(find(&h, "lunch noon"), ["Lunch at Noon tomorrow?"]);
    // A short word with a long one: both must be there.
    assert_eq!(find(&h, "at lunch"), ["Lunch at Noon tomorrow?"]);
    assert_eq!(find(&h, "   "), Vec::<String>::new());
}

#[test]
fn best_matches_come_first_and_newest_when_asked() {
    let tmp = TempDir::new("search-rank");
    let h = history(
        &tmp,
        &[
            ("bob", 0, "pizza pizza pizza"),
            (
                "bob",
                1,
                "a long message that mentions pizza once among many other words about the day",
            ),
            ("bob", 2, "pizza tonight"),
        ],
    );
    let ranked = find(&h, "pizza");
    assert_eq!(ranked[0], "pizza pizza pizza", "{ranked:?}");
    assert_eq!(
        ranked[2],
        "a long message that mentions pizza once among many other words about the day"
    );
    let newest = found(
        &h,
        &Search {
            order: Order::Newest,
            ..search("pizza")
        },
    );
    assert_eq!(newest[0], "pizza tonight");
    assert_eq!(newest[2], "pizza pizza pizza");
}

#[test]
fn a_conversation_and_a_date_narrow_the_search_and_the_limit_holds() {
    let tmp = TempDir::new("search-filters");
    let h = history(
        &tmp,
        &[
            ("bob", 0, "meet at the station"),
            ("carol", 10, "meet at the park"),
            ("bob", 20, "meet later"),
            ("dave", 30, "meet me"),
        ],
    );
    let only_bob = found(
        &h,
        &Search {
            conversations: vec![key("bob")],
            order: Order::Newest,
            ..search("meet")
        },
    );
    assert_eq!(only_bob, ["meet later", "meet at the station"]);
    let since = found(
        &h,
        &Search {
            since: Some(at(10)),
            order: Order::Newest,
            ..search("meet")
        },
    );
    assert_eq!(since, ["meet me", "meet later", "meet at the park"]);
    let two = found(
        &h,
        &Search {
            limit: 2,
            order: Order::Newest,
            ..search("meet")
        },
    );
    assert_eq!(two, ["meet me", "meet later"]);
    let hits = h.search(&search("station")).expect("search");
    assert_eq!(hits[0].key, key("bob"));
    assert_eq!(hits[0].message.at, at(0));
}

#[test]
fn query_syntax_in_the_words_is_taken_as_text() {
    let tmp = TempDir::new("search-syntax");
    let h = history(
        &tmp,
        &[
            ("bob", 0, "he said \"hi\" (twice) OR more"),
            ("bob", 1, "100% sure_thing \\o/"),
            ("bob", 2, "NEAR the end*"),
        ],
    );
    for (query, want) in [
        ("\"hi\"", "he said \"hi\" (twice) OR more"),
        ("(twice)", "he said \"hi\" (twice) OR more"),
        ("OR", "he said \"hi\" (twice) OR more"),
        ("100%", "100% sure_thing \\o/"),
        ("_thing", "100% sure_thing \\o/"),
        ("\\o/", "100% sure_thing \\o/"),
        ("end*", "NEAR the end*"),
        ("NEAR(", ""),
    ] {
        let got = find(&h, query);
        let want: Vec<String> = Some(want)
            .filter(|w| !w.is_empty())
            .map(String::from)
            .into_iter()
            .collect();
        assert_eq!(got, want, "query {query:?}");
    }
    // `%` and `_` in a short word are literal, not wildcards.
    assert_eq!(find(&h, "%"), ["100% sure_thing \\o/"]);
    assert_eq!(find(&h, "_"), ["100% sure_thing \\o/"]);
}

#[test]
fn export_streams_each_conversation_in_time_order_with_filters() {
    let tmp = TempDir::new("search-export");
    let h = history(
        &tmp,
        &[
            ("carol", 5, "c1"),
            ("bob", 0, "b1"),
            ("bob", 10, "b2"),
            ("carol", 15, "c2"),
        ],
    );
    let collect = |convs: &[ConversationKey], since: Option<Timestamp>| {
        let mut out = Vec::new();
        h.export::<qqchat::store::StoreError>(convs, since, |key, m| {
            out.push(format!("{key}:{}", m.text));
            Ok(())
        })
        .expect("export");
        out
    };
    assert_eq!(
        collect(&[], None),
        ["bob:b1", "bob:b2", "carol:c1", "carol:c2"]
    );
    assert_eq!(collect(&[key("carol")], None), ["carol:c1", "carol:c2"]);
    assert_eq!(collect(&[], Some(at(10))), ["bob:b2", "carol:c2"]);
    assert_eq!(h.count_received_after(&key("bob"), None).expect("count"), 1);
    // b1 was sent (odd ids are), b2 came in at 10.
    assert_eq!(
        h.count_received_after(&key("bob"), Some(at(0)))
            .expect("count"),
        1
    );
    assert_eq!(
        h.count_received_after(&key("bob"), Some(at(10)))
            .expect("count"),
        0
    );
}
