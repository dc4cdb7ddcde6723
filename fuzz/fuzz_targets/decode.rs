//! Any datagram, through the decoder and a whole protocol node: nothing may panic, and the
//! node's memory must stay bounded whatever arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| qqchat_proto::sim::exercise(data));
