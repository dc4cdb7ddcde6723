//! File attachments byte for byte as iptux 0.8 and IP Messenger 4 write them, and hostile
//! bytes that must never panic.
//!
//! The iptux vectors follow iptux 0.8's `SendFile::SendFileInfo` (entries `%u:%s:%x:%x:%x:\a`,
//! the text empty), `Command::SendAskData` / `SendAskFiles` (`%x:%x:%x`, `%x:%x:0`, with
//! `FILEATTACHOPT` towards iptux peers) and `SendFileData::SendDirFiles` (headers
//! `%.4x:%s:%.9jx:%x:14=%x:16=%x:`). The IP Messenger 4 vectors are written from the IP
//! Messenger protocol description (entries with extended attributes, UTF-8 with `UTF8OPT`,
//! CP932 without, `RELEASEFILES` naming the offer's packet number in decimal).

use proptest::prelude::*;
use qqchat_ipmsg::consts::*;
use qqchat_ipmsg::encoding_rs::{GB18030, SHIFT_JIS, UTF_8};
use qqchat_ipmsg::file::{self, ExtAttr, parse_dir_header, parse_file_list};
use qqchat_ipmsg::{DirHeader, DirItem, DirReader, FileEntry, FileError, FileRequest, RawPacket};

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// iptux 0.8.3 offering a file (id 10, 128000 bytes) and a directory: empty text,
/// `FILEATTACHOPT|SENDMSG` = 2097184.
const IPTUX_OFFER: &[u8] = b"1_iptux 0.8.3:1733300123:alice:pc1:2097184:\0\
10:report.pdf:1f400:6756a1b2:1:\x0711:photos:0:6756a1c0:2:\x07\0";

#[test]
fn reads_an_iptux_offer() {
    let raw = RawPacket::parse(IPTUX_OFFER).expect("parses");
    let (text, list) = file::offer(&raw, Some(UTF_8)).expect("an offer");
    assert_eq!(text, "");
    assert!(list.skipped.is_empty(), "{:?}", list.skipped);
    assert_eq!(
        list.files,
        vec![
            FileEntry::regular(10, "report.pdf", 128_000, 0x6756_a1b2),
            FileEntry {
                id: 11,
                name: "photos".into(),
                size: 0,
                mtime: 0x6756_a1c0,
                attr: FILE_DIR,
                ext: vec![],
            },
        ]
    );
    assert!(list.files[1].is_dir());
}

#[test]
fn builds_what_iptux_reads() {
    // The same list as iptux would write it, from our side: entries end with `:\a`.
    let files = [
        FileEntry::regular(10, "report.pdf", 128_000, 0x6756_a1b2),
        FileEntry {
            id: 11,
            name: "photos".into(),
            size: 0,
            mtime: 0x6756_a1c0,
            attr: FILE_DIR,
            ext: vec![],
        },
    ];
    let bytes = file::build_offer(1_733_300_123, "me", "box", 0, "", &files, UTF_8);
    assert_eq!(
        bytes,
        b"1_qqchat:1733300123:me:box:2097184:\0\
10:report.pdf:1f400:6756a1b2:1:\x0711:photos:0:6756a1c0:2:\x07\0"
    );
}

/// IP Messenger 4 with UTF-8 (`SENDMSG|SENDCHECKOPT|FILEATTACHOPT|UTF8OPT` = 10486048):
/// a text, a file with mtime and creation time as extended attributes, a directory.
fn ipmsg4_offer() -> Vec<u8> {
    cat(&[
        b"1:1733300400:taro:TARO-PC:10486048:",
        "見積もりです\0".as_bytes(),
        "0:見積書.xlsx:2a00:6756a1b2:1:14=6756a1b2:16=6756a000:\x07".as_bytes(),
        "1:資料:0:6756a1c0:2:14=6756a1c0:\x07\0".as_bytes(),
    ])
}

#[test]
fn reads_an_ip_messenger_4_offer() {
    let bytes = ipmsg4_offer();
    let raw = RawPacket::parse(&bytes).expect("parses");
    let (text, list) = file::offer(&raw, None).expect("an offer");
    assert_eq!(text, "見積もりです");
    assert_eq!(list.files.len(), 2);
    let f = &list.files[0];
    assert_eq!((f.id, f.name.as_str(), f.size), (0, "見積書.xlsx", 0x2a00));
    assert_eq!(
        f.ext,
        vec![
            ExtAttr {
                key: FILE_MTIME,
                value: "6756a1b2".into()
            },
            ExtAttr {
                key: FILE_CREATETIME,
                value: "6756a000".into()
            },
        ]
    );
    assert_eq!(list.files[1].name, "資料");
    assert!(list.files[1].is_dir());
}

