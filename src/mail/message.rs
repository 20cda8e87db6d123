//! One RFC 5322 message → decoded text ready for scoring.
//!
//! mail-parser (0.11, `full_encoding`) does the MIME work: multipart trees,
//! base64 / quoted-printable, RFC 2047 words and the Japanese charsets. This
//! module walks its part tree into a flat [`MailMessage`]: which text to
//! score (choosing between `multipart/alternative` siblings, rendering HTML,
//! descending into attached messages), which links the HTML hides, which
//! attachments exist, and what went wrong. It also repairs what mail-parser
//! cannot know: mislabelled charsets and raw 8-bit or ISO-2022-JP headers
//! are re-sniffed with [`decode_unlabelled`](super::decode_unlabelled).

use std::borrow::Cow;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{LazyLock, OnceLock};

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    Addr, ContentType, Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart,
    MimeHeaders, PartType,
};

use super::charset::{
    decode_encoded_words, decode_unlabelled, has_iso2022jp_escape, japanese_score, kana_count,
};
use super::fast_path::{NoReplacementParts, parse_fast_marked};
use super::html::html_to_text;
use crate::message::DisguisedLink;

/// One decoded message, ready for scoring.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MailMessage {
    /// `Message-ID`, with angle brackets (`<id@host>`).
    pub message_id: Option<String>,
    /// The first `From` address as display text: `名前 <addr>`, or just the
    /// address or name when only one is present.
    pub from: Option<String>,
    /// Decoded display name of the first `From` address (RFC 2047 B and Q,
    /// raw 8-bit and raw ISO-2022-JP repaired).
    pub from_name: Option<String>,
    /// The addr-spec of the first `From` address, domain lowercased.
    pub from_address: Option<String>,
    /// Addr-spec of the first `Reply-To` address, domain lowercased.
    pub reply_to_address: Option<String>,
    /// `Return-Path` addr-spec (without angle brackets), domain lowercased.
    pub return_path: Option<String>,
    /// Decoded `Subject`.
    pub subject: Option<String>,
    /// All body text: text parts in order, joined with a blank line. In a
    /// `multipart/alternative` the plain part is used unless it is empty or
    /// much shorter than the HTML one (a "view this in HTML" stub), in which
    /// case the HTML rendering is used. An attached `message/rfc822` adds its
    /// subject and body. Line ends are `\n`.
    pub body: String,
    /// Every link target found in HTML parts (`href`, form `action`, frame
    /// `src`, meta refresh), including HTML alternatives not used for `body`.
    pub links: Vec<String>,
    /// HTML links whose visible text shows an address on another host than
    /// their target, from every HTML part.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disguised_links: Vec<DisguisedLink>,
    /// Attachment file names; an unnamed attachment appears as its MIME type
    /// in parentheses, e.g. `(image/png)`. Not part of `body`.
    pub attachments: Vec<String>,
    /// Set when decoding failed or was partial (malformed transfer encoding,
    /// undecodable charset, nesting or part limits hit). The other fields
    /// still hold whatever could be decoded.
    pub error: Option<String>,
    /// The message exceeded [`ParseLimits::max_message_size`] and only its
    /// start was parsed.
    pub truncated: bool,
}

/// Resource limits for [`parse_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Bytes parsed at most; the rest is ignored and `truncated` is set.
    pub max_message_size: usize,
    /// Deepest MIME nesting (multiparts and attached messages) walked.
    pub max_depth: usize,
    /// Most MIME parts walked per message.
    pub max_parts: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_message_size: 25 * 1024 * 1024,
            max_depth: 32,
            max_parts: 1000,
        }
    }
}

/// Parse and decode one RFC 5322 message. Never panics: whatever the bytes,
/// a [`MailMessage`] comes back, with `error` set if something could not be
/// decoded.
pub fn parse_message(raw: &[u8], limits: &ParseLimits) -> MailMessage {
    let truncated = raw.len() > limits.max_message_size;
    let data = if truncated {
        &raw[..limits.max_message_size]
    } else {
        raw
    };
    let mut out =
        catch_unwind(AssertUnwindSafe(|| decode(data, limits))).unwrap_or_else(|_| MailMessage {
            body: String::from_utf8_lossy(data).replace("\r\n", "\n"),
            error: Some("internal error in the MIME parser; raw text used".to_owned()),
            ..Default::default()
        });
    out.truncated = truncated;
    out
}

/// The first line of `data` (after a BOM) is neither a header field nor an
/// mbox postmark nor blank: the bytes are text, not a message.
fn starts_like_text(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    !line.is_empty() && !line.starts_with(b"From ") && field_name(line).is_none()
}

/// The one mail-parser configuration, built on first use and shared by all
/// threads. It parses only the header fields this module reads (From,
/// Reply-To, Return-Path, Subject, Message-ID and the MIME fields), each with
/// the same field parser as mail-parser's default; every other field (To,
/// Date, Received, ...) is skipped over without being decoded, which saves
/// building date, address and Received values nobody looks at. Fields end
/// where they ended before (a line break not followed by white space), so
/// offsets and body boundaries are unchanged.
pub(crate) fn parser() -> &'static MessageParser {
    static PARSER: OnceLock<MessageParser> = OnceLock::new();
    PARSER.get_or_init(new_parser)
}

/// A new [`parser`] configuration (the fast path adjusts its own copy).
pub(crate) fn new_parser() -> MessageParser {
    MessageParser::new()
        .header_address(HeaderName::From)
        .header_address(HeaderName::ReplyTo)
        .header_id(HeaderName::ReturnPath)
        .header_id(HeaderName::MessageId)
        .header_text(HeaderName::Subject)
        .header_content_type(HeaderName::ContentType)
        .header_content_type(HeaderName::ContentDisposition)
        .header_text(HeaderName::ContentTransferEncoding)
        .default_header_ignore()
}

fn decode(data: &[u8], limits: &ParseLimits) -> MailMessage {
    let parser = parser();
    // The fast path transfer-decodes only bodies its strict decoders
    // accept, which `transfer_problem` would find nothing wrong with:
    // remember that and skip the second scan.
    let mut transfer_clean = false;
    let mut no_replacement = 0;
    let parsed = if starts_like_text(data) {
        None
    } else {
        match parse_fast_marked(data) {
            Some((msg, marks)) => {
                transfer_clean = true;
                no_replacement = marks;
                Some(msg)
            }
            None => parser.parse(data),
        }
    };
    let Some(msg) = parsed else {
        // No header block: the bytes are just text (decoded as unlabelled).
        let mut out = MailMessage::default();
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            out.error = Some("empty message".to_owned());
            return out;
        }
        match decode_unlabelled(data) {
            Ok(d) => out.body = d.text.replace("\r\n", "\n"),
            Err(e) => {
                out.body = String::from_utf8_lossy(data).replace("\r\n", "\n");
                out.error = Some(e.to_string());
            }
        }
        return out;
    };
    let mut walker = Walker {
        limits,
        parts_seen: 0,
        transfer_clean,
        no_replacement,
        links: Vec::new(),
        seen_links: HashSet::new(),
        disguised_links: Vec::new(),
        attachments: Vec::new(),
        errors: Vec::new(),
    };
    let mut msg = msg;
    let body = walker.message_body(&mut msg, 0);
    let (from_name, from_address) = from_parts(&msg);
    let from = match (&from_name, &from_address) {
        (Some(n), Some(a)) => Some([n.as_str(), " <", a.as_str(), ">"].concat()),
        (Some(n), None) => Some(n.clone()),
        (None, Some(a)) => Some(a.clone()),
        (None, None) => None,
    };
    let reply_to_address = root_value(&msg, |n| matches!(n, HeaderName::ReplyTo))
        .and_then(HeaderValue::as_address)
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(lowercase_domain);
    let return_path = match msg
        .root_part()
        .headers
        .iter()
        .find(|h| matches!(h.name, HeaderName::ReturnPath))
    {
        Some(h) => match &h.value {
            HeaderValue::Text(t) => Some(t.to_string()),
            HeaderValue::TextList(l) => l.last().map(|t| t.to_string()),
            HeaderValue::Address(a) => a.first().and_then(|a| a.address()).map(str::to_owned),
            _ => None,
        },
        None => None,
    }
    .map(|s| lowercase_domain(s.trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace())))
    .filter(|s| !s.is_empty());
    let error = if walker.errors.is_empty() {
        None
    } else {
        Some(walker.errors.join("; "))
    };
    MailMessage {
        // `concat`, not `format!`: no formatting machinery per message.
        message_id: message_id_of(&msg).map(|id| ["<", id, ">"].concat()),
        from,
        from_name,
        from_address,
        reply_to_address,
        return_path,
        subject: subject_of(&msg),
        body,
        links: walker.links,
        disguised_links: walker.disguised_links,
        attachments: walker.attachments,
        error,
        truncated: false,
    }
}

