//! Every key binding, declared once: where it works, which keys, what it does, and how the
//! help and the status line describe it. `on_key` finds the action here, the help lists
//! the rows here, and the status line picks its hints from here, so the three agree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::App;
use super::composer::Edit;
use super::message::Mark;
use super::peer::Trust;
use super::transfers::Want;
use crate::layout::HelpShape;

/// What a key does. [`App::apply`] carries one out without a key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Write the draft in `$VISUAL` / `$EDITOR`.
    ExternalEditor,
    OpenHelp,
    /// Show this user's contact string and copy it.
    ShowCard,
    /// The safety number with the contact under the cursor or open.
    ShowSafety,
    /// On the safety number screen: accept the new key, mark verified (or not).
    AcceptKey,
    ToggleVerified,
    ReloadContacts,
    PageUp,
    PageDown,
    /// Focus the next pane, the previous one, or go back to the contact list.
    NextPane,
    PreviousPane,
    Back,
    // The contact list.
    SelectUp,
    SelectDown,
    SelectFirst,
    SelectLast,
    OpenConversation,
    AddContact,
    PasteContact,
    RenameContact,
    RemoveContact,
    // The conversation.
    ChooseEarlier,
    ChooseLater,
    Newest,
    Oldest,
    /// The picked message's full times in the status line; with nothing picked, write.
    Details,
    Write,
    /// `r`: answer the picked message; on an own failed or queued one, send it again (now).
    Reply,
    Cancel,
    /// `u`: the first unread message, here or in the first conversation that has one.
    FirstUnread,
    /// `M`: every conversation read.
    MarkAllRead,
    // The input.
    Send,
    NewLine,
    RetryLatest,
    /// ↑: in an empty input, the last message sent here, to edit; else the cursor moves.
    Recall,
    /// A line-editing key, in the input or a prompt.
    Edit(Edit),
    // The help, while it is open.
    HelpDown,
    HelpUp,
    HelpPageDown,
    HelpPageUp,
    CloseHelp,
    // A prompt.
    Yes,
    No,
    Confirm,
    Dismiss,
    /// Tab in a path prompt.
    Complete,
    // Files.
    /// Ask for a file or folder to send to the open conversation.
    SendFile,
    /// The list of every transfer.
    OpenTransfers,
    /// An offer: ask where to save it, or say no.
    Accept,
    Decline,
    PauseResume,
    /// Cancel the transfer under the cursor of the list.
    CancelFile,
    TransferUp,
    TransferDown,
    /// The conversation of the transfer under the cursor.
    GoToTransfer,
    CloseTransfers,
    // Groups.
    /// Ctrl-G: name a group and tick its members.
    NewGroup,
    /// In a group: invite a keyed contact, take a member out (the creator), leave.
    AddMember,
    RemoveMember,
    LeaveGroup,
    /// On an invitation: join, or decline.
    JoinGroup,
    DeclineGroup,
    // A group dialog.
    DialogUp,
    DialogDown,
    /// Tab: between the name and the list.
    DialogField,
    /// Space: tick the contact under the cursor (or a space in the name).
    Toggle,
    DialogConfirm,
    // Search.
    /// `/`: find in the open conversation, or (from the list) in every one.
    Search,
    /// `n`, `N`: the next older, newer match.
    SearchOlder,
    SearchNewer,
    EndSearch,
    // The list of matches in every conversation.
    ResultsUp,
    ResultsDown,
    ResultsOpen,
    CloseResults,
    /// The key is text for the focused editor; applied without a key it does nothing.
    Type,
}

/// Where a binding works: a pane with the keys, or an overlay that takes them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Before anything else, overlays included.
    Always,
    /// With no overlay open, whichever pane has the keys.
    Panes,
    Contacts,
    Conversation,
    Input,
    Help,
    /// The contact string overlay: any key closes it.
    Card,
    /// The safety number screen.
    Safety,
    /// A yes-or-no prompt.
    Confirm,
    /// A prompt that takes a name, a contact string or a path.
    Prompt,
    /// The list of transfers (Ctrl-T).
    Transfers,
    /// An invitation to a group, open: y or n answers it.
    Invitation,
    /// A group dialog: a new group's name and members, or a member to add or remove.
    Dialog,
    /// The conversation while a search steps through its matches: before its own keys.
    Search,
    /// The matches of a search of every conversation.
    Results,
}

