//! The JSON record written by hand, for batch scans.
//!
//! `sagiscan scan` writes one record per message, and serde_json spent more
//! on it than decoding the mail's headers: `#[serde(flatten)]` on the origin
//! turns the record into a generic map serialization, and strings are
//! escaped one byte at a time (the record is mostly Japanese text). This
//! writer produces exactly serde_json's compact output for [`Record`] (a
//! test compares the two, so a field added to a record type without being
//! added here fails it) and scans strings eight bytes at a time.

use serde::Serialize;

use super::Record;

/// Append `record` as one line of compact JSON (no newline), byte for byte
/// what `serde_json::to_writer(out, record)` writes.
pub fn write_record_json(out: &mut Vec<u8>, record: &Record) {
    let o = &record.origin;
    out.extend_from_slice(b"{\"source\":");
    push_str(out, &o.source);
    out.extend_from_slice(b",\"index\":");
    push_opt_u64(out, o.index);
    out.extend_from_slice(b",\"offset\":");
    push_opt_u64(out, o.offset);
    out.extend_from_slice(b",\"message_id\":");
    push_opt_str(out, o.message_id.as_deref());
    out.extend_from_slice(b",\"from\":");
    push_opt_str(out, o.from.as_deref());
    out.extend_from_slice(b",\"subject\":");
    push_opt_str(out, o.subject.as_deref());
    out.extend_from_slice(b",\"verdict\":\"");
    out.extend_from_slice(record.verdict.as_str().as_bytes());
    out.extend_from_slice(b"\",\"score\":");
    push_f64(out, record.score);
    out.extend_from_slice(b",\"categories\":");
    push_seq(out, &record.categories, |out, c| push_str(out, c));
    out.extend_from_slice(b",\"hits\":");
    push_seq(out, &record.hits, |out, h| {
        out.extend_from_slice(b"{\"rule\":");
        push_str(out, &h.rule);
        out.extend_from_slice(b",\"category\":");
        push_str(out, &h.category);
        out.extend_from_slice(b",\"weight\":");
        push_f64(out, h.weight);
        out.extend_from_slice(b",\"part\":\"");
        out.extend_from_slice(h.part.as_str().as_bytes());
        out.extend_from_slice(b"\",\"text\":");
        push_str(out, &h.text);
        out.extend_from_slice(b",\"start\":");
        push_u64(out, h.start as u64);
        out.extend_from_slice(b",\"end\":");
        push_u64(out, h.end as u64);
        out.push(b'}');
    });
    out.extend_from_slice(b",\"combos\":");
    push_seq(out, &record.combos, |out, c| {
        out.extend_from_slice(b"{\"id\":");
        push_str(out, &c.id);
        out.extend_from_slice(b",\"bonus\":");
        push_f64(out, c.bonus);
        out.push(b'}');
    });
    out.extend_from_slice(b",\"contributions\":");
    push_seq(out, &record.contributions, |out, c| {
        out.extend_from_slice(b"{\"id\":");
        push_str(out, &c.id);
        out.extend_from_slice(b",\"category\":");
        push_str(out, &c.category);
        out.extend_from_slice(b",\"points\":");
        push_f64(out, c.points);
        out.push(b'}');
    });
    let e = &record.entities;
    out.extend_from_slice(b",\"entities\":{\"urls\":");
    push_seq(out, &e.urls, |out, u| push_str(out, u));
    out.extend_from_slice(b",\"phones\":");
    push_seq(out, &e.phones, |out, p| push_str(out, p));
    out.extend_from_slice(b",\"amounts\":");
    push_seq(out, &e.amounts, |out, a| {
        out.extend_from_slice(b"{\"yen\":");
        push_u64(out, a.yen);
        out.extend_from_slice(b",\"text\":");
        push_str(out, &a.text);
        out.push(b'}');
    });
    out.extend_from_slice(b"},\"explanation\":");
    push_str(out, &record.explanation);
    out.extend_from_slice(b",\"error\":");
    push_opt_str(out, record.error.as_deref());
    if record.truncated {
        out.extend_from_slice(b",\"truncated\":true");
    }
    out.push(b'}');
}

