//! A group among three real chats, each in its own terminal (tmux), driven as people would:
//! one makes the group with Ctrl-G, the others accept the invitation, they talk; one quits,
//! misses messages, comes back and sees them, in order.
// Test data is written here by hand; a bad value should fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use qqchat_testkit::{Person, Tmux, chat};

/// Long enough for a debug build on a busy machine.
const ARRIVES: Duration = Duration::from_secs(60);

fn wait(tmux: &Tmux, needle: &str) -> String {
    tmux.wait_within(needle, ARRIVES)
        .unwrap_or_else(|screen| panic!("never showed {needle:?}:\n{screen}"))
}

/// Types `text` in the open conversation and sends it.
fn say(tmux: &Tmux, text: &str) {
    tmux.keys(&["-l", text]);
    tmux.keys(&["Enter"]);
}

/// Opens the group in the contact list (after the contacts) and answers its invitation.
fn accept(tmux: &Tmux) {
    wait(tmux, "invited");
    tmux.keys(&["Escape"]);
    tmux.keys(&["G"]);
    tmux.keys(&["Enter"]);
    wait(tmux, "y join");
    tmux.keys(&["y"]);
}

/// Where each line of `needles` is on the screen, in order, or a panic with the screen.
fn in_order(screen: &str, needles: &[&str]) {
    let at: Vec<Option<usize>> = needles.iter().map(|n| screen.find(n)).collect();
    let found: Vec<usize> = at.iter().flatten().copied().collect();
    assert!(
        found.len() == needles.len() && found.windows(2).all(|w| w[0] < w[1]),
        "not all of {needles:?} in order ({at:?}):\n{screen}"
    );
}

#[test]
fn three_chats_hold_a_group_and_one_back_from_away_sees_what_it_missed_in_order() {
    let (alice, bob, carol) = (
        Person::new("alice"),
        Person::new("bob"),
        Person::new("carol"),
    );
    for (p, others) in [
        (&alice, [&bob, &carol]),
        (&bob, [&alice, &carol]),
        (&carol, [&alice, &bob]),
    ] {
        for o in others {
            p.add(&o.id());
        }
    }
    let Some(a) = chat(&alice, "group-alice") else {
        return;
    };
    let Some(b) = chat(&bob, "group-bob") else {
        return;
    };
    let Some(c) = chat(&carol, "group-carol") else {
        return;
    };
    for (t, others) in [
        (&a, ["bob", "carol"]),
        (&b, ["alice", "carol"]),
        (&c, ["alice", "bob"]),
    ] {
        for o in others {
            wait(t, &format!("● {o}"));
        }
    }

    // Alice: Ctrl-G, the name, both contacts ticked, Enter.
    a.keys(&["C-g"]);
    wait(&a, "New group");
    a.keys(&["-l", "hikers"]);
    a.keys(&["Tab"]);
    a.keys(&["Space"]);
    a.keys(&["Down"]);
    a.keys(&["Space"]);
    a.keys(&["Enter"]);
    wait(&a, "hikers");

    accept(&b);
    accept(&c);
    wait(&a, "3 members");

    // Alice writes; both see it, and her mark counts both.
    // Making the group opened it, ready to type.
    say(&a, "trail opens at 9");
    wait(&b, "trail opens at 9");
    wait(&c, "trail opens at 9");
    wait(&a, "✓ 2/2");

    // Carol quits; alice and bob go on without her.
    c.keys(&["C-c"]);
    std::thread::sleep(Duration::from_secs(1));
    drop(c);
    say(&b, "bringing the map");
    wait(&a, "bringing the map");
    say(&a, "meet at the gate");
    wait(&b, "meet at the gate");
    say(&b, "see you there");
    let screen = wait(&a, "see you there");
    let line = screen
        .lines()
        .find(|l| l.contains("meet at the gate"))
        .unwrap();
    assert!(line.contains("✓ 1/2"), "carol is away:\n{screen}");

    // Carol is back: she sees what she missed, in the order it was said.
    let c = chat(&carol, "group-carol").unwrap();
    wait(&c, "● alice");
    c.keys(&["G"]);
    c.keys(&["Enter"]);
    let screen = wait(&c, "see you there");
    in_order(
        &screen,
        &[
            "trail opens at 9",
            "bringing the map",
            "meet at the gate",
            "see you there",
        ],
    );
    assert!(!screen.contains("earlier messages missing"), "{screen}");
    // And alice learns that carol has them now: her mark on what carol missed counts both.
    let end = std::time::Instant::now() + ARRIVES;
    loop {
        let screen = a.screen();
        let line = screen
            .lines()
            .find(|l| l.contains("meet at the gate"))
            .unwrap_or_default()
            .to_owned();
        if line.contains("✓ 2/2") {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "alice never saw carol get it:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
