//! Groups between real qqchats on loopback: `group create` and `send` to the group from a
//! creator with nothing running, into three `listen --json --accept-groups`; a member whose
//! listen was down catches up when it is back, in order; and `history` of the group.

use std::time::Duration;

use qqchat_testkit::{Person, Running, qqchat, run_within, text};

/// Everyone has everyone else as a contact.
fn circle(names: &[&'static str]) -> Vec<Person> {
    let people: Vec<Person> = names.iter().map(|n| Person::new(n)).collect();
    let ids: Vec<String> = people.iter().map(Person::id).collect();
    for (i, p) in people.iter().enumerate() {
        for (j, id) in ids.iter().enumerate() {
            if i != j {
                p.add(id);
            }
        }
    }
    people
}

fn listen_groups(p: &Person) -> Running {
    let mut command = qqchat(p.dir.path());
    command.args([
        "--contacts",
        &p.contacts(),
        "listen",
        "--json",
        "--accept-groups",
    ]);
    let running = Running::start(command);
    running.wait_ready("listening on");
    running
}

fn qq(p: &Person, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--contacts".to_owned(), p.contacts()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    run_within(&p.dir, &all, None, Duration::from_secs(60))
}

/// The next JSON line with a group message, within `limit`.
fn next_message(listen: &Running, limit: Duration) -> serde_json::Value {
    let line = listen
        .stdout
        .wait_for("\"group\":", limit)
        .unwrap_or_else(|seen| panic!("no group message; the listen printed {seen:#?}"));
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn a_group_message_reaches_every_member_and_a_late_one_catches_up() {
    let people = circle(&["alice", "bob", "carol", "dave"]);
    let [alice, bob, carol, dave] = people.as_slice() else {
        unreachable!()
    };
    let listens: Vec<Running> = [bob, carol, dave]
        .iter()
        .map(|p| listen_groups(p))
        .collect();

    let out = qq(alice, &["group", "create", "team", "bob", "carol", "dave"]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("delivered to 3/3 members"), "{said}");
    let id = text(&out.stdout)
        .split("(id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the group's id in the answer")
        .to_owned();

    let out = qq(alice, &["send", "team", "hello team"]);
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("delivered to 3/3 members"), "{said}");
    for listen in &listens {
        let m = next_message(listen, Duration::from_secs(20));
        assert_eq!(m["group"]["name"], "team", "{m}");
        assert_eq!(m["group"]["id"], id.as_str(), "{m}");
        assert_eq!(m["from"], "alice", "{m}");
        assert_eq!(m["text"], "hello team", "{m}");
    }

    // Dave's listen stops; two messages are written while it is down.
    let mut listens = listens;
    drop(listens.pop());
    let out = qq(
        alice,
        &["send", "--timeout", "3", "team", "first while dave is away"],
    );
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("delivered to 2/3 members"), "{said}");
    assert!(said.contains("dave will get it"), "{said}");
    // Bob writes the second through his running listen, by a prefix of the group's id.
    let out = qq(
        bob,
        &[
            "send",
            "--timeout",
            "3",
            &id[..8],
            "second while dave is away",
        ],
    );
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    for (listen, from) in listens.iter().zip(["bob", "carol"]) {
        let m = next_message(listen, Duration::from_secs(20));
        assert_eq!(m["text"], "first while dave is away", "{from}: {m}");
    }
    let m = next_message(&listens[1], Duration::from_secs(20));
    assert_eq!(m["text"], "second while dave is away", "{m}");
    assert_eq!(m["from"], "bob", "{m}");

    // Back: dave's listen is told what it missed by the members online, in order.
    let dave_listens = listen_groups(dave);
    let first = next_message(&dave_listens, Duration::from_secs(30));
    let second = next_message(&dave_listens, Duration::from_secs(30));
    assert_eq!(first["text"], "first while dave is away", "{first}");
    assert_eq!(first["from"], "alice", "{first}");
    assert_eq!(second["text"], "second while dave is away", "{second}");
    assert_eq!(second["from"], "bob", "{second}");
    assert_eq!(second["group"]["id"], id.as_str(), "{second}");

    let out = qq(carol, &["history", "team"]);
    let kept = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<&str> = kept.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in the history: {kept}"))
    };
    assert!(at("alice: hello team") < at("alice: first while dave is away"));
    assert!(at("alice: first while dave is away") < at("bob: second while dave is away"));
    assert!(
        at("created the group team") < at("alice: hello team"),
        "{kept}"
    );

    // Search finds the group's messages too, beside the running listen, newest first.
    let out = qq(carol, &["search", "WHILE", "away"]);
    let found = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let found: Vec<&str> = found.lines().collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].ends_with("(# team) bob: second while dave is away"),
        "{found:?}"
    );
    assert!(
        found[1].ends_with("(# team) alice: first while dave is away"),
        "{found:?}"
    );

    let out = qq(carol, &["group", "list"]);
    let listed = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(listed.contains("team"), "{listed}");
    assert!(listed.contains(&id[..8]), "{listed}");
    assert!(listed.contains("joined"), "{listed}");
    assert!(listed.contains("3 messages"), "{listed}");
    drop(dave_listens);
}

