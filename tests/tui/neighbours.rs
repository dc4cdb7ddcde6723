//! People found on this network: listed apart from contacts, spoken to like a contact, added
//! to contacts with `a`, gone when they say goodbye.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use qqchat::app::{Effect, Focus, Part};
use qqchat::contacts::Contact;
use qqchat::engine::{Command, EngineEvent};
use qqchat::proto::PeerId;
use qqchat::store::ConversationKey;
use unicode_width::UnicodeWidthStr;

use crate::support::{
    ALICE_KEY, BOB, LAPTOP, LAPTOP_KEY, WANG, addr, app, app_sized, at, book, found, iptux, listed,
    open, press, prompt_text, qqchat_neighbour, screen, send, type_text, with_contacts,
};

/// The app of `support::app` with a keyed qqchat and an iptux user on this network.
fn app_with_neighbours(width: u16, height: u16) -> qqchat::app::App {
    let mut app = app_sized(width, height);
    found(
        &mut app,
        qqchat_neighbour("alice-laptop", LAPTOP, Some(LAPTOP_KEY)),
    );
    found(&mut app, iptux("王小明", "研发部", WANG, false));
    app
}

fn gone(peer: PeerId) -> EngineEvent {
    EngineEvent::NeighbourGone { peer }
}

fn wang() -> PeerId {
    PeerId::addr(addr(WANG))
}

#[test]
fn snapshot_neighbours_listed_on_this_network() {
    let mut app = app_with_neighbours(100, 16);
    found(&mut app, iptux("老李", "", "192.168.1.31:2425", true));
    let mut feiq = iptux(
        "Li",
        "Engineering and Operations",
        "192.168.1.32:2425",
        true,
    );
    if let qqchat::engine::NeighbourKind::IpMsg { client, .. } = &mut feiq.kind {
        *client = "Feiq";
    }
    found(&mut app, feiq);
    assert_eq!(
        listed(&app),
        [
            "alice",
            "bob",
            "pyscript",
            "alice-laptop",
            "王小明",
            "老李",
            "Li"
        ]
    );
    assert_snapshot!(screen(&app, 100, 16));
}

#[test]
fn snapshot_neighbours_at_60_columns() {
    let mut app = app_with_neighbours(60, 14);
    press(&mut app, KeyCode::End);
    assert_snapshot!(screen(&app, 60, 14));
}

#[test]
fn neighbour_marks_are_styled() {
    let app = app_with_neighbours(100, 14);
    let terminal = crate::support::draw(&app, 100, 14);
    let buffer = terminal.backend().buffer();
    let row = |y: u16| -> String { (0..25).map(|x| buffer[(x, y)].symbol()).collect() };
    let find = |y: u16, text: &str| -> u16 {
        let at = row(y).find(text).unwrap();
        // Cells, not bytes: every cell before it here holds one ASCII or box character.
        u16::try_from(row(y)[..at].chars().count()).unwrap()
    };
    // Rows: 1-3 contacts, 4 the divider, 5-6 the laptop, 7-8 wang.
    assert!(row(4).contains("on this network"), "{}", row(4));
    assert_eq!(buffer[(3, 4)].fg, ratatui::style::Color::DarkGray);
    let unencrypted = find(7, "unencrypted");
    assert_eq!(
        buffer[(unencrypted, 7)].fg,
        ratatui::style::Color::Yellow,
        "the unencrypted mark is a warning"
    );
    let dot = find(7, "●");
    assert_eq!(buffer[(dot, 7)].fg, ratatui::style::Color::Green);
    let name = find(7, "王");
    assert!(
        buffer[(name, 7)]
            .modifier
            .contains(ratatui::style::Modifier::ITALIC),
        "not in contacts: italic"
    );
}

#[test]
fn snapshot_a_neighbour_that_is_a_contact_is_not_listed_twice() {
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        ipmsg: true,
        ..Contact::at("wang", addr(WANG))
    });
    let mut app = qqchat::app::App::new(
        &with_contacts(contacts),
        addr("0.0.0.0:4000"),
        jiff::tz::TimeZone::UTC,
    );
    app.on_resize(80, 10);
    // alice's key, under another name: alice it is, and keeps her name.
    found(
        &mut app,
        qqchat_neighbour("not-alice", "192.168.1.40:9001", Some(ALICE_KEY)),
    );
    // The iptux user at wang's address is wang: online now.
    found(&mut app, iptux("王小明", "研发部", WANG, false));
    assert_eq!(listed(&app), ["alice", "bob", "pyscript", "wang"]);
    assert_eq!(app.peers()[3].online(), Some(true));
    assert_snapshot!(screen(&app, 80, 10));
    // Leaving shows wang offline; nobody goes from the list.
    app.on_engine(gone(wang()));
    assert_eq!(app.peers()[3].online(), Some(false));
    assert_eq!(listed(&app), ["alice", "bob", "pyscript", "wang"]);
}

