//! HTML to text, keeping the link targets.
//!
//! mail-parser's `body_text()` renders HTML but drops every `href`, and the
//! link target is the most telling part of a phishing mail (the visible text
//! says `amazon.co.jp`, the `href` points elsewhere). This small converter
//! strips tags, skips `<script>`/`<style>`, decodes entities, turns block
//! elements into line breaks and collects `href`, form `action`, frame `src`
//! and `<meta http-equiv=refresh>` targets. A link whose visible text is an
//! address on another host than its `href` is kept as a [`DisguisedLink`].

use std::borrow::Cow;
use std::collections::HashSet;

use crate::entities::{host_is_under, host_of};
use crate::message::DisguisedLink;

/// Disguised links kept per HTML document at most: one is enough to score,
/// a few make the report; a crafted page cannot grow the list without bound.
const MAX_DISGUISED_LINKS: usize = 8;

/// Text and link targets extracted from an HTML document or fragment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlText {
    /// Visible text: tags removed, entities decoded, whitespace collapsed,
    /// block elements and `<br>` as line breaks (at most one blank line).
    pub text: String,
    /// Link targets in document order, entity-decoded, trimmed, without
    /// exact duplicates.
    pub links: Vec<String>,
    /// `<a>` elements whose visible text shows an address on another host
    /// than their `href` (see `disguised_link`), in document order.
    pub disguised: Vec<DisguisedLink>,
}

/// Convert HTML to plain text and collect its link targets. Never panics.
pub fn html_to_text(html: &str) -> HtmlText {
    let mut out = Writer::default();
    let mut links: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut disguised: Vec<DisguisedLink> = Vec::new();
    // The open `<a href>`: its target and where its text starts in `out`.
    let mut anchor: Option<(String, usize)> = None;
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut pre_depth = 0usize;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let end = memchr::memchr(b'<', &bytes[i..]).map_or(bytes.len(), |p| i + p);
            out.text(&decode_entities_cow(&html[i..end]), pre_depth > 0);
            i = end;
            continue;
        }
        let rest = &html[i..];
        if rest.starts_with("<!--") {
            i = find(bytes, i + 4, b"-->").map_or(bytes.len(), |p| p + 3);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            i = memchr::memchr(b'>', &bytes[i..]).map_or(bytes.len(), |p| i + p + 1);
            continue;
        }
        let Some(tag) = parse_tag(html, i) else {
            // A lone '<' is text.
            out.text("<", pre_depth > 0);
            i += 1;
            continue;
        };
        i = tag.end;
        let name = tag.name.as_ref();
        if tag.closing {
            if name == "a"
                && let Some((href, start)) = anchor.take()
                && disguised.len() < MAX_DISGUISED_LINKS
                && let Some(link) = disguised_link(out.out.get(start..).unwrap_or(""), &href)
                && !disguised.contains(&link)
            {
                disguised.push(link);
            }
            match name {
                "pre" => {
                    pre_depth = pre_depth.saturating_sub(1);
                    out.newline();
                }
                "td" | "th" => out.space(),
                _ if is_block(name) => out.newline(),
                _ => {}
            }
            continue;
        }
        for (attr, value) in &tag.attrs {
            let is_link = match attr.as_ref() {
                "href" => true,
                "action" => name == "form",
                "src" => matches!(name, "iframe" | "frame"),
                _ => false,
            };
            if is_link {
                push_link(&mut links, &mut seen, value);
            }
        }
        if name == "meta"
            && tag
                .attr("http-equiv")
                .is_some_and(|v| v.eq_ignore_ascii_case("refresh"))
            && let Some(content) = tag.attr("content")
            && let Some(pos) = content.to_ascii_lowercase().find("url=")
        {
            let url = content[pos + 4..]
                .trim_matches(|c: char| c == '\'' || c == '"' || c.is_whitespace());
            push_link(&mut links, &mut seen, url);
        }
        if name == "a" {
            anchor = tag
                .attrs
                .iter()
                .find(|(attr, _)| attr == "href")
                .map(|(_, href)| (href.to_string(), out.out.len()));
        }
        match name {
            "script" | "style" | "title" | "textarea" | "noscript" if !tag.self_closing => {
                i = skip_raw_text(html, i, name);
            }
            "br" => out.line_break(),
            "pre" => {
                out.newline();
                pre_depth += 1;
            }
            "td" | "th" => out.space(),
            "img" => {
                if let Some(alt) = tag.attr("alt")
                    && !alt.trim().is_empty()
                {
                    out.text(alt, false);
                }
            }
            _ if is_block(name) => out.newline(),
            _ => {}
        }
    }
    HtmlText {
        text: out.finish(),
        links,
        disguised,
    }
}