/// Which keys a binding takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// This key, whatever modifiers come with it.
    Code(KeyCode),
    /// This key without Alt, Shift or Ctrl.
    Plain(KeyCode),
    /// This key with Alt, Shift or Ctrl.
    Modified(KeyCode),
    /// This key with Ctrl.
    Ctrl(KeyCode),
    /// Any key left over in its context.
    Any,
}

impl Key {
    fn matches(self, key: &KeyEvent) -> bool {
        let modified = key
            .modifiers
            .intersects(KeyModifiers::ALT | KeyModifiers::SHIFT | KeyModifiers::CONTROL);
        match self {
            Key::Code(code) => key.code == code,
            Key::Plain(code) => key.code == code && !modified,
            Key::Modified(code) => key.code == code && modified,
            Key::Ctrl(code) => key.code == code && key.modifiers.contains(KeyModifiers::CONTROL),
            Key::Any => true,
        }
    }
}

/// A part of the help screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Contacts,
    Conversation,
    Message,
    Files,
    Groups,
    Anywhere,
}

impl Section {
    /// The help's sections, in order.
    pub const ALL: [Section; 6] = [
        Section::Contacts,
        Section::Conversation,
        Section::Message,
        Section::Files,
        Section::Groups,
        Section::Anywhere,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Contacts => "Contacts",
            Section::Conversation => "Conversation",
            Section::Message => "Message",
            Section::Files => "Files",
            Section::Groups => "Groups",
            Section::Anywhere => "Anywhere",
        }
    }
}

/// A row of the help: the section it goes in, the keys as written, what they do.
#[derive(Debug, Clone, Copy)]
pub struct HelpRow {
    pub section: Section,
    pub keys: &'static str,
    pub text: &'static str,
}

/// When a status hint is worth showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The contact list has someone in it.
    Peers,
    NoPeers,
    /// The contact under the cursor is in contacts, or is not.
    Listed,
    Unlisted,
    /// A message is picked.
    Chosen,
    /// The picked message is queued, or failed.
    ChosenQueued,
    ChosenFailed,
    /// The picked message (if any) is neither queued nor failed.
    ChosenSettled,
    /// The open peer may be written to.
    MaySend,
    /// ... and has something queued or failed, or has not.
    MayRetry,
    NothingToRetry,
    /// In the conversation, y and n have an offer to answer (the picked one, or the newest).
    OfferHere,
    /// In the conversation, p has a transfer to pause or resume.
    MovingHere,
    /// The picked message is a file under way, for x.
    ChosenFileMoving,
    /// Some offer, in any conversation, waits for an answer.
    OffersWaiting,
    /// A path is being typed.
    PathPrompt,
    /// In the list of transfers, the one under the cursor waits for an answer, or moves.
    ListAsking,
    ListMoving,
    /// The picked message can be answered (not a file, nor own and queued or failed).
    ChosenReply,
    /// The open conversation has a "new" line.
    Marked,
    /// Some conversation has unread messages.
    AnyUnread,
    /// A group this user is in is open.
    InGroup,
    /// ... and this user made it.
    GroupCreator,
    /// The dialog's keys go to its list, or to a new group's name.
    DialogList,
    DialogName,
    /// A new group's dialog.
    NewGroupDialog,
    /// The contact under the cursor (in the list), open, or on the safety number screen
    /// has a key the contacts file changed; or has not.
    KeyChanged,
    KeySettled,
}