#[test]
fn snapshot_conversation_with_an_ip_messenger_neighbour() {
    let mut app = app_with_neighbours(80, 12);
    open(&mut app, 4);
    app.on_engine(EngineEvent::Received {
        from: wang(),
        path: addr(WANG),
        kind: qqchat::proto::PathKind::of(addr(WANG), false),
        id: None,
        text: "你好，下午开会吗？".into(),
        sent_at: None,
        received_at: at(0),
        plain: true,
    });
    let effects = {
        type_text(&mut app, "好的，三点见", at(1));
        press(&mut app, KeyCode::Enter)
    };
    let sends: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(Command::Send {
                to, plain, text, ..
            }) => Some((*to, *plain, text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sends, [(wang(), false, "好的，三点见".to_owned())]);
    let peer = app.open_peer().unwrap();
    assert_eq!(peer.name(), "王小明");
    assert_eq!(
        peer.messages().len(),
        2,
        "the message came into this conversation"
    );
    assert_eq!(*peer.key(), ConversationKey::from_address(addr(WANG)));
    assert_snapshot!(screen(&app, 80, 12));
}

#[test]
fn a_keyed_qqchat_neighbour_is_written_to_by_its_key() {
    let mut app = app_with_neighbours(80, 12);
    open(&mut app, 3);
    send(&mut app, "hi laptop", at(0));
    let effects = {
        type_text(&mut app, "again", at(1));
        press(&mut app, KeyCode::Enter)
    };
    assert!(effects.iter().any(
        |e| matches!(e, Effect::Send(Command::Send { to, .. }) if *to == PeerId::Key(LAPTOP_KEY))
    ));
    // Its answer, by key, from another address, is the same conversation.
    app.on_engine(EngineEvent::Received {
        from: PeerId::Key(LAPTOP_KEY),
        path: addr("192.168.1.21:9001"),
        kind: qqchat::proto::PathKind::of(addr("192.168.1.21:9001"), false),
        id: Some(1),
        text: "hello".into(),
        sent_at: None,
        received_at: at(2),
        plain: false,
    });
    assert_eq!(app.open_peer().unwrap().messages().len(), 3);
    assert_eq!(app.peers().len(), 5, "no new entry");
    assert_snapshot!(screen(&app, 80, 12));
}

#[test]
fn neighbour_gone_takes_its_row_off() {
    let mut app = app_with_neighbours(80, 12);
    press(&mut app, KeyCode::End);
    assert_eq!(app.selected(), 4);
    app.on_engine(gone(wang()));
    assert_eq!(listed(&app), ["alice", "bob", "pyscript", "alice-laptop"]);
    assert_eq!(app.selected(), 3, "the cursor stays in the list");
    assert!(!screen(&app, 80, 12).contains("王小明"));
    app.on_engine(gone(PeerId::Key(LAPTOP_KEY)));
    assert_eq!(listed(&app), ["alice", "bob", "pyscript"]);
    assert!(!screen(&app, 80, 12).contains("on this network"));
}

#[test]
fn neighbour_gone_with_a_conversation_stays_offline() {
    let mut app = app_with_neighbours(80, 12);
    open(&mut app, 4);
    send(&mut app, "在吗", at(0));
    press(&mut app, KeyCode::Esc);
    app.on_engine(gone(wang()));
    let peer = &app.peers()[4];
    assert_eq!(peer.name(), "王小明");
    assert_eq!(peer.part(), Part::OnThisNetwork);
    assert_eq!(peer.online(), Some(false));
    assert!(!peer.neighbour().unwrap().is_here());
    assert!(screen(&app, 80, 12).contains("left"), "the header says so");
    // Back again: online.
    found(&mut app, iptux("王小明", "研发部", WANG, false));
    assert_eq!(app.peers().len(), 5);
    assert_eq!(app.peers()[4].online(), Some(true));
}

#[test]
fn a_hostile_name_is_drawn_safely_on_one_line() {
    let mut app = app_sized(100, 14);
    let hostile = format!(
        "\x1b]0;pwned\x07\x1b[2J\u{202e}evil\nsecond line\r\n{}",
        "长".repeat(5000)
    );
    let mut neighbour = iptux(&hostile, "\x1b[31mred\x1b[0m\ngroup", WANG, false);
    if let qqchat::engine::NeighbourKind::IpMsg { host, .. } = &mut neighbour.kind {
        *host = "\x1b[5m".repeat(100);
    }
    found(&mut app, neighbour);
    let peer = &app.peers()[3];
    assert!(
        !peer.name().chars().any(char::is_control),
        "{:?}",
        peer.name()
    );
    assert!(peer.name().width() <= 32, "bounded: {}", peer.name());
    let shown = screen(&app, 100, 14);
    assert!(!shown.contains('\x1b') && !shown.contains('\x07') && !shown.contains('\u{202e}'));
    assert!(
        shown.contains("^[]0;pwned^G"),
        "escapes shown, not obeyed:\n{shown}"
    );
    open(&mut app, 3);
    let shown = screen(&app, 100, 14);
    assert!(!shown.contains('\x1b'), "{shown}");
    assert_snapshot!(shown);
    // The conversation is titled with it, on one line, within the screen.
    for line in shown.lines() {
        assert_eq!(line.width(), 102, "{line}");
    }
}

#[test]
fn a_on_an_iptux_neighbour_adds_it_as_an_ip_messenger_contact() {
    let mut app = app_with_neighbours(80, 12);
    press(&mut app, KeyCode::End);
    assert!(press(&mut app, KeyCode::Char('a')).is_empty());
    assert_eq!(prompt_text(&app), "王小明");
    assert_eq!(
        app.prompt().unwrap().question(),
        "Name for 王小明 (iptux at 192.168.1.30:2425):"
    );
    assert_snapshot!(screen(&app, 80, 12));
    let effects = press(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::AddIpmsgContact { name, addr: at }] => {
            assert_eq!((name.as_str(), *at), ("王小明", addr(WANG)));
        }
        other => panic!("{other:?}"),
    }
    // The file is reloaded with it: the row moves to the contacts, online.
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        ipmsg: true,
        ..Contact::at("王小明", addr(WANG))
    });
    app.set_contacts(&with_contacts(contacts));
    assert_eq!(
        listed(&app),
        ["alice", "bob", "pyscript", "王小明", "alice-laptop"]
    );
    let wang = &app.peers()[3];
    assert_eq!(wang.part(), Part::Contacts);
    assert_eq!(wang.online(), Some(true));
    assert_eq!(app.selected(), 3, "the cursor followed it");
    // Told again by discovery: still the contact, not a second row.
    found(&mut app, iptux("王小明", "研发部", WANG, true));
    assert_eq!(app.peers().len(), 5);
}

