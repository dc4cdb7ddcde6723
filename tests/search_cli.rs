//! `qqchat search` and `qqchat export` on a real history, read beside the `listen` that
//! writes it.

use qqchat_testkit::{friends, run, text};
use serde_json::Value;

#[test]
fn search_and_export_read_beside_a_running_listen() {
    let (alice, bob) = friends("alice", "bob");
    let mut listening = bob.listen();
    for message in ["你好世界", "lunch at noon?", "noon is fine"] {
        let out = run(
            &alice.dir,
            &["--contacts", &alice.contacts(), "send", "bob", message],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let bob_run = |args: &[&str]| {
        let mut all = vec!["--contacts", bob.contacts().leak()];
        all.extend_from_slice(args);
        run(&bob.dir, &all, None)
    };

    // Beside the running writer: two Chinese characters inside a longer text.
    let out = bob_run(&["search", "世界", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["text"], "你好世界");
    assert_eq!(hits[0]["conversation"], "alice");
    assert_eq!(hits[0]["from"], "alice");

    let out = bob_run(&["search", "NOON", "--contact", "alice"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    let found: Vec<&str> = lines.lines().collect();
    assert_eq!(found.len(), 2, "{lines}");
    assert!(
        found[0].ends_with("(alice) alice: noon is fine"),
        "newest first: {lines}"
    );
    assert!(
        found[1].ends_with("(alice) alice: lunch at noon?"),
        "{lines}"
    );
    let out = bob_run(&["search", "noon", "--rank", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);

    let out = bob_run(&["search", "nowhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nothing found"));

    let out = bob_run(&["search", "noon", "--contact", "zed"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no conversation with \"zed\"")
            && text(&out.stderr).contains("alice"),
        "{}",
        text(&out.stderr)
    );
    let out = bob_run(&["search", "noon", "--since", "last tuesday"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("a date like 2026-11-30"),
        "{}",
        text(&out.stderr)
    );
    // A date in the future finds nothing; an age that covers now finds all.
    let out = bob_run(&["search", "noon", "--since", "2999-01-01"]);
    assert_eq!(out.status.code(), Some(1));
    let out = bob_run(&["search", "noon", "--since", "1h"]);
    assert_eq!(text(&out.stdout).lines().count(), 2);

    let out = bob_run(&["export", "--format", "txt"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let txt = text(&out.stdout);
    let lines: Vec<&str> = txt.lines().collect();
    assert_eq!(lines[0], "== alice ==");
    assert!(lines[1].ends_with("alice: 你好世界"), "{txt}");
    assert!(lines[3].ends_with("alice: noon is fine"), "{txt}");

    let out = bob_run(&["export", "--contact", "alice"]);
    let json: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(json.len(), 3);
    assert_eq!(json[2]["text"], "noon is fine");
    assert_eq!(json[2]["conversation"], "alice");
    listening.child.terminate();
}
