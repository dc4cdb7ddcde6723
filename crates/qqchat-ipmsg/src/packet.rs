//! The datagram format, `Ver:PacketNo:User:Host:Command:Extra`, and the choice of text
//! encoding. Parsing works on bytes: the separators `:` and NUL never occur inside a CP932,
//! GBK or GB18030 character, so a datagram can be split before its encoding is known, and
//! then every text field decoded with the one encoding the sender used.

use encoding_rs::{Encoding, GB18030, GBK, SHIFT_JIS, UTF_8};

use crate::consts::{CAPUTF8OPT, UTF8OPT, command, options};

/// Which client a peer runs, as far as its datagrams tell. It decides the text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// IP Messenger or a client that looks like it: CP932 unless it advertises UTF-8.
    IpMsg,
    /// Feiq (飞秋): version field `1_lbt...`; GBK, which GB18030 extends.
    Feiq,
    /// iptux: version field `1_iptux ...`; names its encoding in its entry packets.
    Iptux,
}

impl Flavor {
    /// The flavor a version field shows.
    pub fn of_version(version: &[u8]) -> Self {
        if version.starts_with(b"1_lbt") {
            Flavor::Feiq
        } else if version.starts_with(b"1_iptux") {
            Flavor::Iptux
        } else {
            Flavor::IpMsg
        }
    }
}

/// Why a datagram is not an IP Messenger packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("fewer than six colon-separated fields")]
    MissingField,
    #[error("the version field does not start with 1")]
    Version,
    #[error("the packet number is not a decimal number")]
    PacketNo,
    #[error("the command field is not a decimal number below 2^32")]
    Command,
}

/// One datagram split into its fields, text still in the sender's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPacket<'a> {
    pub version: &'a [u8],
    /// Decimal below 2^32 by the protocol; anything up to u64 is tolerated.
    pub packet_no: u64,
    pub user: &'a [u8],
    pub host: &'a [u8],
    /// Command and options together, as on the wire.
    pub command: u32,
    /// Everything after the fifth colon, NULs included.
    pub extra: &'a [u8],
}

impl<'a> RawPacket<'a> {
    /// Splits a datagram. Never panics, whatever the bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut fields = bytes.splitn(6, |&b| b == b':');
        let mut next = || fields.next().ok_or(ParseError::MissingField);
        let version = next()?;
        let packet_no = next()?;
        let user = next()?;
        let host = next()?;
        let command = next()?;
        let extra = next()?;
        if !version.starts_with(b"1") {
            return Err(ParseError::Version);
        }
        let packet_no = decimal(packet_no, 20).ok_or(ParseError::PacketNo)?;
        let command = decimal(command, 10)
            .and_then(|c| u32::try_from(c).ok())
            .ok_or(ParseError::Command)?;
        Ok(Self {
            version,
            packet_no,
            user,
            host,
            command,
            extra,
        })
    }

    pub fn flavor(&self) -> Flavor {
        Flavor::of_version(self.version)
    }

    /// The command, without options (iptux's 289 is [`RECVMSG`](crate::consts::RECVMSG)).
    pub fn cmd(&self) -> u32 {
        command(self.command)
    }

    pub fn opts(&self) -> u32 {
        options(self.command)
    }

    /// The extra field up to its first NUL: a message's text (a file list may follow the
    /// NUL), an entry's nick name, a receipt's packet number.
    pub fn text(&self) -> &'a [u8] {
        self.extra.split(|&b| b == 0).next().unwrap_or_default()
    }

    /// The NUL-separated parts of the extra field; a trailing NUL adds no empty part.
    pub fn extra_parts(&self) -> Vec<&'a [u8]> {
        let extra = self.extra.strip_suffix(b"\0").unwrap_or(self.extra);
        extra.split(|&b| b == 0).collect()
    }

    /// IP Messenger's UTF-8 copy of the names, after the entry's `nick\0group\0`:
    /// `\nUN:user\nHN:host\nNN:nick\nGN:group` (and more keys). Clients that advertise
    /// `CAPUTF8OPT` write it so names CP932 cannot spell still arrive intact.
    pub fn utf8_names(&self) -> Option<Utf8Names> {
        let part = self
            .extra_parts()
            .into_iter()
            .skip(2)
            .find(|p| p.starts_with(b"\n"))?;
        let text = std::str::from_utf8(part).ok()?;
        let mut names = Utf8Names::default();
        for line in text.split('\n') {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let slot = match key {
                "UN" => &mut names.user,
                "HN" => &mut names.host,
                "NN" => &mut names.nick,
                "GN" => &mut names.group,
                _ => continue,
            };
            *slot = Some(value.to_owned());
        }
        (names != Utf8Names::default()).then_some(names)
    }

    /// The encoding iptux names in the fourth part of its entry extra
    /// (`nick\0group\0icon\0encoding\0`), if it is one this crate can write.
    pub fn iptux_encoding(&self) -> Option<&'static Encoding> {
        if self.flavor() != Flavor::Iptux {
            return None;
        }
        self.extra_parts().get(3).and_then(|label| writable(label))
    }
}