#[test]
fn reads_a_classic_cp932_offer_and_writes_one() {
    // IP Messenger without UTF8OPT: CP932 text and names (山田.txt, 報告).
    let name = SHIFT_JIS.encode("山田.txt").0.into_owned();
    let text = SHIFT_JIS.encode("報告").0.into_owned();
    let bytes = cat(&[
        b"1:1733300401:taro:TARO-PC:2097440:",
        &text,
        b"\x000:",
        &name,
        b":c:6756a1b2:1:\x07\0",
    ]);
    let raw = RawPacket::parse(&bytes).expect("parses");
    let (text, list) = file::offer(&raw, None).expect("an offer");
    assert_eq!(text, "報告");
    assert_eq!(list.files[0].name, "山田.txt");
    let files = [FileEntry::regular(0, "山田.txt", 12, 0x6756_a1b2)];
    let built = file::build_offer(7, "me", "box", SENDCHECKOPT, "報告", &files, SHIFT_JIS);
    let expected = cat(&[
        b"1_qqchat:7:me:box:2097440:",
        &SHIFT_JIS.encode("報告").0,
        b"\x000:",
        &name,
        b":c:6756a1b2:1:\x07\0",
    ]);
    assert_eq!(built, expected);
}

#[test]
fn a_feiq_offer_is_read_as_gbk() {
    // Feiq writes GBK whatever it advertises: 报告.doc and the text 给你.
    let name = GB18030.encode("报告.doc").0.into_owned();
    let bytes = cat(&[
        b"1_lbt6_0#128#000C29D2D6B3#0#0#0#4001#9:1733300600:wang:WANG-PC:2097440:",
        &GB18030.encode("给你").0,
        b"\x000:",
        &name,
        b":400:6756a1b2:1:\x07\0",
    ]);
    let raw = RawPacket::parse(&bytes).expect("parses");
    let (text, list) = file::offer(&raw, None).expect("an offer");
    assert_eq!(text, "给你");
    assert_eq!(list.files[0].name, "报告.doc");
    assert_eq!(list.files[0].size, 0x400);
}

#[test]
fn every_separator_style_and_doubled_colons() {
    // `\a`, `:\a`, `\a:` and `:\a:` between entries, and `::` for a colon in a name.
    let list = parse_file_list(
        b"1:a::b.txt:1:0:1\x072:c:2:0:1:\x07:3:d:::3:0:1:\x07:4:::e:4:0:1\x07:",
        UTF_8,
    );
    assert!(list.skipped.is_empty(), "{:?}", list.skipped);
    let names: Vec<&str> = list.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a:b.txt", "c", "d:", ":e"]);
    let sizes: Vec<u64> = list.files.iter().map(|f| f.size).collect();
    assert_eq!(sizes, [1, 2, 3, 4]);
    // And back: a colon is written doubled.
    assert_eq!(
        file::write_file_list(&[FileEntry::regular(1, "a:b", 1, 0)]),
        "1:a::b:1:0:1:\u{7}"
    );
}

#[test]
fn bad_entries_are_skipped_with_a_reason() {
    let list = parse_file_list(
        b"x:a:1:0:1:\x07\
1::1:0:1:\x07\
2:b:zz:0:1:\x07\
3:c:1\x07\
4:d:11111111111111111:0:1:\x07\
5:e:ffffffffffffffff:0:1:\x07\
6:../../etc/passwd:10:0:1:\x07",
        UTF_8,
    );
    assert_eq!(
        list.skipped,
        vec![
            FileError::Number("file ID"),
            FileError::EmptyName,
            FileError::Number("size"),
            FileError::Missing("mtime"),
            FileError::Number("size"),
        ]
    );
    // The largest size parses; a name with `..` is passed on as sent, for the receiver to
    // refuse or clean.
    assert_eq!(list.files[0].size, u64::MAX);
    assert_eq!(list.files[1].name, "../../etc/passwd");
}

