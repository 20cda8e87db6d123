//! Entities found in a message: links, phone numbers and money amounts.
//!
//! Scams are recognised as much by what they point at as by what they say: a
//! parcel notice that links to a `.top` domain, a refund that asks you to call
//! an 050 number, a prize of 8,750万円. Entities are extracted from the
//! *normalized* text (so ｈｔｔｐｓ：／／ and ０９０ are read like their ASCII
//! forms, and hxxp / `[.]` defanging is undone) and reported as spans of the
//! original text. Kanji numerals are read for amounts (八千七百五十万円).

use std::sync::LazyLock;

use memchr::{memchr, memchr_iter, memchr2_iter, memmem};
use regex::Regex;
use regex_automata::util::prefilter::Prefilter;
use regex_automata::{MatchKind, Span};
use serde::Serialize;

use crate::message::PartKind;
use crate::normalize::Normalized;

/// A link found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Url {
    /// The link as written in the message.
    pub text: String,
    /// The link with defanging undone and width normalized (`https://example.top/x`).
    pub url: String,
    /// Lowercase host name (or IP address), without port or user info.
    pub host: String,
    /// Written to dodge filters: `hxxp`, `[.]`, full-width scheme, and similar.
    pub obfuscated: bool,
    /// Its letters were disguised: Cyrillic or Greek look-alikes, zero-width
    /// characters or mixed widths, read as ASCII in `host`. Unlike
    /// `obfuscated` this leaves out defanging (`hxxp`, `[.]`), which genuine
    /// warnings use to quote links, and uniformly full-width writing: a host
    /// that reads as a brand's own only after such folding is a disguise.
    #[serde(skip)]
    pub lookalike_letters: bool,
    /// Shown rather than offered: inside 「」, 『』 or “” quotation marks,
    /// defanged (`hxxp`, `[.]`), with its host masked (`xxxx-delivery.top`)
    /// so that it cannot be followed, labelled on its line as a fake
    /// site (`URL：https://… （※当行とは無関係の偽サイトです）`), or
    /// written as a reported sender (`差出人：…`). Warnings and
    /// articles show scam links this way; a message's own call to action
    /// does not.
    #[serde(skip)]
    pub quoted: bool,
    /// The part it was found in.
    pub part: PartKind,
    /// Byte offsets into the part's original text.
    pub start: usize,
    /// End byte offset.
    pub end: usize,
}

/// A phone number found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phone {
    /// The number as written.
    pub text: String,
    /// Digits (and `*` for masked digits) only, `+81` rewritten to a leading `0`.
    pub digits: String,
    /// Classes: `free-dial`, `ip-phone`, `mobile`, `international` (written
    /// with `+81`), `foreign` (another country's code: `digits` then keeps
    /// the `+`), `masked`, `landline`.
    pub classes: Vec<&'static str>,
    /// The part it was found in.
    pub part: PartKind,
    /// Byte offsets into the part's original text.
    pub start: usize,
    /// End byte offset.
    pub end: usize,
}

/// A money amount found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// The amount as written.
    pub text: String,
    /// Its value in yen.
    pub yen: u64,
    /// The part it was found in.
    pub part: PartKind,
    /// Byte offsets into the part's original text.
    pub start: usize,
    /// End byte offset.
    pub end: usize,
}

/// Every entity of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Entities {
    /// Links.
    pub urls: Vec<Url>,
    /// Phone numbers.
    pub phones: Vec<Phone>,
    /// Money amounts.
    pub amounts: Vec<Amount>,
}

const URL_CHARS: &str = r"[a-z0-9\-._~:/?#@!$&'*+,;=%]";

static SCHEME_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:https?|hxxps?|hxxp|h\*\*ps?|ttps?)(?::|\[:\])//(?:{URL_CHARS}|\[\.\]|\(\.\)|\[dot\]|\[/\])+"
    ))
    .expect("valid url regex")
});

static BARE_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:www(?:\.|\[\.\]))?(?:[a-z0-9](?:[a-z0-9-]{{0,62}})(?:\.|\[\.\]|\(\.\)|\[dot\]))+(?:com|net|org|info|biz|jp|top|xyz|cn|icu|shop|buzz|live|club|online|site|vip|cc|tk|ml|ga|cf|gq|work|link|click|ru|me|io|app|asia|tokyo|fun|store|cyou|sbs|bond|monster|rest|bar|win|mobi|pw|ws|us|co|ly|gl|gd|tw|hk|kr|vn|ph|in|uk|de|fr|to|tv|be|ai|dev|page|support|services|help|email|net\.cn|com\.cn)(?::[0-9]{{1,5}})?(?:/{URL_CHARS}*)?"
    ))
    .expect("valid bare url regex")
});

static IPV4_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?::[0-9]{1,5})?/[a-z0-9\-._~/?#=&%]*")
        .expect("valid ip url regex")
});

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\+81[- ]?\(?0?\)?[- ]?[0-9*x×○〇●]{1,4}|0[0-9*x×○〇●]{1,4}|\(0[0-9*x×○〇●]{1,4}\))(?:[- ()]{0,2}[0-9*x×○〇●]{1,4}){1,2}[- ()]{0,2}[0-9*x×○〇●]{0,4}",
    )
    .expect("valid phone regex")
});

/// A number with another country's code than Japan's `+81`: `+1 (646)
/// 555-0199`, `+44 20 7946 0958`. Japanese organisations do not ask anyone
/// to call abroad; fake police and support lines do.
static FOREIGN_PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\+(?:[1-79][0-9]{0,2}|8[02-9][0-9]?)(?:[- .]?\(?[0-9]{1,4}\)?){2,5}")
        .expect("valid foreign phone regex")
});

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"¥ ?[0-9][0-9,]*|(?:[0-9][0-9,]*(?:\.[0-9]+)?|[〇零一二三四五六七八九十百千])(?:[0-9,.]|[〇零一二三四五六七八九十百千万億兆])*円?",
    )
    .expect("valid amount regex")
});

/// Extract the entities of one part into `out`. `original` is the part's text as
/// received and `normalized` its normalization.
pub fn extract(part: PartKind, original: &str, normalized: &Normalized, out: &mut Entities) {
    extract_with(part, original, normalized, out, true);
}