impl When {
    pub fn holds(self, app: &App) -> bool {
        let selected = app.peers().get(app.selected());
        let on_group = app.selected() >= app.peers().len() && !app.groups().is_empty();
        let chosen = app.chosen_message().and_then(|m| m.mark());
        let may_send = app
            .open_peer()
            .is_none_or(|p| app.trust(p) != Trust::Refused);
        let retryable = app.open_peer().is_some_and(|p| p.has_retryable());
        match self {
            When::Always => true,
            When::Peers => selected.is_some() || on_group,
            When::NoPeers => selected.is_none() && !on_group,
            When::Listed => selected.is_some_and(|p| p.is_listed()),
            When::Unlisted => selected.is_some_and(|p| !p.is_listed()),
            When::Chosen => app.chosen().is_some(),
            When::ChosenQueued => chosen == Some(Mark::Queued),
            When::ChosenFailed => chosen == Some(Mark::Failed),
            When::ChosenSettled => !matches!(chosen, Some(Mark::Queued | Mark::Failed)),
            When::MaySend => may_send,
            When::MayRetry => may_send && retryable,
            When::NothingToRetry => may_send && !retryable,
            When::OfferHere => app.file_target(Want::Asking).is_some_and(|i| {
                app.transfer(i)
                    .is_some_and(super::files::Transfer::is_asking)
            }),
            When::MovingHere => app.file_target(Want::Moving).is_some_and(|i| {
                app.transfer(i)
                    .is_some_and(super::files::Transfer::is_moving)
            }),
            When::ChosenFileMoving => app
                .chosen_message()
                .and_then(super::Message::transfer)
                .and_then(|i| app.transfer(i))
                .is_some_and(super::files::Transfer::is_moving),
            When::OffersWaiting => app
                .transfers()
                .iter()
                .any(super::files::Transfer::is_asking),
            When::PathPrompt => app.prompt().is_some_and(super::Prompt::is_path),
            When::ListAsking => list_transfer(app).is_some_and(super::files::Transfer::is_asking),
            When::ListMoving => list_transfer(app).is_some_and(super::files::Transfer::is_moving),
            When::ChosenReply => match app.open_group() {
                Some(group) => app
                    .group_chosen()
                    .and_then(|i| group.shown_at(i))
                    .is_some_and(|i| matches!(i.kind, crate::engine::GroupItemKind::Text(_))),
                None => app.chosen_message().is_some_and(|m| {
                    m.transfer().is_none() && !m.mark().is_some_and(Mark::is_retryable)
                }),
            },
            When::Marked => app.unread_marker().is_some() || app.group_unread_marker().is_some(),
            When::AnyUnread => {
                app.peers().iter().any(|p| p.unread() > 0)
                    || app.groups().listed().any(|g| g.unread() > 0)
            }
            When::InGroup => app.open_group().is_some_and(super::Group::is_joined),
            When::GroupCreator => app
                .open_group()
                .is_some_and(|g| g.is_joined() && g.view().is_creator()),
            When::DialogList => app.group_dialog().is_some_and(|d| !d.on_name()),
            When::DialogName => app.group_dialog().is_some_and(super::GroupDialog::on_name),
            When::KeyChanged => trust_target(app).is_some_and(|p| app.key_change(p).is_some()),
            When::KeySettled => trust_target(app).is_some_and(|p| app.key_change(p).is_none()),
            When::NewGroupDialog => app
                .group_dialog()
                .is_some_and(|d| d.kind == super::DialogKind::NewGroup),
        }
    }
}

/// The peer whose key is in question: on the safety number screen, in the open
/// conversation, or under the cursor of the list.
fn trust_target(app: &App) -> Option<&super::Peer> {
    if let super::Overlay::Safety { id } = app.overlay() {
        return app.roster().get(*id);
    }
    match app.focus() {
        super::Focus::Contacts => app.peers().get(app.selected()),
        _ => app.open_peer(),
    }
}

/// The transfer under the cursor of the list.
fn list_transfer(app: &App) -> Option<&super::files::Transfer> {
    app.transfer(app.transfers_selected()?)
}

/// A reminder in the status line: shown in `on` when `when` holds. A `pinned` one (help,
/// quit) is always shown; the others by `rank`, lowest first, as many as fit.
#[derive(Debug, Clone, Copy)]
pub struct Hint {
    pub on: Context,
    pub when: When,
    pub rank: u8,
    pub pinned: bool,
    pub key: &'static str,
    pub text: &'static str,
}

/// One binding: in these contexts, these keys do this.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub on: &'static [Context],
    pub keys: &'static [Key],
    pub action: Action,
    pub help: Option<HelpRow>,
    pub hints: &'static [Hint],
}

use Context as C;
use Key::{Any, Code, Ctrl, Modified, Plain};
use KeyCode::{BackTab, Char, Down, End, Enter, Esc, F, Home, PageDown, PageUp, Tab, Up};