/// `Local@Example.JP` → `Local@example.jp`.
fn lowercase_domain(addr: &str) -> String {
    match addr.rfind('@') {
        Some(at) => {
            let (local, domain) = (&addr[..at], &addr[at + 1..]);
            let mut out = String::with_capacity(addr.len());
            out.push_str(local);
            out.push('@');
            // `to_lowercase` is `to_ascii_lowercase` on ASCII, without the
            // Unicode case tables (and done in place, not per `char`).
            if domain.is_ascii() {
                out.push_str(domain);
                out[at + 1..].make_ascii_lowercase();
            } else {
                out.push_str(&domain.to_lowercase());
            }
            out
        }
        None => addr.to_owned(),
    }
}

/// True when header text shows signs of undecoded bytes.
fn needs_repair(s: &str) -> bool {
    memchr::memchr(0x1B, s.as_bytes()).is_some() || has_replacement_char(s)
}

/// Does `s` hold U+FFFD? memchr's memmem, not `str::contains`: std's char
/// search looks for the last byte of U+FFFD, 0xBD, which Japanese UTF-8 is
/// full of. One searcher for all calls (`memmem::find` builds one per
/// call).
fn has_replacement_char(s: &str) -> bool {
    static FFFD: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("\u{fffd}".as_bytes()));
    FFFD.find(s.as_bytes()).is_some()
}

/// The raw bytes of the first header `name` in the message's root part.
fn raw_header<'a>(msg: &'a Message<'_>, name: &HeaderName<'_>) -> Option<&'a [u8]> {
    let h = msg.root_part().headers.iter().find(|h| &h.name == name)?;
    msg.raw_message()
        .get(h.offset_start as usize..h.offset_end as usize)
}

/// Re-decode a header whose bytes were not UTF-8 (raw Shift_JIS, EUC-JP or
/// ISO-2022-JP): sniff the raw value, then let mail-parser parse the repaired
/// text so that encoded words and address syntax are still honoured.
fn repaired_header(
    msg: &Message<'_>,
    name: HeaderName<'static>,
    field: &str,
) -> Option<Message<'static>> {
    let raw = raw_header(msg, &name)?;
    // Unfold first: ISO-2022-JP escapes do not survive line breaks.
    let mut unfolded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' | b'\n' => {}
            b => unfolded.push(b),
        }
        i += 1;
    }
    let text = decode_unlabelled(&unfolded).ok()?.text;
    let synthetic = format!("{field}: {}\n\n", text.trim());
    parser().parse(synthetic.as_bytes()).map(|m| m.into_owned())
}

fn subject_of(msg: &Message<'_>) -> Option<String> {
    let s = subject_text(msg)?;
    if !needs_repair(s) {
        return Some(s.to_owned());
    }
    if let Some(fixed) = repaired_header(msg, HeaderName::Subject, "Subject")
        && let Some(fs) = subject_text(&fixed)
        && !needs_repair(fs)
    {
        return Some(fs.to_owned());
    }
    // Mislabelled or split encoded words.
    if let Some(text) = raw_header_text(msg, &HeaderName::Subject) {
        let fixed = decode_encoded_words(&text);
        let fixed = fixed.trim();
        if !needs_repair(fixed) {
            return Some(fixed.to_owned());
        }
    }
    Some(s.to_owned())
}

/// A header's raw value, unfolded and decoded as unlabelled text.
fn raw_header_text(msg: &Message<'_>, name: &HeaderName<'_>) -> Option<String> {
    let raw = raw_header(msg, name)?;
    let unfolded: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    Some(decode_unlabelled(&unfolded).ok()?.text)
}

fn first_addr(msg: &Message<'_>) -> Option<(Option<String>, Option<String>)> {
    let a: &Addr = root_value(msg, |n| matches!(n, HeaderName::From))
        .and_then(HeaderValue::as_address)?
        .first()?;
    Some((a.name().map(str::to_owned), a.address().map(str::to_owned)))
}

fn from_parts(msg: &Message<'_>) -> (Option<String>, Option<String>) {
    let Some((mut name, mut address)) = first_addr(msg) else {
        return (None, None);
    };
    if (name.as_deref().is_some_and(needs_repair) || address.as_deref().is_some_and(needs_repair))
        && let Some(fixed) = repaired_header(msg, HeaderName::From, "From")
        && let Some((n, a)) = first_addr(&fixed)
        && !n.as_deref().is_some_and(needs_repair)
    {
        name = n;
        address = a.or(address);
    }
    // mail-parser moves parenthesised text (RFC 5322 comments) behind the
    // name: `(財)日本インターネット協会 <x@y>` comes back as
    // `日本インターネット協会 (財)`. Keep the sender's order when we can.
    if let Some(n) = display_name_in_order(msg) {
        name = Some(n);
    }
    let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    (name, address.map(|a| lowercase_domain(a.trim())))
}

/// The display name of the first `From` mailbox exactly as written (before
/// its `<addr>`), with encoded words decoded and quotes removed. `None` when
/// the header has no `<addr>` or uses group syntax.
fn display_name_in_order(msg: &Message<'_>) -> Option<String> {
    // Without a `<` byte the decoded header has no `<` either (no charset
    // we sniff makes U+003C out of other bytes): skip the sniffing.
    memchr::memchr(b'<', raw_header(msg, &HeaderName::From)?)?;
    let text = raw_header_text(msg, &HeaderName::From)?;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut cut = None;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ':' | ',' | ';' if !in_quotes => return None,
            '<' if !in_quotes => {
                cut = Some(i);
                break;
            }
            _ => {}
        }
    }
    let prefix = text[..cut?].trim();
    if prefix.is_empty() {
        return None;
    }
    let decoded = decode_encoded_words(prefix);
    let decoded = decoded.trim();
    if needs_repair(decoded) {
        return None;
    }
    let unquoted = match decoded.strip_prefix('"').and_then(|d| d.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') || inner.contains("\\\"") => {
            inner.replace("\\\"", "\"").replace("\\\\", "\\")
        }
        _ => decoded.to_owned(),
    };
    Some(unquoted)
}

/// Walks a mail-parser part tree, collecting text, links and attachments.
struct Walker<'l> {
    limits: &'l ParseLimits,
    parts_seen: usize,
    /// Every part body is known to be well-formed base64 or
    /// quoted-printable (or not transfer-encoded): the message came from
    /// the fast path, so no `transfer_problem` to look for.
    transfer_clean: bool,
    /// Parts whose text is known to hold no U+FFFD (see
    /// [`NoReplacementParts`]): not searched for one.
    no_replacement: NoReplacementParts,
    links: Vec<String>,
    seen_links: HashSet<String>,
    disguised_links: Vec<DisguisedLink>,
    attachments: Vec<String>,
    errors: Vec<String>,
}

