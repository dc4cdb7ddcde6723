//! Searching the history: `/` in a conversation finds its messages and steps through them
//! with `n` (older) and `N` (newer), the matches highlighted; `/` in the contact list finds
//! them in every conversation, as a list to open one from. The store finds 1:1 messages
//! ([`Effect::Search`]); a group's are all in memory already, and are found here.

use jiff::Timestamp;

use super::overlay::{Overlay, PromptKind};
use super::peer::EntryId;
use super::{App, Effect, Message};
use crate::engine::GroupItemKind;
use crate::proto::group::{GroupId, MsgRef};
use crate::store::{ConversationKey, Direction, Hit, Order, Search, StoredMessage};
use crate::text::{one_line, sanitize};

/// Matches kept for stepping through one conversation.
const CONVERSATION_HITS: usize = 1000;
/// Matches listed for a search of every conversation.
const LIST_HITS: usize = 200;

/// Where a search looks, so that its results go back to the right place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchScope {
    /// Every conversation: the results are a list.
    All,
    /// The conversation of entry `peer`; `at`: start on the match written then (one picked
    /// from the list), else on the newest.
    Conversation {
        peer: EntryId,
        at: Option<Timestamp>,
    },
}

/// Where a search steps through matches: a 1:1 conversation, or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Peer(EntryId),
    Group(GroupId),
}

/// A match: a stored message of a 1:1 conversation, or a group's message by its place.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    Message(StoredMessage),
    Group(MsgRef),
}

/// A search in the open conversation: its words, its matches newest first, and the one
/// the view is on.
#[derive(Debug, Clone)]
pub struct ConversationSearch {
    pub place: Place,
    pub query: String,
    pub hits: Vec<Found>,
    pub current: usize,
}

impl ConversationSearch {
    /// The words the view highlights.
    pub fn words(&self) -> Vec<&str> {
        crate::store::search_words(&self.query)
    }
}

/// A row of the list of matches in every conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultRow {
    Message(Hit),
    /// A group's message: the group, its name, who wrote it (as shown), when, the text.
    Group {
        group: GroupId,
        item: MsgRef,
        name: String,
        author: String,
        at: Option<Timestamp>,
        text: String,
    },
}

/// The matches in every conversation, as a list over the screen: 1:1 ones newest first,
/// then groups' newest first.
#[derive(Debug, Clone)]
pub struct SearchResults {
    pub query: String,
    pub hits: Vec<ResultRow>,
    pub selected: usize,
}

impl SearchResults {
    pub fn words(&self) -> Vec<&str> {
        crate::store::search_words(&self.query)
    }
}

impl App {
    /// `/`: asks what to find, in the open conversation (from its pane) or everywhere (from
    /// the list).
    pub(super) fn ask_search(&mut self, everywhere: bool) {
        let place = match (everywhere, self.view.open, self.view.open_group) {
            (true, _, _) => None,
            (false, Some(peer), _) => Some(Place::Peer(peer)),
            (false, None, Some(group)) => Some(Place::Group(group)),
            (false, None, None) => None,
        };
        let question = match place {
            Some(Place::Peer(id)) => match self.roster.get(id) {
                Some(p) => format!("Search the conversation with {}:", p.name()),
                None => return,
            },
            Some(Place::Group(id)) => match self.groups.get(id) {
                Some(g) => format!("Search the group {}:", g.name()),
                None => return,
            },
            None => "Search every conversation:".to_owned(),
        };
        let text = self
            .search
            .as_ref()
            .map_or_else(String::new, |s| s.query.clone());
        self.ask(PromptKind::Search { place }, question, &text);
    }

    /// The question was answered: what to ask the store.
    pub(super) fn confirm_search(&mut self, place: Option<Place>, text: &str) -> Vec<Effect> {
        self.overlay = Overlay::None;
        if crate::store::search_words(text).is_empty() {
            self.search = None;
            return Vec::new();
        }
        match place {
            Some(Place::Peer(peer)) => self.search_conversation(peer, text, None),
            Some(Place::Group(group)) => {
                self.search_group(group, text, None);
                Vec::new()
            }
            None => vec![Effect::Search {
                scope: SearchScope::All,
                search: Search {
                    text: text.to_owned(),
                    order: Order::Newest,
                    limit: LIST_HITS,
                    ..Search::default()
                },
            }],
        }
    }