/// The names an entry carries in its UTF-8 extension (see [`RawPacket::utf8_names`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utf8Names {
    pub user: Option<String>,
    pub host: Option<String>,
    pub nick: Option<String>,
    pub group: Option<String>,
}

/// Digits only (surrounding ASCII spaces and NULs tolerated), at most `max_digits` of them.
fn decimal(field: &[u8], max_digits: usize) -> Option<u64> {
    let field = field.trim_ascii();
    let field = field.strip_suffix(b"\0").unwrap_or(field);
    if field.is_empty() || field.len() > max_digits || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    field.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// An encoding named by a label that this crate can both read and write. GBK is widened to
/// GB18030, its superset, so no character is lost; UTF-16 is refused (never on this wire).
/// Windows code page names, which iconv (and so iptux) accepts and the WHATWG labels lack,
/// are understood too.
pub fn writable(label: &[u8]) -> Option<&'static Encoding> {
    let label = label.trim_ascii();
    let enc = match label.to_ascii_lowercase().as_slice() {
        b"cp932" | b"windows-932" => SHIFT_JIS,
        b"cp936" | b"windows-936" => GB18030,
        b"cp950" | b"windows-950" => encoding_rs::BIG5,
        _ => Encoding::for_label(label)?,
    };
    if enc == GBK {
        return Some(GB18030);
    }
    (enc.output_encoding() == enc).then_some(enc)
}

/// The encoding to write to a peer, from what its entry showed.
///
/// Feiq speaks GBK whatever it advertises; iptux names its encoding; a client that advertises
/// [`CAPUTF8OPT`] reads UTF-8; iptux defaults to UTF-8; classic IP Messenger reads CP932.
pub fn peer_encoding(
    flavor: Flavor,
    opts: u32,
    iptux_label: Option<&'static Encoding>,
) -> &'static Encoding {
    match (flavor, iptux_label) {
        (Flavor::Feiq, _) => GB18030,
        (Flavor::Iptux, Some(enc)) => enc,
        _ if opts & CAPUTF8OPT != 0 => UTF_8,
        (Flavor::Iptux, None) => UTF_8,
        (Flavor::IpMsg, _) => SHIFT_JIS,
    }
}

/// The encoding a datagram's text is most likely in: UTF-8 when it says so ([`UTF8OPT`]),
/// else what its flavor writes (`known` is what an iptux peer's entry named).
pub fn datagram_encoding(
    raw: &RawPacket<'_>,
    known: Option<&'static Encoding>,
) -> &'static Encoding {
    if raw.opts() & UTF8OPT != 0 {
        return UTF_8;
    }
    match raw.flavor() {
        Flavor::Feiq => GB18030,
        Flavor::Iptux => raw.iptux_encoding().or(known).unwrap_or(UTF_8),
        Flavor::IpMsg => SHIFT_JIS,
    }
}

