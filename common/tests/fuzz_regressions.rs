//! Every input the fuzzer ever crashed on (`fuzz/regressions/`), replayed with the fuzz
//! target's own checks, so a fixed bug stays fixed without nightly or libFuzzer.

use imagevault_common::image::validate;

#[test]
fn past_fuzz_crashes_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions exists") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let Some((&pick, bytes)) = data.split_first() else {
            continue;
        };
        let name = ["a.jpg", "a.png", "a.gif", "a.jpeg", "noext"][usize::from(pick % 5)];
        if let Ok(checked) = validate(bytes, name) {
            let again = validate(checked.bytes(), name)
                .unwrap_or_else(|e| panic!("{}: stored bytes refused: {e}", path.display()));
            assert_eq!(
                again.bytes(),
                checked.bytes(),
                "{}: not idempotent",
                path.display()
            );
            checked.thumbnail().expect("accepted images must thumbnail");
        }
        replayed += 1;
    }
    assert!(
        replayed > 0,
        "no regression inputs found in {}",
        dir.display()
    );
}
