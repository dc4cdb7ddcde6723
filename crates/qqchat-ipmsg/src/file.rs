//! File attachments, byte-exact and sans-IO: the file list of a `SENDMSG|FILEATTACHOPT`
//! offer, the requests that fetch, list and release offered files, and the stream of headers
//! a directory is sent as. No sockets here: the caller moves the bytes over TCP port 2425.
//!
//! The formats, from the IP Messenger protocol description and what iptux 0.8 does:
//!
//! - An offer is `text\0list\0` in the extra field, the list being entries
//!   `fileID:name:size:mtime:attr[:key=value...]:` separated by `\a`. The file ID is decimal
//!   (IP Messenger and iptux both write `%u`); size, mtime, attribute and the keys and values
//!   of extended attributes are hex. A `:` in a name is written `::`. Clients differ around
//!   the separator: `\a`, `:\a`, `\a:` and `:\a:` all occur, so each is read.
//! - `GETFILEDATA` asks for `packetID:fileID:offset`, `GETDIRFILES` for `packetID:fileID`
//!   (iptux adds `:0`), all hex. The packet ID is the offer's packet number.
//! - `RELEASEFILES` (over UDP) says the offer of `packetID` is no longer wanted; IP Messenger
//!   writes that packet number in decimal, as in a receipt.
//! - A directory is answered with headers `size:name:size:attr[:key=value...]:` followed by a
//!   file's contents, where the first size (hex) counts the header's own bytes up to and
//!   including its last `:`. Entering a directory is a header with [`FILE_DIR`]; leaving it is
//!   one named `.` with [`FILE_RETPARENT`]; the stream ends when the top directory is left.
//!
//! Parsing works on bytes before decoding: `:` and `\a` never occur inside a CP932, GBK or
//! GB18030 character. Names are passed on as sent, `..` and `/` included: making them safe
//! paths is the receiver's job, not the codec's.

use encoding_rs::Encoding;

use crate::consts::{
    FILE_DIR, FILE_REGULAR, FILE_RETPARENT, FILEATTACHOPT, FILELIST_SEPARATOR, GETDIRFILES,
    GETFILEDATA, RELEASEFILES, SENDMSG, file_kind,
};
use crate::packet::{self, RawPacket};

/// Offers with more entries than this are cut: a datagram cannot honestly hold more, and the
/// receiver keeps state for each.
pub const MAX_FILES: usize = 1024;

/// Extended attributes kept per entry; more are dropped.
pub const MAX_EXT: usize = 16;

/// The longest directory-stream header accepted (iptux writes at most 8 KiB).
pub const MAX_HEADER: usize = 0x1_0000;

/// How deep a directory stream may nest before it is refused.
pub const MAX_DEPTH: usize = 256;

/// Why an entry, a request or a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the {0} field is missing")]
    Missing(&'static str),
    #[error("the {0} field is not a number in range")]
    Number(&'static str),
    #[error("the file name is empty")]
    EmptyName,
    #[error("more than {MAX_FILES} files in one offer")]
    TooMany,
    #[error("not a file request (command {0:#x})")]
    NotARequest(u32),
    #[error("a directory header is not a hex length followed by `:`")]
    HeaderLength,
    #[error("a directory header of {0} bytes is too short or longer than {MAX_HEADER}")]
    HeaderSize(usize),
    #[error("a directory header does not end with `:`")]
    HeaderEnd,
    #[error("a directory stream goes up from its top directory")]
    UpFromTop,
    #[error("a directory stream nests deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("bytes after the end of a directory stream")]
    AfterEnd,
}

/// An extended attribute: a hex key and its value as written (hex numbers, comma-separated,
/// or a name for [`FILE_USERNAME`](crate::consts::FILE_USERNAME)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtAttr {
    pub key: u32,
    pub value: String,
}

