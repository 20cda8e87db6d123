//! Compiles the built-in rule pack (`patterns/*.toml`) into the binary.
//!
//! The pack is loaded with the same loader and full checks as a pack given
//! with `--patterns`, so a broken built-in rule fails the build with its
//! file:line:column. Then everything the engine derives from the pack
//! without seeing any text (normalized phrases, regex triggers, the phrase
//! automaton, which also finds brand names) is computed here, once, instead
//! of at every start of the program: see `src/prepared.rs` and `src/builtin.rs`.

use std::fs;
use std::path::Path;

#[path = "src/normalize.rs"]
#[allow(dead_code)]
mod normalize;
#[path = "src/patterns.rs"]
#[allow(dead_code)]
mod patterns;
#[path = "src/prepared.rs"]
#[allow(dead_code)]
mod prepared;

/// Must match `crate::builtin::Embedded`.
#[derive(serde::Serialize)]
struct Embedded<'a> {
    pack: &'a patterns::RulePack,
    prepared: &'a prepared::Prepared,
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("patterns");
    println!("cargo:rerun-if-changed={}", dir.display());
    for source in ["normalize.rs", "patterns.rs", "prepared.rs"] {
        println!("cargo:rerun-if-changed=src/{source}");
    }
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .expect("patterns/ directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut list = String::from("[\n");
    let mut files = Vec::new();
    for path in &paths {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        list.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            name,
            path.display().to_string()
        ));
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        files.push((format!("patterns/{name}"), text));
    }
    list.push(']');
    let out_dir = std::env::var("OUT_DIR").unwrap();
    let out = Path::new(&out_dir);
    fs::write(out.join("builtin_patterns.rs"), list).unwrap();

    let pack = match patterns::load_sources(files) {
        Ok(pack) => pack,
        Err(e) => {
            // Shown by cargo as the build failure, with every file:line:column.
            eprintln!("the built-in rule pack does not load:\n{e}");
            std::process::exit(1);
        }
    };
    let (prepared, phrases) = prepared::prepare(&pack);
    let phrases =
        prepared::phrase_automaton(&phrases).unwrap_or_else(|e| panic!("phrase automaton: {e}"));
    // Examples and counterexamples go in a file of their own: a check needs
    // none of them, only `lint` does (see `builtin::load_builtin`).
    let mut checking_pack = pack.clone();
    let examples: Vec<(Vec<String>, Vec<String>)> = checking_pack
        .rules
        .iter_mut()
        .map(|rule| {
            (
                std::mem::take(&mut rule.examples),
                std::mem::take(&mut rule.counterexamples),
            )
        })
        .collect();
    let embedded = postcard::to_stdvec(&Embedded {
        pack: &checking_pack,
        prepared: &prepared,
    })
    .unwrap();
    fs::write(out.join("builtin_prepared.postcard"), embedded).unwrap();
    fs::write(
        out.join("builtin_examples.postcard"),
        postcard::to_stdvec(&examples).unwrap(),
    )
    .unwrap();
    fs::write(
        out.join("builtin_automata.bin"),
        prepared::serialize_automaton(phrases.as_ref()),
    )
    .unwrap();
}
