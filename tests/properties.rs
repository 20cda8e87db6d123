//! Property tests: normalization, offset mapping, hit texts and scoring
//! hold for arbitrary Japanese-ish text, not just the examples.

use std::sync::OnceLock;

use proptest::prelude::*;
use sagiscan::normalize::normalize;
use sagiscan::{Engine, Message};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::build(sagiscan::builtin::load_builtin().unwrap()).unwrap())
}

/// Pieces that exercise the normalizer and the rules: scam phrases,
/// half/full width, hiragana and katakana, dakuten, long vowels and dashes,
/// zero-width and variation selectors, separators, kanji numerals, Latin.
const PIECES: &[&str] = &[
    "プリペイドカード",
    "ﾌﾟﾘﾍﾟｲﾄﾞｶｰﾄﾞ",
    "ぷりぺいど",
    "コンビニ",
    "で",
    "を購入し",
    "番号を伝えて",
    "還付金",
    "日本インターネット協会",
    "本日中",
    "ド コ モ",
    "完+全_無/料",
    "シ゛",
    "ハ゜",
    "ｶﾞ",
    "ー",
    "ｰ",
    "－",
    "‐",
    "一",
    "\u{200b}",
    "\u{fe0f}",
    "\u{e0100}",
    "\u{3099}",
    "ＡＢＣ",
    "Amazon",
    "ＡＭＡＺＯＮ",
    "八千七百五十万円",
    "8,750万円",
    "0120-12-3456",
    "https://example.com/x",
    "㍿",
    "①",
    "ｱｲｳ",
    "。",
    "、",
    " ",
    "\n",
    "\r\n",
    "\t",
    "é",
    "😀",
    "👍🏽",
];

fn japaneseish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(PIECES).prop_map(str::to_owned),
            1 => "[\\u{3040}-\\u{30ff}\\u{ff61}-\\u{ff9f}\\u{4e00}-\\u{4e20}a-zA-Z0-9 ]{0,4}",
            1 => any::<char>().prop_map(String::from),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn normalization_is_idempotent(s in japaneseish()) {
        let once = normalize(&s);
        let twice = normalize(once.text());
        prop_assert_eq!(twice.text(), once.text());
    }

    #[test]
    fn offsets_slice_the_original_on_char_boundaries(s in japaneseish()) {
        let n = normalize(&s);
        let text = n.text();
        let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        for (k, &a) in bounds.iter().enumerate() {
            for &b in &bounds[k..] {
                let r = n.original_range(a..b);
                prop_assert!(r.start <= r.end && r.end <= s.len(), "{:?} for {}..{}", r, a, b);
                prop_assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end));
                prop_assert!(s.get(r.clone()).is_some());
            }
        }
        // The whole normalized text maps inside the original.
        let all = n.original_range(0..text.len());
        prop_assert!(all.end <= s.len());
    }

    #[test]
    fn every_hit_text_is_the_original_slice(s in japaneseish()) {
        let msg = Message::plain(s.clone());
        let analysis = engine().analyze(&msg);
        for h in &analysis.hits {
            let part = msg.part(h.part).unwrap_or_default();
            prop_assert!(h.start <= h.end && h.end <= part.len());
            prop_assert_eq!(&part[h.start..h.end], h.text.as_str(), "rule {}", &h.rule);
        }
    }

    #[test]
    fn scoring_is_independent_of_hit_order(s in japaneseish(), seed in any::<u64>()) {
        let msg = Message::plain(s);
        let (hits, entities) = engine().scan(&msg);
        let pack = engine().pack();
        let a = sagiscan::score::score(pack, hits.clone(), entities.clone());
        let mut shuffled = hits;
        // Fisher–Yates with a small xorshift: deterministic per case.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        shuffled.reverse();
        let b = sagiscan::score::score(pack, shuffled, entities);
        prop_assert_eq!(a, b);
    }
}

/// Found by the `normalize` fuzz target: an uppercase letter whose lowercase
/// form is itself a look-alike (Armenian Ս → ս → u) was folded one step per
/// pass, so normalization was not idempotent. Fixed in `post_map`.
#[test]
fn regression_fuzz_normalize_lookalike_folding_not_idempotent() {
    let raw = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/hostile/fuzz_normalize_not_idempotent.txt"),
    )
    .unwrap();
    let s = String::from_utf8(raw).unwrap();
    let once = normalize(&s);
    assert_eq!(normalize(once.text()).text(), once.text());
}
