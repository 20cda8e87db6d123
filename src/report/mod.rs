//! Reports: the JSON record of DESIGN.md, the explanation text and the human
//! report.
//!
//! The library builds reports as values and strings; only the binary writes
//! them anywhere. The JSON record is the machine contract (`--format json` /
//! `jsonl`); `explanation` spells out, in the chosen language, where every
//! point of the score came from; `render_human` (in `human.rs`) is the report a
//! person reads.

mod human;
mod json;

pub use human::{HumanOptions, render_human};
pub use json::{OriginRef, RecordJsonWriter, write_record_json};

use serde::Serialize;

use crate::engine::Hit;
use crate::patterns::{Lang, RulePack};
use crate::score::{Analysis, COMBO_CATEGORY, ComboHit, Contribution, Verdict};

/// Where a message came from, for batch records.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Origin {
    /// A path, or `-` for stdin.
    pub source: String,
    /// Position of the message within its source (0-based).
    pub index: Option<u64>,
    /// Byte offset of the message in an mbox.
    pub offset: Option<u64>,
    /// Message-ID header.
    pub message_id: Option<String>,
    /// From header (decoded).
    pub from: Option<String>,
    /// Subject header (decoded).
    pub subject: Option<String>,
}

/// An amount as it appears in the JSON record.
#[derive(Debug, Clone, Serialize)]
pub struct AmountRecord {
    /// Value in yen.
    pub yen: u64,
    /// As written.
    pub text: String,
}

/// The `entities` object of the JSON record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EntitiesRecord {
    /// Links as written.
    pub urls: Vec<String>,
    /// Phone numbers as written.
    pub phones: Vec<String>,
    /// Amounts.
    pub amounts: Vec<AmountRecord>,
}

/// One message's result: the JSON schema of DESIGN.md.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Where the message came from (`source`, `index`, `offset`,
    /// `message_id`, `from`, `subject`; null where not mail).
    #[serde(flatten)]
    pub origin: Origin,
    /// `scam`, `suspicious` or `clean`.
    pub verdict: Verdict,
    /// The score.
    pub score: f64,
    /// Categories that fired (shared with the hits).
    #[serde(serialize_with = "crate::score::serialize_shared_strs")]
    pub categories: Vec<std::sync::Arc<str>>,
    /// Every hit.
    pub hits: Vec<Hit>,
    /// Combos that fired.
    pub combos: Vec<ComboHit>,
    /// Points per rule and combo.
    pub contributions: Vec<Contribution>,
    /// Links, phones, amounts.
    pub entities: EntitiesRecord,
    /// Where the score came from, in words.
    pub explanation: String,
    /// Set when the message could not be (fully) decoded.
    pub error: Option<String>,
    /// Set when the message was larger than the size limit and only its start was scored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// [`Analysis::warnings_disarmed`]: the message's warning wording
    /// counted 0 points because its own link is a look-alike. Written only
    /// when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warnings_disarmed: bool,
}

impl Record {
    /// Build the record of an analysed message (a copy of its parts; see
    /// [`Record::from_analysis`] to move them instead).
    pub fn new(origin: Origin, analysis: &Analysis, pack: &RulePack, lang: Lang) -> Record {
        Record::from_analysis(origin, analysis.clone(), pack, lang)
    }

    /// Build the record of an analysed message, taking the analysis's vectors
    /// instead of copying them (for batch scans, which drop the analysis
    /// right after). Same record as [`Record::new`].
    pub fn from_analysis(
        origin: Origin,
        analysis: Analysis,
        pack: &RulePack,
        lang: Lang,
    ) -> Record {
        let explanation = explanation(&analysis, pack, lang);
        Record {
            explanation,
            ..Record::unexplained(origin, analysis)
        }
    }

    /// [`Record::from_analysis`] with an empty `explanation`, for a writer
    /// that writes the explanation itself
    /// ([`RecordJsonWriter::write_explained`]).
    pub fn unexplained(origin: Origin, analysis: Analysis) -> Record {
        let Analysis {
            verdict,
            score,
            categories,
            hits,
            combos,
            contributions,
            entities,
            warnings_disarmed,
            ..
        } = analysis;
        Record {
            origin,
            verdict,
            score,
            categories,
            hits,
            combos,
            contributions,
            entities: EntitiesRecord {
                urls: entities.urls.into_iter().map(|u| u.text).collect(),
                phones: entities.phones.into_iter().map(|p| p.text).collect(),
                amounts: entities
                    .amounts
                    .into_iter()
                    .map(|a| AmountRecord {
                        yen: a.yen,
                        text: a.text,
                    })
                    .collect(),
            },
            explanation: String::new(),
            error: None,
            truncated: false,
            warnings_disarmed,
        }
    }
}

