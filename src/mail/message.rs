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

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    Addr, Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders,
    PartType,
};

use super::charset::{decode_unlabelled, has_iso2022jp_escape, japanese_score, kana_count};
use super::html::html_to_text;

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

fn decode(data: &[u8], limits: &ParseLimits) -> MailMessage {
    let parser = MessageParser::new();
    let Some(msg) = parser.parse(data) else {
        // No header block at all: the bytes are just text.
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
        links: Vec::new(),
        attachments: Vec::new(),
        errors: Vec::new(),
    };
    let body = walker.message_body(&msg, 0);
    let (from_name, from_address) = from_parts(&msg);
    let from = match (&from_name, &from_address) {
        (Some(n), Some(a)) => Some(format!("{n} <{a}>")),
        (Some(n), None) => Some(n.clone()),
        (None, Some(a)) => Some(a.clone()),
        (None, None) => None,
    };
    let reply_to_address = msg
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(lowercase_domain);
    let return_path = match msg
        .root_part()
        .headers
        .iter()
        .find(|h| h.name == HeaderName::ReturnPath)
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
        message_id: msg.message_id().map(|id| format!("<{id}>")),
        from,
        from_name,
        from_address,
        reply_to_address,
        return_path,
        subject: subject_of(&msg),
        body,
        links: walker.links,
        attachments: walker.attachments,
        error,
        truncated: false,
    }
}

/// `Local@Example.JP` → `Local@example.jp`.
fn lowercase_domain(addr: &str) -> String {
    match addr.rfind('@') {
        Some(at) => format!("{}@{}", &addr[..at], addr[at + 1..].to_lowercase()),
        None => addr.to_owned(),
    }
}

/// True when header text shows signs of undecoded bytes.
fn needs_repair(s: &str) -> bool {
    s.contains('\u{fffd}') || s.contains('\u{1b}')
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
    MessageParser::new()
        .parse(synthetic.as_bytes())
        .map(|m| m.into_owned())
}

fn subject_of(msg: &Message<'_>) -> Option<String> {
    let s = msg.subject()?;
    if needs_repair(s)
        && let Some(fixed) = repaired_header(msg, HeaderName::Subject, "Subject")
        && let Some(fs) = fixed.subject()
        && !needs_repair(fs)
    {
        return Some(fs.to_owned());
    }
    Some(s.to_owned())
}

fn first_addr(msg: &Message<'_>) -> Option<(Option<String>, Option<String>)> {
    let a: &Addr = msg.from()?.first()?;
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
    let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    (name, address.map(|a| lowercase_domain(a.trim())))
}

/// Walks a mail-parser part tree, collecting text, links and attachments.
struct Walker<'l> {
    limits: &'l ParseLimits,
    parts_seen: usize,
    links: Vec<String>,
    attachments: Vec<String>,
    errors: Vec<String>,
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

/// Count of non-whitespace characters.
fn visible_len(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

fn join_pieces(pieces: Vec<Piece>) -> Piece {
    let html = pieces.iter().any(|p| p.html);
    let texts: Vec<String> = pieces
        .into_iter()
        .map(|p| p.text.trim_end().to_owned())
        .filter(|t| !t.trim().is_empty())
        .collect();
    Piece {
        text: texts.join("\n\n"),
        html,
    }
}

impl Walker<'_> {
    fn error(&mut self, e: String) {
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    fn message_body(&mut self, msg: &Message<'_>, depth: usize) -> String {
        if msg.parts.is_empty() {
            return String::new();
        }
        let mut text = self.part(msg, 0, depth).text;
        text.truncate(text.trim_end().len());
        text
    }

    fn part(&mut self, msg: &Message<'_>, id: u32, depth: usize) -> Piece {
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
        }
        let is_attachment = part
            .content_disposition()
            .is_some_and(|d| d.is_attachment());
        match &part.body {
            PartType::Text(t) => {
                let subtype_ok = part.content_type().is_none_or(|ct| {
                    !ct.ctype().eq_ignore_ascii_case("text")
                        || ct.subtype().is_none_or(|s| {
                            s.eq_ignore_ascii_case("plain") || s.eq_ignore_ascii_case("enriched")
                        })
                });
                if is_attachment || !subtype_ok {
                    self.attachment(part);
                    return Piece::empty();
                }
                Piece {
                    text: self.fix_charset(msg, part, id, t).replace("\r\n", "\n"),
                    html: false,
                }
            }
            PartType::Html(h) => {
                let fixed = self.fix_charset(msg, part, id, h);
                let rendered = html_to_text(&fixed);
                for l in rendered.links {
                    if !self.links.contains(&l) {
                        self.links.push(l);
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
            PartType::Message(inner) => {
                if let Some(name) = part.attachment_name() {
                    self.attachments.push(name.to_owned());
                }
                let body = self.message_body(inner, depth + 1);
                let mut pieces = Vec::new();
                if let Some(s) = subject_of(inner) {
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
                let alternative = part.content_type().is_some_and(|ct| {
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
    fn fix_charset(
        &mut self,
        msg: &Message<'_>,
        part: &MessagePart<'_>,
        id: u32,
        decoded: &str,
    ) -> String {
        let declared = part
            .content_type()
            .and_then(|ct| ct.attribute("charset"))
            .map(|c| c.trim().to_ascii_lowercase());
        let is_2022 = declared.as_deref().is_some_and(|c| c.contains("2022"));
        let has_fffd = decoded.contains('\u{fffd}');
        let has_esc = !is_2022 && decoded.contains('\u{1b}');
        let latin_label = declared.as_deref().is_some_and(|c| {
            c.contains("8859")
                || c.contains("ascii")
                || c.starts_with("latin")
                || c.contains("1252")
                || c == "us"
        });
        let high_chars = latin_label && !decoded.is_ascii();
        if !(has_fffd || has_esc || high_chars) {
            return decoded.to_owned();
        }
        let bytes = self.part_bytes(msg, part);
        let resniffed = bytes.as_deref().and_then(|b| decode_unlabelled(b).ok());
        match resniffed {
            Some(d) if has_fffd || has_esc => {
                if has_fffd && d.text.contains('\u{fffd}') {
                    self.error(format!("part {id}: text is not valid in any supported charset; undecodable bytes replaced"));
                }
                d.text
            }
            Some(d)
                if kana_count(&d.text) > 0 && japanese_score(&d.text) > japanese_score(decoded) =>
            {
                d.text
            }
            Some(_) => decoded.to_owned(),
            None => {
                if has_fffd {
                    let label = declared.as_deref().unwrap_or("utf-8");
                    self.error(format!(
                        "part {id}: text is not valid {label}; undecodable bytes replaced with U+FFFD"
                    ));
                } else if has_esc && bytes.as_deref().is_some_and(has_iso2022jp_escape) {
                    self.error(format!("part {id}: malformed ISO-2022-JP text"));
                }
                decoded.to_owned()
            }
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
            if visible_len(&p.text) * 3 < visible_len(&h.text) {
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
}