/// The link, when `text` (an `<a>` element's visible text) is an address
/// whose host is neither `href`'s host nor a parent or child domain of it.
/// Link text that is not an address ("こちら", "ログイン") is no claim.
pub fn disguised_link(text: &str, href: &str) -> Option<DisguisedLink> {
    let shown_host = shown_host(text)?;
    let target_host = host_of(href.trim())?;
    let bare = |h: &str| h.strip_prefix("www.").unwrap_or(h).to_owned();
    let (shown, target) = (bare(&shown_host), bare(&target_host));
    if host_is_under(&shown, &target) || host_is_under(&target, &shown) {
        return None;
    }
    Some(DisguisedLink {
        shown_host,
        target: href.trim().to_owned(),
    })
}

/// The host of the address `text` shows: a URL with a scheme, a `www.`
/// name, or a bare domain name such as `amazon.co.jp`.
fn shown_host(text: &str) -> Option<String> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let start = ["https://", "http://", "www."]
        .iter()
        .filter_map(|p| lower.find(p))
        .min();
    let candidate = match start {
        Some(s) => &text[s..],
        None => text,
    };
    let token = candidate
        .split(|c: char| c.is_whitespace() || !c.is_ascii())
        .next()?;
    let host = host_of(token)?;
    let looks_like_domain = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && host
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    // Without a scheme or "www.", only a text that is one domain name
    // alone ("amazon.co.jp"), not a sentence that contains a dot.
    (looks_like_domain && (start.is_some() || token.len() == text.len())).then_some(host)
}

fn push_link(links: &mut Vec<String>, seen: &mut HashSet<String>, raw: &str) {
    let v = raw.trim();
    if !v.is_empty() && seen.insert(v.to_owned()) {
        links.push(v.to_owned());
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "tr"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "caption"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "hr"
            | "blockquote"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "nav"
            | "aside"
            | "main"
            | "address"
            | "form"
            | "fieldset"
            | "center"
            | "figure"
            | "figcaption"
            | "body"
            | "html"
            | "head"
    )
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)
        .and_then(|h| memchr::memmem::find(h, needle))
        .map(|p| from + p)
}

/// Skip the content of a raw-text element up to and including its end tag.
fn skip_raw_text(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut i = from;
    while let Some(p) = find(bytes, i, b"</") {
        let after = p + 2;
        let candidate = bytes.get(after..after + name.len());
        if candidate.is_some_and(|c| c.eq_ignore_ascii_case(name.as_bytes())) {
            return memchr::memchr(b'>', &bytes[after..]).map_or(bytes.len(), |q| after + q + 1);
        }
        i = after;
    }
    bytes.len()
}

/// A parsed tag. Names and values are borrowed from the HTML when they
/// need no change (a lowercase name, a value without `&`), as nearly all
/// do: most tags (`<br>`, `<p>`, `</p>`) then cost no allocation.
struct Tag<'a> {
    name: Cow<'a, str>,
    closing: bool,
    self_closing: bool,
    attrs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    end: usize,
}

impl Tag<'_> {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// `name` in ASCII lowercase, borrowed when it has no uppercase letter.
fn ascii_lowercase(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// Parse a start or end tag beginning at `start` (which holds `<`).
fn parse_tag(html: &str, start: usize) -> Option<Tag<'_>> {
    let b = html.as_bytes();
    let mut i = start + 1;
    let closing = b.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    if !b.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let name_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
        i += 1;
    }
    let name = ascii_lowercase(&html[name_start..i]);
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            if b[i] == b'/' {
                self_closing = true;
            }
            i += 1;
        }
        if i >= b.len() {
            return Some(Tag {
                name,
                closing,
                self_closing,
                attrs,
                end: b.len(),
            });
        }
        if b[i] == b'>' {
            return Some(Tag {
                name,
                closing,
                self_closing,
                attrs,
                end: i + 1,
            });
        }
        self_closing = false;
        let an_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        if i == an_start {
            // Stray '=' or similar: skip it.
            i += 1;
            continue;
        }
        let attr_name = ascii_lowercase(&html[an_start..i]);
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Cow::Borrowed("");
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            match b.get(i) {
                Some(&q) if q == b'"' || q == b'\'' => {
                    let vs = i + 1;
                    let ve = memchr::memchr(q, &b[vs..]).map_or(b.len(), |p| vs + p);
                    value = decode_entities_cow(&html[vs..ve]);
                    i = (ve + 1).min(b.len());
                }
                Some(_) => {
                    let vs = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = decode_entities_cow(&html[vs..i]);
                }
                None => {}
            }
        }
        attrs.push((attr_name, value));
    }
}