#[test]
fn a_on_a_keyed_qqchat_neighbour_adds_it_with_its_key() {
    let mut app = app_with_neighbours(80, 12);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.peers()[app.selected()].name(), "alice-laptop");
    press(&mut app, KeyCode::Char('a'));
    let effects = press(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::AddKeyedContact { name, addrs, key }] => {
            assert_eq!(name, "alice-laptop");
            assert_eq!(addrs, &[LAPTOP.to_owned()]);
            assert_eq!(*key, LAPTOP_KEY);
        }
        other => panic!("{other:?}"),
    }
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        key: Some(LAPTOP_KEY),
        ..Contact::at("alice-laptop", addr(LAPTOP))
    });
    app.set_contacts(&with_contacts(contacts));
    assert_eq!(app.peers()[3].name(), "alice-laptop");
    assert_eq!(app.peers()[3].part(), Part::Contacts);
    assert!(app.peers()[3].is_keyed());
    assert_eq!(app.peers().len(), 5);
}

#[test]
fn a_on_a_qqchat_neighbour_without_a_key_adds_its_address() {
    let mut app = app();
    found(&mut app, qqchat_neighbour("bob", "192.168.1.22:9001", None));
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Char('a'));
    // bob is taken: the name offered has a number.
    assert_eq!(prompt_text(&app), "bob 2");
    let effects = press(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [
            Effect::AddContact {
                name,
                addr: at,
                plain,
            },
        ] => {
            assert_eq!(
                (name.as_str(), *at, *plain),
                ("bob 2", addr("192.168.1.22:9001"), false)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_neighbour_at_a_contacts_address_is_not_added_over_it() {
    let mut app = app();
    // A keyed qqchat announcing itself at bob's address: not bob (bob has no key).
    found(&mut app, qqchat_neighbour("mallory", BOB, Some(LAPTOP_KEY)));
    press(&mut app, KeyCode::End);
    assert_eq!(app.peers()[app.selected()].name(), "mallory");
    press(&mut app, KeyCode::Char('a'));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(
        app.prompt().unwrap().error(),
        Some("127.0.0.1:4002 is already in contacts as bob.")
    );
}

#[test]
fn a_stranger_that_wrote_takes_the_neighbours_name() {
    let mut app = app();
    app.on_engine(EngineEvent::Received {
        from: wang(),
        path: addr(WANG),
        kind: qqchat::proto::PathKind::of(addr(WANG), false),
        id: None,
        text: "hello?".into(),
        sent_at: None,
        received_at: at(0),
        plain: true,
    });
    assert_eq!(listed(&app)[3], "192.168.1.30:2425");
    found(&mut app, iptux("王小明", "", WANG, false));
    assert_eq!(listed(&app), ["alice", "bob", "pyscript", "王小明"]);
    assert_eq!(app.peers()[3].messages().len(), 1);
    assert_eq!(app.peers()[3].unread(), 1);
    assert!(!app.peers()[3].is_plain(), "answered in its own protocol");
}

#[test]
fn help_says_what_a_does_on_this_network() {
    let mut app = app();
    press(&mut app, KeyCode::F(1));
    assert!(app.help_open());
    assert!(
        screen(&app, 80, 40).contains("add to contacts (also on this network)"),
        "{}",
        screen(&app, 80, 40)
    );
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.focus(), Focus::Contacts);
}

#[test]
fn a_neighbour_whose_key_a_new_contact_holds_joins_that_contact() {
    let mut app = app_with_neighbours(80, 12);
    open(&mut app, 3);
    send(&mut app, "hi laptop", at(0));
    // The contact is written with another address (a pasted contact string, say).
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        key: Some(LAPTOP_KEY),
        ..Contact::at("laptop", addr("10.0.0.9:9001"))
    });
    app.set_contacts(&with_contacts(contacts));
    assert_eq!(
        listed(&app),
        ["alice", "bob", "pyscript", "laptop", "王小明"]
    );
    let open = app.open_peer().unwrap();
    assert_eq!(open.name(), "laptop", "the open conversation followed");
    assert_eq!(open.messages().len(), 1, "with what was said");
    assert_eq!(open.part(), Part::Contacts);
}

