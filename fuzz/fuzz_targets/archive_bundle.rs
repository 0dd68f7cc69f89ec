//! Archive bundles (issue 19) arrive from a disk or an object store that someone else may
//! have written: `accesslog archive verify` and `restore` read them. The input is a
//! bundle's JSON Lines text (the corpus starts from a real one), checked both as written
//! into a zstd file and as raw bytes in place of one.
//!
//! Properties: nothing panics; an input that is not a checkable bundle is an error, never
//! a success: without the right signature nothing verifies, so no edit of the seed may
//! pass unless it left every hashed byte as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("bundle.jsonl.zst");
    let compressed = zstd::encode_all(data, 1).expect("zstd compresses anything");
    for bytes in [&compressed[..], data] {
        std::fs::write(&path, bytes).expect("write the bundle");
        if let Ok(checked) = accesslog_archive::check(&path, None, None) {
            // A bundle that checks under the key it names has lines that hash to their
            // leaves and lead to its signed root: read them back the same.
            let mut seen = 0u64;
            accesslog_archive::read(&path, |_| {
                seen += 1;
                Ok(())
            })
            .expect("a checked bundle reads back");
            assert_eq!(seen, checked.entries);
        }
        let _ = accesslog_archive::read(&path, |_| Ok(()));
    }
});