/// [`extract`], with the prefilters and the hand-written matchers switched
/// off for `prefilter == false`: the regexes searched over the whole text,
/// the reference the tests hold the fast path to.
fn extract_with(
    part: PartKind,
    original: &str,
    normalized: &Normalized,
    out: &mut Entities,
    prefilter: bool,
) {
    let text = normalized.text();
    let span = |r: std::ops::Range<usize>| {
        let o = normalized.original_range(r);
        (original[o.clone()].to_string(), o.start, o.end)
    };
    let mut url_ranges: Vec<std::ops::Range<usize>> = Vec::new();
    let push_url = |m_start: usize,
                    m_str: &str,
                    out: &mut Entities,
                    ranges: &mut Vec<std::ops::Range<usize>>| {
        let raw = trim_url(m_str);
        if raw.is_empty() {
            return;
        }
        let range = m_start..m_start + raw.len();
        if ranges
            .iter()
            .any(|r| r.start < range.end && range.start < r.end)
        {
            return;
        }
        let (url, obfuscated_syntax) = refang(raw);
        let Some(host) = host_of(&url) else { return };
        let (text_orig, start, end) = span(range.clone());
        // Ideographic full stops for dots (see `ideographic_dots_defanged`)
        // disguise a link the message offers; defanging quotes one.
        let ideographic_dots = obfuscated_syntax && text_orig.contains(['。', '｡']);
        // "OK。Me too" is not a link to ok.me: with ideographic dots only
        // the top-level domains that phishing links use are taken.
        if ideographic_dots && !has_phishing_tld(&host) {
            return;
        }
        let lookalike_letters = normalized.is_obfuscated(range.clone());
        let obfuscated = obfuscated_syntax
            || lookalike_letters
            || text_orig
                .chars()
                .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c));
        ranges.push(range);
        let quoted = (obfuscated_syntax && !ideographic_dots)
            || masked_host(&host)
            || inside_quotation(original, start)
            || labelled_fake(original, start, end);
        out.urls.push(Url {
            text: text_orig,
            url,
            host,
            obfuscated,
            lookalike_letters,
            quoted,
            part,
            start,
            end,
        });
    };
    let b = text.as_bytes();
    if !prefilter || may_have_scheme_url(b) {
        for m in SCHEME_URL.find_iter(text) {
            push_url(m.start(), m.as_str(), out, &mut url_ranges);
        }
    }
    // "smbc。jp-safe。com": an ideographic full stop between ASCII label
    // characters stands for a dot, to slip past link detection. It is
    // rewritten as the defanged `[.]` (also three bytes, so offsets hold)
    // for the bare-URL search only; `push_url` tells the two apart.
    let ideographic = ideographic_dots_defanged(text);
    let bare_text = ideographic.as_deref().unwrap_or(text);
    let b = bare_text.as_bytes();
    let dots = if prefilter {
        dotted(b)
    } else {
        Dots {
            ip: true,
            host: Vec::new(),
        }
    };
    if dots.ip && (!prefilter || memchr(b'/', b).is_some()) {
        for m in IPV4_URL.find_iter(text) {
            push_url(m.start(), m.as_str(), out, &mut url_ranges);
        }
    }
    // Every bare URL holds a dot between labels (or a `[dot]`), so only the
    // runs of URL characters around one are searched; and not around one
    // inside a link already found, since a match holding it would overlap
    // that link and be dropped (most host dots are in `https://` links).
    let bare_runs = if prefilter {
        bare_url_runs(bare_text, dots.host, &url_ranges)
    } else {
        whole_text(bare_text)
    };
    let bare_matches = regex_matches_in_runs(&BARE_URL, bare_text, bare_runs);
    for (m_start, m_str) in bare_matches {
        // Not the domain of an e-mail address, not inside a longer word.
        // A dot after a Japanese label is a host written with a Japanese
        // first label (`年金機構.jp-kiroku.cn`): the ASCII rest is the link.
        let mut preceding = bare_text[..m_start].chars().rev();
        let before = preceding.next();
        let dot_after_japanese_label =
            before == Some('.') && preceding.next().is_some_and(is_japanese_label_char);
        if !dot_after_japanese_label
            && before.is_some_and(|c| {
                c == '@' || c == '.' || c == '/' || c.is_ascii_alphanumeric() || c == '-'
            })
        {
            continue;
        }
        push_url(m_start, m_str, out, &mut url_ranges);
    }

    // A kept number starts with `0`, `(0` or `+81` and has at least nine
    // digits, so only the runs of phone characters that allow it are searched.
    let phone_runs = if prefilter {
        phone_runs(text)
    } else {
        whole_text(text)
    };
    let phone_matches = if prefilter {
        matches_in_runs_with(find_phones, text, phone_runs)
    } else {
        regex_matches_in_runs(&PHONE, text, phone_runs)
    };
    for (m_start, m_str) in phone_matches {
        let Some((s, (digits, classes))) =
            classified_phone(m_str.trim_end_matches(['-', ' ', '(', ')']))
        else {
            continue;
        };
        let range = m_start..m_start + s.len();
        if url_ranges
            .iter()
            .any(|r| r.start < range.end && range.start < r.end)
        {
            continue;
        }
        let before = text[..range.start].chars().next_back();
        let after = text[range.end..].chars().next();
        if before.is_some_and(|c| c.is_ascii_digit() || c == '.' || c == ',')
            || after.is_some_and(|c| {
                c.is_ascii_digit() || c == '円' || c == '万' || c == '%' || c == '年'
            })
        {
            continue;
        }
        let (text_orig, start, end) = span(range);
        out.phones.push(Phone {
            text: text_orig,
            digits,
            classes,
            part,
            start,
            end,
        });
    }

    // Numbers with a foreign country code, where no Japanese number was found.
    // (memchr's SIMD search: `str::contains(char)` goes through core's
    // portable memchr, ~0.6% of a scan for a check most parts fail.)
    if memchr(b'+', b).is_some() {
        for m in FOREIGN_PHONE.find_iter(text) {
            let s = m.as_str().trim_end_matches(['-', ' ', '(', ')', '.']);
            let range = m.start()..m.start() + s.len();
            let overlaps = |a: &std::ops::Range<usize>, b: &std::ops::Range<usize>| {
                a.start < b.end && b.start < a.end
            };
            // Phones hold offsets into the original text, URLs into the
            // normalized one.
            let in_original = normalized.original_range(range.clone());
            if url_ranges.iter().any(|r| overlaps(r, &range))
                || out
                    .phones
                    .iter()
                    .any(|p| p.part == part && overlaps(&(p.start..p.end), &in_original))
            {
                continue;
            }
            let before = text[..range.start].chars().next_back();
            let after = text[range.end..].chars().next();
            if before.is_some_and(|c| c.is_ascii_alphanumeric())
                || after.is_some_and(|c| c.is_ascii_digit())
            {
                continue;
            }
            let Some(digits) = foreign_digits(s) else {
                continue;
            };
            let (text_orig, start, end) = span(range);
            out.phones.push(Phone {
                text: text_orig,
                digits,
                classes: vec!["foreign"],
                part,
                start,
                end,
            });
        }
    }

    // Every kept amount holds a unit, so only the runs of amount characters
    // around one are searched (the regex has no literal to skip ahead with).
    let amount_runs = if prefilter {
        amount_runs(text)
    } else {
        whole_text(text)
    };
    let amount_matches = if prefilter {
        matches_in_runs_with(find_amounts, text, amount_runs)
    } else {
        regex_matches_in_runs(&AMOUNT, text, amount_runs)
    };
    for (m_start, m_str) in amount_matches {
        let s = m_str.trim_end_matches([',', '.']);
        let has_yen = s.starts_with('¥') || s.ends_with('円');
        let has_big_unit = s.contains(['万', '億', '兆']);
        if !has_yen && !has_big_unit {
            continue;
        }
        let range = m_start..m_start + s.len();
        if url_ranges
            .iter()
            .any(|r| r.start < range.end && range.start < r.end)
            || out
                .phones
                .iter()
                .any(|p| p.part == part && overlaps_original(normalized, &range, p.start, p.end))
        {
            continue;
        }
        // The number must start with a digit or 十百千 (not 万一 or 一般).
        let Some(yen) = parse_yen(s) else { continue };
        if yen == 0 {
            continue;
        }
        if !has_yen && !s.chars().any(|c| c.is_ascii_digit()) {
            // Bare kanji with 万 but no 円 (万一, 一万歩) is too often not money.
            continue;
        }
        let (text_orig, start, end) = span(range);
        out.amounts.push(Amount {
            text: text_orig,
            yen,
            part,
            start,
            end,
        });
    }
}

// ---------------------------------------------------------------------------
// Prefilters: cheap necessary conditions for each regex to yield an entity.
// Most parts have no link, phone number or amount; a memchr/memmem pass over
// the normalized text lets them skip the regex searches (and, in a one-shot
// process, the regex compilation) entirely. Each condition must hold whenever
// the regex has a match that the code above would keep, so skipping never
// changes the result (see the tests).

/// `SCHEME_URL` needs `//` after `:` or `[:]`. Found from each `:` or `]`
/// (memchr2): a `:` is rarer than a `/` in most text, and a two-byte
/// memmem pass for `//` cost twice as much.
fn may_have_scheme_url(b: &[u8]) -> bool {
    memchr2_iter(b':', b']', b).any(|p| b.get(p + 1..p + 3) == Some(&b"//"[..]))
}

/// What the `.` characters of a text allow.
struct Dots {
    /// A `.` between two ASCII digits (`IPV4_URL` needs three).
    ip: bool,
    /// The offsets of every `.`, `[.]` or `(.)` after a label character and
    /// before a lowercase ASCII letter, in text order. `BARE_URL` needs one,
    /// unless it uses `[dot]`: the separator before its top-level domain,
    /// which starts with a lowercase letter. (Decimal numbers and dates,
    /// `1.5万円`, `2024.4.1`, have none.)
    host: Vec<usize>,
}

/// Whether `host` ends with a top-level domain common in phishing links
/// (not a short one that is also an English word: me, to, in, be, us).
fn has_phishing_tld(host: &str) -> bool {
    const TLDS: &[&str] = &[
        "com", "net", "org", "jp", "info", "top", "xyz", "cn", "shop", "site", "online", "club",
        "vip", "icu", "cc", "biz", "live", "app", "cyou", "sbs", "buzz", "store", "tokyo",
    ];
    host.rsplit('.')
        .next()
        .is_some_and(|tld| TLDS.contains(&tld))
}

