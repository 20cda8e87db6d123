//! Engine benchmarks: build cost (start-up), matching, MIME decoding, scoring.
//!
//! Run with `cargo bench --bench engine`. See docs/PERFORMANCE.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sagiscan::builtin::load_builtin;
use sagiscan::input::Limits;
use sagiscan::mail;
use sagiscan::{Engine, Message, score};

const SCAM_SMS: &str = "【佐川急便】お荷物をお届けに上がりましたが不在の為持ち帰りました。\
    配送物は下記よりご確認ください。http://sagawa-ex.top/xk2 ０５０－１２３４－５６７８";

/// A long legitimate email: the largest ham corpus file, repeated to ~32 KB.
fn long_ham() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/ham");
    let mut best = String::new();
    for e in std::fs::read_dir(dir).expect("corpus").flatten() {
        if e.path().extension().is_some_and(|x| x == "txt") {
            let s = std::fs::read_to_string(e.path()).unwrap_or_default();
            if s.len() > best.len() {
                best = s;
            }
        }
    }
    let mut out = String::new();
    while out.len() < 32 * 1024 {
        out.push_str(&best);
        out.push('\n');
    }
    out
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    v.sort();
    v.into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("fixture"))
        })
        .collect()
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("startup");
    g.sample_size(10);
    // What `sagiscan` does at start: the engine from build-time data.
    g.bench_function("engine_builtin", |b| {
        b.iter(|| black_box(Engine::builtin().expect("engine")))
    });
    // Cold first message: a fresh engine plus the lazy regex compiles an
    // SMS wakes (what a one-message check pays after start-up).
    g.bench_function("engine_builtin_first_sms", |b| {
        b.iter(|| {
            let engine = Engine::builtin().expect("engine");
            black_box(engine.analyze_text(SCAM_SMS).score)
        })
    });
    g.bench_function("load_builtin", |b| {
        b.iter(|| black_box(load_builtin().expect("pack")))
    });
    // What a pack from `--patterns` pays: preparation and automata at run time.
    g.bench_function("load_builtin_and_build", |b| {
        b.iter(|| black_box(Engine::build(load_builtin().expect("pack")).expect("engine")))
    });
    g.finish();
}

fn matching(c: &mut Criterion) {
    let engine = Engine::builtin().expect("engine");
    let ham = long_ham();
    let mut g = c.benchmark_group("analyze");
    for (name, text) in [("scam_sms", SCAM_SMS.to_string()), ("long_ham_email", ham)] {
        let msg = Message::plain(text.clone());
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| black_box(engine.analyze(&msg))));
    }
    g.finish();
}

fn mime(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse_message");
    for (name, bytes) in fixtures() {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(&name, |b| {
            b.iter(|| black_box(mail::parse_message(&bytes, &limits)))
        });
    }
    g.finish();
}

fn scoring(c: &mut Criterion) {
    let engine = Engine::builtin().expect("engine");
    let msg = Message::plain(SCAM_SMS);
    let (hits, entities) = engine.scan(&msg);
    let mut g = c.benchmark_group("score");
    g.bench_function("scam_sms_hits", |b| {
        b.iter(|| black_box(score::score(engine.pack(), hits.clone(), entities.clone())))
    });
    g.bench_function("scan_only_scam_sms", |b| {
        b.iter(|| black_box(engine.scan(&msg)))
    });
    g.finish();
}

criterion_group!(benches, build, matching, mime, scoring);
criterion_main!(benches);
