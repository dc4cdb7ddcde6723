//! Groups in the chat: their rows in the contact list, invitations, the conversation with
//! its authors, gaps and delivery, sending, and the dialogs.

use crossterm::event::{KeyCode, KeyModifiers};
use insta::assert_snapshot;
use qqchat::app::{App, Effect};
use qqchat::engine::{Command, EngineEvent, GroupItem, GroupItemKind, GroupView};
use qqchat::proto::group::{GroupId, MsgRef, Order};
use qqchat::proto::{PeerId, PublicKey};
use qqchat::store::GroupStatus;

use crate::support::{ALICE_KEY, app_sized, at, draw, press, press_mod, trust_app, type_text};

const ME: PublicKey = PublicKey::from_bytes([9; 32]);
/// Not a contact: shown by the name alice added her under, unverified.
const DAVE: PublicKey = PublicKey::from_bytes([4; 32]);
const ERIN: PublicKey = PublicKey::from_bytes([5; 32]);
const TEAM: GroupId = GroupId([1; 16]);
const PICNIC: GroupId = GroupId([2; 16]);

fn view(id: GroupId, name: &str, status: GroupStatus, inviter: Option<PublicKey>) -> GroupView {
    GroupView {
        id,
        name: name.into(),
        status,
        creator: Some(ALICE_KEY),
        members: vec![
            (ALICE_KEY, "alice".into()),
            (ME, "me".into()),
            (DAVE, "dave".into()),
            (ERIN, "erin".into()),
        ],
        me: ME,
        inviter,
    }
}

fn item(author: PublicKey, lamport: u64, seq: u64, kind: GroupItemKind) -> GroupItem {
    GroupItem {
        id: MsgRef { author, seq },
        order: Order {
            lamport,
            author,
            seq,
        },
        author,
        sent_at: Some(at(lamport as i64)),
        kind,
        gap_before: false,
        mine: author == ME,
        acked: Vec::new(),
        visible: true,
    }
}

fn text(author: PublicKey, lamport: u64, seq: u64, said: &str) -> GroupItem {
    item(author, lamport, seq, GroupItemKind::Text(said.into()))
}

fn items(app: &mut App, group: GroupId, items: Vec<GroupItem>) -> Vec<Effect> {
    app.on_engine(EngineEvent::GroupItems { group, items })
}

/// Alice's group: made, dave and erin invited, a few messages, one own message two of
/// three members have, and a gap before the last.
fn team(app: &mut App) {
    app.on_engine(EngineEvent::Group(view(
        TEAM,
        "team",
        GroupStatus::Joined,
        None,
    )));
    let mut mine = text(ME, 4, 1, "I can bring the projector");
    mine.acked = vec![ALICE_KEY, DAVE];
    let mut late = text(ERIN, 7, 3, "sorry, was offline: what did I miss?");
    late.gap_before = true;
    let mut hidden = text(ERIN, 6, 2, "hidden: its author was not a member there");
    hidden.visible = false;
    items(
        app,
        TEAM,
        vec![
            late,
            text(DAVE, 5, 1, "great, thanks"),
            item(
                ALICE_KEY,
                1,
                1,
                GroupItemKind::Created {
                    name: "team".into(),
                },
            ),
            item(
                ALICE_KEY,
                2,
                2,
                GroupItemKind::Added {
                    key: DAVE,
                    name: "dave".into(),
                },
            ),
            text(ALICE_KEY, 3, 3, "meeting moved to 3pm"),
            mine,
            hidden,
        ],
    );
}

fn invitation(app: &mut App) {
    app.on_engine(EngineEvent::Group(view(
        PICNIC,
        "picnic",
        GroupStatus::Invited,
        Some(ALICE_KEY),
    )));
}

/// Moves the cursor to the row of the group named `name` and opens it.
fn open_group(app: &mut App, row: usize) {
    while app.selected() < row {
        press(app, KeyCode::Down);
    }
    press(app, KeyCode::Enter);
}

