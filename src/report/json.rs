//! The JSON record written by hand, for batch scans.
//!
//! `sagiscan scan` writes one record per message, and serde_json spent more
//! on it than decoding the mail's headers: `#[serde(flatten)]` on the origin
//! turns the record into a generic map serialization, and strings are
//! escaped one byte at a time (the record is mostly Japanese text). This
//! writer produces exactly serde_json's compact output for [`Record`] (a
//! test compares the two, so a field added to a record type without being
//! added here fails it) and scans strings eight bytes at a time.

use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::message::PartKind;

use super::{EntitiesRecord, Explained, ExplanationOut, Origin, Record, write_explanation};
use crate::engine::Hit;
use crate::entities::Entities;
use crate::patterns::{Lang, RulePack};
use crate::score::{Analysis, ComboHit, Contribution, Verdict};

/// A record's origin fields, borrowed: what [`Origin`] holds, for a
/// caller that keeps them elsewhere (a batch scan shares one source name
/// among all the messages of an mbox instead of copying it into each).
#[derive(Debug, Clone, Copy, Default)]
pub struct OriginRef<'a> {
    /// A path, or `-` for stdin.
    pub source: &'a str,
    /// Position of the message within its source (0-based).
    pub index: Option<u64>,
    /// Byte offset of the message in an mbox.
    pub offset: Option<u64>,
    /// Message-ID header.
    pub message_id: Option<&'a str>,
    /// From header (decoded).
    pub from: Option<&'a str>,
    /// Subject header (decoded).
    pub subject: Option<&'a str>,
}

impl<'a> From<&'a Origin> for OriginRef<'a> {
    fn from(o: &'a Origin) -> Self {
        OriginRef {
            source: &o.source,
            index: o.index,
            offset: o.offset,
            message_id: o.message_id.as_deref(),
            from: o.from.as_deref(),
            subject: o.subject.as_deref(),
        }
    }
}

/// Everything a record's JSON is written from, borrowed from a [`Record`]
/// or straight from an [`Analysis`] (no record built, no entity texts
/// moved into new vectors).
struct RecordView<'a> {
    origin: OriginRef<'a>,
    verdict: Verdict,
    score: f64,
    categories: &'a [Arc<str>],
    hits: &'a [Hit],
    combos: &'a [ComboHit],
    contributions: &'a [Contribution],
    entities: EntitiesView<'a>,
    error: Option<&'a str>,
    truncated: bool,
    warnings_disarmed: bool,
}

