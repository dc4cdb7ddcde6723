//! Command numbers and option bits from the IP Messenger protocol. A datagram's command field
//! carries both: the command in the low 8 bits and the options in the rest, so clients that add
//! an option bit to an answer (iptux acks with `RECVMSG | 0x100`) still mean the same command.

/// The UDP port every IP Messenger client listens on and answers to.
pub const PORT: u16 = 2425;

/// The protocol version this crate speaks and writes in the first field.
pub const VERSION: &str = "1_qqchat";

pub const NOOPERATION: u32 = 0x00;
/// "I am here": broadcast on start; everyone answers [`ANSENTRY`].
pub const BR_ENTRY: u32 = 0x01;
/// "I am leaving": broadcast on quit.
pub const BR_EXIT: u32 = 0x02;
/// The answer to a [`BR_ENTRY`], unicast.
pub const ANSENTRY: u32 = 0x03;
/// A change of absence state or of name, broadcast.
pub const BR_ABSENCE: u32 = 0x04;
pub const BR_ISGETLIST: u32 = 0x10;
pub const OKGETLIST: u32 = 0x11;
pub const GETLIST: u32 = 0x12;
pub const ANSLIST: u32 = 0x13;
pub const BR_ISGETLIST2: u32 = 0x18;
/// A message; with [`SENDCHECKOPT`] the receiver answers [`RECVMSG`].
pub const SENDMSG: u32 = 0x20;
/// The receipt for a [`SENDMSG`]: its extra is the message's packet number in decimal.
pub const RECVMSG: u32 = 0x21;
/// A sealed message was opened.
pub const READMSG: u32 = 0x30;
pub const DELMSG: u32 = 0x31;
pub const ANSREADMSG: u32 = 0x32;
/// "Which program and version are you?"; answered with [`SENDINFO`].
pub const GETINFO: u32 = 0x40;
pub const SENDINFO: u32 = 0x41;
/// "What is your absence message?"; answered with [`SENDABSENCEINFO`].
pub const GETABSENCEINFO: u32 = 0x50;
pub const SENDABSENCEINFO: u32 = 0x51;
pub const GETFILEDATA: u32 = 0x60;
pub const RELEASEFILES: u32 = 0x61;
pub const GETDIRFILES: u32 = 0x62;
pub const GETPUBKEY: u32 = 0x72;
pub const ANSPUBKEY: u32 = 0x73;

// Options for every command.
/// On entry packets: the sender is absent.
pub const ABSENCEOPT: u32 = 0x0000_0100;
pub const SERVEROPT: u32 = 0x0000_0200;
pub const DIALUPOPT: u32 = 0x0001_0000;
/// The sender can attach files.
pub const FILEATTACHOPT: u32 = 0x0020_0000;
/// The sender can encrypt.
pub const ENCRYPTOPT: u32 = 0x0040_0000;
/// This datagram's text fields are UTF-8.
pub const UTF8OPT: u32 = 0x0080_0000;
/// The sender understands UTF-8 (sent with [`UTF8OPT`]).
pub const CAPUTF8OPT: u32 = 0x0100_0000;
pub const ENCEXTMSGOPT: u32 = 0x0400_0000;
pub const CLIPBOARDOPT: u32 = 0x0800_0000;

// Options for SENDMSG.
/// Ask for a [`RECVMSG`] receipt.
pub const SENDCHECKOPT: u32 = 0x0000_0100;
/// A sealed message.
pub const SECRETOPT: u32 = 0x0000_0200;
pub const BROADCASTOPT: u32 = 0x0000_0400;
pub const MULTICASTOPT: u32 = 0x0000_0800;
/// An automatic answer (absence reply): never answered automatically again.
pub const AUTORETOPT: u32 = 0x0000_2000;
pub const RETRYOPT: u32 = 0x0000_4000;
pub const PASSWORDOPT: u32 = 0x0000_8000;
pub const NOLOGOPT: u32 = 0x0002_0000;
/// The sender asks not to be added to the receiver's list of peers.
pub const NOADDLISTOPT: u32 = 0x0008_0000;
pub const READCHECKOPT: u32 = 0x0010_0000;

/// The command part of a command field (its low 8 bits).
pub fn command(field: u32) -> u32 {
    field & 0xff
}

/// The option part of a command field (all but its low 8 bits).
pub fn options(field: u32) -> u32 {
    field & !0xff
}

// File attachments: the low byte of a file's attribute is its kind, the rest are options.
/// A regular file.
pub const FILE_REGULAR: u32 = 0x01;
/// A directory, fetched with [`GETDIRFILES`].
pub const FILE_DIR: u32 = 0x02;
/// In a directory stream: back up to the parent directory (the name is `.`).
pub const FILE_RETPARENT: u32 = 0x03;
pub const FILE_SYMLINK: u32 = 0x04;
pub const FILE_CDEV: u32 = 0x05;
pub const FILE_BDEV: u32 = 0x06;
pub const FILE_FIFO: u32 = 0x07;
pub const FILE_RESFORK: u32 = 0x10;
pub const FILE_CLIPBOARD: u32 = 0x20;
pub const FILE_RONLYOPT: u32 = 0x0000_0100;
pub const FILE_HIDDENOPT: u32 = 0x0000_1000;
pub const FILE_EXHIDDENOPT: u32 = 0x0000_2000;
pub const FILE_ARCHIVEOPT: u32 = 0x0000_4000;
pub const FILE_SYSTEMOPT: u32 = 0x0000_8000;

// Keys of a file's extended attributes (`key=value` after the attribute, both in hex).
pub const FILE_UID: u32 = 0x01;
pub const FILE_USERNAME: u32 = 0x02;
pub const FILE_GID: u32 = 0x03;
pub const FILE_GROUPNAME: u32 = 0x04;
pub const FILE_CLIPBOARDPOS: u32 = 0x08;
pub const FILE_PERM: u32 = 0x10;
pub const FILE_MAJORNO: u32 = 0x11;
pub const FILE_MINORNO: u32 = 0x12;
pub const FILE_CTIME: u32 = 0x13;
pub const FILE_MTIME: u32 = 0x14;
pub const FILE_ATIME: u32 = 0x15;
pub const FILE_CREATETIME: u32 = 0x16;

/// Separates the entries of a file list (`\a`).
pub const FILELIST_SEPARATOR: u8 = 0x07;

/// The kind part of a file attribute (its low 8 bits).
pub fn file_kind(attr: u32) -> u32 {
    attr & 0xff
}
