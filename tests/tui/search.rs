//! Search: `/` in a conversation steps through its matches with `n` and `N`, highlighted,
//! reading older messages back to a match; `/` in the list finds them everywhere.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use qqchat::app::{Effect, Focus, Notice, SearchScope};
use qqchat::store::{ConversationKey, Hit, Order, StoredMessage};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use crate::support::{ALICE, BOB, app, conversation, draw, inc, out, press, type_text};
use qqchat::store::MessageState;

fn talk() -> Vec<StoredMessage> {
    vec![
        inc(1, ALICE, 0, "lunch tomorrow?"),
        out(2, ALICE, 1, "sure, where?", MessageState::Delivered),
        inc(3, ALICE, 2, "the noodle place"),
        out(4, ALICE, 3, "Lunch at noon then", MessageState::Delivered),
        inc(5, ALICE, 4, "see you"),
    ]
}

fn hits(key: &str, messages: &[StoredMessage], word: &str) -> Vec<Hit> {
    messages
        .iter()
        .rev()
        .filter(|m| m.text.to_lowercase().contains(word))
        .map(|m| Hit {
            key: ConversationKey::new(key),
            message: m.clone(),
        })
        .collect()
}

/// Where `text` starts on the screen.
fn find(screen: &Terminal<TestBackend>, text: &str) -> (u16, u16) {
    let buffer = screen.backend().buffer();
    for y in 0..buffer.area.height {
        let row: Vec<String> = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_owned())
            .collect();
        let line = row.concat();
        if let Some(byte) = line.find(text) {
            let x = line[..byte].chars().count();
            return (u16::try_from(x).expect("on screen"), y);
        }
    }
    panic!("{text:?} is not on the screen");
}

/// Opens alice's conversation with its pane focused.
fn in_conversation(app: &mut qqchat::app::App) {
    crate::support::open(app, 0);
    press(app, KeyCode::BackTab);
    assert_eq!(app.focus(), Focus::Conversation);
}

/// `/`, the words, Enter: the search the chat asks of the store.
fn ask(app: &mut qqchat::app::App, words: &str) -> (SearchScope, qqchat::store::Search) {
    assert!(press(app, KeyCode::Char('/')).is_empty());
    type_text(app, words, crate::support::at(0));
    let effects = press(app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::Search { scope, search }] => (scope.clone(), search.clone()),
        other => panic!("expected a search, got {other:?}"),
    }
}

#[test]
fn n_and_shift_n_step_through_a_conversations_matches_and_esc_ends_it() {
    let mut app = app();
    app.load_history(vec![conversation("alice", talk())]);
    in_conversation(&mut app);
    let (scope, search) = ask(&mut app, "lunch");
    assert_eq!(search.conversations, [ConversationKey::new("alice")]);
    assert_eq!(search.order, Order::Newest);
    app.searched(
        scope,
        search.text.clone(),
        Ok(hits("alice", &talk(), "lunch")),
    );
    // The newest match is picked, every match highlighted.
    assert_eq!(app.chosen(), Some(3));
    let screen = draw(&app, 80, 14);
    assert_snapshot!(screen.backend());
    for (text, column) in [("lunch tomorrow?", 0), ("Lunch at noon then", 0)] {
        let (x, y) = find(&screen, text);
        let lit = |dx: u16| screen.backend().buffer()[(x + column + dx, y)].bg == Color::Yellow;
        assert!((0..5).all(lit), "{text}: the match is highlighted");
        assert!(!lit(6), "{text}: the rest is not");
    }
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.chosen(), Some(0), "n: the older match");
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.chosen(), Some(0), "none older: it stays");
    assert!(matches!(app.notice(), Some(Notice::Info(t)) if t.contains("no older match")));
    press(&mut app, KeyCode::Char('N'));
    assert_eq!(app.chosen(), Some(3), "N: the newer one");
    press(&mut app, KeyCode::Esc);
    assert!(app.conversation_search().is_none());
    assert_eq!(app.focus(), Focus::Conversation, "Esc ends the search only");
}

