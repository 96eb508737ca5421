//! Filenames from users, reduced to harmless display text.
//!
//! A client-supplied name is never used to build a path: storage names are random UUIDs.
//! It is still shown in galleries, in `Content-Disposition` headers and in the desktop's
//! file cards, so it must not be able to spoof another extension (bidi overrides), break
//! out of HTML or a header (`<`, `"`, control characters), or name a Windows device
//! when someone downloads it (`CON`, `COM1`). The result is always non-empty, NFC,
//! at most [`MAX_FILENAME_BYTES`] bytes, and sanitising it again changes nothing.

use unicode_normalization::UnicodeNormalization;

/// Longest display name in bytes, the common filesystem limit.
pub const MAX_FILENAME_BYTES: usize = 255;
/// What an empty or fully stripped name becomes.
pub const FALLBACK_FILENAME: &str = "image";

/// Characters that are replaced by `_`: HTML/attribute-significant ones and those
/// Windows forbids in file names.
const REPLACED: &[char] = &['<', '>', '"', '\'', '&', '`', ':', '*', '?', '|'];

/// Names Windows reserves for devices, with or without an extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Returns the display name for a user-supplied filename.
pub fn sanitize_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    // NFC before filtering (a compatibility form like U+1FEF normalises to a backtick)
    // and after (removing an invisible character can bring a base and its accent together).
    let cleaned: String = base
        .nfc()
        .filter(|c| !is_invisible_or_control(*c))
        .map(|c| if REPLACED.contains(&c) { '_' } else { c })
        .collect::<String>()
        .nfc()
        .collect();
    let trimmed = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let named = defuse_reserved(trimmed);
    let bounded = truncate_keeping_extension(&named, MAX_FILENAME_BYTES);
    let bounded = bounded.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if bounded.is_empty() {
        FALLBACK_FILENAME.to_owned()
    } else {
        bounded.to_owned()
    }
}

/// The lower-cased extension of a (sanitised) name, if it has one.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_lowercase())
}

/// Control characters, bidi controls and zero-width characters: they render as nothing
/// (or reorder what follows) and exist in filenames only to deceive.
fn is_invisible_or_control(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{061C}' // Arabic letter mark
            | '\u{FEFF}' // byte-order mark
        )
}

fn defuse_reserved(name: &str) -> String {
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        format!("_{name}")
    } else {
        name.to_owned()
    }
}

/// Cuts `name` to `max` bytes on a character boundary, keeping a short extension so
/// the result still says what it is.
fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| e.len() <= 16);
    let suffix_len = ext.map_or(0, |e| e.len() + 1);
    let stem_end = floor_char_boundary(name, max - suffix_len);
    let mut out = name[..stem_end].to_owned();
    if let Some(ext) = ext {
        out.push('.');
        out.push_str(ext);
    }
    out
}

fn floor_char_boundary(s: &str, index: usize) -> usize {
    (0..=index.min(s.len()))
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::is_nfc;

    #[test]
    fn strips_path_parts() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\me\\cat.png"), "cat.png");
        assert_eq!(sanitize_filename("dir/"), FALLBACK_FILENAME);
    }

    #[test]
    fn removes_control_and_bidi_characters() {
        assert_eq!(sanitize_filename("a\u{0}b\nc\r.png"), "abc.png");
        // "photo<RLO>gnp.exe" would display as "photoexe.png".
        assert_eq!(sanitize_filename("photo\u{202E}gnp.exe"), "photognp.exe");
        assert_eq!(sanitize_filename("x\u{2066}y\u{2069}.gif"), "xy.gif");
        assert_eq!(sanitize_filename("\u{200B}\u{FEFF}"), FALLBACK_FILENAME);
    }

    #[test]
    fn neutralises_html_and_header_characters() {
        assert_eq!(
            sanitize_filename("<script>alert('x')</script>.png"),
            "script_.png"
        );
        assert_eq!(sanitize_filename("a\"b&c.jpg"), "a_b_c.jpg");
    }

    #[test]
    fn strips_leading_dots_and_trailing_dots() {
        assert_eq!(sanitize_filename(".htaccess"), "htaccess");
        assert_eq!(sanitize_filename("...hidden.png"), "hidden.png");
        assert_eq!(sanitize_filename("name.png. . "), "name.png");
        assert_eq!(sanitize_filename(".."), FALLBACK_FILENAME);
    }

    #[test]
    fn defuses_windows_device_names() {
        assert_eq!(sanitize_filename("CON"), "_CON");
        assert_eq!(sanitize_filename("nul.png"), "_nul.png");
        assert_eq!(sanitize_filename("com1.tar.gz"), "_com1.tar.gz");
        assert_eq!(sanitize_filename("console.png"), "console.png");
    }

    #[test]
    fn normalises_to_nfc() {
        // "e" + combining acute becomes a single "é".
        assert_eq!(sanitize_filename("cafe\u{301}.png"), "caf\u{e9}.png");
    }

    #[test]
    fn bounds_length_without_splitting_characters_and_keeps_extension() {
        let long = format!("{}.jpeg", "é".repeat(300));
        let out = sanitize_filename(&long);
        assert!(out.len() <= MAX_FILENAME_BYTES);
        assert_eq!(extension(&out).as_deref(), Some("jpeg"));
        assert!(out.starts_with("éé"));
    }

    #[test]
    fn never_returns_empty() {
        for raw in ["", " ", "/", "\\", "\u{202E}", "...", "\u{0}"] {
            assert_eq!(sanitize_filename(raw), FALLBACK_FILENAME, "{raw:?}");
        }
    }

    #[test]
    fn extension_is_lowercased_and_needs_a_stem() {
        assert_eq!(extension("Cat.JPG").as_deref(), Some("jpg"));
        assert_eq!(extension("archive.tar.gz").as_deref(), Some("gz"));
        assert_eq!(extension("noext"), None);
        assert_eq!(extension("trailing."), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn output_always_satisfies_invariants(raw in "\\PC*|[./\\\\\u{202A}-\u{202E}<>a-zA-Z \u{0}-\u{1F}]{0,400}") {
            let out = sanitize_filename(&raw);
            prop_assert!(!out.is_empty());
            prop_assert!(out.len() <= MAX_FILENAME_BYTES);
            prop_assert!(!out.contains(['/', '\\', '<', '>', '"', '\'', '&']));
            prop_assert!(!out.chars().any(is_invisible_or_control));
            prop_assert!(!out.starts_with('.'));
            prop_assert!(is_nfc(&out));
            prop_assert_eq!(sanitize_filename(&out), out.clone(), "not idempotent");
        }

        #[test]
        fn arbitrary_unicode_never_panics(raw in any::<String>()) {
            let _ = sanitize_filename(&raw);
        }
    }
}
