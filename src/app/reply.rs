//! Replying to a picked message: the reply is sent with a first line quoting what it
//! answers (`> alice: the first line…`), which qqchat draws as a quote and any other client
//! shows as text. Nothing but that line is sent: the quote is text, never trusted.

use super::message::{Mark, Origin};
use super::view::Focus;
use super::{App, Effect};
use crate::engine::GroupItemKind;
use crate::text::reply_quote;

/// The message a reply being written answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Who wrote it, as shown.
    pub name: String,
    /// The line sent before the reply: `> name: its first line…`, safe to show.
    pub quote: String,
}

impl Reply {
    /// The quote as the input shows it: `name: its first line…`.
    pub fn shown(&self) -> &str {
        self.quote
            .strip_prefix(crate::text::QUOTE_PREFIX)
            .unwrap_or(&self.quote)
    }
}

impl App {
    /// The message the input answers, while a reply is being written.
    pub fn replying(&self) -> Option<&Reply> {
        self.replying.as_ref()
    }

    /// `r` on a picked message: a failed or queued one of this user's is sent again (or
    /// now); any other message is answered: the reply is written in the input.
    pub(super) fn reply(&mut self) -> Vec<Effect> {
        if let Some(group) = self.open_group() {
            let Some(item) = self.group_chosen().and_then(|i| group.shown_at(i)) else {
                return Vec::new();
            };
            let GroupItemKind::Text(text) = &item.kind else {
                self.show_info("only messages can be answered");
                return Vec::new();
            };
            let name = if item.mine {
                self.me.clone()
            } else {
                self.member_label(group, &item.author).0
            };
            let quote = reply_quote(&name, text);
            self.start_reply(Reply { name, quote });
            return Vec::new();
        }
        let (Some(id), Some(seq)) = (self.view.open, self.view.chosen) else {
            return Vec::new();
        };
        let Some(message) = self.chosen_message() else {
            return Vec::new();
        };
        let (name, text) = match message.origin() {
            // What r did before replies: kept for the messages it has something to say of.
            Origin::Own { mark, .. } if mark.is_retryable() || mark == Mark::Cancelled => {
                return self.retry(id, seq);
            }
            Origin::File { .. } => {
                self.show_info("a file is not answered with r; write to say something of it");
                return Vec::new();
            }
            Origin::Own { .. } => (self.me.clone(), message.display_text().into_owned()),
            Origin::Received => {
                let name = self.open_peer().map_or("", |p| p.name()).to_owned();
                (name, message.display_text().into_owned())
            }
        };
        let quote = reply_quote(&name, &text);
        self.start_reply(Reply { name, quote });
        Vec::new()
    }

    fn start_reply(&mut self, reply: Reply) {
        self.replying = Some(reply);
        self.set_focus(Focus::Input);
    }

    /// Esc while a reply is written: it goes back to being a plain message. Returns
    /// whether there was a reply to cancel.
    pub(super) fn cancel_reply(&mut self) -> bool {
        self.replying.take().is_some()
    }

    /// `text` to send, with the quote of the message it answers first, if it answers one.
    pub(super) fn with_quote(&self, text: String) -> String {
        match &self.replying {
            Some(reply) => format!("{}\n{text}", reply.quote),
            None => text,
        }
    }
}