/// A record's entities as the record holds them, or as the engine found them.
enum EntitiesView<'a> {
    Record(&'a EntitiesRecord),
    Found(&'a Entities),
}

impl<'a> RecordView<'a> {
    fn of_record(r: &'a Record) -> Self {
        RecordView {
            origin: OriginRef::from(&r.origin),
            verdict: r.verdict,
            score: r.score,
            categories: &r.categories,
            hits: &r.hits,
            combos: &r.combos,
            contributions: &r.contributions,
            entities: EntitiesView::Record(&r.entities),
            error: r.error.as_deref(),
            truncated: r.truncated,
            warnings_disarmed: r.warnings_disarmed,
        }
    }
}

/// Append `record` as one line of compact JSON (no newline), byte for byte
/// what `serde_json::to_writer(out, record)` writes.
pub fn write_record_json(out: &mut Vec<u8>, record: &Record) {
    RecordJsonWriter::default().write(out, record);
}

/// Writes records like [`write_record_json`], with the parts of hits,
/// contributions and explanations that only depend on the rule (its id,
/// category, weight and description) escaped and formatted once per pack
/// instead of once per hit: a batch scan writes ~10 hits per message, and
/// those strings were a third of the writer's work.
///
/// A hit or contribution uses its rule's prepared bytes only when it still
/// carries that rule's id, category (and weight): one built by hand, or
/// from another pack, is written field by field, so the output is always
/// `serde_json`'s.
#[derive(Debug, Default)]
pub struct RecordJsonWriter<'p> {
    /// The pack and language the rules were prepared for.
    pack: Option<(&'p RulePack, Lang)>,
    /// The prepared bytes of each rule of the pack, by rule index.
    rules: Vec<RuleJson>,
    /// The explanation's head after the score, for the pack's thresholds.
    head_end: Option<HeadEnd>,
}

/// What follows the score in an explanation's head, prepared for one pair
/// of thresholds: ` (suspicious at S, scam at T): LABEL` (in the writer's
/// language), one per verdict (no byte of it needs escaping: a test checks
/// the fixed pieces, and numbers are ASCII digits).
#[derive(Debug)]
struct HeadEnd {
    suspicious_threshold: u64,
    scam_threshold: u64,
    /// By `Verdict as usize`.
    text: [Vec<u8>; 3],
}

/// One rule's constant JSON.
#[derive(Debug)]
struct RuleJson {
    id: String,
    category: String,
    /// The first shared id found equal to `id` in a hit or contribution
    /// (the engine's, in a scan): held, so that the same allocation seen
    /// again is known equal without comparing the text.
    shared_id: OnceLock<Arc<str>>,
    /// Same for `category`.
    shared_category: OnceLock<Arc<str>>,
    weight: f64,
    /// `{"rule":ID,"category":CATEGORY,"weight":WEIGHT,"part":"`
    hit_head: Vec<u8>,
    /// `{"id":ID,"category":CATEGORY,"points":`
    contribution_head: Vec<u8>,
    /// ` ID (DESCRIPTION)` escaped (no quotes): the end of the rule's
    /// sentence in an explanation.
    sentence_end: Vec<u8>,
}

impl RuleJson {
    /// Whether `id` and `category` are this rule's.
    #[inline]
    fn is_for(&self, id: &Arc<str>, category: &Arc<str>) -> bool {
        same_text(&self.id, &self.shared_id, id)
            && same_text(&self.category, &self.shared_category, category)
    }
}

/// Whether `s` holds `text`. `known` remembers the first `Arc` found
/// equal (it keeps that allocation alive, so no other text can take its
/// address): the same `Arc` again, as every hit of a rule from the engine
/// is, needs no text comparison (two `memcmp` calls per hit before).
#[inline]
fn same_text(text: &str, known: &OnceLock<Arc<str>>, s: &Arc<str>) -> bool {
    if known.get().is_some_and(|k| Arc::ptr_eq(k, s)) {
        return true;
    }
    if **s != *text {
        return false;
    }
    let _ = known.set(Arc::clone(s));
    true
}

impl<'p> RecordJsonWriter<'p> {
    /// A writer with every rule of `pack` prepared, explanations in `lang`.
    pub fn new(pack: &'p RulePack, lang: Lang) -> Self {
        let rules = pack
            .rules
            .iter()
            .map(|r| {
                let category = pack
                    .categories
                    .get(r.category)
                    .map_or_else(String::new, |c| c.id.clone());
                let mut hit_head = Vec::new();
                write_hit_head(&mut hit_head, &r.id, &category, r.weight);
                let mut contribution_head = Vec::new();
                write_contribution_head(&mut contribution_head, &r.id, &category);
                let mut sentence_end = Vec::new();
                JsonText {
                    out: &mut sentence_end,
                    rules: &[],
                    head_end: None,
                }
                .rule_sentence_end(None, &r.id, r.description.get(lang));
                RuleJson {
                    id: r.id.clone(),
                    category,
                    shared_id: OnceLock::new(),
                    shared_category: OnceLock::new(),
                    weight: r.weight,
                    hit_head,
                    contribution_head,
                    sentence_end,
                }
            })
            .collect();
        let head_end = |verdict: Verdict| {
            let mut text = Vec::new();
            let mut out = JsonText {
                out: &mut text,
                rules: &[],
                head_end: None,
            };
            // The head of an explanation with this verdict, after its score.
            let explained = Explained {
                score: 0.0,
                suspicious_threshold: pack.thresholds.suspicious,
                scam_threshold: pack.thresholds.scam,
                verdict,
                contributions: &[],
                warnings_disarmed: false,
            };
            write_explanation(&mut out, &explained, pack, lang);
            let mut score = Vec::new();
            JsonText {
                out: &mut score,
                rules: &[],
                head_end: None,
            }
            .fixed(super::EXPLANATION_HEADS[lang_index(lang)].1[0]);
            super::tenths_text(0.0, false, |t| score.extend_from_slice(t));
            text.split_off(score.len().min(text.len()))
        };
        RecordJsonWriter {
            pack: Some((pack, lang)),
            rules,
            head_end: Some(HeadEnd {
                suspicious_threshold: pack.thresholds.suspicious.to_bits(),
                scam_threshold: pack.thresholds.scam.to_bits(),
                text: [
                    head_end(Verdict::Clean),
                    head_end(Verdict::Suspicious),
                    head_end(Verdict::Scam),
                ],
            }),
        }
    }

    /// Append `record` as one line of compact JSON (no newline), byte for
    /// byte what `serde_json::to_writer(out, record)` writes.
    pub fn write(&self, out: &mut Vec<u8>, record: &Record) {
        self.write_with(out, &RecordView::of_record(record), |out| {
            push_str(out, &record.explanation)
        });
    }

    /// Append `record` as [`write`](Self::write) would with its
    /// explanation set to what [`Record::from_analysis`] writes (in the
    /// writer's pack and language; `record.explanation` is not read), for a
    /// record made by [`Record::unexplained`] from an analysis with these
    /// thresholds. The explanation is written straight into the JSON, each
    /// rule's sentence from prepared, escaped bytes. A writer without a
    /// pack (`Default`) writes `record.explanation`.
    pub fn write_explained(
        &self,
        out: &mut Vec<u8>,
        record: &Record,
        suspicious_threshold: f64,
        scam_threshold: f64,
    ) {
        if self.pack.is_none() {
            return self.write(out, record);
        }
        self.write_view_explained(
            out,
            &RecordView::of_record(record),
            suspicious_threshold,
            scam_threshold,
        );
    }

    /// Append the record of `analysis` as [`write_explained`](Self::write_explained)
    /// writes `Record { error, truncated, ..Record::unexplained(origin, analysis) }`
    /// with the analysis's thresholds, without building that record: a
    /// batch scan writes each message's record straight from its analysis.
    pub fn write_analysis(
        &self,
        out: &mut Vec<u8>,
        origin: &OriginRef<'_>,
        analysis: &Analysis,
        error: Option<&str>,
        truncated: bool,
    ) {
        let view = RecordView {
            origin: *origin,
            verdict: analysis.verdict,
            score: analysis.score,
            categories: &analysis.categories,
            hits: &analysis.hits,
            combos: &analysis.combos,
            contributions: &analysis.contributions,
            entities: EntitiesView::Found(&analysis.entities),
            error,
            truncated,
            warnings_disarmed: analysis.warnings_disarmed,
        };
        if self.pack.is_none() {
            // No pack, no explanation: what `write_explained` writes for
            // an unexplained record.
            return self.write_with(out, &view, |out| out.extend_from_slice(b"\"\""));
        }
        self.write_view_explained(
            out,
            &view,
            analysis.suspicious_threshold,
            analysis.scam_threshold,
        );
    }

    /// `view` with its explanation written from the writer's pack (which
    /// the caller checked is set).
    fn write_view_explained(
        &self,
        out: &mut Vec<u8>,
        view: &RecordView<'_>,
        suspicious_threshold: f64,
        scam_threshold: f64,
    ) {
        let Some((pack, lang)) = self.pack else {
            return;
        };
        self.write_with(out, view, |out| {
            out.push(b'"');
            let explained = Explained {
                score: view.score,
                suspicious_threshold,
                scam_threshold,
                verdict: view.verdict,
                contributions: view.contributions,
                warnings_disarmed: view.warnings_disarmed,
            };
            let mut text = JsonText {
                out,
                rules: &self.rules,
                head_end: self.head_end.as_ref(),
            };
            write_explanation(&mut text, &explained, pack, lang);
            out.push(b'"');
        });
    }

    /// The record, with `explanation` writing the explanation's JSON value.
    fn write_with(
        &self,
        out: &mut Vec<u8>,
        record: &RecordView<'_>,
        explanation: impl FnOnce(&mut Vec<u8>),
    ) {
        let o = &record.origin;
        out.extend_from_slice(b"{\"source\":");
        push_str(out, o.source);
        out.extend_from_slice(b",\"index\":");
        push_opt_u64(out, o.index);
        out.extend_from_slice(b",\"offset\":");
        push_opt_u64(out, o.offset);
        out.extend_from_slice(b",\"message_id\":");
        push_opt_str(out, o.message_id);
        out.extend_from_slice(b",\"from\":");
        push_opt_str(out, o.from);
        out.extend_from_slice(b",\"subject\":");
        push_opt_str(out, o.subject);
        out.extend_from_slice(b",\"verdict\":\"");
        out.extend_from_slice(record.verdict.as_str().as_bytes());
        out.extend_from_slice(b"\",\"score\":");
        push_f64(out, record.score);
        out.extend_from_slice(b",\"categories\":");
        push_seq(out, record.categories, |out, c| push_str(out, c));
        out.extend_from_slice(b",\"hits\":");
        push_seq(out, record.hits, |out, h| {
            match self.rules.get(h.rule_index) {
                // Same bits: `-0.0 == 0.0`, but they print differently.
                Some(r)
                    if r.is_for(&h.rule, &h.category)
                        && r.weight.to_bits() == h.weight.to_bits() =>
                {
                    out.extend_from_slice(&r.hit_head);
                }
                _ => write_hit_head(out, &h.rule, &h.category, h.weight),
            }
            out.extend_from_slice(part_then_text_key(h.part));
            push_str(out, &h.text);
            out.extend_from_slice(b",\"start\":");
            push_u64(out, h.start as u64);
            out.extend_from_slice(b",\"end\":");
            push_u64(out, h.end as u64);
            out.push(b'}');
        });
        out.extend_from_slice(b",\"combos\":");
        push_seq(out, record.combos, |out, c| {
            out.extend_from_slice(b"{\"id\":");
            push_str(out, &c.id);
            out.extend_from_slice(b",\"bonus\":");
            push_f64(out, c.bonus);
            out.push(b'}');
        });
        out.extend_from_slice(b",\"contributions\":");
        push_seq(out, record.contributions, |out, c| {
            match c.rule_index.and_then(|i| self.rules.get(i)) {
                Some(r) if r.is_for(&c.id, &c.category) => {
                    out.extend_from_slice(&r.contribution_head);
                }
                _ => write_contribution_head(out, &c.id, &c.category),
            }
            push_f64(out, c.points);
            out.push(b'}');
        });
        out.extend_from_slice(b",\"entities\":{\"urls\":");
        match record.entities {
            EntitiesView::Record(e) => {
                push_seq(out, &e.urls, |out, u| push_str(out, u));
                out.extend_from_slice(b",\"phones\":");
                push_seq(out, &e.phones, |out, p| push_str(out, p));
                out.extend_from_slice(b",\"amounts\":");
                push_seq(out, &e.amounts, |out, a| push_amount(out, a.yen, &a.text));
            }
            EntitiesView::Found(e) => {
                push_seq(out, &e.urls, |out, u| push_str(out, &u.text));
                out.extend_from_slice(b",\"phones\":");
                push_seq(out, &e.phones, |out, p| push_str(out, &p.text));
                out.extend_from_slice(b",\"amounts\":");
                push_seq(out, &e.amounts, |out, a| push_amount(out, a.yen, &a.text));
            }
        }
        out.extend_from_slice(b"},\"explanation\":");
        explanation(out);
        out.extend_from_slice(b",\"error\":");
        push_opt_str(out, record.error);
        if record.truncated {
            out.extend_from_slice(b",\"truncated\":true");
        }
        if record.warnings_disarmed {
            out.extend_from_slice(b",\"warnings_disarmed\":true");
        }
        out.push(b'}');
    }
}

/// The inside of a JSON string being written (escaped, no quotes), as the
/// target of an explanation, with the rules' prepared sentence ends.
struct JsonText<'a> {
    out: &'a mut Vec<u8>,
    /// Prepared for the same pack as the explanation is written from.
    rules: &'a [RuleJson],
    /// Prepared for the same pack and language.
    head_end: Option<&'a HeadEnd>,
}

