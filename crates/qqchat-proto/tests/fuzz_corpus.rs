//! Replays the fuzzer's corpus (`fuzz/corpus/decode` at the top of the repository) on every
//! test run: inputs that once reached new code in the decoder and the node must still be
//! handled without a panic.

use std::fs;
use std::path::Path;

#[test]
fn the_fuzz_corpus_is_handled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/decode");
    let mut count = 0;
    for entry in fs::read_dir(&dir).expect("the corpus is in the repository") {
        let path = entry.expect("corpus entry").path();
        let data = fs::read(&path).expect("read a corpus file");
        qqchat_proto::sim::exercise(&data);
        count += 1;
    }
    assert!(count >= 100, "only {count} corpus files");
}
