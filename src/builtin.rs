//! The built-in rule pack, loaded and prepared when sagiscan is compiled.
//!
//! `build.rs` loads `patterns/*.toml` with full checks (a broken built-in
//! rule fails the build with file:line:column), runs
//! [`crate::prepared::prepare`] on it and embeds four things: the TOML
//! sources ([`BUILTIN_FILES`], for tools that need the text), the pack and
//! its prepared tables (postcard), the rules' examples apart from the pack
//! (only `lint` reads them), and the serialized phrase automaton
//! (which also finds brand names). A one-message check then starts by deserializing instead of
//! parsing TOML, normalizing ~800 phrases and regexes, parsing every regex
//! and building the automaton, which was most of its start-up.
//!
//! Should the embedded data ever fail to load (it cannot, short of a build
//! bug), the pack is loaded from the embedded TOML sources instead.

use crate::patterns::{self, PackError, RegexCheck, RulePack};
use crate::prepared::{PhraseAutomaton, Prepared};

/// The files of the built-in pack (`patterns/*.toml`), embedded at compile time.
pub const BUILTIN_FILES: &[(&str, &str)] =
    &include!(concat!(env!("OUT_DIR"), "/builtin_patterns.rs"));

/// The pack and its prepared tables, as written by `build.rs` (postcard: a
/// compact binary serde format, ~5× cheaper to read than the same JSON).
const PREPARED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin_prepared.postcard"));

/// The examples and counterexamples of each rule, in rule order: kept out of
/// [`PREPARED`] because a check needs none of them (reading them was 4% of a
/// one-message check); [`load_builtin`] puts them back for `lint`.
const EXAMPLES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin_examples.postcard"));

/// The phrase automaton ([`crate::prepared::serialize_automaton`]).
const AUTOMATA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin_automata.bin"));

/// What `build.rs` serializes and [`load_prepared`] reads back.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Embedded {
    pub(crate) pack: RulePack,
    pub(crate) prepared: Prepared,
}

/// The built-in pack with everything the engine derives from it.
pub(crate) struct BuiltinParts {
    pub(crate) pack: RulePack,
    pub(crate) prepared: Prepared,
    pub(crate) phrases: Option<PhraseAutomaton>,
}

/// Load the built-in pack compiled into the binary, with every rule's
/// examples and counterexamples.
pub fn load_builtin() -> Result<RulePack, PackError> {
    match load_prepared_with_examples() {
        Some(parts) => Ok(parts.pack),
        None => load_from_sources(),
    }
}

/// Like [`load_prepared`], with each rule's examples and counterexamples
/// (which `lint` runs) put back into the pack.
pub(crate) fn load_prepared_with_examples() -> Option<BuiltinParts> {
    let mut parts = load_prepared()?;
    let examples: Vec<(Vec<String>, Vec<String>)> = postcard::from_bytes(EXAMPLES).ok()?;
    if examples.len() != parts.pack.rules.len() {
        return None;
    }
    for (rule, (examples, counterexamples)) in parts.pack.rules.iter_mut().zip(examples) {
        rule.examples = examples;
        rule.counterexamples = counterexamples;
    }
    Some(parts)
}

/// The built-in pack parsed from its embedded TOML sources (the slow path).
fn load_from_sources() -> Result<RulePack, PackError> {
    patterns::load_sources_checked(
        BUILTIN_FILES
            .iter()
            .map(|(name, text)| (format!("patterns/{name}"), (*text).to_string()))
            .collect(),
        RegexCheck::Trusted,
    )
}

/// The built-in pack, its prepared tables and automaton, all from the data
/// embedded at build time; `None` if that data does not load. The pack's
/// rules have no examples or counterexamples
/// ([`load_prepared_with_examples`] has them).
pub(crate) fn load_prepared() -> Option<BuiltinParts> {
    let Embedded { pack, prepared } = postcard::from_bytes(PREPARED).ok()?;
    let phrases = embedded_automaton()?;
    Some(BuiltinParts {
        pack,
        prepared,
        phrases,
    })
}

/// The embedded phrase automaton, read without daachorse's validation
/// pass over its ~120,000 states: that pass was an eighth of a one-message
/// check (4.5 M of 34 M instructions). Debug builds still validate.
fn embedded_automaton() -> Option<Option<PhraseAutomaton>> {
    if cfg!(debug_assertions) {
        return crate::prepared::deserialize_automaton(AUTOMATA);
    }
    // SAFETY: `AUTOMATA` is compiled into this binary from the output of
    // `serialize_automaton` in build.rs, by the same daachorse version
    // (Cargo.lock); `embedded_automaton_is_valid` checks it with full
    // validation.
    unsafe { crate::prepared::deserialize_automaton_unchecked(AUTOMATA) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded tables must be exactly what preparing the TOML sources
    /// gives now (they are, unless build.rs and the loader disagree).
    #[test]
    fn embedded_data_matches_the_sources() {
        let parts = load_prepared_with_examples().expect("embedded built-in data loads");
        let from_sources = load_from_sources().expect("built-in TOML loads");
        assert!(
            parts.pack == from_sources,
            "embedded pack differs from patterns/*.toml"
        );
        let (prepared, phrases) = crate::prepared::prepare(&from_sources);
        assert!(parts.prepared == prepared);
        let rebuilt = crate::prepared::phrase_automaton(&phrases).unwrap();
        assert!(
            crate::prepared::serialize_automaton(rebuilt.as_ref()) == AUTOMATA,
            "embedded automaton differs from a freshly built one"
        );
        let bytes = crate::prepared::serialize_automaton(parts.phrases.as_ref());
        assert!(bytes == AUTOMATA, "automaton does not round-trip");
    }

    /// What [`embedded_automaton`] reads unchecked passes daachorse's full
    /// validation and is the same automaton.
    #[test]
    fn embedded_automaton_is_valid() {
        let checked = crate::prepared::deserialize_automaton(AUTOMATA)
            .expect("the embedded automaton passes validation");
        let unchecked = embedded_automaton().expect("the embedded automaton loads");
        assert!(
            crate::prepared::serialize_automaton(checked.as_ref())
                == crate::prepared::serialize_automaton(unchecked.as_ref())
        );
    }

    /// The engine from build-time data and the engine prepared at run time
    /// from the TOML sources must give the same hits and scores.
    #[test]
    fn builtin_engine_agrees_with_runtime_build() {
        let embedded = crate::Engine::builtin().unwrap();
        let runtime = crate::Engine::build(load_from_sources().unwrap()).unwrap();
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut checked = 0;
        for label in ["scam", "suspicious", "ham"] {
            for entry in std::fs::read_dir(corpus.join(label)).unwrap() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                let a = embedded.analyze_text(&text);
                let b = runtime.analyze_text(&text);
                assert_eq!(format!("{:?}", a.hits), format!("{:?}", b.hits));
                assert_eq!(a.score, b.score);
                checked += 1;
            }
        }
        assert!(checked > 500, "corpus not found: {checked} files");
    }
}