#[test]
fn items_out_of_order_are_shown_sorted() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    let group = app.groups().get(TEAM).unwrap();
    let orders: Vec<u64> = group.items().iter().map(|i| i.order.lamport).collect();
    assert_eq!(orders, vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(group.shown_len(), 6, "the hidden item is not shown");
}

#[test]
fn an_item_again_replaces_the_one_shown() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    // The gap closed: erin's message comes again without it, and one more member has the
    // own message.
    let late = text(ERIN, 7, 3, "sorry, was offline: what did I miss?");
    let mut mine = text(ME, 4, 1, "I can bring the projector");
    mine.acked = vec![ALICE_KEY, DAVE, ERIN];
    items(&mut app, TEAM, vec![late, mine]);
    let group = app.groups().get(TEAM).unwrap();
    assert_eq!(group.items().len(), 7);
    let erin = group.items().iter().find(|i| i.author == ERIN && i.visible);
    assert!(!erin.unwrap().gap_before);
    let own = group.items().iter().find(|i| i.mine).unwrap();
    assert_eq!(group.delivery(own).1, Vec::<PublicKey>::new());
}

#[test]
fn unread_counts_and_bell_for_a_group_not_open() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    // Four messages by others, none of them hidden or own.
    assert_eq!(app.groups().get(TEAM).unwrap().unread(), 3);
    let rang = items(&mut app, TEAM, vec![text(DAVE, 8, 2, "one more")]);
    assert!(
        matches!(rang.as_slice(), [Effect::Bell, Effect::Notify { title, .. }] if title == "# team"),
        "{rang:?}"
    );
    assert_eq!(app.groups().get(TEAM).unwrap().unread(), 4);
    // The same item again (more acks, a gap closed) is not news.
    assert!(items(&mut app, TEAM, vec![text(DAVE, 8, 2, "one more")]).is_empty());
    assert_eq!(app.groups().get(TEAM).unwrap().unread(), 4);
    // Opened, it is read; what comes while it is open does not count.
    open_group(&mut app, 3);
    assert_eq!(app.groups().get(TEAM).unwrap().unread(), 0);
    assert!(items(&mut app, TEAM, vec![text(DAVE, 9, 3, "and another")]).is_empty());
    assert_eq!(app.groups().get(TEAM).unwrap().unread(), 0);
}

#[test]
fn enter_sends_to_the_group() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    open_group(&mut app, 3);
    type_text(&mut app, "see you all", at(10));
    let effects = press(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::Send(Command::GroupSend { group, text, .. })] => {
            assert_eq!(*group, TEAM);
            assert_eq!(text, "see you all");
        }
        other => panic!("expected a group send, got {other:?}"),
    }
    assert!(app.input_text().is_empty());
}

#[test]
fn network_text_is_made_safe() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    items(
        &mut app,
        TEAM,
        vec![text(DAVE, 9, 5, "evil\u{1b}[2J\u{202e}text")],
    );
    let group = app.groups().get(TEAM).unwrap();
    let last = group.shown().last().unwrap();
    assert_eq!(
        last.kind,
        GroupItemKind::Text("evil^[[2J\u{fffd}text".into())
    );
}

#[test]
fn enter_on_an_own_message_says_who_lacks_it() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    open_group(&mut app, 3);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Tab);
    // The own message is the third from the end.
    for _ in 0..3 {
        press(&mut app, KeyCode::Up);
    }
    press(&mut app, KeyCode::Enter);
    let screen = format!("{}", draw(&app, 100, 24).backend());
    assert!(screen.contains("not yet: erin?"), "{screen}");
}

#[test]
fn an_invitation_is_answered_with_y() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    invitation(&mut app);
    open_group(&mut app, 4);
    let effects = press(&mut app, KeyCode::Char('y'));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Send(Command::GroupAnswer {
            group: PICNIC,
            accept: true
        })]
    ));
}