#[test]
fn an_invitation_waits_to_be_accepted_and_the_bot_answers_in_the_group() {
    let people = circle(&["alice", "bob", "bot"]);
    let [alice, bob, bot] = people.as_slice() else {
        unreachable!()
    };
    let bob_listens = bob.listen();
    let mut command = qqchat(bot.dir.path());
    command.args(["--contacts", &bot.contacts(), "bot"]);
    let bot_runs = Running::start(command);
    bot_runs.wait_ready("answering on");

    let out = qq(alice, &["group", "create", "crew", "bob", "bot"]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("delivered to 2/2 members"), "{said}");

    // A plain listen joins nothing by itself: it says how.
    let line = bob_listens
        .stdout
        .wait_for("qqchat group accept", Duration::from_secs(20))
        .unwrap_or_else(|seen| panic!("no invitation; bob saw {seen:#?}"));
    assert!(line.contains("[crew] alice invites you"), "{line}");
    // Answered through bob's running listen.
    let out = qq(bob, &["group", "accept", "crew"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = qq(bob, &["group", "accept", "crew"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("already joined"),
        "{}",
        text(&out.stderr)
    );

    let out = qq(alice, &["send", "crew", "bot: ping"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = bob_listens
        .stdout
        .wait_for("[crew] alice: bot: ping", Duration::from_secs(20))
        .unwrap_or_else(|seen| panic!("no message; bob saw {seen:#?}"));
    assert!(!line.is_empty());
    bob_listens
        .stdout
        .wait_for("[crew] bot: alice: PING", Duration::from_secs(20))
        .unwrap_or_else(|seen| panic!("the bot did not answer in the group; bob saw {seen:#?}"));

    // Only the creator takes members out.
    let out = qq(bob, &["group", "remove", "crew", "bot"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("only the creator"),
        "{}",
        text(&out.stderr)
    );
    let out = qq(alice, &["group", "remove", "crew", "bot"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = qq(alice, &["group", "list"]);
    let listed = text(&out.stdout);
    let members = listed
        .split("members: ")
        .nth(1)
        .expect("the members in the list");
    let mut members: Vec<&str> = members.trim().split(", ").collect();
    members.sort_unstable();
    assert_eq!(members, ["bob", "you"], "{listed}");
}

#[test]
fn a_contact_away_when_the_group_was_made_is_invited_when_back() {
    let people = circle(&["alice", "bob", "carol"]);
    let [alice, bob, carol] = people.as_slice() else {
        unreachable!()
    };
    let bob_listens = listen_groups(bob);
    // Carol is away: her invitation cannot arrive yet.
    let out = qq(
        alice,
        &["group", "create", "--timeout", "2", "later", "bob", "carol"],
    );
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("delivered to 1/2 members"), "{said}");
    assert!(said.contains("carol will get it"), "{said}");
    let mut command = qqchat(alice.dir.path());
    command.args(["--contacts", &alice.contacts(), "listen"]);
    let alice_listens = Running::start(command);
    alice_listens.wait_ready("listening on");
    let out = qq(
        alice,
        &["send", "--timeout", "3", "later", "before carol came"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    next_message(&bob_listens, Duration::from_secs(20));

    // Back: the creator's running listen invites her, and she catches up.
    let carol_listens = listen_groups(carol);
    let m = next_message(&carol_listens, Duration::from_secs(30));
    assert_eq!(m["text"], "before carol came", "{m}");
    assert_eq!(m["group"]["name"], "later", "{m}");
}