    fn search_conversation(
        &mut self,
        peer: EntryId,
        text: &str,
        at: Option<Timestamp>,
    ) -> Vec<Effect> {
        let Some(p) = self.roster.get(peer) else {
            return Vec::new();
        };
        let mut conversations: Vec<ConversationKey> = vec![p.key().clone()];
        for key in &p.older {
            if !conversations.contains(key) {
                conversations.push(key.clone());
            }
        }
        vec![Effect::Search {
            scope: SearchScope::Conversation { peer, at },
            search: Search {
                text: text.to_owned(),
                conversations,
                order: Order::Newest,
                limit: CONVERSATION_HITS,
                since: None,
            },
        }]
    }

    /// What the store found for [`Effect::Search`] (or why it could not).
    pub fn searched(&mut self, scope: SearchScope, query: String, found: Result<Vec<Hit>, String>) {
        let hits = match found {
            Ok(hits) => hits,
            Err(err) => {
                self.show_error(&format!("search failed: {err}"));
                return;
            }
        };
        let shown_query = one_line(&sanitize(&query));
        let mut rows: Vec<ResultRow> = hits.into_iter().map(ResultRow::Message).collect();
        if scope == SearchScope::All {
            rows.extend(self.group_rows(&query));
        }
        if rows.is_empty() {
            self.search = None;
            self.show_info(&format!("nothing found for “{shown_query}”"));
            return;
        }
        match scope {
            SearchScope::All => {
                self.overlay = Overlay::Results(Box::new(SearchResults {
                    query,
                    hits: rows,
                    selected: 0,
                }));
            }
            SearchScope::Conversation { peer, at } => {
                let hits: Vec<Found> = rows
                    .into_iter()
                    .filter_map(|r| match r {
                        ResultRow::Message(hit) => Some(Found::Message(hit.message)),
                        ResultRow::Group { .. } => None,
                    })
                    .collect();
                let current = at
                    .and_then(|at| {
                        hits.iter()
                            .position(|h| matches!(h, Found::Message(m) if m.at == at))
                    })
                    .unwrap_or(0);
                self.search = Some(ConversationSearch {
                    place: Place::Peer(peer),
                    query,
                    hits,
                    current,
                });
                self.open_for_search(peer);
                self.show_match();
            }
        }
    }

    /// Steps through the matches of `text` in group `id`, from the one at `item` (else the
    /// newest); its messages are all here, so nothing is asked of the store.
    fn search_group(&mut self, id: GroupId, text: &str, item: Option<MsgRef>) {
        let Some(group) = self.groups.get(id) else {
            return;
        };
        let words = crate::store::search_words(text);
        let hits: Vec<Found> = group
            .shown()
            .rev()
            .filter(|i| matches!(&i.kind, GroupItemKind::Text(t) if crate::store::contains_words(t, &words)))
            .map(|i| Found::Group(i.id))
            .collect();
        if hits.is_empty() {
            self.search = None;
            let query = one_line(&sanitize(text));
            self.show_info(&format!("nothing found for “{query}”"));
            return;
        }
        let current = item
            .and_then(|item| hits.iter().position(|h| *h == Found::Group(item)))
            .unwrap_or(0);
        self.search = Some(ConversationSearch {
            place: Place::Group(id),
            query: text.to_owned(),
            hits,
            current,
        });
        if self.view.open_group != Some(id) {
            self.open_group_id(id);
        }
        self.view.focus = super::Focus::Conversation;
        self.show_match();
    }

    /// The matches of `text` in every group, newest first, as rows of the list.
    fn group_rows(&self, text: &str) -> Vec<ResultRow> {
        let words = crate::store::search_words(text);
        let mut rows = Vec::new();
        for group in self.groups.listed() {
            for item in group.shown() {
                if let GroupItemKind::Text(t) = &item.kind
                    && crate::store::contains_words(t, &words)
                {
                    rows.push(ResultRow::Group {
                        group: group.id(),
                        item: item.id,
                        name: group.name().to_owned(),
                        author: self.member_label(group, &item.author).0,
                        at: item.sent_at,
                        text: t.clone(),
                    });
                }
            }
        }
        rows.sort_by_key(|r| match r {
            ResultRow::Group { at, .. } => std::cmp::Reverse(*at),
            ResultRow::Message(h) => std::cmp::Reverse(Some(h.message.at)),
        });
        rows
    }

    /// Opens the conversation of entry `peer`, its pane focused, for stepping through
    /// matches.
    fn open_for_search(&mut self, peer: EntryId) {
        if self.view.open != Some(peer) {
            self.view.selected = Some(peer);
            self.open_selected();
        }
        self.view.focus = super::Focus::Conversation;
    }

