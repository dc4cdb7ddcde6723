//! Random and hostile transfer packets, into both ends of live transfers: nothing panics,
//! nothing grows without bound, and the bytes a receiver holds stay inside the offered file.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use qqchat_proto::transfer::wire::{self, Accept, Ack, Data, Offer, XferPacket};
use qqchat_proto::transfer::{
    FailReason, FileKey, Held, Manifest, Storage, Transfers, XferConfig, XferEvent,
};

#[derive(Default)]
struct MemFiles(HashMap<FileKey, Vec<u8>>);

impl Storage for MemFiles {
    fn read_at(&mut self, key: FileKey, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let f = self
            .0
            .get(&key)
            .ok_or_else(|| std::io::Error::other("none"))?;
        let s = usize::try_from(offset).map_err(std::io::Error::other)?;
        let src = f
            .get(s..s.saturating_add(buf.len()))
            .ok_or_else(|| std::io::Error::other("short"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&mut self, key: FileKey, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let f = self.0.entry(key).or_default();
        let end = offset as usize + data.len();
        assert!(
            end <= SIZE,
            "a write beyond the offered size: {offset}+{}",
            data.len()
        );
        if f.len() < end {
            f.resize(end, 0);
        }
        f[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

const SIZE: usize = 300_000;

struct Pair {
    now: Instant,
    ends: [(Transfers, MemFiles); 2],
}

impl Pair {
    /// Two ends with a transfer each way, under way.
    fn new() -> Self {
        let now = Instant::now();
        let data: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
        let mut ends = [
            (
                Transfers::new(XferConfig {
                    session: 1,
                    ..XferConfig::default()
                }),
                MemFiles::default(),
            ),
            (
                Transfers::new(XferConfig {
                    session: 2,
                    ..XferConfig::default()
                }),
                MemFiles::default(),
            ),
        ];
        for (i, (t, files)) in ends.iter_mut().enumerate() {
            let id = i as u64 + 1;
            files.0.insert(FileKey::outgoing(id), data.clone());
            t.send(now, id, "f", Manifest::of_bytes(&data, 4096))
                .expect("send");
        }
        let mut pair = Self { now, ends };
        pair.exchange(3);
        for (t, _) in &mut pair.ends {
            while let Some(e) = t.poll_event() {
                if let XferEvent::Offered { offer } = e {
                    t.accept(now, offer.id, &Held::default()).expect("accept");
                }
            }
        }
        pair.exchange(6);
        pair
    }

    /// Moves every packet each way, `rounds` times, a millisecond apart.
    fn exchange(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.now += Duration::from_millis(1);
            let now = self.now;
            for from in 0..2 {
                let mut out = vec![];
                let (t, files) = &mut self.ends[from];
                t.handle_timeout(now);
                while let Some(p) = t.poll_transmit(now, files) {
                    out.push(p);
                    if out.len() > 5000 {
                        break;
                    }
                }
                let (t, files) = &mut self.ends[1 - from];
                for p in out {
                    t.handle(now, &p, files).expect("own packets decode");
                }
            }
        }
    }
}

fn packet(kind: u8, id: u64, a: u64, b: u64, c: u32, bytes: &[u8]) -> Vec<u8> {
    let ranges: Vec<(u64, u64)> = bytes
        .chunks(2)
        .map(|p| {
            let s = a.wrapping_add(u64::from(p[0]) * 1000);
            (s, s.saturating_add(u64::from(*p.last().unwrap_or(&1)) + 1))
        })
        .filter(|(s, e)| s < e)
        .take(wire::MAX_RANGES)
        .collect();
    let chunk = &bytes[..bytes.len().clamp(1, 1100).min(bytes.len())];
    let p = match kind % 13 {
        0 => XferPacket::Offer(Offer {
            id,
            name: "x".repeat((c % 300) as usize),
            size: a,
            hash: [b as u8; 32],
            block: c,
            session: c,
        }),
        1 => XferPacket::Accept(Accept {
            id,
            round: c,
            held: ranges,
            limit: b,
        }),
        2 => XferPacket::Decline { id },
        3 => XferPacket::Data(Data {
            id,
            session: c % 3,
            pn: b % 1000,
            offset: a % (SIZE as u64 + 5000),
            bytes: chunk,
        }),
        4 => XferPacket::Ack(Ack {
            id,
            pns: ranges
                .iter()
                .map(|&(s, e)| (s % 2000, e % 2000 + s % 2000 + 1))
                .collect(),
            delay_us: c,
            gap: Some((a % SIZE as u64, a % SIZE as u64 + b % 10_000 + 1)),
            limit: b,
        }),
        5 => XferPacket::HashReq {
            id,
            first: c % 100,
            count: (b % 40) as u16,
        },
        6 => XferPacket::Hashes {
            id,
            first: c % 100,
            hashes: vec![[a as u8; 32]; (b % 33) as usize],
        },
        7 => XferPacket::Cancel {
            id,
            to_sender: a.is_multiple_of(2),
            forgotten: b.is_multiple_of(2),
        },
        8 => XferPacket::Pause {
            id,
            to_sender: a.is_multiple_of(2),
        },
        9 => XferPacket::Resume {
            id,
            to_sender: a.is_multiple_of(2),
        },
        10 => XferPacket::Verified { id },
        11 => XferPacket::Done { id },
        _ => XferPacket::Failed {
            id,
            to_sender: a.is_multiple_of(2),
            reason: FailReason::Protocol,
        },
    };
    wire::encode(&p)
}

fn any_packet() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1300).prop_map(|mut v| {
            if let Some(first) = v.first_mut() {
                *first = wire::XFER_VERSION;
            }
            v
        }),
        (
            any::<u8>(),
            prop_oneof![Just(1u64), Just(2u64), any::<u64>()],
            prop_oneof![0u64..400_000, any::<u64>()],
            prop_oneof![0u64..400_000, any::<u64>()],
            prop_oneof![0u32..70_000, any::<u32>()],
            proptest::collection::vec(any::<u8>(), 0..1200),
        )
            .prop_map(|(k, id, a, b, c, bytes)| packet(k, id, a, b, c, &bytes)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_packets_never_panic(packets in proptest::collection::vec((any::<bool>(), any_packet()), 1..40)) {
        let mut pair = Pair::new();
        for (to, p) in packets {
            pair.now += Duration::from_micros(300);
            let now = pair.now;
            let (t, files) = &mut pair.ends[usize::from(to)];
            let _ = t.handle(now, &p, files);
            t.handle_timeout(now);
            // Whatever came in, no timer stays due once run.
            prop_assert!(t.poll_timeout().is_none_or(|d| d > now));
            while t.poll_event().is_some() {}
        }
        pair.exchange(5);
        pair.now += Duration::from_secs(40);
        pair.exchange(2);
        for (t, _) in &pair.ends {
            for key in t.keys() {
                if let Some(h) = t.held(key.id).filter(|_| !key.outgoing) {
                    prop_assert!(h.ranges.iter().all(|&(_, e)| e <= SIZE as u64));
                }
            }
        }
    }
}

#[test]
fn the_pair_moves_data_without_interference() {
    let mut pair = Pair::new();
    pair.exchange(2000);
    let mut verified = 0;
    for (t, _) in &mut pair.ends {
        while let Some(e) = t.poll_event() {
            if matches!(e, XferEvent::Verified { .. }) {
                verified += 1;
            }
        }
    }
    // Events before were drained in `new`; what is left includes the verifications.
    assert_eq!(verified, 2);
}
