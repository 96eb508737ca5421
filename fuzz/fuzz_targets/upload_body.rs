//! Fuzzes the server's upload-body reader (multipart framing, field limits, CSRF field
//! order, file count) through the harness the replay test also uses. Any panic, hang,
//! 5xx or over-limit allocation (`-rss_limit_mb`) is a bug.
#![no_main]

#[path = "../harness/upload_body.rs"]
#[allow(dead_code)] // its seeds are written out by the replay test, not used here
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = harness::check(data);
});