#[test]
fn ctrl_g_makes_a_group_of_the_contacts_ticked() {
    let mut app = app_sized(100, 24);
    press_mod(&mut app, KeyCode::Char('g'), KeyModifiers::CONTROL);
    type_text(&mut app, "book club", at(0));
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char(' '));
    let effects = press(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::Send(Command::GroupCreate { name, members, .. })] => {
            assert_eq!(name, "book club");
            assert_eq!(*members, vec![PeerId::Key(ALICE_KEY)]);
        }
        other => panic!("expected a group to be made, got {other:?}"),
    }
}

#[test]
fn a_refusal_is_shown_in_the_status_line() {
    let mut app = app_sized(100, 24);
    app.on_engine(EngineEvent::GroupRefused {
        group: None,
        reason: "only the creator removes members".into(),
    });
    let screen = format!("{}", draw(&app, 100, 24).backend());
    assert!(screen.contains("only the creator removes members"));
}

#[test]
fn snapshot_group_conversation() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    open_group(&mut app, 3);
    assert_snapshot!(draw(&app, 100, 24).backend());
}

#[test]
fn snapshot_contacts_with_a_group_and_an_invitation() {
    let mut app = app_sized(100, 16);
    team(&mut app);
    invitation(&mut app);
    press(&mut app, KeyCode::Down);
    assert_snapshot!(draw(&app, 100, 16).backend());
}

#[test]
fn snapshot_new_group_dialog() {
    // Alice and carol have keys; bob and pyscript, without, cannot be in a group.
    let mut app = trust_app(false, 100, 20);
    press_mod(&mut app, KeyCode::Char('g'), KeyModifiers::CONTROL);
    type_text(&mut app, "book club", at(0));
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Down);
    assert_snapshot!(draw(&app, 100, 20).backend());
}

#[test]
fn snapshot_invitation() {
    let mut app = app_sized(100, 20);
    team(&mut app);
    invitation(&mut app);
    open_group(&mut app, 4);
    assert_snapshot!(draw(&app, 100, 20).backend());
}

#[test]
fn heights_are_the_lines_drawn() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    let mut long = text(ME, 9, 2, &"a long message that wraps, ".repeat(6));
    long.acked = vec![DAVE];
    items(&mut app, TEAM, vec![long]);
    let group = app.groups().get(TEAM).unwrap();
    for width in [0u16, 8, 20, 33, 50, 73] {
        let columns = app.group_columns(group, usize::from(width));
        for index in 0..group.shown_len() {
            let drawn = qqchat::ui::group::item_lines(&app, group, &columns, index, width, false);
            assert_eq!(
                app.group_item_height(group, &columns, index, width),
                drawn.len(),
                "item {index} at width {width}"
            );
        }
    }
}

#[test]
fn r_answers_a_group_message_with_its_author_quoted() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    open_group(&mut app, 3);
    press(&mut app, KeyCode::BackTab);
    // The newest shown is erin's; dave's is next up.
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Char('r'));
    let reply = app.replying().expect("a reply is written");
    assert_eq!(reply.quote, "> dave: great, thanks");
    type_text(&mut app, "you are welcome", at(10));
    match press(&mut app, KeyCode::Enter).as_slice() {
        [Effect::Send(Command::GroupSend { text, .. })] => {
            assert_eq!(text, "> dave: great, thanks\nyou are welcome");
        }
        other => panic!("expected a group send, got {other:?}"),
    }
    assert!(app.replying().is_none());
}

/// The team group read up to alice's message: dave's and erin's after it are new.
fn team_read_to_alice(app: &mut App) {
    let mut read = qqchat::store::ReadPoints::default();
    read.read_group_to(&TEAM, &ALICE_KEY, 3);
    read.read_group_to(&TEAM, &ME, 1);
    team(app);
    app.set_read_points(read);
}