/// One offered file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Decimal on the wire; hex in the requests that name it.
    pub id: u64,
    /// As sent: not a safe path.
    pub name: String,
    /// Bytes; 0 for a directory.
    pub size: u64,
    /// Seconds since 1970, as the sender's clock had it.
    pub mtime: u64,
    /// Kind (low byte, see [`file_kind`]) and options.
    pub attr: u32,
    pub ext: Vec<ExtAttr>,
}

impl FileEntry {
    /// A regular file with no extended attributes.
    pub fn regular(id: u64, name: &str, size: u64, mtime: u64) -> Self {
        Self {
            id,
            name: name.to_owned(),
            size,
            mtime,
            attr: FILE_REGULAR,
            ext: Vec::new(),
        }
    }

    pub fn is_dir(&self) -> bool {
        file_kind(self.attr) == FILE_DIR
    }

    pub fn is_regular(&self) -> bool {
        file_kind(self.attr) == FILE_REGULAR
    }
}

/// The files of one offer: the entries that parsed, and why the others did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileList {
    pub files: Vec<FileEntry>,
    pub skipped: Vec<FileError>,
}

/// The fields of an entry or header, split on single colons with `::` kept as a colon in
/// the name (field `name_at`); the empty field after the last colon is dropped.
fn fields(bytes: &[u8], name_at: usize) -> (Vec<&[u8]>, Vec<u8>) {
    let mut out = Vec::new();
    let mut name = Vec::new();
    let mut rest = bytes;
    let mut index = 0;
    while !rest.is_empty() {
        if index == name_at {
            let mut i = 0;
            loop {
                match rest.get(i) {
                    None => break,
                    Some(b':') if rest.get(i + 1) == Some(&b':') => {
                        name.push(b':');
                        i += 2;
                    }
                    Some(b':') => break,
                    Some(&b) => {
                        name.push(b);
                        i += 1;
                    }
                }
            }
            out.push(&rest[..0]);
            rest = rest.get(i + 1..).unwrap_or_default();
        } else {
            match rest.iter().position(|&b| b == b':') {
                Some(at) => {
                    out.push(&rest[..at]);
                    rest = &rest[at + 1..];
                }
                None => {
                    out.push(rest);
                    rest = &[];
                }
            }
        }
        index += 1;
    }
    (out, name)
}

/// Hex digits only (leading zeros allowed), fitting in a u64.
fn hex(field: &[u8]) -> Option<u64> {
    let field = field.trim_ascii();
    if field.is_empty() {
        return None;
    }
    field.iter().try_fold(0u64, |n, &d| {
        let digit = char::from(d).to_digit(16)?;
        n.checked_mul(16)?.checked_add(u64::from(digit))
    })
}

fn dec(field: &[u8]) -> Option<u64> {
    let field = field.trim_ascii();
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    field.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn hex32(field: &[u8]) -> Option<u32> {
    hex(field).and_then(|n| u32::try_from(n).ok())
}

/// An entry or header split and checked, its texts still in the sender's encoding.
struct RawEntry<'a> {
    id: u64,
    name: Vec<u8>,
    size: u64,
    mtime: u64,
    attr: u32,
    ext: Vec<(u32, &'a [u8])>,
}

fn ext_attrs<'a>(fields: &[&'a [u8]]) -> Vec<(u32, &'a [u8])> {
    fields
        .iter()
        .filter_map(|f| {
            let at = f.iter().position(|&b| b == b'=')?;
            Some((hex32(&f[..at])?, &f[at + 1..]))
        })
        .take(MAX_EXT)
        .collect()
}

fn raw_entry(bytes: &[u8]) -> Result<RawEntry<'_>, FileError> {
    let (f, name) = fields(bytes, 1);
    let field = |i: usize, what| f.get(i).copied().ok_or(FileError::Missing(what));
    let id = dec(field(0, "file ID")?).ok_or(FileError::Number("file ID"))?;
    field(1, "name")?;
    if name.is_empty() {
        return Err(FileError::EmptyName);
    }
    let size = hex(field(2, "size")?).ok_or(FileError::Number("size"))?;
    let mtime = hex(field(3, "mtime")?).ok_or(FileError::Number("mtime"))?;
    let attr = hex32(field(4, "attribute")?).ok_or(FileError::Number("attribute"))?;
    Ok(RawEntry {
        id,
        name,
        size,
        mtime,
        attr,
        ext: ext_attrs(f.get(5..).unwrap_or_default()),
    })
}

