//! Where start-up time goes: `cargo run --release --example startup`.
//! Times each step of getting from nothing to a first verdict, for the
//! built-in pack (prepared at build time) and for the same pack prepared at
//! run time (what `--patterns DIR` pays).

use std::time::Instant;

use sagiscan::{Engine, builtin, prepared};

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

const SMS: &str =
    "【Apple】お客様のApple IDがロックされました。24時間以内に解除 apple-id-unlock.top";

fn main() {
    let t = Instant::now();
    let engine = Engine::builtin().expect("built-in engine");
    println!(
        "Engine::builtin (embedded tables + automata): {:8.2} ms",
        ms(t)
    );
    let t = Instant::now();
    let a = engine.analyze_text(SMS);
    println!(
        "first analyze (compiles the regexes it wakes): {:8.2} ms (score {:.1})",
        ms(t),
        a.score
    );
    let t = Instant::now();
    let _ = engine.analyze_text(SMS);
    println!("second analyze: {:8.2} ms", ms(t));

    let t = Instant::now();
    let pack = builtin::load_builtin().expect("pack");
    println!("load_builtin (embedded pack only): {:8.2} ms", ms(t));
    let t = Instant::now();
    let pack_from_toml = sagiscan::patterns::load_sources(
        builtin::BUILTIN_FILES
            .iter()
            .map(|(n, s)| (format!("patterns/{n}"), s.to_string()))
            .collect(),
    )
    .expect("toml");
    println!(
        "load from TOML with full checks (--patterns): {:8.2} ms",
        ms(t)
    );
    let t = Instant::now();
    let (_, phrases) = prepared::prepare(&pack_from_toml);
    println!("prepare ({} phrases): {:8.2} ms", phrases.len(), ms(t));
    let t = Instant::now();
    let _ = prepared::phrase_automaton(&phrases).expect("automaton");
    println!("phrase automaton build: {:8.2} ms", ms(t));
    let t = Instant::now();
    let _ = Engine::build(pack).expect("engine");
    println!(
        "Engine::build (prepare + automata at run time): {:8.2} ms",
        ms(t)
    );
}