    /// `n` and `N`: the next older or newer match.
    pub(super) fn step_search(&mut self, older: bool) {
        let Some(search) = self.search.as_mut() else {
            return;
        };
        let next = if older {
            search.current + 1
        } else {
            search.current.wrapping_sub(1)
        };
        if next >= search.hits.len() {
            let which = if older { "older" } else { "newer" };
            self.show_info(&format!("no {which} match"));
            return;
        }
        search.current = next;
        self.show_match();
    }

    /// Esc: the search ends; the view stays where it is.
    pub(super) fn end_search(&mut self) {
        self.search = None;
    }

    /// Picks the current match when its message is shown; otherwise older messages are read
    /// first ([`App::history_wanted`]) and this comes again.
    pub(super) fn show_match(&mut self) {
        let Some(search) = self.search.as_ref() else {
            return;
        };
        let (place, count, current) = (search.place, search.hits.len(), search.current);
        let query = one_line(&sanitize(&search.query));
        let Some(hit) = search.hits.get(current).cloned() else {
            return;
        };
        let found = match (place, &hit) {
            (Place::Peer(peer), Found::Message(hit)) => {
                let Some(p) = self.roster.get(peer) else {
                    return;
                };
                let found = p.messages().iter().rposition(|m| is_hit(m, hit));
                let older =
                    p.older.is_empty() || p.messages().first().is_some_and(|m| m.at() < hit.at);
                match found {
                    Some(index) => Some((p.seq_at(index), index)),
                    None if older => None,
                    // Read back to it first.
                    None => return,
                }
            }
            (Place::Group(id), Found::Group(item)) => self
                .groups
                .get(id)
                .and_then(|g| g.shown().position(|i| i.id == *item))
                .map(|index| (index as super::Seq, index)),
            _ => None,
        };
        match found {
            Some((seq, index)) => {
                self.view.chosen = Some(seq);
                self.reveal(index);
                self.show_info(&format!(
                    "“{query}”: match {} of {count}{} · n older · N newer · Esc done",
                    current + 1,
                    if count == CONVERSATION_HITS { "+" } else { "" },
                ));
            }
            None => self.show_info("that match is not in this conversation's view"),
        }
    }

    /// The match the view still has to read back to: older messages down to when it was
    /// written.
    pub(super) fn search_reaches_back(&self) -> Option<Timestamp> {
        let search = self.search.as_ref()?;
        let (Place::Peer(peer), Some(Found::Message(hit))) =
            (search.place, search.hits.get(search.current))
        else {
            return None;
        };
        let p = self.roster.get(peer)?;
        let first = p.messages().first()?;
        (self.view.open == Some(peer) && hit.at < first.at() && !p.older.is_empty())
            .then_some(hit.at)
    }

    /// In the list of results: move, or open the conversation of the one under the cursor
    /// at that match.
    pub(super) fn results_move(&mut self, down: bool) {
        if let Overlay::Results(results) = &mut self.overlay {
            let last = results.hits.len().saturating_sub(1);
            results.selected = if down {
                (results.selected + 1).min(last)
            } else {
                results.selected.saturating_sub(1)
            };
        }
    }

    pub(super) fn results_open(&mut self) -> Vec<Effect> {
        let Overlay::Results(results) = std::mem::replace(&mut self.overlay, Overlay::None) else {
            return Vec::new();
        };
        match results.hits.get(results.selected) {
            Some(ResultRow::Message(hit)) => {
                let Some(peer) = self.roster.entry_of(&hit.key) else {
                    self.show_info("that conversation is not in the list any more");
                    return Vec::new();
                };
                self.search_conversation(peer, &results.query, Some(hit.message.at))
            }
            Some(ResultRow::Group { group, item, .. }) => {
                self.search_group(*group, &results.query, Some(*item));
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// The search of the open conversation, if one is under way.
    pub fn conversation_search(&self) -> Option<&ConversationSearch> {
        self.search.as_ref().filter(|s| match s.place {
            Place::Peer(peer) => self.view.open == Some(peer),
            Place::Group(group) => self.view.open_group == Some(group),
        })
    }
}

/// Whether shown message `m` is stored message `hit`: an own one by its id (the chat
/// stamps its own copy with its own clock), a received one by when it came and its text
/// (made safe to show on arrival).
fn is_hit(m: &Message, hit: &StoredMessage) -> bool {
    match m.origin() {
        super::Origin::Own { msg_id, .. } => hit.dir == Direction::Out && msg_id == hit.id,
        super::Origin::Received => {
            hit.dir == Direction::In
                && m.at() == hit.at
                && (m.text == hit.text
                    || m.text == sanitize(hit.text.trim_end_matches(['\n', '\r'])))
        }
        super::Origin::File { .. } => false,
    }
}