/// Decodes every name of a list, and `text` with them, with one encoding, as
/// [`packet::decode_all`] does for a datagram's fields; extended attribute values follow the
/// encoding the names chose.
fn decode_entries(
    raws: Vec<RawEntry<'_>>,
    text: &[u8],
    primary: &'static Encoding,
) -> (String, Vec<FileEntry>) {
    let mut fields: Vec<&[u8]> = vec![text];
    fields.extend(raws.iter().map(|r| r.name.as_slice()));
    let (decoded, enc) = packet::decode_all(primary, &fields);
    let mut decoded = decoded.into_iter();
    let text = decoded.next().unwrap_or_default();
    let entries = raws
        .into_iter()
        .zip(decoded)
        .map(|(raw, name)| FileEntry {
            id: raw.id,
            name,
            size: raw.size,
            mtime: raw.mtime,
            attr: raw.attr,
            ext: raw
                .ext
                .into_iter()
                .map(|(key, value)| ExtAttr {
                    key,
                    value: enc.decode_without_bom_handling(value).0.into_owned(),
                })
                .collect(),
        })
        .collect();
    (text, entries)
}

/// Splits a file list into entries, skipping (and saying why) those that do not parse.
fn raw_list(bytes: &[u8]) -> (Vec<RawEntry<'_>>, Vec<FileError>) {
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let mut raws = Vec::new();
    let mut skipped = Vec::new();
    for chunk in bytes.split(|&b| b == FILELIST_SEPARATOR) {
        // `\a:` leaves a colon before the next entry; nothing but blanks is no entry.
        let chunk = chunk.strip_prefix(b":").unwrap_or(chunk);
        if chunk.trim_ascii().is_empty() {
            continue;
        }
        if raws.len() == MAX_FILES {
            skipped.push(FileError::TooMany);
            break;
        }
        match raw_entry(chunk) {
            Ok(raw) => raws.push(raw),
            Err(err) => skipped.push(err),
        }
    }
    (raws, skipped)
}

/// Reads the file list that follows the text of an offer (the bytes after its first NUL, a
/// trailing NUL allowed). Never panics; an entry that does not parse is skipped and said why.
pub fn parse_file_list(bytes: &[u8], primary: &'static Encoding) -> FileList {
    let (raws, skipped) = raw_list(bytes);
    let (_, files) = decode_entries(raws, b"", primary);
    FileList { files, skipped }
}

/// The message text and file list of a `SENDMSG|FILEATTACHOPT` datagram, decoded with one
/// encoding chosen as [`packet::datagram_encoding`] says (`known`: what the peer's entry
/// named); `None` for any other datagram.
pub fn offer(raw: &RawPacket<'_>, known: Option<&'static Encoding>) -> Option<(String, FileList)> {
    if raw.cmd() != SENDMSG || raw.opts() & FILEATTACHOPT == 0 {
        return None;
    }
    let at = raw.extra.iter().position(|&b| b == 0)?;
    let (raws, skipped) = raw_list(raw.extra.get(at + 1..).unwrap_or_default());
    let primary = packet::datagram_encoding(raw, known);
    let (text, files) = decode_entries(raws, raw.text(), primary);
    Some((text, FileList { files, skipped }))
}

/// A name as it goes in a list or header: `:` doubled, and the bytes that would end the
/// entry, the list or the datagram (`\a`, NUL) replaced.
fn escape_name(name: &str) -> String {
    name.replace(':', "::").replace(['\u{7}', '\0'], "_")
}

fn write_ext(out: &mut String, ext: &[ExtAttr]) {
    for attr in ext {
        let value = attr.value.replace([':', '\u{7}', '\0', '='], "");
        out.push_str(&format!("{:x}={value}:", attr.key));
    }
}

