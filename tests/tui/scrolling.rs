//! Scrolling the conversation, and what each page shows.

use crossterm::event::KeyCode;
use qqchat::store::MessageState;

use crate::support::{
    ALICE, app_sized, at, conversation, draw, inc, open, out, press, received, send,
};

#[test]
fn page_keys_scroll_within_the_history() {
    let mut app = app_sized(60, 12);
    open(&mut app, 0);
    for i in 0..30 {
        app.on_engine(received(ALICE, &format!("message {i}"), 0));
    }
    press(&mut app, KeyCode::PageUp);
    let page = app.scroll();
    assert!(page > 0);
    for _ in 0..20 {
        press(&mut app, KeyCode::PageUp);
    }
    // 30 messages plus the day line, in a view 6 lines tall (12 - status - input - borders).
    assert_eq!(app.scroll(), 31 - 6, "stops at the first message");
    let top = draw(&app, 60, 12);
    assert!(format!("{}", top.backend()).contains("message 0"));

    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.scroll(), 31 - 6 - page);
    for _ in 0..20 {
        press(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.scroll(), 0);
}

#[test]
fn a_new_message_does_not_move_a_scrolled_view() {
    let mut app = app_sized(60, 12);
    open(&mut app, 0);
    for i in 0..30 {
        app.on_engine(received(ALICE, &format!("message {i}"), 0));
    }
    press(&mut app, KeyCode::PageUp);
    let before = format!("{}", draw(&app, 60, 12).backend());
    app.on_engine(received(ALICE, "new one", 0));
    let after = format!("{}", draw(&app, 60, 12).backend());
    let conversation = |s: &str| s.lines().skip(1).take(6).collect::<Vec<_>>().join("\n");
    assert_eq!(conversation(&before), conversation(&after));
    // Sending returns to the newest message.
    send(&mut app, "back down", at(0));
    assert_eq!(app.scroll(), 0);
}

#[test]
fn a_long_history_draws() {
    let mut app = app_sized(80, 20);
    open(&mut app, 0);
    for i in 0..100_000 {
        app.on_engine(received(ALICE, &format!("message {i}"), 0));
    }
    let start = std::time::Instant::now();
    let shown = format!("{}", draw(&app, 80, 20).backend());
    press(&mut app, KeyCode::PageUp);
    draw(&app, 80, 20);
    assert!(shown.contains("message 99999"));
    // Only what is on screen is wrapped; drawing all 100,000 would take far longer.
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn every_page_shows_the_lines_of_the_whole_conversation() {
    use qqchat::ui::conversation::message_lines;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::text::Line;
    use ratatui::widgets::{Paragraph, Widget};

    let (width, height) = (60, 14);
    let mut app = app_sized(width, height);
    let texts = [
        "short",
        "a message long enough to wrap over two lines of this narrow pane, or three",
        "你好世界，这是一条很长的中文消息，需要在几行上换行显示才行",
        "two\nlines",
        "",
    ];
    let messages = (0..60u64)
        .map(|i| {
            let text = format!("{i} {}", texts[i as usize % texts.len()]);
            // A day line now and then, and a hint under some own messages.
            let minutes = i as i64 * 97;
            match i % 4 {
                0 => inc(i, ALICE, minutes, &text),
                1 => out(i, ALICE, minutes, &text, MessageState::Delivered),
                2 => out(i, ALICE, minutes, &text, MessageState::Failed),
                _ => out(i, ALICE, minutes, &text, MessageState::Queued),
            }
        })
        .collect();
    app.load_history(vec![conversation("alice", messages)]);
    open(&mut app, 0);
    let area = Rect::new(0, 0, width, height);
    let inner = qqchat::layout::conversation_text(area, app.input().lines().len());
    let peer = &app.peers()[0];
    let all: Vec<Line> = (0..peer.messages().len())
        .flat_map(|i| message_lines(&app, peer, i, inner.width))
        .collect();
    let mut pages = 0;
    loop {
        let terminal = draw(&app, width, height);
        let bottom = all.len() - app.scroll();
        let top = bottom.saturating_sub(usize::from(inner.height));
        let mut want = Buffer::empty(area);
        Paragraph::new(all[top..bottom].to_vec()).render(inner, &mut want);
        let got = terminal.backend().buffer();
        for y in inner.top()..inner.bottom() {
            for x in inner.left()..inner.right() {
                assert_eq!(
                    got[(x, y)],
                    want[(x, y)],
                    "({x}, {y}) at scroll {}",
                    app.scroll()
                );
            }
        }
        let scroll = app.scroll();
        press(&mut app, KeyCode::PageUp);
        if app.scroll() == scroll {
            break;
        }
        pages += 1;
    }
    assert_eq!(
        all.len() - app.scroll(),
        usize::from(inner.height),
        "at the top"
    );
    assert!(pages > 10, "{pages} pages");
}
