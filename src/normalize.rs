//! Text normalization with an offset map back to the original text.
//!
//! Scam messages hide their key phrases from naive matching with width tricks
//! (ｱﾏｿﾞﾝ, ＡＭＡＺＯＮ), kana choice (どこも / ドコモ), separators inserted inside
//! words (ド コ モ, イ・ン・タ・ー), zero-width characters, spacing dakuten (シ゛),
//! the kanji 一 used as a long vowel (インタ一ネット) and Cyrillic/Greek look-alike
//! letters (аmazon with a Cyrillic а). Messages and rule literals go through the
//! same pipeline ([`normalize`], [`normalize_literal`], [`normalize_regex_source`])
//! so that none of those tricks can hide a phrase, while every normalized byte
//! keeps the byte range of the original characters it came from
//! ([`Normalized::original_range`]) so hits are reported in the original text, and
//! whether a trick was used is recorded ([`Normalized::is_obfuscated`]).
//!
//! # Pipeline
//!
//! 1. **Per segment** (a base character plus the combining marks that follow it;
//!    U+FF9E/U+FF9F and the spacing U+309B/U+309C count as combining marks):
//!    zero-width characters and variation selectors are removed, spacing dakuten
//!    become combining dakuten, then NFKC (via `icu_normalizer`, the fastest
//!    conforming implementation measured here), then Latin lowercase,
//!    look-alike Cyrillic/Greek letters → Latin, hiragana → katakana.
//! 2. **In context**: separator runs (spaces, tabs, `・ _ + / | * .`, emoji
//!    and pictographs) between two Japanese characters are dropped; runs of at least three single Latin
//!    letters separated by spaces are joined (`d o c o m o` → `docomo`); other
//!    runs of horizontal whitespace collapse to one ASCII space; newlines are
//!    kept; dash variants directly after katakana become ー unless an ASCII
//!    letter or digit follows (so `0120-12-3456` and `ドコモ-ID` keep their
//!    `-`); the kanji 一 between katakana becomes ー (except before the counter
//!    kana ツ/カ/ヵ/ヶ/ケ, so もう一つ and 一か月 stay readable). Wave dashes
//!    (〜, ～) are left alone: they mark ranges (1〜3月) far more often than
//!    long vowels.
//!
//! The pipeline is idempotent: normalizing normalized text changes nothing.
//!
//! # Memory
//!
//! When the normalized text differs from the input (beyond ASCII lowercasing),
//! the offset map stores one flag byte per *normalized byte* plus a run-length
//! origin map: 16 bytes per run of characters whose origins are contiguous
//! and that either all keep their widths (kanji, kana, hiragana → katakana,
//! ASCII, newlines: one run across all of them) or all have the same
//! normalized and original widths, so about 1–2 bytes per byte in practice. Pure-ASCII input that needs only
//! lowercasing, and input that is already normalized, store no map at all.
//! Offsets are `u32`: inputs must be smaller than 4 GiB.
//!
//! # Performance
//!
//! The common characters (ASCII, kana, kanji, CJK punctuation, full-width
//! ASCII, half-width katakana with or without a voicing mark, and symbols
//! that NFKC leaves alone: ※, arrows, box drawing, geometric shapes,
//! dingbats, pictographs) are folded by range tests and a small table; only
//! the rest goes through `icu_normalizer`. Folded characters are written
//! out at once unless a context rule needs to see what follows them
//! (whitespace or a separator after a Japanese character, a dash or 一
//! after katakana, a possible lone Latin letter — see
//! `Assembler::try_emit`); only those, and what follows them up to the next
//! safe cut, are buffered and assembled by chunk. Wherever nothing is
//! buffered, a run of plain characters (kanji, kana, CJK punctuation that
//! no context rule touches) is copied a window at a time into the byte
//! buffer the text is assembled in and classified and folded there in one
//! pass (a range test for kanji; for U+3000..=U+30FF one table that says
//! whether the char is plain and gives its folded bytes, hiragana →
//! katakana, and flags), taking the ASCII bridge chars (below) in the same
//! pass; the origin map is extended by one run of chars that keep their
//! widths (see `Assembler::emit_plain3_run`). Such runs go on across single *bridge*
//! characters that no context rule touches and that are written as they
//! come (newlines, digits, most ASCII punctuation and their full-width
//! forms such as `：（）１`, which end most runs of Japanese mail; see
//! `bridge_at`), and across the ASCII that follows a bridge, and drop
//! separators after a Japanese char themselves when the char after them
//! settles what becomes of them, as well as ASCII letters after a kanji,
//! kana or digit (see `Assembler::separators_after_japanese`). The first
//! character of any other kind,
//! or one followed by a mark that extends its segment, hands back to the
//! per-character path, which decodes the next char only when its first
//! bytes do not already say that it cannot extend a segment. Likewise, after an ASCII character written out at
//! once, the ASCII ones that follow are copied on bytes until one that a
//! context rule may need (a possible lone letter, a second space, a tab;
//! see `Assembler::emit_ascii_run`). The buffer holds whole characters
//! only and is checked as UTF-8 once at the end (simdutf8, far cheaper
//! than `String::from_utf8` on Japanese text). The unit buffer, the fold
//! scratch and that byte buffer are kept per thread between calls (see
//! `Reused`). The flag bytes are zeroed ahead in blocks
//! (`Out::next_flags`), so only the non-zero ones (kana, letters, tricks)
//! are written, not one `memset` per plain run. The tests compare the whole
//! pipeline (text, origin ranges, obfuscation flags) against the original,
//! slower implementation kept in the test module.

use std::ops::Range;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_normalizer::properties::CanonicalCombiningClassMapBorrowed;

const NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();
const CCC: CanonicalCombiningClassMapBorrowed<'static> = CanonicalCombiningClassMapBorrowed::new();

/// The character itself is an evasion trick (look-alike, recombined spacing
/// dakuten, 一 as long vowel, removed variation selector / inner zero-width).
const F_OBF: u8 = 1;
/// An evasion gap (dropped zero-width char or in-word separator) precedes it.
const F_GAP: u8 = 2;
/// Came from half-width katakana.
const F_KANA_HW: u8 = 4;
/// Came from full-width katakana or hiragana.
const F_KANA_FW: u8 = 8;
/// Came from an ASCII letter.
const F_LATIN_HW: u8 = 16;
/// Came from a full-width Latin letter.
const F_LATIN_FW: u8 = 32;
/// Came from hiragana (internal: 一 next to hiragana is not flagged).
const F_HIRA: u8 = 64;

/// Result of normalizing one text: the normalized text plus the map from
/// normalized bytes to original bytes and per-character evasion flags.
#[derive(Debug, Clone)]
pub struct Normalized {
    text: String,
    orig_len: usize,
    map: Map,
}

#[derive(Debug, Clone)]
enum Map {
    /// Normalized byte `i` came from original byte `i` (same char boundaries).
    Identity,
    /// Origins as runs of characters (see [`Run`]) plus flags per normalized
    /// byte: the first byte of each character holds the character's flags,
    /// the others 0.
    Runs { runs: Vec<Run>, flags: Vec<u8> },
}

/// A run of normalized characters of `nstep` bytes each, starting at
/// normalized byte `norm`, whose origins are consecutive original ranges of
/// `olen` bytes each starting at `orig`: character `k` of the run came from
/// `orig + k * olen .. orig + (k + 1) * olen`. A run extends up to the next
/// run's `norm` (or the end of the text).
///
/// A run with `nstep` [`SAME_WIDTH`] holds characters of any widths, each
/// as wide as the original it came from, with contiguous origins (kanji,
/// kana, ASCII and newlines copied one for one): the character at
/// normalized bytes `a..b` came from `orig + (a - norm) .. orig + (b -
/// norm)`. One such run covers a plain run and the newlines, digits and
/// ASCII between its pieces.
#[derive(Debug, Clone, Copy)]
struct Run {
    norm: u32,
    orig: u32,
    olen: u32,
    nstep: u32,
}

/// `Run::nstep` of a run whose characters keep their widths (see [`Run`]).
const SAME_WIDTH: u32 = 0;

/// `(nstep, olen)` of the run a char of `n` normalized bytes from `olen`
/// original bytes belongs to: [`SAME_WIDTH`] runs take every char that
/// keeps its width.
#[inline(always)]
fn run_step(n: u32, olen: u32) -> (u32, u32) {
    if n == olen {
        (SAME_WIDTH, 0)
    } else {
        (n, olen)
    }
}

/// Origin start of the normalized character that starts at byte `s` (a
/// char boundary of the text, `runs` non-empty).
#[inline]
fn origin_start_at(runs: &[Run], s: usize) -> usize {
    origin_start(runs, run_index(runs, s as u32, 0), s)
}

/// Index of the run containing normalized byte `p`, given that it is not
/// before run `from` (`runs[0].norm` is 0). A hit is short: the run of its
/// last byte is usually the run of its first byte or the next one, so those
/// are tried before a binary search.
#[inline]
fn run_index(runs: &[Run], p: u32, from: usize) -> usize {
    if runs.get(from + 1).is_none_or(|r| r.norm > p) {
        return from;
    }
    let rest = runs.get(from..).unwrap_or_default();
    from + rest.partition_point(|r| r.norm <= p).saturating_sub(1)
}

/// Origin start of the normalized character that starts at byte `s` (a
/// char boundary of the text), in run `i` (see [`run_index`]).
#[inline]
fn origin_start(runs: &[Run], i: usize, s: usize) -> usize {
    let Some(&r) = runs.get(i) else {
        return 0;
    };
    let s = s as u32;
    let start = if r.nstep == SAME_WIDTH {
        r.orig + (s - r.norm)
    } else {
        r.orig + (s - r.norm) / r.nstep * r.olen
    };
    start as usize
}

/// Origin end of the normalized character that ends at byte `e` (a char
/// boundary of the text after the run's start), in run `i` (see
/// [`run_index`]; the run of byte `e - 1`).
#[inline]
fn origin_end(runs: &[Run], i: usize, e: usize) -> usize {
    let Some(&r) = runs.get(i) else {
        return 0;
    };
    let e = e as u32;
    let end = if r.nstep == SAME_WIDTH {
        r.orig + (e - r.norm)
    } else {
        r.orig + ((e - 1 - r.norm) / r.nstep + 1) * r.olen
    };
    end as usize
}

impl Normalized {
    /// The normalized text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Map a byte range of the normalized text to the byte range of the
    /// original text it came from (an offset inside a character stands for
    /// the whole character). The result is always on char
    /// boundaries of the original, `start <= end`, and covers every original
    /// char that produced any normalized char in the range. Out-of-bounds or
    /// reversed input ranges are clamped, never a panic.
    pub fn original_range(&self, normalized: Range<usize>) -> Range<usize> {
        let len = self.text.len();
        let s = normalized.start.min(len);
        let e = normalized.end.clamp(s, len);
        // An offset inside a character stands for the whole character, so
        // the result is on the original's char boundaries even then (a
        // character can be kept byte for byte, e.g. an emoji after a folded
        // letter, in a text whose map is the identity).
        let empty = s == e;
        let s = self.text.floor_char_boundary(s);
        let e = if empty {
            s
        } else {
            self.text.ceil_char_boundary(e)
        };
        match &self.map {
            Map::Identity => s..e,
            Map::Runs { runs, .. } => {
                if s == e {
                    let p = if s < len {
                        origin_start_at(runs, s)
                    } else {
                        self.orig_len
                    };
                    return p..p;
                }
                let first = run_index(runs, s as u32, 0);
                let a = origin_start(runs, first, s);
                let last = run_index(runs, (e - 1) as u32, first);
                let b = origin_end(runs, last, e).max(a);
                a..b
            }
        }
    }

    /// True when the original text behind this normalized range used an
    /// evasion trick: zero-width characters or variation selectors removed,
    /// separators dropped inside a word, spacing dakuten recombined, kanji 一
    /// used as a long vowel, Cyrillic/Greek look-alike letters, or width
    /// *mixing* inside the range (half-width and full-width katakana together,
    /// or full-width and ASCII Latin letters together). Uniformly half-width
    /// or full-width text is not evasion.
    pub fn is_obfuscated(&self, normalized: Range<usize>) -> bool {
        let Map::Runs { flags, .. } = &self.map else {
            return false;
        };
        let len = self.text.len();
        let mut s = normalized.start.min(len);
        let e = normalized.end.clamp(s, len);
        // Only the first byte of a character carries flags (the others are
        // 0), so the range's flags are the OR of its bytes from its first
        // character boundary on, with no per-byte boundary test.
        while s < e && !self.text.is_char_boundary(s) {
            s += 1;
        }
        let Some((&first, rest)) = flags[s..e].split_first() else {
            return false;
        };
        let rest = rest.iter().fold(0u8, |a, &f| a | f);
        if rest & F_GAP != 0 {
            // A gap inside the range, not just before it.
            return true;
        }
        let all = (first | rest) & !F_GAP;
        all & F_OBF != 0
            || (all & F_KANA_HW != 0 && all & F_KANA_FW != 0)
            || (all & F_LATIN_HW != 0 && all & F_LATIN_FW != 0)
    }
}

/// Normalize a message (see the module docs for the pipeline).
pub fn normalize(input: &str) -> Normalized {
    let stable = if input.is_ascii() {
        ascii_needs_only_lowercase(input.as_bytes())
    } else {
        already_normalized(input)
    };
    if stable {
        return Normalized {
            text: input.to_ascii_lowercase(),
            orig_len: input.len(),
            map: Map::Identity,
        };
    }
    normalize_general(input)
}

/// The normalized bytes as a `String`. They are valid UTF-8 by
/// construction (whole chars only); the check is there so that a bug
/// cannot break `str` invariants, and a failure is replaced lossily rather
/// than panicking. Checked with simdutf8 and copied: `String::from_utf8`
/// validates Japanese text several times slower than the copy costs.
fn utf8_string(text: &[u8]) -> String {
    match simdutf8::basic::from_utf8(text) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(text).into_owned(),
    }
}

/// Working buffers of [`normalize_general`] that are not part of its
/// result, kept per thread so that normalizing a message part costs no
/// allocation for them once they have grown (one part after another, the
/// unit buffer, the fold scratch and the byte buffer the text is assembled
/// in would otherwise be allocated, grown and freed every time).
#[derive(Default)]
struct Reused {
    scratch: Scratch,
    units: Vec<Unit>,
    text: Vec<u8>,
}

/// Flag bytes zeroed at least at once (see [`Out::next_flags`]).
const FLAGS_BLOCK: usize = 4096;

/// Buffers larger than this (bytes) are not kept for the next call, so a
/// huge message does not pin its buffers for the life of the thread.
const REUSE_MAX_BYTES: usize = 1 << 20;

thread_local! {
    static REUSED: std::cell::Cell<Reused> = const {
        std::cell::Cell::new(Reused {
            scratch: Scratch {
                pre: String::new(),
                nfkc: String::new(),
                out: String::new(),
            },
            units: Vec::new(),
            text: Vec::new(),
        })
    };
}

/// The full pipeline, without the identity shortcuts.
fn normalize_general(input: &str) -> Normalized {
    // `try_with` fails only while the thread is being torn down: then fresh
    // buffers do.
    let mut reused = REUSED.try_with(std::cell::Cell::take).unwrap_or_default();
    let mut text = std::mem::take(&mut reused.text);
    text.clear();
    text.reserve(input.len() + input.len() / 4);
    let mut asm = Assembler::new(text, input.len() + input.len() / 4);
    reused.units.clear();
    segment_units(input, &mut asm, &mut reused.units, &mut reused.scratch);
    let mut out = asm.out;
    let text = std::mem::take(&mut out.text);
    let (out_text, map) = if text == input.as_bytes() {
        (input.to_owned(), Map::Identity)
    } else {
        let runs = std::mem::take(&mut out.runs);
        (
            utf8_string(&text),
            Map::Runs {
                runs,
                flags: out.into_flags(),
            },
        )
    };
    if text.capacity() <= REUSE_MAX_BYTES
        && reused.units.capacity() * std::mem::size_of::<Unit>() <= REUSE_MAX_BYTES
    {
        reused.text = text;
        let _ = REUSED.try_with(|r| r.set(reused));
    }
    Normalized {
        text: out_text,
        orig_len: input.len(),
        map,
    }
}

/// Same pipeline as [`normalize`], text only (used for rule literals):
/// `normalize_literal(x) == normalize(x).text()`.
pub fn normalize_literal(input: &str) -> String {
    normalize(input).text
}

/// Normalize a regex *source* written by a rule author so that it matches
/// normalized text. The per-character folding (NFKC, hiragana → katakana,
/// Latin lowercase, look-alikes) is applied to literal characters only: never
/// to the character after a backslash, nor inside `\p{..}`/`\P{..}`/`\x{..}`,
/// nor to group flags and names (`(?i)`, `(?U)`, `(?P<Name>`), so regex syntax
/// such as `\D`, `\S`, `\W`, `\B`, `\P{Han}` survives. A literal that folds to
/// a regex metacharacter (`（` → `(`) is escaped. Context rules (separator
/// dropping, long-vowel unification) are not applied.
pub fn normalize_regex_source(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 8);
    let mut scratch = Scratch::default();
    // The char at byte offset `i` (a char boundary) or None at the end.
    let at = |i: usize| source.get(i..).and_then(|r| r.chars().next());
    let mut i = 0;
    while let Some(c) = at(i) {
        if c == '\\' {
            // Copy the escape verbatim.
            out.push('\\');
            i += 1;
            let Some(n) = at(i) else { break };
            out.push(n);
            i += n.len_utf8();
            if matches!(n, 'p' | 'P' | 'x' | 'u' | 'U') {
                if at(i) == Some('{') {
                    while let Some(b) = at(i) {
                        out.push(b);
                        i += b.len_utf8();
                        if b == '}' {
                            break;
                        }
                    }
                } else if matches!(n, 'p' | 'P')
                    && let Some(b) = at(i)
                {
                    out.push(b);
                    i += b.len_utf8();
                }
            }
            continue;
        }
        if c == '(' && at(i + 1) == Some('?') {
            // Group flags or name: copy verbatim up to ':' / ')' / '>'.
            out.push_str("(?");
            i += 2;
            let named = matches!(at(i), Some('<' | 'P'));
            while let Some(b) = at(i) {
                out.push(b);
                i += b.len_utf8();
                if (named && b == '>') || (!named && (b == ':' || b == ')')) {
                    break;
                }
            }
            continue;
        }
        // A literal segment: this char plus following combining marks.
        let pos = i;
        let mut end = i + c.len_utf8();
        let mut marks = 0;
        let mut first_mark = None;
        while let Some(m) = at(end).filter(|&m| extends_segment(m)) {
            first_mark.get_or_insert(m);
            marks += 1;
            end += m.len_utf8();
        }
        i = end;
        // Common characters fold without NFKC (same result: `fast_char` and
        // `hw_kana` agree with `fold_segment`, see the tests).
        let fast = match marks {
            0 => fast_char(c).or_else(|| hw_kana(c, None)),
            1 => hw_kana(c, first_mark),
            _ => None,
        };
        if let Some((ch, _)) = fast {
            if ch != c && is_regex_meta(ch) {
                out.push('\\');
            }
            out.push(ch);
            continue;
        }
        let seg = &source[pos..end];
        scratch.out.clear();
        fold_segment(seg, &mut scratch);
        if scratch.out == seg {
            out.push_str(seg);
        } else {
            for ch in scratch.out.chars() {
                if is_regex_meta(ch) && !seg.contains(ch) {
                    out.push('\\');
                }
                out.push(ch);
            }
        }
    }
    out
}

fn is_regex_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

// ---------------------------------------------------------------------------
// Character classes

fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Does `c` belong to the segment of the preceding base character?
fn extends_segment(c: char) -> bool {
    let u = c as u32;
    // Common ranges without combining marks (ccc 0): kanji, CJK punctuation
    // (up to U+3029), kana except the voicing marks, full-width forms and
    // half-width katakana except U+FF9E/U+FF9F. The soft hyphen (U+00AD) is
    // below U+0300 but zero-width: like U+200B it must stay in the base's
    // segment, or `A<U+00AD><U+0308>` is not composed the first time and
    // normalization is not idempotent (found by fuzzing).
    if (u < 0x300 && u != 0xAD)
        || (0x3400..=0x9FFF).contains(&u)
        || (0x3000..=0x3029).contains(&u)
        || (0x3030..=0x3098).contains(&u)
        || (0x309D..=0x30FF).contains(&u)
        || (0xFF00..=0xFF9D).contains(&u)
    {
        return false;
    }
    matches!(
        c,
        '\u{FF9E}' | '\u{FF9F}' | '\u{309B}' | '\u{309C}' | '\u{3099}' | '\u{309A}'
    ) || is_variation_selector(c)
        || is_zero_width(c)
        || CCC.get_u8(c) != 0
        || decomposes_to_a_mark(c)
}

/// The characters of combining class 0 whose decomposition starts with a
/// combining mark (Tibetan vowel signs): NFKC reorders that mark with the
/// marks before it, so they belong to the segment before them, or
/// normalizing `῝ཱྀ` twice reorders it again (found by proptest).
fn decomposes_to_a_mark(c: char) -> bool {
    matches!(c, '\u{0F73}' | '\u{0F75}' | '\u{0F81}')
}

/// Katakana letters (after folding, hiragana are katakana too).
fn is_kata_letter(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}')
}

fn is_kata_ish(c: char) -> bool {
    is_kata_letter(c) || c == 'ー'
}

/// Japanese characters between which separators are dropped.
#[inline]
fn is_japanese(c: char) -> bool {
    let u = c as u32;
    // Kanji first (the most common), then kana; everything below U+3005
    // (ASCII included) is out after one comparison.
    if (0x4E00..=0x9FFF).contains(&u) {
        return true;
    }
    if u < 0x3005 {
        return false;
    }
    matches!(u,
        0x3041..=0x3096
        | 0x309D..=0x309F
        | 0x30A1..=0x30FA
        | 0x30FC..=0x30FF
        | 0x3005..=0x3007
        | 0x3400..=0x4DBF
        | 0xF900..=0xFAFF
        | 0x20000..=0x3FFFF)
}

/// Horizontal whitespace (collapsed / dropped); newlines are not.
fn is_hspace(c: char) -> bool {
    c == ' '
        || c == '\t'
        || (c.is_whitespace() && !matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

/// Non-space separators dropped between Japanese characters: the ASCII and
/// CJK word separators, and pictographs (emoji, dingbats, hearts and stars)
/// that scams put between the characters of a word (元🙌本🙌保🙌証, い💕い💕ね).
fn is_separator(c: char) -> bool {
    matches!(c, '・' | '_' | '+' | '/' | '|' | '*' | '.') || is_pictograph(c)
}

/// Emoji and pictographic symbols (miscellaneous symbols and dingbats
/// U+2600..=U+27BF, ⭐ ⭕, and the emoji blocks U+1F300..=U+1FAFF).
/// Arrows, ※ and 〒 are not among them: they point at or label what follows.
#[inline]
fn is_pictograph(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{2B50}' | '\u{2B55}' | '\u{1F300}'..='\u{1FAFF}')
}

#[inline]
fn is_run_char(c: char) -> bool {
    // No whitespace above U+3000.
    if c > '\u{3000}' {
        return c == '・' || c >= '\u{1F300}' && is_pictograph(c);
    }
    is_hspace(c) || is_separator(c)
}

/// Dash variants (after NFKC) unified to ー after katakana.
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{2500}' | '\u{2501}'
    )
}

/// Latin look-alikes (Cyrillic, Greek, a few others), mapped by shape.
fn lookalike(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic lowercase
        'а' => 'a',
        'е' => 'e',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'у' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'і' => 'i',
        'ј' => 'j',
        'ԁ' => 'd',
        'һ' => 'h',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'ӏ' => 'l',
        'ѵ' => 'v',
        // Cyrillic uppercase
        'А' => 'a',
        'В' => 'b',
        'Е' => 'e',
        'К' => 'k',
        'М' => 'm',
        'Н' => 'h',
        'О' => 'o',
        'Р' => 'p',
        'С' => 'c',
        'Т' => 't',
        'Х' => 'x',
        'У' | 'Ү' => 'y',
        'Ѕ' => 's',
        'І' | 'Ӏ' => 'i',
        'Ј' => 'j',
        'Ԁ' => 'd',
        'Ԛ' => 'q',
        'Ԝ' => 'w',
        // Greek uppercase
        'Α' => 'a',
        'Β' => 'b',
        'Ε' => 'e',
        'Ζ' => 'z',
        'Η' => 'h',
        'Ι' => 'i',
        'Κ' => 'k',
        'Μ' => 'm',
        'Ν' => 'n',
        'Ο' => 'o',
        'Ρ' => 'p',
        'Τ' => 't',
        'Υ' => 'y',
        'Χ' => 'x',
        // Greek lowercase
        'α' => 'a',
        'ε' => 'e',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'υ' => 'u',
        'χ' => 'x',
        // Others
        'ı' => 'i',
        'ɡ' => 'g',
        'օ' => 'o',
        'ս' => 'u',
        _ => return None,
    })
}

/// Width / script flags of a source base character.
fn source_flags(c: char) -> u8 {
    match c {
        'a'..='z' | 'A'..='Z' => F_LATIN_HW,
        '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => F_LATIN_FW,
        '\u{FF66}'..='\u{FF9D}' => F_KANA_HW,
        '\u{30A1}'..='\u{30FA}' | '\u{30FC}' => F_KANA_FW,
        '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => F_KANA_FW | F_HIRA,
        // Mathematical alphanumerics, circled / squared / parenthesized Latin.
        '\u{1D400}'..='\u{1D7FF}' | '\u{24B6}'..='\u{24E9}' | '\u{1F130}'..='\u{1F189}' => F_OBF,
        _ => 0,
    }
}

/// Fold a lone base character that needs no NFKC call. `None` = use the
/// general path.
#[inline]
fn fast_char(c: char) -> Option<(char, u8)> {
    let u = c as u32;
    Some(match c {
        'a'..='z' => (c, F_LATIN_HW),
        'A'..='Z' => (c.to_ascii_lowercase(), F_LATIN_HW),
        '\0'..='\x7f' => (c, 0),
        '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
            (char::from_u32(u + 0x60)?, F_KANA_FW | F_HIRA)
        }
        '\u{30A1}'..='\u{30FA}' | '\u{30FC}' => (c, F_KANA_FW),
        '\u{30FB}' | '\u{30FD}' | '\u{30FE}' => (c, 0),
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' => (c, 0),
        '\u{3001}'..='\u{3011}' | '\u{3013}'..='\u{301F}' => (c, 0),
        '\u{FF21}'..='\u{FF3A}' => (char::from_u32(u - 0xFEE0 + 0x20)?, F_LATIN_FW),
        '\u{FF41}'..='\u{FF5A}' => (char::from_u32(u - 0xFEE0)?, F_LATIN_FW),
        '\u{FF01}'..='\u{FF5E}' => (char::from_u32(u - 0xFEE0)?, 0),
        // Symbols common in Japanese mail that NFKC and the per-char
        // folding leave alone: ※, arrows, box drawing, block elements,
        // geometric shapes (○ ■ △ ◆), miscellaneous symbols and dingbats
        // (★ ☆ ✓), pictographs and emoticons.
        '\u{203B}'
        | '\u{2190}'..='\u{21FF}'
        | '\u{2500}'..='\u{27BF}'
        | '\u{1F300}'..='\u{1F64F}' => (c, 0),
        _ => return None,
    })
}

/// NFKC of the half-width forms U+FF61..=U+FF9D.
const HW_KANA: [char; 0x3D] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー',
    'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ',
    'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ',
    'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

/// Fold a half-width katakana segment (base U+FF61..=U+FF9D, optionally one
/// half-width voicing mark) without NFKC. `None` = use the general path.
#[inline]
fn hw_kana(base: char, mark: Option<char>) -> Option<(char, u8)> {
    let u = base as u32;
    if !(0xFF61..=0xFF9D).contains(&u) {
        return None;
    }
    let fw = HW_KANA[(u - 0xFF61) as usize];
    let flags = if u >= 0xFF66 { F_KANA_HW } else { 0 };
    let ch = match (mark, u) {
        (None, _) => fw,
        (Some('\u{FF9E}'), 0xFF76..=0xFF84 | 0xFF8A..=0xFF8E) => char::from_u32(fw as u32 + 1)?,
        (Some('\u{FF9E}'), 0xFF73) => 'ヴ',
        (Some('\u{FF9E}'), 0xFF9C) => 'ヷ',
        (Some('\u{FF9E}'), 0xFF66) => 'ヺ',
        (Some('\u{FF9F}'), 0xFF8A..=0xFF8E) => char::from_u32(fw as u32 + 2)?,
        _ => return None,
    };
    Some((ch, flags))
}

/// Per-character folding after NFKC. Returns true if it changed anything.
fn post_map(c: char, out: &mut String) -> bool {
    if let Some(l) = lookalike(c) {
        out.push(l);
        return true;
    }
    match c {
        '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
            out.push(char::from_u32(c as u32 + 0x60).unwrap_or(c));
            true
        }
        'A'..='Z' => {
            out.push(c.to_ascii_lowercase());
            true
        }
        _ if !c.is_ascii() && c.is_uppercase() => {
            let before = out.len();
            // A lowercased letter may itself be a look-alike (Ɡ → ɡ → g): fold it now
            // so a second pass finds nothing left to change.
            out.extend(c.to_lowercase().map(|l| lookalike(l).unwrap_or(l)));
            out[before..] != *c.encode_utf8(&mut [0; 4])
        }
        _ => {
            out.push(c);
            false
        }
    }
}

// ---------------------------------------------------------------------------
// Phase A: segments → units

#[derive(Debug, Clone, Copy)]
struct Unit {
    ch: char,
    start: u32,
    end: u32,
    flags: u8,
}

#[derive(Default)]
struct Scratch {
    pre: String,
    nfkc: String,
    out: String,
}

/// Fold one segment (base + combining marks) into `scratch.out` (appended).
/// Returns (flags for every produced char, trailing zero-width seen).
fn fold_segment(seg: &str, scratch: &mut Scratch) -> (u8, bool) {
    let mut chars = seg.chars();
    let Some(base) = chars.next() else {
        return (0, false);
    };
    let mut flags = source_flags(base);
    let base_hw_kana = matches!(base, '\u{FF61}'..='\u{FF9F}');
    scratch.pre.clear();
    let mut pending_zw = false;
    for c in seg.chars() {
        if is_zero_width(c) {
            pending_zw = true;
            continue;
        }
        if pending_zw {
            flags |= F_OBF;
            pending_zw = false;
        }
        if is_variation_selector(c) {
            if base.is_alphanumeric() {
                flags |= F_OBF;
            }
            continue;
        }
        match c {
            '\u{309B}' => {
                flags |= F_OBF;
                scratch.pre.push('\u{3099}');
            }
            '\u{309C}' => {
                flags |= F_OBF;
                scratch.pre.push('\u{309A}');
            }
            '\u{FF9E}' | '\u{FF9F}' if !base_hw_kana => {
                flags |= F_OBF;
                scratch.pre.push(c);
            }
            _ => scratch.pre.push(c),
        }
    }
    // NFKC, then per-char folding; repeat while folding changes something so
    // the result is stable (a folded char may compose with a following mark).
    let out_start = scratch.out.len();
    let mut rounds = 0;
    loop {
        scratch.nfkc.clear();
        let _ = NFKC.normalize_to(&scratch.pre, &mut scratch.nfkc);
        scratch.out.truncate(out_start);
        let mut changed = false;
        for c in scratch.nfkc.chars() {
            if lookalike(c).is_some() {
                flags |= F_OBF;
            }
            changed |= post_map(c, &mut scratch.out);
        }
        rounds += 1;
        if !changed || rounds == 3 || scratch.nfkc.chars().nth(1).is_none() {
            break;
        }
        scratch.pre.clear();
        scratch.pre.push_str(&scratch.out[out_start..]);
    }
    (flags, pending_zw)
}

/// Split `input` into segments, fold them into units and hand the units to
/// `asm`: emitted at once while nothing is buffered and no context rule
/// needs to see past them ([`Assembler::try_emit`]), buffered otherwise and
/// assembled a chunk at a time by [`Assembler::feed`]. A buffered chunk is
/// cut right after a newline, or when a quiet unit follows two quiet ones
/// (see [`is_quiet`]): no context rule looks across those cuts.
fn segment_units(input: &str, asm: &mut Assembler, units: &mut Vec<Unit>, scratch: &mut Scratch) {
    let b = input.as_bytes();
    let mut pending_gap = false;
    // Number of consecutive "quiet" units (see `is_quiet`) just before the
    // current position, buffered or already emitted (only `>= 2` matters).
    let mut quiet_tail = 0usize;
    let mut s = 0;
    while let Some(&lead) = b.get(s) {
        if lead >= 0xE3
            && units.is_empty()
            && !pending_gap
            && !asm.gap_next
            && plain3(b, s).is_some()
        {
            // Nothing buffered and no gap pending: a plain 3-byte char here
            // would be emitted at once by `try_emit`, and so would the plain
            // ones after it, so the run goes through the byte-level loop
            // straight away.
            let (end, quiet) = asm.emit_plain3_run(input, s, quiet_tail);
            if end > s {
                quiet_tail = quiet;
                s = end;
                continue;
            }
        }
        let c = if lead < 0x80 {
            char::from(lead)
        } else {
            match input.get(s..).and_then(|r| r.chars().next()) {
                Some(c) => c,
                None => break,
            }
        };
        // The segment: `c` plus the chars that extend it. An ASCII byte
        // never extends a segment.
        let mut e = s + c.len_utf8();
        let mut single = true;
        while let Some(d) = Some(e)
            .filter(|&e| !never_extends_segment(b, e))
            .and_then(|e| input.get(e..))
            .and_then(|r| r.chars().next())
            .filter(|&d| extends_segment(d))
        {
            e += d.len_utf8();
            single = false;
        }
        let (s32, e32) = (s as u32, e as u32);
        let seg_start = s;
        s = e;
        let folded = if single {
            match fast_char(c) {
                Some(f) => Some(f),
                None if is_zero_width(c) => {
                    pending_gap = true;
                    continue;
                }
                None => hw_kana(c, None),
            }
        } else if e - seg_start == 6 && c.len_utf8() == 3 {
            input[seg_start + 3..e]
                .chars()
                .next()
                .and_then(|m| hw_kana(c, Some(m)))
        } else {
            None
        };
        if let Some((ch, f)) = folded {
            let f = if pending_gap { f | F_GAP } else { f };
            pending_gap = false;
            let unit = Unit {
                ch,
                start: s32,
                end: e32,
                flags: f,
            };
            let quiet = is_quiet(ch);
            if quiet && quiet_tail >= 2 && !units.is_empty() {
                // A cut: what is buffered can be assembled now.
                asm.feed(units);
                units.clear();
            }
            quiet_tail = if quiet { quiet_tail + 1 } else { 0 };
            if units.is_empty() && asm.try_emit(unit) {
                if quiet && single && plain3(b, e).is_some() {
                    // The plain 3-byte chars that follow go through the
                    // byte-level loop.
                    let (end, quiet) = asm.emit_plain3_run(input, e, quiet_tail);
                    if end > e {
                        quiet_tail = quiet;
                        s = end;
                    }
                } else if single && ch.is_ascii() {
                    // So do the ASCII chars that follow (not quiet: the
                    // quiet count stays 0).
                    s = asm.emit_ascii_run(input, e);
                }
                continue;
            }
            units.push(unit);
            if ch == '\n' {
                asm.feed(units);
                units.clear();
            }
            continue;
        }
        scratch.out.clear();
        let (f, trailing_zw) = fold_segment(&input[seg_start..e], scratch);
        for ch in scratch.out.chars() {
            let f = if pending_gap { f | F_GAP } else { f };
            pending_gap = false;
            let unit = Unit {
                ch,
                start: s32,
                end: e32,
                flags: f,
            };
            let quiet = is_quiet(ch);
            if quiet && quiet_tail >= 2 && !units.is_empty() {
                asm.feed(units);
                units.clear();
            }
            quiet_tail = if quiet { quiet_tail + 1 } else { 0 };
            if units.is_empty() && asm.try_emit(unit) {
                continue;
            }
            units.push(unit);
            if ch == '\n' {
                asm.feed(units);
                units.clear();
            }
        }
        pending_gap |= trailing_zw;
    }
    asm.feed(units);
}

// ---------------------------------------------------------------------------
// Phase B: context rules, output assembly

struct Out {
    /// The normalized text, kept as bytes so that runs of plain chars can
    /// be copied at once and patched in place (hiragana → katakana); only
    /// whole chars are ever appended, and [`utf8_string`] checks it once.
    text: Vec<u8>,
    runs: Vec<Run>,
    /// One flag byte per text byte: the first `flags_len` are written,
    /// the rest are zero ahead of use (see [`Out::next_flags`]).
    flags: Vec<u8>,
    /// Number of flag bytes written (the text's length).
    flags_len: usize,
    /// Origin start of the last pushed char (what [`Out::extend_last`]
    /// keeps).
    last_start: u32,
    /// Origin end of the last pushed char.
    last_end: u32,
    /// `(nstep, olen)` of the last run.
    last_step: (u32, u32),
}

impl Out {
    #[inline(always)]
    fn push(&mut self, ch: char, start: u32, end: u32, flags: u8) {
        let n = ch.len_utf8() as u32;
        let olen = end - start;
        let step = run_step(n, olen);
        let extends = self.last_end == start && self.last_step == step;
        self.last_start = start;
        self.last_end = end;
        if !extends {
            self.last_step = step;
            let pos = self.text.len() as u32;
            self.runs.push(Run {
                norm: pos,
                orig: start,
                olen,
                nstep: step.0,
            });
        }
        // Fixed-size copies (a slice of the char's length would be a
        // `memcpy` call). One flag byte per text byte, 0 after the first
        // byte of a char (see `Normalized::is_obfuscated`): those are
        // zero already.
        let mut buf = [0; 4];
        ch.encode_utf8(&mut buf);
        let [b0, b1, b2, _] = buf;
        match n {
            1 => self.text.push(b0),
            2 => self.text.extend_from_slice(&[b0, b1]),
            3 => self.text.extend_from_slice(&[b0, b1, b2]),
            _ => self.text.extend_from_slice(&buf),
        }
        if let Some(first) = self.next_flags(n as usize).first_mut() {
            *first = flags;
        }
    }

    /// The flag bytes of the next `n` text bytes, all zero, counted as
    /// written. The flags are zeroed ahead in blocks, so the many chars
    /// with no flags (kanji, the non-first bytes of every char) cost no
    /// write at all.
    #[inline(always)]
    fn next_flags(&mut self, n: usize) -> &mut [u8] {
        let start = self.flags_len;
        let end = start + n;
        if self.flags.len() < end {
            self.grow_flags(end);
        }
        self.flags_len = end;
        self.flags.get_mut(start..end).unwrap_or_default()
    }

    /// Zero the flags ahead up to at least `end`: doubling (so the zeroing
    /// is amortized) within the capacity reserved for the text.
    #[inline(never)]
    fn grow_flags(&mut self, end: usize) {
        let ahead = (2 * self.flags.len())
            .max(FLAGS_BLOCK)
            .min(self.flags.capacity());
        self.flags.resize(end.max(ahead), 0);
    }

    /// The flags written, one per text byte.
    fn into_flags(mut self) -> Vec<u8> {
        self.flags.truncate(self.flags_len);
        self.flags
    }