#[test]
fn an_offer_is_only_a_sendmsg_with_fileattachopt() {
    let raw = RawPacket::parse(b"1:1:u:h:32:hi\0").expect("parses");
    assert_eq!(file::offer(&raw, None), None);
    let raw = RawPacket::parse(b"1:1:u:h:2097184:hi").expect("parses");
    assert_eq!(file::offer(&raw, None), None, "no NUL, no list");
    let raw = RawPacket::parse(b"1:1:u:h:2097184:hi\0").expect("parses");
    let (text, list) = file::offer(&raw, None).expect("an empty list");
    assert_eq!((text.as_str(), list.files.len()), ("hi", 0));
}

#[test]
fn iptux_requests_data_and_directories() {
    // iptux 0.8 to an iptux peer: FILEATTACHOPT|GETFILEDATA = 2097248, hex fields, a NUL.
    let get = b"1_iptux 0.8.3:1733300124:bob:pc2:2097248:674eb29b:a:8000\0";
    let raw = RawPacket::parse(get).expect("parses");
    assert_eq!(
        FileRequest::parse(&raw),
        Ok(FileRequest::Data {
            packet_no: 1_733_210_779,
            file_id: 10,
            offset: 0x8000
        })
    );
    // SendAskFiles: FILEATTACHOPT|GETDIRFILES = 2097250, with a trailing `:0`.
    let dir = b"1_iptux 0.8.3:1733300125:bob:pc2:2097250:674eb29b:b:0\0";
    let raw = RawPacket::parse(dir).expect("parses");
    assert_eq!(
        FileRequest::parse(&raw),
        Ok(FileRequest::Dir {
            packet_no: 1_733_210_779,
            file_id: 11
        })
    );
    // What we send an iptux peer, byte for byte.
    let ours = FileRequest::Data {
        packet_no: 1_733_210_779,
        file_id: 10,
        offset: 0x8000,
    }
    .build(5, "me", "box", FILEATTACHOPT, UTF_8);
    assert_eq!(ours, b"1_qqchat:5:me:box:2097248:674eb29b:a:8000\0");
}

#[test]
fn ip_messenger_requests_and_releases() {
    // IP Messenger: plain GETFILEDATA (96), then RELEASEFILES (97) naming the offer in decimal.
    let raw = RawPacket::parse(b"1:1733300500:taro:TARO-PC:96:674eb2a0:0:0\0").expect("parses");
    assert_eq!(
        FileRequest::parse(&raw),
        Ok(FileRequest::Data {
            packet_no: 0x674e_b2a0,
            file_id: 0,
            offset: 0
        })
    );
    let raw = RawPacket::parse(b"1:1733300501:taro:TARO-PC:97:1733210784\0").expect("parses");
    let release = FileRequest::parse(&raw).expect("a release");
    assert_eq!(
        release,
        FileRequest::Release {
            packet_no: 1_733_210_784
        }
    );
    assert_eq!(
        release.build(9, "me", "box", 0, UTF_8),
        b"1_qqchat:9:me:box:97:1733210784\0"
    );
    assert_eq!(
        FileRequest::Dir {
            packet_no: 0x10,
            file_id: 2
        }
        .build(9, "me", "box", 0, UTF_8),
        b"1_qqchat:9:me:box:98:10:2\0"
    );
}

#[test]
fn hostile_requests_are_refused() {
    let cases: &[(&[u8], FileError)] = &[
        (b"1:1:u:h:96:", FileError::Missing("packet ID")),
        (b"1:1:u:h:96:10", FileError::Missing("file ID")),
        (b"1:1:u:h:96:10:2", FileError::Missing("offset")),
        (b"1:1:u:h:96:10:2:", FileError::Missing("offset")),
        (b"1:1:u:h:96:1g:2:0", FileError::Number("packet ID")),
        (
            b"1:1:u:h:96:1:2:10000000000000000",
            FileError::Number("offset"),
        ),
        (b"1:1:u:h:97:abc", FileError::Number("packet ID")),
        (b"1:1:u:h:32:1:2:3", FileError::NotARequest(SENDMSG)),
    ];
    for (bytes, err) in cases {
        let raw = RawPacket::parse(bytes).expect("parses");
        assert_eq!(
            FileRequest::parse(&raw),
            Err(*err),
            "{:?}",
            bytes.escape_ascii()
        );
    }
}