/// Bytes that can start a white-space character (`char::is_whitespace`):
/// ASCII `\t`..=`\r` and space, and the UTF-8 lead bytes of U+0085/U+00A0
/// (0xC2), U+1680 (0xE1) and U+2000.. (0xE2) (U+3000 too, 0xE3, is not
/// collapsed). A table lookup is cheaper per byte than the comparisons.
static SPACE_LEAD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = b'\t';
    while b <= b'\r' {
        table[b as usize] = true;
        b += 1;
    }
    table[b' ' as usize] = true;
    table[0xC2] = true;
    table[0xE1] = true;
    table[0xE2] = true;
    table
};

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// `0x80` in every byte of a word.
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit set in each byte of `word` below `n` (`n` at most 128),
/// and possibly in some byte just above such a byte: a screen, not an
/// answer (the standard "has less" bit trick).
fn bytes_below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
}

/// The first position at or after `from` of a byte in [`SPACE_LEAD`]. Eight
/// bytes at a time: a word none of whose bytes is below 0x21 (ASCII white
/// space and controls), 0xC2, or 0xE0..=0xE2 (tested as `byte ^ 0xE0`
/// below 3) holds no such byte; a word that may is looked at byte by byte.
/// Japanese text is nearly all 0xE3..=0xE9 lead bytes and continuation
/// bytes, so most words are passed at once (the byte-at-a-time table scan
/// was a third of HTML rendering).
fn next_space_lead(bytes: &[u8], from: usize) -> Option<usize> {
    let is_lead = |b: &u8| SPACE_LEAD[usize::from(*b)];
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        let maybe = bytes_below(word, 0x21)
            | bytes_below(word ^ (ONES * 0xC2), 1)
            | bytes_below(word ^ (ONES * 0xE0), 3);
        if maybe != 0
            && let Some(p) = chunk.iter().position(is_lead)
        {
            return Some(i + p);
        }
        i += 8;
    }
    bytes.get(i..)?.iter().position(is_lead).map(|p| i + p)
}

/// Output builder: collapses whitespace, limits blank lines.
#[derive(Default)]
struct Writer {
    out: String,
    pending_space: bool,
}

