//! Where start-up time goes: `cargo run --release --example startup`.
//! Times each step of building the engine for the built-in pack separately.

use std::time::Instant;

use aho_corasick::{AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{RegexBuilder, RegexSetBuilder};
use sagiscan::patterns::{self, Signal, limits};
use sagiscan::{Engine, normalize};

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let t = Instant::now();
    let pack = patterns::load_builtin().expect("pack");
    println!("load_builtin (toml parse + validate): {:8.2} ms", ms(t));

    let mut lits = Vec::new();
    let mut res = Vec::new();
    let t = Instant::now();
    for r in &pack.rules {
        if r.signal.is_some() {
            continue;
        }
        for l in &r.literals {
            let n = normalize::normalize_literal(l);
            if !n.is_empty() {
                lits.push(n);
            }
        }
        for s in &r.regexes {
            res.push(normalize::normalize_regex_source(s));
        }
    }
    let _ = Signal::Url;
    println!(
        "normalize {} literals + {} regex sources: {:8.2} ms",
        lits.len(),
        res.len(),
        ms(t)
    );
    for kind in [
        Some(AhoCorasickKind::DFA),
        Some(AhoCorasickKind::ContiguousNFA),
        Some(AhoCorasickKind::NoncontiguousNFA),
        None,
    ] {
        let t = Instant::now();
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(kind)
            .build(&lits)
            .expect("ac");
        println!(
            "aho-corasick {:?} -> {:?}: {:8.2} ms ({} KB heap)",
            kind,
            ac.kind(),
            ms(t),
            ac.memory_usage() / 1024
        );
    }
    let t = Instant::now();
    for s in &res {
        RegexBuilder::new(s)
            .size_limit(limits::REGEX_SIZE_LIMIT)
            .build()
            .expect("re");
    }
    println!("{} separate Regex compiles: {:8.2} ms", res.len(), ms(t));
    let t = Instant::now();
    let set = RegexSetBuilder::new(&res)
        .size_limit(limits::REGEX_SIZE_LIMIT * 8)
        .build()
        .expect("set");
    println!("RegexSet build: {:8.2} ms", ms(t));
    let t = Instant::now();
    let _ = set.matches("テスト");
    println!("RegexSet first match (lazy DFA warm-up): {:8.2} ms", ms(t));

    let t = Instant::now();
    let e = Engine::build(patterns::load_builtin().expect("pack")).expect("engine");
    println!("load_builtin + Engine::build: {:8.2} ms", ms(t));
    let t = Instant::now();
    let a = e.analyze_text(
        "【Apple】お客様のApple IDがロックされました。24時間以内に解除 apple-id-unlock.top",
    );
    println!("first analyze: {:8.2} ms (score {:.1})", ms(t), a.score);
    let t = Instant::now();
    let _ = e.analyze_text(
        "【Apple】お客様のApple IDがロックされました。24時間以内に解除 apple-id-unlock.top",
    );
    println!("second analyze: {:8.2} ms", ms(t));
}