/// The value of a part's last field named by the variant `is` picks:
/// what mail-parser's `header_value` finds (its `==` on names is a
/// variant compare for every name it knows, and it parses every known
/// name to its variant), without two function calls per field.
fn last_value<'a, 'x>(
    part: &'a MessagePart<'x>,
    is: fn(&HeaderName<'_>) -> bool,
) -> Option<&'a HeaderValue<'x>> {
    part.headers
        .iter()
        .rev()
        .find(|h| is(&h.name))
        .map(|h| &h.value)
}

/// `part.content_type()`, by [`last_value`].
fn content_type_of<'a, 'x>(part: &'a MessagePart<'x>) -> Option<&'a ContentType<'x>> {
    last_value(part, |n| matches!(n, HeaderName::ContentType))
        .and_then(HeaderValue::as_content_type)
}

/// `part.content_disposition()`, by [`last_value`].
fn content_disposition_of<'a, 'x>(part: &'a MessagePart<'x>) -> Option<&'a ContentType<'x>> {
    last_value(part, |n| matches!(n, HeaderName::ContentDisposition))
        .and_then(HeaderValue::as_content_type)
}

/// The value of the root part's last field picked by `is`, as
/// [`last_value`]: what `Message::subject`, `from`, `reply_to` and
/// `message_id` look up.
fn root_value<'a, 'x>(
    msg: &'a Message<'x>,
    is: fn(&HeaderName<'_>) -> bool,
) -> Option<&'a HeaderValue<'x>> {
    last_value(msg.root_part(), is)
}

/// `msg.subject()`, by [`root_value`].
fn subject_text<'a>(msg: &'a Message<'_>) -> Option<&'a str> {
    root_value(msg, |n| matches!(n, HeaderName::Subject)).and_then(HeaderValue::as_text)
}

/// `msg.message_id()`, by [`root_value`].
fn message_id_of<'a>(msg: &'a Message<'_>) -> Option<&'a str> {
    root_value(msg, |n| matches!(n, HeaderName::MessageId)).and_then(HeaderValue::as_text)
}

/// Text contributed by a subtree, and whether any of it came from HTML.
struct Piece {
    text: String,
    html: bool,
}

impl Piece {
    fn empty() -> Piece {
        Piece {
            text: String::new(),
            html: false,
        }
    }
}

/// Count of non-whitespace characters (`char::is_whitespace`), from the
/// bytes: Japanese text is nearly all multi-byte characters, and decoding
/// each one to look it up in the White_Space table cost more than the rest
/// of choosing an alternative.
#[cfg(test)]
fn visible_len(s: &str) -> usize {
    visible_len_up_to(s, usize::MAX)
}

/// [`visible_len`] when it is below `limit`; otherwise some count of at
/// least `limit` (counting stops there: the choice of an alternative only
/// needs to know whether a text reaches a length).
fn visible_len_up_to(s: &str, limit: usize) -> usize {
    let b = s.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while i < b.len() && n < limit {
        let c = b[i];
        if c < 0x80 {
            n += usize::from(!matches!(c, b'\t'..=b'\r' | b' '));
            i += 1;
            continue;
        }
        let width = match c {
            0xF0.. => 4,
            0xE0.. => 3,
            _ => 2,
        };
        // The non-ASCII White_Space characters: U+0085, U+00A0, U+1680,
        // U+2000..=U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
        let space = matches!(
            b.get(i..i + width),
            Some(
                [0xC2, 0x85 | 0xA0]
                    | [0xE1, 0x9A, 0x80]
                    | [0xE2, 0x80, 0x80..=0x8A | 0xA8 | 0xA9 | 0xAF]
                    | [0xE2, 0x81, 0x9F]
                    | [0xE3, 0x80, 0x80]
            )
        );
        n += usize::from(!space);
        i += width;
    }
    n
}

/// `text` with CRLF line ends turned into LF; no copy when there is no CR.
fn lf_line_ends(text: Cow<'_, str>) -> String {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return text.into_owned();
    }
    text.replace("\r\n", "\n")
}

fn join_pieces(pieces: Vec<Piece>) -> Piece {
    let html = pieces.iter().any(|p| p.html);
    let mut texts: Vec<String> = pieces
        .into_iter()
        .map(|p| {
            let mut t = p.text;
            t.truncate(t.trim_end().len());
            t
        })
        .filter(|t| !t.trim().is_empty())
        .collect();
    let text = if texts.len() == 1 {
        texts.pop().unwrap_or_default()
    } else {
        texts.join("\n\n")
    };
    Piece { text, html }
}

impl Walker<'_> {
    fn error(&mut self, e: String) {
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    /// The text of a message (its bodies are moved out of `msg`).
    fn message_body(&mut self, msg: &mut Message<'_>, depth: usize) -> String {
        if msg.parts.is_empty() {
            return String::new();
        }
        let mut text = self.part(msg, 0, depth).text;
        text.truncate(text.trim_end().len());
        text
    }

    /// The text of part `id` and its subparts. Each part is visited once
    /// (mail-parser lists a part among its parent's children only), so its
    /// body is moved out of `msg` instead of copied.
    fn part(&mut self, msg: &mut Message<'_>, id: u32, depth: usize) -> Piece {
        let Some(part) = msg.parts.get(id as usize) else {
            return Piece::empty();
        };
        self.parts_seen += 1;
        if self.parts_seen > self.limits.max_parts {
            self.error(format!(
                "more than {} MIME parts; the rest were skipped",
                self.limits.max_parts
            ));
            return Piece::empty();
        }
        if depth > self.limits.max_depth {
            self.error(format!(
                "MIME nesting deeper than {} levels; inner parts were skipped",
                self.limits.max_depth
            ));
            return Piece::empty();
        }
        if part.is_encoding_problem {
            let what = match part.encoding {
                Encoding::Base64 => "base64",
                Encoding::QuotedPrintable => "quoted-printable",
                Encoding::None => "MIME structure",
            };
            self.error(format!("part {id}: malformed {what}; raw content used"));
        } else if !self.transfer_clean
            && let Some(what) = self.transfer_problem(msg, part)
        {
            self.error(format!("part {id}: {what}; decoded what was there"));
        }
        let is_attachment = content_disposition_of(part).is_some_and(|d| d.is_attachment());
        let body = match msg.parts.get_mut(id as usize) {
            Some(part) => std::mem::take(&mut part.body),
            None => return Piece::empty(),
        };
        let Some(part) = msg.parts.get(id as usize) else {
            return Piece::empty();
        };
        match body {
            PartType::Text(t) => {
                // Plain text, untyped text, or a message/rfc822 mail-parser
                // could not parse (its raw text is still worth scoring).
                // Other types get here only with a broken transfer encoding.
                let subtype_ok = content_type_of(part).is_none_or(|ct| {
                    ct.ctype().eq_ignore_ascii_case("message")
                        || ct.ctype().eq_ignore_ascii_case("text")
                            && ct.subtype().is_none_or(|s| {
                                s.eq_ignore_ascii_case("plain")
                                    || s.eq_ignore_ascii_case("enriched")
                            })
                });
                if is_attachment || !subtype_ok {
                    self.attachment(part);
                    return Piece::empty();
                }
                Piece {
                    text: lf_line_ends(self.fix_charset(msg, part, id, t)),
                    html: false,
                }
            }
            PartType::Html(h) => {
                let fixed = self.fix_charset(msg, part, id, h);
                let rendered = html_to_text(&fixed);
                for l in rendered.links {
                    if self.seen_links.insert(l.clone()) {
                        self.links.push(l);
                    }
                }
                for d in rendered.disguised {
                    if !self.disguised_links.contains(&d) {
                        self.disguised_links.push(d);
                    }
                }
                if is_attachment {
                    self.attachment(part);
                    return Piece::empty();
                }
                Piece {
                    text: rendered.text,
                    html: true,
                }
            }
            PartType::Binary(_) | PartType::InlineBinary(_) => {
                self.attachment(part);
                Piece::empty()
            }
            PartType::Message(mut inner) => {
                if let Some(name) = part.attachment_name() {
                    self.attachments.push(name.to_owned());
                }
                let body = self.message_body(&mut inner, depth + 1);
                let mut pieces = Vec::new();
                if let Some(s) = subject_of(&inner) {
                    pieces.push(Piece {
                        text: s,
                        html: false,
                    });
                }
                pieces.push(Piece {
                    text: body,
                    html: false,
                });
                join_pieces(pieces)
            }
            PartType::Multipart(children) => {
                let alternative = content_type_of(part).is_some_and(|ct| {
                    ct.subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("alternative"))
                });
                let pieces: Vec<Piece> = children
                    .iter()
                    .map(|&c| self.part(msg, c, depth + 1))
                    .collect();
                if alternative {
                    choose_alternative(pieces)
                } else {
                    join_pieces(pieces)
                }
            }
        }
    }

    fn attachment(&mut self, part: &MessagePart<'_>) {
        let name = match part.attachment_name() {
            Some(n) if !n.trim().is_empty() => n.trim().to_owned(),
            _ => {
                let ct = part
                    .content_type()
                    .map(|ct| match ct.subtype() {
                        Some(s) => format!("{}/{}", ct.ctype(), s),
                        None => ct.ctype().to_owned(),
                    })
                    .unwrap_or_else(|| "application/octet-stream".to_owned());
                format!("({})", ct.to_ascii_lowercase())
            }
        };
        self.attachments.push(name);
    }

    /// Repair text whose declared charset is wrong: re-sniff the
    /// transfer-decoded bytes when mail-parser's result has U+FFFD or stray
    /// ESC characters, or when a Latin/ASCII label hides Japanese bytes.
    fn fix_charset<'x>(
        &mut self,
        msg: &Message<'_>,
        part: &MessagePart<'_>,
        id: u32,
        decoded: Cow<'x, str>,
    ) -> Cow<'x, str> {
        let declared = content_type_of(part)
            .and_then(|ct| ct.attribute("charset"))
            .map(str::trim);
        let (is_2022, latin_label) = declared.map_or((false, false), label_kind);
        let known_clean = id < 64 && self.no_replacement & (1 << id) != 0;
        let has_fffd = !known_clean && has_replacement_char(&decoded);
        let has_esc = !is_2022 && memchr::memchr(0x1B, decoded.as_bytes()).is_some();
        let high_chars = latin_label && !decoded.is_ascii();
        if !(has_fffd || has_esc || high_chars) {
            return decoded;
        }
        let bytes = self.part_bytes(msg, part);
        let resniffed = bytes.as_deref().and_then(|b| decode_unlabelled(b).ok());
        match resniffed {
            Some(d) if has_fffd || has_esc => {
                if has_fffd && d.text.contains('\u{fffd}') {
                    self.error(format!("part {id}: text is not valid in any supported charset; undecodable bytes replaced"));
                }
                Cow::Owned(d.text)
            }
            Some(d)
                if kana_count(&d.text) > 0
                    && japanese_score(&d.text) > japanese_score(&decoded) =>
            {
                Cow::Owned(d.text)
            }
            Some(_) => decoded,
            None => {
                if has_fffd {
                    let declared = declared.map(str::to_ascii_lowercase);
                    let label = declared.as_deref().unwrap_or("utf-8");
                    self.error(format!(
                        "part {id}: text is not valid {label}; undecodable bytes replaced with U+FFFD"
                    ));
                } else if has_esc && bytes.as_deref().is_some_and(has_iso2022jp_escape) {
                    self.error(format!("part {id}: malformed ISO-2022-JP text"));
                }
                decoded
            }
        }
    }

    /// Truncated or malformed base64 / quoted-printable that mail-parser
    /// decoded leniently without flagging it.
    fn transfer_problem(&self, msg: &Message<'_>, part: &MessagePart<'_>) -> Option<&'static str> {
        if matches!(part.body, PartType::Multipart(_) | PartType::Message(_)) {
            return None;
        }
        let raw = msg
            .raw_message()
            .get(part.offset_body as usize..part.offset_end as usize)?;
        match part.encoding {
            Encoding::Base64 => base64_problem(raw),
            Encoding::QuotedPrintable => qp_problem(raw),
            Encoding::None => None,
        }
    }

    /// The part's body after transfer decoding, before charset decoding.
    fn part_bytes(&self, msg: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
        let raw = msg
            .raw_message()
            .get(part.offset_body as usize..part.offset_end as usize)?;
        match part.encoding {
            Encoding::Base64 => base64_decode(raw),
            Encoding::QuotedPrintable => quoted_printable_decode(raw),
            Encoding::None => Some(raw.to_vec()),
        }
    }
}