/// `text` with each ideographic full stop (。, U+3002) that stands between
/// ASCII letters, digits or hyphens written as `[.]`; `None` when there is
/// none (the common case).
fn ideographic_dots_defanged(text: &str) -> Option<String> {
    const STOP: &str = "\u{3002}";
    let b = text.as_bytes();
    let label = |c: Option<&u8>| c.is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'-');
    let mut out: Option<String> = None;
    let mut copied = 0;
    for p in memmem::find_iter(b, STOP.as_bytes()) {
        if p > 0 && label(b.get(p - 1)) && label(b.get(p + 3)) {
            let s = out.get_or_insert_with(|| String::with_capacity(text.len()));
            s.push_str(&text[copied..p]);
            s.push_str("[.]");
            copied = p + 3;
        }
    }
    let mut s = out?;
    s.push_str(&text[copied..]);
    Some(s)
}

fn dotted(b: &[u8]) -> Dots {
    let label = |i: usize| {
        b.get(i)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'-')
    };
    let lower = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut dots = Dots {
        ip: false,
        host: Vec::new(),
    };
    for p in memchr_iter(b'.', b) {
        if p == 0 {
            continue;
        }
        dots.ip |= digit(p - 1) && digit(p + 1);
        let before = label(p - 1) || (p >= 2 && matches!(b[p - 1], b'[' | b'(') && label(p - 2));
        let after = lower(p + 1) || (matches!(b.get(p + 1), Some(b']' | b')')) && lower(p + 2));
        if before && after {
            dots.host.push(p);
        }
    }
    dots
}

/// A character of a Japanese host label: kana or kanji (the normalized
/// text has katakana for hiragana, but both are accepted).
fn is_japanese_label_char(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

/// Whether `c` can be part of a `BARE_URL` match.
fn is_bare_url_char(c: char) -> bool {
    c.is_ascii_lowercase()
        || c.is_ascii_digit()
        || matches!(
            c,
            '-' | '.'
                | '_'
                | '~'
                | ':'
                | '/'
                | '?'
                | '#'
                | '@'
                | '!'
                | '$'
                | '&'
                | '\''
                | '*'
                | '+'
                | ','
                | ';'
                | '='
                | '%'
                | '['
                | ']'
                | '('
                | ')'
        )
}

/// The offsets of every `[dot]` in `b`, in order. Found from each `[`
/// (memchr), which is rare in mail text: a memmem pass for the whole word
/// cost ~5 times as much.
fn dot_words(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr_iter(b'[', b).filter(|&p| b.get(p..p + 5) == Some(&b"[dot]"[..]))
}

/// The maximal runs of [`is_bare_url_char`] characters that hold a `[dot]`
/// or one of the `host_dots` found by [`dotted`] outside the links `found`
/// already, in text order. Every `BARE_URL` match holds such a separator
/// (the one before its top-level domain) and only URL characters, and the
/// regex has no look-around, so its matches in `text` are exactly its
/// matches in the runs around the separators; a match whose separators all
/// lie in a found link overlaps it and is dropped, so the runs around only
/// such separators are left out.
fn bare_url_runs(
    text: &str,
    host_dots: Vec<usize>,
    found: &[std::ops::Range<usize>],
) -> Vec<std::ops::Range<usize>> {
    let mut hits = host_dots;
    hits.extend(dot_words(text.as_bytes()));
    if !found.is_empty() {
        hits.retain(|p| !found.iter().any(|r| r.contains(p)));
    }
    hits.sort_unstable();
    runs_around(text, hits, is_bare_url_char)
}

/// Whether `c` is a digit or masked digit of a phone number.
fn is_phone_digit(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '*' | 'x' | '×' | '○' | '〇' | '●')
}

/// Whether `c` can be part of a `PHONE` match.
fn is_phone_char(c: char) -> bool {
    is_phone_digit(c) || matches!(c, '+' | '-' | ' ' | '(' | ')')
}

/// The maximal runs of [`is_phone_char`] characters that hold a `0` or `+`
/// (a `PHONE` match starts with `0`, `(0` or `+81`) and at least nine
/// [`is_phone_digit`] characters ([`classify_phone`] wants ten, counting the
/// `0` that stands for `+81`), in text order. `PHONE` has no look-around and
/// matches only phone characters, so its matches in `text` are exactly its
/// matches in each maximal run, and the runs left out yield no kept number.
fn phone_runs(text: &str) -> Vec<std::ops::Range<usize>> {
    let hits = memchr2_iter(b'0', b'+', text.as_bytes());
    let mut runs = runs_around(text, hits, is_phone_char);
    runs.retain(|r| {
        text.get(r.clone())
            .is_some_and(|run| phone_digits(run) >= 9)
    });
    runs
}

/// The number of [`is_phone_digit`] characters in `run`, counted on bytes
/// when it is ASCII (the common case: the other phone digits are `×○〇●`).
fn phone_digits(run: &str) -> usize {
    if run.is_ascii() {
        run.bytes()
            .filter(|&b| b.is_ascii_digit() || b == b'*' || b == b'x')
            .count()
    } else {
        run.chars().filter(|&c| is_phone_digit(c)).count()
    }
}

/// The units an amount is kept only with: `¥` (first), `円` (last), or one
/// of `万`, `億`, `兆` inside.
const AMOUNT_UNITS: [&str; 5] = ["円", "万", "¥", "億", "兆"];

/// Finds every one of [`AMOUNT_UNITS`] in one pass (Teddy, the SIMD
/// multi-literal searcher), instead of one memmem pass per unit. This is the
/// prefilter the regex crate itself answers an alternation of these literals
/// with, without its per-search set-up for every unit found. `None` if no
/// prefilter can be built (then one memmem pass per unit).
static AMOUNT_UNIT_FINDER: LazyLock<Option<Prefilter>> =
    LazyLock::new(|| Prefilter::new(MatchKind::LeftmostFirst, &AMOUNT_UNITS));

/// The byte offsets of every one of [`AMOUNT_UNITS`] in `b`, in order.
fn amount_unit_offsets(b: &[u8]) -> Vec<usize> {
    let mut hits = Vec::new();
    let Some(finder) = AMOUNT_UNIT_FINDER.as_ref() else {
        hits.extend(
            AMOUNT_UNITS
                .iter()
                .flat_map(|u| memmem::find_iter(b, u.as_bytes())),
        );
        hits.sort_unstable();
        return hits;
    };
    let mut at = 0;
    while at < b.len() {
        let Some(found) = finder.find(b, Span::from(at..b.len())) else {
            break;
        };
        hits.push(found.start);
        // Each unit is a whole character: the next starts after it.
        at = found.end.max(found.start + 1);
    }
    hits
}

/// Whether `c` can be part of an `AMOUNT` match.
fn is_amount_char(c: char) -> bool {
    c.is_ascii_digit()
        || matches!(
            c,
            ',' | '.'
                | ' '
                | '¥'
                | '円'
                | '〇'
                | '零'
                | '一'
                | '二'
                | '三'
                | '四'
                | '五'
                | '六'
                | '七'
                | '八'
                | '九'
                | '十'
                | '百'
                | '千'
                | '万'
                | '億'
                | '兆'
        )
}

/// The maximal runs of [`is_amount_char`] characters that hold one of
/// [`AMOUNT_UNITS`], in text order. `AMOUNT` has no look-around and matches
/// only amount characters, so its matches in `text` are exactly its matches
/// in each maximal run; and a match without a unit is dropped, so the runs
/// without one can be skipped.
fn amount_runs(text: &str) -> Vec<std::ops::Range<usize>> {
    runs_around(text, amount_unit_offsets(text.as_bytes()), is_amount_char)
}

/// The maximal runs of characters satisfying `in_run` that contain one of the
/// sorted byte offsets `hits` (each the start of a character satisfying
/// `in_run`), in text order and without repeats.
fn runs_around(
    text: &str,
    hits: impl IntoIterator<Item = usize>,
    in_run: impl Fn(char) -> bool,
) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for at in hits {
        if runs.last().is_some_and(|r| at < r.end) || !text.is_char_boundary(at) {
            continue;
        }
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| in_run(c))
            .last()
            .map_or(at, |(i, _)| i);
        let end = text[at..]
            .char_indices()
            .find(|&(_, c)| !in_run(c))
            .map_or(text.len(), |(i, _)| at + i);
        runs.push(start..end);
    }
    runs
}