/// The verdict in words.
pub fn verdict_label(verdict: Verdict, lang: Lang) -> &'static str {
    match (verdict, lang) {
        (Verdict::Scam, Lang::Ja) => "詐欺の可能性が高い",
        (Verdict::Suspicious, Lang::Ja) => "注意が必要",
        (Verdict::Clean, Lang::Ja) => "詐欺の特徴は見つかりませんでした",
        (Verdict::Scam, Lang::En) => "Likely a scam",
        (Verdict::Suspicious, Lang::En) => "Be careful",
        (Verdict::Clean, Lang::En) => "No signs of a scam found",
    }
}

/// One sentence per contribution: where each point of the score came from.
pub fn explanation(analysis: &Analysis, pack: &RulePack, lang: Lang) -> String {
    // Written into one string (this runs once per message of a batch scan);
    // the text is what `format!("{head}; {}", parts.join("; "))` gave.
    let mut out = String::with_capacity(96 + 128 * analysis.contributions.len());
    write_explanation(
        &mut out,
        &Explained {
            score: analysis.score,
            suspicious_threshold: analysis.suspicious_threshold,
            scam_threshold: analysis.scam_threshold,
            verdict: analysis.verdict,
            contributions: &analysis.contributions,
            warnings_disarmed: analysis.warnings_disarmed,
        },
        pack,
        lang,
    );
    out
}

/// What an explanation is made of.
struct Explained<'a> {
    score: f64,
    suspicious_threshold: f64,
    scam_threshold: f64,
    verdict: Verdict,
    contributions: &'a [Contribution],
    warnings_disarmed: bool,
}

/// Where an explanation is written: a `String`, or (in `json.rs`) the
/// inside of a JSON string, escaped.
trait ExplanationOut {
    /// Append text.
    fn text(&mut self, s: &str);
    /// Append one of the explanation's fixed pieces ([`EXPLANATION_HEADS`],
    /// [`verdict_label`], `"; "`), none of which holds a byte that JSON
    /// escapes (a test checks them all).
    fn fixed(&mut self, s: &'static str) {
        self.text(s);
    }
    /// Append a number as [`tenths_text`] prints it: ASCII digits, signs,
    /// `.`, `NaN` or `inf`, nothing that JSON escapes.
    fn number(&mut self, ascii: &[u8]);
    /// Append what follows the score in the head (the thresholds and the
    /// verdict's label) from prepared text, if there is prepared text for
    /// these thresholds and this verdict; `false` (nothing written) if not.
    fn prepared_head_end(
        &mut self,
        suspicious_threshold: f64,
        scam_threshold: f64,
        verdict: Verdict,
    ) -> bool {
        let _ = (suspicious_threshold, scam_threshold, verdict);
        false
    }
    /// Whether the pack rule at `index` has the id `id`.
    fn is_rule(&self, pack: &RulePack, index: usize, id: &std::sync::Arc<str>) -> bool {
        pack.rules.get(index).is_some_and(|r| *r.id == **id)
    }
    /// Append ` ID (WHAT)`, the end of a contribution's sentence; `rule` is
    /// the index of the pack rule whose id and description these are.
    fn rule_sentence_end(&mut self, rule: Option<usize>, id: &str, what: &str) {
        let _ = rule;
        self.text(" ");
        self.text(id);
        self.text(" (");
        self.text(what);
        self.text(")");
    }
}

impl ExplanationOut for String {
    fn text(&mut self, s: &str) {
        self.push_str(s);
    }

    fn number(&mut self, ascii: &[u8]) {
        self.extend(ascii.iter().map(|&b| char::from(b)));
    }
}

/// The fixed text of an explanation's head, by language: before the
/// score, before the suspicious threshold, before the scam threshold,
/// before the verdict.
/// The end of an explanation whose warnings were disarmed
/// ([`Analysis::warnings_disarmed`]), by language.
const DISARMED_NOTES: [(Lang, &str); 2] = [
    (
        Lang::Ja,
        "このメッセージ自身が偽サイト・偽装リンクへ案内しているため、注意喚起や公式を名乗る文言は減点していません",
    ),
    (
        Lang::En,
        "its warning and official-sounding wording counted 0: the message itself sends you to a look-alike site or through a disguised link",
    ),
];