/// iptux 0.8 answering GETDIRFILES for `photos` holding `a.txt` (12 bytes).
fn iptux_dir_stream() -> Vec<u8> {
    cat(&[
        b"0030:photos:000000000:2:14=6756a1c0:16=6756a1c0:",
        b"002f:a.txt:00000000c:1:14=6756a1b2:16=6756a1b2:",
        b"hello world\n",
        b"0023:.:0:3:14=6756a1c0:16=6756a1c0:",
    ])
}

fn read_all(reader: &mut DirReader, mut input: &[u8]) -> Result<Vec<String>, FileError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (used, item) = reader.next(input)?;
        input = &input[used..];
        match item {
            Some(DirItem::Enter(h)) => out.push(format!("enter {}", h.name)),
            Some(DirItem::File(h)) => out.push(format!("file {} {}", h.name, h.size)),
            Some(DirItem::Data { bytes, last }) => {
                out.push(format!("data {:?} {last}", String::from_utf8_lossy(bytes)))
            }
            Some(DirItem::Leave) => out.push("leave".into()),
            Some(DirItem::Done) => out.push("done".into()),
            None => assert!(input.is_empty(), "None only when all input was kept"),
        }
    }
    Ok(out)
}

#[test]
fn reads_an_iptux_directory_stream_whole_and_byte_by_byte() {
    let stream = iptux_dir_stream();
    let (header, len) = parse_dir_header(&stream, UTF_8)
        .expect("valid")
        .expect("complete");
    assert_eq!(
        (header.name.as_str(), header.attr, len),
        ("photos", 2, 0x30)
    );
    assert_eq!(header.ext[0].key, FILE_MTIME);

    let mut reader = DirReader::new(UTF_8);
    let whole = read_all(&mut reader, &stream).expect("valid");
    assert_eq!(
        whole,
        [
            "enter photos",
            "file a.txt 12",
            "data \"hello world\\n\" true",
            "done"
        ]
    );
    assert!(reader.is_done());

    let mut reader = DirReader::new(UTF_8);
    let mut items = Vec::new();
    for b in &stream {
        items.extend(read_all(&mut reader, std::slice::from_ref(b)).expect("valid"));
    }
    assert_eq!(items.len(), 3 + 12, "a data item per byte");
    assert_eq!(items.last().map(String::as_str), Some("done"));
}

#[test]
fn builds_directory_headers_iptux_reads() {
    let mut dir = DirHeader::dir("photos");
    dir.ext = vec![
        ExtAttr {
            key: FILE_MTIME,
            value: "6756a1c0".into(),
        },
        ExtAttr {
            key: FILE_CREATETIME,
            value: "6756a1c0".into(),
        },
    ];
    assert_eq!(
        dir.build(UTF_8),
        b"0028:photos:0:2:14=6756a1c0:16=6756a1c0:"
    );
    assert_eq!(DirHeader::up().build(UTF_8), b"000b:.:0:3:");
    assert_eq!(DirHeader::file("a:b", 12).build(UTF_8), b"000e:a::b:c:1:");
    // A name long enough that the length needs five digits.
    let long = DirHeader::file(&"x".repeat(0x10000), 1);
    let bytes = long.build(UTF_8);
    assert_eq!(&bytes[..6], b"1000b:");
    assert_eq!(bytes.len(), 0x1000b);
    // Round trip through the parser (within its limit).
    let mid = DirHeader::file("日本語 name", 0x1234);
    let bytes = mid.build(UTF_8);
    let (back, len) = parse_dir_header(&bytes, UTF_8)
        .expect("valid")
        .expect("complete");
    assert_eq!((back, len), (mid, bytes.len()));
}