/// Every match of `regex` inside the `runs` of `text`, as (byte offset in
/// `text`, matched text).
fn regex_matches_in_runs<'t>(
    regex: &Regex,
    text: &'t str,
    runs: Vec<std::ops::Range<usize>>,
) -> Vec<(usize, &'t str)> {
    let mut found = Vec::new();
    for run in runs {
        found.extend(
            regex
                .find_iter(&text[run.clone()])
                .map(|m| (run.start + m.start(), m.as_str())),
        );
    }
    found
}

/// Every match of a hand-written matcher (`find`, which pushes the byte
/// ranges of its matches in one string) inside the `runs` of `text`, as
/// (byte offset in `text`, matched text).
fn matches_in_runs_with(
    find: fn(&str, &mut Vec<std::ops::Range<usize>>),
    text: &str,
    runs: Vec<std::ops::Range<usize>>,
) -> Vec<(usize, &str)> {
    let mut ranges = Vec::new();
    let mut found = Vec::new();
    for run in runs {
        let Some(run_text) = text.get(run.clone()) else {
            continue;
        };
        ranges.clear();
        find(run_text, &mut ranges);
        found.extend(
            ranges
                .iter()
                .filter_map(|r| run_text.get(r.clone()).map(|m| (run.start + r.start, m))),
        );
    }
    found
}

// ---------------------------------------------------------------------------
// Hand-written matchers for `AMOUNT` and `PHONE`. The regexes are searched in
// many short runs, and each search paid the regex crate's per-search set-up
// (prefilter, cache from the pool) for a few bytes of text. These find
// exactly the regexes' leftmost-first matches (the tests compare them with the
// regexes on generated text); the regexes stay as the reference.

/// A character that starts the kanji branch of `AMOUNT` (`[〇零一二三四五六七八九十百千]`).
fn is_amount_lead_kanji(c: char) -> bool {
    matches!(
        c,
        '〇' | '零'
            | '一'
            | '二'
            | '三'
            | '四'
            | '五'
            | '六'
            | '七'
            | '八'
            | '九'
            | '十'
            | '百'
            | '千'
    )
}

/// A character of the repeated tail of `AMOUNT`
/// (`[0-9,.]|[〇零一二三四五六七八九十百千万億兆]`).
fn is_amount_tail(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, ',' | '.' | '万' | '億' | '兆') || is_amount_lead_kanji(c)
}

/// The end of the `AMOUNT` match that starts at byte `at` of `s`, if one does.
///
/// `¥ ?[0-9][0-9,]*`: the optional space is taken only when a digit follows
/// it (without it the digit would have to be the space). The other branch,
/// `(?:[0-9][0-9,]*(?:\.[0-9]+)?|[〇…千])(?:[0-9,.]|[〇…兆])*円?`, starts with a
/// digit or one of the lead kanji; every character its first part takes is
/// also one of the tail's, and nothing after the greedy tail can fail, so
/// the match is the whole run of tail characters, then `円` if it follows.
fn amount_at(s: &str, at: usize) -> Option<usize> {
    let b = s.as_bytes();
    let rest = s.get(at..)?;
    let first = rest.chars().next()?;
    if first == '¥' {
        let mut p = at + first.len_utf8();
        if b.get(p) == Some(&b' ') && b.get(p + 1).is_some_and(u8::is_ascii_digit) {
            p += 1;
        }
        if !b.get(p).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        p += 1;
        while b.get(p).is_some_and(|&c| c.is_ascii_digit() || c == b',') {
            p += 1;
        }
        return Some(p);
    }
    if !first.is_ascii_digit() && !is_amount_lead_kanji(first) {
        return None;
    }
    let mut p = at + first.len_utf8();
    loop {
        match b.get(p) {
            Some(&c) if c.is_ascii() => {
                if c.is_ascii_digit() || c == b',' || c == b'.' {
                    p += 1;
                } else {
                    break;
                }
            }
            Some(_) => match s.get(p..).and_then(|r| r.chars().next()) {
                Some(c) if is_amount_tail(c) => p += c.len_utf8(),
                _ => break,
            },
            None => break,
        }
    }
    if s.get(p..).is_some_and(|r| r.starts_with('円')) {
        p += '円'.len_utf8();
    }
    Some(p)
}

/// Pushes the byte ranges of every `AMOUNT` match in `s`, as the regex's
/// `find_iter` finds them: leftmost first, then from the end of each match.
fn find_amounts(s: &str, out: &mut Vec<std::ops::Range<usize>>) {
    let mut at = 0;
    while let Some(c) = s.get(at..).and_then(|r| r.chars().next()) {
        match amount_at(s, at) {
            Some(end) => {
                out.push(at..end);
                at = end;
            }
            None => at += c.len_utf8(),
        }
    }
}

/// The character classes of `PHONE`.
#[derive(Clone, Copy)]
enum PhoneClass {
    /// `+`
    Plus,
    /// `8`
    Eight,
    /// `1`
    One,
    /// `0`
    Zero,
    /// `(`
    Open,
    /// `)`
    Close,
    /// `[- ]`
    DashOrSpace,
    /// `[- ()]`
    Separator,
    /// `[0-9*x×○〇●]`
    Digit,
}

impl PhoneClass {
    fn has(self, c: char) -> bool {
        match self {
            PhoneClass::Plus => c == '+',
            PhoneClass::Eight => c == '8',
            PhoneClass::One => c == '1',
            PhoneClass::Zero => c == '0',
            PhoneClass::Open => c == '(',
            PhoneClass::Close => c == ')',
            PhoneClass::DashOrSpace => matches!(c, '-' | ' '),
            PhoneClass::Separator => matches!(c, '-' | ' ' | '(' | ')'),
            PhoneClass::Digit => is_phone_digit(c),
        }
    }
}

/// One piece of a pattern for the backtracking matcher.
enum Piece {
    /// A greedy `class{min,max}` (`max` at most 4).
    Repeat(PhoneClass, u8, u8),
    /// Alternatives tried in order, each followed by the rest of the pattern.
    Either(&'static [&'static [Piece]]),
}

use PhoneClass::{Close, DashOrSpace, Digit, Eight, One, Open, Plus, Separator, Zero};

/// `\+81[- ]?\(?0?\)?[- ]?D{1,4}` (D: a phone digit).
const PHONE_INTERNATIONAL: &[Piece] = &[
    Piece::Repeat(Plus, 1, 1),
    Piece::Repeat(Eight, 1, 1),
    Piece::Repeat(One, 1, 1),
    Piece::Repeat(DashOrSpace, 0, 1),
    Piece::Repeat(Open, 0, 1),
    Piece::Repeat(Zero, 0, 1),
    Piece::Repeat(Close, 0, 1),
    Piece::Repeat(DashOrSpace, 0, 1),
    Piece::Repeat(Digit, 1, 4),
];
/// `0D{1,4}`
const PHONE_DOMESTIC: &[Piece] = &[Piece::Repeat(Zero, 1, 1), Piece::Repeat(Digit, 1, 4)];
/// `\(0D{1,4}\)`
const PHONE_BRACKETED: &[Piece] = &[
    Piece::Repeat(Open, 1, 1),
    Piece::Repeat(Zero, 1, 1),
    Piece::Repeat(Digit, 1, 4),
    Piece::Repeat(Close, 1, 1),
];
/// `[- ()]{0,2}D{0,4}`: the end.
const PHONE_END: &[Piece] = &[Piece::Repeat(Separator, 0, 2), Piece::Repeat(Digit, 0, 4)];
/// A second group `[- ()]{0,2}D{1,4}` of `(?:…){1,2}`, then the end.
const PHONE_SECOND_GROUP_THEN_END: &[Piece] = &[
    Piece::Repeat(Separator, 0, 2),
    Piece::Repeat(Digit, 1, 4),
    Piece::Repeat(Separator, 0, 2),
    Piece::Repeat(Digit, 0, 4),
];