const EXPLANATION_HEADS: [(Lang, [&str; 4]); 2] = [
    (Lang::Ja, ["スコア ", "(注意 ", " / 詐欺 ", " 以上): "]),
    (
        Lang::En,
        ["score ", " (suspicious at ", ", scam at ", "): "],
    ),
];

/// The explanation text, piece by piece.
fn write_explanation(
    out: &mut impl ExplanationOut,
    e: &Explained<'_>,
    pack: &RulePack,
    lang: Lang,
) {
    let [before_score, before_suspicious, before_scam, after_scam] = match lang {
        Lang::Ja => EXPLANATION_HEADS[0].1,
        Lang::En => EXPLANATION_HEADS[1].1,
    };
    out.fixed(before_score);
    tenths_text(e.score, false, |t| out.number(t));
    if !out.prepared_head_end(e.suspicious_threshold, e.scam_threshold, e.verdict) {
        out.fixed(before_suspicious);
        tenths_text(e.suspicious_threshold, false, |t| out.number(t));
        out.fixed(before_scam);
        tenths_text(e.scam_threshold, false, |t| out.number(t));
        out.fixed(after_scam);
        out.fixed(verdict_label(e.verdict, lang));
    }
    for c in e.contributions {
        out.fixed("; ");
        tenths_text(c.points, true, |t| out.number(t));
        if &*c.category == COMBO_CATEGORY {
            let what = pack
                .combos
                .iter()
                .find(|x| *x.id == *c.id)
                .map(|x| x.description.get(lang));
            out.rule_sentence_end(None, &c.id, what.unwrap_or_default());
        } else {
            // The rule at the contribution's index, checked by id (a
            // contribution built by hand may carry no or a stale index).
            let rule = c
                .rule_index
                .filter(|&i| out.is_rule(pack, i, &c.id))
                .or_else(|| pack.rules.iter().position(|r| *r.id == *c.id));
            let what = rule
                .and_then(|i| pack.rules.get(i))
                .map(|r| r.description.get(lang));
            out.rule_sentence_end(rule, &c.id, what.unwrap_or_default());
        }
    }
    if e.warnings_disarmed {
        out.fixed("; ");
        out.fixed(match lang {
            Lang::Ja => DISARMED_NOTES[0].1,
            Lang::En => DISARMED_NOTES[1].1,
        });
    }
}

/// Append `x` as `format!("{x:.1}")` would (`{x:+.1}` with `plus`).
#[cfg(test)]
fn push_tenths(out: &mut String, x: f64, plus: bool) {
    tenths_text(x, plus, |t| out.number(t));
}

/// Hand `x` as `format!("{x:.1}")` would print it (`{x:+.1}` with `plus`)
/// to `out`, as (ASCII) bytes.
///
/// Scores and points are whole tenths; those are written from their integer
/// value, which is exact: when `x * 10.0` is an integer `n` below 2^50, `x`
/// is within `n * 2^-53` of `n / 10`, far from any rounding boundary of the
/// exact decimal printing `{:.1}` does. Everything else (other fractions,
/// huge values, NaN, infinities) goes through the formatter.
fn tenths_text(x: f64, plus: bool, out: impl FnOnce(&[u8])) {
    use std::fmt::Write as _;
    let tenths = x * 10.0;
    // Whole: the cast truncates toward zero, exactly below 1e15 (this was
    // a `trunc` call, a libm function on baseline x86-64).
    if tenths.abs() < 1e15 && (tenths as i64) as f64 == tenths {
        let n = tenths.abs() as u64;
        // Sign, `n / 10`, `.`, `n % 10` without the formatter (~10× fewer
        // instructions; this runs a few times per message of a batch scan).
        let mut text = [0u8; 24];
        let mut at = text.len() - 2;
        text[at] = b'.';
        text[at + 1] = b'0' + (n % 10) as u8;
        let mut whole = n / 10;
        loop {
            at -= 1;
            text[at] = b'0' + (whole % 10) as u8;
            whole /= 10;
            if whole == 0 {
                break;
            }
        }
        if x.is_sign_negative() {
            at -= 1;
            text[at] = b'-';
        } else if plus {
            at -= 1;
            text[at] = b'+';
        }
        out(&text[at..]);
    } else {
        // Points are often not whole tenths (a second rule of a category
        // adds a fraction of its weight), and the formatter's exact decimal
        // rounding costs ~600 instructions. A message's points come from a
        // few weights, so the formatter's text is remembered per value.
        FORMATTED_TENTHS.with_borrow_mut(|cache| {
            let bits = x.to_bits();
            let slot = &mut cache[tenths_slot(bits, plus)];
            if slot.0 != bits || slot.1 != plus || slot.2.is_empty() {
                slot.2.clear();
                if plus {
                    let _ = write!(slot.2, "{x:+.1}");
                } else {
                    let _ = write!(slot.2, "{x:.1}");
                }
                slot.0 = bits;
                slot.1 = plus;
            }
            out(slot.2.as_bytes());
        });
    }
}

