//! Fuzzes the whole upload gate: validate (sniff, structural strip, bounded decode),
//! then re-validate the stored bytes and make a thumbnail. Any panic, hang, or
//! over-limit allocation (`-rss_limit_mb`) is a bug.
#![no_main]

use imagevault_common::image::validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the claimed name, so mismatches are exercised too.
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = ["a.jpg", "a.png", "a.gif", "a.jpeg", "noext"][usize::from(pick % 5)];
    if let Ok(checked) = validate(bytes, name) {
        let again = validate(checked.bytes(), name).expect("stored bytes must re-validate");
        assert_eq!(again.bytes(), checked.bytes(), "sanitising must be idempotent");
        let thumb = checked.thumbnail().expect("accepted images must thumbnail");
        assert!(thumb.width <= 320 && thumb.height <= 320);
    }
});