/// `PHONE` as pieces: `(?:A|B|C)(?:G){1,2}E` (G: `[- ()]{0,2}D{1,4}`, E:
/// the end) is `(?:A|B|C)G(?:GE|E)` with
/// the same order of preference (a greedy `{1,2}` tries the second group
/// before going on without it).
const PHONE_PATTERN: &[Piece] = &[
    Piece::Either(&[PHONE_INTERNATIONAL, PHONE_DOMESTIC, PHONE_BRACKETED]),
    Piece::Repeat(Separator, 0, 2),
    Piece::Repeat(Digit, 1, 4),
    Piece::Either(&[PHONE_SECOND_GROUP_THEN_END, PHONE_END]),
];

/// What follows the pieces being matched: the rest of an enclosing sequence.
struct Then<'a> {
    pieces: &'a [Piece],
    next: Option<&'a Then<'a>>,
}

/// The end of the first match (in backtracking order, which is the regex
/// crate's leftmost-first preference) of `pieces` then `next` at byte `at`.
fn match_pieces(s: &str, pieces: &[Piece], next: Option<&Then<'_>>, at: usize) -> Option<usize> {
    let Some((piece, rest)) = pieces.split_first() else {
        return match next {
            None => Some(at),
            Some(then) => match_pieces(s, then.pieces, then.next, at),
        };
    };
    match piece {
        Piece::Repeat(class, min, max) => {
            // ends[k]: the offset after k characters of the class.
            let mut ends = [at; 5];
            let mut taken = 0usize;
            let max = usize::from(*max).min(ends.len() - 1);
            while taken < max {
                match s.get(ends[taken]..).and_then(|r| r.chars().next()) {
                    Some(c) if class.has(c) => {
                        ends[taken + 1] = ends[taken] + c.len_utf8();
                        taken += 1;
                    }
                    _ => break,
                }
            }
            let min = usize::from(*min);
            if taken < min {
                return None;
            }
            (min..=taken)
                .rev()
                .find_map(|k| match_pieces(s, rest, next, ends[k]))
        }
        Piece::Either(branches) => {
            let then = Then { pieces: rest, next };
            branches
                .iter()
                .find_map(|branch| match_pieces(s, branch, Some(&then), at))
        }
    }
}

/// Pushes the byte ranges of every `PHONE` match in `s`, as the regex's
/// `find_iter` finds them: leftmost first, then from the end of each match.
/// A match starts with `+`, `0` or `(`.
fn find_phones(s: &str, out: &mut Vec<std::ops::Range<usize>>) {
    let b = s.as_bytes();
    let mut at = 0;
    while at < b.len() {
        let Some(offset) = memchr::memchr3(b'+', b'0', b'(', &b[at..]) else {
            return;
        };
        let start = at + offset;
        match match_pieces(s, PHONE_PATTERN, None, start) {
            Some(end) if end > start => {
                out.push(start..end);
                at = end;
            }
            _ => at = start + 1,
        }
    }
}

/// The one run that is all of `text`: the search without prefilters.
fn whole_text(text: &str) -> Vec<std::ops::Range<usize>> {
    std::iter::once(0..text.len()).collect()
}

fn overlaps_original(
    n: &Normalized,
    range: &std::ops::Range<usize>,
    start: usize,
    end: usize,
) -> bool {
    let o = n.original_range(range.clone());
    o.start < end && start < o.end
}

fn trim_url(s: &str) -> &str {
    s.trim_end_matches(['.', ',', ')', ';', ':', '!', '?', '\'', '(', '*'])
}

/// Undo defanging (`hxxp`, `[.]`, `(.)`, `[:]`) and report whether any was present.
/// How far back (bytes) [`inside_quotation`] looks for an opening mark: a
/// quoted scam SMS or mail paragraph, with room to spare.
const QUOTATION_REACH: usize = 1500;

/// A host with a masked part (`xxxx-delivery.top`, `jp-post-xxx.com`):
/// warnings and advisories redact the scam links they show, and nobody can
/// follow one, so it is shown rather than offered.
fn masked_host(host: &str) -> bool {
    host.contains("xxx")
}

/// Whether the line of a link labels it as shown rather than offered: it
/// calls it a fake, as an advisory's sample does (`偽サイトのURL：https://…`,
/// `https://… （※当行とは無関係の偽サイトです）`), or the link comes right
/// after a sender label ([`SENDER_LABELS`]: `差出人：…`), as in a warning
/// that lists where scam mails came from. Looks at most
/// [`FAKE_LABEL_REACH`] bytes before and after the link, on its line.
fn labelled_fake(text: &str, start: usize, end: usize) -> bool {
    const AFTER: [&str; 5] = [
        "偽サイト",
        "偽のサイト",
        "無関係",
        "詐欺サイト",
        "フィッシングサイト",
    ];
    const BEFORE: [&str; 5] = ["偽サイト", "偽のサイト", "偽のurl", "偽url", "詐欺サイト"];
    let on_line = |from: usize, to: usize| {
        let (mut from, mut to) = (from.min(text.len()), to.min(text.len()));
        while !text.is_char_boundary(from) {
            from += 1;
        }
        while to > from && !text.is_char_boundary(to) {
            to -= 1;
        }
        text.get(from..to).unwrap_or_default()
    };
    let after = on_line(end, end + FAKE_LABEL_REACH);
    let after = after.split('\n').next().unwrap_or_default();
    let before = on_line(start.saturating_sub(FAKE_LABEL_REACH), start);
    // Lowered once (the labels are Japanese or lowercase ASCII, so a label
    // found as written is found lowered too).
    let before = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    // A host written right after a sender label is the address a warning
    // reports a scam mail came from (`（差出人：amazon-sellercentral-jp.com）`),
    // not a link the message offers.
    let sender_label = {
        let head = before.trim_end_matches([' ', '\u{3000}']);
        let head = head
            .strip_suffix(':')
            .or_else(|| head.strip_suffix('：'))
            .unwrap_or("");
        SENDER_LABELS.iter().any(|l| head.trim_end().ends_with(l))
    };
    sender_label
        || AFTER.iter().any(|m| after.contains(m))
        || BEFORE.iter().any(|m| before.contains(m))
}

/// Labels after which a host is a scam mail's reported sender
/// ([`labelled_fake`]), lowercased.
const SENDER_LABELS: [&str; 5] = ["差出人", "送信元", "送信元ドメイン", "送信者", "from"];

/// How far (bytes) [`labelled_fake`] looks for a label: a short remark in
/// brackets or a label before the link, not the next sentence.
const FAKE_LABEL_REACH: usize = 60;

/// Whether byte offset `at` of `text` is inside a quotation: the nearest
/// Japanese or curly quotation mark before it opens one (「 『 “) rather than
/// closing one. Straight quotes `"` are left out: they open and close alike.
///
/// Every mark is three bytes with 0x80 in the middle (「 E3 80 8C, 」 E3 80 8D,
/// 『 E3 80 8E, 』 E3 80 8F, “ E2 80 9C, ” E2 80 9D), so the search jumps
/// between 0x80 bytes, which in Japanese text are mostly punctuation:
/// decoding every character back from each link was 0.3% of a scan.
fn inside_quotation(text: &str, at: usize) -> bool {
    let b = text.as_bytes();
    let at = at.min(b.len());
    let from = at.saturating_sub(QUOTATION_REACH);
    for j in memchr::memrchr_iter(0x80, &b[from..at]).map(|j| from + j) {
        // The whole mark must lie before `at`.
        if j == 0 || j + 1 >= at {
            continue;
        }
        match (b[j - 1], b[j + 1]) {
            (0xE3, 0x8C | 0x8E) | (0xE2, 0x9C) => return true,
            (0xE3, 0x8D | 0x8F) | (0xE2, 0x9D) => return false,
            _ => {}
        }
    }
    false
}

fn refang(s: &str) -> (String, bool) {
    let mut url = s.to_string();
    let mut obfuscated = false;
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("[dot]", "."),
        ("[:]", ":"),
        ("[/]", "/"),
    ] {
        if url.contains(from) {
            url = url.replace(from, to);
            obfuscated = true;
        }
    }
    for (from, to) in [
        ("hxxps://", "https://"),
        ("hxxp://", "http://"),
        ("h**ps://", "https://"),
        ("h**p://", "http://"),
    ] {
        if let Some(rest) = url.strip_prefix(from) {
            url = format!("{to}{rest}");
            obfuscated = true;
        }
    }
    if let Some(rest) = url.strip_prefix("ttps://") {
        url = format!("https://{rest}");
        obfuscated = true;
    } else if let Some(rest) = url.strip_prefix("ttp://") {
        url = format!("http://{rest}");
        obfuscated = true;
    }
    (url, obfuscated)
}

