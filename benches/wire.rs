//! The datagram format: encoding and decoding the packets every message and receipt costs.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qqchat::proto::wire::{
    self, Ack, AckItem, Data, Datagram, MAX_ACK_ITEMS, MAX_BODY, MAX_DATAGRAM, Packet,
};

/// A typical epoch: milliseconds since the Unix epoch, as the engine derives it.
const EPOCH: u64 = 1_700_000_000_000;

/// A data packet well into a conversation, carrying `payload` whole.
fn data(seq: u64, payload: &[u8]) -> Packet<'_> {
    Packet::Data(Data {
        epoch: EPOCH,
        seq,
        floor: seq.saturating_sub(20),
        id: EPOCH + seq,
        sent_at_ms: 1_700_000_123_456 + seq as i64,
        frag: 0,
        frags: 1,
        payload,
    })
}

/// An ack of as many fragments as one packet holds.
fn full_ack() -> Packet<'static> {
    Packet::Ack(Ack {
        epoch: EPOCH,
        items: (0..MAX_ACK_ITEMS as u64)
            .map(|i| AckItem {
                seq: 1_000 + i,
                frag: 0,
            })
            .collect(),
    })
}

/// One datagram holding as many 100-byte data packets as fit, as a burst is sent.
fn packed(payload: &[u8]) -> (Vec<u8>, usize) {
    let mut bytes = wire::encode(&data(0, payload));
    let mut count = 1;
    loop {
        let next = wire::encode(&data(count as u64, payload));
        if bytes.len() + next.len() - 4 > MAX_BODY + 4 {
            return (bytes, count);
        }
        bytes.extend_from_slice(&next[4..]);
        count += 1;
    }
}

fn codec(c: &mut Criterion) {
    let payload = [b'x'; 100];
    let mut group = c.benchmark_group("wire");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));

    let packet = data(1_234, &payload);
    group.bench_function("encode data 100 B", |b| {
        b.iter(|| wire::encode(black_box(&packet)));
    });
    let bytes = wire::encode(&packet);
    group.bench_function("decode data 100 B", |b| {
        b.iter(|| {
            let decoded = wire::decode(black_box(&bytes)).expect("well formed");
            assert!(matches!(decoded, Datagram::Packets(ref p) if p.len() == 1));
            decoded
        });
    });

    let ack = full_ack();
    let ack_bytes = wire::encode(&ack);
    assert!(ack_bytes.len() <= MAX_DATAGRAM);
    group.bench_function(format!("encode ack of {MAX_ACK_ITEMS}"), |b| {
        b.iter(|| wire::encode(black_box(&ack)));
    });
    group.bench_function(format!("decode ack of {MAX_ACK_ITEMS}"), |b| {
        b.iter(|| {
            let decoded = wire::decode(black_box(&ack_bytes)).expect("well formed");
            assert!(matches!(decoded, Datagram::Packets(ref p) if p.len() == 1));
            decoded
        });
    });

    let (datagram, count) = packed(&payload);
    assert!(datagram.len() <= MAX_DATAGRAM);
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function(format!("decode {count} packed data 100 B"), |b| {
        b.iter(|| {
            let decoded = wire::decode(black_box(&datagram)).expect("well formed");
            assert!(matches!(decoded, Datagram::Packets(ref p) if p.len() == count));
            decoded
        });
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