/// The index of `lang` in [`super::EXPLANATION_HEADS`].
fn lang_index(lang: Lang) -> usize {
    match lang {
        Lang::Ja => 0,
        Lang::En => 1,
    }
}

impl ExplanationOut for JsonText<'_> {
    fn text(&mut self, s: &str) {
        push_escaped(self.out, s.as_bytes());
    }

    fn fixed(&mut self, s: &'static str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn number(&mut self, ascii: &[u8]) {
        self.out.extend_from_slice(ascii);
    }

    fn prepared_head_end(
        &mut self,
        suspicious_threshold: f64,
        scam_threshold: f64,
        verdict: Verdict,
    ) -> bool {
        match self.head_end {
            Some(h)
                if h.suspicious_threshold == suspicious_threshold.to_bits()
                    && h.scam_threshold == scam_threshold.to_bits() =>
            {
                self.out.extend_from_slice(&h.text[verdict as usize]);
                true
            }
            _ => false,
        }
    }

    fn is_rule(&self, pack: &RulePack, index: usize, id: &Arc<str>) -> bool {
        match self.rules.get(index) {
            // Prepared from the same pack: the same id, known equal
            // without comparing text when it is the same shared one.
            Some(r) => same_text(&r.id, &r.shared_id, id),
            None => pack.rules.get(index).is_some_and(|r| *r.id == **id),
        }
    }

    fn rule_sentence_end(&mut self, rule: Option<usize>, id: &str, what: &str) {
        match rule.and_then(|i| self.rules.get(i)) {
            // `rule` is the index of the pack rule with this id (checked by
            // `write_explanation`), and `self.rules` were prepared from the
            // same pack, so `r` is that rule: its id is not compared again.
            // `what` is its description in the writer's language.
            Some(r) => self.out.extend_from_slice(&r.sentence_end),
            _ => {
                for piece in [" ", id, " (", what, ")"] {
                    self.text(piece);
                }
            }
        }
    }
}