/// Slots of the per-thread cache of formatted values in [`push_tenths`].
const TENTHS_SLOTS: usize = 64;

thread_local! {
    /// What `{x:.1}` (`{x:+.1}` with the flag) printed for the value with
    /// these bits, direct-mapped by [`tenths_slot`]; an empty text is an
    /// unused slot (the formatter never prints nothing).
    static FORMATTED_TENTHS: std::cell::RefCell<Vec<(u64, bool, String)>> =
        std::cell::RefCell::new(vec![(0, false, String::new()); TENTHS_SLOTS]);
}

/// The cache slot of a value's bits and sign flag.
fn tenths_slot(bits: u64, plus: bool) -> usize {
    let h = (bits ^ (bits >> 32) ^ (bits >> 47)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((h >> 58) as usize ^ usize::from(plus)) % TENTHS_SLOTS
}

/// Make a link unclickable: `hxxps://example[.]top/...`.
///
/// Only the scheme and the dots of the host are changed, so the path stays
/// readable; control characters are shown as `�` so a link cannot carry
/// terminal escape sequences into a report.
pub fn defang(url: &str) -> String {
    let clean: String = url
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    let (scheme, rest) = match clean.find("://") {
        Some(i) => (&clean[..i], &clean[i + 3..]),
        None => ("", clean.as_str()),
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    let host = host.replace('.', "[.]");
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        let scheme = if scheme.to_ascii_lowercase().starts_with("http") {
            format!("hxxp{}", &scheme[4..])
        } else {
            scheme.to_string()
        };
        format!("{scheme}://{host}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::{defang, push_tenths};

    /// `explanation` writes scores through a fast path for whole tenths; it
    /// must print exactly what `{:.1}` / `{:+.1}` print, signs of zero and
    /// values just off a tenth included.
    #[test]
    fn tenths_are_written_exactly_like_the_formatter() {
        let mut values = vec![
            0.0,
            -0.0,
            0.05,
            0.15,
            0.25,
            -0.05,
            2.25,
            1e-20,
            -1e-20,
            0.1 + 0.2,
            1e15,
            -1e15,
            123456789.1,
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
        }
        // Each value twice, with both flags, in two orders: the second
        // time comes from the per-thread cache of formatted values unless
        // another value took its slot.
        let reversed: Vec<f64> = values.iter().rev().copied().collect();
        for x in values.iter().chain(&values).chain(&reversed).copied() {
            for plus in [false, true, false, true] {
                let mut got = String::new();
                push_tenths(&mut got, x, plus);
                let want = if plus {
                    format!("{x:+.1}")
                } else {
                    format!("{x:.1}")
                };
                assert_eq!(got, want, "{x:e} plus={plus}");
            }
        }
    }

    /// `ExplanationOut::fixed` pieces are copied into JSON strings as they
    /// are: none may hold a byte that JSON escapes.
    #[test]
    fn fixed_explanation_pieces_need_no_json_escaping() {
        use crate::score::Verdict;
        let mut pieces: Vec<&str> = vec!["; "];
        for (lang, heads) in super::EXPLANATION_HEADS {
            pieces.extend(heads);
            for v in [Verdict::Clean, Verdict::Suspicious, Verdict::Scam] {
                pieces.push(super::verdict_label(v, lang));
            }
        }
        pieces.extend(super::DISARMED_NOTES.map(|(_, note)| note));
        assert!(pieces.len() >= 17);
        for p in pieces {
            assert!(
                !p.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'),
                "{p:?}"
            );
        }
    }

    #[test]
    fn defang_changes_scheme_and_host_only() {
        assert_eq!(
            defang("https://example.top/a.html?x=1.2"),
            "hxxps://example[.]top/a.html?x=1.2"
        );
        assert_eq!(defang("http://bit.ly/x"), "hxxp://bit[.]ly/x");
        assert_eq!(defang("www.example.com"), "www[.]example[.]com");
        assert_eq!(
            defang("https://a.b/\u{1b}[31m"),
            "hxxps://a[.]b/\u{FFFD}[31m"
        );
    }
}
