//! Byte-exact datagrams as real clients send them (iptux 0.8, Feiq, IP Messenger), and what
//! one endpoint does with each.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use qqchat_ipmsg::consts::*;
use qqchat_ipmsg::encoding_rs::{GB18030, SHIFT_JIS, UTF_8};
use qqchat_ipmsg::{Config, Endpoint, Event, Flavor, Peer, RawPacket, SendError, Transmit};

const FIRST: u32 = 1_733_300_000;
const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn config() -> Config {
    let mut c = Config::new("me", "box", "Me");
    c.group = "Dev".into();
    c.local_ips = vec![IpAddr::V4(ME)];
    c.broadcasts = vec![Ipv4Addr::new(10, 0, 0, 255)];
    c
}

fn endpoint() -> Endpoint {
    Endpoint::new(config(), FIRST)
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn from(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(ip(last), port)
}

fn transmits(e: &mut Endpoint) -> Vec<Transmit> {
    std::iter::from_fn(|| e.poll_transmit()).collect()
}

fn events(e: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

fn entered(events: &[Event]) -> Vec<Peer> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PeerEntered(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn received(events: &[Event]) -> Vec<(IpAddr, String, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Received {
                ip,
                text,
                packet_no,
                ..
            } => Some((*ip, text.clone(), *packet_no)),
            _ => None,
        })
        .collect()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const IPTUX_ENTRY: &[u8] =
    b"1_iptux 0.8.3:1733212345:alice:pc1:6291457:alice\0group\0icon-tux.png\0utf-8\0";

fn feiq_answer() -> Vec<u8> {
    cat(&[
        b"1_lbt6_0#128#000C29D2D6B3#0#0#0#4001#9:1733212345:wang:WANG-PC:6291459:",
        &[0xCD, 0xF5, 0],                         // 王
        &[0xBC, 0xBC, 0xCA, 0xF5, 0xB2, 0xBF, 0], // 技术部
    ])
}

#[test]
fn the_sample_command_numbers_are_the_spec_options() {
    assert_eq!(6291457, BR_ENTRY | FILEATTACHOPT | ENCRYPTOPT);
    assert_eq!(6291459, ANSENTRY | FILEATTACHOPT | ENCRYPTOPT);
    assert_eq!(289, RECVMSG | 0x100);
    assert_eq!(command(289), RECVMSG);
    assert_eq!(options(6291457), FILEATTACHOPT | ENCRYPTOPT);
}

#[test]
fn iptux_entry_is_answered_on_port_2425_with_its_extra_fields() {
    let mut e = endpoint();
    let t = Instant::now();
    e.handle_datagram(t, from(5, 51234), IPTUX_ENTRY);
    let ev = events(&mut e);
    let peers = entered(&ev);
    assert_eq!(peers.len(), 1, "{ev:?}");
    let p = &peers[0];
    assert_eq!(
        (
            p.nick.as_str(),
            p.group.as_str(),
            p.user.as_str(),
            p.host.as_str()
        ),
        ("alice", "group", "alice", "pc1")
    );
    assert_eq!(p.flavor, Flavor::Iptux);
    assert_eq!(p.encoding, UTF_8);
    assert!(!p.absent);
    assert_eq!(p.version, "1_iptux 0.8.3");

    let tx = transmits(&mut e);
    assert_eq!(tx.len(), 1);
    assert_eq!(
        tx[0].dst,
        from(5, 2425),
        "to port 2425, not the source port"
    );
    assert!(!tx[0].broadcast);
    let expect = format!(
        "1_qqchat:{FIRST}:me:box:{}:Me\0Dev\0icon-tux.png\0utf-8\0",
        ANSENTRY | CAPUTF8OPT
    );
    assert_eq!(tx[0].payload, expect.as_bytes());
    assert_eq!(e.peers().count(), 1);
}

#[test]
fn iptux_naming_gbk_gets_gb18030() {
    let mut e = endpoint();
    let packet = cat(&[
        b"1_iptux 0.8.3:1733212345:li:pc2:6291457:",
        &[0xC0, 0xEE, 0], // 李
        &[0xBC, 0xBC, 0xCA, 0xF5, 0xB2, 0xBF, 0],
        b"icon-tux.png\0gbk\0",
    ]);
    e.handle_datagram(Instant::now(), from(6, 2425), &packet);
    let peers = entered(&events(&mut e));
    assert_eq!(peers[0].nick, "李");
    assert_eq!(peers[0].group, "技术部");
    assert_eq!(peers[0].encoding, GB18030);
    let answer = &transmits(&mut e)[0].payload;
    assert!(
        answer.ends_with(b"Me\0Dev\0"),
        "no iptux fields: {answer:?}"
    );

    e.send(Instant::now(), ip(6), "你好", 1).expect("queued");
    let msg = transmits(&mut e).remove(0).payload;
    let raw = RawPacket::parse(&msg).expect("parses");
    assert_eq!(raw.command, SENDMSG | SENDCHECKOPT, "no UTF-8 option");
    assert_eq!(raw.text(), [0xC4, 0xE3, 0xBA, 0xC3], "你好 in GBK");
}

#[test]
fn feiq_entry_in_gbk() {
    let mut e = endpoint();
    e.handle_datagram(Instant::now(), from(7, 2425), &feiq_answer());
    let peers = entered(&events(&mut e));
    assert_eq!(peers.len(), 1);
    let p = &peers[0];
    assert_eq!((p.nick.as_str(), p.group.as_str()), ("王", "技术部"));
    assert_eq!((p.user.as_str(), p.host.as_str()), ("wang", "WANG-PC"));
    assert_eq!(p.flavor, Flavor::Feiq);
    assert_eq!(p.encoding, GB18030);
    // An ANSENTRY is not answered, and our names are ASCII: nothing to correct.
    assert!(transmits(&mut e).is_empty());

    e.send(Instant::now(), ip(7), "你好", 9).expect("queued");
    let msg = transmits(&mut e).remove(0).payload;
    let expect = cat(&[
        format!("1_qqchat:{FIRST}:me:box:{}:", SENDMSG | SENDCHECKOPT).as_bytes(),
        &[0xC4, 0xE3, 0xBA, 0xC3, 0],
    ]);
    assert_eq!(msg, expect);
}

#[test]
fn feiq_message_in_gbk_is_decoded() {
    let mut e = endpoint();
    e.handle_datagram(Instant::now(), from(7, 2425), &feiq_answer());
    events(&mut e);
    let msg = cat(&[
        b"1_lbt6_0#128#000C29D2D6B3#0#0#0#4001#9:1733212399:wang:WANG-PC:288:",
        &[0xC4, 0xE3, 0xBA, 0xC3, 0],
    ]);
    e.handle_datagram(Instant::now(), from(7, 2425), &msg);
    assert_eq!(
        received(&events(&mut e)),
        vec![(ip(7), "你好".to_owned(), 1733212399)]
    );
    let ack = transmits(&mut e).remove(0).payload;
    assert_eq!(
        ack,
        format!("1_qqchat:{FIRST}:me:box:{RECVMSG}:1733212399\0").as_bytes()
    );
}

#[test]
fn a_non_ascii_name_is_told_again_in_a_gbk_peers_encoding() {
    let mut c = config();
    c.nick = "小王".into();
    let mut e = Endpoint::new(c, FIRST);
    e.announce();
    transmits(&mut e);
    e.handle_datagram(Instant::now(), from(7, 2425), &feiq_answer());
    let tx = transmits(&mut e);
    assert_eq!(tx.len(), 1, "one correction");
    assert_eq!(tx[0].dst, from(7, 2425));
    let raw = RawPacket::parse(&tx[0].payload).expect("parses");
    assert_eq!(raw.cmd(), BR_ABSENCE);
    assert_eq!(raw.opts() & UTF8OPT, 0);
    assert_eq!(raw.text(), &*GB18030.encode("小王").0);
}

#[test]
fn ip_messenger_with_a_cp932_nick() {
    let mut e = endpoint();
    // IP Messenger 4 advertises UTF-8 but writes its entry in CP932 (no UTF8OPT).
    assert_eq!(23068673, BR_ENTRY | CAPUTF8OPT | ENCRYPTOPT | FILEATTACHOPT);
    let packet = cat(&[
        b"1:1733212345:taro:TARO-PC:23068673:",
        &[0x8E, 0x52, 0x93, 0x63, 0], // 山田
        &[0x8A, 0x4A, 0x94, 0xAD, 0], // 開発
    ]);
    e.handle_datagram(Instant::now(), from(8, 2425), &packet);
    let p = entered(&events(&mut e)).remove(0);
    assert_eq!((p.nick.as_str(), p.group.as_str()), ("山田", "開発"));
    assert_eq!(p.flavor, Flavor::IpMsg);
    assert_eq!(p.encoding, UTF_8, "it advertised CAPUTF8OPT");
    let answer = transmits(&mut e).remove(0).payload;
    assert_eq!(
        answer,
        format!(
            "1_qqchat:{FIRST}:me:box:{}:Me\0Dev\0",
            ANSENTRY | CAPUTF8OPT | UTF8OPT
        )
        .as_bytes()
    );
    e.send(Instant::now(), ip(8), "こんにちは", 1)
        .expect("queued");
    let raw_bytes = transmits(&mut e).remove(0).payload;
    let raw = RawPacket::parse(&raw_bytes).expect("parses");
    assert_eq!(raw.command, SENDMSG | SENDCHECKOPT | UTF8OPT | CAPUTF8OPT);
    assert_eq!(raw.text(), "こんにちは".as_bytes());

    // A message with UTF8OPT is UTF-8.
    let msg = cat(&[
        format!(
            "1:1733212350:taro:TARO-PC:{}:",
            SENDMSG | SENDCHECKOPT | UTF8OPT
        )
        .as_bytes(),
        "山田です".as_bytes(),
        b"\0",
    ]);
    e.handle_datagram(Instant::now(), from(8, 2425), &msg);
    assert_eq!(received(&events(&mut e))[0].1, "山田です");
}

#[test]
fn classic_ip_messenger_without_utf8_gets_cp932() {
    let mut e = endpoint();
    let packet = cat(&[
        b"1:1733212345:taro:TARO-PC:1:",
        &[0x91, 0xBE, 0x98, 0x59, 0],
        b"\0",
    ]);
    e.handle_datagram(Instant::now(), from(9, 2425), &packet);
    let p = entered(&events(&mut e)).remove(0);
    assert_eq!(p.nick, "太郎");
    assert_eq!(p.encoding, SHIFT_JIS);
    transmits(&mut e);
    e.send(Instant::now(), ip(9), "山田", 1).expect("queued");
    let bytes = transmits(&mut e).remove(0).payload;
    assert_eq!(
        bytes,
        cat(&[
            format!("1_qqchat:{}:me:box:{}:", FIRST + 1, SENDMSG | SENDCHECKOPT).as_bytes(),
            &[0x8E, 0x52, 0x93, 0x63, 0]
        ])
    );
}

#[test]
fn an_empty_nick_shows_the_user_name() {
    let mut e = endpoint();
    e.handle_datagram(Instant::now(), from(9, 2425), b"1:5:bob:box:1:");
    assert_eq!(entered(&events(&mut e))[0].nick, "bob");
}

#[test]
fn iptux_receipt_289_delivers() {
    let mut e = endpoint();
    let t = Instant::now();
    e.handle_datagram(t, from(5, 2425), IPTUX_ENTRY);
    events(&mut e);
    transmits(&mut e);
    e.send(t, ip(5), "hi alice", 42).expect("queued");
    let msg = transmits(&mut e).remove(0).payload;
    let no = RawPacket::parse(&msg).expect("parses").packet_no;
    assert_eq!(
        msg,
        format!("1_qqchat:{no}:me:box:{}:hi alice\0", SENDMSG | SENDCHECKOPT).as_bytes()
    );
    // A receipt for another number does nothing.
    e.handle_datagram(
        t,
        from(5, 2425),
        b"1_iptux 0.8.3:1733212400:alice:pc1:289:12\0",
    );
    assert!(events(&mut e).is_empty());
    let ack = format!("1_iptux 0.8.3:1733212401:alice:pc1:289:{no}\0");
    e.handle_datagram(t, from(5, 40000), ack.as_bytes());
    assert_eq!(events(&mut e), vec![Event::Delivered { id: 42 }]);
    assert_eq!(e.poll_timeout(), None, "nothing left in flight");
    // The same receipt again is harmless.
    e.handle_datagram(t, from(5, 2425), ack.as_bytes());
    assert!(events(&mut e).is_empty());
}

#[test]
fn a_receipt_from_another_ip_does_not_deliver() {
    let mut e = endpoint();
    let t = Instant::now();
    e.send(t, ip(5), "hi", 1).expect("queued");
    let no = RawPacket::parse(&transmits(&mut e)[0].payload)
        .expect("parses")
        .packet_no;
    e.handle_datagram(t, from(6, 2425), format!("1:9:x:y:33:{no}").as_bytes());
    assert!(events(&mut e).is_empty());
}

#[test]
fn a_retransmitted_message_is_acked_each_time_and_shown_once() {
    let mut e = endpoint();
    let t = Instant::now();
    let msg = format!("1:1733212345:bob:box:{}:hello\0", SENDMSG | SENDCHECKOPT);
    for _ in 0..3 {
        e.handle_datagram(t, from(9, 2425), msg.as_bytes());
    }
    let ev = events(&mut e);
    assert_eq!(received(&ev), vec![(ip(9), "hello".to_owned(), 1733212345)]);
    let acks: Vec<_> = transmits(&mut e)
        .into_iter()
        .filter(|t| RawPacket::parse(&t.payload).is_ok_and(|r| r.cmd() == RECVMSG))
        .collect();
    assert_eq!(acks.len(), 3);
    for a in &acks {
        assert_eq!(
            RawPacket::parse(&a.payload).expect("parses").text(),
            b"1733212345"
        );
        assert_eq!(a.dst, from(9, 2425));
    }
    assert_eq!(e.stats().duplicates, 2);
    // The same number from another IP is another message.
    e.handle_datagram(t, from(10, 2425), msg.as_bytes());
    assert_eq!(received(&events(&mut e)).len(), 1);
}

#[test]
fn seen_numbers_are_bounded() {
    let mut c = config();
    c.max_seen = 16;
    let mut e = Endpoint::new(c, FIRST);
    let t = Instant::now();
    for n in 0..1000u32 {
        e.handle_datagram(
            t,
            from(9, 2425),
            format!("1:{n}:bob:box:288:m{n}").as_bytes(),
        );
    }
    assert_eq!(received(&events(&mut e)).len(), 1000);
    // Recent numbers are still known; the oldest are forgotten.
    e.handle_datagram(t, from(9, 2425), b"1:999:bob:box:288:m999");
    assert!(received(&events(&mut e)).is_empty());
}

#[test]
fn without_sendcheckopt_no_receipt() {
    let mut e = endpoint();
    e.handle_datagram(Instant::now(), from(9, 2425), b"1:77:bob:box:32:psst\0");
    assert_eq!(received(&events(&mut e))[0].1, "psst");
    assert!(transmits(&mut e).is_empty());
}

#[test]
fn a_trailing_nul_or_none() {
    let mut e = endpoint();
    let t = Instant::now();
    e.handle_datagram(t, from(9, 2425), b"1:1:bob:box:288:with nul\0");
    e.handle_datagram(t, from(9, 2425), b"1:2:bob:box:288:without nul");
    let texts: Vec<String> = received(&events(&mut e)).into_iter().map(|r| r.1).collect();
    assert_eq!(texts, ["with nul", "without nul"]);
}

#[test]
fn a_file_list_after_the_text_is_not_shown() {
    let mut e = endpoint();
    let cmd = SENDMSG | SENDCHECKOPT | FILEATTACHOPT;
    let msg = cat(&[
        format!("1:1733212345:bob:box:{cmd}:see attached\0").as_bytes(),
        b"0:report.pdf:1a2b:5f0e1a2b:1:\x07\0",
    ]);
    e.handle_datagram(Instant::now(), from(9, 2425), &msg);
    let ev = events(&mut e);
    let got = ev.iter().find_map(|e| match e {
        Event::Received {
            text, attachments, ..
        } => Some((text.clone(), *attachments)),
        _ => None,
    });
    assert_eq!(got, Some(("see attached".to_owned(), true)));
}

#[test]
fn crlf_becomes_lf_and_colons_survive() {
    let mut e = endpoint();
    e.handle_datagram(
        Instant::now(),
        from(9, 2425),
        b"1:3:bob:box:288:a\r\nb at 10:30\0",
    );
    assert_eq!(received(&events(&mut e))[0].1, "a\nb at 10:30");
}

#[test]
fn a_message_from_an_unknown_ip_adds_the_peer_unless_asked_not_to() {
    let mut e = endpoint();
    e.handle_datagram(Instant::now(), from(9, 2425), b"1:3:bob:box:288:hi\0");
    let ev = events(&mut e);
    assert!(
        matches!(&ev[0], Event::PeerEntered(p) if p.nick == "bob"),
        "{ev:?}"
    );
    assert!(matches!(&ev[1], Event::Received { .. }));
    let cmd = SENDMSG | NOADDLISTOPT;
    e.handle_datagram(
        Instant::now(),
        from(11, 2425),
        format!("1:3:x:y:{cmd}:hi\0").as_bytes(),
    );
    assert_eq!(entered(&events(&mut e)).len(), 0);
}

#[test]
fn announce_broadcasts_to_each_address_and_to_all() {
    let mut e = endpoint();
    e.announce();
    let tx = transmits(&mut e);
    let dsts: Vec<SocketAddr> = tx.iter().map(|t| t.dst).collect();
    assert_eq!(
        dsts,
        [
            "10.0.0.255:2425".parse().expect("addr"),
            "255.255.255.255:2425".parse().expect("addr")
        ]
    );
    let expect = format!(
        "1_qqchat:{FIRST}:me:box:{}:Me\0Dev\0",
        BR_ENTRY | CAPUTF8OPT | UTF8OPT
    );
    for t in &tx {
        assert!(t.broadcast);
        assert_eq!(t.payload, expect.as_bytes());
    }
}

#[test]
fn our_own_broadcasts_are_ignored() {
    let mut e = endpoint();
    e.announce();
    let tx = transmits(&mut e);
    for t in &tx {
        e.handle_datagram(
            Instant::now(),
            SocketAddr::new(IpAddr::V4(ME), 2425),
            &t.payload,
        );
    }
    assert!(events(&mut e).is_empty());
    assert!(transmits(&mut e).is_empty(), "no answer to ourselves");
    assert_eq!(e.stats().own, 2);
    assert_eq!(e.peers().count(), 0);
    // Another user on one of our addresses is a peer (e.g. a second client in a lab).
    e.handle_datagram(
        Instant::now(),
        SocketAddr::new(IpAddr::V4(ME), 2425),
        b"1:5:other:box:1:O\0",
    );
    assert_eq!(entered(&events(&mut e)).len(), 1);
}

#[test]
fn exit_and_absence() {
    let mut e = endpoint();
    let t = Instant::now();
    e.handle_datagram(
        t,
        from(8, 2425),
        b"1:1733212345:taro:TARO-PC:23068673:taro\0dev\0",
    );
    events(&mut e);
    let away = format!(
        "1:1733212346:taro:TARO-PC:{}:taro\0dev\0",
        BR_ABSENCE | ABSENCEOPT
    );
    e.handle_datagram(t, from(8, 2425), away.as_bytes());
    let ev = events(&mut e);
    assert!(
        matches!(&ev[..], [Event::PeerUpdated(p)] if p.absent && p.encoding == UTF_8 && p.utf8),
        "an absence packet without CAPUTF8OPT keeps what the entry said: {ev:?}"
    );
    assert!(e.peer(ip(8)).is_some_and(|p| p.absent));
    assert!(
        transmits(&mut e)
            .iter()
            .all(|t| { RawPacket::parse(&t.payload).is_ok_and(|r| r.cmd() == ANSENTRY) }),
        "absence is not answered"
    );
    e.handle_datagram(t, from(8, 2425), b"1:1733212347:taro:TARO-PC:2:taro\0dev\0");
    assert_eq!(events(&mut e), vec![Event::PeerLeft { ip: ip(8) }]);
    assert_eq!(e.peers().count(), 0);
    // An exit from a stranger says nothing.
    e.handle_datagram(t, from(6, 2425), b"1:1:x:y:2:");
    assert!(events(&mut e).is_empty());
}

#[test]
fn iptux_is_never_absent() {
    // iptux sets ABSENCEOPT on every entry; it has no absence mode.
    let mut e = endpoint();
    let cmd = BR_ENTRY | ABSENCEOPT | FILEATTACHOPT | ENCRYPTOPT;
    let packet =
        format!("1_iptux 0.8.3:1733212345:alice:pc1:{cmd}:alice\0group\0icon-tux.png\0utf-8\0");
    e.handle_datagram(Instant::now(), from(5, 2425), packet.as_bytes());
    assert!(!entered(&events(&mut e))[0].absent);
}

#[test]
fn iptux_answering_our_broadcast_is_told_we_write_utf8() {
    let mut e = endpoint();
    e.announce();
    transmits(&mut e);
    let answer = format!(
        "1_iptux 0.8.3:1733212345:alice:pc1:{}:alice\0group\0icon-tux.png\0utf-8\0",
        ANSENTRY | ABSENCEOPT | FILEATTACHOPT | ENCRYPTOPT
    );
    e.handle_datagram(Instant::now(), from(5, 2425), answer.as_bytes());
    let tx = transmits(&mut e);
    assert_eq!(tx.len(), 1);
    assert_eq!(
        tx[0].payload,
        format!(
            "1_qqchat:{}:me:box:{}:Me\0Dev\0icon-tux.png\0utf-8\0",
            FIRST + 1,
            BR_ABSENCE | CAPUTF8OPT
        )
        .as_bytes()
    );
    // Once known, it is not told again.
    e.handle_datagram(Instant::now(), from(5, 2425), answer.as_bytes());
    assert!(transmits(&mut e).is_empty());
}

#[test]
fn iptux_in_gbk_is_not_told_it_is_utf8() {
    let mut e = endpoint();
    let packet = b"1_iptux 0.5.1:1733212345:li:pc2:1:li\0g\0icon-tux.png\0gbk\0";
    e.handle_datagram(Instant::now(), from(6, 2425), packet);
    let answer = transmits(&mut e).remove(0).payload;
    assert_eq!(
        answer,
        format!(
            "1_qqchat:{FIRST}:me:box:{}:Me\0Dev\0",
            ANSENTRY | CAPUTF8OPT
        )
        .as_bytes()
    );
}

#[test]
fn set_absent_and_quit_broadcast() {
    let mut e = endpoint();
    e.set_absent(true);
    let tx = transmits(&mut e);
    assert_eq!(tx.len(), 2);
    let raw = RawPacket::parse(&tx[0].payload).expect("parses");
    assert_eq!(raw.command, BR_ABSENCE | ABSENCEOPT | CAPUTF8OPT | UTF8OPT);
    assert!(e.is_absent());
    // Answers carry the absence too.
    e.handle_datagram(Instant::now(), from(9, 2425), b"1:1:bob:box:1:bob\0");
    let answer = transmits(&mut e).remove(0).payload;
    assert_ne!(
        RawPacket::parse(&answer).expect("parses").opts() & ABSENCEOPT,
        0
    );
    e.set_absent(false);
    let raw_bytes = transmits(&mut e).remove(0).payload;
    let raw = RawPacket::parse(&raw_bytes).expect("parses");
    assert_eq!(raw.command, BR_ABSENCE | CAPUTF8OPT | UTF8OPT);
    e.quit();
    let tx = transmits(&mut e);
    assert_eq!(tx.len(), 2);
    assert!(tx.iter().all(|t| t.broadcast));
    assert_eq!(
        RawPacket::parse(&tx[0].payload).expect("parses").cmd(),
        BR_EXIT
    );
}

#[test]
fn an_entry_and_an_exit_go_to_one_peer_alone() {
    let mut e = endpoint();
    let t = Instant::now();
    e.announce_to(ip(5));
    e.send(t, ip(5), "hi", 1).expect("queued");
    e.quit_to(ip(5));
    let tx = transmits(&mut e);
    let to = from(5, 2425);
    assert!(tx.iter().all(|t| !t.broadcast && t.dst == to), "{tx:?}");
    let payloads: Vec<Vec<u8>> = tx.into_iter().map(|t| t.payload).collect();
    let utf8 = CAPUTF8OPT | UTF8OPT;
    assert_eq!(
        payloads,
        [
            format!("1_qqchat:{FIRST}:me:box:{}:Me\0Dev\0", BR_ENTRY | utf8),
            format!(
                "1_qqchat:{}:me:box:{}:hi\0",
                FIRST + 1,
                SENDMSG | SENDCHECKOPT | utf8
            ),
            format!("1_qqchat:{}:me:box:{}:Me\0Dev\0", FIRST + 2, BR_EXIT | utf8),
        ]
        .map(String::into_bytes)
    );
}

#[test]
fn packet_numbers_start_at_the_wall_clock_and_only_grow() {
    let mut e = endpoint();
    let t = Instant::now();
    e.announce();
    e.send(t, ip(5), "a", 1).expect("queued");
    e.send(t, ip(6), "b", 2).expect("queued");
    e.handle_datagram(t, from(9, 2425), b"1:1:bob:box:1:bob\0");
    let numbers: Vec<u64> = transmits(&mut e)
        .iter()
        .map(|t| RawPacket::parse(&t.payload).expect("parses").packet_no)
        .collect();
    assert_eq!(numbers[0], u64::from(FIRST));
    // The two broadcast copies share one number; then every packet has a higher one.
    assert_eq!(numbers[1], numbers[0]);
    assert!(numbers[1..].windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert_eq!(e.next_packet_no(), FIRST + 4);
}

#[test]
fn messages_to_one_peer_leave_one_at_a_time() {
    let mut e = endpoint();
    let t = Instant::now();
    e.send(t, ip(5), "one", 1).expect("queued");
    e.send(t, ip(5), "two", 2).expect("queued");
    e.send(t, ip(6), "elsewhere", 3).expect("queued");
    let tx = transmits(&mut e);
    let texts: Vec<&[u8]> = tx
        .iter()
        .map(|t| {
            RawPacket::parse(&t.payload)
                .map(|r| r.text())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(texts, [&b"one"[..], b"elsewhere"]);
    let no = RawPacket::parse(&tx[0].payload).expect("parses").packet_no;
    e.handle_datagram(t, from(5, 2425), format!("1:9:x:y:33:{no}").as_bytes());
    assert_eq!(events(&mut e), vec![Event::Delivered { id: 1 }]);
    let next = transmits(&mut e);
    assert_eq!(next.len(), 1);
    let raw = RawPacket::parse(&next[0].payload).expect("parses");
    assert_eq!(raw.text(), b"two");
    assert!(raw.packet_no > no);
}

#[test]
fn retransmits_keep_the_number_then_give_up() {
    let mut c = config();
    c.give_up = Duration::from_secs(20);
    let mut e = Endpoint::new(c, FIRST);
    let t = Instant::now();
    e.send(t, ip(5), "anyone?", 7).expect("queued");
    e.send(t, ip(5), "behind it", 8).expect("queued");
    let first = transmits(&mut e).remove(0).payload;
    let mut times = Vec::new();
    while let Some(at) = e.poll_timeout() {
        e.handle_timeout(at);
        for tx in transmits(&mut e) {
            assert_eq!(tx.payload, first, "same bytes, same packet number");
            times.push(at.duration_since(t).as_secs());
        }
        if !events(&mut e).is_empty() {
            assert_eq!(at.duration_since(t), Duration::from_secs(20));
            break;
        }
    }
    assert_eq!(times, [1, 3, 7, 15]);
    assert_eq!(e.stats().failed, 2);
    assert_eq!(e.poll_timeout(), None);
    assert_eq!(e.queued(), 0);
}

#[test]
fn give_up_reports_every_queued_message() {
    let mut e = endpoint();
    let t = Instant::now();
    e.send(t, ip(5), "a", 1).expect("queued");
    e.send(t, ip(5), "b", 2).expect("queued");
    e.handle_timeout(t + Duration::from_secs(31));
    assert_eq!(
        events(&mut e),
        vec![Event::Failed { id: 1 }, Event::Failed { id: 2 }]
    );
}

#[test]
fn send_refuses_too_long_and_too_many() {
    let mut c = config();
    c.max_queued = 2;
    let mut e = Endpoint::new(c, FIRST);
    let t = Instant::now();
    let long = "x".repeat(9000);
    assert!(matches!(
        e.send(t, ip(5), &long, 1),
        Err(SendError::TooLong { max: 8192, .. })
    ));
    e.send(t, ip(5), "a", 1).expect("queued");
    e.send(t, ip(6), "b", 2).expect("queued");
    assert_eq!(e.send(t, ip(7), "c", 3), Err(SendError::QueueFull(2)));
}

#[test]
fn oversize_and_malformed_datagrams_are_counted_and_dropped() {
    let mut e = endpoint();
    let t = Instant::now();
    let mut big = b"1:1:bob:box:288:".to_vec();
    big.resize(40_000, b'a');
    e.handle_datagram(t, from(9, 2425), &big);
    e.handle_datagram(t, from(9, 2425), b"hello from netcat\n");
    e.handle_datagram(t, from(9, 2425), b"1:notanumber:bob:box:288:x");
    e.handle_datagram(t, from(9, 2425), b"1:1:bob:box:33:not a number");
    assert!(events(&mut e).is_empty());
    assert!(transmits(&mut e).is_empty());
    assert_eq!(e.stats().too_large, 1);
    assert_eq!(e.stats().malformed, 3);
}

#[test]
fn the_peer_table_is_bounded() {
    let mut c = config();
    c.max_peers = 10;
    let mut e = Endpoint::new(c, FIRST);
    let t = Instant::now();
    for i in 0..100u8 {
        e.handle_datagram(
            t,
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)), 2425),
            b"1:1:u:h:3:n\0",
        );
    }
    assert_eq!(e.peers().count(), 10);
    assert_eq!(entered(&events(&mut e)).len(), 10);
    assert_eq!(e.stats().peers_refused, 90);
}

#[test]
fn a_storm_of_entries_is_answered_within_bounds() {
    let mut e = endpoint();
    let t = Instant::now();
    // One host flooding.
    for n in 0..1000 {
        e.handle_datagram(
            t,
            from(9, 2425),
            format!("1:{n}:bob:box:1:bob\0").as_bytes(),
        );
    }
    assert_eq!(transmits(&mut e).len(), 3);
    // Then thousands of hosts within one second.
    for i in 0..5000u32 {
        let at = t + Duration::from_micros(u64::from(i) * 200);
        let src = SocketAddr::new(IpAddr::from((0x0a02_0000 + i).to_be_bytes()), 2425);
        e.handle_datagram(at, src, b"1:1:u:h:1:n\0");
    }
    let n = transmits(&mut e).len();
    assert!(n <= 64 + 32 + 1, "{n} answers to a storm");
    assert!(n >= 64, "{n}: the burst is answered");
    assert!(e.stats().rate_limited > 4000);
}

#[test]
fn getinfo_is_answered() {
    let mut e = endpoint();
    e.handle_datagram(Instant::now(), from(9, 2425), b"1:1:bob:box:64:\0");
    let tx = transmits(&mut e);
    let raw = RawPacket::parse(&tx[0].payload).expect("parses");
    assert_eq!(raw.cmd(), SENDINFO);
    assert!(raw.text().starts_with(b"qqchat "));
}

#[test]
fn ipv4_mapped_addresses_are_the_same_peer() {
    let mut e = endpoint();
    let mapped: SocketAddr = "[::ffff:10.0.0.5]:2425".parse().expect("addr");
    e.handle_datagram(Instant::now(), mapped, IPTUX_ENTRY);
    assert!(e.peer(ip(5)).is_some());
    assert_eq!(transmits(&mut e)[0].dst, from(5, 2425));
}

#[test]
fn the_first_number_is_the_wall_clock_in_seconds() {
    let wall = std::time::UNIX_EPOCH + Duration::from_secs(1_733_212_345);
    assert_eq!(qqchat_ipmsg::packet_no_at(wall), 1_733_212_345);
    assert_eq!(qqchat_ipmsg::packet_no_at(std::time::UNIX_EPOCH), 1);
}

#[test]
fn own_broadcasts_are_known_without_local_addresses() {
    let mut c = config();
    c.local_ips.clear();
    let mut e = Endpoint::new(c, FIRST);
    e.announce();
    let echo = transmits(&mut e).remove(0).payload;
    e.handle_datagram(Instant::now(), from(1, 2425), &echo);
    assert!(events(&mut e).is_empty());
    assert!(transmits(&mut e).is_empty());
    // Same names with another number, from an address not known to be ours: someone else.
    e.handle_datagram(Instant::now(), from(3, 2425), b"1:5:me:box:1:Me\0");
    assert_eq!(entered(&events(&mut e)).len(), 1);
}

#[test]
fn ip_messenger_names_in_its_utf8_extension_win() {
    // CP932 cannot spell 王; IP Messenger sends '?' there and the real name in UTF-8.
    let mut e = endpoint();
    let packet = cat(&[
        format!("1:1733212345:wang:WANG-PC:{}:", BR_ENTRY | CAPUTF8OPT).as_bytes(),
        b"?\0",
        &[0x8A, 0x4A, 0x94, 0xAD, 0], // 開発
        "\nUN:wang\nHN:WANG-PC\nNN:王\nGN:開発\nVS:0x0003\0".as_bytes(),
    ]);
    e.handle_datagram(Instant::now(), from(8, 2425), &packet);
    let p = entered(&events(&mut e)).remove(0);
    assert_eq!((p.nick.as_str(), p.group.as_str()), ("王", "開発"));
}

#[test]
fn set_names_tells_the_lan() {
    let mut e = endpoint();
    e.set_names("Boss", "Ops");
    let tx = transmits(&mut e);
    assert_eq!(tx.len(), 2);
    assert_eq!(
        tx[0].payload,
        format!(
            "1_qqchat:{FIRST}:me:box:{}:Boss\0Ops\0",
            BR_ABSENCE | CAPUTF8OPT | UTF8OPT
        )
        .as_bytes()
    );
}

#[test]
fn absurd_timer_settings_cannot_spin() {
    let mut c = config();
    c.initial_rto = Duration::ZERO;
    c.max_rto = Duration::ZERO;
    c.give_up = Duration::MAX;
    let mut e = Endpoint::new(c, FIRST);
    let t = Instant::now();
    e.send(t, ip(5), "x", 1).expect("queued");
    let mut rounds = 0;
    while let Some(at) = e.poll_timeout() {
        assert!(at > t);
        e.handle_timeout(at);
        transmits(&mut e);
        rounds += 1;
        if rounds > 100 {
            break;
        }
    }
    assert!(
        e.poll_timeout()
            .is_some_and(|at| at < t + Duration::from_secs(86_401))
    );
}

#[test]
fn an_empty_message_is_acknowledged_but_not_shown() {
    let mut e = endpoint();
    let cmd = SENDMSG | SENDCHECKOPT;
    e.handle_datagram(
        Instant::now(),
        from(9, 2425),
        format!("1:5:bob:box:{cmd}:\0").as_bytes(),
    );
    assert!(received(&events(&mut e)).is_empty());
    assert_eq!(transmits(&mut e).len(), 1, "the receipt");
}

#[test]
fn a_restarted_iptux_numbering_from_1_again_is_shown_not_taken_for_a_retransmission() {
    let mut e = endpoint();
    let t = Instant::now();
    let entry = b"1_iptux 0.8.3:1:root:vm:257:root\0\0icon-tux.png\0utf-8\0";
    e.handle_datagram(t, from(7, 2425), entry);
    e.handle_datagram(t, from(7, 2425), b"1_iptux 0.8.3:7:root:vm:288:hello\0");
    // iptux quits without a word (killed) and starts again: its numbers start at 1 again.
    e.handle_datagram(t, from(7, 2425), entry);
    e.handle_datagram(
        t,
        from(7, 2425),
        b"1_iptux 0.8.3:7:root:vm:288:after restart\0",
    );
    let texts: Vec<String> = received(&events(&mut e))
        .into_iter()
        .map(|(_, text, _)| text)
        .collect();
    assert_eq!(texts, ["hello", "after restart"]);
}