/// An amount of the `entities` object: `{"yen":YEN,"text":TEXT}`.
fn push_amount(out: &mut Vec<u8>, yen: u64, text: &str) {
    out.extend_from_slice(b"{\"yen\":");
    push_u64(out, yen);
    out.extend_from_slice(b",\"text\":");
    push_str(out, text);
    out.push(b'}');
}

/// A hit's `part` value (after its opening quote), its closing quote and
/// the `text` key: `PART","text":` (one piece instead of two).
fn part_then_text_key(part: PartKind) -> &'static [u8] {
    match part {
        PartKind::Body => b"body\",\"text\":",
        PartKind::Subject => b"subject\",\"text\":",
        PartKind::From => b"from\",\"text\":",
        PartKind::Link => b"link\",\"text\":",
        PartKind::Attachment => b"attachment\",\"text\":",
    }
}

/// A hit up to the value of its `part`:
/// `{"rule":ID,"category":CATEGORY,"weight":WEIGHT,"part":"`.
fn write_hit_head(out: &mut Vec<u8>, rule: &str, category: &str, weight: f64) {
    out.extend_from_slice(b"{\"rule\":");
    push_str(out, rule);
    out.extend_from_slice(b",\"category\":");
    push_str(out, category);
    out.extend_from_slice(b",\"weight\":");
    push_f64(out, weight);
    out.extend_from_slice(b",\"part\":\"");
}