    /// Origin bookkeeping for chars copied one for one (same widths in the
    /// text) from `start..end` of the input, the last one `last_width`
    /// bytes wide, before their bytes are appended: extends the last run or
    /// starts a new one, as [`Out::push`] would for each char.
    #[inline]
    fn copy_run_origins(&mut self, start: u32, end: u32, last_width: u32) {
        self.copy_run_origins_at(self.text.len() as u32, start, end, last_width);
    }

    /// [`Out::copy_run_origins`] for chars whose text starts at byte
    /// `norm` (already appended).
    #[inline]
    fn copy_run_origins_at(&mut self, norm: u32, start: u32, end: u32, last_width: u32) {
        let step = (SAME_WIDTH, 0);
        if !(self.last_end == start && self.last_step == step) {
            self.runs.push(Run {
                norm,
                orig: start,
                olen: 0,
                nstep: SAME_WIDTH,
            });
        }
        self.last_start = end - last_width;
        self.last_end = end;
        self.last_step = step;
    }

    /// Extend the origin of the last pushed char to `end`.
    fn extend_last(&mut self, end: u32) {
        // Length of the last char: its bytes after the last lead byte.
        let n = self
            .text
            .iter()
            .rev()
            .take(4)
            .position(|&b| b & 0xC0 != 0x80)
            .map_or(0, |i| i + 1);
        let pos = (self.text.len() - n) as u32;
        let start = self.last_start;
        let step = run_step(n as u32, end - start);
        self.last_end = end;
        self.last_step = step;
        match self.runs.last_mut() {
            Some(r) if r.norm == pos => {
                r.olen = end - start;
                r.nstep = step.0;
            }
            _ => self.runs.push(Run {
                norm: pos,
                orig: start,
                olen: end - start,
                nstep: step.0,
            }),
        }
    }
}

/// `char::is_alphanumeric`, answered without the Unicode tables for the
/// chars the context rules ask about most: ASCII, kanji U+4E00..=U+9FFF,
/// kana and the CJK punctuation U+3000..=U+30FF (the tables take ~170
/// instructions for a kanji; the left neighbour of a letter after Japanese
/// text is nearly always one).
#[inline]
fn is_alphanumeric(c: char) -> bool {
    match c {
        '\0'..='\x7F' => c.is_ascii_alphanumeric(),
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3005}'..='\u{3007}'
        | '\u{3041}'..='\u{3096}'
        | '\u{309D}'..='\u{309F}'
        | '\u{30A1}'..='\u{30FA}'
        | '\u{30FC}'..='\u{30FF}' => true,
        '\u{3000}'..='\u{3004}' | '\u{3008}'..='\u{3020}' | '\u{30FB}' => false,
        _ => c.is_alphanumeric(),
    }
}

/// Common chars that are neither run chars, dashes nor 一 (so only the
/// context state is updated when they are emitted).
#[inline]
fn is_plain(c: char) -> bool {
    matches!(c,
        '\u{30A1}'..='\u{30FA}' | '\u{30FC}' | '\u{4E01}'..='\u{9FFF}' | '\u{3001}'..='\u{303F}'
        | '0'..='9' | 'a'..='z' | 'A'..='Z')
}

/// Plain non-ASCII chars (kana, kanji, CJK punctuation): no context rule
/// applies to them, and no rule looks past two of them in a row — runs,
/// dashes and 一 look ahead at most two units past their end, and spaced
/// single letters need ASCII letters and spaces. Input may therefore be cut
/// into independently assembled chunks after two quiet units, as long as
/// the next chunk starts with a quiet unit too (so no lone-letter test
/// looks back across the cut).
#[inline]
fn is_quiet(c: char) -> bool {
    !c.is_ascii() && is_plain(c)
}

/// Is `units[i]` a lone ASCII letter (no alphanumeric neighbour)?
/// `left`: the unit before `units[0]` (end of the previous chunk).
fn single_letter(units: &[Unit], i: usize, left: Option<char>) -> bool {
    units[i].ch.is_ascii_lowercase()
        && (if i == 0 {
            !left.is_some_and(is_alphanumeric)
        } else {
            !is_alphanumeric(units[i - 1].ch)
        })
        && units.get(i + 1).is_none_or(|u| !is_alphanumeric(u.ch))
}

/// Mark whitespace units to drop inside chains of >= 3 spaced single letters.
fn letter_joins(units: &[Unit], left: Option<char>) -> Option<Vec<bool>> {
    let mut join: Option<Vec<bool>> = None;
    let mut i = 0;
    while i < units.len() {
        if !single_letter(units, i, left) {
            i += 1;
            continue;
        }
        // Extend the chain: (hspace+ single-letter)*
        let mut letters = 1usize;
        let mut k = i + 1;
        loop {
            let mut m = k;
            while m < units.len() && is_hspace(units[m].ch) {
                m += 1;
            }
            if m > k && m < units.len() && single_letter(units, m, left) {
                letters += 1;
                k = m + 1;
            } else {
                break;
            }
        }
        if letters >= 3 {
            let j = join.get_or_insert_with(|| vec![false; units.len()]);
            for (m, slot) in j.iter_mut().enumerate().take(k).skip(i + 1) {
                *slot = is_hspace(units[m].ch);
            }
        }
        i = k;
    }
    join
}

/// Phase B state, carried across chunks of units.
struct Assembler {
    out: Out,
    /// Last emitted char.
    last: Option<char>,
    /// Whether the last emitted char came from hiragana.
    last_hira: bool,
    /// Length (capped at 2) of the current Japanese piece.
    piece: usize,
    /// A dropped evasion gap precedes the next emitted char.
    gap_next: bool,
    /// The last unit fed or emitted (left context of the next chunk's
    /// lone-letter test).
    left: Option<char>,
    /// The last unit was horizontal whitespace emitted by
    /// [`Assembler::try_emit`]: a following one extends it (whitespace
    /// runs collapse to one space).
    run_space: bool,
}

impl Assembler {
    /// An assembler writing the text into `text` (empty; its capacity is
    /// reused), with room for about `cap` bytes of text.
    fn new(text: Vec<u8>, cap: usize) -> Self {
        Assembler {
            out: Out {
                text,
                runs: Vec::with_capacity(cap / 32 + 4),
                flags: Vec::with_capacity(cap),
                flags_len: 0,
                last_start: 0,
                last_end: u32::MAX,
                last_step: (u32::MAX, u32::MAX),
            },
            last: None,
            last_hira: false,
            piece: 0,
            gap_next: false,
            left: None,
            run_space: false,
        }
    }

    /// Feed a chunk of units. Chunks must end right after a newline unit,
    /// or with two quiet units before a quiet one (see [`is_quiet`]), or at
    /// the end of input: no context rule looks across those cuts.
    fn feed(&mut self, units: &[Unit]) {
        let Assembler {
            out,
            last,
            last_hira,
            piece,
            gap_next,
            left,
            run_space,
        } = self;
        feed_units(units, out, last, last_hira, piece, gap_next, *left);
        if let Some(u) = units.last() {
            *left = Some(u.ch);
            *run_space = false;
        }
    }

    /// Emit `u` at once, exactly as [`feed_units`] would, if no context
    /// rule needs to see the units after it; returns false (and changes
    /// nothing) otherwise. Only valid while no unit is buffered: then every
    /// unit before `u` has been assembled, and what [`feed_units`] would
    /// look at behind `u` is in the assembler's state.
    ///
    /// Needing the units after it: horizontal whitespace and separators
    /// right after a Japanese char (dropped if one follows), a dash or 一
    /// after katakana (ー depending on what follows), an ASCII lowercase
    /// letter without an alphanumeric char before it (a possible spaced
    /// single letter). Everything else — kana, kanji, digits, newlines,
    /// letters inside words, punctuation — is emitted here.
    #[inline]
    fn try_emit(&mut self, u: Unit) -> bool {
        let ch = u.ch;
        if is_plain(ch) {
            // Kana, kanji, CJK punctuation, ASCII letters and digits: only
            // a lowercase letter may need what follows it.
            if ch.is_ascii_lowercase() && !self.left.is_some_and(is_alphanumeric) {
                return false;
            }
        } else if is_run_char(ch) {
            if self.last.is_some_and(is_japanese) {
                return false;
            }
            // A run that is not dropped: as `feed_units` writes it.
            if is_hspace(ch) {
                if self.run_space {
                    self.out.extend_last(u.end);
                } else {
                    self.out
                        .push(' ', u.start, u.end, u.flags & (F_GAP | F_OBF));
                }
                self.run_space = true;
            } else {
                self.out.push(ch, u.start, u.end, u.flags & (F_GAP | F_OBF));
                self.run_space = false;
            }
            self.last = Some(ch);
            self.last_hira = false;
            self.piece = 0;
            self.left = Some(ch);
            return true;
        } else if self.last.is_some_and(is_kata_ish) && (is_dash(ch) || ch == '一') {
            return false;
        }
        let mut flags = u.flags;
        if self.gap_next {
            flags |= F_GAP;
            self.gap_next = false;
        }
        self.out.push(ch, u.start, u.end, flags & !F_HIRA);
        self.piece = if is_japanese(ch) {
            (self.piece + 1).min(2)
        } else {
            0
        };
        self.last = Some(ch);
        self.last_hira = flags & F_HIRA != 0;
        self.left = Some(ch);
        self.run_space = false;
        true
    }

    /// Byte-level loop over a run of ASCII chars starting at byte `pos` of
    /// `input`: emits them exactly as `segment_units` would one by one
    /// through [`Assembler::try_emit`] (same text, origins, flags and
    /// context state) and returns the byte offset after the last one (`pos`
    /// if there is none).
    ///
    /// Must be called right after `try_emit` emitted a unit that ends at
    /// `pos` (so no unit is buffered); does nothing unless that unit is
    /// ASCII, so no dash or separator rule applies after Japanese text. The
    /// run stops before what `try_emit` would buffer or treat specially: a
    /// letter with neither an alphanumeric char before it nor an ASCII one
    /// after it (a possible spaced single letter), a space after
    /// whitespace (the run collapses), other horizontal whitespace; at the
    /// first non-ASCII byte; and before an ASCII char whose segment a
    /// following mark extends.
    fn emit_ascii_run(&mut self, input: &str, pos: usize) -> usize {
        let Some(last) = self.last.filter(char::is_ascii) else {
            return pos;
        };
        if self.gap_next {
            return pos;
        }
        let b = input.as_bytes();
        let mut n = ascii_run_len(b, pos, last as u8, self.run_space);
        if n > 0 && next_char_extends_segment(input, pos + n) {
            // The last char's segment goes on: the general path takes it.
            n -= 1;
        }
        self.write_ascii_run(b, pos, n)
    }

    /// Write the `n` ASCII chars from byte `pos` of `b` on (found by
    /// [`ascii_run_len`], their segments checked) as [`Assembler::try_emit`]
    /// writes them one by one, and leave the context state it leaves;
    /// returns the offset after them.
    #[inline(always)]
    fn write_ascii_run(&mut self, b: &[u8], pos: usize, n: usize) -> usize {
        let Some(run) = b.get(pos..pos + n).filter(|r| !r.is_empty()) else {
            return pos;
        };
        let end = pos + n;
        let out = &mut self.out;
        out.copy_run_origins(pos as u32, end as u32, 1);
        out.text.extend(run.iter().map(u8::to_ascii_lowercase));
        for (f, c) in out.next_flags(run.len()).iter_mut().zip(run) {
            if c.is_ascii_alphabetic() {
                *f = F_LATIN_HW;
            }
        }
        let last = run.last().map(|&c| char::from(c.to_ascii_lowercase()));
        self.last = last;
        self.left = last;
        self.last_hira = false;
        self.piece = 0;
        self.run_space = last == Some(' ');
        end
    }

    /// Byte-level loop over a run of plain 3-byte characters (see
    /// [`plain3`]) starting at byte `pos` of `input`, bridged by single
    /// *bridge* characters (see [`bridge_at`]: newlines, digits, most ASCII
    /// punctuation and their full-width forms, which are written as they
    /// come whatever surrounds them): emits them exactly as
    /// `segment_units` would one by one through [`Assembler::try_emit`]
    /// (same text, origins, flags and context state) and returns the byte
    /// offset after the last one (`pos` if there is none) with the number
    /// of quiet units (see [`is_quiet`]) just before it, capped at 2, given
    /// `quiet_before` quiet units before `pos`.
    ///
    /// Must be called with no unit buffered and no gap pending (right after
    /// [`Assembler::try_emit`] emitted the quiet unit that ends at `pos`, or
    /// at a char boundary where `segment_units` has nothing buffered): a
    /// quiet unit or a bridge char is always emitted at once then, so the
    /// run is emitted exactly as `try_emit` would emit its chars one by
    /// one. A char followed by something that extends its segment (a
    /// voicing mark, a variation selector, a zero-width char...) ends the
    /// run and is left to the general path.
    fn emit_plain3_run(&mut self, input: &str, pos: usize, quiet_before: usize) -> (usize, usize) {
        let b = input.as_bytes();
        let mut p = pos;
        let mut quiet = quiet_before;
        loop {
            let piece_start = p;
            let (end, before_segment) = self.emit_plain3_piece(input, p);
            // One quiet unit per plain char, capped at 2; none after a
            // bridge char (ASCII).
            quiet = match b.get(p..end).unwrap_or_default() {
                [] => quiet,
                [.., a] if *a < 0x80 => 0,
                [.., a, _, _, _] if *a < 0x80 => 1,
                [_, _, _] => (quiet + 1).min(2),
                _ => 2,
            };
            p = end;
            if !before_segment
                && p > piece_start
                && let (Some(&prev @ 0..0x80), Some(0..0x80)) = (b.get(p - 1), b.get(p))
            {
                // The ASCII after an ASCII bridge char that ended the piece,
                // as the ASCII byte loop writes it.
                let mut n = ascii_run_len(b, p, prev, false);
                if n > 0 && next_char_extends_segment(input, p + n) {
                    n -= 1;
                }
                if n > 0 {
                    p = self.write_ascii_run(b, p, n);
                    continue;
                }
            }
            // A bridge char (see `bridge_at`) right after the piece sets the
            // whole context state itself, so the piece's tail state is only
            // worked out when something else follows. Bridges, separators
            // and letters start with different chars, so testing for a
            // bridge first changes nothing.
            let bridge = if before_segment {
                None
            } else {
                bridge_at(b, p).filter(|&(_, width)| !next_char_extends_segment(input, p + width))
            };
            if let Some((ch, width)) = bridge {
                // As `try_emit` writes it: not plain Japanese, not a run
                // char, not a dash, flags 0 (full-width forms other than
                // letters carry none), no gap pending.
                quiet = 0;
                if width == 1 {
                    // An ASCII bridge and the ASCII chars after it, as the
                    // ASCII byte loop writes them (it writes a bridge char
                    // whatever precedes it).
                    let mut n = 1 + ascii_run_len(b, p + 1, ch as u8, false);
                    if n > 1 && next_char_extends_segment(input, p + n) {
                        // The bridge's own segment was checked above.
                        n -= 1;
                    }
                    p = self.write_ascii_run(b, p, n);
                    continue;
                }
                let next = p + width;
                self.out.push(ch, p as u32, next as u32, 0);
                self.last = Some(ch);
                self.last_hira = false;
                self.piece = 0;
                self.left = Some(ch);
                self.run_space = false;
                // The ASCII chars that follow go through their own byte loop
                // (it writes nothing unless the char after the bridge is
                // ASCII, so it is not called otherwise); plain chars after them
                // start the next piece.
                p = if b.get(next).is_some_and(u8::is_ascii) {
                    self.emit_ascii_run(input, next)
                } else {
                    next
                };
                continue;
            }
            if p > piece_start {
                self.set_plain_tail(b.get(piece_start..p).unwrap_or_default());
            }
            if before_segment {
                // The piece stopped before a plain char whose segment goes
                // on: the general path takes it.
                break;
            }
            if let Some((next, quiet_after)) = self.separators_after_japanese(b, p) {
                quiet = quiet_after;
                p = next;
                continue;
            }
            if let Some(&letter @ (b'a'..=b'z' | b'A'..=b'Z')) = b.get(p)
                && self.left.is_some_and(is_alphanumeric)
                && !next_char_extends_segment(input, p + 1)
            {
                // A letter right after a letter or digit (a kanji or kana
                // included) is no spaced single letter: `try_emit` writes it
                // at once, and the ASCII after it goes through its loop.
                // The letter and the ASCII after it (the letter's own
                // segment was checked above).
                let mut n = 1 + ascii_run_len(b, p + 1, letter, false);
                if n > 1 && next_char_extends_segment(input, p + n) {
                    n -= 1;
                }
                quiet = 0;
                p = self.write_ascii_run(b, p, n);
                continue;
            }
            // Anything else (a bridge char followed by a mark included):
            // the general path decides.
            break;
        }
        (p, quiet)
    }

    /// A run of separators (spaces, tabs, ideographic spaces, `・` and the
    /// ASCII separators `_ + / | * .`) from byte `pos` of `b` on, right
    /// after the Japanese char written last, written as [`feed_units`]
    /// writes it once it has seen the unit after it: dropped when that unit
    /// is a plain Japanese char (kana or kanji), which is then written with
    /// the gap flag where `feed_units` sets it (the piece before the
    /// separators was a single char, or the piece after them is); kept
    /// (white space collapsed to one space) when it is a char known not to
    /// be Japanese whatever follows (ASCII other than white space, CJK
    /// punctuation, a bridge char) or the end. Returns the offset after
    /// what was written and the number of quiet units just before it, or
    /// `None` (nothing written) when there are no separators there, the
    /// last char is not Japanese, or what follows is anything else (the
    /// general path decides).
    ///
    /// Same preconditions as [`Assembler::emit_plain3_run`].
    fn separators_after_japanese(&mut self, b: &[u8], pos: usize) -> Option<(usize, usize)> {
        if !self.last.is_some_and(is_japanese) {
            return None;
        }
        let mut q = pos;
        loop {
            match b.get(q..) {
                Some([b' ' | b'\t' | b'_' | b'+' | b'/' | b'|' | b'*' | b'.', ..]) => q += 1,
                Some([0xE3, 0x80, 0x80, ..] | [0xE3, 0x83, 0xBB, ..]) => q += 3,
                _ => break,
            }
        }
        if q == pos {
            return None;
        }
        // `is_japanese` of a plain char: kana, kanji and 々〆〇.
        let japanese = |cp: u32| cp >= 0x3041 || (0x3005..=0x3007).contains(&cp);
        match plain3(b, q) {
            Some(cp) if japanese(cp) => {
                let after = q + 3;
                let next_single = match b.get(after) {
                    None => true,
                    Some(&a) if a < 0x80 => true,
                    Some(_) => !japanese(plain3(b, after)?),
                };
                let gap = self.piece <= 1 || next_single;
                let hira = (0x3041..=0x3096).contains(&cp);
                let (ch, flags) = fast_char(char::from_u32(cp)?)?;
                let flags = if gap { flags | F_GAP } else { flags };
                self.out.push(ch, q as u32, after as u32, flags & !F_HIRA);
                self.piece = 1;
                self.last = Some(ch);
                self.last_hira = hira;
                self.left = Some(ch);
                self.run_space = false;
                // The dropped separators and the Japanese char after them:
                // one quiet unit.
                Some((after, 1))
            }
            Some(_) => self.keep_separators(b, pos, q),
            None => match b.get(q) {
                // Vertical tab and form feed are white space: they would
                // extend the run.
                None => self.keep_separators(b, pos, q),
                Some(&a) if a < 0x80 && a != 0x0B && a != 0x0C => self.keep_separators(b, pos, q),
                Some(_) if bridge_at(b, q).is_some() => self.keep_separators(b, pos, q),
                Some(_) => None,
            },
        }
    }