/// What a (trimmed) charset label says, in any case: an ISO-2022 label
/// (`2022` in it), and a Latin or ASCII one (`8859`, `ascii`, `1252` in it,
/// starting with `latin`, or `us`). Compared in place, without a
/// lowercased copy or `str::contains`'s searcher set up per needle: this
/// runs for every text part.
fn label_kind(label: &str) -> (bool, bool) {
    let label = label.as_bytes();
    let has = |needle: &[u8]| {
        label
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    let is_2022 = has(b"2022");
    let latin = has(b"8859")
        || has(b"ascii")
        || label
            .get(..5)
            .is_some_and(|start| start.eq_ignore_ascii_case(b"latin"))
        || has(b"1252")
        || label.eq_ignore_ascii_case(b"us");
    (is_2022, latin)
}

/// Base64 whose length is not a multiple of 4, or with data after padding.
fn base64_problem(raw: &[u8]) -> Option<&'static str> {
    // Up to the first `=`, the only possible problem is an invalid byte:
    // count alphabet and whitespace bytes in a branch-free pass (the
    // compiler vectorizes it), and walk byte by byte only from the padding
    // on, where order matters.
    let head_len = memchr::memchr(b'=', raw).unwrap_or(raw.len());
    let (head, tail) = raw.split_at(head_len);
    let (mut alphabet, mut space) = (0usize, 0usize);
    for &b in head {
        alphabet += usize::from(
            b.is_ascii_uppercase()
                | b.is_ascii_lowercase()
                | b.is_ascii_digit()
                | (b == b'+')
                | (b == b'/'),
        );
        space += usize::from((b == b' ') | (b == b'\t') | (b == b'\r') | (b == b'\n'));
    }
    if alphabet + space != head.len() {
        return Some("malformed base64 (invalid characters)");
    }
    let mut n = alphabet;
    let mut padded = false;
    for &b in tail {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                if padded {
                    return Some("malformed base64 (data after padding)");
                }
                n += 1;
            }
            b'=' => {
                padded = true;
                n += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => return Some("malformed base64 (invalid characters)"),
        }
    }
    (!n.is_multiple_of(4)).then_some("truncated base64")
}