/// A contribution up to its points: `{"id":ID,"category":CATEGORY,"points":`.
fn write_contribution_head(out: &mut Vec<u8>, id: &str, category: &str) {
    out.extend_from_slice(b"{\"id\":");
    push_str(out, id);
    out.extend_from_slice(b",\"category\":");
    push_str(out, category);
    out.extend_from_slice(b",\"points\":");
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

/// Two decimal digits of every number below 100.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Decimal digits of `n` (what `{n}` prints, without the formatter), two
/// digits per division.
///
/// Numbers below 10,000 (most offsets, indexes and amounts) are written
/// inline at the call site: this was ~95 K calls per 10 MB scanned, and
/// the call cost a fifth of each.
#[inline(always)]
fn push_u64(out: &mut Vec<u8>, n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    if n < 10_000 {
        // Offsets, indexes and small amounts: written as one fixed-size
        // array (a slice of variable length is a `memcpy` call).
        let pair = |k: u64| {
            let at = k as usize * 2;
            [DIGIT_PAIRS[at], DIGIT_PAIRS[at + 1]]
        };
        let [c, d] = pair(n % 100);
        let high = n / 100;
        match high {
            0 => out.extend_from_slice(&[c, d]),
            1..=9 => out.extend_from_slice(&[b'0' + high as u8, c, d]),
            _ => {
                let [a, b] = pair(high);
                out.extend_from_slice(&[a, b, c, d]);
            }
        }
        return;
    }
    push_large_u64(out, n);
}

/// [`push_u64`] for numbers of 10,000 and more.
#[inline(never)]
fn push_large_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
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
/// Weights, points and scores are whole tenths, and a category's further
/// rules add hundredths or thousandths (a fraction of their weight); those
/// are written from their integer value (`-` if negative, the whole part,
/// `.`, the decimals without trailing zeros — serde_json's `2.0`, `-1.5`,
/// `0.75`, `-0.0`): when `x` is the double nearest to `n / 10^d` with
/// `|n| < 10^15`, that decimal has at most 15 significant digits, so it is
/// the one shortest decimal that reads back as `x`. Every other value goes
/// through serde_json (~500 instructions; tests compare the two).
fn push_f64(out: &mut Vec<u8>, x: f64) {
    if !push_short_decimal(out, x, 10.0, 1)
        && !push_short_decimal(out, x, 100.0, 2)
        && !push_short_decimal(out, x, 1000.0, 3)
    {
        let _ = x.serialize(&mut serde_json::Serializer::new(out));
    }
}

/// [`push_f64`]'s fast path for `x` nearest to `n / scale`, `scale` being
/// `10^decimals`; `false` (and nothing written) for any other value.
#[inline(always)]
fn push_short_decimal(out: &mut Vec<u8>, x: f64, scale: f64, decimals: u32) -> bool {
    // `n` is `x * scale` rounded half away from zero (NaN gives 0,
    // infinities saturate; both fail the check below). Any `n` that passes
    // the check is the right one, so the rounding need not be exact (no
    // `round` call: that is a libm call on baseline x86-64).
    let t = x * scale;
    let n = (if t < 0.0 { t - 0.5 } else { t + 0.5 }) as i64;
    let n_abs = n.unsigned_abs();
    if n_abs >= 1_000_000_000_000_000 || n as f64 / scale != x {
        return false;
    }
    if x.is_sign_negative() {
        out.push(b'-');
    }
    let unit = 10u64.pow(decimals);
    push_u64(out, n_abs / unit);
    out.push(b'.');
    // The decimals, zero-padded to `decimals` digits, then trailing zeros
    // dropped (one digit kept: `2.0`).
    let mut fraction = n_abs % unit;
    let mut digits = decimals;
    while digits > 1 && fraction.is_multiple_of(10) {
        fraction /= 10;
        digits -= 1;
    }
    let mut text = [b'0'; 3];
    for at in (0..digits as usize).rev() {
        text[at] = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    out.extend_from_slice(&text[..digits as usize]);
    true
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

/// A mask of the bytes of `w` that are control characters, `"` or `\`
/// (the bytes JSON strings must escape): the high bit of each such byte's
/// lane. The lowest set bit is exact (bytes after the first flagged one
/// may be flagged wrongly, by a borrow), so the first byte to escape in
/// the little-endian word `w` is at `mask.trailing_zeros() / 8`.
fn escape_mask(w: u64) -> u64 {
    const HIGH: u64 = lanes(0x80);
    let below_space = w.wrapping_sub(lanes(0x20)) & !w;
    let q = w ^ lanes(b'"');
    let quote = q.wrapping_sub(lanes(1)) & !q;
    let s = w ^ lanes(b'\\');
    let backslash = s.wrapping_sub(lanes(1)) & !s;
    (below_space | quote | backslash) & HIGH
}

/// Whether any byte of `w` must be escaped (exact as a whole word).
#[cfg(test)]
fn word_needs_escape(w: u64) -> bool {
    escape_mask(w) != 0
}

/// The eight bytes of `b` at `at` as a little-endian word, if there are
/// eight.
fn word_at(b: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Whether a byte must be escaped in a JSON string.
fn byte_needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// The position of the first byte at or after `from` that must be escaped.
///
/// Eight bytes at a time; the last few bytes of a string of eight or more
/// are checked as the (overlapping) last word, with the lanes before `from`
/// masked off, so only strings shorter than eight go byte by byte.
fn next_escape(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(w) = word_at(b, i) {
        let mask = escape_mask(w);
        if mask != 0 {
            return Some(i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i >= b.len() {
        return None;
    }
    if b.len() >= 8 {
        let last = b.len() - 8;
        let w = word_at(b, last)?;
        // The lanes before `i` were checked already (or are an escaped
        // byte, not to be found again): they are replaced by a plain byte,
        // so that they neither match nor borrow into the lanes after them.
        let before = (1u64 << ((i - last) * 8)) - 1;
        let mask = escape_mask((w & !before) | (lanes(b'A') & before));
        return (mask != 0).then(|| last + (mask.trailing_zeros() / 8) as usize);
    }
    b[i..]
        .iter()
        .position(|&c| byte_needs_escape(c))
        .map(|p| i + p)
}

/// A JSON string literal, escaped as serde_json escapes: `\"`, `\\`, `\b`,
/// `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`, every
/// other byte (DEL and all of UTF-8 included) as is. Runs without an escape
/// are copied whole.
fn push_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    push_escaped(out, b);
    out.push(b'"');
}

/// The inside of [`push_str`]'s literal: `b` escaped.
fn push_escaped(out: &mut Vec<u8>, b: &[u8]) {
    let mut run = 0;
    while let Some(at) = next_escape(b, run) {
        out.extend_from_slice(&b[run..at]);
        let c = b[at];
        let short = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0C => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            _ => b'u',
        };
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 0xF)]);
        }
        run = at + 1;
    }
    out.extend_from_slice(&b[run..]);
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
            categories: vec![s.into(), "cash-handover".into()],
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
                    id: s.into(),
                    category: "combo".into(),
                    points: f64::NAN,
                    rule_index: None,
                },
                Contribution {
                    id: "x".into(),
                    category: s.into(),
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
            // Both ways, with the other optional field.
            warnings_disarmed: truncated,
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
            values.push(f64::from(n) * 0.01);
            values.push(f64::from(n) / 1000.0);
            values.push(f64::from(n) * 0.001);
            values.push(f64::from(n) / 10_000.0);
            values.push(f64::from(n) * 1e10 + 0.5);
            // Points as scoring makes them: a weight times a factor,
            // rounded to hundredths as `score` rounds.
            let w = f64::from(n) / 10.0;
            for f in [0.5, 0.3, 0.25, 0.75, 1.0 / 3.0] {
                values.push(((w * f * 100.0) * 10.0).round() / 10.0 / 100.0);
            }
        }
        // Around the 10^15 limit of each fast path, and values whose
        // hundredths or thousandths need all 15 digits.
        for k in [1e12, 1e13, 1e14, 1e15, 1e16] {
            for d in [-1.0, -0.001, -0.01, -0.1, 0.0, 0.001, 0.01, 0.1, 1.0] {
                values.push(k + d);
                values.push(-(k + d));
                values.push((k + d) / 1000.0);
            }
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
            .chain(0..=100_000)
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

    /// `push_str` against serde_json on every placement of one or two
    /// bytes that matter (escaped ones, their neighbours in value, and
    /// the borrow cases: an escaped byte right before a plain one) in
    /// strings of every length around the 8-byte words, so that the word
    /// loop, the overlapping last word and the short-string loop are all
    /// exercised.
    #[test]
    fn strings_escape_like_serde_json_at_every_position() {
        let specials = [
            0x00u8, 0x01, 0x08, 0x1f, b' ', b'!', b'"', b'#', b'[', b'\\', b']', 0x7f, 0x80, 0xff,
            b'\n', b'A',
        ];
        let mut checked = 0;
        for len in 0..=26 {
            for a in 0..len {
                for b in a..len {
                    for &x in &specials {
                        for &y in &specials {
                            let mut bytes = vec![b'a'; len];
                            bytes[a] = x;
                            bytes[b] = y;
                            // Only valid UTF-8 is a `str`: a lone 0x80 or
                            // 0xff is replaced, as it would be in a record.
                            let s = String::from_utf8_lossy(&bytes).into_owned();
                            let mut ours = Vec::new();
                            push_str(&mut ours, &s);
                            let theirs = serde_json::to_vec(&s).unwrap();
                            assert_eq!(ours, theirs, "{s:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 50_000, "{checked}");
    }

    /// Regression: the last, overlapping word of a string holds bytes
    /// before the search position; an escaped control character there
    /// must not borrow into the plain byte after it (a space after a NUL
    /// was escaped as `\u0020`).
    #[test]
    fn escaped_byte_in_the_overlapping_last_word_does_not_borrow() {
        for s in ["abcdefghi\u{0} j", "abcdefgh\u{1f} ", "0123456789\"\u{0}!"] {
            let mut ours = Vec::new();
            push_str(&mut ours, s);
            assert_eq!(ours, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }

    /// `part_then_text_key` is the part's name, its closing quote and the
    /// `text` key, for every part kind.
    #[test]
    fn part_then_text_key_is_the_part_name_and_the_text_key() {
        for part in [
            PartKind::Body,
            PartKind::Subject,
            PartKind::From,
            PartKind::Link,
            PartKind::Attachment,
        ] {
            assert_eq!(
                part_then_text_key(part),
                format!("{}\",\"text\":", part.as_str()).as_bytes()
            );
        }
    }

    /// A rule's remembered shared id speeds up the same `Arc` only: equal
    /// text in another allocation is still equal, other text (even in an
    /// `Arc` seen after the remembered one) is not.
    #[test]
    fn regression_a_remembered_shared_id_never_makes_other_text_equal() {
        let known = OnceLock::new();
        let other: Arc<str> = Arc::from("rule.b");
        assert!(!same_text("rule.a", &known, &other));
        assert!(known.get().is_none());
        let first: Arc<str> = Arc::from("rule.a");
        assert!(same_text("rule.a", &known, &first));
        assert!(known.get().is_some_and(|k| Arc::ptr_eq(k, &first)));
        assert!(same_text("rule.a", &known, &first));
        let again: Arc<str> = Arc::from("rule.a");
        assert!(same_text("rule.a", &known, &again));
        assert!(known.get().is_some_and(|k| Arc::ptr_eq(k, &first)));
        drop(first);
        // The remembered `Arc` is held: its address cannot be reused.
        let later: Arc<str> = Arc::from("rule.x");
        assert!(!same_text("rule.a", &known, &later));
        assert!(!same_text("rule.a", &known, &Arc::from("rule.a ")));
        assert!(!same_text("rule.a", &known, &Arc::from("")));
    }

    /// `write_analysis` writes, straight from an analysis, exactly the
    /// serde_json record `Record::from_analysis` gives for it (with the
    /// error and truncation set), for real analyses of the corpus, in both
    /// languages, with and without the optional origin fields, with the
    /// pack's thresholds (the prepared head) and others; a writer without a
    /// pack writes the record with an empty explanation.
    #[test]
    fn record_written_from_the_analysis_is_the_records_serde_json() {
        let engine = crate::Engine::builtin().unwrap();
        let pack = engine.pack();
        let mut records = 0;
        for (i, (path, text)) in crate::corpus::sample_texts().into_iter().enumerate() {
            let mut analysis = engine.analyze_text(&text);
            if i % 4 == 1 {
                // Thresholds other than the pack's: the explanation's head
                // is written piece by piece, not from the prepared text.
                analysis.suspicious_threshold = 3.25;
                analysis.scam_threshold = -0.0;
            }
            let source = format!("{}\"\u{1}", path.display());
            let full = i % 2 == 0;
            let origin = Origin {
                source: source.clone(),
                index: full.then_some(i as u64),
                offset: full.then_some(u64::MAX - i as u64),
                message_id: full.then(|| format!("<{i}@x>")),
                from: full.then(|| "差出人 \"x\" <a@b>".to_string()),
                subject: full.then(|| text.chars().take(20).collect()),
            };
            let error = (i % 3 == 0).then(|| format!("error {i}\n"));
            let truncated = i % 5 == 0;
            for lang in [crate::patterns::Lang::Ja, crate::patterns::Lang::En] {
                let writer = RecordJsonWriter::new(pack, lang);
                let mut want = Record::from_analysis(origin.clone(), analysis.clone(), pack, lang);
                want.error.clone_from(&error);
                want.truncated = truncated;
                let mut ours = Vec::new();
                writer.write_analysis(
                    &mut ours,
                    &OriginRef::from(&origin),
                    &analysis,
                    error.as_deref(),
                    truncated,
                );
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&serde_json::to_vec(&want).unwrap())
                );
            }
            let mut want = Record::unexplained(origin.clone(), analysis.clone());
            want.error.clone_from(&error);
            want.truncated = truncated;
            let mut ours = Vec::new();
            RecordJsonWriter::default().write_analysis(
                &mut ours,
                &OriginRef::from(&origin),
                &analysis,
                error.as_deref(),
                truncated,
            );
            assert_eq!(ours, serde_json::to_vec(&want).unwrap());
            records += 1;
        }
        assert!(records > 100, "{records} records");
    }

    /// The writer with the built-in pack's rules prepared writes exactly
    /// serde_json's record for real analyses (hits, contributions, combos,
    /// entities), and for hits and contributions that do not match their
    /// rule index's prepared bytes (built by hand, stale index, other
    /// weight, `-0.0`), which must be written field by field.
    #[test]
    fn writer_with_prepared_rules_is_exactly_serde_json() {
        let engine = crate::Engine::builtin().unwrap();
        let pack = engine.pack();
        let writer = RecordJsonWriter::new(pack, crate::patterns::Lang::Ja);
        let mut records = 0;
        let mut hits = 0;
        for (path, text) in crate::corpus::sample_texts() {
            let analysis = engine.analyze_text(&text);
            let mut record = Record::new(
                Origin {
                    source: path.display().to_string(),
                    ..Origin::default()
                },
                &analysis,
                pack,
                crate::patterns::Lang::Ja,
            );
            hits += record.hits.len();
            let check = |record: &Record| {
                let mut ours = Vec::new();
                writer.write(&mut ours, record);
                let theirs = serde_json::to_vec(record).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs)
                );
            };
            check(&record);
            // The explanation written from the prepared sentences.
            for lang in [crate::patterns::Lang::Ja, crate::patterns::Lang::En] {
                let explaining = RecordJsonWriter::new(pack, lang);
                let want =
                    Record::from_analysis(record.origin.clone(), analysis.clone(), pack, lang);
                let mut ours = Vec::new();
                let unexplained = Record::unexplained(want.origin.clone(), analysis.clone());
                explaining.write_explained(
                    &mut ours,
                    &unexplained,
                    analysis.suspicious_threshold,
                    analysis.scam_threshold,
                );
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&serde_json::to_vec(&want).unwrap())
                );
            }
            // The same hits with what the prepared bytes do not say.
            for (i, h) in record.hits.iter_mut().enumerate() {
                match i % 4 {
                    0 => h.rule = format!("{}\"x", h.rule).into(),
                    1 => h.category = "other".into(),
                    2 => {
                        h.weight = if h.weight == 0.0 {
                            -0.0
                        } else {
                            h.weight + 0.5
                        }
                    }
                    _ => h.rule_index = h.rule_index.wrapping_add(1),
                }
            }
            for (i, c) in record.contributions.iter_mut().enumerate() {
                match i % 3 {
                    0 => c.id = format!("{}\u{1}", c.id).into(),
                    1 => c.category = format!("{}\"", c.category).into(),
                    _ => c.rule_index = c.rule_index.map(|r| r + 1),
                }
            }
            check(&record);
            // And explained: unknown ids, stale indices and combos
            // take the slow path, with the same text as `explanation`.
            let mut changed = analysis.clone();
            changed.contributions = record.contributions.clone();
            changed.hits = record.hits.clone();
            let want = Record::from_analysis(
                record.origin.clone(),
                changed.clone(),
                pack,
                crate::patterns::Lang::Ja,
            );
            let mut ours = Vec::new();
            writer.write_explained(
                &mut ours,
                &Record::unexplained(want.origin.clone(), changed.clone()),
                changed.suspicious_threshold,
                changed.scam_threshold,
            );
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&serde_json::to_vec(&want).unwrap())
            );
            records += 1;
        }
        assert!(
            records > 100 && hits > 100,
            "{records} records, {hits} hits"
        );
    }
}
