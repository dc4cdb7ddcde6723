//! The `qqchat` command: parses flags, validates everything, then picks a front end.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use qqchat::cli::{self, Common, Reply};

/// A terminal-UI, peer-to-peer messenger over UDP. No server, no account.
#[derive(Parser, Debug)]
#[command(name = "qqchat", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Args, Debug, Clone)]
struct CommonArgs {
    /// The contacts file (default: ./contacts.toml, then the config dir).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    contacts: Option<PathBuf>,
    /// Listen on this address instead of [me] listen, e.g. 0.0.0.0:9005.
    #[arg(long, short = 'b', global = true, value_name = "ADDR")]
    bind: Option<String>,
    /// Use this name instead of [me] name.
    #[arg(long, global = true, value_name = "NAME")]
    name: Option<String>,
    /// Keep the history here (default: $QQCHAT_DATA_DIR, else ~/.local/share/qqchat).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Stay off the LAN for this run: no multicast DNS announcing or looking, no IP Messenger.
    #[arg(long, global = true)]
    no_lan: bool,
    /// Use this network interface only for the LAN (e.g. eth0); give it once per interface.
    /// Default: [lan] interfaces, else every IPv4 interface that is up, except loopback.
    #[arg(long, global = true, value_name = "NAME")]
    lan_interface: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Open the chat on loopback with a built-in bot that answers; no set-up needed.
    Demo,
    /// Send a message (or each line of standard input) and wait until it is delivered.
    Send {
        /// A contact's name, an ip:port, or a group (its name or a prefix of its id).
        to: String,
        /// The message; without it each line of standard input is one message.
        text: Vec<String>,
        /// Seconds to keep retrying each message before giving up.
        #[arg(long, default_value_t = 30.0, value_name = "SECS")]
        timeout: f64,
        /// Leave undelivered messages in the outbox, for the chat to send later.
        #[arg(long)]
        queue: bool,
    },
    /// Probe a contact: round trip and loss, and what to check when nothing answers.
    Ping {
        /// A contact's name or an ip:port.
        to: String,
        /// How many probes (at least one).
        #[arg(long, short = 'n', default_value_t = 4,
              value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
        /// Seconds between probes (and how long to wait for each answer).
        #[arg(long, short = 'i', default_value_t = 1.0, value_name = "SECS")]
        interval: f64,
    },
    /// Check what can be reached: local and public addresses (STUN), the NAT's type, and
    /// whether each contact answers, with a fix for whatever fails.
    Doctor,
    /// Show your public key and the contact string to give a friend.
    Id {
        /// An address friends reach you at (a public one), put in the contact string after
        /// the LAN one; give it once per address.
        #[arg(long, value_name = "HOST:PORT")]
        addr: Vec<String>,
        /// Print only the contact string.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Also show the contact string as a QR code, for a phone or another screen.
        #[arg(long)]
        qr: bool,
    },
    /// Add a friend from the contact string their `qqchat id` printed.
    Add {
        /// The line, in quotes: qqchat:NAME@ADDR1,ADDR2?key=KEY
        line: String,
        /// Save the contact under this name instead of the one in the line.
        #[arg(long = "as", value_name = "NAME")]
        save_as: Option<String>,
    },
    /// Show the safety number with a contact, to compare with theirs; mark them verified,
    /// or accept the new key the contacts file names for them.
    Verify {
        /// The contact's name in the contacts file.
        contact: String,
        /// You compared the number and it is the same: mark the contact verified.
        #[arg(long)]
        mark: bool,
        /// Take the verified mark away.
        #[arg(long, conflicts_with = "mark")]
        unmark: bool,
        /// The contact really has a new key (you compared the new safety number): use the
        /// key the contacts file now names, in place of the one first trusted.
        #[arg(long)]
        accept_new_key: bool,
    },
    /// Print a conversation from the history.
    History {
        /// A contact's name, an ip:port, or a group (its name or a prefix of its id).
        contact: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Find messages in the whole history, newest first.
    Search {
        /// Words a message must all contain, in any case (any part of a word matches).
        #[arg(required = true)]
        query: Vec<String>,
        /// Only the conversation with this contact (or ip:port).
        #[arg(long, value_name = "CONTACT")]
        contact: Option<String>,
        /// Only messages since: 2026-11-30, "2026-11-30 18:00", or an age: 7d, 12h, 30m.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// At most this many matches.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Best matches first (ranked among the newest 250), instead of newest first.
        #[arg(long)]
        rank: bool,
    },
    /// Write the history out: every conversation (or one), oldest first.
    Export {
        /// Only the conversation with this contact (or ip:port).
        #[arg(long, value_name = "CONTACT")]
        contact: Option<String>,
        /// Only messages since: 2026-11-30, "2026-11-30 18:00", or an age: 7d, 12h, 30m.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        #[arg(long, value_enum, default_value_t = cli::ExportFormat::Jsonl)]
        format: cli::ExportFormat,
    },
    /// Print how many messages are unread in each conversation, then the total (for a
    /// status bar). Works while the chat runs; changes nothing.
    Unread {
        /// One JSON object: {"total":N,"conversations":[{"name":..,"group":..,"unread":N}]}.
        #[arg(long)]
        json: bool,
    },
    /// Print each message as it arrives, one line each, until interrupted.
    Listen {
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// Take every file offered into this directory (it is checked against its hash
        /// before it gets its name; a name is never used as a path).
        #[arg(long, value_name = "DIR")]
        accept_files: Option<PathBuf>,
        /// Join every group a contact invites you to (otherwise an invitation prints how to
        /// accept it).
        #[arg(long)]
        accept_groups: bool,
    },
    /// Send files to a contact and wait until each is received and verified there.
    SendFile {
        /// Seconds to wait for all of them.
        #[arg(long, default_value_t = 600.0)]
        timeout: f64,
        /// Offer a single file under this name instead of its own.
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// A contact's name, or ip:port.
        to: String,
        /// The files and folders (a folder goes with everything in it).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Groups: create one, add or remove members, leave, answer an invitation, list them.
    Group {
        #[command(subcommand)]
        command: GroupCmd,
        /// Seconds to wait for the members online to have what was written.
        #[arg(long, global = true, default_value_t = 30.0, value_name = "SECS")]
        timeout: f64,
    },
    /// Answer every message, to its sender.
    Bot {
        /// How to answer.
        #[arg(long, value_enum, default_value_t = Reply::Upper)]
        reply: Reply,
    },
}

#[derive(Subcommand, Debug)]
enum GroupCmd {
    /// Start a group with these contacts; each is sent an invitation.
    Create {
        name: String,
        /// The contacts to invite.
        #[arg(required = true, value_name = "CONTACT")]
        members: Vec<String>,
    },
    /// Invite a contact into a group (GROUP: its name or a prefix of its id).
    Add { group: String, contact: String },
    /// Take a member out (the creator only): a contact's name, or the name they were added
    /// under.
    Remove { group: String, member: String },
    /// Leave a group: the others are told, and nothing more comes.
    Leave { group: String },
    /// Join a group you were invited to.
    Accept { group: String },
    /// Say no to an invitation.
    Decline { group: String },
    /// Every group: its name, id, your standing, members and how many messages.
    List,
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let common = Common {
        contacts: args.common.contacts,
        bind: args.common.bind,
        name: args.common.name,
        data_dir: args.common.data_dir,
        no_lan: args.common.no_lan,
        lan_interfaces: args.common.lan_interface,
    };
    let result = match args.command {
        None => cli::chat(&common),
        Some(Cmd::Demo) => cli::demo(&common),
        Some(Cmd::Send {
            to,
            text,
            timeout,
            queue,
        }) => cli::send(&common, &to, &text, timeout, queue),
        Some(Cmd::Ping {
            to,
            count,
            interval,
        }) => cli::ping(&common, &to, count, interval),
        Some(Cmd::Doctor) => cli::doctor(&common),
        Some(Cmd::History { contact, json }) => cli::history(&common, &contact, json),
        Some(Cmd::Search {
            query,
            contact,
            since,
            json,
            limit,
            rank,
        }) => cli::search(
            &common,
            &query,
            contact.as_deref(),
            since.as_deref(),
            json,
            limit,
            rank,
        ),
        Some(Cmd::Export {
            contact,
            since,
            format,
        }) => cli::export(&common, contact.as_deref(), since.as_deref(), format),
        Some(Cmd::Unread { json }) => cli::unread(&common, json),
        Some(Cmd::Id { addr, quiet, qr }) => cli::id(&common, &addr, quiet, qr),
        Some(Cmd::Add { line, save_as }) => cli::add(&common, &line, save_as.as_deref()),
        Some(Cmd::Verify {
            contact,
            mark,
            unmark,
            accept_new_key,
        }) => cli::verify(
            &common,
            &contact,
            cli::VerifyArgs {
                mark,
                unmark,
                accept_new_key,
            },
        ),
        Some(Cmd::Listen {
            json,
            accept_files,
            accept_groups,
        }) => cli::listen(&common, json, accept_files, accept_groups),
        Some(Cmd::SendFile {
            timeout,
            name,
            to,
            paths,
        }) => cli::send_file(&common, &to, &paths, name, timeout),
        Some(Cmd::Bot { reply }) => cli::bot(&common, reply),
        Some(Cmd::Group { command, timeout }) => {
            let cmd = match command {
                GroupCmd::List => return finish(cli::group_list(&common)),
                GroupCmd::Create { name, members } => cli::GroupCmd::Create { name, members },
                GroupCmd::Add { group, contact } => cli::GroupCmd::Add {
                    group,
                    member: contact,
                },
                GroupCmd::Remove { group, member } => cli::GroupCmd::Remove { group, member },
                GroupCmd::Leave { group } => cli::GroupCmd::Leave { group },
                GroupCmd::Accept { group } => cli::GroupCmd::Answer {
                    group,
                    accept: true,
                },
                GroupCmd::Decline { group } => cli::GroupCmd::Answer {
                    group,
                    accept: false,
                },
            };
            cli::group(&common, cmd, timeout)
        }
    };
    finish(result)
}

fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("qqchat: {err:#}");
            ExitCode::FAILURE
        }
    }
}