    /// The separators `pos..end` of `b` (see
    /// [`Assembler::separators_after_japanese`]) as [`feed_units`] writes a
    /// run it does not drop: each white space run as one space (its origin
    /// covering the run), the others as they are (`・` and ASCII).
    fn keep_separators(&mut self, b: &[u8], pos: usize, end: usize) -> Option<(usize, usize)> {
        let mut prev_space = false;
        let mut q = pos;
        let mut last = ' ';
        while q < end {
            let (ch, width) = match b.get(q)? {
                0xE3 => (
                    if b.get(q + 1) == Some(&0x80) {
                        ' '
                    } else {
                        '・'
                    },
                    3,
                ),
                &a => (char::from(a), 1),
            };
            let (start, stop) = (q as u32, (q + width) as u32);
            if ch == ' ' || ch == '\t' {
                if prev_space {
                    self.out.extend_last(stop);
                } else {
                    self.out.push(' ', start, stop, 0);
                }
                prev_space = true;
            } else {
                self.out.push(ch, start, stop, 0);
                prev_space = false;
            }
            // The unit of an ideographic space is the space NFKC makes of it.
            last = ch;
            q += width;
        }
        self.last = Some(last);
        self.last_hira = false;
        self.piece = 0;
        self.left = Some(last);
        self.run_space = false;
        Some((end, 0))
    }

    /// The plain 3-byte chars and ASCII bridge chars (see [`BRIDGE_ASCII`])
    /// from byte `pos` of `input` on (see [`Assembler::emit_plain3_run`]),
    /// copied a window at a time and classified and folded in place in one
    /// pass (hiragana → katakana and kana flags from a table, the first
    /// char of any other kind cut off with what follows it); their origins
    /// are one [`SAME_WIDTH`] run. Returns the byte offset after the last
    /// one (`pos` if there is none) and whether it stopped before a char
    /// whose segment goes on (left to the general path). The context state
    /// is not updated: see [`Assembler::set_plain_tail`].
    fn emit_plain3_piece(&mut self, input: &str, pos: usize) -> (usize, bool) {
        let b = input.as_bytes();
        let rest = b.get(pos..).unwrap_or_default();
        let out = &mut self.out;
        let text_start = out.text.len();
        let flags_start = out.flags_len;
        // One pass: a window of the input is copied at once (whole 3-byte
        // chunks), then each of its chars is classified and folded in
        // place, up to the first one that is not plain; what is copied
        // after it is cut off again. Only plain kana and punctuation get a
        // flag written, so the flags after the piece stay zero.
        // Bytes of the piece so far.
        let mut len = 0;
        loop {
            let from = len;
            // The bytes of the last window from there on are copied again.
            out.text.truncate(text_start + from);
            out.flags_len = flags_start + from;
            let window = rest.get(from..).unwrap_or_default();
            let take = window.len().min(PIECE_WINDOW);
            let Some(copied) = window.get(..take).filter(|w| !w.is_empty()) else {
                break;
            };
            out.text.extend_from_slice(copied);
            out.next_flags(take);
            let text = out.text.get_mut(text_start + from..).unwrap_or_default();
            let flags = out
                .flags
                .get_mut(flags_start + from..out.flags_len)
                .unwrap_or_default();
            // The chars are matched as slice patterns on what is left of the
            // window: no index or overflow check per char.
            let mut rest: &mut [u8] = text;
            let left = loop {
                let cur = std::mem::take(&mut rest);
                let left = cur.len();
                let width = match *cur {
                    [0xE5..=0xE9, _, _, ..] => 3,
                    // Kanji from U+4E01 = E4 B8 81.
                    [0xE4, b1, b2, ..] if b1 > 0xB8 || (b1 == 0xB8 && b2 >= 0x81) => 3,
                    // U+3000..=U+30FF: kana and CJK punctuation by table.
                    [0xE3, b1 @ 0x80..=0x83, b2, ..] => {
                        let [n1, n2, flag] = PLAIN_30XX_FOLD[plain_30xx_index(b1, b2)];
                        if n1 == 0 {
                            break left;
                        }
                        if let [_, c1, c2, ..] = cur {
                            *c1 = n1;
                            *c2 = n2;
                        }
                        if let Some(f) = flags.get_mut(take - left) {
                            *f = flag;
                        }
                        3
                    }
                    // An ASCII bridge char: written as it comes, no flags.
                    [b0, ..] if b0 < 0x80 && BRIDGE_ASCII[b0 as usize] => 1,
                    _ => break left,
                };
                rest = cur.get_mut(width..).unwrap_or_default();
            };
            len += take - left;
            // Go on with the next window only when this one ended inside a
            // char (or at its end) and there is more input.
            if take < PIECE_WINDOW || left >= 3 {
                break;
            }
        }
        let mut p = pos + len;
        // Whole chars only: a last byte below 0x80 is an ASCII char.
        let width_before = |p: usize| match b.get(..p) {
            Some([]) | None => 0,
            Some([.., a]) if *a < 0x80 => 1,
            Some(_) => 3,
        };
        let mut last_width = width_before(p);
        let before_segment = len > 0 && next_char_extends_segment(input, p);
        if before_segment {
            // The last char's segment goes on: the general path takes it,
            // and its flag (written above if it is kana) is zero again.
            len -= last_width;
            p -= last_width;
            if let Some(f) = out.flags.get_mut(flags_start + len) {
                *f = 0;
            }
            last_width = if len == 0 { 0 } else { width_before(p) };
        }
        out.text.truncate(text_start + len);
        out.flags_len = flags_start + len;
        if len > 0 {
            out.copy_run_origins_at(text_start as u32, pos as u32, p as u32, last_width as u32);
        }
        (p, before_segment)
    }

    /// The context state after the plain 3-byte chars `run` (input bytes,
    /// whole chars, not empty) written by [`Assembler::emit_plain3_piece`]:
    /// what [`Assembler::try_emit`] leaves after emitting them one by one.
    /// Kept apart from the piece so that it is computed only when something
    /// reads it: a bridge char after the piece sets the whole state itself.
    fn set_plain_tail(&mut self, run: &[u8]) {
        // The piece length (capped at 2) depends on the last two chars only.
        // `is_japanese` of an emitted char: kana, kanji and 々〆〇.
        let japanese = |cp: u32| cp >= 0x3041 || (0x3005..=0x3007).contains(&cp);
        // The run holds whole plain chars and ASCII bridge chars only:
        // their code points are decoded without checks (the last byte of
        // a 3-byte char is never ASCII).
        let cp = |c0: u8, c1: u8, c2: u8| {
            ((u32::from(c0) & 0x0F) << 12) | ((u32::from(c1) & 0x3F) << 6) | (u32::from(c2) & 0x3F)
        };
        let (last_cp, before_cp) = match *run {
            // A bridge char last: not Japanese, so the rest does not matter.
            [.., a] if a < 0x80 => (u32::from(a), None),
            [.., a, c0, c1, c2] if a < 0x80 => (cp(c0, c1, c2), Some(u32::from(a))),
            [.., a0, a1, a2, c0, c1, c2] => (cp(c0, c1, c2), Some(cp(a0, a1, a2))),
            [.., c0, c1, c2] => (cp(c0, c1, c2), None),
            _ => (0, None),
        };
        self.piece = match before_cp {
            _ if !japanese(last_cp) => 0,
            None => (self.piece + 1).min(2),
            Some(before) if japanese(before) => 2,
            Some(_) => 1,
        };
        let hira = (0x3041..=0x3096).contains(&last_cp);
        let last = char::from_u32(if hira { last_cp + 0x60 } else { last_cp });
        self.last = last;
        self.last_hira = hira;
        self.left = last;
        self.run_space = false;
    }
}

/// Number of ASCII chars from byte `pos` of `b` on that
/// [`Assembler::try_emit`] would write at once one after another, given the
/// ASCII char `prev` written just before them (and whether it was a space
/// that started a white space run): it stops before a letter with neither
/// an alphanumeric char before it nor one after it (a possible spaced
/// single letter), a space after white space (the run collapses), other
/// horizontal white space, and the first non-ASCII byte. Whether a mark
/// extends the last char's segment is left to the caller.
#[inline(always)]
fn ascii_run_len(b: &[u8], pos: usize, prev: u8, prev_space: bool) -> usize {
    let rest = b.get(pos..).unwrap_or_default();
    let mut prev = prev;
    let mut prev_space = prev_space;
    let mut n = 0;
    while let Some(&c) = rest.get(n) {
        let emit = match c {
            b'0'..=b'9' => true,
            b'a'..=b'z' | b'A'..=b'Z' => {
                prev.is_ascii_alphanumeric()
                    || rest.get(n + 1).is_some_and(u8::is_ascii_alphanumeric)
            }
            b' ' => !prev_space,
            b'\t' | 0x0B | 0x0C | 0x80.. => false,
            _ => true,
        };
        if !emit {
            break;
        }
        prev = c;
        prev_space = c == b' ';
        n += 1;
    }
    n
}

/// ASCII chars that [`Assembler::try_emit`] writes at once whatever comes
/// before or after them: digits, the newline and the punctuation that is
/// neither a separator (`_ + / | * .`, dropped between Japanese chars) nor
/// the dash (`-`, ー after katakana). Letters (spaced single letters),
/// spaces and other whitespace are not.
const BRIDGE_ASCII: [bool; 128] = {
    let mut table = [false; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        table[c] = b.is_ascii_digit()
            || b == b'\n'
            || matches!(
                b,
                b'!' | b'"'
                    | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b','
                    | b':'
                    | b';'
                    | b'<'
                    | b'='
                    | b'>'
                    | b'?'
                    | b'@'
                    | b'['
                    | b'\\'
                    | b']'
                    | b'^'
                    | b'`'
                    | b'{'
                    | b'}'
                    | b'~'
            );
        c += 1;
    }
    table
};

/// The *bridge* char at byte `p` of `b` (valid UTF-8, `p` a char
/// boundary), folded, with its width in the input: one of
/// [`BRIDGE_ASCII`], or the full-width form (U+FF01..=U+FF5E) of one
/// other than the newline, which `fast_char` folds to that ASCII char with
/// no flags. Bridge chars join runs of plain chars in
/// [`Assembler::emit_plain3_run`].
#[inline(always)]
fn bridge_at(b: &[u8], p: usize) -> Option<(char, usize)> {
    match *b.get(p..)? {
        [b0, ..] if b0 < 0x80 => BRIDGE_ASCII[b0 as usize].then_some((char::from(b0), 1)),
        [0xEF, b1 @ (0xBC | 0xBD), b2, ..] => {
            // U+FF00..=U+FF7F; the forms of ASCII are U+FF01..=U+FF5E.
            let u = 0xFF00 | (u32::from(b1 & 0x03) << 6) | u32::from(b2 & 0x3F);
            let ascii = u
                .checked_sub(0xFEE0)
                .filter(|&a| (0x21..0x7F).contains(&a))?;
            let ascii = u8::try_from(ascii).ok()?;
            BRIDGE_ASCII[ascii as usize].then_some((char::from(ascii), 3))
        }
        _ => None,
    }
}

/// Whether the char at byte `p` of `input` continues the segment of the
/// char before it (a combining mark, a variation selector, ...): a byte
/// loop must then leave that char to the general path.
#[inline(always)]
fn next_char_extends_segment(input: &str, p: usize) -> bool {
    !never_extends_segment(input.as_bytes(), p) && char_at_extends_segment(input, p)
}

/// The slow half of [`next_char_extends_segment`]: decode the char at `p`
/// and ask [`extends_segment`] (kept out of line: the byte test above
/// answers for nearly every char).
#[inline(never)]
fn char_at_extends_segment(input: &str, p: usize) -> bool {
    input
        .get(p..)
        .and_then(|r| r.chars().next())
        .is_some_and(extends_segment)
}

/// True when the char starting at byte `p` of `b` (valid UTF-8, `p` a char
/// boundary) is known from its first bytes not to extend the segment of the
/// char before it (see [`extends_segment`]), or when there is no char
/// there: ASCII, kanji U+4000..=U+9FFF, CJK punctuation U+3000..=U+3029,
/// kana except the voicing marks U+3099..=U+309C, full-width forms and
/// half-width katakana U+FF00..=U+FF9D. False means "decode and ask
/// `extends_segment`".
#[inline(always)]
fn never_extends_segment(b: &[u8], p: usize) -> bool {
    let Some(&b0) = b.get(p) else {
        return true;
    };
    match b0 {
        0x00..=0x7F | 0xE4..=0xE9 => true,
        0xE3 => match b.get(p + 1) {
            Some(0x81 | 0x83) => true,
            Some(0x80) => b.get(p + 2).is_some_and(|&b2| b2 <= 0xA9),
            Some(0x82) => b.get(p + 2).is_some_and(|&b2| !(0x99..=0x9C).contains(&b2)),
            _ => false,
        },
        0xEF => match b.get(p + 1) {
            Some(0xBC | 0xBD) => true,
            Some(0xBE) => b.get(p + 2).is_some_and(|&b2| b2 <= 0x9D),
            _ => false,
        },
        _ => false,
    }
}

/// Plain chars among U+3000..=U+30FF (see [`plain3`]), one bit each.
const PLAIN_30XX: [u64; 4] = {
    let mut bits = [0u64; 4];
    let mut u = 0x3000u32;
    while u < 0x3100 {
        if matches!(u, 0x3001..=0x3011 | 0x3013..=0x301F | 0x3041..=0x3096 | 0x30A1..=0x30FA | 0x30FC)
        {
            bits[((u - 0x3000) >> 6) as usize] |= 1 << (u & 63);
        }
        u += 1;
    }
    bits
};

/// [`PLAIN_30XX`] by the last UTF-8 byte (E3 b1 b2): bit `b1 - 0x80` of
/// entry `b2` is set when U+3000..=U+30FF's char E3 b1 b2 is plain.
const PLAIN_30XX_BY_LAST: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut u = 0x3000u32;
    while u < 0x3100 {
        let i = (u - 0x3000) as usize;
        if (PLAIN_30XX[i >> 6] >> (i & 63)) & 1 != 0 {
            table[0x80 | (u & 0x3F) as usize] |= 1 << ((u >> 6) & 0x03);
        }
        u += 1;
    }
    table
};

/// Index of U+3000..=U+30FF (lead byte E3, second byte 80..=83) in the
/// 256-entry tables below, from the last two bytes.
#[inline(always)]
fn plain_30xx_index(b1: u8, b2: u8) -> usize {
    ((b1 as usize & 0x03) << 6) | (b2 as usize & 0x3F)
}

/// For the plain chars of U+3000..=U+30FF: the last two UTF-8 bytes of the
/// folded char (hiragana → katakana, +0x60; the lead byte stays E3) and its
/// flags (`F_KANA_FW` for kana, 0 for CJK punctuation), as
/// `fast_char` folds them. The entries of the other chars are all zero (a
/// first byte of 0, never a continuation byte, marks them not plain).
const PLAIN_30XX_FOLD: [[u8; 3]; 256] = {
    let mut table = [[0u8; 3]; 256];
    let mut u = 0x3000u32;
    while u < 0x3100 {
        let i = (u - 0x3000) as usize;
        if (PLAIN_30XX[i >> 6] >> (i & 63)) & 1 != 0 {
            let hiragana = matches!(u, 0x3041..=0x3096);
            let kana = hiragana || matches!(u, 0x30A1..=0x30FA | 0x30FC);
            let folded = if hiragana { u + 0x60 } else { u };
            table[i] = [
                0x80 | ((folded >> 6) & 0x3F) as u8,
                0x80 | (folded & 0x3F) as u8,
                if kana { F_KANA_FW } else { 0 },
            ];
        }
        u += 1;
    }
    table
};

/// Bytes of input copied at once by [`Assembler::emit_plain3_piece`]
/// before its chars are classified (a multiple of 3: 32 chars, more than
/// most pieces hold).
const PIECE_WINDOW: usize = 96;

/// Whether the 3 bytes at a char boundary of valid UTF-8 are a plain
/// 3-byte char (see [`plain3`]), tested on bytes: E5..=E9 lead U+5000..=U+9FFF
/// (kanji), E4 leads U+4000..=U+4FFF (kanji from U+4E01 = E4 B8 81), E3
/// leads U+3000..=U+3FFF (kana and CJK punctuation by table).
#[inline(always)]
fn is_plain3_bytes(b0: u8, b1: u8, b2: u8) -> bool {
    match b0 {
        0xE5..=0xE9 => true,
        0xE4 => b1 > 0xB8 || (b1 == 0xB8 && b2 >= 0x81),
        // Bit `b1 - 0x80` of the last byte's entry (`b1 & 0x1F` for
        // b1 in 0x80..=0x83).
        0xE3 => {
            (0x80..=0x83).contains(&b1)
                && (u32::from(PLAIN_30XX_BY_LAST[b2 as usize]) >> (b1 & 0x1F)) & 1 != 0
        }
        _ => false,
    }
}

/// The code point of the char at byte `p` of `b` (valid UTF-8) if it is a
/// *plain 3-byte* char: one that [`fast_char`] folds to a quiet char (see
/// [`is_quiet`]) of the same width — kanji U+4E01..=U+9FFF, katakana
/// U+30A1..=U+30FA and ー, hiragana (→ katakana, +0x60) and the CJK
/// punctuation U+3001..=U+301F except 〒. Checked on bytes, without decoding
/// through `chars()`.
#[inline(always)]
fn plain3(b: &[u8], p: usize) -> Option<u32> {
    let &[b0, b1, b2] = b.get(p..p + 3)? else {
        return None;
    };
    // In valid UTF-8, E3..=E9 lead a 3-byte sequence (U+3000..=U+9FFF); a
    // continuation byte (not a char boundary) is never accepted.
    if !is_plain3_bytes(b0, b1, b2) {
        return None;
    }
    Some(((b0 as u32 & 0x0F) << 12) | ((b1 as u32 & 0x3F) << 6) | (b2 as u32 & 0x3F))
}

fn feed_units(
    units: &[Unit],
    out: &mut Out,
    last: &mut Option<char>,
    last_hira: &mut bool,
    piece: &mut usize,
    gap_next: &mut bool,
    left: Option<char>,
) {
    let joins = letter_joins(units, left);
    let mut i = 0;
    while i < units.len() {
        let u = units[i];
        if !*gap_next && is_plain(u.ch) {
            // No context rule applies to this char itself.
            out.push(u.ch, u.start, u.end, u.flags & !F_HIRA);
            *piece = if is_japanese(u.ch) {
                (*piece + 1).min(2)
            } else {
                0
            };
            *last = Some(u.ch);
            *last_hira = u.flags & F_HIRA != 0;
            i += 1;
            continue;
        }
        if is_run_char(u.ch) {
            let mut k = i;
            while k < units.len() && is_run_char(units[k].ch) {
                k += 1;
            }
            let next = units.get(k);
            let drop_jp =
                (*last).is_some_and(is_japanese) && next.is_some_and(|n| is_japanese(n.ch));
            let drop_latin = joins.as_ref().is_some_and(|j| j[i]);
            if drop_jp || drop_latin {
                let next_piece_single = units.get(k + 1).is_none_or(|n| !is_japanese(n.ch));
                if drop_latin || *piece <= 1 || next_piece_single {
                    // Flag the gap on the next char (emitted next iteration).
                    *gap_next = true;
                }
                *piece = 0;
                i = k;
                continue;
            }
            let mut prev_space = false;
            for r in &units[i..k] {
                if is_hspace(r.ch) {
                    if prev_space {
                        out.extend_last(r.end);
                    } else {
                        out.push(' ', r.start, r.end, r.flags & (F_GAP | F_OBF));
                    }
                    prev_space = true;
                } else {
                    out.push(r.ch, r.start, r.end, r.flags & (F_GAP | F_OBF));
                    prev_space = false;
                }
            }
            *last = Some(units[k - 1].ch);
            *last_hira = false;
            *piece = 0;
            i = k;
            continue;
        }
        let mut ch = u.ch;
        let mut flags = u.flags;
        if *gap_next {
            flags |= F_GAP;
            *gap_next = false;
        }
        if (*last).is_some_and(is_kata_ish) {
            if is_dash(ch)
                && units
                    .get(i + 1)
                    .is_none_or(|n| !n.ch.is_ascii_alphanumeric())
            {
                ch = 'ー';
            } else if ch == '一' {
                let mut k = i + 1;
                while k < units.len() && is_run_char(units[k].ch) {
                    k += 1;
                }
                if let Some(n) = units.get(k)
                    && is_kata_letter(n.ch)
                    && !matches!(n.ch, 'ツ' | 'カ' | 'ヵ' | 'ヶ' | 'ケ')
                {
                    ch = 'ー';
                    if !*last_hira && n.flags & F_HIRA == 0 {
                        flags |= F_OBF;
                    }
                }
            }
        }
        out.push(ch, u.start, u.end, flags & !F_HIRA);
        *piece = if is_japanese(ch) {
            (*piece + 1).min(2)
        } else {
            0
        };
        *last = Some(ch);
        *last_hira = flags & F_HIRA != 0;
        i += 1;
    }
}

