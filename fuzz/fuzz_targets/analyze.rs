#![no_main]
//! The built-in engine on arbitrary text: `analyze_text` never panics, and
//! every hit's span is a range of the text on character boundaries. Runs the
//! phrase automaton, the character DFAs of the anchored regexes (any
//! character, including ones no rule names and astral ones) and the byte
//! engines of the rest.

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sagiscan::Engine;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::builtin().expect("the built-in pack loads"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let analysis = engine().analyze_text(text);
    for hit in &analysis.hits {
        // A plain text is one body part: hits point into it.
        assert!(hit.start <= hit.end && hit.end <= text.len(), "{hit:?}");
        assert_eq!(text.get(hit.start..hit.end), Some(hit.text.as_str()), "{hit:?}");
    }
});
