//! Files between two real chats, each in its own terminal (tmux), driven as a person would:
//! Ctrl-O and Tab to send, the offer answered from the list of transfers or the
//! conversation, and the files compared once they arrived.
// Test data is written here by hand; a bad value should fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use qqchat_testkit::{Person, Tmux, chat, friends};

/// Long enough for a few hundred KiB on loopback in a debug build on a busy machine.
const ARRIVES: Duration = Duration::from_secs(90);

/// Bytes that are not all alike, so a block in the wrong place would show.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

/// Sets `[me] downloads` to `dl` in the person's folder.
fn set_downloads(person: &Person) {
    let path = Path::new(&person.contacts()).to_path_buf();
    let text = std::fs::read_to_string(&path).unwrap();
    let dl = person.dir.path().join("dl");
    let text = text.replacen(
        "[me]\n",
        &format!("[me]\ndownloads = \"{}\"\n", dl.display()),
        1,
    );
    std::fs::write(&path, text).unwrap();
}

fn wait(tmux: &Tmux, needle: &str, limit: Duration) -> String {
    tmux.wait_within(needle, limit)
        .unwrap_or_else(|screen| panic!("never showed {needle:?}:\n{screen}"))
}

#[test]
fn a_file_and_a_folder_go_both_ways_between_two_chats_and_arrive_whole() {
    let (alice, bob) = friends("alice", "bob");
    set_downloads(&alice);
    set_downloads(&bob);
    let report = content(300_000, 1);
    std::fs::create_dir_all(alice.dir.path().join("send")).unwrap();
    std::fs::write(alice.dir.path().join("send/report.bin"), &report).unwrap();
    std::fs::create_dir_all(bob.dir.path().join("send/photos/2024")).unwrap();
    let photo = content(120_000, 7);
    std::fs::write(bob.dir.path().join("send/photos/a.txt"), b"hello\n").unwrap();
    std::fs::write(bob.dir.path().join("send/photos/2024/b.jpg"), &photo).unwrap();

    let Some(a) = chat(&alice, "files-alice") else {
        return;
    };
    let Some(b) = chat(&bob, "files-bob") else {
        return;
    };
    // With one contact each, the conversation is open and the keys are in the input.
    wait(&a, "online", ARRIVES);
    wait(&b, "online", ARRIVES);

    // Alice: Ctrl-O, a path completed with Tab, Enter.
    a.keys(&["C-o"]);
    wait(&a, "Send to bob", ARRIVES);
    a.keys(&["-l", "send/rep"]);
    a.keys(&["Tab"]);
    wait(&a, "send/report.bin", ARRIVES);
    a.keys(&["Enter"]);
    wait(&a, "report.bin · 293.0 KiB", ARRIVES);

    // Bob: the offer is said, and answered from the list of transfers.
    wait(&b, "alice offers report.bin", ARRIVES);
    b.keys(&["C-t"]);
    wait(&b, "from alice · report.bin", ARRIVES);
    b.keys(&["y"]);
    let dl = bob.dir.path().join("dl").display().to_string();
    wait(&b, &dl, ARRIVES);
    b.keys(&["Enter"]);
    b.keys(&["Escape"]);
    wait(&a, "verified by bob", ARRIVES);
    wait(&b, "saved as", ARRIVES);
    let got = std::fs::read(bob.dir.path().join("dl/report.bin")).unwrap();
    assert!(got == report, "report.bin arrived changed");

    // Bob sends a folder back; Alice answers in the conversation pane.
    b.keys(&["C-o"]);
    wait(&b, "Send to alice", ARRIVES);
    b.keys(&["-l", "send/photos"]);
    b.keys(&["Enter"]);
    wait(&a, "bob offers the folder photos/", ARRIVES);
    // Its files are offered one by one: the item counts them as they come.
    wait(&a, "photos/ · 2 files", ARRIVES);
    a.keys(&["BTab"]);
    wait(&a, "y accept file", ARRIVES);
    a.keys(&["y"]);
    wait(&a, "Accept a file", ARRIVES);
    a.keys(&["Enter"]);
    wait(&b, "verified by alice", ARRIVES);
    wait(&a, "saved in", ARRIVES);
    let dl = alice.dir.path().join("dl/photos");
    assert_eq!(std::fs::read(dl.join("a.txt")).unwrap(), b"hello\n");
    assert!(std::fs::read(dl.join("2024/b.jpg")).unwrap() == photo);

    a.keys(&["C-c"]);
    b.keys(&["C-c"]);
}