/// Conservative check that `input` is its own normalization up to ASCII
/// lowercasing (so the map is the identity). False negatives are fine: they
/// only take the general path.
fn already_normalized(input: &str) -> bool {
    let mut prev: Option<char> = None;
    let mut prev2: Option<char> = None;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        let Some((folded, _)) = fast_char(c) else {
            return false;
        };
        if folded != c.to_ascii_lowercase() || chars.peek().is_some_and(|&d| extends_segment(d)) {
            return false;
        }
        if is_run_char(c) {
            if c != ' ' && !is_separator(c) {
                return false;
            }
            if c == ' ' {
                let next = chars.peek().copied();
                if next.is_some_and(is_hspace) {
                    return false;
                }
                // Possible spaced single letters: leave to the general path.
                let after_next = chars.clone().nth(1);
                if prev.is_some_and(|p| p.is_ascii_alphabetic())
                    && !prev2.is_some_and(is_alphanumeric)
                    && next.is_some_and(|n| n.is_ascii_alphabetic())
                    && !after_next.is_some_and(is_alphanumeric)
                {
                    return false;
                }
            }
            if prev.is_some_and(is_japanese) {
                let mut ahead = chars.clone();
                while ahead.peek().is_some_and(|&d| is_run_char(d)) {
                    ahead.next();
                }
                if ahead.peek().is_some_and(|&d| is_japanese(d)) {
                    return false;
                }
            }
        }
        if prev.is_some_and(is_kata_ish) && (is_dash(c) || c == '一') {
            return false;
        }
        prev2 = prev;
        prev = Some(c);
    }
    true
}