/// Quoted-printable with an `=` that is neither `=XX` nor a soft line break.
fn qp_problem(raw: &[u8]) -> Option<&'static str> {
    // Japanese QP has an `=` every three bytes: a plain loop that skips
    // over each valid `=XX` beats calling memchr for every one.
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'=' {
            i += 1;
            continue;
        }
        let rest = &raw[i + 1..];
        if rest.len() >= 2 && rest[0].is_ascii_hexdigit() && rest[1].is_ascii_hexdigit() {
            i += 3;
            continue;
        }
        let ok = rest.is_empty()
            || rest.starts_with(b"\n")
            || rest.starts_with(b"\r\n")
            || rest.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if !ok {
            return Some("malformed or truncated quoted-printable");
        }
        i += 1;
    }
    None
}

/// Pick the text of a `multipart/alternative`: the first non-empty plain
/// alternative, unless HTML says much more (plain is a stub).
fn choose_alternative(pieces: Vec<Piece>) -> Piece {
    let mut plain: Option<Piece> = None;
    let mut html: Option<Piece> = None;
    for p in pieces {
        if p.text.trim().is_empty() {
            continue;
        }
        if p.html {
            html.get_or_insert(p);
        } else {
            plain.get_or_insert(p);
        }
    }
    match (plain, html) {
        (Some(p), Some(h)) => {
            // HTML wins when three times the plain text's visible length is
            // below both the HTML's character count (which bounds its
            // visible length and is much cheaper to get) and its visible
            // length. Counting stops as soon as the answer is known: below
            // a third of the character count means below the count.
            let html_chars = h.text.chars().count();
            let plain_visible = visible_len_up_to(&p.text, html_chars.div_ceil(3));
            let limit = plain_visible * 3 + 1;
            if plain_visible < html_chars.div_ceil(3) && visible_len_up_to(&h.text, limit) >= limit
            {
                h
            } else {
                p
            }
        }
        (Some(p), None) => p,
        (None, Some(h)) => h,
        (None, None) => Piece::empty(),
    }
}

/// Field names that only an e-mail header block would contain.
const STRONG_FIELDS: &[&str] = &[
    "from",
    "subject",
    "received",
    "mime-version",
    "message-id",
    "return-path",
    "delivered-to",
    "content-type",
    "x-mailer",
    "dkim-signature",
    "authentication-results",
];

/// Does `raw` start like an RFC 5322 message rather than pasted text?
///
/// True when the input (after an optional mbox `From ` line) begins with a
/// block of `Name: value` fields with ASCII names (continuation lines
/// allowed) that ends at a blank line or at the end of the input, holds at
/// least two fields, and includes at least one of `From`, `Subject`,
/// `Received`, `MIME-Version`, `Message-ID`, `Return-Path`, `Delivered-To`,
/// `Content-Type`, `X-Mailer`, `DKIM-Signature`, `Authentication-Results`.
/// Only the first 64 KB are looked at.
pub fn looks_like_rfc5322(raw: &[u8]) -> bool {
    let head = &raw[..raw.len().min(64 * 1024)];
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let mut lines = head.split(|&b| b == b'\n').peekable();
    if lines.peek().is_some_and(|l| l.starts_with(b"From ")) {
        lines.next();
    }
    let mut fields = 0;
    let mut strong = false;
    for (n, line) in lines.enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if n == 0 {
                return false;
            }
            continue;
        }
        let Some(name) = field_name(line) else {
            return false;
        };
        fields += 1;
        let lower = name.to_ascii_lowercase();
        if STRONG_FIELDS
            .iter()
            .any(|s| s.as_bytes() == lower.as_slice())
        {
            strong = true;
        }
    }
    fields >= 2 && strong
}

