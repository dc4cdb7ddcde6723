//! Loading a long history: what the chat does at start.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use qqchat::store::{ConversationKey, Direction, History, MessageState, Record};

/// Writes `n` messages, alternating directions, with every outgoing one later delivered.
fn make_history(n: u64) -> (PathBuf, History) {
    let dir = std::env::temp_dir().join(format!("qqchat-bench-history-{n}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut h = History::open(&dir).expect("history dir");
    let at = Timestamp::from_second(1_700_000_000).expect("valid");
    for id in 0..n {
        let out = id % 2 == 0;
        h.append(
            &ConversationKey::contact("bob"),
            &Record::Msg {
                id,
                dir: if out { Direction::Out } else { Direction::In },
                peer: "127.0.0.1:9002".into(),
                path: None,
                at,
                sent_at: None,
                text: format!("message number {id}, with a little text to make it typical"),
                plain: false,
                state: if out {
                    MessageState::Pending
                } else {
                    MessageState::Received
                },
            },
        );
        if out {
            h.append(
                &ConversationKey::contact("bob"),
                &Record::State {
                    id,
                    state: MessageState::Delivered,
                },
            );
        }
    }
    h.commit().expect("commit");
    (dir, h)
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("history");
    group.sample_size(10);
    for n in [100_000u64, 1_000_000] {
        let (dir, h) = make_history(n);
        group.bench_function(format!("load {n}"), |b| {
            b.iter(|| {
                let messages = h.load(&ConversationKey::contact("bob")).expect("load");
                assert_eq!(messages.len() as u64, n);
            });
        });
        let _ = std::fs::remove_dir_all(dir);
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