/// A JSON array of `items`, each written by `item`.
fn push_seq<T>(out: &mut Vec<u8>, items: &[T], mut item: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, x);
    }
    out.push(b']');
}

/// Decimal digits of `n` (what `{n}` prints, without the formatter).
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn push_opt_u64(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => push_u64(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// serde_json's float printing (shortest round-trip; `null` for NaN and
/// infinities), so numbers cannot drift from the derived output.
///
/// Weights, points and scores are whole tenths; those are written from
/// their integer value (`-` if negative, the tenths, `.`, the last digit —
/// serde_json's `2.0`, `-1.5`, `-0.0`): when `x` is the double nearest to
/// `n / 10` with `|n| < 10^15`, that decimal has at most 15 significant
/// digits, so it is the one shortest decimal that reads back as `x`. Every
/// other value goes through serde_json (a test compares the two).
fn push_f64(out: &mut Vec<u8>, x: f64) {
    let tenths = (x * 10.0).round();
    if tenths.abs() < 1e15 && tenths / 10.0 == x {
        let n = tenths.abs() as u64;
        if x.is_sign_negative() {
            out.push(b'-');
        }
        push_u64(out, n / 10);
        out.push(b'.');
        out.push(b'0' + (n % 10) as u8);
        return;
    }
    let _ = x.serialize(&mut serde_json::Serializer::new(out));
}

fn push_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Broadcast a byte to all eight lanes of a word.
const fn lanes(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// Whether any byte of `w` is a control character, `"` or `\`: the bytes
/// JSON strings must escape. Exact (no false positives as a whole word).
fn word_needs_escape(w: u64) -> bool {
    const HIGH: u64 = lanes(0x80);
    let below_space = w.wrapping_sub(lanes(0x20)) & !w;
    let q = w ^ lanes(b'"');
    let quote = q.wrapping_sub(lanes(1)) & !q;
    let s = w ^ lanes(b'\\');
    let backslash = s.wrapping_sub(lanes(1)) & !s;
    (below_space | quote | backslash) & HIGH != 0
}

/// A JSON string literal, escaped as serde_json escapes: `\"`, `\\`, `\b`,
/// `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`, every
/// other byte (DEL and all of UTF-8 included) as is.
fn push_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        if let Some(chunk) = b.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            if !word_needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let end = (i + 8).min(b.len());
        while i < end {
            let c = b[i];
            let short = match c {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                0x0C => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0x00..=0x1F => b'u',
                _ => {
                    i += 1;
                    continue;
                }
            };
            out.extend_from_slice(&b[run..i]);
            out.push(b'\\');
            out.push(short);
            if short == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xF)]);
            }
            i += 1;
            run = i;
        }
    }
    out.extend_from_slice(&b[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Hit;
    use crate::message::PartKind;
    use crate::report::{AmountRecord, EntitiesRecord, Origin};
    use crate::score::{ComboHit, Contribution, Verdict};

    fn tricky() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            "plain",
            "【佐川急便】お荷物のお届けにあがりました",
            "quote \" and \\ backslash, DEL \u{7f}, NUL \u{0}",
            "\u{8}\u{c}\n\r\t\u{1}\u{1f} \u{2028}\u{fffd}😀",
            "12345678\"2345678\\",
            "exactly8",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every position of an escaped byte relative to the 8-byte words.
        for n in 0..20 {
            v.push(format!(
                "{}\"{}",
                "あ".repeat(n / 3) + &"x".repeat(n % 3),
                "y".repeat(n)
            ));
            v.push(format!("{}\u{1}", "z".repeat(n)));
        }
        v.push((0u8..0x80).map(char::from).collect());
        v
    }

    fn record(s: &str, truncated: bool, none: bool) -> Record {
        let opt = |x: &str| (!none).then(|| x.to_string());
        Record {
            origin: Origin {
                source: s.to_string(),
                index: (!none).then_some(u64::MAX),
                offset: (!none).then_some(0),
                message_id: opt(s),
                from: opt(s),
                subject: opt(s),
            },
            verdict: if none {
                Verdict::Clean
            } else {
                Verdict::Suspicious
            },
            score: 0.1 + 0.2,
            categories: vec![s.to_string(), "cash-handover".into()],
            hits: vec![Hit {
                rule_index: 3,
                normalized: 1..2,
                rule: s.into(),
                category: "c".into(),
                weight: -4.0,
                part: PartKind::Attachment,
                text: s.to_string(),
                start: 0,
                end: usize::MAX,
            }],
            combos: vec![ComboHit {
                id: s.to_string(),
                bonus: 1e300,
            }],
            contributions: vec![
                Contribution {
                    id: s.to_string(),
                    category: "combo".into(),
                    points: f64::NAN,
                    rule_index: None,
                },
                Contribution {
                    id: "x".into(),
                    category: s.to_string(),
                    points: -0.0,
                    rule_index: Some(0),
                },
            ],
            entities: EntitiesRecord {
                urls: vec![s.to_string(), "https://a.b/?q=\"".into()],
                phones: vec![s.to_string()],
                amounts: vec![AmountRecord {
                    yen: 30_000,
                    text: s.to_string(),
                }],
            },
            explanation: s.to_string(),
            error: (!none).then(|| s.to_string()),
            truncated,
        }
    }

    /// The hand-written record must be serde_json's output, byte for byte.
    /// A field added to `Record`, `Hit`, `ComboHit`, `Contribution` or the
    /// entity records shows up in the derived output and fails this test.
    #[test]
    fn hand_written_record_json_is_exactly_serde_json() {
        for s in tricky() {
            for (truncated, none) in [(false, false), (true, false), (false, true)] {
                let r = record(&s, truncated, none);
                let mut ours = Vec::new();
                write_record_json(&mut ours, &r);
                let theirs = serde_json::to_vec(&r).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs),
                    "{s:?}"
                );
            }
            // Empty lists too.
            let mut r = record(&s, false, false);
            r.categories.clear();
            r.hits.clear();
            r.combos.clear();
            r.contributions.clear();
            r.entities = EntitiesRecord::default();
            let mut ours = Vec::new();
            write_record_json(&mut ours, &r);
            assert_eq!(ours, serde_json::to_vec(&r).unwrap());
        }
    }

    /// The whole-tenths fast path of `push_f64` prints what serde_json
    /// prints, signs of zero, values just off a tenth, huge and tiny values
    /// and non-finite ones included.
    #[test]
    fn floats_print_like_serde_json() {
        let mut values = vec![
            0.0,
            -0.0,
            0.05,
            0.15,
            0.1 + 0.2,
            1e-20,
            -1e-20,
            1e15,
            -1e15,
            99_999_999_999_999.9,
            123456789.1,
            1e16,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for n in -20_000..=20_000 {
            values.push(f64::from(n) / 10.0);
            values.push(f64::from(n) * 0.1);
            values.push(f64::from(n) / 100.0);
            values.push(f64::from(n) * 1e10 + 0.5);
        }
        for x in values {
            let mut ours = Vec::new();
            push_f64(&mut ours, x);
            let theirs = serde_json::to_vec(&x).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{x:e}"
            );
        }
    }

    #[test]
    fn integers_print_like_display() {
        let mut n = 1u64;
        for x in [0, 1, 9, 10, 99, 100, 12345, u64::MAX - 1, u64::MAX]
            .into_iter()
            .chain(std::iter::from_fn(|| {
                n = n.checked_mul(7)?;
                Some(n)
            }))
        {
            let mut out = Vec::new();
            push_u64(&mut out, x);
            assert_eq!(out, x.to_string().as_bytes());
        }
    }

    #[test]
    fn word_test_finds_exactly_the_bytes_to_escape() {
        for b in 0..=255u8 {
            let needs = b < 0x20 || b == b'"' || b == b'\\';
            for pos in 0..8 {
                let mut w = *b"abcdefgh";
                w[pos] = b;
                assert_eq!(
                    word_needs_escape(u64::from_le_bytes(w)),
                    needs,
                    "{b:#x} at {pos}"
                );
            }
        }
    }
}
