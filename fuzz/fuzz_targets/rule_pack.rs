#![no_main]
//! Rule-pack parsing of arbitrary TOML: load_sources returns a pack or
//! errors, never panics; a pack that loads also builds an engine.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut files: Vec<(String, String)> = sagiscan::builtin::BUILTIN_FILES
        .iter()
        .filter(|(name, _)| *name == "pack.toml")
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    files.push(("fuzz.toml".to_string(), text.to_string()));
    if let Ok(pack) = sagiscan::patterns::load_sources(files) {
        let _ = sagiscan::Engine::build(pack);
    }
    let _ = sagiscan::patterns::load_sources(vec![("only.toml".to_string(), text.to_string())]);
});
