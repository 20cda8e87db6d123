#![no_main]
//! normalize + offset mapping: every normalized char boundary range maps to
//! an in-bounds range on char boundaries of the original, and normalizing
//! twice changes nothing.

use libfuzzer_sys::fuzz_target;
use sagiscan::normalize::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let n = normalize(input);
    let text = n.text();
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    for (k, &s) in bounds.iter().enumerate() {
        for &e in bounds[k..].iter().take(4) {
            let r = n.original_range(s..e);
            assert!(
                r.start <= r.end && r.end <= input.len(),
                "{r:?} for {s}..{e}"
            );
            assert!(input.is_char_boundary(r.start) && input.is_char_boundary(r.end));
            let _ = n.is_obfuscated(s..e);
        }
    }
    // Out-of-range and reversed ranges are clamped, never a panic.
    let _ = n.original_range(text.len() + 5..text.len() + 9);
    #[allow(clippy::reversed_empty_ranges)]
    let _ = n.original_range(3..1);
    let again = normalize(text);
    assert_eq!(again.text(), text, "normalization is not idempotent");
});