/// Decodes all of one datagram's text fields with one encoding: `primary` if every field is
/// valid in it, else UTF-8, else GB18030, else `primary` with replacement characters.
///
/// For CP932, valid UTF-8 is tried first: CP932 decodes almost any bytes without error, while
/// CP932 text that happens to be valid UTF-8 is rare, and many Unix clients send UTF-8 without
/// saying so.
pub fn decode_all(
    primary: &'static Encoding,
    fields: &[&[u8]],
) -> (Vec<String>, &'static Encoding) {
    let non_ascii = fields.iter().any(|f| !f.is_ascii());
    let mut order: Vec<&'static Encoding> = Vec::with_capacity(4);
    if primary == SHIFT_JIS && non_ascii {
        order.push(UTF_8);
    }
    for enc in [primary, UTF_8, GB18030] {
        if !order.contains(&enc) {
            order.push(enc);
        }
    }
    for enc in order {
        let decoded: Option<Vec<String>> = fields
            .iter()
            .map(|f| {
                enc.decode_without_bom_handling_and_without_replacement(f)
                    .map(|s| s.into_owned())
            })
            .collect();
        if let Some(decoded) = decoded {
            return (decoded, enc);
        }
    }
    let lossy = fields
        .iter()
        .map(|f| primary.decode_without_bom_handling(f).0.into_owned())
        .collect();
    (lossy, primary)
}