impl Writer {
    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    fn text(&mut self, s: &str, pre: bool) {
        if pre {
            self.pending_space = false;
            self.out.push_str(s);
            return;
        }
        // Copy runs of non-space characters whole: only a run's first
        // character can be preceded by the collapsed space. White space
        // (`char::is_whitespace` except U+3000) starts with one of a few
        // bytes, so only those are decoded as characters.
        let bytes = s.as_bytes();
        let mut run_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            // Skip to the next byte that can start white space.
            match next_space_lead(bytes, i) {
                Some(p) => i = p,
                None => break,
            }
            let c = s[i..].chars().next().unwrap_or_default();
            if c.is_whitespace() && c != '\u{3000}' {
                self.push_run(&s[run_start..i]);
                self.pending_space = true;
                i += c.len_utf8();
                run_start = i;
            } else {
                i += 1;
            }
        }
        self.push_run(&s[run_start..]);
    }

    /// Non-space text, after the pending collapsed space if there is one.
    fn push_run(&mut self, run: &str) {
        if run.is_empty() {
            return;
        }
        if self.pending_space && !self.at_line_start() {
            self.out.push(' ');
        }
        self.pending_space = false;
        self.out.push_str(run);
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn trim_line_end(&mut self) {
        let trimmed = self.out.trim_end_matches([' ', '\t']).len();
        self.out.truncate(trimmed);
        self.pending_space = false;
    }

    /// End the current line at a block boundary (no blank lines added).
    fn newline(&mut self) {
        self.trim_line_end();
        if self.at_line_start() {
            return;
        }
        self.out.push('\n');
    }

    /// `<br>`: always a line break, but never more than one blank line.
    fn line_break(&mut self) {
        self.trim_line_end();
        if !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn finish(mut self) -> String {
        self.trim_line_end();
        let end = self.out.trim_end().len();
        self.out.truncate(end);
        let start = self.out.len() - self.out.trim_start_matches('\n').len();
        self.out.drain(..start);
        self.out
    }
}

/// Decode HTML character references (`&amp;`, `&#12354;`, `&#x3042;`, the
/// common named ones). Unknown references are kept as written.
pub fn decode_entities(s: &str) -> String {
    decode_entities_cow(s).into_owned()
}

/// [`decode_entities`], borrowing `s` when it has no `&` (most text runs
/// between tags): no copy before the writer copies it anyway.
fn decode_entities_cow(s: &str) -> Cow<'_, str> {
    if memchr::memchr(b'&', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        match decode_one(rest) {
            Some((text, used)) => {
                out.push_str(&text);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Decode one reference at the start of `s` (which begins with `&`);
/// returns the text and the number of bytes consumed.
fn decode_one(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'#') {
        let (hex, start) = match b.get(2) {
            Some(b'x') | Some(b'X') => (true, 3),
            _ => (false, 2),
        };
        let mut end = start;
        while end < b.len()
            && end - start < 8
            && (if hex {
                b[end].is_ascii_hexdigit()
            } else {
                b[end].is_ascii_digit()
            })
        {
            end += 1;
        }
        if end == start {
            return None;
        }
        let n = u32::from_str_radix(&s[start..end], if hex { 16 } else { 10 }).ok()?;
        let c = match n {
            0 => '\u{fffd}',
            // Windows-1252 C1 range, as browsers do.
            0x80..=0x9f => encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(&[n as u8])
                .0
                .chars()
                .next()
                .unwrap_or('\u{fffd}'),
            _ => char::from_u32(n).unwrap_or('\u{fffd}'),
        };
        let used = if b.get(end) == Some(&b';') {
            end + 1
        } else {
            end
        };
        return Some((c.to_string(), used));
    }
    let mut end = 1;
    while end < b.len() && end < 12 && b[end].is_ascii_alphanumeric() {
        end += 1;
    }
    let name = &s[1..end];
    let with_semi = b.get(end) == Some(&b';');
    let text = named_entity(name)?;
    if !with_semi && !matches!(name, "amp" | "lt" | "gt" | "quot" | "nbsp" | "copy" | "reg") {
        return None;
    }
    Some((text.to_owned(), if with_semi { end + 1 } else { end }))
}

fn named_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" | "AMP" => "&",
        "lt" | "LT" => "<",
        "gt" | "GT" => ">",
        "quot" | "QUOT" => "\"",
        "apos" => "'",
        "nbsp" => " ",
        "ensp" | "emsp" | "thinsp" => " ",
        "zwnj" => "\u{200c}",
        "zwj" => "\u{200d}",
        "lrm" | "rlm" | "shy" => "",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "yen" => "¥",
        "euro" => "€",
        "pound" => "£",
        "cent" => "¢",
        "sect" => "§",
        "deg" => "°",
        "plusmn" => "±",
        "times" => "×",
        "divide" => "÷",
        "middot" => "·",
        "bull" => "•",
        "hellip" => "…",
        "ndash" => "–",
        "mdash" => "—",
        "lsquo" => "‘",
        "rsquo" => "’",
        "sbquo" => "‚",
        "ldquo" => "“",
        "rdquo" => "”",
        "bdquo" => "„",
        "laquo" => "«",
        "raquo" => "»",
        "larr" => "←",
        "rarr" => "→",
        "uarr" => "↑",
        "darr" => "↓",
        "rArr" => "⇒",
        "hArr" => "⇔",
        "para" => "¶",
        "dagger" => "†",
        "Dagger" => "‡",
        "permil" => "‰",
        "prime" => "′",
        "Prime" => "″",
        "star" => "☆",
        "starf" => "★",
        "check" => "✓",
        "iexcl" => "¡",
        "iquest" => "¿",
        "micro" => "µ",
        "frac12" => "½",
        "frac14" => "¼",
        "frac34" => "¾",
        "sup2" => "²",
        "sup3" => "³",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time scan `next_space_lead` replaces.
    fn reference_space_lead(bytes: &[u8], from: usize) -> Option<usize> {
        bytes
            .get(from..)?
            .iter()
            .position(|&b| SPACE_LEAD[usize::from(b)])
            .map(|p| from + p)
    }

    /// Every byte value at every offset of a word, with Japanese text
    /// around it, from every start.
    #[test]
    fn next_space_lead_finds_every_lead_byte() {
        let filler = "日本語のテキスト".as_bytes();
        for b in 0..=255u8 {
            for at in 0..20 {
                let mut bytes = filler[..at.min(filler.len())].to_vec();
                bytes.resize(at, b'x');
                bytes.push(b);
                bytes.extend_from_slice(filler);
                for from in 0..bytes.len() + 2 {
                    assert_eq!(
                        next_space_lead(&bytes, from),
                        reference_space_lead(&bytes, from),
                        "{b:#x} at {at} from {from}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn next_space_lead_agrees_with_the_byte_scan(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![0x09u8, 0x0A, 0x0D, 0x20, 0x21, 0xC2, 0xC3, 0xDF, 0xE0, 0xE1, 0xE2, 0xE3, 0xE9, 0x80, 0xBF, 0x00, 0x1F, 0x7F, 0xFF]),
                    proptest::num::u8::ANY,
                ],
                0..40,
            ),
            from in 0usize..42,
        ) {
            proptest::prop_assert_eq!(next_space_lead(&bytes, from), reference_space_lead(&bytes, from));
        }
    }

    /// `Writer::text` as it was, one character at a time: the reference
    /// for the run-copying version.
    fn reference_text(w: &mut Writer, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() && c != '\u{3000}' {
                w.pending_space = true;
            } else {
                if w.pending_space && !w.at_line_start() {
                    w.out.push(' ');
                }
                w.pending_space = false;
                w.out.push(c);
            }
        }
    }

    fn both_writers(start: &str, pending: bool, s: &str) -> (Writer, Writer) {
        let new = || Writer {
            out: start.to_owned(),
            pending_space: pending,
        };
        let (mut fast, mut slow) = (new(), new());
        fast.text(s, false);
        reference_text(&mut slow, s);
        (fast, slow)
    }

    #[test]
    fn text_collapses_space_like_the_char_loop_for_every_char() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            for s in [format!("a{c}b"), format!("{c}{c}x{c}"), c.to_string()] {
                for (start, pending) in [("", false), ("", true), ("x", true), ("x\n", true)] {
                    let (fast, slow) = both_writers(start, pending, &s);
                    assert_eq!(fast.out, slow.out, "{c:?}");
                    assert_eq!(fast.pending_space, slow.pending_space, "{c:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn text_collapses_space_like_the_char_loop(
            s in "[a \t\r\n\u{3000}\u{a0}\u{85}\u{2000}\u{200b}\u{1680}\u{205f}あ漢ｱé]{0,40}",
            pending in proptest::bool::ANY,
            start in proptest::sample::select(vec!["", "x", "x\n"]),
        ) {
            let (fast, slow) = both_writers(start, pending, &s);
            proptest::prop_assert_eq!(fast.out, slow.out);
            proptest::prop_assert_eq!(fast.pending_space, slow.pending_space);
        }
    }

    #[test]
    fn anchor_text_showing_another_host_is_a_disguised_link() {
        let h = html_to_text(
            "<p>ご確認ください</p>\
             <a href=\"https://smbc-card-notice.xyz/verify\">https://www.smbc-card.com/mem/index.jsp</a>\
             <a href=\"http://203.0.113.9/\"><b>www.jp-bank.japanpost.jp</b></a>\
             <a href=\"https://evil.example/\">こちら</a>\
             <a href=\"https://www.example.jp/a\">https://example.jp/a</a>\
             <a href=\"https://news.example.jp/\">example.jp</a>\
             <a href=\"https://evil.example/\">Version 2.0 released</a>",
        );
        let shown: Vec<(&str, &str)> = h
            .disguised
            .iter()
            .map(|d| (d.shown_host.as_str(), d.target.as_str()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("www.smbc-card.com", "https://smbc-card-notice.xyz/verify"),
                ("www.jp-bank.japanpost.jp", "http://203.0.113.9/"),
            ]
        );
    }

    #[test]
    fn disguised_link_needs_an_address_in_the_text() {
        assert!(disguised_link("ログイン", "https://evil.example/").is_none());
        assert!(disguised_link("amazon.co.jp", "https://amazon.co.jp/x").is_none());
        assert!(disguised_link("www.amazon.co.jp", "https://amazon.co.jp/").is_none());
        assert!(disguised_link("amazon.co.jp", "https://www.amazon.co.jp/").is_none());
        assert!(disguised_link("詳しくはamazon.co.jpで", "https://evil.example/").is_none());
        let d = disguised_link(" amazon.co.jp ", "https://amazon.co.jp.evil.example/").unwrap();
        assert_eq!(d.shown_host, "amazon.co.jp");
        assert_eq!(d.target, "https://amazon.co.jp.evil.example/");
        // An href without a host (a relative or mailto link) is no claim.
        assert!(disguised_link("https://www.bank.example/", "/login").is_none());
    }

    #[test]
    fn disguised_links_are_bounded() {
        let html: String = (0..50)
            .map(|i| format!("<a href=\"https://e{i}.example/\">https://bank.example/</a>"))
            .collect();
        assert_eq!(html_to_text(&html).disguised.len(), MAX_DISGUISED_LINKS);
    }

    #[test]
    fn phishing_link_text_and_href() {
        let h = html_to_text(
            "<html><head><title>t</title><style>p{color:red}</style></head><body>\
             <p>【佐川急便】お荷物の配達に伺いましたが<br>不在のため持ち帰りました。</p>\
             <div>ご確認は<a href=\"http://sagawa-exp.example.top/?id=1&amp;x=2\">こちら</a></div>\
             <script>var a='<p>no</p>';</script><p>&copy;&nbsp;SAGAWA &#x3042;&#12354;&lt;&gt;</p></body></html>",
        );
        assert_eq!(
            h.text,
            "【佐川急便】お荷物の配達に伺いましたが\n不在のため持ち帰りました。\nご確認はこちら\n©\u{20}SAGAWA ああ<>"
        );
        assert_eq!(h.links, vec!["http://sagawa-exp.example.top/?id=1&x=2"]);
    }

    #[test]
    fn forms_frames_meta_refresh_and_dedupe() {
        let h = html_to_text(
            "<meta http-equiv='Refresh' content='0; URL=http://a.example/'>\
             <form action=https://b.example/login method=post><input name=pw></form>\
             <iframe src=\"//c.example/\"></iframe><a href='https://d.example'>x</a>\
             <a href='https://d.example'>y</a><img src='https://e.example/p.gif'>",
        );
        assert_eq!(
            h.links,
            vec![
                "http://a.example/",
                "https://b.example/login",
                "//c.example/",
                "https://d.example"
            ]
        );
    }

    #[test]
    fn tables_pre_and_whitespace() {
        let h = html_to_text(
            "<table><tr><td>金額</td><td>87,500,000円</td></tr>\n<tr><td>期限</td><td>本日中</td></tr></table>\
             <pre>a  b\nc</pre>  end &unknown; & done",
        );
        assert_eq!(
            h.text,
            "金額 87,500,000円\n期限 本日中\na  b\nc\nend &unknown; & done"
        );
    }

    /// Tag and attribute names are read in any case (borrowed when already
    /// lowercase, lowercased copies otherwise); values with and without
    /// entities are read alike.
    #[test]
    fn tag_and_attribute_names_in_any_case_read_alike() {
        let lower = "<p>a<br>b</p><a href=\"https://x.example/?a=1&amp;b=2\">x.example</a>\
                     <img alt='&lt;alt&gt;'><table><tr><td>c<td>d</table>";
        let upper = "<P>a<BR>b</P><A HREF=\"https://x.example/?a=1&amp;b=2\">x.example</A>\
                     <IMG Alt='&lt;alt&gt;'><TABLE><TR><TD>c<Td>d</TABLE>";
        let (l, u) = (html_to_text(lower), html_to_text(upper));
        assert_eq!(l.text, u.text);
        assert_eq!(l.links, u.links);
        assert_eq!(l.links, vec!["https://x.example/?a=1&b=2".to_owned()]);
        assert!(l.text.contains("<alt>"), "{}", l.text);
        assert_eq!(ascii_lowercase("Br"), "br");
        assert!(matches!(ascii_lowercase("br"), Cow::Borrowed("br")));
    }

    #[test]
    fn broken_html_does_not_panic() {
        for s in [
            "<",
            "<a",
            "<a href=",
            "<a href='x",
            "<!--",
            "<script>",
            "&#",
            "&#x;",
            "&#99999999;",
            "</",
            "<<>>",
            "&amp",
            "<p/>テスト<br/>",
        ] {
            let _ = html_to_text(s);
        }
        assert_eq!(html_to_text("a < b").text, "a < b");
        assert_eq!(html_to_text("<p/>テスト<br/>x").text, "テスト\nx");
    }
}