/// Pure-ASCII input: true if normalization is just lowercasing (no tabs, no
/// whitespace runs, no spaced single letters).
fn ascii_needs_only_lowercase(b: &[u8]) -> bool {
    let alnum = |i: usize| b.get(i).is_some_and(u8::is_ascii_alphanumeric);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\t' | 0x0B | 0x0C => return false,
            b' ' => {
                if i + 1 < b.len() && matches!(b[i + 1], b' ' | b'\t' | 0x0B | 0x0C) {
                    return false;
                }
                // "x y" with both lone letters could start a spaced-letter chain.
                if i >= 1
                    && b[i - 1].is_ascii_alphabetic()
                    && (i < 2 || !alnum(i - 2))
                    && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
                    && !alnum(i + 2)
                {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> String {
        normalize_literal(s)
    }

    /// Find `needle` (normalized) in normalize(orig) and return the original
    /// text of the hit plus its obfuscation flag.
    fn hit(orig: &str, needle: &str) -> (String, bool) {
        let norm = normalize(orig);
        let needle = normalize_literal(needle);
        let at = norm
            .text()
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {:?}", norm.text()));
        let r = at..at + needle.len();
        (
            orig[norm.original_range(r.clone())].to_string(),
            norm.is_obfuscated(r),
        )
    }

    #[test]
    fn nfkc_width_and_dakuten() {
        assert_eq!(n("ｱﾏｿﾞﾝ"), "アマゾン");
        assert_eq!(n("ｼﾞ"), "ジ");
        assert_eq!(n("シ゛"), "ジ");
        assert_eq!(n("ハ゜"), "パ");
        assert_eq!(n("ﾊﾟｽﾜｰﾄﾞ"), "パスワード");
        assert_eq!(n("０１２０"), "0120");
        assert_eq!(n("㈱"), "(株)");
    }

    #[test]
    fn case_folding() {
        assert_eq!(n("ＡＭＡＺＯＮ"), "amazon");
        assert_eq!(n("Amazon.CO.JP"), "amazon.co.jp");
        assert_eq!(n("ÀÉ"), "àé");
    }

    #[test]
    fn hiragana_to_katakana() {
        assert_eq!(n("どこも"), "ドコモ");
        assert_eq!(n("ゝゞ"), "ヽヾ");
        assert_eq!(n("ゔ"), "ヴ");
        assert_eq!(n("か\u{3099}"), "ガ");
    }

    #[test]
    fn long_vowels_and_dashes() {
        assert_eq!(n("ス-パ-"), "スーパー");
        assert_eq!(n("カ－ド"), "カード");
        assert_eq!(n("メ‐ル"), "メール");
        assert_eq!(n("セ—ル"), "セール");
        assert_eq!(n("サ−ビス"), "サービス");
        assert_eq!(n("ｻｰﾋﾞｽ"), "サービス");
        assert_eq!(n("0120-12-3456"), "0120-12-3456");
        assert_eq!(n("ドコモ-ID"), "ドコモ-id");
        assert_eq!(n("インタ一ネット"), "インターネット");
        assert_eq!(n("一般社団法人"), "一般社団法人");
        assert_eq!(n("もう一つ"), "モウ一ツ");
        assert_eq!(n("ユーザ一"), "ユーザ一");
        assert_eq!(n("1〜3月"), "1〜3月");
    }

    #[test]
    fn zero_width_and_variation_selectors() {
        assert_eq!(n("ド\u{200B}コ\u{200D}モ"), "ドコモ");
        assert_eq!(n("a\u{00AD}b\u{FEFF}c\u{2060}"), "abc");
        assert_eq!(n("葛\u{E0100}飾"), "葛飾");
        assert_eq!(n("❤\u{FE0F}"), "❤");
        assert_eq!(n("ト\u{200B}\u{3099}"), "ド");
    }

    /// Fuzzing found `A<soft hyphen><U+0344>` normalized to `a\u{308}\u{301}`
    /// and then, the second time, to `ä\u{301}`: the soft hyphen split the
    /// letter from its combining mark, unlike the other zero-width characters.
    #[test]
    fn soft_hyphen_between_letter_and_mark_is_idempotent() {
        for s in ["A\u{AD}\u{344}", "a\u{AD}\u{308}", "W\u{AD}A\u{AD}\u{344}"] {
            let once = normalize(s);
            assert_eq!(normalize(once.text()).text(), once.text(), "{s:?}");
        }
        assert_eq!(n("a\u{AD}\u{308}"), "ä");
        // Offsets still cover the soft hyphen and the mark.
        let x = normalize("xa\u{AD}\u{308}y");
        assert_eq!(x.original_range(1..3), 1..6);
    }

    #[test]
    fn emoji_between_japanese_chars_are_separators() {
        // Scams split a word with emoji so that no phrase matches it.
        assert_eq!(n("元🙌本🙌保🙌証"), "元本保証");
        assert_eq!(n("い💕い💕ね"), "イイネ");
        assert_eq!(n("副🌟業"), "副業");
        assert_eq!(n("還★付☆金"), "還付金");
        assert_eq!(n("です😊 よろしく"), "デスヨロシク");
        // Not between two Japanese chars: kept, like any separator.
        assert_eq!(n("😊です"), "😊デス");
        assert_eq!(n("です😊"), "デス😊");
        assert_eq!(n("3💴0💴万"), "3💴0💴万");
        assert_eq!(n("月💴3"), "月💴3");
        // Arrows and ※ point at what follows: not separators.
        assert_eq!(n("確認→こちら"), "確認→コチラ");
        // The dropped emoji mark a gap inside a word (an evasion trick).
        let hidden = normalize("元🙌本🙌保🙌証");
        assert!(hidden.is_obfuscated(0..hidden.text.len()));
    }

    #[test]
    fn separators_inside_words() {
        assert_eq!(n("ド コ モ"), "ドコモ");
        assert_eq!(n("ド　コ　モ"), "ドコモ");
        assert_eq!(n("イ・ン・タ・ー"), "インター");
        assert_eq!(n("ｲ･ﾝ･ﾀ･ｰ"), "インター");
        assert_eq!(n("完+全_無/料"), "完全無料");
        assert_eq!(n("完|全*無.料"), "完全無料");
        assert_eq!(n("d o c o m o"), "docomo");
        assert_eq!(n("A m a z o n"), "amazon");
        assert_eq!(n("I am a boy"), "i am a boy");
        assert_eq!(n("a  b"), "a b");
        assert_eq!(n("x\t \t y"), "x y");
        assert_eq!(n("ド\nコ"), "ド\nコ");
        assert_eq!(n("ドコモ  ID"), "ドコモ id");
        assert_eq!(n("1.5"), "1.5");
    }

    #[test]
    fn regression_uppercase_whose_lowercase_is_a_lookalike_is_idempotent() {
        for s in ["Ɡ", "ƓƓ", "aƓ", "ՍՕ", "Սample"] {
            let once = normalize(s);
            assert_eq!(normalize(once.text()).text(), once.text(), "{s}");
        }
    }

    #[test]
    fn lookalikes() {
        assert_eq!(n("\u{0430}mazon"), "amazon");
        assert_eq!(n("АМАZОN"), "amazon");
        assert_eq!(n("ΑΡΡLΕ"), "apple");
        assert_eq!(n("pаypаl"), "paypal");
    }

    #[test]
    fn original_ranges() {
        assert_eq!(hit("ﾄﾞ ｺ ﾓ", "ドコモ").0, "ﾄﾞ ｺ ﾓ");
        assert_eq!(hit("お知らせ：ﾄﾞ ｺ ﾓより", "ドコモ").0, "ﾄﾞ ｺ ﾓ");
        assert_eq!(hit("【ＡＭＡＺＯＮ】", "amazon").0, "ＡＭＡＺＯＮ");
        assert_eq!(
            hit("xインタ一ネットx", "インターネット").0,
            "インタ一ネット"
        );
        assert_eq!(hit("シ゛ャパン", "ジャパン").0, "シ゛ャパン");
        assert_eq!(hit("Hello  World", "world").0, "World");
        assert_eq!(hit("ア\u{200B}マゾン", "アマゾン").0, "ア\u{200B}マゾン");
        assert_eq!(hit("㈱ABC", "株").0, "㈱");
        let norm = normalize("a   b");
        assert_eq!(norm.text(), "a b");
        assert_eq!(norm.original_range(1..2), 1..4);
        assert_eq!(norm.original_range(3..3), 5..5);
        assert_eq!(norm.original_range(2..100), 4..5);
    }

    #[test]
    fn obfuscation_flags() {
        // Evasion.
        assert!(hit("ド コ モ", "ドコモ").1);
        assert!(hit("ド\u{200B}コモ", "ドコモ").1);
        assert!(hit("イ・ン・タ・ー", "インター").1);
        assert!(hit("シ゛ャパン", "ジャパン").1);
        assert!(hit("インタ一ネット", "インターネット").1);
        assert!(hit("\u{0430}mazon", "amazon").1);
        assert!(hit("ドコﾓ", "ドコモ").1);
        assert!(hit("Ａmazon", "amazon").1);
        assert!(hit("d o c o m o", "docomo").1);
        assert!(hit("𝐚𝐦𝐚𝐳𝐨𝐧", "amazon").1);
        // Not evasion.
        assert!(!hit("ﾄﾞｺﾓ", "ドコモ").1);
        assert!(!hit("ドコモ", "ドコモ").1);
        assert!(!hit("どこも", "ドコモ").1);
        assert!(!hit("ＡＭＡＺＯＮ", "amazon").1);
        assert!(!hit("AMAZON", "amazon").1);
        assert!(!hit("アマゾン・ジャパン", "アマゾンジャパン").1);
        assert!(!hit("\u{200B}ドコモ", "ドコモ").1);
        assert!(!hit("ド コ モ", "モ").1);
        assert!(!hit("スーパー", "スーパー").1);
    }

    #[test]
    fn regex_source() {
        assert_eq!(normalize_regex_source(r"ドコモ\d+"), r"ドコモ\d+");
        assert_eq!(normalize_regex_source(r"どこも\D\S\W\B"), r"ドコモ\D\S\W\B");
        assert_eq!(normalize_regex_source(r"\P{Han}+ＡＢＣ"), r"\P{Han}+abc");
        assert_eq!(normalize_regex_source(r"\pL[ぁ-ゖ]"), r"\pL[ァ-ヶ]");
        assert_eq!(
            normalize_regex_source(r"(?i)(?P<Amount>\d+)円"),
            r"(?i)(?P<Amount>\d+)円"
        );
        assert_eq!(normalize_regex_source(r"(?U)ｶﾞ"), r"(?U)ガ");
        assert_eq!(normalize_regex_source("（株）"), r"\(株\)");
        assert_eq!(normalize_regex_source(r"\x{FF21}Ａ"), r"\x{FF21}a");
        assert_eq!(normalize_regex_source("trailing\\"), "trailing\\");
        for src in [
            r"ドコモ\d+",
            r"\P{Han}+ＡＢＣ",
            "（株）",
            r"(?i)(?P<Amount>\d+)円",
        ] {
            regex::Regex::new(&normalize_regex_source(src)).unwrap();
        }
    }

    #[test]
    fn regex_source_fast_path_agrees_with_reference() {
        // Every BMP code point alone, with a half-width voicing mark, and as a
        // literal next to syntax.
        for u in 0..0x1_0000u32 {
            let Some(c) = char::from_u32(u) else { continue };
            for s in [
                format!("{c}"),
                format!("{c}\u{FF9E}"),
                format!("{c}\u{FF9F}+"),
                format!("[{c}]\\{c}"),
            ] {
                assert_eq!(
                    normalize_regex_source(&s),
                    reference::normalize_regex_source(&s),
                    "U+{u:04X}"
                );
            }
        }
    }

    #[test]
    fn fast_char_agrees_with_general_path() {
        // Every char `fast_char` folds: same char and same flags as the
        // general path (NFKC and per-char folding).
        let mut sc = Scratch::default();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if let Some((fast, flags)) = fast_char(c) {
                sc.out.clear();
                let (general_flags, _) = fold_segment(c.encode_utf8(&mut [0; 4]), &mut sc);
                assert_eq!(sc.out, fast.to_string(), "U+{:04X}", c as u32);
                assert_eq!(flags, general_flags, "flags of U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn edge_cases_do_not_panic() {
        for s in [
            "",
            "\u{3099}",
            "\u{309B}",
            "\u{FF9E}\u{FF9F}",
            "\u{200B}",
            "\u{FE0F}",
            "\u{0301}\u{0301}",
            " ",
            "\n\r\n",
            "ー",
            "一",
            "-",
            "ア-",
        ] {
            let norm = normalize(s);
            let t = norm.text().to_string();
            assert_eq!(normalize_literal(&t), t, "{s:?}");
            let _ = norm.original_range(0..t.len());
            let _ = norm.is_obfuscated(0..t.len());
        }
        let big = "ﾄﾞｺﾓ ア\u{0301}".repeat(10_000);
        assert!(!normalize(&big).text().is_empty());
    }

    #[test]
    fn fast_lane_keeps_left_context() {
        // Letters right after directly emitted kana/kanji are not lone
        // letters: "カa b c" has only two spaced single letters.
        for s in [
            "漢字カa b c",
            "漢字カ、a b c d",
            "カナカ-a",
            "漢字漢 一カ",
            "字字字 字",
        ] {
            check_reference(s, true).unwrap();
        }
    }

    #[test]
    fn chunking_matches_line_by_line() {
        let lines = [
            "ﾄﾞ ｺ ﾓ d o c o m o",
            "インタ一ネット ス-パ-",
            "\u{200B}イ・ン・タ・ー a b c",
            "ア",
            "-ア\u{3099}",
        ];
        let text: String = (0..3000)
            .map(|i| lines[i % lines.len()])
            .collect::<Vec<_>>()
            .join("\n");
        let whole = normalize(&text);
        let by_line: Vec<String> = text.split('\n').map(normalize_literal).collect();
        assert_eq!(whole.text(), by_line.join("\n"));
        let needle = normalize_literal("ドコモ");
        for (at, _) in whole.text().match_indices(&needle) {
            let r = whole.original_range(at..at + needle.len());
            assert_eq!(&text[r], "ﾄﾞ ｺ ﾓ");
            assert!(whole.is_obfuscated(at..at + needle.len()));
        }
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "ア",
            "ド",
            "ｼ",
            "ﾞ",
            "ﾟ",
            "゛",
            "゜",
            "か",
            "\u{3099}",
            "一",
            "ー",
            "ｰ",
            "-",
            "－",
            "‐",
            " ",
            "　",
            "\t",
            "\n",
            "・",
            "･",
            "_",
            "+",
            "/",
            "|",
            "*",
            ".",
            "a",
            "B",
            "Ａ",
            "ｂ",
            "а",
            "Ο",
            "\u{200B}",
            "\u{200D}",
            "\u{FE0F}",
            "\u{E0100}",
            "\u{0301}",
            "é",
            "㈱",
            "㍿",
            "ﬁ",
            "İ",
            "0",
            "1",
            "〜",
            "ツ",
            "ゟ",
            "¨",
            "‥",
            "𝐚",
            "ᄀ",
            "ㅏ",
            "가",
        ]);
        prop::collection::vec(
            prop_oneof![
                pieces.prop_map(String::from),
                any::<char>().prop_map(String::from)
            ],
            0..24,
        )
        .prop_map(|v| v.concat())
    }

    /// Mostly quiet characters (the direct-emission fast lane of
    /// `segment_units`) with the units whose context rules look across them:
    /// spaced single letters, separators, dashes, 一, zero-width gaps.
    fn quiet_text_strategy() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "漢",
            "字",
            "カ",
            "ナ",
            "ツ",
            "ー",
            "、",
            "。",
            "々",
            "〇",
            "「",
            "か",
            "な",
            "a",
            "b",
            "Z",
            "1",
            " ",
            "　",
            "\t",
            "\n",
            "・",
            "/",
            ".",
            "-",
            "－",
            "一",
            "\u{200B}",
            "ｶ",
            "ﾞ",
            "゛",
            "\u{3099}",
            "ア",
            "ト",
            "漢字カ",
            "カナ、",
            "a b",
            " c",
            "x y z",
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
    }

    /// Long runs of plain 3-byte chars (the byte-level loop of
    /// `Assembler::emit_plain3_run`) mixed with the chars at the edges of its
    /// ranges and with everything whose rules look across neighbours: marks
    /// and selectors that extend the last char of a run, separators and
    /// spaces between Japanese chars, spaced single letters, dashes and 一
    /// after katakana, spacing dakuten, zero-width gaps.
    fn plain_run_text_strategy() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "漢字漢字",
            "かなかな",
            "カナカナ",
            "会員の更新に失敗しました。",
            "ごりようりょうきん",
            "ぁゖ",
            "ァヺー",
            "、。「」々〆〇〟",
            "丁鿿",
            // Edges of the plain ranges (not plain themselves).
            "\u{3000}",
            "〒",
            "〠",
            "〿",
            "゗",
            "ゝゞ",
            "ゟ",
            "゠",
            "・",
            "ヽヾ",
            "ヿ",
            "一",
            "㐀",
            "䶿",
            "ꀀ",
            "豈",
            "𠀋",
            // Extend the segment of the char before them.
            "\u{3099}",
            "\u{309A}",
            "゛",
            "゜",
            "ﾞ",
            "ﾟ",
            "\u{FE0F}",
            "\u{E0100}",
            "\u{200B}",
            "\u{0301}",
            "\u{20DD}",
            // Context rules.
            " ",
            "　",
            "\t",
            "\n",
            "/",
            ".",
            "-",
            "－",
            "‐",
            "ツ",
            "カ",
            "a",
            "b",
            "1",
            " a b c ",
            "x y z",
            "ｶ",
            "ｰ",
            "Ａ",
            "é",
            // Bridge chars (see `bridge_at`) and their neighbours.
            "：",
            "（１２）",
            "！",
            "\n\n",
            "0",
            ":",
            "(",
            "\\",
            "～",
            "／",
            "＿",
            "ａ",
            "\r",
        ]);
        prop::collection::vec(pieces, 0..32).prop_map(|v| v.concat())
    }

    /// Every pair of short pieces (a plain char of each kind, the edges of
    /// the plain ranges, marks, separators, dashes, letters) after a run
    /// that has entered the byte-level loop, between kanji or before a
    /// katakana: checked against the reference.
    #[test]
    fn plain_run_loop_pairs_agree_with_reference() {
        let pieces = [
            "漢",
            "か",
            "カ",
            "ー",
            "、",
            "々",
            "〇",
            "〟",
            "丁",
            "鿿",
            "ゖ",
            "ヺ",
            "ツ",
            "\u{3000}",
            "〒",
            "〠",
            "゗",
            "ゝ",
            "・",
            "ヽ",
            "一",
            "㐀",
            "豈",
            "𠀋",
            "\u{3099}",
            "゛",
            "ﾞ",
            "\u{FE0F}",
            "\u{E0100}",
            "\u{200B}",
            "\u{0301}",
            " ",
            "　",
            "\n",
            "/",
            "-",
            "－",
            "a",
            "1",
            "ｶ",
            "Ａ",
            "",
        ];
        for prefix in ["漢字漢", "かなか", "字。"] {
            for x in pieces {
                for y in pieces {
                    for s in [
                        format!("{prefix}字{x}字{y}漢字"),
                        format!("{prefix}{x}{y}カ{x}"),
                    ] {
                        assert_agrees_with_reference(&s, false);
                    }
                }
            }
        }
    }

    /// A bridge char inside a plain run followed by what the ASCII byte
    /// loop is not called for (non-ASCII or the end of the text) or by
    /// ASCII that it takes: `emit_plain3_run` skips the call when the byte
    /// after the bridge is not ASCII, so both sides are checked against
    /// the reference.
    #[test]
    fn bridge_followed_by_non_ascii_or_end_agrees_with_reference() {
        let bridges = ["\n", "1", ":", "(", "）", "：", "１", "！"];
        let after = [
            "", "漢", "か", "カ", "ｶ", "ﾞ", "\u{3099}", "\u{FE0F}", "\u{200B}", "é", "🌀",
            "\u{3000}", "・", "Ａ", "a", "ab", "1", " ", "\t", "-",
        ];
        for bridge in bridges {
            for next in after {
                for s in [
                    format!("漢字{bridge}{next}"),
                    format!("かな{bridge}{next}字"),
                    format!("字{bridge}{next}{bridge}{next}"),
                ] {
                    check_reference(&s, false).unwrap_or_else(|e| panic!("{s:?}: {e}"));
                }
            }
        }
    }

    /// Pieces around the units [`Assembler::try_emit`] emits at once or
    /// leaves buffered: lone letters and words, whitespace and separators
    /// next to Japanese or Latin, dashes and 一 after katakana, newlines,
    /// zero-width gaps, hiragana next to 一.
    /// Pieces around and inside runs of the ASCII byte loop
    /// (`Assembler::emit_ascii_run`): letters with and without alphanumeric
    /// neighbours, spaced single letters, whitespace runs, separators and
    /// dashes, marks extending an ASCII char's segment, and the non-ASCII
    /// chars that end a run.
    const ASCII_RUN_PIECES: [&str; 40] = [
        "a",
        "Z",
        "ab",
        "Docomo",
        "7",
        "0120",
        " ",
        "  ",
        "\t",
        "\u{0B}",
        "\r\n",
        "\n",
        "/",
        "https://x.jp/a?b=c",
        ".",
        "-",
        "_",
        "+",
        "|",
        "*",
        ":",
        "@",
        "\u{0}",
        "\u{7F}",
        "d o c",
        " x ",
        "\u{0301}",
        "\u{3099}",
        "\u{FE0F}",
        "\u{200B}",
        "ﾞ",
        "漢字",
        "かな",
        "ア",
        "ー",
        "一",
        "\u{3000}",
        "・",
        "Ａ",
        "é",
    ];

    #[test]
    fn ascii_run_loop_pairs_agree_with_reference() {
        let pieces = ASCII_RUN_PIECES;
        for prefix in ["x1", "ab ", "a.", "ア1", "漢字a"] {
            for x in pieces {
                for y in pieces {
                    for s in [format!("{prefix}{x}{y}b"), format!("{prefix}{x}c{y}")] {
                        assert_agrees_with_reference(&s, false);
                    }
                }
            }
        }
    }

    const DIRECT_PIECES: [&str; 25] = [
        "a", "bc", "x y", "X", "7", " ", "  ", "\t", "\u{3000}", "・", ".", "/", "-", "－", "ー",
        "一", "ア", "かな", "漢字", "、", "\n", "\u{200B}", "ｱ", "ﾞ", "é",
    ];

    /// Every string of three pieces, at every byte offset: direct emission
    /// and buffering must give what the reference gives.
    #[test]
    fn direct_emission_triples_agree_with_reference() {
        for a in DIRECT_PIECES {
            for b in DIRECT_PIECES {
                for c in DIRECT_PIECES {
                    let s = format!("{a}{b}{c}");
                    assert_agrees_with_reference(&s, true);
                }
            }
        }
    }

    /// Every ASCII char and every char of U+FF00..=U+FFEF (the bridge
    /// chars of `Assembler::emit_plain3_run`, the full-width letters,
    /// separators and dash next to them, half-width kana) between and after
    /// plain runs, next to marks, separators, dashes and letters: checked
    /// against the reference.
    #[test]
    fn bridge_chars_agree_with_reference() {
        let contexts = [
            ("漢", "漢"),
            ("ア", "ア"),
            ("かな", "かな"),
            ("漢", ""),
            ("", "漢"),
            ("漢", "\u{3099}漢"),
            ("漢", "\u{0301}"),
            ("ア", "\u{FE0F}ア"),
            ("漢", "ab漢"),
            ("漢", "a b c"),
            ("漢", " 漢"),
            ("漢", "　漢"),
            ("ア", "-ア"),
            ("ア", "ーア"),
            ("ア", "一ア"),
            ("漢", "\n\nア"),
            ("ア", "：１ア"),
            ("漢\u{200B}", "漢"),
        ];
        let chars = (0..0x80u32)
            .chain(0xFF00..=0xFFEF)
            .filter_map(char::from_u32);
        for c in chars {
            for (before, after) in contexts {
                for s in [
                    format!("{before}{c}{after}"),
                    format!("{before}{c}{c}{after}"),
                ] {
                    assert_agrees_with_reference(&s, false);
                }
            }
        }
    }

    /// Separators after a Japanese char written by the byte loop
    /// (`Assembler::separators_after_japanese`): every separator run between pieces of
    /// one or two Japanese chars (or CJK punctuation, where nothing is
    /// dropped), followed by what decides the gap flag, at the end of input
    /// or not: checked against the reference.
    /// An ASCII bridge char after a plain run is written with the ASCII
    /// after it by one byte loop (and the run's tail state is skipped): every
    /// ASCII char and a few full-width forms after plain chars, followed by
    /// every pair of what may continue or end that loop (letters, digits,
    /// white space, separators, dashes, marks, Japanese).
    #[test]
    fn ascii_bridge_and_the_ascii_after_it_agree_with_reference() {
        let follow = [
            "", "a", "Z", "1", " ", "\t", ".", "-", "\n", "\u{0301}", "\u{3099}", "\u{FE0F}",
            "\u{200B}", "漢", "か", "ア",
        ];
        let chars = (0..0x80u32)
            .chain([0xFF11, 0xFF1A, 0xFF08, 0xFF41])
            .filter_map(char::from_u32);
        for c in chars {
            for before in ["漢", "ひら", "アー"] {
                for x in follow {
                    for y in follow {
                        assert_agrees_with_reference(&format!("{before}{c}{x}{y}"), false);
                    }
                }
            }
        }
    }

    #[test]
    fn dropped_separators_agree_with_reference() {
        let japanese = ["漢", "か", "カ", "ー", "、", "々", "漢字", "かな", "ヴ"];
        let separators = [
            " ", "　", "・", "  ", " ・　", "\t", " \t", ".", "/", "_+|*", "・ ", "\t　", " . ",
        ];
        let after = [
            "",
            "漢",
            "a",
            "ab",
            "1",
            "\n",
            "\u{3099}",
            "\u{200B}",
            "、",
            "ａ",
            "一",
            "-",
            " 漢",
            "（",
            "：",
            "\u{0B}",
            "\u{0C}",
            "\r",
            "\u{85}",
            "\u{2028}",
            "x y z",
            "a\u{0301}",
        ];
        for before in ["", "a", "\n", "漢"] {
            for a in japanese {
                for sep in separators {
                    for b in japanese {
                        for c in after {
                            let s = format!("{before}{a}{sep}{b}{c}");
                            assert_agrees_with_reference(&s, false);
                        }
                    }
                }
            }
        }
    }

    /// The state a plain piece leaves (piece length from its last two
    /// chars, decoded from the run; last char, folded, and whether it was
    /// hiragana): every pair of plain chars of each kind and at the edges
    /// of the plain ranges, as the last two chars of a run after nothing, a
    /// bridge char or a plain char, followed by what reads that state
    /// (separators before a Japanese char, a dash, 一, a voicing mark).
    #[test]
    fn plain_piece_tail_state_agrees_with_reference() {
        let plain = [
            "漢", "丁", "鿿", "か", "ぁ", "ゖ", "カ", "ァ", "ヺ", "ー", "、", "「", "〟", "々",
            "〆", "〇",
        ];
        let after = [
            "", " か", "・漢", "/カ", "-", "－", "一カ", "一ツ", "\u{3099}", "゛", "1", "\n",
        ];
        for before in ["", "\n", "1", "漢", "か"] {
            for a in plain {
                for b in plain {
                    for c in after {
                        for s in [format!("{before}{a}{b}{c}"), format!("{before}{b}{c}")] {
                            assert_agrees_with_reference(&s, false);
                        }
                    }
                }
            }
        }
    }

    /// ASCII letters written by the byte loop right after a letter or
    /// digit (kana and kanji included), and the ASCII after them: checked
    /// against the reference after every kind of char, with spaced single
    /// letters, marks and Japanese after them.
    #[test]
    fn letters_after_alphanumerics_agree_with_reference() {
        let before = [
            "漢", "カ", "か", "ー", "、", "々", "：", "1", "（", "\n", "漢 ",
        ];
        let letters = [
            "S",
            "SMS",
            "a",
            "a b c",
            "Ab1",
            "x\u{0301}",
            "q\u{200B}",
            "é",
            "ｓ",
        ];
        let after = ["", "漢", " ", "\n", " a", "-ア", "ー", "\u{3099}"];
        for b in before {
            for l in letters {
                for a in after {
                    let s = format!("漢{b}{l}{a}");
                    assert_agrees_with_reference(&s, false);
                }
            }
        }
    }

    /// Bridge chars: exactly the folded chars that `try_emit` writes at
    /// once whatever surrounds them (not plain Japanese, not a run char, a
    /// dash or a letter; no flags), at the width of the input char.
    #[test]
    fn bridge_at_agrees_with_fast_char() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let Some((folded, width)) = bridge_at(bytes, 0) else {
                continue;
            };
            assert_eq!(width, bytes.len(), "{c:?}");
            assert_eq!(fast_char(c), Some((folded, 0)), "{c:?}");
            assert!(folded.is_ascii(), "{c:?}");
            assert!(!folded.is_ascii_alphabetic(), "{c:?}");
            assert!(!is_run_char(folded) && !is_dash(folded), "{c:?}");
            assert!(!is_hspace(folded), "{c:?}");
        }
        for c in ['\n', '0', '9', ':', '(', '!'] {
            assert_eq!(bridge_at(c.to_string().as_bytes(), 0), Some((c, 1)));
        }
        assert_eq!(bridge_at("：".as_bytes(), 0), Some((':', 3)));
        assert_eq!(bridge_at("１".as_bytes(), 0), Some(('1', 3)));
        for s in [
            "a", " ", "-", ".", "/", "ａ", "－", "／", "\u{3000}", "ｱ", "漢", "\t", "\r",
        ] {
            assert_eq!(bridge_at(s.as_bytes(), 0), None, "{s:?}");
        }
        assert_eq!(bridge_at(b"", 0), None);
    }

    #[test]
    fn utf8_string_keeps_valid_text_and_never_panics() {
        for t in [
            "",
            "abc",
            "カタカナ漢字、ー",
            "a\u{1F600}b",
            &"ア".repeat(100),
        ] {
            assert_eq!(utf8_string(t.as_bytes()), t);
        }
        // Never produced by the pipeline, but must not panic either.
        assert_eq!(utf8_string(&[b'a', 0xE3, 0x82]), "a\u{FFFD}");
        assert_eq!(utf8_string(&[0xFF; 70]), "\u{FFFD}".repeat(70));
    }

    #[test]
    fn plain3_agrees_with_fast_char() {
        // Every 3-byte char: `plain3` accepts exactly the chars that
        // `fast_char` folds to a quiet char of the same width.
        for u in 0x800..=0xFFFFu32 {
            let Some(c) = char::from_u32(u) else { continue };
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let expected = fast_char(c)
                .filter(|&(ch, _)| is_quiet(ch) && ch.len_utf8() == 3)
                .is_some();
            assert_eq!(plain3(bytes, 0).is_some(), expected, "U+{u:04X}");
            assert_eq!(plain3(bytes, 1), None);
            // The in-place fold of the byte loop: same bytes and flags as
            // `fast_char` (without the internal hiragana flag).
            if let (true, Some((folded, flags)), &[0xE3, b1, b2]) = (expected, fast_char(c), bytes)
            {
                let mut want = [0; 4];
                folded.encode_utf8(&mut want);
                let got = PLAIN_30XX_FOLD[plain_30xx_index(b1, b2)];
                assert_eq!([0xE3, got[0], got[1]], want[..3], "U+{u:04X}");
                assert_eq!(got[2], flags & !F_HIRA, "flags of U+{u:04X}");
            }
        }
    }

    /// Every 3-byte char after a run of plain chars that ends right
    /// before, at or after the edge of a copied window of
    /// `emit_plain3_piece` (and before a plain char or a mark): the one-pass
    /// classification must stop exactly where `plain3` does, fold the same
    /// way and leave no flag behind the chars it cut off. Text, ranges
    /// around the char and flags are checked against the reference.
    #[test]
    fn every_3_byte_char_at_a_window_edge_agrees_with_reference() {
        let chars_per_window = PIECE_WINDOW / 3;
        for u in 0x800..=0xFFFFu32 {
            let Some(c) = char::from_u32(u) else { continue };
            for before in [
                0,
                chars_per_window - 1,
                chars_per_window,
                2 * chars_per_window + 1,
            ] {
                for after in ["か", "\u{3099}", ""] {
                    let s = format!("{}{c}{after}", "字".repeat(before));
                    let new = normalize(&s);
                    let old = reference::normalize(&s);
                    assert_eq!(new.text(), old.text(), "U+{u:04X} after {before}");
                    let t = new.text();
                    let offs: Vec<usize> =
                        t.char_indices().map(|(i, _)| i).chain([t.len()]).collect();
                    let tail = offs.get(offs.len().saturating_sub(5)..).unwrap_or_default();
                    for &a in tail {
                        for &b in tail.iter().chain(&[0]) {
                            let (a, b) = (a.min(b), a.max(b));
                            assert_eq!(
                                new.original_range(a..b),
                                old.original_range(a..b),
                                "U+{u:04X} after {before}: {a}..{b}"
                            );
                            assert_eq!(
                                new.is_obfuscated(a..b),
                                old.is_obfuscated(a..b),
                                "U+{u:04X} after {before}: {a}..{b}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Plain runs whose copied windows end inside a char, after ASCII
    /// bridge chars (1 or 2 bytes) shifted them off the 3-byte grid, with
    /// every kind of char at the window edge: the next window must start
    /// at the char cut in two, and the whole piece must be one
    /// [`SAME_WIDTH`] origin run as the reference sees it.
    #[test]
    fn windows_cut_inside_a_char_after_bridges_agree_with_reference() {
        let chars_per_window = PIECE_WINDOW / 3;
        let edge_chars = [
            "漢", "か", "カ", "、", "一", "〒", "\u{3099}", "ｶ", "é", "Ａ", "１", "\n", "1", "a",
            " ", "・", "-", "🌀",
        ];
        for prefix in ["1", "1\n", "漢1", "か:"] {
            for before in [chars_per_window - 2, chars_per_window - 1, chars_per_window] {
                for c in edge_chars {
                    for after in ["か", "1か", "\u{3099}", ""] {
                        let s = format!("{prefix}{}{c}{after}", "字".repeat(before));
                        assert_agrees_with_reference(&s, false);
                    }
                }
            }
        }
    }

    /// Origins of chars that keep their widths are one run across kanji,
    /// kana, newlines and digits, but a char of another width (a
    /// full-width digit, a collapsed space run) still starts a run of its
    /// own, and the ranges around it are the reference's.
    #[test]
    fn same_width_runs_end_at_width_changes() {
        for s in [
            "漢字\n123かな\nカナ",
            "漢字１２かな",
            "漢字  \tかな",
            "かな　　カナ",
            "ｶﾀｶﾅ漢字\n1",
            "漢字\n\u{3099}か",
        ] {
            assert_agrees_with_reference(s, true);
        }
        let n = normalize("漢字\n123かな\nカナ");
        let Map::Runs { runs, .. } = &n.map else {
            panic!("hiragana is folded: the map is not the identity");
        };
        assert_eq!(runs.len(), 1, "{runs:?}");
    }

    /// The fold table marks exactly the plain chars of U+3000..=U+30FF (a
    /// non-zero first byte): `emit_plain3_piece` classifies them by it.
    #[test]
    fn fold_table_marks_exactly_the_plain_kana_and_punctuation() {
        for u in 0x3000..=0x30FFu32 {
            let Some(c) = char::from_u32(u) else { continue };
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let &[_, b1, b2] = bytes else {
                panic!("U+{u:04X} is 3 bytes");
            };
            let marked = PLAIN_30XX_FOLD[plain_30xx_index(b1, b2)][0] != 0;
            assert_eq!(marked, plain3(bytes, 0).is_some(), "U+{u:04X}");
        }
    }

    /// Compare against the reference implementation: text, `original_range`
    /// and `is_obfuscated` for every pair of byte offsets (char boundaries or
    /// not, reversed and out of bounds included).
    /// [`check_reference`] for the exhaustive tests: a disagreement fails
    /// the test, naming the input.
    fn assert_agrees_with_reference(s: &str, all_bytes: bool) {
        if let Err(e) = check_reference(s, all_bytes) {
            panic!("{s:?}: {e}");
        }
    }

    fn check_reference(s: &str, all_bytes: bool) -> Result<(), TestCaseError> {
        let new = normalize(s);
        let old = reference::normalize(s);
        prop_assert_eq!(new.text(), old.text());
        prop_assert_eq!(normalize_literal(s), reference::normalize_literal(s));
        prop_assert_eq!(
            normalize_regex_source(s),
            reference::normalize_regex_source(s)
        );
        let t = new.text();
        let offs: Vec<usize> = if all_bytes {
            (0..=t.len() + 2).collect()
        } else {
            t.char_indices().map(|(i, _)| i).chain([t.len()]).collect()
        };
        for &a in &offs {
            for &b in &offs {
                prop_assert_eq!(
                    new.original_range(a..b),
                    old.original_range(a..b),
                    "range {}..{} of {:?}",
                    a,
                    b,
                    s
                );
                prop_assert_eq!(
                    new.is_obfuscated(a..b),
                    old.is_obfuscated(a..b),
                    "obfuscated {}..{} of {:?}",
                    a,
                    b,
                    s
                );
            }
        }
        Ok(())
    }

    /// Found by `agrees_with_reference` in CI: after a folded letter, an
    /// emoji is kept byte for byte, and an offset inside it mapped to an
    /// offset inside the original emoji instead of the whole character.
    #[test]
    fn mid_char_offsets_after_a_folded_letter_map_to_the_whole_char() {
        for s in ["B🌀", "aB🌀", "B🌀x", "Ｂ🌀", "B€é"] {
            check_reference(s, true).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        }
        let n = normalize("B🌀");
        assert_eq!(n.original_range(2..3), 1..5);
        assert_eq!(n.original_range(3..3), 1..1);
    }

    #[test]
    fn is_alphanumeric_shortcut_agrees_with_std_on_every_char() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                super::is_alphanumeric(c),
                c.is_alphanumeric(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn char_classes_agree_with_reference() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            // The byte-level shortcut never says "does not extend" wrongly.
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            if never_extends_segment(bytes, 0) {
                assert!(!extends_segment(c), "U+{:04X}", c as u32);
            }
            assert_eq!(
                extends_segment(c),
                reference::extends_segment(c),
                "U+{:04X}",
                c as u32
            );
            assert_eq!(
                is_run_char(c),
                reference::is_run_char(c),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn hw_kana_agrees_with_general_path() {
        for u in 0xFF61..=0xFF9Du32 {
            let base = char::from_u32(u).unwrap();
            for mark in [None, Some('\u{FF9E}'), Some('\u{FF9F}')] {
                let seg: String = [Some(base), mark].into_iter().flatten().collect();
                let mut sc = Scratch::default();
                let (f, _) = fold_segment(&seg, &mut sc);
                if let Some((ch, fast_f)) = hw_kana(base, mark) {
                    assert_eq!(sc.out, ch.to_string(), "{seg:?}");
                    assert_eq!(f, fast_f, "{seg:?}");
                } else {
                    assert!(mark.is_some(), "{seg:?}");
                }
            }
        }
    }

    /// Flags are zeroed ahead in blocks (`Out::next_flags`): chars with
    /// flags written on either side of a growth step (the first block,
    /// then each doubling) keep them, and the ones without stay zero.
    #[test]
    fn flags_across_growth_steps_agree_with_reference() {
        let tail = "ｱアＡaひ漢ｲ\nイ";
        for boundary in [FLAGS_BLOCK, 2 * FLAGS_BLOCK, 4 * FLAGS_BLOCK] {
            for pad in 0..12 {
                let filler = "漢字かな\n".repeat((boundary - 16) / 13);
                let text = format!("{filler}{}{tail}{tail}", "x".repeat(pad));
                let new = normalize(&text);
                let old = reference::normalize(&text);
                assert_eq!(new.text(), old.text());
                let t = new.text();
                let from = t.len().saturating_sub(tail.len() * 2 + 16);
                let bounds: Vec<usize> = t
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([t.len()])
                    .filter(|&i| i >= from)
                    .collect();
                for &a in &bounds {
                    for &b in &bounds {
                        assert_eq!(
                            new.is_obfuscated(a..b),
                            old.is_obfuscated(a..b),
                            "{a}..{b}, boundary {boundary}, pad {pad}"
                        );
                        assert_eq!(new.original_range(a..b), old.original_range(a..b));
                    }
                }
            }
        }
    }

    #[test]
    fn reference_agrees_on_large_mixed_text() {
        let lines = [
            "【ドコモ】お客様のご利用料金が未払いです。https://docomo-pay.example.com/login",
            "ｱﾏｿﾞﾝﾌﾟﾗｲﾑ会員の更新に失敗しました。ＡＭＡＺＯＮアカウントを確認してください。",
            "三井住友カードをご利用いただき、0120-12-3456までご連絡ください。",
            "ﾄﾞ ｺ ﾓ d o c o m o インタ一ネット ス-パ- シ゛ャパン ㈱ABC",
            "\u{200B}イ・ン・タ・ー a   b\tc ｲ･ﾝ･ﾀ･ｰ аmazon Ａmazon 𝐚𝐦𝐚𝐳𝐨𝐧 ﾜﾞｦﾞｳﾞｱﾞﾊﾟ",
            "",
            "明日の会議は午後3時からです。　資料は共有フォルダに置いてあります。",
        ];
        let text: String = (0..6000)
            .map(|i| lines[i % lines.len()])
            .collect::<Vec<_>>()
            .join("\n");
        let new = normalize(&text);
        let old = reference::normalize(&text);
        assert_eq!(new.text(), old.text());
        let t = new.text();
        let bounds: Vec<usize> = t.char_indices().map(|(i, _)| i).chain([t.len()]).collect();
        for w in bounds.windows(2) {
            assert_eq!(
                new.original_range(w[0]..w[1]),
                old.original_range(w[0]..w[1])
            );
            assert_eq!(
                new.original_range(w[0]..w[0]),
                old.original_range(w[0]..w[0])
            );
        }
        for w in bounds.windows(9).step_by(3) {
            for r in [w[0]..w[8], w[1]..w[5], w[2]..w[3]] {
                assert_eq!(new.original_range(r.clone()), old.original_range(r.clone()));
                assert_eq!(new.is_obfuscated(r.clone()), old.is_obfuscated(r));
            }
        }
        assert_eq!(
            new.original_range(0..t.len()),
            old.original_range(0..t.len())
        );
    }

    #[test]
    fn reference_agrees_on_small_ranges_of_codepoints() {
        // Every BMP code point alone, after a katakana, and before a mark.
        for u in 0..0x3_0000u32 {
            let Some(c) = char::from_u32(u) else { continue };
            for s in [
                format!("{c}"),
                format!("ア{c}ア"),
                format!("{c}\u{FF9E}"),
                format!("{c}\u{309A}x"),
            ] {
                let new = normalize(&s);
                let old = reference::normalize(&s);
                assert_eq!(new.text(), old.text(), "U+{u:04X}");
                let t = new.text();
                for a in 0..=t.len() {
                    for b in a..=t.len() {
                        assert_eq!(
                            new.original_range(a..b),
                            old.original_range(a..b),
                            "U+{u:04X} {s:?}"
                        );
                        assert_eq!(new.is_obfuscated(a..b), old.is_obfuscated(a..b));
                    }
                }
            }
        }
    }

    #[test]
    fn regression_a_tibetan_vowel_sign_after_greek_accents_is_reordered_the_first_time() {
        for s in ["\u{1FDD}\u{0F81}", "\u{1FDD}\u{0F73}", "a\u{0301}\u{0F75}"] {
            let once = normalize_literal(s);
            assert_eq!(normalize_literal(&once), once, "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn idempotent(s in text_strategy()) {
            let once = normalize_literal(&s);
            prop_assert_eq!(normalize_literal(&once), once);
        }

        #[test]
        fn idempotent_any(s in any::<String>()) {
            let once = normalize_literal(&s);
            prop_assert_eq!(normalize_literal(&once), once);
        }

        #[test]
        fn ranges_valid_and_monotonic(s in text_strategy()) {
            let norm = normalize(&s);
            let t = norm.text();
            let bounds: Vec<usize> = t.char_indices().map(|(i, _)| i).chain([t.len()]).collect();
            let mut prev_start = 0;
            for w in bounds.windows(2) {
                let r = norm.original_range(w[0]..w[1]);
                prop_assert!(r.start <= r.end && r.end <= s.len());
                prop_assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end));
                prop_assert!(r.start >= prev_start);
                prev_start = r.start;
            }
            for &a in &bounds {
                for &b in &bounds {
                    if a <= b {
                        let r = norm.original_range(a..b);
                        prop_assert!(r.start <= r.end && r.end <= s.len());
                        prop_assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end));
                        let _ = norm.is_obfuscated(a..b);
                    }
                }
            }
        }

        #[test]
        fn shortcut_agrees_with_general_path(s in text_strategy()) {
            let fast = normalize(&s);
            let general = normalize_general(&s);
            prop_assert_eq!(fast.text(), general.text());
            let t = fast.text();
            let again = normalize(t);
            prop_assert!(matches!(again.map, Map::Identity) || again.text() != t);
        }

        #[test]
        fn fast_lane_agrees_with_reference(s in quiet_text_strategy()) {
            check_reference(&s, true)?;
        }

        #[test]
        fn plain_run_loop_agrees_with_reference(s in plain_run_text_strategy()) {
            check_reference(&s, false)?;
        }

        #[test]
        fn long_plain_runs_agree_with_reference(
            s in prop::collection::vec(
                (prop::collection::vec(prop::sample::select(vec!["漢", "か", "カ", "ー", "、", "鿿"]), 0..120),
                 prop::sample::select(vec!["", "\n", "1", "a", " ", "〒", "\u{3099}", "ﾞ", "\u{FE0F}", "一", "・", "ｶ", "é"])),
                0..4,
            ).prop_map(|v| v.into_iter().map(|(run, end)| run.concat() + end).collect::<String>())
        ) {
            check_reference(&s, false)?;
        }

        #[test]
        fn ascii_run_loop_agrees_with_reference(
            v in prop::collection::vec(prop::sample::select(ASCII_RUN_PIECES.to_vec()), 0..40)
        ) {
            check_reference(&v.concat(), false)?;
        }

        #[test]
        fn direct_emission_agrees_with_reference(
            v in prop::collection::vec(prop::sample::select(DIRECT_PIECES.to_vec()), 0..40)
        ) {
            check_reference(&v.concat(), false)?;
        }

        #[test]
        fn agrees_with_reference(s in text_strategy()) {
            check_reference(&s, true)?;
        }

        #[test]
        fn agrees_with_reference_any(s in any::<String>()) {
            check_reference(&s, false)?;
        }

        #[test]
        fn no_panic_arbitrary(s in any::<String>(), a in 0usize..64, b in 0usize..64) {
            let norm = normalize(&s);
            let _ = norm.original_range(a..b);
            let _ = norm.is_obfuscated(a..b);
            let _ = normalize_regex_source(&s);
        }
    }
}

/// The original (pre-optimization) implementation, kept verbatim as the
/// reference the optimized pipeline is checked against.
#[cfg(test)]
#[allow(dead_code)]
mod reference {
    use std::ops::Range;

    use icu_normalizer::ComposingNormalizerBorrowed;
    use icu_normalizer::properties::CanonicalCombiningClassMapBorrowed;

    const NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();
    const CCC: CanonicalCombiningClassMapBorrowed<'static> =
        CanonicalCombiningClassMapBorrowed::new();

    /// The character itself is an evasion trick (look-alike, recombined spacing
    /// dakuten, 一 as long vowel, removed variation selector / inner zero-width).
    const F_OBF: u8 = 1;
    /// An evasion gap (dropped zero-width char or in-word separator) precedes it.
    const F_GAP: u8 = 2;
    /// Came from half-width katakana.
    const F_KANA_HW: u8 = 4;
    /// Came from full-width katakana or hiragana.
    const F_KANA_FW: u8 = 8;
    /// Came from an ASCII letter.
    const F_LATIN_HW: u8 = 16;
    /// Came from a full-width Latin letter.
    const F_LATIN_FW: u8 = 32;
    /// Came from hiragana (internal: 一 next to hiragana is not flagged).
    const F_HIRA: u8 = 64;

    /// Result of normalizing one text: the normalized text plus the map from
    /// normalized bytes to original bytes and per-character evasion flags.
    #[derive(Debug, Clone)]
    pub struct Normalized {
        text: String,
        orig_len: usize,
        map: Map,
    }

    #[derive(Debug, Clone)]
    enum Map {
        /// Normalized byte `i` came from original byte `i` (same char boundaries).
        Identity,
        /// Per normalized byte: origin start, origin end, flags. Continuation bytes
        /// repeat the values of their character's first byte.
        Table {
            starts: Vec<u32>,
            ends: Vec<u32>,
            flags: Vec<u8>,
        },
    }

    impl Normalized {
        /// The normalized text.
        pub fn text(&self) -> &str {
            &self.text
        }

        /// Map a byte range of the normalized text (on char boundaries) to the byte
        /// range of the original text it came from. The result is always on char
        /// boundaries of the original, `start <= end`, and covers every original
        /// char that produced any normalized char in the range. Out-of-bounds or
        /// reversed input ranges are clamped, never a panic.
        pub fn original_range(&self, normalized: Range<usize>) -> Range<usize> {
            let len = self.text.len();
            let s = normalized.start.min(len);
            let e = normalized.end.clamp(s, len);
            match &self.map {
                // Inside a character, the whole character (as the table
                // gives it).
                Map::Identity if s == e => {
                    let s = self.text.floor_char_boundary(s);
                    s..s
                }
                Map::Identity => self.text.floor_char_boundary(s)..self.text.ceil_char_boundary(e),
                Map::Table { starts, ends, .. } => {
                    if s == e {
                        let p = starts.get(s).map_or(self.orig_len, |&p| p as usize);
                        return p..p;
                    }
                    let a = starts[s] as usize;
                    let b = (ends[e - 1] as usize).max(a);
                    a..b
                }
            }
        }

        /// True when the original text behind this normalized range used an
        /// evasion trick: zero-width characters or variation selectors removed,
        /// separators dropped inside a word, spacing dakuten recombined, kanji 一
        /// used as a long vowel, Cyrillic/Greek look-alike letters, or width
        /// *mixing* inside the range (half-width and full-width katakana together,
        /// or full-width and ASCII Latin letters together). Uniformly half-width
        /// or full-width text is not evasion.
        pub fn is_obfuscated(&self, normalized: Range<usize>) -> bool {
            let Map::Table { flags, .. } = &self.map else {
                return false;
            };
            let len = self.text.len();
            let s = normalized.start.min(len);
            let e = normalized.end.clamp(s, len);
            let mut all = 0u8;
            let mut first = true;
            for (i, &f) in flags[s..e].iter().enumerate() {
                // Only look at the first byte of each character.
                if !self.text.is_char_boundary(s + i) {
                    continue;
                }
                all |= f & !F_GAP;
                if !first && f & F_GAP != 0 {
                    return true;
                }
                first = false;
            }
            all & F_OBF != 0
                || (all & F_KANA_HW != 0 && all & F_KANA_FW != 0)
                || (all & F_LATIN_HW != 0 && all & F_LATIN_FW != 0)
        }
    }

    /// Normalize a message (see the module docs for the pipeline).
    pub fn normalize(input: &str) -> Normalized {
        let stable = if input.is_ascii() {
            ascii_needs_only_lowercase(input.as_bytes())
        } else {
            already_normalized(input)
        };
        if stable {
            return Normalized {
                text: input.to_ascii_lowercase(),
                orig_len: input.len(),
                map: Map::Identity,
            };
        }
        normalize_general(input)
    }

    /// The full pipeline, without the identity shortcuts.
    fn normalize_general(input: &str) -> Normalized {
        let mut scratch = Scratch::default();
        let mut asm = Assembler::new(input.len() + input.len() / 4);
        segment_units(input, &mut asm, &mut scratch);
        let Out {
            text,
            starts,
            ends,
            flags,
        } = asm.out;
        let map = if text == input {
            Map::Identity
        } else {
            Map::Table {
                starts,
                ends,
                flags,
            }
        };
        Normalized {
            text,
            orig_len: input.len(),
            map,
        }
    }

    /// Same pipeline as [`normalize`], text only (used for rule literals):
    /// `normalize_literal(x) == normalize(x).text()`.
    pub fn normalize_literal(input: &str) -> String {
        normalize(input).text
    }

    /// Normalize a regex *source* written by a rule author so that it matches
    /// normalized text. The per-character folding (NFKC, hiragana → katakana,
    /// Latin lowercase, look-alikes) is applied to literal characters only: never
    /// to the character after a backslash, nor inside `\p{..}`/`\P{..}`/`\x{..}`,
    /// nor to group flags and names (`(?i)`, `(?U)`, `(?P<Name>`), so regex syntax
    /// such as `\D`, `\S`, `\W`, `\B`, `\P{Han}` survives. A literal that folds to
    /// a regex metacharacter (`（` → `(`) is escaped. Context rules (separator
    /// dropping, long-vowel unification) are not applied.
    pub fn normalize_regex_source(source: &str) -> String {
        let mut out = String::with_capacity(source.len());
        let mut scratch = Scratch::default();
        let chars: Vec<(usize, char)> = source.char_indices().collect();
        let mut i = 0;
        while i < chars.len() {
            let (pos, c) = chars[i];
            if c == '\\' {
                // Copy the escape verbatim.
                out.push('\\');
                i += 1;
                let Some(&(_, n)) = chars.get(i) else { break };
                out.push(n);
                i += 1;
                if matches!(n, 'p' | 'P' | 'x' | 'u' | 'U') {
                    if chars.get(i).is_some_and(|&(_, b)| b == '{') {
                        while let Some(&(_, b)) = chars.get(i) {
                            out.push(b);
                            i += 1;
                            if b == '}' {
                                break;
                            }
                        }
                    } else if matches!(n, 'p' | 'P')
                        && let Some(&(_, b)) = chars.get(i)
                    {
                        out.push(b);
                        i += 1;
                    }
                }
                continue;
            }
            if c == '(' && chars.get(i + 1).is_some_and(|&(_, b)| b == '?') {
                // Group flags or name: copy verbatim up to ':' / ')' / '>'.
                out.push_str("(?");
                i += 2;
                let named = chars.get(i).is_some_and(|&(_, b)| b == '<' || b == 'P');
                while let Some(&(_, b)) = chars.get(i) {
                    out.push(b);
                    i += 1;
                    if (named && b == '>') || (!named && (b == ':' || b == ')')) {
                        break;
                    }
                }
                continue;
            }
            // A literal segment: this char plus following combining marks.
            let mut j = i + 1;
            while j < chars.len() && extends_segment(chars[j].1) {
                j += 1;
            }
            let end = chars.get(j).map_or(source.len(), |&(p, _)| p);
            let seg = &source[pos..end];
            scratch.out.clear();
            fold_segment(seg, &mut scratch);
            if scratch.out == seg {
                out.push_str(seg);
            } else {
                for ch in scratch.out.chars() {
                    if is_regex_meta(ch) && !seg.contains(ch) {
                        out.push('\\');
                    }
                    out.push(ch);
                }
            }
            i = j;
        }
        out
    }

    fn is_regex_meta(c: char) -> bool {
        matches!(
            c,
            '\\' | '.'
                | '+'
                | '*'
                | '?'
                | '('
                | ')'
                | '|'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '$'
                | '#'
                | '&'
                | '-'
                | '~'
        )
    }

    // ---------------------------------------------------------------------------
    // Character classes

    fn is_zero_width(c: char) -> bool {
        matches!(
            c,
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
        )
    }

    fn is_variation_selector(c: char) -> bool {
        matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
    }

    /// Does `c` belong to the segment of the preceding base character?
    pub(super) fn extends_segment(c: char) -> bool {
        let u = c as u32;
        // The soft-hyphen fix of the main implementation is applied here too:
        // the reference checks optimizations, not this bug.
        if (u < 0x300 && u != 0xAD)
            || (0x3400..=0x9FFF).contains(&u)
            || (0x30A0..=0x30FF).contains(&u)
        {
            return false;
        }
        matches!(
            c,
            '\u{FF9E}' | '\u{FF9F}' | '\u{309B}' | '\u{309C}' | '\u{3099}' | '\u{309A}'
        ) || is_variation_selector(c)
            || is_zero_width(c)
            || CCC.get_u8(c) != 0
            || super::decomposes_to_a_mark(c)
    }

    /// Katakana letters (after folding, hiragana are katakana too).
    fn is_kata_letter(c: char) -> bool {
        matches!(c, '\u{30A1}'..='\u{30FA}')
    }

    fn is_kata_ish(c: char) -> bool {
        is_kata_letter(c) || c == 'ー'
    }

    /// Japanese characters between which separators are dropped.
    fn is_japanese(c: char) -> bool {
        matches!(c,
        '\u{3041}'..='\u{3096}'
        | '\u{309D}'..='\u{309F}'
        | '\u{30A1}'..='\u{30FA}'
        | '\u{30FC}'..='\u{30FF}'
        | '\u{3005}'..='\u{3007}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3FFFF}')
    }

    /// Horizontal whitespace (collapsed / dropped); newlines are not.
    fn is_hspace(c: char) -> bool {
        c == ' '
            || c == '\t'
            || (c.is_whitespace() && !matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
    }

    /// Non-space separators dropped between Japanese characters: word
    /// separators, and emoji and pictographs.
    fn is_separator(c: char) -> bool {
        matches!(c, '・' | '_' | '+' | '/' | '|' | '*' | '.')
            || matches!(c, '\u{2600}'..='\u{27BF}' | '\u{2B50}' | '\u{2B55}' | '\u{1F300}'..='\u{1FAFF}')
    }

    pub(super) fn is_run_char(c: char) -> bool {
        is_hspace(c) || is_separator(c)
    }

    /// Dash variants (after NFKC) unified to ー after katakana.
    fn is_dash(c: char) -> bool {
        matches!(
            c,
            '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{2500}' | '\u{2501}'
        )
    }

    /// Latin look-alikes (Cyrillic, Greek, a few others), mapped by shape.
    fn lookalike(c: char) -> Option<char> {
        Some(match c {
            // Cyrillic lowercase
            'а' => 'a',
            'е' => 'e',
            'о' => 'o',
            'р' => 'p',
            'с' => 'c',
            'у' => 'y',
            'х' => 'x',
            'ѕ' => 's',
            'і' => 'i',
            'ј' => 'j',
            'ԁ' => 'd',
            'һ' => 'h',
            'ԛ' => 'q',
            'ԝ' => 'w',
            'ӏ' => 'l',
            'ѵ' => 'v',
            // Cyrillic uppercase
            'А' => 'a',
            'В' => 'b',
            'Е' => 'e',
            'К' => 'k',
            'М' => 'm',
            'Н' => 'h',
            'О' => 'o',
            'Р' => 'p',
            'С' => 'c',
            'Т' => 't',
            'Х' => 'x',
            'У' | 'Ү' => 'y',
            'Ѕ' => 's',
            'І' | 'Ӏ' => 'i',
            'Ј' => 'j',
            'Ԁ' => 'd',
            'Ԛ' => 'q',
            'Ԝ' => 'w',
            // Greek uppercase
            'Α' => 'a',
            'Β' => 'b',
            'Ε' => 'e',
            'Ζ' => 'z',
            'Η' => 'h',
            'Ι' => 'i',
            'Κ' => 'k',
            'Μ' => 'm',
            'Ν' => 'n',
            'Ο' => 'o',
            'Ρ' => 'p',
            'Τ' => 't',
            'Υ' => 'y',
            'Χ' => 'x',
            // Greek lowercase
            'α' => 'a',
            'ε' => 'e',
            'ι' => 'i',
            'κ' => 'k',
            'ν' => 'v',
            'ο' => 'o',
            'ρ' => 'p',
            'υ' => 'u',
            'χ' => 'x',
            // Others
            'ı' => 'i',
            'ɡ' => 'g',
            'օ' => 'o',
            'ս' => 'u',
            _ => return None,
        })
    }

    /// Width / script flags of a source base character.
    fn source_flags(c: char) -> u8 {
        match c {
            'a'..='z' | 'A'..='Z' => F_LATIN_HW,
            '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => F_LATIN_FW,
            '\u{FF66}'..='\u{FF9D}' => F_KANA_HW,
            '\u{30A1}'..='\u{30FA}' | '\u{30FC}' => F_KANA_FW,
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => F_KANA_FW | F_HIRA,
            // Mathematical alphanumerics, circled / squared / parenthesized Latin.
            '\u{1D400}'..='\u{1D7FF}' | '\u{24B6}'..='\u{24E9}' | '\u{1F130}'..='\u{1F189}' => {
                F_OBF
            }
            _ => 0,
        }
    }

    /// Fold a lone base character that needs no NFKC call. `None` = use the
    /// general path.
    #[inline]
    fn fast_char(c: char) -> Option<(char, u8)> {
        let u = c as u32;
        Some(match c {
            'a'..='z' => (c, F_LATIN_HW),
            'A'..='Z' => (c.to_ascii_lowercase(), F_LATIN_HW),
            '\0'..='\x7f' => (c, 0),
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                (char::from_u32(u + 0x60)?, F_KANA_FW | F_HIRA)
            }
            '\u{30A1}'..='\u{30FA}' | '\u{30FC}' => (c, F_KANA_FW),
            '\u{30FB}' | '\u{30FD}' | '\u{30FE}' => (c, 0),
            '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' => (c, 0),
            '\u{3001}'..='\u{3011}' | '\u{3013}'..='\u{301F}' => (c, 0),
            '\u{FF21}'..='\u{FF3A}' => (char::from_u32(u - 0xFEE0 + 0x20)?, F_LATIN_FW),
            '\u{FF41}'..='\u{FF5A}' => (char::from_u32(u - 0xFEE0)?, F_LATIN_FW),
            '\u{FF01}'..='\u{FF5E}' => (char::from_u32(u - 0xFEE0)?, 0),
            _ => return None,
        })
    }

    /// Per-character folding after NFKC. Returns true if it changed anything.
    fn post_map(c: char, out: &mut String) -> bool {
        if let Some(l) = lookalike(c) {
            out.push(l);
            return true;
        }
        match c {
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                out.push(char::from_u32(c as u32 + 0x60).unwrap_or(c));
                true
            }
            'A'..='Z' => {
                out.push(c.to_ascii_lowercase());
                true
            }
            _ if !c.is_ascii() && c.is_uppercase() => {
                let before = out.len();
                // A lowercased letter may itself be a look-alike (Ɡ → ɡ → g): fold it now
                // so a second pass finds nothing left to change.
                out.extend(c.to_lowercase().map(|l| lookalike(l).unwrap_or(l)));
                out[before..] != *c.encode_utf8(&mut [0; 4])
            }
            _ => {
                out.push(c);
                false
            }
        }
    }

    // ---------------------------------------------------------------------------
    // Phase A: segments → units

    #[derive(Debug, Clone, Copy)]
    struct Unit {
        ch: char,
        start: u32,
        end: u32,
        flags: u8,
    }

    #[derive(Default)]
    struct Scratch {
        pre: String,
        nfkc: String,
        out: String,
    }

    /// Fold one segment (base + combining marks) into `scratch.out` (appended).
    /// Returns (flags for every produced char, trailing zero-width seen).
    fn fold_segment(seg: &str, scratch: &mut Scratch) -> (u8, bool) {
        let mut chars = seg.chars();
        let Some(base) = chars.next() else {
            return (0, false);
        };
        let mut flags = source_flags(base);
        let base_hw_kana = matches!(base, '\u{FF61}'..='\u{FF9F}');
        scratch.pre.clear();
        let mut pending_zw = false;
        for c in seg.chars() {
            if is_zero_width(c) {
                pending_zw = true;
                continue;
            }
            if pending_zw {
                flags |= F_OBF;
                pending_zw = false;
            }
            if is_variation_selector(c) {
                if base.is_alphanumeric() {
                    flags |= F_OBF;
                }
                continue;
            }
            match c {
                '\u{309B}' => {
                    flags |= F_OBF;
                    scratch.pre.push('\u{3099}');
                }
                '\u{309C}' => {
                    flags |= F_OBF;
                    scratch.pre.push('\u{309A}');
                }
                '\u{FF9E}' | '\u{FF9F}' if !base_hw_kana => {
                    flags |= F_OBF;
                    scratch.pre.push(c);
                }
                _ => scratch.pre.push(c),
            }
        }
        // NFKC, then per-char folding; repeat while folding changes something so
        // the result is stable (a folded char may compose with a following mark).
        let out_start = scratch.out.len();
        let mut rounds = 0;
        loop {
            scratch.nfkc.clear();
            let _ = NFKC.normalize_to(&scratch.pre, &mut scratch.nfkc);
            scratch.out.truncate(out_start);
            let mut changed = false;
            for c in scratch.nfkc.chars() {
                if lookalike(c).is_some() {
                    flags |= F_OBF;
                }
                changed |= post_map(c, &mut scratch.out);
            }
            rounds += 1;
            if !changed || rounds == 3 || scratch.nfkc.chars().nth(1).is_none() {
                break;
            }
            scratch.pre.clear();
            scratch.pre.push_str(&scratch.out[out_start..]);
        }
        (flags, pending_zw)
    }

    /// Units are buffered per chunk; a chunk is flushed after a newline once it
    /// holds at least this many units, so the buffer stays cache-resident.
    const CHUNK_UNITS: usize = 4096;

    fn segment_units(input: &str, asm: &mut Assembler, scratch: &mut Scratch) {
        let mut units: Vec<Unit> = Vec::with_capacity((CHUNK_UNITS * 2).min(input.len() + 1));
        let mut iter = input.char_indices().peekable();
        let mut pending_gap = false;
        while let Some((s, c)) = iter.next() {
            let mut e = s + c.len_utf8();
            let mut single = true;
            while let Some(&(j, d)) = iter.peek() {
                if extends_segment(d) {
                    e = j + d.len_utf8();
                    single = false;
                    iter.next();
                } else {
                    break;
                }
            }
            let (s32, e32) = (s as u32, e as u32);
            if single {
                if let Some((ch, f)) = fast_char(c) {
                    let f = if pending_gap { f | F_GAP } else { f };
                    pending_gap = false;
                    units.push(Unit {
                        ch,
                        start: s32,
                        end: e32,
                        flags: f,
                    });
                    if ch == '\n' && units.len() >= CHUNK_UNITS {
                        asm.feed(&units);
                        units.clear();
                    }
                    continue;
                }
                if is_zero_width(c) {
                    pending_gap = true;
                    continue;
                }
            }
            scratch.out.clear();
            let (f, trailing_zw) = fold_segment(&input[s..e], scratch);
            for ch in scratch.out.chars() {
                let f = if pending_gap { f | F_GAP } else { f };
                pending_gap = false;
                units.push(Unit {
                    ch,
                    start: s32,
                    end: e32,
                    flags: f,
                });
            }
            pending_gap |= trailing_zw;
        }
        asm.feed(&units);
    }

    // ---------------------------------------------------------------------------
    // Phase B: context rules, output assembly

    struct Out {
        text: String,
        starts: Vec<u32>,
        ends: Vec<u32>,
        flags: Vec<u8>,
    }

    impl Out {
        fn push(&mut self, ch: char, start: u32, end: u32, flags: u8) {
            self.text.push(ch);
            let n = ch.len_utf8();
            for _ in 0..n {
                self.starts.push(start);
                self.ends.push(end);
                self.flags.push(flags);
            }
        }

        /// Extend the origin of the last pushed char to `end`.
        fn extend_last(&mut self, end: u32) {
            let n = self.text.chars().next_back().map_or(0, char::len_utf8);
            let len = self.ends.len();
            for e in &mut self.ends[len - n..] {
                *e = end;
            }
        }
    }

    /// Is `units[i]` a lone ASCII letter (no alphanumeric neighbour)?
    fn single_letter(units: &[Unit], i: usize) -> bool {
        units[i].ch.is_ascii_lowercase()
            && (i == 0 || !units[i - 1].ch.is_alphanumeric())
            && units.get(i + 1).is_none_or(|u| !u.ch.is_alphanumeric())
    }

    /// Mark whitespace units to drop inside chains of >= 3 spaced single letters.
    fn letter_joins(units: &[Unit]) -> Option<Vec<bool>> {
        let mut join: Option<Vec<bool>> = None;
        let mut i = 0;
        while i < units.len() {
            if !single_letter(units, i) {
                i += 1;
                continue;
            }
            // Extend the chain: (hspace+ single-letter)*
            let mut letters = 1usize;
            let mut k = i + 1;
            loop {
                let mut m = k;
                while m < units.len() && is_hspace(units[m].ch) {
                    m += 1;
                }
                if m > k && m < units.len() && single_letter(units, m) {
                    letters += 1;
                    k = m + 1;
                } else {
                    break;
                }
            }
            if letters >= 3 {
                let j = join.get_or_insert_with(|| vec![false; units.len()]);
                for (m, slot) in j.iter_mut().enumerate().take(k).skip(i + 1) {
                    *slot = is_hspace(units[m].ch);
                }
            }
            i = k;
        }
        join
    }

    /// Phase B state, carried across chunks of units.
    struct Assembler {
        out: Out,
        /// Last emitted char.
        last: Option<char>,
        /// Whether the last emitted char came from hiragana.
        last_hira: bool,
        /// Length (capped at 2) of the current Japanese piece.
        piece: usize,
        /// A dropped evasion gap precedes the next emitted char.
        gap_next: bool,
    }

    impl Assembler {
        fn new(cap: usize) -> Self {
            Assembler {
                out: Out {
                    text: String::with_capacity(cap),
                    starts: Vec::with_capacity(cap),
                    ends: Vec::with_capacity(cap),
                    flags: Vec::with_capacity(cap),
                },
                last: None,
                last_hira: false,
                piece: 0,
                gap_next: false,
            }
        }

        /// Feed a chunk of units. Chunks must end right after a newline unit (or
        /// at the end of input), which no context rule looks across.
        fn feed(&mut self, units: &[Unit]) {
            let Assembler {
                out,
                last,
                last_hira,
                piece,
                gap_next,
            } = self;
            feed_units(units, out, last, last_hira, piece, gap_next);
        }
    }

    fn feed_units(
        units: &[Unit],
        out: &mut Out,
        last: &mut Option<char>,
        last_hira: &mut bool,
        piece: &mut usize,
        gap_next: &mut bool,
    ) {
        let joins = letter_joins(units);
        let mut i = 0;
        while i < units.len() {
            let u = units[i];
            if is_run_char(u.ch) {
                let mut k = i;
                while k < units.len() && is_run_char(units[k].ch) {
                    k += 1;
                }
                let next = units.get(k);
                let drop_jp =
                    (*last).is_some_and(is_japanese) && next.is_some_and(|n| is_japanese(n.ch));
                let drop_latin = joins.as_ref().is_some_and(|j| j[i]);
                if drop_jp || drop_latin {
                    let next_piece_single = units.get(k + 1).is_none_or(|n| !is_japanese(n.ch));
                    if drop_latin || *piece <= 1 || next_piece_single {
                        // Flag the gap on the next char (emitted next iteration).
                        *gap_next = true;
                    }
                    *piece = 0;
                    i = k;
                    continue;
                }
                let mut prev_space = false;
                for r in &units[i..k] {
                    if is_hspace(r.ch) {
                        if prev_space {
                            out.extend_last(r.end);
                        } else {
                            out.push(' ', r.start, r.end, r.flags & (F_GAP | F_OBF));
                        }
                        prev_space = true;
                    } else {
                        out.push(r.ch, r.start, r.end, r.flags & (F_GAP | F_OBF));
                        prev_space = false;
                    }
                }
                *last = Some(units[k - 1].ch);
                *last_hira = false;
                *piece = 0;
                i = k;
                continue;
            }
            let mut ch = u.ch;
            let mut flags = u.flags;
            if *gap_next {
                flags |= F_GAP;
                *gap_next = false;
            }
            if (*last).is_some_and(is_kata_ish) {
                if is_dash(ch)
                    && units
                        .get(i + 1)
                        .is_none_or(|n| !n.ch.is_ascii_alphanumeric())
                {
                    ch = 'ー';
                } else if ch == '一' {
                    let mut k = i + 1;
                    while k < units.len() && is_run_char(units[k].ch) {
                        k += 1;
                    }
                    if let Some(n) = units.get(k)
                        && is_kata_letter(n.ch)
                        && !matches!(n.ch, 'ツ' | 'カ' | 'ヵ' | 'ヶ' | 'ケ')
                    {
                        ch = 'ー';
                        if !*last_hira && n.flags & F_HIRA == 0 {
                            flags |= F_OBF;
                        }
                    }
                }
            }
            out.push(ch, u.start, u.end, flags & !F_HIRA);
            *piece = if is_japanese(ch) {
                (*piece + 1).min(2)
            } else {
                0
            };
            *last = Some(ch);
            *last_hira = flags & F_HIRA != 0;
            i += 1;
        }
    }

    /// Conservative check that `input` is its own normalization up to ASCII
    /// lowercasing (so the map is the identity). False negatives are fine: they
    /// only take the general path.
    fn already_normalized(input: &str) -> bool {
        let mut prev: Option<char> = None;
        let mut prev2: Option<char> = None;
        let mut chars = input.chars().peekable();
        while let Some(c) = chars.next() {
            let Some((folded, _)) = fast_char(c) else {
                return false;
            };
            if folded != c.to_ascii_lowercase() || chars.peek().is_some_and(|&d| extends_segment(d))
            {
                return false;
            }
            if is_run_char(c) {
                if c != ' ' && !is_separator(c) {
                    return false;
                }
                if c == ' ' {
                    let next = chars.peek().copied();
                    if next.is_some_and(is_hspace) {
                        return false;
                    }
                    // Possible spaced single letters: leave to the general path.
                    let after_next = chars.clone().nth(1);
                    if prev.is_some_and(|p| p.is_ascii_alphabetic())
                        && !prev2.is_some_and(char::is_alphanumeric)
                        && next.is_some_and(|n| n.is_ascii_alphabetic())
                        && !after_next.is_some_and(char::is_alphanumeric)
                    {
                        return false;
                    }
                }
                if prev.is_some_and(is_japanese) {
                    let mut ahead = chars.clone();
                    while ahead.peek().is_some_and(|&d| is_run_char(d)) {
                        ahead.next();
                    }
                    if ahead.peek().is_some_and(|&d| is_japanese(d)) {
                        return false;
                    }
                }
            }
            if prev.is_some_and(is_kata_ish) && (is_dash(c) || c == '一') {
                return false;
            }
            prev2 = prev;
            prev = Some(c);
        }
        true
    }

    /// Pure-ASCII input: true if normalization is just lowercasing (no tabs, no
    /// whitespace runs, no spaced single letters).
    fn ascii_needs_only_lowercase(b: &[u8]) -> bool {
        let alnum = |i: usize| b.get(i).is_some_and(u8::is_ascii_alphanumeric);
        for (i, &c) in b.iter().enumerate() {
            match c {
                b'\t' | 0x0B | 0x0C => return false,
                b' ' => {
                    if i + 1 < b.len() && matches!(b[i + 1], b' ' | b'\t' | 0x0B | 0x0C) {
                        return false;
                    }
                    // "x y" with both lone letters could start a spaced-letter chain.
                    if i >= 1
                        && b[i - 1].is_ascii_alphabetic()
                        && (i < 2 || !alnum(i - 2))
                        && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
                        && !alnum(i + 2)
                    {
                        return false;
                    }
                }
                _ => {}
            }
        }
        true
    }
}