const fn help(section: Section, keys: &'static str, text: &'static str) -> Option<HelpRow> {
    Some(HelpRow {
        section,
        keys,
        text,
    })
}

const fn hint(on: Context, when: When, rank: u8, key: &'static str, text: &'static str) -> Hint {
    Hint {
        on,
        when,
        rank,
        pinned: false,
        key,
        text,
    }
}

/// A hint shown whatever the width: how to get help, how to leave.
const fn pinned(on: Context, key: &'static str, text: &'static str) -> Hint {
    Hint {
        on,
        when: When::Always,
        rank: 0,
        pinned: true,
        key,
        text,
    }
}

const fn bind(
    on: &'static [Context],
    keys: &'static [Key],
    action: Action,
    help: Option<HelpRow>,
    hints: &'static [Hint],
) -> Binding {
    Binding {
        on,
        keys,
        action,
        help,
        hints,
    }
}

/// The bindings, in the order the help lists them. Within a context no two bindings take
/// the same key, except a last [`Key::Any`].
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    // Contacts.
    bind(&[C::Contacts], &[Code(Up), Code(Char('k'))], Action::SelectUp,
        help(Section::Contacts, "↑ ↓  j k", "move · g G or Home End: first, last"),
        &[hint(C::Contacts, When::Peers, 0, "↑↓", "move")]),
    bind(&[C::Contacts], &[Code(Down), Code(Char('j'))], Action::SelectDown, None, &[]),
    bind(&[C::Contacts], &[Code(Home), Code(Char('g'))], Action::SelectFirst, None, &[]),
    bind(&[C::Contacts], &[Code(End), Code(Char('G'))], Action::SelectLast, None, &[]),
    bind(&[C::Contacts], &[Code(Enter)], Action::OpenConversation,
        help(Section::Contacts, "Enter", "open the conversation"),
        &[hint(C::Contacts, When::Peers, 1, "Enter", "open")]),
    bind(&[C::Contacts], &[Code(Char('a'))], Action::AddContact,
        help(Section::Contacts, "a", "add to contacts (also on this network)"),
        &[hint(C::Contacts, When::Unlisted, 2, "a", "add to contacts")]),
    bind(&[C::Contacts], &[Code(Char('A'))], Action::PasteContact,
        help(Section::Contacts, "A", "paste a contact string (qqchat id)"),
        &[
            hint(C::Contacts, When::NoPeers, 0, "A", "paste id"),
            hint(C::Contacts, When::Peers, 4, "A", "paste id"),
        ]),
    bind(&[C::Contacts], &[Code(Char('n'))], Action::RenameContact,
        help(Section::Contacts, "n  d", "rename · remove (history is kept)"),
        &[hint(C::Contacts, When::Listed, 2, "n", "rename")]),
    bind(&[C::Contacts], &[Code(Char('d'))], Action::RemoveContact, None,
        &[hint(C::Contacts, When::Peers, 3, "d", "remove")]),
    bind(&[C::Contacts, C::Conversation], &[Code(Char('v'))], Action::ShowSafety,
        help(Section::Contacts, "v", "safety number: verify, accept a new key"),
        &[
            hint(C::Contacts, When::KeyChanged, 0, "v", "key changed!"),
            hint(C::Conversation, When::KeyChanged, 0, "v", "key changed!"),
        ]),
    // The conversation.
    bind(&[C::Conversation], &[Code(Up), Code(Char('k'))], Action::ChooseEarlier,
        help(Section::Conversation, "↑ ↓  j k", "pick a message"),
        &[hint(C::Conversation, When::Always, 0, "↑↓", "pick")]),
    bind(&[C::Conversation], &[Code(Down), Code(Char('j'))], Action::ChooseLater, None, &[]),
    bind(&[C::Conversation], &[Code(Char('r'))], Action::Reply,
        help(Section::Conversation, "r", "reply · own failed: retry, queued: send"),
        &[
            hint(C::Conversation, When::ChosenQueued, 1, "r", "send now"),
            hint(C::Conversation, When::ChosenFailed, 1, "r", "retry"),
            hint(C::Conversation, When::ChosenReply, 2, "r", "reply"),
        ]),
    bind(&[C::Contacts, C::Conversation], &[Code(Char('u'))], Action::FirstUnread,
        help(Section::Conversation, "u  M", "first unread · mark everything read"),
        &[
            hint(C::Conversation, When::Marked, 4, "u", "first new"),
            hint(C::Contacts, When::AnyUnread, 5, "u", "unread"),
        ]),
    bind(&[C::Contacts, C::Conversation], &[Code(Char('M'))], Action::MarkAllRead, None, &[]),
    bind(&[C::Conversation], &[Code(Char('x'))], Action::Cancel,
        help(Section::Conversation, "x", "cancel picked queued message or file"),
        &[
            hint(C::Conversation, When::ChosenQueued, 2, "x", "cancel"),
            hint(C::Conversation, When::ChosenFileMoving, 2, "x", "cancel file"),
        ]),
    bind(&[C::Panes], &[Code(PageUp)], Action::PageUp,
        help(Section::Conversation, "PgUp PgDn", "scroll · Home End, g G: oldest, newest"),
        &[hint(C::Conversation, When::ChosenSettled, 2, "PgUp/PgDn", "scroll")]),
    bind(&[C::Panes], &[Code(PageDown)], Action::PageDown, None, &[]),
    bind(&[C::Conversation], &[Code(End), Code(Char('G'))], Action::Newest, None, &[]),
    bind(&[C::Conversation], &[Code(Home), Code(Char('g'))], Action::Oldest, None, &[]),
    bind(&[C::Conversation], &[Code(Enter)], Action::Details,
        help(Section::Conversation, "Enter", "picked message: times, who lacks it"),
        &[hint(C::Conversation, When::Chosen, 1, "Enter", "times")]),
    bind(&[C::Conversation], &[Code(Char('i'))], Action::Write,
        help(Section::Conversation, "i", "write; Enter too, with none picked"), &[]),
    bind(&[C::Contacts, C::Conversation], &[Code(Char('/'))], Action::Search,
        help(Section::Conversation, "/  n N", "search (in the list: all) · n N: next"),
        &[
            hint(C::Conversation, When::ChosenSettled, 4, "/", "search"),
            hint(C::Contacts, When::Peers, 5, "/", "search"),
        ]),
    bind(&[C::Search], &[Code(Char('n'))], Action::SearchOlder, None,
        &[hint(C::Search, When::Always, 0, "n", "older match")]),
    bind(&[C::Search], &[Code(Char('N'))], Action::SearchNewer, None,
        &[hint(C::Search, When::Always, 1, "N", "newer")]),
    bind(&[C::Search], &[Code(Esc)], Action::EndSearch, None,
        &[hint(C::Search, When::Always, 2, "Esc", "end search")]),
    bind(&[C::Results], &[Code(Up), Code(Char('k'))], Action::ResultsUp, None,
        &[hint(C::Results, When::Always, 0, "↑↓", "pick")]),
    bind(&[C::Results], &[Code(Down), Code(Char('j'))], Action::ResultsDown, None, &[]),
    bind(&[C::Results], &[Code(Enter)], Action::ResultsOpen, None,
        &[hint(C::Results, When::Always, 1, "Enter", "open there")]),
    bind(&[C::Results], &[Code(Esc), Code(Char('q'))], Action::CloseResults, None,
        &[pinned(C::Results, "Esc", "close")]),
    // Files.
    bind(&[C::Panes], &[Ctrl(Char('o')), Ctrl(Char('O'))], Action::SendFile,
        help(Section::Files, "Ctrl-O", "send a file or folder (Tab completes)"),
        &[hint(C::Input, When::MaySend, 3, "Ctrl-O", "send file")]),
    bind(&[C::Panes], &[Ctrl(Char('t')), Ctrl(Char('T'))], Action::OpenTransfers,
        help(Section::Files, "Ctrl-T", "every transfer: answer, pause, cancel"),
        &[
            hint(C::Input, When::OffersWaiting, 0, "Ctrl-T", "answer file offer"),
            hint(C::Contacts, When::OffersWaiting, 0, "Ctrl-T", "answer file offer"),
        ]),
    bind(&[C::Conversation, C::Transfers], &[Code(Char('y')), Code(Char('Y'))], Action::Accept,
        help(Section::Files, "y  n", "accept · decline file; y: copy message"),
        &[
            hint(C::Conversation, When::OfferHere, 0, "y", "accept file"),
            hint(C::Transfers, When::ListAsking, 1, "y", "accept"),
        ]),
    bind(&[C::Conversation, C::Transfers], &[Code(Char('n')), Code(Char('N'))], Action::Decline,
        None,
        &[
            hint(C::Conversation, When::OfferHere, 1, "n", "decline"),
            hint(C::Transfers, When::ListAsking, 2, "n", "decline"),
        ]),
    bind(&[C::Conversation, C::Transfers], &[Code(Char('p')), Code(Char('P'))], Action::PauseResume,
        help(Section::Files, "p  x", "pause/resume · cancel the picked file"),
        &[
            hint(C::Conversation, When::MovingHere, 2, "p", "pause/resume"),
            hint(C::Transfers, When::ListMoving, 1, "p", "pause/resume"),
        ]),
    bind(&[C::Transfers], &[Code(Char('x')), Code(Char('X'))], Action::CancelFile, None,
        &[hint(C::Transfers, When::ListMoving, 2, "x", "cancel")]),
    bind(&[C::Transfers], &[Code(Up), Code(Char('k'))], Action::TransferUp, None,
        &[hint(C::Transfers, When::Always, 0, "↑↓", "pick")]),
    bind(&[C::Transfers], &[Code(Down), Code(Char('j'))], Action::TransferDown, None, &[]),
    bind(&[C::Transfers], &[Code(Enter)], Action::GoToTransfer, None,
        &[hint(C::Transfers, When::Always, 3, "Enter", "go to conversation")]),
    bind(&[C::Transfers], &[Code(Esc), Ctrl(Char('t')), Ctrl(Char('T')), Code(Char('q'))],
        Action::CloseTransfers, None,
        &[pinned(C::Transfers, "Esc", "close")]),
    // Groups.
    bind(&[C::Panes], &[Ctrl(Char('g')), Ctrl(Char('G'))], Action::NewGroup,
        help(Section::Groups, "Ctrl-G", "new group: name it, tick members"),
        &[hint(C::Contacts, When::Always, 6, "Ctrl-G", "new group")]),
    bind(&[C::Conversation], &[Code(Char('+'))], Action::AddMember,
        help(Section::Groups, "+  -", "group: add · remove member (creator)"),
        &[hint(C::Conversation, When::InGroup, 1, "+", "add member")]),
    bind(&[C::Conversation], &[Code(Char('-'))], Action::RemoveMember, None,
        &[hint(C::Conversation, When::GroupCreator, 2, "-", "remove member")]),
    bind(&[C::Conversation], &[Code(Char('L'))], Action::LeaveGroup,
        help(Section::Groups, "L", "leave the group (asks first)"),
        &[hint(C::Conversation, When::InGroup, 2, "L", "leave")]),
    bind(&[C::Invitation], &[Code(Char('y')), Code(Char('Y'))], Action::JoinGroup,
        help(Section::Groups, "y  n", "on an invitation: join · decline"),
        &[hint(C::Invitation, When::Always, 0, "y", "join")]),
    bind(&[C::Invitation], &[Code(Char('n')), Code(Char('N'))], Action::DeclineGroup, None,
        &[hint(C::Invitation, When::Always, 1, "n", "decline")]),
    bind(&[C::Dialog], &[Code(Up)], Action::DialogUp, None,
        &[hint(C::Dialog, When::DialogList, 1, "↑↓", "pick")]),
    bind(&[C::Dialog], &[Code(Down)], Action::DialogDown, None, &[]),
    bind(&[C::Dialog], &[Code(Tab), Code(BackTab)], Action::DialogField, None,
        &[
            hint(C::Dialog, When::DialogName, 1, "Tab", "to the list"),
        ]),
    bind(&[C::Dialog], &[Code(Char(' '))], Action::Toggle, None,
        &[hint(C::Dialog, When::NewGroupDialog, 2, "Space", "tick")]),
    bind(&[C::Dialog], &[Code(Enter)], Action::DialogConfirm, None,
        &[hint(C::Dialog, When::Always, 0, "Enter", "confirm")]),
    bind(&[C::Dialog], &[Code(Esc)], Action::Dismiss, None,
        &[pinned(C::Dialog, "Esc", "cancel")]),
    bind(&[C::Dialog], &[Any], Action::Type, None, &[]),
    // The input.
    bind(&[C::Input], &[Plain(Enter)], Action::Send,
        help(Section::Message, "Enter", "send"),
        &[hint(C::Input, When::MaySend, 0, "Enter", "send")]),
    bind(&[C::Input], &[Modified(Enter)], Action::NewLine,
        help(Section::Message, "Alt+Enter", "new line; Shift+Enter where supported"),
        &[hint(C::Input, When::NothingToRetry, 1, "Alt+Enter", "new line")]),
    bind(&[C::Input], &[Ctrl(Char('r')), Ctrl(Char('R'))], Action::RetryLatest,
        help(Section::Message, "Ctrl-R", "r on the newest failed or queued"),
        &[hint(C::Input, When::MayRetry, 1, "Ctrl-R", "retry/send queued")]),
    bind(&[C::Input], &[Ctrl(Char('x')), Ctrl(Char('X'))], Action::ExternalEditor,
        help(Section::Message, "Ctrl-X", "write it in $VISUAL / $EDITOR"), &[]),
    bind(&[C::Input], &[Plain(Up)], Action::Recall,
        help(Section::Message, "↑ (empty)", "your last message here, to edit"), &[]),
    bind(&[C::Input, C::Prompt], &[Ctrl(Char('a'))], Action::Edit(Edit::LineStart),
        help(Section::Message, "Ctrl-A/E", "start · end of the line"), &[]),
    bind(&[C::Input, C::Prompt], &[Ctrl(Char('e'))], Action::Edit(Edit::LineEnd), None, &[]),
    bind(&[C::Input, C::Prompt], &[Ctrl(Char('u'))], Action::Edit(Edit::DeleteToStart),
        help(Section::Message, "Ctrl-U/K/W", "delete to start · to end · word back"), &[]),
    bind(&[C::Input, C::Prompt], &[Ctrl(Char('k'))], Action::Edit(Edit::DeleteToEnd), None, &[]),
    bind(&[C::Input, C::Prompt], &[Ctrl(Char('w'))], Action::Edit(Edit::DeleteWordBack), None,
        &[]),
    // Anywhere.
    bind(&[C::Contacts, C::Conversation, C::Input, C::Invitation], &[Code(Tab)], Action::NextPane,
        help(Section::Anywhere, "Tab  Esc", "next pane · back to contacts"), &[]),
    bind(&[C::Conversation, C::Input, C::Invitation], &[Code(Esc)], Action::Back, None,
        &[
            hint(C::Invitation, When::Always, 3, "Esc", "back"),
            hint(C::Conversation, When::Always, 3, "Esc", "back"),
            hint(C::Input, When::Always, 2, "Esc", "back"),
        ]),
    bind(&[C::Contacts, C::Conversation, C::Input, C::Invitation], &[Code(BackTab)],
        Action::PreviousPane,
        help(Section::Anywhere, "Shift+Tab", "previous pane"), &[]),
    bind(&[C::Panes], &[Code(F(5))], Action::ReloadContacts,
        help(Section::Anywhere, "F5", "reload the contacts file"),
        &[hint(C::Contacts, When::NoPeers, 1, "F5", "reload contacts")]),
    bind(&[C::Panes], &[Code(F(1))], Action::OpenHelp,
        help(Section::Anywhere, "F1  ?", "this help"),
        &[pinned(C::Input, "F1", "help")]),
    bind(&[C::Contacts, C::Conversation, C::Invitation], &[Code(Char('?'))], Action::OpenHelp,
        None,
        &[
            pinned(C::Contacts, "?", "help"),
            pinned(C::Conversation, "?", "help"),
            pinned(C::Invitation, "?", "help"),
        ]),
    bind(&[C::Panes], &[Code(F(2))], Action::ShowCard,
        help(Section::Anywhere, "F2  I", "your contact string, copied to give"),
        &[hint(C::Contacts, When::Always, 5, "F2", "my id")]),
    bind(&[C::Contacts, C::Conversation], &[Code(Char('I'))], Action::ShowCard, None, &[]),
    bind(&[C::Contacts], &[Code(Char('q'))], Action::Quit,
        help(Section::Anywhere, "q  Ctrl-C", "quit (q in the contact list)"),
        &[pinned(C::Contacts, "q", "quit")]),
    bind(&[C::Always], &[Ctrl(Char('c')), Ctrl(Char('C'))], Action::Quit, None,
        &[pinned(C::Conversation, "Ctrl-C", "quit"), pinned(C::Input, "Ctrl-C", "quit")]),
    // The help, while open: arrows scroll it, any other key closes it.
    bind(&[C::Help], &[Code(Down), Code(Char('j'))], Action::HelpDown, None, &[]),
    bind(&[C::Help], &[Code(PageDown)], Action::HelpPageDown, None, &[]),
    bind(&[C::Help], &[Code(Up), Code(Char('k'))], Action::HelpUp, None, &[]),
    bind(&[C::Help], &[Code(PageUp)], Action::HelpPageUp, None, &[]),
    bind(&[C::Help], &[Any], Action::CloseHelp, None,
        &[hint(C::Help, When::Always, 0, "any key", "closes help")]),
    bind(&[C::Card], &[Any], Action::CloseHelp, None,
        &[hint(C::Card, When::Always, 0, "any key", "closes")]),
    bind(&[C::Safety], &[Code(Char('a'))], Action::AcceptKey, None,
        &[hint(C::Safety, When::KeyChanged, 0, "a", "accept the new key")]),
    bind(&[C::Safety], &[Code(Char('m'))], Action::ToggleVerified, None,
        &[hint(C::Safety, When::KeySettled, 0, "m", "mark verified or not")]),
    bind(&[C::Safety], &[Any], Action::CloseHelp, None,
        &[hint(C::Safety, When::Always, 1, "other keys", "close")]),
    // Prompts.
    bind(&[C::Confirm], &[Code(Char('y')), Code(Char('Y'))], Action::Yes, None,
        &[hint(C::Confirm, When::Always, 0, "y", "yes")]),
    bind(&[C::Confirm], &[Code(Char('n')), Code(Char('N')), Code(Esc)], Action::No, None,
        &[hint(C::Confirm, When::Always, 1, "n Esc", "no")]),
    bind(&[C::Prompt], &[Code(Esc)], Action::Dismiss, None,
        &[hint(C::Prompt, When::Always, 1, "Esc", "cancel")]),
    bind(&[C::Prompt], &[Code(Enter)], Action::Confirm, None,
        &[hint(C::Prompt, When::Always, 0, "Enter", "confirm")]),
    bind(&[C::Prompt], &[Code(Tab)], Action::Complete, None,
        &[hint(C::Prompt, When::PathPrompt, 2, "Tab", "complete")]),
    bind(&[C::Prompt, C::Input], &[Any], Action::Type, None, &[]),
];

