//! Throughput of the normalization hot path (MB/s of input).
//!
//! Run with `cargo bench --bench normalize`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sagiscan::normalize::normalize;
use std::hint::black_box;

/// About 1 MB of realistic mixed Japanese scam/ham text: hiragana, kanji,
/// katakana, half-width kana, full-width Latin, URLs, phone numbers.
fn mixed_japanese() -> String {
    let samples = [
        "【ドコモ】お客様のご利用料金が未払いです。下記URLよりお支払い手続きをお願いします。https://docomo-pay.example.com/login\n",
        "ｱﾏｿﾞﾝﾌﾟﾗｲﾑ会員の更新に失敗しました。ＡＭＡＺＯＮアカウントを確認してください。\n",
        "三井住友カードをご利用いただきありがとうございます。不正利用の可能性があるため、0120-12-3456までご連絡ください。\n",
        "お荷物をお届けに上がりましたが不在の為持ち帰りました。配送物は下記よりご確認ください。\n",
        "明日の会議は午後3時からです。資料は共有フォルダに置いてあります。よろしくお願いします。\n",
    ];
    let mut s = String::new();
    while s.len() < 1 << 20 {
        for t in samples {
            s.push_str(t);
        }
    }
    s
}

fn ascii() -> String {
    let sample = "Your account has been suspended. Please verify your identity at https://example.com/verify?id=12345 within 24 hours.\n";
    sample.repeat((1 << 20) / sample.len() + 1)
}

fn bench(c: &mut Criterion) {
    let mixed = mixed_japanese();
    let normalized = normalize(&mixed).text().to_string();
    let ascii = ascii();
    let mut g = c.benchmark_group("normalize");
    g.sample_size(20);
    for (name, text) in [
        ("mixed_japanese_1mb", &mixed),
        ("already_normalized_1mb", &normalized),
        ("ascii_1mb", &ascii),
    ] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| normalize(black_box(text))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