#[test]
fn a_contact_removed_while_on_this_network_is_listed_there_again() {
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        ipmsg: true,
        ..Contact::at("wang", addr(WANG))
    });
    let mut app = qqchat::app::App::new(
        &with_contacts(contacts),
        addr("0.0.0.0:4000"),
        jiff::tz::TimeZone::UTC,
    );
    found(&mut app, iptux("王小明", "研发部", WANG, false));
    assert_eq!(listed(&app), ["alice", "bob", "pyscript", "wang"]);
    app.set_contacts(&book(true));
    assert_eq!(listed(&app), ["alice", "bob", "pyscript", "王小明"]);
    let wang = &app.peers()[3];
    assert_eq!(wang.part(), Part::OnThisNetwork);
    assert_eq!(wang.online(), Some(true));
    assert_eq!(wang.peer_id(), PeerId::addr(addr(WANG)));
}

#[test]
fn a_neighbour_without_a_name_is_called_by_its_host() {
    let mut app = app();
    found(&mut app, iptux(" \r\n", "", WANG, false));
    assert_eq!(listed(&app)[3], "wxm-pc");
}

#[test]
fn news_of_a_neighbour_changes_its_row_in_place() {
    let mut app = app_with_neighbours(100, 14);
    found(&mut app, iptux("小明", "研发部", WANG, true));
    assert_eq!(
        listed(&app),
        ["alice", "bob", "pyscript", "alice-laptop", "小明"]
    );
    let shown = screen(&app, 100, 14);
    assert!(shown.contains("iptux 研发部 away"), "{shown}");
}

#[test]
fn the_list_scrolls_to_show_both_lines_of_the_last_neighbour() {
    let mut app = app_sized(80, 10);
    for n in 1..=12 {
        found(
            &mut app,
            iptux(
                &format!("user{n}"),
                "",
                &format!("192.168.1.{n}:2425"),
                n == 12,
            ),
        );
    }
    press(&mut app, KeyCode::End);
    let shown = screen(&app, 80, 10);
    let lines: Vec<&str> = shown.lines().collect();
    // The frame's last inner row holds the second line of the last entry.
    assert!(lines[6].contains("user12"), "{shown}");
    assert!(lines[7].contains("iptux away"), "{shown}");
    press(&mut app, KeyCode::Home);
    let shown = screen(&app, 80, 10);
    assert!(shown.lines().nth(1).unwrap().contains("alice"), "{shown}");
}