#[test]
fn a_group_read_before_counts_only_what_came_after() {
    let mut app = app_sized(100, 24);
    team_read_to_alice(&mut app);
    assert_eq!(app.groups().get(TEAM).unwrap().unread(), 2);
    open_group(&mut app, 3);
    assert_eq!(app.groups().get(TEAM).unwrap().unread(), 0);
    let saved = app.unsaved_read().expect("opening reads it");
    assert!(!saved.is_group_unread(&TEAM, &ERIN, 3, None));
    assert!(saved.is_group_unread(&TEAM, &ERIN, 4, None));
    assert_eq!(app.group_unread_marker(), Some(4), "above dave's message");
}

#[test]
fn snapshot_group_new_line_and_a_reply() {
    let mut app = app_sized(100, 24);
    team_read_to_alice(&mut app);
    open_group(&mut app, 3);
    items(
        &mut app,
        TEAM,
        vec![text(
            DAVE,
            8,
            2,
            "> me: I can bring the projector\nperfect, bring the cable too",
        )],
    );
    assert_snapshot!(draw(&app, 100, 20).backend());
}

#[test]
fn group_heights_count_the_new_line_and_quotes() {
    let mut app = app_sized(100, 24);
    team_read_to_alice(&mut app);
    open_group(&mut app, 3);
    items(
        &mut app,
        TEAM,
        vec![text(DAVE, 8, 2, "> erin: sorry\nno worries, nothing")],
    );
    let group = app.groups().get(TEAM).unwrap();
    for width in [0u16, 8, 20, 33, 50, 73] {
        let columns = app.group_columns(group, usize::from(width));
        for index in 0..group.shown_len() {
            let drawn = qqchat::ui::group::item_lines(&app, group, &columns, index, width, false);
            assert_eq!(
                app.group_item_height(group, &columns, index, width),
                drawn.len(),
                "item {index} at width {width}"
            );
        }
    }
}

#[test]
fn slash_in_a_group_steps_through_its_matches_without_the_store() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    open_group(&mut app, 3);
    press(&mut app, KeyCode::BackTab);
    assert!(press(&mut app, KeyCode::Char('/')).is_empty());
    type_text(&mut app, "O", at(0));
    // A group's messages are all here: nothing is asked of the store.
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let shown: Vec<String> = app
        .open_group()
        .expect("the group")
        .shown()
        .map(|i| match &i.kind {
            GroupItemKind::Text(t) => t.clone(),
            _ => String::new(),
        })
        .collect();
    let picked = |app: &App| shown[app.group_chosen().expect("a pick")].clone();
    assert_eq!(picked(&app), "sorry, was offline: what did I miss?");
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(picked(&app), "I can bring the projector", "dave's has no o");
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(picked(&app), "meeting moved to 3pm");
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(picked(&app), "meeting moved to 3pm", "no older match");
    press(&mut app, KeyCode::Char('N'));
    assert_eq!(picked(&app), "I can bring the projector");
    // The hidden message (its author was not a member there) is never found.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "hidden", at(0));
    press(&mut app, KeyCode::Enter);
    assert!(app.conversation_search().is_none());
}

#[test]
fn slash_in_the_list_finds_group_messages_too_and_opens_the_group_there() {
    let mut app = app_sized(100, 24);
    team(&mut app);
    assert!(press(&mut app, KeyCode::Char('/')).is_empty());
    type_text(&mut app, "thanks", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::Search { scope, search }] = effects.as_slice() else {
        panic!("expected a search, got {effects:?}");
    };
    // The store finds nothing in 1:1 conversations; the group's message is listed.
    app.searched(scope.clone(), search.text.clone(), Ok(Vec::new()));
    let screen = crate::support::screen(&app, 100, 24);
    assert!(screen.contains("# team"), "{screen}");
    assert!(screen.contains("dave: great, thanks"), "{screen}");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.open_group().map(qqchat::app::Group::id), Some(TEAM));
    let chosen = app.group_chosen().expect("a pick");
    let item = app
        .open_group()
        .and_then(|g| g.shown_at(chosen))
        .expect("an item");
    assert_eq!(item.kind, GroupItemKind::Text("great, thanks".into()));
}