#[test]
fn a_match_older_than_the_page_shown_is_read_back_to() {
    let mut app = app();
    let all = talk();
    // Only the last two messages were read at start.
    app.load_recent(vec![conversation("alice", all[3..].to_vec())], 2);
    in_conversation(&mut app);
    let (scope, search) = ask(&mut app, "lunch");
    app.searched(scope, search.text.clone(), Ok(hits("alice", &all, "lunch")));
    assert_eq!(app.chosen(), Some(0), "the newest match is shown already");
    press(&mut app, KeyCode::Char('n'));
    // The older one is not shown yet: the chat reads back to when it was written.
    let want = app.history_wanted().expect("older messages wanted");
    assert_eq!(want.since, Some(all[0].at));
    assert_eq!(want.before, all[3].at);
    app.put_older(&want, all[..=3].to_vec(), qqchat::app::HISTORY_PAGE);
    let texts: Vec<String> = app.peers()[0]
        .messages()
        .iter()
        .map(|m| m.display_text().into_owned())
        .collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
    let chosen = app.chosen().expect("a pick");
    assert_eq!(texts[chosen], "lunch tomorrow?");
}

#[test]
fn slash_in_the_list_searches_everywhere_and_enter_opens_the_match() {
    let mut app = app();
    let bob = vec![inc(10, BOB, 5, "Lunch with \x1b[31mred\x1b[0m bob")];
    app.load_history(vec![
        conversation("alice", talk()),
        conversation("bob", bob.clone()),
    ]);
    assert_eq!(app.focus(), Focus::Contacts);
    let (scope, search) = ask(&mut app, "lunch");
    assert_eq!(scope, SearchScope::All);
    assert!(search.conversations.is_empty());
    assert_eq!(search.order, Order::Newest);
    let mut found = hits("bob", &bob, "lunch");
    found.extend(hits("alice", &talk(), "lunch"));
    app.searched(scope, search.text.clone(), Ok(found));
    // The list shows where and when; text from the network is made safe to show.
    let screen = draw(&app, 80, 14);
    assert_snapshot!(screen.backend());
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::Search { scope, search }] = effects.as_slice() else {
        panic!("expected a search of the conversation, got {effects:?}");
    };
    assert_eq!(search.conversations, [ConversationKey::new("alice")]);
    app.searched(
        scope.clone(),
        search.text.clone(),
        Ok(hits("alice", &talk(), "lunch")),
    );
    assert_eq!(app.open(), Some(0));
    assert_eq!(app.chosen(), Some(0), "on the match picked in the list");
}

#[test]
fn nothing_found_says_so_and_changes_nothing() {
    let mut app = app();
    app.load_history(vec![conversation("alice", talk())]);
    in_conversation(&mut app);
    let (scope, search) = ask(&mut app, "pizza");
    app.searched(scope, search.text, Ok(Vec::new()));
    assert!(app.conversation_search().is_none());
    assert!(
        matches!(app.notice(), Some(Notice::Info(t)) if t.contains("nothing found for “pizza”"))
    );
    assert_eq!(app.chosen(), None);
}

#[test]
fn an_own_message_sent_in_this_run_is_found_by_its_id_whatever_its_stored_time() {
    let mut app = app();
    app.load_history(vec![conversation("alice", talk())]);
    crate::support::open(&mut app, 0);
    let id = crate::support::send(&mut app, "lunch again?", crate::support::at(10));
    press(&mut app, KeyCode::BackTab);
    let (scope, search) = ask(&mut app, "lunch");
    // The store stamped it with the engine's clock, not the chat's.
    let stored = out(id, ALICE, 11, "lunch again?", MessageState::Delivered);
    let mut found = hits("alice", std::slice::from_ref(&stored), "lunch");
    found.extend(hits("alice", &talk(), "lunch"));
    app.searched(scope, search.text, Ok(found));
    assert_eq!(app.chosen(), Some(5), "the message just sent");
}