/// The action `key` has in `context`, if any.
pub fn lookup(context: Context, key: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.on.contains(&context))
        .find(|b| b.keys.iter().any(|k| k.matches(key)))
        .map(|b| b.action)
}

/// The help's rows in `section`, in order.
pub fn help_rows(section: Section) -> impl Iterator<Item = &'static HelpRow> {
    BINDINGS
        .iter()
        .filter_map(|b| b.help.as_ref())
        .filter(move |row| row.section == section)
}

/// The hints that matter in `context` right now: the pinned ones, then the rest by rank.
pub fn hints(app: &App, context: Context) -> Vec<&'static Hint> {
    let mut hints: Vec<&Hint> = BINDINGS
        .iter()
        .flat_map(|b| b.hints)
        .filter(|h| h.on == context && h.when.holds(app))
        .collect();
    hints.sort_by_key(|h| (!h.pinned, h.rank));
    hints
}

/// Rows of the legend of marks under the keys in the help; `ui::help` draws them.
pub const LEGEND_ROWS: usize = 7;

/// How many sections and rows the help lists, with a legend `legend` rows long.
pub fn help_shape(legend: usize) -> HelpShape {
    HelpShape {
        sections: Section::ALL.len(),
        rows: BINDINGS.iter().filter(|b| b.help.is_some()).count(),
        legend,
    }
}