#[test]
fn hostile_directory_streams_are_refused() {
    let cases: &[(&[u8], FileError)] = &[
        (b"zz:a:0:2:", FileError::HeaderLength),
        (b"0000000000000000000:", FileError::HeaderLength),
        (b"0004:a:0:2:", FileError::HeaderSize(4)),
        (b"ffffffff:a:0:2:", FileError::HeaderSize(0xffff_ffff)),
        (b"000c:a:0:2:x", FileError::HeaderEnd),
        (b"0006::", FileError::EmptyName),
        (b"0009:a:0:", FileError::Missing("attribute")),
        (b"000b:a:q:2:", FileError::Number("size")),
        (b"000b:.:0:3:", FileError::UpFromTop),
    ];
    for (bytes, err) in cases {
        let mut reader = DirReader::new(UTF_8);
        assert_eq!(
            read_all(&mut reader, bytes),
            Err(*err),
            "{:?}",
            bytes.escape_ascii()
        );
    }
    // Anything after the end.
    let mut stream = iptux_dir_stream();
    stream.extend_from_slice(b"000b:b:0:2:");
    let mut reader = DirReader::new(UTF_8);
    assert_eq!(read_all(&mut reader, &stream), Err(FileError::AfterEnd));
    // Nesting without end.
    let deep: Vec<u8> = std::iter::repeat_n(&b"000b:d:0:2:"[..], 300)
        .flatten()
        .copied()
        .collect();
    let mut reader = DirReader::new(UTF_8);
    assert_eq!(read_all(&mut reader, &deep), Err(FileError::TooDeep));
    // A name that climbs is passed on as sent (the receiver makes it safe).
    let mut reader = DirReader::new(UTF_8);
    let items = read_all(&mut reader, b"000c:..:0:2:").expect("valid");
    assert_eq!(items, ["enter .."]);
}

fn entry_strategy() -> impl Strategy<Value = FileEntry> {
    (
        any::<u64>(),
        "[^\u{0}\u{7}]{1,40}",
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(|(id, name, size, mtime, attr)| FileEntry {
            id,
            name,
            size,
            mtime,
            attr,
            ext: vec![],
        })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_file_list(&bytes, UTF_8);
        let _ = parse_file_list(&bytes, SHIFT_JIS);
        let _ = parse_dir_header(&bytes, UTF_8);
        let mut reader = DirReader::new(UTF_8);
        let mut input = &bytes[..];
        while !input.is_empty() {
            match reader.next(input) {
                Ok((used, _)) => {
                    prop_assert!(used <= input.len());
                    if used == 0 { break; }
                    input = &input[used..];
                }
                Err(_) => break,
            }
        }
        for cmd in [b"96:".as_slice(), b"97:", b"98:", b"2097184:"] {
            let packet = cat(&[b"1:1:u:h:", cmd, &bytes]);
            if let Ok(raw) = RawPacket::parse(&packet) {
                let _ = FileRequest::parse(&raw);
                let _ = file::offer(&raw, None);
            }
        }
    }

    #[test]
    fn listish_bytes_never_panic(parts in prop::collection::vec(
        prop_oneof![
            Just(b":".to_vec()), Just(b"::".to_vec()), Just(b"\x07".to_vec()),
            Just(b"ffffffffffffffffff".to_vec()), Just(b"1".to_vec()), Just(b"=".to_vec()),
            Just(b"..".to_vec()), Just(b"\0".to_vec()),
            prop::collection::vec(any::<u8>(), 0..6),
        ], 0..40)) {
        let bytes = parts.concat();
        let list = parse_file_list(&bytes, UTF_8);
        prop_assert!(list.files.len() <= file::MAX_FILES);
        let _ = parse_dir_header(&bytes, SHIFT_JIS);
    }

    #[test]
    fn lists_round_trip(files in prop::collection::vec(entry_strategy(), 0..8)) {
        let text = file::write_file_list(&files);
        let list = parse_file_list(text.as_bytes(), UTF_8);
        prop_assert!(list.skipped.is_empty(), "{:?}", list.skipped);
        prop_assert_eq!(list.files, files);
    }

    #[test]
    fn requests_round_trip(p in any::<u64>(), f in any::<u64>(), o in any::<u64>()) {
        for req in [
            FileRequest::Data { packet_no: p, file_id: f, offset: o },
            FileRequest::Dir { packet_no: p, file_id: f },
            FileRequest::Release { packet_no: p },
        ] {
            let bytes = req.build(1, "u", "h", 0, UTF_8);
            let raw = RawPacket::parse(&bytes).expect("parses");
            prop_assert_eq!(FileRequest::parse(&raw), Ok(req));
        }
    }

    #[test]
    fn dir_streams_survive_any_split(cut in 0usize..200) {
        let stream = iptux_dir_stream();
        let cut = cut.min(stream.len());
        let mut reader = DirReader::new(UTF_8);
        let mut out = read_all(&mut reader, &stream[..cut]).expect("valid");
        out.extend(read_all(&mut reader, &stream[cut..]).expect("valid"));
        prop_assert_eq!(out.first().map(String::as_str), Some("enter photos"));
        prop_assert_eq!(out.last().map(String::as_str), Some("done"));
        prop_assert!(reader.is_done());
    }
}

