//! Replays the upload-body fuzz harness (`fuzz/harness/upload_body.rs`) without nightly:
//! its seeds must end as expected, proving the harness tells a clean read from each kind
//! of refusal and that the reader's rules hold on them.
//!
//! `IMAGEVAULT_FUZZ_SEEDS=<dir>` also writes the seeds there, as the fuzzer's starting
//! corpus.

#[path = "../../fuzz/harness/upload_body.rs"]
mod harness;

use std::path::Path;

#[test]
fn seeds_end_as_expected() {
    let out = std::env::var_os("IMAGEVAULT_FUZZ_SEEDS");
    for (name, data, expected) in harness::seeds() {
        assert_eq!(harness::check(&data), expected, "seed {name}");
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(Path::new(dir).join(name), &data).unwrap();
        }
    }
}