/// The file list of an offer as text, ready for the peer's encoding: each entry ends with
/// `:` and `\a`, as IP Messenger writes it.
pub fn write_file_list(files: &[FileEntry]) -> String {
    let mut out = String::new();
    for f in files {
        out.push_str(&format!(
            "{}:{}:{:x}:{:x}:{:x}:",
            f.id,
            escape_name(&f.name),
            f.size,
            f.mtime,
            f.attr
        ));
        write_ext(&mut out, &f.ext);
        out.push('\u{7}');
    }
    out
}

/// A whole offer datagram: `text\0list\0` with [`SENDMSG`]` | `[`FILEATTACHOPT`] and `opts`
/// (say [`SENDCHECKOPT`](crate::consts::SENDCHECKOPT), and the UTF-8 options for a peer
/// that reads UTF-8), every text in `enc`. The files' IDs are for the requests to name.
pub fn build_offer(
    packet_no: u32,
    user: &str,
    host: &str,
    opts: u32,
    text: &str,
    files: &[FileEntry],
    enc: &'static Encoding,
) -> Vec<u8> {
    packet::build(
        packet_no,
        user,
        host,
        SENDMSG | FILEATTACHOPT | opts,
        &[text, &write_file_list(files)],
        enc,
    )
}

/// What a peer asks of the files it was offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRequest {
    /// `GETFILEDATA`: send file `file_id` of offer `packet_no` from `offset` to its end.
    Data {
        packet_no: u64,
        file_id: u64,
        offset: u64,
    },
    /// `GETDIRFILES`: send directory `file_id` of offer `packet_no` as a header stream.
    Dir { packet_no: u64, file_id: u64 },
    /// `RELEASEFILES`: the offer of `packet_no` is no longer wanted.
    Release { packet_no: u64 },
}

impl FileRequest {
    /// Reads a request from a parsed packet (over TCP for data and directories, over UDP for
    /// a release). Extra fields after the expected ones are ignored, as iptux adds some.
    pub fn parse(raw: &RawPacket<'_>) -> Result<Self, FileError> {
        let text = raw.text();
        let f: Vec<&[u8]> = text.split(|&b| b == b':').collect();
        let field = |i: usize, what| {
            f.get(i)
                .copied()
                .filter(|f| !f.trim_ascii().is_empty())
                .ok_or(FileError::Missing(what))
        };
        let hex_field = |i, what| hex(field(i, what)?).ok_or(FileError::Number(what));
        match raw.cmd() {
            GETFILEDATA => Ok(Self::Data {
                packet_no: hex_field(0, "packet ID")?,
                file_id: hex_field(1, "file ID")?,
                offset: hex_field(2, "offset")?,
            }),
            GETDIRFILES => Ok(Self::Dir {
                packet_no: hex_field(0, "packet ID")?,
                file_id: hex_field(1, "file ID")?,
            }),
            RELEASEFILES => Ok(Self::Release {
                packet_no: dec(field(0, "packet ID")?).ok_or(FileError::Number("packet ID"))?,
            }),
            other => Err(FileError::NotARequest(other)),
        }
    }

    /// The command, without options.
    pub fn command(&self) -> u32 {
        match self {
            Self::Data { .. } => GETFILEDATA,
            Self::Dir { .. } => GETDIRFILES,
            Self::Release { .. } => RELEASEFILES,
        }
    }

    /// The extra field as the wire has it.
    pub fn extra(&self) -> String {
        match *self {
            Self::Data {
                packet_no,
                file_id,
                offset,
            } => format!("{packet_no:x}:{file_id:x}:{offset:x}"),
            Self::Dir { packet_no, file_id } => format!("{packet_no:x}:{file_id:x}"),
            Self::Release { packet_no } => packet_no.to_string(),
        }
    }