/// Packets recorded from the real iptux 0.8.3 (Debian 12's package) exchanging files with
/// qqchat in a network-namespace lab, byte for byte.
mod recorded_iptux {
    use super::*;

    /// iptux offering `report.dat` (300,000 bytes), then a folder `tree`.
    const OFFER_FILE: &[u8] =
        b"1_iptux 0.8.3:11:root:vm:2097184:\x0010000:report.dat:493e0:6b117644:1:\x07\x00";
    const OFFER_DIR: &[u8] =
        b"1_iptux 0.8.3:12:root:vm:2097184:\x0010001:tree:11176:6b117644:2:\x07\x00";

    #[test]
    fn its_offers_are_read() {
        let raw = RawPacket::parse(OFFER_FILE).expect("parses");
        let (text, list) = file::offer(&raw, Some(UTF_8)).expect("an offer");
        assert_eq!(text, "");
        assert_eq!(
            list.files,
            vec![FileEntry::regular(
                10_000,
                "report.dat",
                300_000,
                0x6b11_7644
            )]
        );
        let raw = RawPacket::parse(OFFER_DIR).expect("parses");
        let (_, list) = file::offer(&raw, Some(UTF_8)).expect("an offer");
        assert_eq!(list.files.len(), 1);
        assert_eq!(
            (list.files[0].id, list.files[0].name.as_str()),
            (10_001, "tree")
        );
        assert!(list.files[0].is_dir(), "{:?}", list.files[0]);
    }

    /// What qqchat sent to fetch them, as recorded (iptux served both).
    #[test]
    fn our_requests_for_them_are_what_it_answered() {
        let data = FileRequest::Data {
            packet_no: 11,
            file_id: 10_000,
            offset: 0,
        }
        .build(1_796_306_502, "root", "vm", FILEATTACHOPT, UTF_8);
        assert_eq!(data, b"1_qqchat:1796306502:root:vm:2097248:b:2710:0\x00");
        let dir = FileRequest::Dir {
            packet_no: 12,
            file_id: 10_001,
        }
        .build(1_796_306_503, "root", "vm", FILEATTACHOPT, UTF_8);
        assert_eq!(dir, b"1_qqchat:1796306503:root:vm:2097250:c:2711\x00");
    }

    /// iptux fetching a file qqchat offered: plain GETFILEDATA (96), no FILEATTACHOPT.
    #[test]
    fn its_request_for_our_file_is_read() {
        let raw = RawPacket::parse(b"1_iptux 0.8.3:8:root:vm:96:6b117607:1:0\x00").expect("parses");
        assert_eq!(
            FileRequest::parse(&raw),
            Ok(FileRequest::Data {
                packet_no: 0x6b11_7607,
                file_id: 1,
                offset: 0
            })
        );
    }

    /// iptux's answers to GETDIRFILES for `tree`, its headers as recorded (from two answers:
    /// one with the empty file, one with `a.txt`), the file bytes made up.
    #[test]
    fn its_directory_stream_is_read() {
        let body = vec![7u8; 70_000];
        let stream = cat(&[
            b"002e:tree:000000000:2:14=6b117e0b:16=6b117e0b:",
            b"0033:empty.txt:000000000:1:14=6b117644:16=6b117644:",
            b"002d:sub:000000000:2:14=6b117e0b:16=6b117e0b:",
            b"002f:b.bin:000011170:1:14=6b117e0b:16=6b117e0b:",
            &body,
            b"0023:.:0:3:14=6b117e0b:16=6b117e0b:",
            b"002f:a.txt:000000006:1:14=6b117e0b:16=6b117e0b:",
            b"hello\n",
            b"0023:.:0:3:14=6b117e0b:16=6b117e0b:",
        ]);
        let mut reader = DirReader::new(UTF_8);
        let items = read_all(&mut reader, &stream).expect("valid");
        let shape: Vec<&str> = items
            .iter()
            .filter(|i| !i.starts_with("data"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            shape,
            [
                "enter tree",
                "file empty.txt 0",
                "enter sub",
                "file b.bin 70000",
                "leave",
                "file a.txt 6",
                "done"
            ]
        );
        assert!(reader.is_done());
    }
}