/// The host of a (refanged) URL, with or without a scheme.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.split(':').next()?.trim_end_matches('.');
    if host.is_empty() || !host.contains('.') {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// Whether `host` is `domain` or a subdomain of it.
pub fn host_is_under(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// Whether `host` is an IPv4 literal.
pub fn is_ip_literal(host: &str) -> bool {
    let parts: Vec<_> = host.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The number `s` is, with its digits and classes; when `s` is none as it
/// stands, the number before a trailing aside the phone pattern swallowed,
/// such as the "(24" of "0120-21-8946 (24時間受付)".
fn classified_phone(s: &str) -> Option<(&str, (String, Vec<&'static str>))> {
    std::iter::once(s)
        .chain(
            s.char_indices()
                .rev()
                .filter(|&(_, c)| c == ' ' || c == '(')
                .map(|(i, _)| s[..i].trim_end_matches(['-', ' ', '(', ')'])),
        )
        .find_map(|head| Some((head, classify_phone(head)?)))
}

/// `+` and the digits of a foreign number, when it has as many as a real
/// one (8 to 15 with the country code, the ITU limit).
fn foreign_digits(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    (8..=15)
        .contains(&digits.len())
        .then(|| format!("+{digits}"))
}

fn classify_phone(s: &str) -> Option<(String, Vec<&'static str>)> {
    let mut digits = String::new();
    let international = s.starts_with("+81");
    let body = if international { &s[3..] } else { s };
    for c in body.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if matches!(c, '*' | 'x' | '×' | '○' | '〇' | '●') {
            // Masked digits, as in warnings and reports: 0120-**-****, 090-xxxx-1234.
            digits.push('*');
        }
    }
    if international && !digits.starts_with('0') {
        digits.insert(0, '0');
    }
    let n = digits.len();
    if !(10..=11).contains(&n) || !digits.starts_with('0') {
        return None;
    }
    let masked = digits.contains('*');
    if masked && digits.chars().filter(|c| c.is_ascii_digit()).count() < 2 {
        return None;
    }
    let mut classes = Vec::new();
    if digits.starts_with("0120") || digits.starts_with("0800") {
        classes.push("free-dial");
    } else if digits.starts_with("050") {
        classes.push("ip-phone");
    } else if digits.starts_with("090") || digits.starts_with("080") || digits.starts_with("070") {
        if n != 11 && !masked {
            return None;
        }
        classes.push("mobile");
    } else {
        if n != 10 && !masked {
            return None;
        }
        classes.push("landline");
    }
    if international {
        classes.push("international");
    }
    if masked {
        classes.push("masked");
    }
    Some((digits, classes))
}

fn kanji_digit(c: char) -> Option<u64> {
    Some(match c {
        '〇' | '零' => 0,
        '一' => 1,
        '二' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// Read an amount such as `8,750万円`, `7万4千円`, `八千七百五十万円`, `¥150,000`, `1.5万円`.
pub fn parse_yen(s: &str) -> Option<u64> {
    let s = s
        .trim_start_matches('¥')
        .trim_start()
        .trim_end_matches('円');
    let mut total: f64 = 0.0;
    let mut section: f64 = 0.0;
    let mut current: Option<f64> = None;
    let mut chars = s.chars().peekable();
    let mut seen_digit = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut num = String::new();
            num.push(c);
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() || d == '.' {
                    num.push(d);
                    chars.next();
                } else if d == ',' {
                    chars.next();
                } else {
                    break;
                }
            }
            current = Some(num.trim_end_matches('.').parse::<f64>().ok()?);
            seen_digit = true;
        } else if let Some(d) = kanji_digit(c) {
            current = Some(current.unwrap_or(0.0) * 10.0 + d as f64);
            seen_digit = true;
        } else {
            let unit = match c {
                '十' => 10.0,
                '百' => 100.0,
                '千' => 1000.0,
                '万' => 10_000.0,
                '億' => 100_000_000.0,
                '兆' => 1_000_000_000_000.0,
                ',' | '.' => continue,
                _ => return None,
            };
            if unit < 10_000.0 {
                section += current.take().unwrap_or(1.0) * unit;
                seen_digit = true;
            } else {
                if !seen_digit {
                    return None;
                }
                total += (section + current.take().unwrap_or(0.0)) * unit;
                section = 0.0;
            }
        }
    }
    if !seen_digit {
        return None;
    }
    let value = total + section + current.unwrap_or(0.0);
    if !(0.0..1e18).contains(&value) {
        return None;
    }
    Some(value.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;
    use proptest::prelude::*;

    /// "smbc。jp-safe。com" hid a phishing link from link detection: an
    /// ideographic full stop between ASCII labels is read as a dot, the
    /// link counts as offered (not quoted) and obfuscated; offsets point at
    /// the original text. Sentences that end with an English word are not
    /// links.
    #[test]
    fn regression_ideographic_full_stops_as_dots_are_a_link() {
        let text = "至急→ smbc。jp-safe。com";
        let normalized = crate::normalize::normalize(text);
        let mut found = Entities::default();
        extract(PartKind::Body, text, &normalized, &mut found);
        assert_eq!(found.urls.len(), 1, "{:?}", found.urls);
        let url = &found.urls[0];
        assert_eq!(url.host, "smbc.jp-safe.com");
        assert!(url.obfuscated && !url.quoted);
        assert_eq!(&text[url.start..url.end], "smbc。jp-safe。com");
        for plain in [
            "了解。OK。Me too",
            "ありがとう。See you。to be continued",
            "価格は1,000円。2つ目",
        ] {
            let normalized = crate::normalize::normalize(plain);
            let mut found = Entities::default();
            extract(PartKind::Body, plain, &normalized, &mut found);
            assert!(found.urls.is_empty(), "{plain}: {:?}", found.urls);
        }
    }

    fn entities(s: &str) -> Entities {
        let n = normalize(s);
        let mut e = Entities::default();
        extract(PartKind::Body, s, &n, &mut e);
        e
    }

    #[test]
    fn a_link_inside_quotation_marks_or_defanged_is_quoted() {
        let quoted = |s: &str| {
            entities(s)
                .urls
                .iter()
                .map(|u| u.quoted)
                .collect::<Vec<_>>()
        };
        assert_eq!(quoted("確認はこちら https://a-bank.top/x"), [false]);
        assert_eq!(
            quoted("「確認はこちら https://a-bank.top/x」という偽SMS"),
            [true]
        );
        assert_eq!(quoted("『https://a-bank.top/x』"), [true]);
        assert_eq!(quoted("“https://a-bank.top/x”"), [true]);
        // A closed quotation before the link leaves it the message's own.
        assert_eq!(
            quoted("「偽のSMS」にご注意ください。公式サイト https://a-bank.top/x"),
            [false]
        );
        assert_eq!(quoted("hxxps://a-bank[.]top/x"), [true]);
        // A link its line calls a fake site is an advisory's sample.
        assert_eq!(
            quoted("URL：https://xxbank-security.com/login （※当行とは無関係の偽サイトです）"),
            [true]
        );
        assert_eq!(quoted("偽サイトのURL：https://a-bank.top/x"), [true]);
        // A host after a sender label is where a warned-of mail came from.
        assert_eq!(
            quoted(
                "・「【重要】出品アカウントの停止について」（差出人：amazon-sellercentral-jp.com）"
            ),
            [true]
        );
        assert_eq!(quoted("送信元: a-bank.top"), [true]);
        assert_eq!(quoted("差出人の方はこちら https://a-bank.top/x"), [false]);
        assert_eq!(
            quoted("偽サイトにご注意。\nログインはこちら https://a-bank.top/x"),
            [false]
        );
        // A redacted host in an advisory's sample SMS cannot be followed.
        assert_eq!(
            quoted("お荷物の確認はこちら http://xxxx-delivery.top/?id=1"),
            [true]
        );
        assert_eq!(
            quoted("「https://a.top/」と https://b.top/ と「https://c.top/」"),
            [true, false, true]
        );
    }

    proptest! {
        /// The byte search gives the answer of reading the characters back
        /// from a link, at every offset (char boundary or not).
        #[test]
        fn inside_quotation_reads_like_the_characters_before_it(
            s in "[「」『』“”a-z。、\u{3042}-\u{3093}\u{2000}-\u{201f} ]{0,700}",
            at in 0usize..3000,
        ) {
            let at = at.min(s.len());
            let from = at.saturating_sub(QUOTATION_REACH);
            // Marks wholly before `at` whose middle byte is at or after `from`.
            let expected = s
                .char_indices()
                .filter(|&(i, c)| i + c.len_utf8() <= at && i + 1 >= from)
                .filter_map(|(_, c)| match c {
                    '「' | '『' | '“' => Some(true),
                    '」' | '』' | '”' => Some(false),
                    _ => None,
                })
                .next_back()
                .unwrap_or(false);
            prop_assert_eq!(inside_quotation(&s, at), expected);
        }
    }

    #[test]
    fn reads_amounts_in_every_script() {
        assert_eq!(parse_yen("8,750万円"), Some(87_500_000));
        assert_eq!(parse_yen("八千七百五十万円"), Some(87_500_000));
        assert_eq!(parse_yen("十五万円"), Some(150_000));
        assert_eq!(parse_yen("5億円"), Some(500_000_000));
        assert_eq!(parse_yen("¥150,000"), Some(150_000));
        assert_eq!(parse_yen("7万4千円"), Some(74_000));
        assert_eq!(parse_yen("1.5万円"), Some(15_000));
        assert_eq!(parse_yen("万一"), None);
    }

    #[test]
    fn finds_amounts_with_spans_of_the_original() {
        let s = "還元金８，７５０万円をお渡しします。手数料は5000円、八千七百五十万円";
        let e = entities(s);
        let yens: Vec<_> = e.amounts.iter().map(|a| a.yen).collect();
        assert_eq!(yens, vec![87_500_000, 5000, 87_500_000]);
        for a in &e.amounts {
            assert_eq!(&s[a.start..a.end], a.text);
        }
        assert_eq!(e.amounts[0].text, "８，７５０万円");
    }

    #[test]
    fn finds_obfuscated_and_bare_urls() {
        let e = entities(
            "確認はこちら hxxps://sagawa-exp[.]top/track または ｈｔｔｐｓ：／／amaz0n.xyz/a と rakuten-card.co.jp-secure.com/login",
        );
        let hosts: Vec<_> = e.urls.iter().map(|u| u.host.as_str()).collect();
        assert_eq!(
            hosts,
            vec![
                "sagawa-exp.top",
                "amaz0n.xyz",
                "rakuten-card.co.jp-secure.com"
            ]
        );
        assert!(e.urls[0].obfuscated && e.urls[1].obfuscated && !e.urls[2].obfuscated);
    }

    #[test]
    fn regression_host_with_a_japanese_first_label_is_a_link() {
        let e = entities("ご確認は下記から 年金機構.jp-kiroku.cn");
        let hosts: Vec<_> = e.urls.iter().map(|u| u.host.as_str()).collect();
        assert_eq!(hosts, vec!["jp-kiroku.cn"]);
        // Still not the middle of an ASCII host or an e-mail domain.
        assert!(entities("abc@mail.example.com").urls.is_empty());
        let e = entities("sub.example.com");
        assert_eq!(e.urls.len(), 1);
        assert_eq!(e.urls[0].host, "sub.example.com");
    }

    #[test]
    fn email_addresses_are_not_urls() {
        assert!(entities("送信アドレス:abc@docomo.ne.jp").urls.is_empty());
    }

    #[test]
    fn classifies_phones() {
        let e = entities(
            "窓口 0120-**-**** か 050-1234-5678、携帯「090********」、+81 90 1234 5678、0120-xxx-○○○",
        );
        let classes: Vec<_> = e.phones.iter().map(|p| p.classes.clone()).collect();
        assert_eq!(
            classes,
            vec![
                vec!["free-dial", "masked"],
                vec!["ip-phone"],
                vec!["mobile", "masked"],
                vec!["mobile", "international"],
                vec!["free-dial", "masked"]
            ]
        );
    }

    /// "0120-21-8946 (24時間受付)" was no phone at all: the pattern took
    /// " (24" into the number, which then had 12 digits.
    #[test]
    fn a_parenthetical_after_a_number_is_not_part_of_it() {
        let e = entities("下記までご連絡ください。0120-21-8946 (24時間受付)、03-1234-5678(平日)");
        let got: Vec<&str> = e.phones.iter().map(|p| p.digits.as_str()).collect();
        assert_eq!(got, vec!["0120218946", "0312345678"]);
        assert_eq!(e.phones[0].text, "0120-21-8946");
    }

    #[test]
    fn foreign_numbers_are_phones_of_their_own_class() {
        let e = entities(
            "至急 +1 (646) 555-0199 へ。窓口 +44 20 7946 0958、台北 +886-2-2345-6789、\
             国内 +81 90 1234 5678。C++ 2024、価格+1,000円、ver+12345678、+1 2 3",
        );
        let got: Vec<(&str, &str, Vec<&str>)> = e
            .phones
            .iter()
            .map(|p| (p.text.as_str(), p.digits.as_str(), p.classes.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "+81 90 1234 5678",
                    "09012345678",
                    vec!["mobile", "international"]
                ),
                ("+1 (646) 555-0199", "+16465550199", vec!["foreign"]),
                ("+44 20 7946 0958", "+442079460958", vec!["foreign"]),
                ("+886-2-2345-6789", "+886223456789", vec!["foreign"]),
            ]
        );
    }

    /// `may_have_scheme_url` as it was: a `//` after `:` or `]`.
    fn scheme_url_by_memmem(b: &[u8]) -> bool {
        memmem::find_iter(b, b"//").any(|p| p > 0 && matches!(b[p - 1], b':' | b']'))
    }

    #[test]
    fn scheme_url_and_dot_word_finders_match_memmem_on_edges() {
        for s in [
            "",
            ":",
            "://",
            ":/",
            "]//",
            "[:]//",
            "x//",
            "//",
            ":///",
            "a:b//",
            "::/",
            "[dot]",
            "[dot",
            "[[dot]",
            "[dot][dot]",
            "x[do]t[dot]y",
            "[",
            "[d0t]",
        ] {
            let b = s.as_bytes();
            assert_eq!(may_have_scheme_url(b), scheme_url_by_memmem(b), "{s:?}");
            let reference: Vec<usize> = memmem::find_iter(b, b"[dot]").collect();
            assert_eq!(dot_words(b).collect::<Vec<_>>(), reference, "{s:?}");
        }
    }

    fn check_prefilters(s: &str) -> Result<(), TestCaseError> {
        let n = normalize(s);
        let (mut fast, mut full) = (Entities::default(), Entities::default());
        extract_with(PartKind::Body, s, &n, &mut fast, true);
        extract_with(PartKind::Body, s, &n, &mut full, false);
        prop_assert_eq!(fast, full, "{:?}", s);
        Ok(())
    }

    #[test]
    fn prefilters_agree_on_the_corpus() {
        let texts = crate::corpus::sample_texts();
        for (_, text) in &texts {
            check_prefilters(text).unwrap();
        }
        assert!(texts.len() > 100, "{} files", texts.len());
    }

    fn entity_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "https://",
            "hxxps://",
            "h**p://",
            "ttp://",
            "http[:]//",
            ":",
            "/",
            "//",
            "[:]",
            ".",
            "．",
            "。",
            "[.]",
            "(.)",
            "[dot]",
            "[/]",
            "www",
            "example",
            "amaz0n",
            "-",
            "com",
            "co.jp",
            "top",
            "xyz",
            "net.cn",
            "@",
            "a",
            "Z",
            "ｈｔｔｐｓ",
            "：／／",
            "0",
            "1",
            "9",
            "０１２０",
            "090",
            "050",
            "+81",
            "+",
            "(",
            ")",
            " ",
            "*",
            "x",
            "×",
            "○",
            "〇",
            "●",
            "192.168.1.1",
            "¥",
            "￥",
            "円",
            "万",
            "億",
            "兆",
            "千",
            "百",
            "十",
            "一",
            "八",
            ",",
            "、",
            "年",
            "%",
            "\n",
            "お支払い",
            "ｱ",
        ]);
        prop::collection::vec(pieces, 0..32).prop_map(|v| v.concat())
    }

    /// The unit positions as found before the one-pass finder: each unit
    /// by its own memmem pass, merged in order.
    fn units_by_memmem(text: &str) -> Vec<usize> {
        let mut hits: Vec<usize> = AMOUNT_UNITS
            .iter()
            .flat_map(|u| memmem::find_iter(text.as_bytes(), u.as_bytes()))
            .collect();
        hits.sort_unstable();
        hits
    }

    fn units_in_one_pass(text: &str) -> Vec<usize> {
        assert!(AMOUNT_UNIT_FINDER.is_some(), "the one-pass finder is built");
        amount_unit_offsets(text.as_bytes())
    }

    /// Long texts, so that the finder's SIMD loop (not only its short-text
    /// fallback) is exercised.
    fn long_entity_text() -> impl Strategy<Value = String> {
        prop::collection::vec(entity_text(), 0..12).prop_map(|v| v.concat())
    }

    fn regex_ranges(regex: &Regex, s: &str) -> Vec<std::ops::Range<usize>> {
        regex.find_iter(s).map(|m| m.range()).collect()
    }

    fn matcher_ranges(
        find: fn(&str, &mut Vec<std::ops::Range<usize>>),
        s: &str,
    ) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        find(s, &mut out);
        out
    }

    /// Text made of the characters the amount and phone patterns care
    /// about, and a few they do not.
    fn matcher_text() -> impl Strategy<Value = String> {
        let chars = prop::sample::select(vec![
            '0', '1', '2', '5', '8', '9', ',', '.', ' ', '¥', '円', '〇', '零', '一', '二', '三',
            '四', '五', '六', '七', '八', '九', '十', '百', '千', '万', '億', '兆', '+', '-', '(',
            ')', '*', 'x', 'X', '×', '○', '●', 'a', 'ア', '年', '\n', '０', '，', '￥',
        ]);
        prop::collection::vec(chars, 0..40).prop_map(|v| v.into_iter().collect())
    }

    /// Text shaped like phone numbers: `+81`, `0` and `(0` starts, groups
    /// of phone digits and separators.
    fn phone_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "+81", "+8", "0", "(0", "(", ")", "-", " ", "--", "  ", "- ", "1", "12", "123", "1234",
            "12345", "90", "120", "*", "**", "x", "×", "○", "〇", "●", "8", "81", "a", "円", "万",
        ]);
        prop::collection::vec(pieces, 0..16).prop_map(|v| v.concat())
    }

    /// Text shaped like amounts.
    fn amount_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "¥", "¥ ", " ", "1", "23", "4,567", ",", ".", ".5", "円", "万", "億", "兆", "千", "百",
            "十", "一", "八", "〇", "零", "万円", "a", "あ", "-", "..", ",,",
        ]);
        prop::collection::vec(pieces, 0..16).prop_map(|v| v.concat())
    }

    #[test]
    fn matchers_agree_with_the_regexes_on_examples() {
        for s in [
            "",
            "¥",
            "¥ ",
            "¥ 1,000",
            "¥1.5",
            "¥ x",
            "8,750万円",
            "1.5万円",
            "一万円",
            "万一",
            "3億5千万円と¥100",
            "090-1234-5678",
            "+81 90 1234 5678",
            "+81(0)90-1234-5678",
            "+810901234567",
            "(03)1234-5678",
            "(03)",
            "0120-**-****",
            "01234",
            "01234-",
            "0-",
            "00000000000000000",
            "03--12  34",
            "+81-(0)-3",
        ] {
            assert_eq!(
                matcher_ranges(find_amounts, s),
                regex_ranges(&AMOUNT, s),
                "amount {s:?}"
            );
            assert_eq!(
                matcher_ranges(find_phones, s),
                regex_ranges(&PHONE, s),
                "phone {s:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn amount_matcher_finds_what_the_regex_finds(s in amount_text()) {
            prop_assert_eq!(matcher_ranges(find_amounts, &s), regex_ranges(&AMOUNT, &s));
        }

        #[test]
        fn phone_matcher_finds_what_the_regex_finds(s in phone_text()) {
            prop_assert_eq!(matcher_ranges(find_phones, &s), regex_ranges(&PHONE, &s));
        }

        #[test]
        fn matchers_find_what_the_regexes_find_in_mixed_text(s in matcher_text()) {
            prop_assert_eq!(matcher_ranges(find_amounts, &s), regex_ranges(&AMOUNT, &s));
            prop_assert_eq!(matcher_ranges(find_phones, &s), regex_ranges(&PHONE, &s));
        }

        #[test]
        fn matchers_find_what_the_regexes_find_in_any_text(s in any::<String>()) {
            prop_assert_eq!(matcher_ranges(find_amounts, &s), regex_ranges(&AMOUNT, &s));
            prop_assert_eq!(matcher_ranges(find_phones, &s), regex_ranges(&PHONE, &s));
        }

        #[test]
        fn one_pass_unit_finder_finds_every_unit(s in entity_text()) {
            prop_assert_eq!(units_in_one_pass(&s), units_by_memmem(&s));
        }

        #[test]
        fn one_pass_unit_finder_finds_every_unit_in_long_text(s in long_entity_text()) {
            prop_assert_eq!(units_in_one_pass(&s), units_by_memmem(&s));
        }

        #[test]
        fn prefilters_never_change_the_entities(s in entity_text()) {
            check_prefilters(&s)?;
        }

        #[test]
        fn scheme_url_and_dot_word_finders_match_memmem(s in entity_text()) {
            let b = s.as_bytes();
            prop_assert_eq!(may_have_scheme_url(b), scheme_url_by_memmem(b));
            let reference: Vec<usize> = memmem::find_iter(b, b"[dot]").collect();
            prop_assert_eq!(dot_words(b).collect::<Vec<_>>(), reference);
        }

        #[test]
        fn prefilters_never_change_the_entities_any(s in any::<String>()) {
            check_prefilters(&s)?;
        }
    }

    #[test]
    fn bare_url_runs_leave_out_links_already_found() {
        let s = "詳細 https://www.example.co.jp/a.html または example.top/x と 1.5万円";
        let host_dots = dotted(s.as_bytes()).host;
        let link_start = s.find("https").unwrap();
        let link = link_start..s.find(" または").unwrap();
        let runs = bare_url_runs(s, host_dots.clone(), std::slice::from_ref(&link));
        let bare = s.find("example.top").unwrap();
        assert_eq!(runs, vec![bare..bare + "example.top/x".len()]);
        // Without found links, the link's run is searched too.
        assert_eq!(bare_url_runs(s, host_dots, &[]).len(), 2);
        check_prefilters(s).unwrap();
        let hosts: Vec<_> = entities(s).urls.into_iter().map(|u| u.host).collect();
        assert_eq!(hosts, vec!["www.example.co.jp", "example.top"]);
    }

    #[test]
    fn amounts_are_found_only_in_runs_around_units() {
        let s = "代金 ¥ 1,000.5万円、x二万一 ¥100.5万 と 3億5千万円 と 123 と 1.5兆";
        check_prefilters(s).unwrap();
        let yens: Vec<_> = entities(s).amounts.iter().map(|a| a.yen).collect();
        assert_eq!(
            yens,
            vec![1000, 50_000, 100, 50_000, 350_000_000, 1_500_000_000_000]
        );
        assert_eq!(runs_around("a12 3万b", [5], is_amount_char), vec![1..8]);
    }

    #[test]
    fn shortest_phone_numbers_survive_the_run_filter() {
        for s in [
            "03-1234-5678",
            "(03)1234-5678",
            "+81 3 1234 5678",
            "+813-1234-5678",
        ] {
            check_prefilters(s).unwrap();
            assert_eq!(entities(s).phones.len(), 1, "{s}");
        }
    }

    #[test]
    fn dates_and_amounts_are_not_phones() {
        let e = entities("2015年3月10日から今までの未入金額98000円");
        assert!(e.phones.is_empty(), "{:?}", e.phones);
    }
}