/// The field name of a header line (`Name:` with RFC 5322 ftext name, which
/// we narrow to letters, digits, `-` and `_`), or `None`.
pub(crate) fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = memchr::memchr(b':', line)?;
    let name = &line[..colon];
    let name = name.strip_suffix(b" ").unwrap_or(name);
    if name.is_empty()
        || !name[0].is_ascii_alphanumeric()
        || !name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    proptest::proptest! {
        /// The alternative chosen with counts that stop early is the one
        /// the full counts choose (HTML when 3 × plain's visible length is
        /// below both its character count and its visible length).
        #[test]
        fn alternative_choice_agrees_with_full_counts(
            plain in proptest::collection::vec(proptest::sample::select(vec!['a', ' ', 'お', '\u{3000}', '\n']), 1..30),
            html in proptest::collection::vec(proptest::sample::select(vec!['a', ' ', 'お', '\u{3000}', '\n']), 1..90),
        ) {
            let (plain, html): (String, String) = (plain.into_iter().collect(), html.into_iter().collect());
            let slow = |s: &str| s.chars().filter(|c| !c.is_whitespace()).count();
            let choose_html = !plain.trim().is_empty()
                && (html.trim().is_empty()
                    || (slow(&plain) * 3 < html.chars().count() && slow(&plain) * 3 < slow(&html)));
            let pieces = vec![
                Piece { text: plain.clone(), html: false },
                Piece { text: html.clone(), html: true },
            ];
            let chosen = choose_alternative(pieces);
            if !html.trim().is_empty() && !plain.trim().is_empty() {
                proptest::prop_assert_eq!(chosen.html, choose_html);
            }
        }
    }

    /// Counting up to a limit gives the exact count below it, and at
    /// least the limit otherwise.
    #[test]
    fn visible_len_up_to_stops_at_the_limit_only() {
        for s in [
            "",
            " ",
            "お知らせ\u{3000}です。\r\n a",
            "a b c d e f",
            "\u{3000}\u{3000}x",
        ] {
            let full = visible_len(s);
            for limit in 0..=full + 2 {
                let counted = visible_len_up_to(s, limit);
                if full < limit {
                    assert_eq!(counted, full, "{s:?} {limit}");
                } else {
                    assert!(counted >= limit, "{s:?} {limit}");
                }
            }
        }
    }

    /// `visible_len` reads UTF-8 bytes instead of decoding characters; it
    /// must agree with `char::is_whitespace` on every character.
    #[test]
    fn visible_len_agrees_with_char_is_whitespace_for_every_char() {
        let mut all = String::new();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let one = c.to_string();
            assert_eq!(visible_len(&one), usize::from(!c.is_whitespace()), "{c:?}");
            all.push(c);
        }
        let slow = |s: &str| s.chars().filter(|c| !c.is_whitespace()).count();
        assert_eq!(visible_len(&all), slow(&all));
        let mixed = "お知らせ\u{3000}です。\r\n\u{a0}Total: ¥1,000\u{2028}\u{85}終";
        assert_eq!(visible_len(mixed), slow(mixed));
    }

    /// The transfer-encoding checks as they were before the fast paths
    /// (byte-by-byte base64, memchr per `=` for QP): the reference.
    fn reference_base64_problem(raw: &[u8]) -> Option<&'static str> {
        let mut n = 0usize;
        let mut padded = false;
        for &b in raw {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                    if padded {
                        return Some("malformed base64 (data after padding)");
                    }
                    n += 1;
                }
                b'=' => {
                    padded = true;
                    n += 1;
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => return Some("malformed base64 (invalid characters)"),
            }
        }
        (!n.is_multiple_of(4)).then_some("truncated base64")
    }

    fn reference_qp_problem(raw: &[u8]) -> Option<&'static str> {
        let mut i = 0;
        while let Some(p) = memchr::memchr(b'=', &raw[i..]) {
            let rest = &raw[i + p + 1..];
            let ok = rest.is_empty()
                || rest.starts_with(b"\n")
                || rest.starts_with(b"\r\n")
                || rest
                    .iter()
                    .take_while(|b| **b == b' ' || **b == b'\t')
                    .count()
                    > 0
                || (rest.len() >= 2 && rest[0].is_ascii_hexdigit() && rest[1].is_ascii_hexdigit());
            if !ok {
                return Some("malformed or truncated quoted-printable");
            }
            i += p + 1;
        }
        None
    }

    proptest::proptest! {
        /// Same verdicts (and messages) as the byte-by-byte checks, on bytes
        /// drawn mostly from the characters that matter to each encoding.
        #[test]
        fn transfer_checks_agree_with_the_byte_by_byte_reference(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"AZaz09+/= \t\r\n=3D=E3=\xff.".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..120,
            )
        ) {
            proptest::prop_assert_eq!(base64_problem(&raw), reference_base64_problem(&raw));
            proptest::prop_assert_eq!(qp_problem(&raw), reference_qp_problem(&raw));
        }
    }

    proptest::proptest! {
        /// The single-part fast path skips `transfer_problem` for bodies
        /// its decoders accepted: every body they accept must pass it.
        #[test]
        fn bodies_the_fast_decoders_accept_have_no_transfer_problem(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec()),
                    3 => proptest::sample::select(b"= \t\r\n-=3D=E3=".to_vec()),
                    1 => proptest::num::u8::ANY,
                ],
                0..120,
            )
        ) {
            if crate::mail::fast_path::decode_base64_body(&raw).is_some() {
                proptest::prop_assert_eq!(base64_problem(&raw), None);
            }
            if crate::mail::fast_path::decode_quoted_printable_body(&raw).is_some() {
                proptest::prop_assert_eq!(qp_problem(&raw), None);
            }
        }
    }

    proptest::proptest! {
        /// The ASCII shortcut in `lowercase_domain` changes nothing.
        #[test]
        fn lowercase_domain_is_format_with_to_lowercase(
            addr in "[a-zA-Z0-9@.\u{130}\u{212a}ÄΣ_-]{0,20}",
        ) {
            let reference = match addr.rfind('@') {
                Some(at) => format!("{}@{}", &addr[..at], addr[at + 1..].to_lowercase()),
                None => addr.clone(),
            };
            proptest::prop_assert_eq!(lowercase_domain(&addr), reference);
        }

        /// `display_name_in_order` skips headers without a `<` byte: no
        /// sniffed charset may turn other bytes into `<`.
        #[test]
        fn sniffed_text_has_no_angle_bracket_without_the_byte(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"\x1b$B(J(I@\x00\xfe\xff\x3b\x3d+-ADw".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..60,
            )
        ) {
            if let Ok(d) = decode_unlabelled(&raw) && d.text.contains('<') {
                proptest::prop_assert!(raw.contains(&b'<'));
            }
        }
    }

    /// `label_kind` as it was written first: a lowercased copy and
    /// `str` searches.
    fn reference_label_kind(label: &str) -> (bool, bool) {
        let c = label.to_ascii_lowercase();
        let latin = c.contains("8859")
            || c.contains("ascii")
            || c.starts_with("latin")
            || c.contains("1252")
            || c == "us";
        (c.contains("2022"), latin)
    }

    /// `content_type_of`, `content_disposition_of` and the root field
    /// lookups find what mail-parser's accessors find, in every part of
    /// every fixture and corpus message (parsed by mail-parser and by the
    /// fast path).
    #[test]
    fn part_lookups_agree_with_mail_parsers_accessors() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut parts = 0;
        for dir in ["fixtures/mail", "hostile", "corpus/ham", "corpus/scam"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if !path.is_file() {
                    continue;
                }
                let raw = std::fs::read(&path).unwrap();
                for msg in [
                    parser().parse(&raw),
                    crate::mail::fast_path::parse_fast(&raw),
                ]
                .into_iter()
                .flatten()
                {
                    assert_eq!(subject_text(&msg), msg.subject(), "{path:?}");
                    assert_eq!(message_id_of(&msg), msg.message_id(), "{path:?}");
                    let from = root_value(&msg, |n| matches!(n, HeaderName::From))
                        .and_then(HeaderValue::as_address);
                    assert_eq!(from, msg.from(), "{path:?}");
                    let reply_to = root_value(&msg, |n| matches!(n, HeaderName::ReplyTo))
                        .and_then(HeaderValue::as_address);
                    assert_eq!(reply_to, msg.reply_to(), "{path:?}");
                    for part in &msg.parts {
                        parts += 1;
                        assert_eq!(content_type_of(part), part.content_type(), "{path:?}");
                        assert_eq!(
                            content_disposition_of(part),
                            part.content_disposition(),
                            "{path:?}"
                        );
                    }
                }
            }
        }
        assert!(parts > 1000, "{parts}");
    }

    #[test]
    fn label_kind_agrees_with_the_lowercased_searches() {
        for label in [
            "",
            "us",
            "US",
            "u",
            "us-ascii",
            "US-ASCII",
            "iso-8859-1",
            "ISO-8859-15",
            "latin1",
            "Latin-2",
            "LATIN",
            "lati",
            "windows-1252",
            "cp1252",
            "iso-2022-jp",
            "ISO-2022-JP-2",
            "utf-8",
            "Shift_JIS",
            "euc-jp",
            "ascii",
            "xascii",
            "usa",
            "ｕｓ",
            "İso-2022",
        ] {
            assert_eq!(label_kind(label), reference_label_kind(label), "{label}");
        }
    }

    proptest::proptest! {
        #[test]
        fn label_kind_agrees_on_any_label(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "us", "US", "Us", "ascii", "ASCII", "8859", "885", "2022", "202", "1252",
                    "latin", "LATIN", "Lati", "-", "_", " ", "x", "İ", "ı", "u", "s", "ｕｓ",
                ]),
                0..5,
            ),
        ) {
            let label = pieces.concat();
            proptest::prop_assert_eq!(label_kind(&label), reference_label_kind(&label), "{}", label);
        }
    }

    #[test]
    fn transfer_checks_on_typical_bodies() {
        let b64 = b"5Lu25ZCNOiDnpL7lhoXloLEg77yR77yS5pyI5Y+3IOmFjeS/oeOBruOBiuefpQ==\r\n";
        assert_eq!(base64_problem(b64), None);
        assert_eq!(base64_problem(b"QUJD\r\nRA="), Some("truncated base64"));
        assert_eq!(
            base64_problem(b"QQ==QUJD"),
            Some("malformed base64 (data after padding)")
        );
        assert_eq!(
            base64_problem(b"QU*D"),
            Some("malformed base64 (invalid characters)")
        );
        let qp = b"=E3=81=8A=E7=9F=A5=E3=82=89=E3=81=9B=\r\n=E3=81=A7=E3=81=99 a=3Db\n";
        assert_eq!(qp_problem(qp), None);
        assert_eq!(
            qp_problem(b"abc=\t\n=4"),
            Some("malformed or truncated quoted-printable")
        );
        assert_eq!(
            qp_problem(b"x=G1"),
            Some("malformed or truncated quoted-printable")
        );
        for raw in [&b64[..], qp, b"=", b"==", b"=\r", b"= ", b"=A"] {
            assert_eq!(base64_problem(raw), reference_base64_problem(raw));
            assert_eq!(qp_problem(raw), reference_qp_problem(raw));
        }
    }

    pub(crate) fn fixture_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
    }

    fn expected() -> serde_json::Map<String, serde_json::Value> {
        let text = std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn check(name: &str, got: &MailMessage, exp: &serde_json::Value) {
        let s = |k: &str| exp[k].as_str().map(str::to_owned);
        let v = |k: &str| -> Vec<String> {
            exp[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(got.message_id, s("message_id"), "{name}: message_id");
        assert_eq!(got.subject, s("subject"), "{name}: subject");
        assert_eq!(got.from_name, s("from_name"), "{name}: from_name");
        assert_eq!(got.from_address, s("from_address"), "{name}: from_address");
        assert_eq!(got.from, s("from"), "{name}: from");
        assert_eq!(got.body, exp["body"].as_str().unwrap(), "{name}: body");
        assert_eq!(got.links, v("links"), "{name}: links");
        assert_eq!(got.attachments, v("attachments"), "{name}: attachments");
        assert_eq!(
            got.error.is_some(),
            exp["error"].as_bool().unwrap(),
            "{name}: error {:?}",
            got.error
        );
        assert!(!got.truncated, "{name}: truncated");
    }

    #[test]
    fn every_eml_fixture_decodes_exactly() {
        let exp = expected();
        assert!(exp.len() >= 13);
        for (name, e) in &exp {
            let raw = std::fs::read(fixture_dir().join(name)).unwrap();
            let got = parse_message(&raw, &ParseLimits::default());
            check(name, &got, e);
        }
    }

    /// Guard for the `full_encoding` feature: without it mail-parser returns
    /// mojibake for these charsets instead of failing.
    #[test]
    fn mail_parser_itself_decodes_japanese_charsets() {
        let exp = expected();
        for name in [
            "01_iso2022jp_7bit.eml",
            "02_shift_jis_base64.eml",
            "03_euc_jp_qp.eml",
            "04_utf8_8bit.eml",
            "05_cp932_ext.eml",
            "12_iso2022jp_cp50220.eml",
        ] {
            let raw = std::fs::read(fixture_dir().join(name)).unwrap();
            let m = MessageParser::new().parse(&raw).unwrap();
            assert_eq!(
                m.body_text(0).unwrap().trim_end(),
                exp[name]["body"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(m.subject(), exp[name]["subject"].as_str(), "{name}");
        }
    }

    fn eml_fixtures() -> Vec<(String, Vec<u8>)> {
        let mut names: Vec<String> = expected().keys().cloned().collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let raw = std::fs::read(fixture_dir().join(&n)).unwrap();
                (n, raw)
            })
            .collect()
    }

    #[test]
    fn mbox_maildir_and_eml_forms_hold_the_same_messages() {
        let emls = eml_fixtures();
        let file = std::fs::File::open(fixture_dir().join("mixed.mbox")).unwrap();
        let mbox: Vec<_> = crate::mail::MboxReader::new(std::io::BufReader::new(file))
            .map(|r| r.unwrap())
            .collect();
        let maildir = crate::mail::collect_sources(&[fixture_dir().join("maildir")]).unwrap();
        assert_eq!(mbox.len(), emls.len());
        assert_eq!(maildir.len(), emls.len());
        let mbox_bytes = std::fs::read(fixture_dir().join("mixed.mbox")).unwrap();
        for (i, (m, (name, raw))) in mbox.iter().zip(&emls).enumerate() {
            assert_eq!(&m.bytes, raw, "mbox message {i} vs {name}");
            assert!(!m.truncated && !m.preamble);
            let line = format!("From sender@example.org Mon Jul  1 10:{i:02}:00 2024\n");
            assert_eq!(
                &mbox_bytes[m.offset as usize..m.offset as usize + line.len()],
                line.as_bytes()
            );
        }
        // Maildir: even-numbered messages in cur/, odd ones in new/.
        let mut from_maildir: Vec<Vec<u8>> = maildir
            .iter()
            .map(|s| std::fs::read(&s.path).unwrap())
            .collect();
        let n_cur = emls.len().div_ceil(2);
        let new = from_maildir.split_off(n_cur);
        let mut merged = Vec::new();
        for i in 0..emls.len() {
            merged.push(if i % 2 == 0 {
                &from_maildir[i / 2]
            } else {
                &new[i / 2]
            });
        }
        for ((name, raw), m) in emls.iter().zip(merged) {
            assert_eq!(raw, m, "maildir copy of {name}");
        }
        let limits = ParseLimits::default();
        for (m, (name, raw)) in mbox.iter().zip(&emls) {
            assert_eq!(
                parse_message(&m.bytes, &limits),
                parse_message(raw, &limits),
                "{name}"
            );
        }
    }

    #[test]
    fn mboxrd_quoted_lines_come_back_unquoted_in_the_body() {
        let file = std::fs::File::open(fixture_dir().join("mixed.mbox")).unwrap();
        let msgs: Vec<_> = crate::mail::MboxReader::new(std::io::BufReader::new(file))
            .map(|r| parse_message(&r.unwrap().bytes, &ParseLimits::default()))
            .collect();
        assert!(
            msgs[0]
                .body
                .contains("\nFrom the desk of 還付金担当\n>From 事務局\n")
        );
        assert!(
            msgs[3].body.contains(
                "\nFrom 2024年7月1日 より新しい規約が適用されます。\n>>From 引用された行"
            )
        );
    }

    #[test]
    fn oversized_message_is_truncated_and_flagged() {
        let raw = std::fs::read(fixture_dir().join("01_iso2022jp_7bit.eml")).unwrap();
        let limits = ParseLimits {
            max_message_size: raw.len() - 40,
            ..Default::default()
        };
        let m = parse_message(&raw, &limits);
        assert!(m.truncated);
        assert_eq!(
            m.subject.as_deref(),
            Some("日本インターネット協会から還付金のお知らせ")
        );
        assert!(m.body.starts_with("あなたは8,750万円の還付金"));
    }

    #[test]
    fn malformed_input_never_panics_and_still_yields_a_record() {
        let limits = ParseLimits::default();
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\n\n\n".to_vec(),
            b"Subject: x\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n44GC44GE4".to_vec(),
            b"Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nunclosed \xe3\x81\x82\n".to_vec(),
            b"Subject: x\nContent-Type: multipart/mixed; boundary=\n\n--\n--\n".to_vec(),
            b"Content-Type: message/rfc822\n\n".to_vec(),
            b"Subject: =?ISO-2022-JP?B?GyRC?= =?UTF-8?Q?=E3=81?= =?x?y?z?=\n\n\x1b$B".to_vec(),
            b"\xff\xfe\x00garbage".to_vec(),
            (0u8..=255).cycle().take(5000).collect(),
        ];
        // 200 levels of nested multipart.
        let mut deep = b"Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n".to_vec();
        for i in 1..200 {
            deep.extend_from_slice(
                format!(
                    "--b{}\nContent-Type: multipart/mixed; boundary=b{i}\n\n",
                    i - 1
                )
                .as_bytes(),
            );
        }
        deep.extend_from_slice(b"--b199\nContent-Type: text/plain\n\ndeep text\n");
        for i in (0..200).rev() {
            deep.extend_from_slice(format!("--b{i}--\n").as_bytes());
        }
        cases.push(deep.clone());
        // The same, never closed, and as nested message/rfc822.
        cases.push(deep[..deep.len() / 2].to_vec());
        let mut nested = Vec::new();
        for _ in 0..200 {
            nested.extend_from_slice(b"Subject: n\nContent-Type: message/rfc822\n\n");
        }
        nested.extend_from_slice(b"Subject: inner\n\ninner body\n");
        cases.push(nested);
        for c in &cases {
            let m = parse_message(c, &limits);
            assert!(!m.truncated);
        }
        assert_eq!(
            parse_message(b"", &limits).error.as_deref(),
            Some("empty message")
        );
        let m = parse_message(&deep, &limits);
        assert_eq!(m.subject.as_deref(), Some("deep"));
        assert!(
            m.error
                .as_deref()
                .unwrap()
                .contains("nesting deeper than 32"),
            "{:?}",
            m.error
        );
        let m = parse_message(
            &deep,
            &ParseLimits {
                max_depth: 1000,
                ..limits
            },
        );
        assert_eq!(m.body, "deep text");
        let m = parse_message(&cases[3], &limits);
        assert_eq!(m.body, "unclosed あ");
    }

    #[test]
    fn from_display_names_keep_their_order_and_decode() {
        let l = ParseLimits::default();
        let cases: &[(&str, &str, &str)] = &[
            (
                "From: (財)日本インターネット協会 <x@DOCOMO.ne.jp>",
                "(財)日本インターネット協会",
                "x@docomo.ne.jp",
            ),
            (
                "From: \"(財)日本インターネット協会\" <x@docomo.ne.jp>",
                "(財)日本インターネット協会",
                "x@docomo.ne.jp",
            ),
            (
                "From: =?UTF-8?B?KOiyoSnml6XmnKw=?= =?UTF-8?Q?=E5=8D=94=E4=BC=9A?= <X@Docomo.NE.jp>",
                "(財)日本協会",
                "X@docomo.ne.jp",
            ),
            (
                "From: x@docomo.ne.jp (日本協会)",
                "日本協会",
                "x@docomo.ne.jp",
            ),
            (
                "From: \"Say \\\"hi\\\"\" <a@b.example>",
                "Say \"hi\"",
                "a@b.example",
            ),
        ];
        for (header, name, addr) in cases {
            let raw = format!("{header}\nSubject: s\n\nb\n");
            let m = parse_message(raw.as_bytes(), &l);
            assert_eq!(m.from_name.as_deref(), Some(*name), "{header}");
            assert_eq!(m.from_address.as_deref(), Some(*addr), "{header}");
            assert_eq!(m.from, Some(format!("{name} <{addr}>")));
        }
        let m = parse_message(b"From: a@b.example\nSubject: s\n\nb", &l);
        assert_eq!(
            (m.from.as_deref(), m.from_name),
            (Some("a@b.example"), None)
        );
    }

    #[test]
    fn split_and_mislabelled_encoded_words_are_repaired() {
        // 還付金 in UTF-8 split mid-character across two Q words; a Shift_JIS
        // display name labelled UTF-8 (itKVdIvg is 還付金 in Shift_JIS).
        let raw = b"From: =?UTF-8?B?itKVdIvg?= <a@b.example>\nSubject: =?UTF-8?Q?=E9=82?=\n =?UTF-8?Q?=84=E4=BB=98=E9=87=91?=\n\nb\n";
        let m = parse_message(raw, &ParseLimits::default());
        assert_eq!(m.subject.as_deref(), Some("還付金"));
        assert_eq!(m.from_name.as_deref(), Some("還付金"));
    }

    #[test]
    fn headers_reply_to_return_path_and_postmark() {
        let raw = b"From a@x Mon Jul  1 10:00:00 2024\nFrom: a@b\nReply-To: Y@Example.COM\nReturn-Path: <bounce@Mail.Example>\nSubject: s\n\nb\n";
        let m = parse_message(raw, &ParseLimits::default());
        assert_eq!(m.reply_to_address.as_deref(), Some("Y@example.com"));
        assert_eq!(m.return_path.as_deref(), Some("bounce@mail.example"));
        assert_eq!(m.subject.as_deref(), Some("s"));
        assert_eq!(m.body, "b");
    }

    #[test]
    fn broken_attachment_is_not_scored_as_text() {
        let raw = b"Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n!!!!\n--b--\n";
        let m = parse_message(raw, &ParseLimits::default());
        assert_eq!(m.body, "hello");
        assert_eq!(m.attachments, vec!["(image/png)"]);
        assert!(m.error.is_some());
    }

    #[test]
    fn part_limit_is_reported() {
        let mut raw = b"Subject: many\nContent-Type: multipart/mixed; boundary=b\n\n".to_vec();
        for i in 0..50 {
            raw.extend_from_slice(
                format!("--b\nContent-Type: text/plain\n\npart {i}\n").as_bytes(),
            );
        }
        raw.extend_from_slice(b"--b--\n");
        let limits = ParseLimits {
            max_parts: 10,
            ..Default::default()
        };
        let m = parse_message(&raw, &limits);
        assert!(m.body.starts_with("part 0\n\npart 1"));
        assert!(m.body.ends_with("part 8"), "{}", m.body);
        assert_eq!(
            m.error.as_deref(),
            Some("more than 10 MIME parts; the rest were skipped")
        );
        assert_eq!(
            parse_message(&raw, &ParseLimits::default())
                .body
                .matches("part ")
                .count(),
            50
        );
    }

    #[test]
    fn alternative_uses_html_when_plain_is_a_stub() {
        let raw = "Subject: s\nContent-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain; charset=utf-8\n\nHTMLメールをご覧ください\n--a\nContent-Type: text/html; charset=utf-8\n\n<p>【重要】お客様のアカウントが一時停止されました。本日中に本人確認を行ってください。確認はこちらから行えます。</p><a href=\"https://x.example/\">確認</a>\n--a--\n";
        let m = parse_message(raw.as_bytes(), &ParseLimits::default());
        assert_eq!(
            m.body,
            "【重要】お客様のアカウントが一時停止されました。本日中に本人確認を行ってください。確認はこちらから行えます。\n確認"
        );
        assert_eq!(m.links, vec!["https://x.example/"]);
    }

    #[test]
    fn unlabelled_non_mail_bytes_become_the_body() {
        let m = parse_message("【佐川急便】お荷物".as_bytes(), &ParseLimits::default());
        assert_eq!(m.body, "【佐川急便】お荷物");
        assert_eq!(m.subject, None);
    }

    #[test]
    fn rfc5322_sniffing() {
        assert!(looks_like_rfc5322(b"From: a@b\nSubject: s\n\nbody"));
        assert!(looks_like_rfc5322(
            b"Received: from x\n\tby y\nDate: now\n\nbody"
        ));
        assert!(looks_like_rfc5322(
            b"From x Mon Jul  1 10:00:00 2024\nReturn-Path: <a@b>\nTo: c\n"
        ));
        assert!(looks_like_rfc5322(
            b"\xef\xbb\xbfSubject: s\r\nMIME-Version: 1.0\r\n\r\nb"
        ));
        assert!(!looks_like_rfc5322(
            "件名: 還付金\n差出人: 協会\n\n本文".as_bytes()
        ));
        assert!(!looks_like_rfc5322(b"Subject: s\nthis is pasted text\n"));
        assert!(!looks_like_rfc5322(b"URL: http://x\nTel: 0120\n\n"));
        assert!(!looks_like_rfc5322(b"Subject: only one\n\nbody"));
        assert!(!looks_like_rfc5322(b""));
        assert!(!looks_like_rfc5322(
            "【佐川急便】お荷物の配達に伺いましたが不在のため持ち帰りました。http://x".as_bytes()
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let _ = parse_message(&data, &ParseLimits::default());
            let _ = looks_like_rfc5322(&data);
        }

        #[test]
        fn arbitrary_mime_like_text_never_panics(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "Subject: =?UTF-8?B?44GC?=\n", "Content-Type: multipart/mixed; boundary=q\n",
                    "Content-Type: multipart/alternative; boundary=q\n", "Content-Type: message/rfc822\n",
                    "Content-Transfer-Encoding: base64\n", "Content-Transfer-Encoding: quoted-printable\n",
                    "Content-Type: text/html; charset=iso-2022-jp\n", "\n", "--q\n", "--q--\n",
                    "44GC44GE\n", "=E3=81=82=\n", "\x1b$B$\"\x1b(B\n", "<a href='x'>y</a>\n", "From x\n",
                ]),
                0..60,
            )
        ) {
            let raw = parts.concat();
            let _ = parse_message(raw.as_bytes(), &ParseLimits::default());
        }
    }
}