    /// The request as a datagram or TCP request line, ended by a NUL. iptux wants
    /// [`FILEATTACHOPT`] on `GETFILEDATA` and `GETDIRFILES` from iptux peers; pass it in `opts`.
    pub fn build(
        &self,
        packet_no: u32,
        user: &str,
        host: &str,
        opts: u32,
        enc: &'static Encoding,
    ) -> Vec<u8> {
        packet::build(
            packet_no,
            user,
            host,
            self.command() | opts,
            &[&self.extra()],
            enc,
        )
    }
}

/// One header of a directory stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirHeader {
    /// As sent: not a safe path (`.` for [`FILE_RETPARENT`]).
    pub name: String,
    pub size: u64,
    pub attr: u32,
    pub ext: Vec<ExtAttr>,
}

impl DirHeader {
    /// A header that enters the directory `name`.
    pub fn dir(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            size: 0,
            attr: FILE_DIR,
            ext: Vec::new(),
        }
    }

    /// A header for a regular file whose `size` bytes follow it.
    pub fn file(name: &str, size: u64) -> Self {
        Self {
            name: name.to_owned(),
            size,
            attr: FILE_REGULAR,
            ext: Vec::new(),
        }
    }

    /// The header that leaves the current directory.
    pub fn up() -> Self {
        Self {
            name: ".".to_owned(),
            size: 0,
            attr: FILE_RETPARENT,
            ext: Vec::new(),
        }
    }

    /// Writes the header: its length in at least four hex digits (as iptux and IP Messenger
    /// do), then `:name:size:attr:ext...:`, texts in `enc`.
    pub fn build(&self, enc: &'static Encoding) -> Vec<u8> {
        let mut text = format!(
            ":{}:{:x}:{:x}:",
            escape_name(&self.name),
            self.size,
            self.attr
        );
        write_ext(&mut text, &self.ext);
        let body = enc.encode(&text).0;
        // The length counts its own digits: grow the width until it fits.
        let mut width = 4;
        while format!("{:x}", width + body.len()).len() > width {
            width += 1;
        }
        let mut out = format!("{:0width$x}", width + body.len()).into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

/// Reads one complete header from the front of `buf`: `Ok(None)` if more bytes are needed,
/// else the header and how many bytes it took.
pub fn parse_dir_header(
    buf: &[u8],
    primary: &'static Encoding,
) -> Result<Option<(DirHeader, usize)>, FileError> {
    let Some(colon) = buf.iter().take(17).position(|&b| b == b':') else {
        return if buf.len() < 17 && buf.iter().all(u8::is_ascii_hexdigit) {
            Ok(None)
        } else {
            Err(FileError::HeaderLength)
        };
    };
    let len = hex(&buf[..colon]).ok_or(FileError::HeaderLength)?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l > colon + 1 && l <= MAX_HEADER)
        .ok_or(FileError::HeaderSize(
            usize::try_from(len).unwrap_or(usize::MAX),
        ))?;
    let Some(header) = buf.get(..len) else {
        return Ok(None);
    };
    if header.last() != Some(&b':') {
        return Err(FileError::HeaderEnd);
    }
    let (f, name) = fields(&header[colon + 1..], 0);
    let field = |i: usize, what| f.get(i).copied().ok_or(FileError::Missing(what));
    field(0, "name")?;
    if name.is_empty() {
        return Err(FileError::EmptyName);
    }
    let size = hex(field(1, "size")?).ok_or(FileError::Number("size"))?;
    let attr = hex32(field(2, "attribute")?).ok_or(FileError::Number("attribute"))?;
    let ext = ext_attrs(f.get(3..).unwrap_or_default());
    let (_, entry) = decode_entries(
        vec![RawEntry {
            id: 0,
            name,
            size,
            mtime: 0,
            attr,
            ext,
        }],
        b"",
        primary,
    );
    let Some(entry) = entry.into_iter().next() else {
        return Err(FileError::EmptyName);
    };
    Ok(Some((
        DirHeader {
            name: entry.name,
            size: entry.size,
            attr: entry.attr,
            ext: entry.ext,
        },
        len,
    )))
}