/// Builds a datagram: every text field in `enc`, separators that would break the format
/// removed (`:` from user and host, NUL from every text), each extra part ended by a NUL.
pub fn build(
    packet_no: u32,
    user: &str,
    host: &str,
    command: u32,
    extra: &[&str],
    enc: &'static Encoding,
) -> Vec<u8> {
    let header_field = |s: &str| s.replace([':', '\0'], "_");
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(crate::consts::VERSION.as_bytes());
    out.push(b':');
    out.extend_from_slice(packet_no.to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(&enc.encode(&header_field(user)).0);
    out.push(b':');
    out.extend_from_slice(&enc.encode(&header_field(host)).0);
    out.push(b':');
    out.extend_from_slice(command.to_string().as_bytes());
    out.push(b':');
    for part in extra {
        out.extend_from_slice(&enc.encode(&part.replace('\0', "")).0);
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::*;

    #[test]
    fn splits_the_six_fields_and_keeps_colons_in_extra() {
        let raw = RawPacket::parse(b"1:42:bob:box:32:see you at 10:30\0").expect("parses");
        assert_eq!(raw.packet_no, 42);
        assert_eq!(raw.user, b"bob");
        assert_eq!(raw.host, b"box");
        assert_eq!(raw.cmd(), SENDMSG);
        assert_eq!(raw.text(), b"see you at 10:30");
    }

    #[test]
    fn refuses_what_is_not_a_packet() {
        assert_eq!(RawPacket::parse(b"hello"), Err(ParseError::MissingField));
        assert_eq!(
            RawPacket::parse(b"1:2:3:4:5"),
            Err(ParseError::MissingField)
        );
        assert_eq!(RawPacket::parse(b"2:1:u:h:32:x"), Err(ParseError::Version));
        assert_eq!(
            RawPacket::parse(b"1:x1:u:h:32:x"),
            Err(ParseError::PacketNo)
        );
        assert_eq!(RawPacket::parse(b"1::u:h:32:x"), Err(ParseError::PacketNo));
        assert_eq!(
            RawPacket::parse(b"1:1:u:h:4294967296:x"),
            Err(ParseError::Command)
        );
        assert_eq!(
            RawPacket::parse(b"1:1:u:h:99999999999999999999:x"),
            Err(ParseError::Command)
        );
        assert_eq!(
            RawPacket::parse(b"1:99999999999999999999:u:h:32:x"),
            Err(ParseError::PacketNo),
            "above u64"
        );
    }

    #[test]
    fn the_text_stops_at_the_first_nul() {
        let raw = RawPacket::parse(b"1:7:u:h:2097440:report\0\x001:a.txt:10:5f0e1a2b:1:\x07\0")
            .expect("parses");
        assert_eq!(raw.text(), b"report");
        let raw = RawPacket::parse(b"1:7:u:h:288:hi\0").expect("parses");
        assert_eq!(raw.text(), b"hi");
        let raw = RawPacket::parse(b"1:7:u:h:288:hi").expect("parses");
        assert_eq!(raw.text(), b"hi");
        let raw = RawPacket::parse(b"1:7:u:h:288:").expect("parses");
        assert_eq!(raw.text(), b"");
    }

    #[test]
    fn reads_the_utf8_names_extension() {
        let raw = RawPacket::parse(
            b"1:5:taro:PC:16777217:\x8e\x52\0dev\0\nUN:taro\nHN:PC\nNN:\xe7\x8e\x8b\nGN:\nVS:0x0003\0",
        )
        .expect("parses");
        let names = raw.utf8_names().expect("present");
        assert_eq!(names.nick.as_deref(), Some("王"));
        assert_eq!(names.user.as_deref(), Some("taro"));
        assert_eq!(names.group.as_deref(), Some(""));
        // iptux's fields are not it, and invalid UTF-8 is ignored.
        let raw =
            RawPacket::parse(b"1_iptux 0.8.3:1:a:b:1:a\0g\0icon-tux.png\0utf-8\0").expect("parses");
        assert_eq!(raw.utf8_names(), None);
        let raw = RawPacket::parse(b"1:1:a:b:1:a\0g\0\nNN:\xff\0").expect("parses");
        assert_eq!(raw.utf8_names(), None);
    }

    #[test]
    fn the_flavor_comes_from_the_version_field() {
        assert_eq!(
            Flavor::of_version(b"1_lbt6_0#128#000C29D2D6B3#0#0#0#4001#9"),
            Flavor::Feiq
        );
        assert_eq!(Flavor::of_version(b"1_iptux 0.8.3"), Flavor::Iptux);
        assert_eq!(Flavor::of_version(b"1"), Flavor::IpMsg);
        assert_eq!(Flavor::of_version(b"1_lbt4_10#"), Flavor::Feiq);
    }

    #[test]
    fn labels_map_to_encodings_this_crate_writes() {
        assert_eq!(writable(b"utf-8"), Some(UTF_8));
        assert_eq!(writable(b"gbk"), Some(GB18030));
        assert_eq!(writable(b"GB2312"), Some(GB18030));
        assert_eq!(writable(b"gb18030"), Some(GB18030));
        assert_eq!(writable(b"cp932"), Some(SHIFT_JIS));
        assert_eq!(writable(b"CP936"), Some(GB18030));
        assert_eq!(writable(b"shift_jis"), Some(SHIFT_JIS));
        assert_eq!(writable(b"utf-16"), None);
        assert_eq!(writable(b"no-such-thing"), None);
    }

    #[test]
    fn peer_encodings_follow_the_rules() {
        assert_eq!(peer_encoding(Flavor::Feiq, CAPUTF8OPT, None), GB18030);
        assert_eq!(peer_encoding(Flavor::Iptux, 0, Some(GB18030)), GB18030);
        assert_eq!(peer_encoding(Flavor::Iptux, 0, None), UTF_8);
        assert_eq!(peer_encoding(Flavor::IpMsg, CAPUTF8OPT, None), UTF_8);
        assert_eq!(peer_encoding(Flavor::IpMsg, 0, None), SHIFT_JIS);
    }

    #[test]
    fn decoding_falls_back_to_utf8_then_gb18030() {
        // GBK bytes of 你好 are not valid UTF-8 and decode under the GB18030 fallback.
        let gbk: &[u8] = &[0xC4, 0xE3, 0xBA, 0xC3];
        let (out, enc) = decode_all(UTF_8, &[gbk]);
        assert_eq!((out[0].as_str(), enc), ("你好", GB18030));
        // UTF-8 from a classic-looking client without UTF8OPT.
        let (out, enc) = decode_all(SHIFT_JIS, &["héllo 世界".as_bytes()]);
        assert_eq!((out[0].as_str(), enc), ("héllo 世界", UTF_8));
        // Real CP932 stays CP932: 山田 is not valid UTF-8.
        let (out, enc) = decode_all(SHIFT_JIS, &[&[0x8E, 0x52, 0x93, 0x63]]);
        assert_eq!((out[0].as_str(), enc), ("山田", SHIFT_JIS));
    }

    #[test]
    fn one_encoding_for_every_field() {
        // The nick is UTF-8 and the group is GBK: no single encoding fits both strictly
        // except GB18030 (which reads the UTF-8 as other characters), never a mix.
        let (_, enc) = decode_all(UTF_8, &["é".as_bytes(), &[0xC4, 0xE3]]);
        assert_ne!(enc, UTF_8);
    }

    #[test]
    fn build_writes_one_encoding_and_strips_separators() {
        let bytes = build(5, "a:b", "h", SENDMSG, &["王\0x"], GB18030);
        assert_eq!(bytes, b"1_qqchat:5:a_b:h:32:\xCD\xF5x\0");
        let raw = RawPacket::parse(&bytes).expect("parses");
        assert_eq!(raw.user, b"a_b");
    }
}