/// What a directory stream holds next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirItem<'a> {
    /// Enter a directory (the first is the offered one).
    Enter(DirHeader),
    /// A file (regular or another kind); [`DirItem::Data`] brings its `size` bytes.
    File(DirHeader),
    /// Contents of the last file; `last` when it is complete.
    Data { bytes: &'a [u8], last: bool },
    /// Leave the current directory.
    Leave,
    /// The offered directory was left: the stream is over.
    Done,
}

/// Reads a `GETDIRFILES` answer as it arrives, in whatever pieces TCP gives. Headers are
/// buffered (at most [`MAX_HEADER`] bytes); file contents are handed back in place.
#[derive(Debug)]
pub struct DirReader {
    enc: &'static Encoding,
    header: Vec<u8>,
    data_left: u64,
    depth: usize,
    started: bool,
    done: bool,
}

impl DirReader {
    /// A reader for names in the peer's encoding.
    pub fn new(enc: &'static Encoding) -> Self {
        Self {
            enc,
            header: Vec::new(),
            data_left: 0,
            depth: 0,
            started: false,
            done: false,
        }
    }

    /// How deep the stream is, 1 inside the offered directory.
    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes bytes from the front of `input`: how many it used, and the item they completed
    /// (`None` when a header is still partial and all of `input` was kept). Call again with
    /// the rest until it is empty.
    pub fn next<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<DirItem<'a>>), FileError> {
        if self.done {
            return if input.is_empty() {
                Ok((0, Some(DirItem::Done)))
            } else {
                Err(FileError::AfterEnd)
            };
        }
        if self.data_left > 0 {
            let n = usize::try_from(self.data_left)
                .unwrap_or(usize::MAX)
                .min(input.len());
            self.data_left -= n as u64;
            if self.data_left == 0 && self.depth == 0 {
                // A lone file, not a directory: its contents are the whole answer.
                self.done = true;
            }
            let item = (n > 0).then_some(DirItem::Data {
                bytes: &input[..n],
                last: self.data_left == 0,
            });
            return Ok((n, item));
        }
        let mut used = 0;
        loop {
            match parse_dir_header(&self.header, self.enc)? {
                Some((header, _)) => {
                    self.header.clear();
                    return self.item(header).map(|item| (used, Some(item)));
                }
                None => {
                    // Take bytes up to the header's length once it is known, else one at a
                    // time until the length's colon: never past the header into contents.
                    let want = self.header_want();
                    let Some(&byte) = input.get(used) else {
                        return Ok((used, None));
                    };
                    if want == 0 {
                        self.header.push(byte);
                        used += 1;
                    } else {
                        let take = want.min(input.len() - used);
                        self.header.extend_from_slice(&input[used..used + take]);
                        used += take;
                    }
                }
            }
        }
    }

    /// Bytes still missing from a header whose length is known; 0 while it is not.
    fn header_want(&self) -> usize {
        let Some(colon) = self.header.iter().position(|&b| b == b':') else {
            return 0;
        };
        hex(&self.header[..colon])
            .and_then(|l| usize::try_from(l).ok())
            .map_or(0, |l| l.saturating_sub(self.header.len()))
    }

    fn item(&mut self, header: DirHeader) -> Result<DirItem<'static>, FileError> {
        let kind = file_kind(header.attr);
        if kind == FILE_RETPARENT {
            if self.depth == 0 {
                return Err(FileError::UpFromTop);
            }
            self.depth -= 1;
            if self.depth == 0 {
                self.done = true;
                return Ok(DirItem::Done);
            }
            return Ok(DirItem::Leave);
        }
        if self.started && self.depth == 0 {
            return Err(FileError::AfterEnd);
        }
        self.started = true;
        if kind == FILE_DIR {
            if self.depth == MAX_DEPTH {
                return Err(FileError::TooDeep);
            }
            self.depth += 1;
            return Ok(DirItem::Enter(header));
        }
        self.data_left = header.size;
        if self.depth == 0 && header.size == 0 {
            self.done = true;
        }
        Ok(DirItem::File(header))
    }
}
