//! A faster way through mail-parser for the most common message shapes.
//!
//! Most mail is one text part (`text/plain` or `text/html`, or no
//! Content-Type at all) or one multipart (typically `multipart/alternative`)
//! of such parts, in 7bit, 8bit, base64 or quoted-printable. For those,
//! mail-parser's full [`MessageParser::parse`] spends most of its time in
//! byte-at-a-time body decoders that look for the MIME boundary as they
//! go. Here mail-parser's own [`MessageStream`] still does all the
//! structure: header blocks (`parse_headers`, with the caller's parser
//! configuration), the first boundary (`seek_next_part`, `skip_crlf`) and
//! the end of the multipart (`is_multipart_end`); a part's end is the first
//! `--boundary` after its headers (memchr's memmem), which is where
//! mail-parser's decoders stop too; the body is transfer-decoded by the
//! tight loops below and charset-decoded with mail-parser's own charset
//! table. The parts come out as `parse` makes them.
//!
//! `Subject` fields are skipped by the header parser and decoded after it:
//! the usual value, nothing but base64 encoded words, by a strict decoder
//! here (mail-parser's spent ~2,700 instructions per subject, mostly a
//! byte-at-a-time base64 loop), any other with mail-parser's own
//! unstructured-text parser.
//!
//! Whenever anything is unusual — a nested multipart, a message or
//! non-text part, a part that does not end with a line break right before
//! its boundary, an unclosed multipart, base64 with characters other than
//! the alphabet, white space and final padding, quoted-printable with
//! anything but `=XX` escapes and soft line breaks or ending in a soft line
//! break — [`parse_fast_marked`] returns `None` and the caller uses `parse`. The
//! results are checked against mail-parser's own by differential proptests
//! below (whole messages and the decoders alone, malformed input included).

use std::borrow::Cow;
use std::sync::OnceLock;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    ContentType, Encoding, Header, HeaderName, HeaderValue, Message, MessageParser, MessagePart,
    PartType,
};

use super::headers::parse_header_block;
use super::japanese::{SIMD_BLOCK, decode_japanese, japanese_charset, push_japanese, zeroed};

/// [`parser`](crate::mail::message::parser) with `Subject` skipped over
/// like an unread field: [`decode_subjects`] fills it in afterwards.
pub(super) fn fast_parser() -> &'static MessageParser {
    static PARSER: OnceLock<MessageParser> = OnceLock::new();
    PARSER.get_or_init(|| crate::mail::message::new_parser().ignore_header(HeaderName::Subject))
}

/// [`parse_fast_marked`] without the marks.
#[cfg(test)]
pub(crate) fn parse_fast(raw: &[u8]) -> Option<Message<'_>> {
    parse_fast_marked(raw).map(|(msg, _)| msg)
}

/// The parts (bit `k` for part `k`, parts below 64 only) whose text the
/// fast path decoded with [`decode_japanese`]: it writes mapped characters
/// and ASCII only, so that text holds no U+FFFD, and the walker need not
/// search it for one.
pub(crate) type NoReplacementParts = u64;

/// Parse `raw` if it has one of the shapes described in the module
/// documentation; `None` means "use `parser().parse(raw)`". A returned
/// message equals what [`parser`](crate::mail::message::parser)`.parse(raw)`
/// returns in `parts` (headers, bodies, encodings, offsets,
/// encoding-problem flags) and `raw_message`, except that the header lists
/// may leave out the fields that parser ignores (nothing reads them); its `text_body`, `html_body`
/// and `attachments` lists are left empty (nothing in this crate reads
/// them). Every part body was accepted by the strict decoders below, so
/// none has a transfer-encoding problem.
/// Also returns the parts whose text is known to hold no U+FFFD.
pub(crate) fn parse_fast_marked(raw: &[u8]) -> Option<(Message<'_>, NoReplacementParts)> {
    let mut marks: NoReplacementParts = 0;
    let parser = fast_parser();
    let mut stream = MessageStream::new(raw);
    let (headers, has_fields) = header_block(parser, raw, &mut stream)?;
    if !has_fields {
        return None;
    }
    let offset_body = stream.offset();
    let content_type = content_type_of(&headers);
    let parts = match content_type {
        Some(ct) if ct.ctype() == "multipart" => {
            // A digest's untyped parts are messages: leave it to `parse`.
            if ct.subtype() == Some("digest") {
                return None;
            }
            let boundary = ct.attribute("boundary")?.as_bytes().to_vec();
            if boundary.is_empty() || !stream.seek_next_part(&boundary) {
                return None;
            }
            stream.skip_crlf();
            let mut parts = vec![MessagePart {
                headers: Vec::new(),
                is_encoding_problem: false,
                body: PartType::default(),
                encoding: Encoding::None,
                offset_header: 0,
                offset_body: offset_body as u32,
                offset_end: raw.len() as u32,
            }];
            multipart_children(parser, raw, &mut stream, &boundary, &mut parts, &mut marks)?;
            parts[0].headers = headers;
            parts[0].body = PartType::Multipart((1..parts.len() as u32).collect());
            parts
        }
        _ => {
            let is_html = text_kind(content_type)?;
            let body = raw.get(offset_body..)?;
            let (encoding, bytes) = match transfer_encoding(&headers) {
                Encoding::Base64 => (Encoding::Base64, Cow::Owned(decode_base64_body(body)?)),
                Encoding::QuotedPrintable => (
                    Encoding::QuotedPrintable,
                    Cow::Owned(decode_quoted_printable_body(body)?),
                ),
                Encoding::None => (Encoding::None, Cow::Borrowed(body)),
            };
            let (text, japanese) = charset_decode(content_type, bytes);
            marks |= NoReplacementParts::from(japanese);
            vec![MessagePart {
                headers,
                is_encoding_problem: false,
                body: text_part(is_html, text),
                encoding,
                offset_header: 0,
                offset_body: offset_body as u32,
                offset_end: raw.len() as u32,
            }]
        }
    };
    Some((
        Message {
            parts,
            raw_message: Cow::Borrowed(raw),
            ..Default::default()
        },
        marks,
    ))
}

/// The text parts of a multipart, from just after its first boundary line
/// to its closing boundary, appended to `parts`.
fn multipart_children<'x>(
    parser: &MessageParser,
    raw: &'x [u8],
    stream: &mut MessageStream<'x>,
    boundary: &[u8],
    parts: &mut Vec<MessagePart<'x>>,
    marks: &mut NoReplacementParts,
) -> Option<()> {
    let mut dash_boundary = b"--".to_vec();
    dash_boundary.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&dash_boundary);
    loop {
        let offset_header = stream.offset();
        let (headers, _) = header_block(parser, raw, stream)?;
        let offset_body = stream.offset();
        let content_type = content_type_of(&headers);
        let is_html = text_kind(content_type)?;
        // mail-parser's decoders stop at the first `--boundary` (base64's
        // at the first `--`, which our decoder rejects anywhere else).
        let at = offset_body + finder.find(raw.get(offset_body..)?)?;
        // Only a boundary at the start of a line, after a non-empty body:
        // then the part ends before that line break, as in mail-parser.
        if at == offset_body || raw[at - 1] != b'\n' {
            return None;
        }
        let end = if at - offset_body >= 2 && raw[at - 2] == b'\r' {
            at - 2
        } else {
            at - 1
        };
        let (encoding, bytes) = match transfer_encoding(&headers) {
            Encoding::Base64 => (
                Encoding::Base64,
                Cow::Owned(decode_base64_body(&raw[offset_body..end])?),
            ),
            Encoding::QuotedPrintable => {
                // mail-parser drops the line break before the boundary by
                // cutting the bytes it wrote for it; after a soft line
                // break it wrote none, and would cut into the text.
                if raw[offset_body..end].ends_with(b"=") {
                    return None;
                }
                let part_raw = &raw[offset_body..at];
                let mut bytes = decode_quoted_printable_body(part_raw)?;
                let line_end = if memchr::memchr(b'\r', part_raw).is_some() {
                    2
                } else {
                    1
                };
                bytes.truncate(bytes.len().checked_sub(line_end)?);
                (Encoding::QuotedPrintable, Cow::Owned(bytes))
            }
            Encoding::None => (Encoding::None, Cow::Borrowed(&raw[offset_body..end])),
        };
        let (text, japanese) = charset_decode(content_type, bytes);
        if japanese && parts.len() < 64 {
            *marks |= 1 << parts.len();
        }
        parts.push(MessagePart {
            headers,
            is_encoding_problem: false,
            body: text_part(is_html, text),
            encoding,
            offset_header: offset_header as u32,
            offset_body: offset_body as u32,
            offset_end: end as u32,
        });
        stream.skip_bytes(at + dash_boundary.len() - stream.offset());
        if stream.is_multipart_end() {
            return Some(());
        }
    }
}

/// The header block at the stream's position, with the stream moved past
/// it, and whether it had any field: read by [`parse_header_block`] when it
/// can (which leaves out the fields nobody reads), otherwise by
/// mail-parser's `parse_headers` and [`decode_subjects`]. `None` where
/// `parse_headers` fails (the input ends inside the block).
fn header_block<'x>(
    parser: &MessageParser,
    raw: &'x [u8],
    stream: &mut MessageStream<'x>,
) -> Option<(Vec<Header<'x>>, bool)> {
    let start = stream.offset();
    if let Some((headers, end)) = parse_header_block(raw, start) {
        stream.skip_bytes(end - start);
        // A blank line alone is one or two bytes; any field is more.
        return Some((headers, end - start > 2));
    }
    // Room for a typical header block without growing.
    let mut headers = Vec::with_capacity(16);
    if !stream.parse_headers(parser, &mut headers) {
        return None;
    }
    decode_subjects(raw, &mut headers)?;
    let has_fields = !headers.is_empty();
    Some((headers, has_fields))
}

/// Give each `Subject` field (skipped by [`fast_parser`]) the value
/// mail-parser's unstructured-text parser gives it: the common form — only
/// well-formed base64 encoded words — decoded here, any other through
/// `parse_unstructured` itself. `None` if that parser would end the field
/// somewhere else than where it was skipped to (then the whole message
/// goes to `parse`).
pub(super) fn decode_subjects<'x>(raw: &'x [u8], headers: &mut [Header<'x>]) -> Option<()> {
    for h in headers
        .iter_mut()
        .filter(|h| matches!(h.name, HeaderName::Subject))
    {
        let (start, end) = (h.offset_start as usize, h.offset_end as usize);
        if let Some(text) = raw.get(start..end).and_then(encoded_words_only) {
            h.value = HeaderValue::Text(Cow::Owned(text));
            continue;
        }
        let mut stream = MessageStream::new(raw);
        stream.skip_bytes(start.min(raw.len()));
        h.value = stream.parse_unstructured();
        if stream.offset() != end {
            return None;
        }
    }
    Some(())
}

/// The decoded text of a field value (up to and including its final line
/// break) made only of base64 encoded words (`=?charset?B?...?=`, charset
/// letters, digits, `-` and `_`, data a whole number of groups with
/// padding only at its end) separated by white space and folds: the
/// words' text run together, as mail-parser joins adjacent encoded words.
/// `None` for anything else.
pub(super) fn encoded_words_only(value: &[u8]) -> Option<String> {
    // mail-parser's unstructured parser gives an empty value when the
    // input ends inside the field.
    let value = value.strip_suffix(b"\n")?;
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut text = String::with_capacity(value.len());
    // The decoded bytes of the UTF-8 words since the last word in another
    // charset, and where each of those words ends: checked as UTF-8 in
    // one call, not one call per word.
    let mut bytes = Vec::with_capacity(value.len());
    let mut utf8_word_ends = [0usize; 8];
    let mut utf8_words = 0;
    let mut words = 0;
    let mut i = 0;
    while let Some(b) = value.get(i) {
        if is_space(b) {
            i += 1;
            continue;
        }
        let word = value[i..].strip_prefix(b"=?")?;
        let charset = &word[..memchr::memchr(b'?', word)?];
        let rest = &word[charset.len()..];
        let data = rest
            .strip_prefix(b"?B?")
            .or_else(|| rest.strip_prefix(b"?b?"))?;
        let data = &data[..memchr::memchr(b'?', data)?];
        if charset.len() < 2 || !charset.iter().all(|&b| CHARSET_BYTES[usize::from(b)]) {
            return None;
        }
        i += 2 + charset.len() + 3 + data.len();
        // The word ends with `?=`, then white space or the field's end.
        if value.get(i + 1) != Some(&b'=') || value.get(i + 2).is_some_and(|b| !is_space(b)) {
            return None;
        }
        i += 2;
        words += 1;
        if charset.eq_ignore_ascii_case(b"utf-8") {
            if utf8_words == utf8_word_ends.len() {
                push_utf8_words(&mut text, &bytes, &utf8_word_ends);
                bytes.clear();
                utf8_words = 0;
            }
            decode_base64_word(data, &mut bytes)?;
            utf8_word_ends[utf8_words] = bytes.len();
            utf8_words += 1;
            continue;
        }
        push_utf8_words(&mut text, &bytes, &utf8_word_ends[..utf8_words]);
        utf8_words = 0;
        bytes.clear();
        decode_base64_word(data, &mut bytes)?;
        push_word_text(&mut text, charset, &bytes);
        bytes.clear();
    }
    push_utf8_words(&mut text, &bytes, &utf8_word_ends[..utf8_words]);
    (words > 0).then_some(text)
}

/// The bytes of an encoded word's charset accepted by
/// [`encoded_words_only`]: ASCII letters, digits, `-` and `_` (one lookup
/// per byte instead of three tests).
static CHARSET_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        b += 1;
    }
    table
};

/// The text of consecutive UTF-8 encoded words whose decoded bytes are
/// `bytes`, the word before `ends[k]` ending there, appended to `text` as
/// [`push_word_text`] appends them one by one: when the whole is valid
/// UTF-8 and no word starts inside a character (so that each word alone is
/// valid), in one piece; otherwise word by word.
fn push_utf8_words(text: &mut String, bytes: &[u8], ends: &[usize]) {
    let starts_a_char = |&end: &usize| bytes.get(end).is_none_or(|&b| !(0x80..0xC0).contains(&b));
    if ends.iter().all(starts_a_char) && push_if_utf8(text, bytes) {
        return;
    }
    let mut start = 0;
    for &end in ends {
        push_word_text(text, b"utf-8", bytes.get(start..end).unwrap_or_default());
        start = end;
    }
}

/// Append `bytes` to `text` if they are valid UTF-8 (and say whether they
/// were), checked by simdutf8's vector code at any length: text shorter
/// than [`SIMD_BLOCK`] (an encoded word's is) is checked as a zero-padded
/// copy of that length, which is valid exactly when the text is (NUL is
/// ASCII, and a character cut at the text's end stays cut); simdutf8
/// would hand it to std's byte-at-a-time check.
fn push_if_utf8(text: &mut String, bytes: &[u8]) -> bool {
    if bytes.len() >= SIMD_BLOCK {
        return match simdutf8::basic::from_utf8(bytes) {
            Ok(valid) => {
                text.push_str(valid);
                true
            }
            Err(_) => false,
        };
    }
    let mut block = [0u8; SIMD_BLOCK];
    block[..bytes.len()].copy_from_slice(bytes);
    match simdutf8::basic::from_utf8(&block).map(|padded| padded.get(..bytes.len())) {
        Ok(Some(valid)) => {
            text.push_str(valid);
            true
        }
        _ => false,
    }
}

/// Strict base64 of an encoded word, appended to `out`: whole groups, `=`
/// only as the final padding of the last one. On `None`, `out` holds
/// partly written bytes after what it held (the caller gives up).
fn decode_base64_word(data: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let padding = data.iter().rev().take_while(|&&b| b == b'=').count();
    if !data.len().is_multiple_of(4) || padding > 2 {
        return None;
    }
    let mut groups = data[..data.len() - padding].chunks_exact(4);
    // Whole groups written in place (three bytes each, one lookup per
    // character and one test per group), not pushed.
    let start = out.len();
    out.resize(start + groups.len() * 3, 0);
    for (dest, group) in out[start..].chunks_exact_mut(3).zip(&mut groups) {
        let [t0, t1, t2, t3] = &BASE64_SHIFTED;
        let word = t0[usize::from(group[0])]
            | t1[usize::from(group[1])]
            | t2[usize::from(group[2])]
            | t3[usize::from(group[3])];
        if word & BASE64_INVALID != 0 {
            return None;
        }
        dest.copy_from_slice(&word.to_be_bytes()[1..]);
    }
    let mut word = 0u32;
    for &c in groups.remainder() {
        let v = BASE64_VALUE[c as usize];
        if v >= 64 {
            return None;
        }
        word = (word << 6) | u32::from(v);
    }
    match groups.remainder().len() {
        0 => {}
        2 => out.push((word << 12).to_be_bytes()[1]),
        3 => out.extend_from_slice(&(word << 6).to_be_bytes()[1..3]),
        _ => return None,
    }
    Some(())
}

/// An encoded word's bytes in its charset, as mail-parser's
/// `decode_rfc2047` converts them, appended to `text`.
fn push_word_text(text: &mut String, charset: &[u8], bytes: &[u8]) {
    // The most common label, which neither table has: straight to the
    // UTF-8 check.
    let is_utf8 = charset.eq_ignore_ascii_case(b"utf-8");
    if !is_utf8
        && let Some(japanese) = japanese_charset(charset)
        && push_japanese(japanese, bytes, text)
    {
        return;
    }
    match (!is_utf8).then(|| charset_decoder(charset)).flatten() {
        Some(decode) => text.push_str(&decode(bytes)),
        None => match simdutf8::basic::from_utf8(bytes) {
            Ok(s) => text.push_str(s),
            Err(_) => text.push_str(&String::from_utf8_lossy(bytes)),
        },
    }
}

fn content_type_of<'a, 'x>(headers: &'a [Header<'x>]) -> Option<&'a ContentType<'x>> {
    headers
        .iter()
        .rev()
        .find(|h| matches!(h.name, HeaderName::ContentType))
        .and_then(|h| h.value.as_content_type())
}

/// `Some(is_html)` for the types mail-parser decodes as text and that we
/// handle here: text/plain, text/html, or no Content-Type (text/plain
/// outside a digest). The type and subtype are already lowercased.
fn text_kind(content_type: Option<&ContentType<'_>>) -> Option<bool> {
    match content_type {
        None => Some(false),
        Some(ct) => match (ct.ctype(), ct.subtype()) {
            ("text", Some("plain")) => Some(false),
            ("text", Some("html")) => Some(true),
            _ => None,
        },
    }
}

/// mail-parser's reading of Content-Transfer-Encoding (its last field).
fn transfer_encoding(headers: &[Header<'_>]) -> Encoding {
    match headers
        .iter()
        .rev()
        .find(|h| matches!(h.name, HeaderName::ContentTransferEncoding))
        .map(|h| &h.value)
    {
        Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("base64") => Encoding::Base64,
        Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("quoted-printable") => {
            Encoding::QuotedPrintable
        }
        _ => Encoding::None,
    }
}

/// The same charset conversions as mail-parser's `parse_`. ISO-2022-JP,
/// Shift_JIS and EUC-JP go through [`decode_japanese`] first. Text without a
/// charset mail-parser knows is taken as UTF-8 (invalid bytes become
/// U+FFFD); valid UTF-8, by far the common case, is checked with simdutf8
/// instead of std's byte-at-a-time validation (same verdict, and the
/// lossy conversion runs only when it fails).
/// Also says whether the text came from [`decode_japanese`].
fn charset_decode<'x>(
    content_type: Option<&ContentType<'_>>,
    bytes: Cow<'x, [u8]>,
) -> (Cow<'x, str>, bool) {
    let label = content_type.and_then(|ct| ct.attribute("charset"));
    if let Some(charset) = label.and_then(|c| japanese_charset(c.as_bytes()))
        && let Some(text) = decode_japanese(charset, &bytes)
    {
        return (Cow::Owned(text), true);
    }
    let decoder = label.and_then(|c| charset_decoder(c.as_bytes()));
    let text = match (bytes, decoder) {
        (Cow::Owned(vec), Some(decode)) => decode(&vec).into(),
        (Cow::Owned(vec), None) => match simdutf8::basic::from_utf8(&vec) {
            Ok(text) => Cow::Owned(text.to_owned()),
            Err(_) => Cow::Owned(String::from_utf8_lossy(&vec).into_owned()),
        },
        (Cow::Borrowed(bytes), Some(decode)) => decode(bytes).into(),
        (Cow::Borrowed(bytes), None) => match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(bytes),
        },
    };
    (text, false)
}

fn text_part(is_html: bool, text: Cow<'_, str>) -> PartType<'_> {
    if is_html {
        PartType::Html(text)
    } else {
        PartType::Text(text)
    }
}

/// Value of each base64 alphabet byte, 0xFF for every other byte.
static BASE64_VALUE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 64 {
        let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i];
        table[c as usize] = i as u8;
        i += 1;
    }
    table
};

/// Marks an invalid byte in [`BASE64_SHIFTED`] (above the 24 data bits).
const BASE64_INVALID: u32 = 1 << 31;

/// [`BASE64_VALUE`] already shifted into place for each position of a
/// four-character group (`v << 18`, `v << 12`, `v << 6`, `v`), or
/// [`BASE64_INVALID`]: a group decodes with four lookups ORed together, and
/// one test of the OR rejects any non-alphabet byte.
static BASE64_SHIFTED: [[u32; 256]; 4] = {
    let mut tables = [[BASE64_INVALID; 256]; 4];
    let mut c = 0;
    while c < 256 {
        let v = BASE64_VALUE[c];
        if v < 64 {
            let mut k = 0;
            while k < 4 {
                tables[k][c] = (v as u32) << (18 - 6 * k);
                k += 1;
            }
        }
        c += 1;
    }
    tables
};

/// Decode a whole base64 body the way mail-parser's
/// `MessageStream::decode_base64_mime` does with no boundary, for bodies
/// made of alphabet characters and line white space (space, tab, CR, LF)
/// with at most one run of `=` padding that completes the last group and is
/// followed by white space only. Anything else (a stray `=`, a `-`, any
/// other byte, a final incomplete group) gives `None`.
///
/// The output is written by index into a buffer zeroed once with room for
/// every group the input can hold plus eight bytes, so two groups go out
/// as one eight-byte store (the last two bytes are overwritten by the next
/// step or cut off at the end): no length to keep in memory, no capacity
/// test per step.
pub(crate) fn decode_base64_body(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = zeroed(raw.len() / 4 * 3 + 8);
    let mut written = 0usize;
    let mut i = 0;
    // Four alphabet bytes in a row: one 24-bit group. Lines of base64 are a
    // whole number of groups in practice, so this loop does nearly all the
    // work and the per-byte loop below only sees line ends.
    let mut group = [0u8; 4];
    let mut filled = 0;
    while i < raw.len() {
        if filled == 0 {
            // Eight at a time (two groups, six bytes) first.
            while let Some(&[c0, c1, c2, c3, c4, c5, c6, c7]) = raw.get(i..i + 8) {
                let [t0, t1, t2, t3] = &BASE64_SHIFTED;
                let first = t0[usize::from(c0)]
                    | t1[usize::from(c1)]
                    | t2[usize::from(c2)]
                    | t3[usize::from(c3)];
                let second = t0[usize::from(c4)]
                    | t1[usize::from(c5)]
                    | t2[usize::from(c6)]
                    | t3[usize::from(c7)];
                if (first | second) & BASE64_INVALID != 0 {
                    break;
                }
                // The six bytes at the top of a 64-bit word, two spare.
                let word = (u64::from(first) << 40) | (u64::from(second) << 16);
                out.get_mut(written..written + 8)?
                    .copy_from_slice(&word.to_be_bytes());
                written += 6;
                i += 8;
            }
            while let Some(chunk) = raw.get(i..i + 4) {
                let a = BASE64_VALUE[chunk[0] as usize];
                let b = BASE64_VALUE[chunk[1] as usize];
                let c = BASE64_VALUE[chunk[2] as usize];
                let d = BASE64_VALUE[chunk[3] as usize];
                if (a | b | c | d) & 0xC0 != 0 {
                    break;
                }
                let word = (u32::from(a) << 26)
                    | (u32::from(b) << 20)
                    | (u32::from(c) << 14)
                    | (u32::from(d) << 8);
                out.get_mut(written..written + 4)?
                    .copy_from_slice(&word.to_be_bytes());
                written += 3;
                i += 4;
            }
            if i >= raw.len() {
                break;
            }
        }
        let byte = raw[i];
        i += 1;
        let value = BASE64_VALUE[byte as usize];
        if value < 64 {
            group[filled] = value;
            filled += 1;
            if filled == 4 {
                let word = (u32::from(group[0]) << 26)
                    | (u32::from(group[1]) << 20)
                    | (u32::from(group[2]) << 14)
                    | (u32::from(group[3]) << 8);
                out.get_mut(written..written + 4)?
                    .copy_from_slice(&word.to_be_bytes());
                written += 3;
                filled = 0;
            }
            continue;
        }
        match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'=' => {
                // Padding: "xx==" or "xxx=", then only white space (more
                // `=` included) to the end.
                let word = (u32::from(group[0]) << 26)
                    | (u32::from(group[1]) << 20)
                    | (u32::from(group[2]) << 14);
                let (pads, bytes) = match filled {
                    2 => (2, 1),
                    3 => (1, 2),
                    _ => return None,
                };
                out.get_mut(written..written + 4)?
                    .copy_from_slice(&word.to_be_bytes());
                written += bytes;
                // The `=` signs, then white space only.
                let rest = &raw[i..];
                let more = rest.iter().take_while(|&&b| b == b'=').count();
                if more + 1 != pads
                    || !rest[more..]
                        .iter()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                {
                    return None;
                }
                out.truncate(written);
                return Some(out);
            }
            _ => return None,
        }
    }
    out.truncate(written);
    (filled == 0).then_some(out)
}

/// Value of each hexadecimal digit byte (either case), 0xFF otherwise.
static HEX_VALUE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'A' as usize + i] = 10 + i as u8;
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Decode a whole quoted-printable body the way mail-parser's
/// `MessageStream::decode_quoted_printable_mime` does with no boundary, for
/// bodies whose every `=` starts an `=XX` escape (two hex digits) or a soft
/// line break (`=` then LF or CR LF). Like mail-parser: CR is dropped and,
/// once one has been seen, every later line end is written as CR LF; white
/// space (space, tab, form feed) written literally right before a line end
/// is removed. Anything else (`=` followed by anything else or ending the
/// body) gives `None`.
///
/// The output is written by index into a buffer zeroed once, with room for
/// every input byte still to come: each byte decodes to at most one byte
/// but a bare LF written as CR LF, and only then is the room checked and
/// the buffer grown. Nothing is pushed, so the loops keep their state in
/// registers.
pub(crate) fn decode_quoted_printable_body(raw: &[u8]) -> Option<Vec<u8>> {
    // Invariant: `out.len() >= written + (raw.len() - i)`, plus the four
    // bytes an escape step may write at once.
    let mut out = zeroed(raw.len() + 4);
    let mut written = 0usize;
    // Literal white space written since the last other byte: removed before
    // a hard line break.
    let mut trailing_space = 0usize;
    let mut crlf = false;
    let mut i = 0;
    while let Some(&byte) = raw.get(i) {
        match QP_CLASS[usize::from(byte)] {
            QP_LITERAL => {
                // A run of literal bytes, copied at once.
                let start = i;
                i += 1;
                while raw
                    .get(i)
                    .is_some_and(|&b| QP_CLASS[usize::from(b)] == QP_LITERAL)
                {
                    i += 1;
                }
                out.get_mut(written..written + (i - start))?
                    .copy_from_slice(&raw[start..i]);
                written += i - start;
                trailing_space = 0;
            }
            QP_SPACE => {
                *out.get_mut(written)? = byte;
                written += 1;
                trailing_space += 1;
                i += 1;
            }
            QP_ESCAPE => {
                // mail-parser's soft line break also resets the count.
                trailing_space = 0;
                // A soft line break (one per line of escapes), or a run of
                // `=XX` escapes (most of Japanese QP text).
                match (raw.get(i + 1), raw.get(i + 2)) {
                    (Some(b'\n'), _) => {
                        i += 2;
                        continue;
                    }
                    (Some(b'\r'), Some(b'\n')) => {
                        crlf = true;
                        i += 3;
                        continue;
                    }
                    _ => {}
                }
                let (next, end) = decode_escape_run(raw, i, &mut out, written)?;
                if next == i {
                    return None;
                }
                i = next;
                written = end;
            }
            QP_LF => {
                written -= trailing_space;
                trailing_space = 0;
                i += 1;
                if crlf {
                    // The one place the output can outgrow the input.
                    let room = written + 2 + (raw.len() - i) + 4;
                    if out.len() < room {
                        out.resize(room + raw.len() / 16, 0);
                    }
                    out.get_mut(written..written + 2)?.copy_from_slice(b"\r\n");
                    written += 2;
                } else {
                    *out.get_mut(written)? = b'\n';
                    written += 1;
                }
            }
            _ => {
                // CR: dropped, and from now on line ends are CR LF.
                crlf = true;
                i += 1;
            }
        }
    }
    out.truncate(written);
    Some(out)
}

/// Decodes the run of `=XX` escapes at `raw[i..]` into `out` from
/// `written` on; returns where the run stops in `raw` and `out` (the same
/// `i` when no escape starts there). Four escapes per step while they
/// last: one table lookup per hex digit, one test for all eight, one
/// four-byte store.
#[inline(always)]
fn decode_escape_run(
    raw: &[u8],
    mut i: usize,
    out: &mut [u8],
    mut written: usize,
) -> Option<(usize, usize)> {
    while let Some(&[e0, h0, l0, e1, h1, l1, e2, h2, l2, e3, h3, l3]) = raw.get(i..i + 12) {
        if e0 != b'=' || e1 != b'=' || e2 != b'=' || e3 != b'=' {
            break;
        }
        let v0 = HEX_HIGH[usize::from(h0)] | HEX_LOW[usize::from(l0)];
        let v1 = HEX_HIGH[usize::from(h1)] | HEX_LOW[usize::from(l1)];
        let v2 = HEX_HIGH[usize::from(h2)] | HEX_LOW[usize::from(l2)];
        let v3 = HEX_HIGH[usize::from(h3)] | HEX_LOW[usize::from(l3)];
        if (v0 | v1 | v2 | v3) > 0xFF {
            break;
        }
        out.get_mut(written..written + 4)?
            .copy_from_slice(&[v0 as u8, v1 as u8, v2 as u8, v3 as u8]);
        written += 4;
        i += 12;
    }
    while let Some(&[b'=', hi, lo]) = raw.get(i..i + 3) {
        let value = HEX_HIGH[usize::from(hi)] | HEX_LOW[usize::from(lo)];
        if value > 0xFF {
            break;
        }
        *out.get_mut(written)? = value as u8;
        written += 1;
        i += 3;
    }
    Some((i, written))
}

/// [`QP_CLASS`] of a byte copied as it is (and ending any trailing white
/// space).
const QP_LITERAL: u8 = 0;
/// [`QP_CLASS`] of space, tab and form feed: copied, but removed before a
/// hard line break.
const QP_SPACE: u8 = 1;
/// [`QP_CLASS`] of `=`.
const QP_ESCAPE: u8 = 2;
/// [`QP_CLASS`] of LF.
const QP_LF: u8 = 3;
/// [`QP_CLASS`] of CR.
const QP_CR: u8 = 4;

/// What [`decode_quoted_printable_body`] does with each byte.
static QP_CLASS: [u8; 256] = {
    let mut table = [QP_LITERAL; 256];
    table[b' ' as usize] = QP_SPACE;
    table[b'\t' as usize] = QP_SPACE;
    table[0x0C] = QP_SPACE;
    table[b'=' as usize] = QP_ESCAPE;
    table[b'\n' as usize] = QP_LF;
    table[b'\r' as usize] = QP_CR;
    table
};

/// [`HEX_VALUE`] shifted into the high nibble; 0x100 (above any byte) for
/// a byte that is not a hexadecimal digit.
static HEX_HIGH: [u16; 256] = hex_nibbles(4);

/// [`HEX_VALUE`] as the low nibble; 0x100 for a byte that is not a
/// hexadecimal digit.
static HEX_LOW: [u16; 256] = hex_nibbles(0);

/// [`HEX_VALUE`] shifted left by `shift`, 0x100 for a non-digit.
const fn hex_nibbles(shift: u32) -> [u16; 256] {
    let mut table = [0x100; 256];
    let mut b = 0;
    while b < 256 {
        if HEX_VALUE[b] != 0xFF {
            table[b] = (HEX_VALUE[b] as u16) << shift;
        }
        b += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::parsers::MessageStream;

    /// mail-parser's own decoder on a whole body (no boundary): `None` when
    /// it reports an encoding problem.
    fn mail_parser_base64(raw: &[u8]) -> Option<Vec<u8>> {
        let (end, bytes) = MessageStream::new(raw).decode_base64_mime(b"");
        (end != usize::MAX).then(|| bytes.into_owned())
    }

    fn mail_parser_qp(raw: &[u8]) -> Option<Vec<u8>> {
        let (end, bytes) = MessageStream::new(raw).decode_quoted_printable_mime(b"");
        (end != usize::MAX).then(|| bytes.into_owned())
    }

    /// Header fields whose values the configured parser decodes.
    fn is_read(name: &HeaderName<'_>) -> bool {
        matches!(
            name,
            HeaderName::From
                | HeaderName::ReplyTo
                | HeaderName::ReturnPath
                | HeaderName::MessageId
                | HeaderName::Subject
                | HeaderName::ContentType
                | HeaderName::ContentDisposition
                | HeaderName::ContentTransferEncoding
        )
    }

    /// `msg` with the values of the fields nobody reads blanked, in every
    /// part and attached message.
    fn blank_unread_fields(msg: &mut Message<'_>) {
        for part in &mut msg.parts {
            for h in &mut part.headers {
                if !is_read(&h.name) {
                    h.value = HeaderValue::Empty;
                }
            }
            if let PartType::Message(inner) = &mut part.body {
                blank_unread_fields(inner);
            }
        }
    }

    /// `raw` with every `\n` written as `\r\n`.
    fn lf_to_crlf(raw: &[u8]) -> Vec<u8> {
        raw.iter()
            .flat_map(|&b| {
                if b == b'\n' {
                    vec![b'\r', b'\n']
                } else {
                    vec![b]
                }
            })
            .collect()
    }

    /// The configured parser gives mail-parser's default result but for
    /// the values of unread fields; the fast path, when taken, gives the
    /// configured parser's full result.
    fn check_against_mail_parser(raw: &[u8]) -> bool {
        let parser = crate::mail::message::parser();
        let configured = parser.parse(raw);
        let mut default = MessageParser::new().parse(raw);
        if let Some(m) = default.as_mut() {
            blank_unread_fields(m);
        }
        assert_eq!(configured, default, "{:?}", String::from_utf8_lossy(raw));
        match parse_fast(raw) {
            Some(mut fast) => {
                let mut configured = configured.expect("parse_fast parsed what parse did not");
                // The fast path may leave out the fields nobody reads.
                for part in fast.parts.iter_mut().chain(configured.parts.iter_mut()) {
                    part.headers.retain(|h| is_read(&h.name));
                }
                assert_eq!(
                    fast.parts,
                    configured.parts,
                    "{:?}",
                    String::from_utf8_lossy(raw)
                );
                assert_eq!(fast.raw_message, configured.raw_message);
                true
            }
            None => false,
        }
    }

    #[test]
    fn every_fixture_and_corpus_file_parses_like_mail_parser() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut files = Vec::new();
        for dir in [
            "fixtures/mail",
            "fixtures/mail/maildir/cur",
            "fixtures/mail/maildir/new",
            "hostile",
            "corpus/ham",
            "corpus/scam",
            "corpus/suspicious",
        ] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    files.push(path);
                }
            }
        }
        let mut fast = 0;
        for path in &files {
            let raw = std::fs::read(path).unwrap();
            // And with CRLF line ends.
            let crlf = String::from_utf8_lossy(&raw).replace('\n', "\r\n");
            fast += usize::from(check_against_mail_parser(&raw));
            check_against_mail_parser(crlf.as_bytes());
        }
        let mbox = std::fs::read(root.join("fixtures/mail/mixed.mbox")).unwrap();
        for r in crate::mail::MboxReader::new(&mbox[..]) {
            fast += usize::from(check_against_mail_parser(&r.unwrap().bytes));
        }
        assert!(fast >= 8, "only {fast} took the fast path");
    }

    /// Only text from the Japanese decoders is marked as free of U+FFFD:
    /// a Japanese label over bytes they leave to mail-parser (which
    /// writes U+FFFD for them) and UTF-8 text (which may hold U+FFFD
    /// itself) are not.
    #[test]
    fn only_japanese_decoder_text_is_marked_replacement_free() {
        let single = |charset: &str, cte: &str, body: &[u8]| {
            let mut raw = format!(
                "From: a@b\nSubject: s\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n"
            )
            .into_bytes();
            raw.extend_from_slice(body);
            raw
        };
        let cases: [(Vec<u8>, NoReplacementParts); 6] = [
            (single("ISO-2022-JP", "7bit", b"\x1b$B$\"\x1b(B\n"), 1),
            (single("Shift_JIS", "base64", b"gqA=\n"), 1),
            (single("EUC-JP", "quoted-printable", b"=A4=A2\n"), 1),
            (single("Shift_JIS", "8bit", b"\x81\x20 \xff\n"), 0),
            (single("UTF-8", "8bit", "\u{fffd}\n".as_bytes()), 0),
            (
                b"From: a@b\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nx\n--b\nContent-Type: text/html; charset=euc-jp\n\n\xa4\xa2\n--b--\n".to_vec(),
                1 << 2,
            ),
        ];
        for (raw, expected) in cases {
            let (msg, marks) = parse_fast_marked(&raw).expect("takes the fast path");
            assert_eq!(marks, expected, "{:?}", String::from_utf8_lossy(&raw));
            for (id, part) in msg.parts.iter().enumerate() {
                if marks & (1 << id) != 0 {
                    let text = match &part.body {
                        PartType::Text(t) | PartType::Html(t) => t,
                        _ => panic!("a marked part without text"),
                    };
                    assert!(!text.contains('\u{fffd}'));
                }
            }
        }
    }

    /// The shape of most real mail (and of the bench mbox's
    /// multipart messages) takes the fast path, with LF and CRLF.
    #[test]
    fn typical_alternative_takes_the_fast_path() {
        let lf = "From: a@b\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"=_b1\"\n\nThis is a multi-part message.\n\n--=_b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n44GC44GE44GG\n--=_b1\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n<p>=E3=81=82=E3=81=84 a  =\n=E3=81=86</p>  \n<br>\n\n--=_b1--\nepilogue\n";
        for raw in [lf.to_owned(), lf.replace('\n', "\r\n")] {
            assert!(check_against_mail_parser(raw.as_bytes()), "{raw}");
            let msg = parse_fast(raw.as_bytes()).unwrap();
            assert_eq!(msg.parts.len(), 3);
            assert_eq!(msg.parts[1].body, PartType::Text("あいう".into()));
        }
    }

    #[test]
    fn charset_bytes_are_letters_digits_dash_and_underscore() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            assert_eq!(CHARSET_BYTES[usize::from(b)], expected, "{b:#x}");
        }
    }

    /// Unread fields are left out of the header lists, but a block of
    /// nothing else still counts as a header block (the message takes the
    /// fast path, as it did when they were listed); a blank first line is
    /// no header block at all.
    #[test]
    fn a_block_of_unread_fields_is_still_a_header_block() {
        for raw in [
            &b"To: a@b\nDate: Mon, 1 Jan 2024 10:00:00 +0900\n\nbody\n"[..],
            b"X: y\r\n\r\nbody\r\n",
        ] {
            assert!(check_against_mail_parser(raw), "{raw:?}");
            let msg = parse_fast(raw).unwrap();
            assert!(msg.parts[0].headers.is_empty());
        }
        for raw in [&b"\nbody\n"[..], b"\r\nbody\r\n", b"\n", b"\r\n"] {
            assert!(parse_fast(raw).is_none(), "{raw:?}");
        }
    }

    const HEADER_LINES: &[&[u8]] = &[
        b"From: \"A\" <a@b.example>\n",
        b"From: =?ISO-2022-JP?B?GyRCJCIbKEI=?= <a@b>\n",
        b"To: x <y@z>, \"q\n",
        b"To: \"unterminated\n",
        b"Date: Mon, 1 Jan 2024 (comment\n 10:00 +0900\n",
        b"Received: from x (y [1.2.3.4]) by z; Mon, 1 Jan 2024\n",
        b"Received: (\n",
        b"Reply-To: <r@s>\n",
        b"Return-Path: <p@q>\n",
        b"Message-ID: <m@n>\n",
        b"Subject: =?utf-8?b?44GC?=\n",
        b"Subject: =?ISO-2022-JP?B?GyRCJCIbKEI=?=\n =?iso-2022-jp?b?GyRCJCQbKEI=?=\n",
        b"Subject: =?shift_jis?B?gqCCog==?= \t=?UTF-8?Q?a=20b?=\n",
        b"Subject: Re: =?utf-8?b?44GC?= x\n",
        b"Subject: =?utf-8?b?44G?=\n",
        b"SUBJECT: =?utf-8*ja?b?44GC?=\n",
        b"Subject: \x1b$B$\"\x1b(B \xa4\xa2\n",
        b"Content-Type: text/plain; charset=utf-8\n",
        b"Content-Type: text/plain; charset=\"Shift_JIS\"\n",
        b"Content-Type: TEXT/HTML; charset=EUC-JP\n",
        b"Content-Type: text/html; charset=iso-2022-jp\n",
        b"Content-Type: text/enriched\n",
        b"Content-Type: image/png\n",
        b"Content-Type: multipart/alternative; boundary=q\n",
        b"Content-Type: message/rfc822\n",
        b"Content-Type: text/plain; charset=x-unknown\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding: Quoted-Printable\n",
        b"Content-Transfer-Encoding: 8bit\n",
        b"Content-Disposition: attachment; filename=a.txt\n",
        b"Content-Disposition: inline\n",
        b" folded\n",
        b"junk line\n",
        b" \n",
    ];

    const BODY_LINES: &[&[u8]] = &[
        b"44GC44GE\n",
        b"QUJD\n",
        b"QQ==\n",
        b"QUI=\n",
        b"=E3=81=82=\n",
        b"=A4=A2 \n",
        b"a =\n",
        b"=\n",
        b"= \n",
        b"=4\n",
        b"\xa4\xa2\xff\n",
        b"\x1b$B$\"\x1b(B\n",
        b"-\n",
        b"--q\n",
        b"--q--\n",
        b"\n",
        b"<p>x</p>\n",
        b"Content-Type: text/html; charset=utf-8\n",
        b"Content-Transfer-Encoding: base64\n",
    ];

    const PART_HEADER_LINES: &[&[u8]] = &[
        b"Content-Type: text/plain; charset=utf-8\n",
        b"Content-Type: text/html; charset=\"EUC-JP\"\n",
        b"Content-Type: text/plain; charset=iso-2022-jp\n",
        b"Content-Type: image/png\n",
        b"Content-Type: multipart/mixed; boundary=r\n",
        b"Content-Type: message/rfc822\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding: quoted-printable\n",
        b"Content-Disposition: attachment\n",
        b"X-Other: x\n",
    ];

    const PART_BODY_LINES: &[&[u8]] = &[
        b"44GC44GE\n",
        b"QUI=\n",
        b"=E3=81=82=\n",
        b"=A4=A2 \n",
        b"a \t\n",
        b"x=\n",
        b"\xa4\xa2\n",
        b"<p>x</p>\n",
        b"--q\n",
        b"-\n",
        b"--qx\n",
        b"x--q\n",
        b"abc",
        b"\n",
    ];

    proptest::proptest! {
        /// Header blocks and bodies drawn from the lines that steer
        /// mail-parser (field kinds, encodings, types, malformed escapes).
        #[test]
        fn messages_parse_like_mail_parser(
            headers in proptest::collection::vec(proptest::sample::select(HEADER_LINES), 0..8),
            blank in proptest::sample::select(vec![&b"\n"[..], b"\r\n", b" \n", b""]),
            body in proptest::collection::vec(proptest::sample::select(BODY_LINES), 0..12),
            crlf in proptest::bool::ANY,
        ) {
            let mut raw = headers.concat();
            raw.extend_from_slice(blank);
            raw.extend_from_slice(&body.concat());
            if crlf {
                raw = lf_to_crlf(&raw);
            }
            check_against_mail_parser(&raw);
        }

        /// Multiparts: a preamble, parts with their own header blocks and
        /// bodies, a closing boundary (or not) and an epilogue.
        #[test]
        fn multiparts_parse_like_mail_parser(
            subtype in proptest::sample::select(vec!["alternative", "mixed", "digest", "related"]),
            preamble in proptest::collection::vec(proptest::sample::select(PART_BODY_LINES), 0..2),
            parts in proptest::collection::vec(
                (
                    proptest::collection::vec(proptest::sample::select(PART_HEADER_LINES), 0..3),
                    proptest::collection::vec(proptest::sample::select(PART_BODY_LINES), 0..5),
                    proptest::sample::select(vec![&b"\n"[..], b"\r\n", b" \n", b""]),
                ),
                1..4,
            ),
            close in proptest::sample::select(vec![&b"--q--\n"[..], b"--q--", b"--q\n", b"", b"--q-- x\n"]),
            epilogue in proptest::collection::vec(proptest::sample::select(PART_BODY_LINES), 0..2),
            crlf in proptest::bool::ANY,
        ) {
            let mut raw = format!("From: a@b\nContent-Type: multipart/{subtype}; boundary=q\n\n").into_bytes();
            raw.extend_from_slice(&preamble.concat());
            for (headers, body, blank) in &parts {
                raw.extend_from_slice(b"--q\n");
                raw.extend_from_slice(&headers.concat());
                raw.extend_from_slice(blank);
                raw.extend_from_slice(&body.concat());
            }
            raw.extend_from_slice(close);
            raw.extend_from_slice(&epilogue.concat());
            if crlf {
                raw = lf_to_crlf(&raw);
            }
            check_against_mail_parser(&raw);
        }

        /// Text without a known charset converts exactly as std's lossy
        /// UTF-8 conversion, owned or borrowed.
        #[test]
        fn utf8_text_converts_like_std(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![b'a', 0xE3, 0x81, 0x82, 0xC2, 0xF0, 0x9F, 0xBF, 0xED, 0xA0]),
                    proptest::num::u8::ANY,
                ],
                0..80,
            )
        ) {
            let std_text = String::from_utf8_lossy(&raw).into_owned();
            let (owned, _) = charset_decode(None, Cow::Owned(raw.clone()));
            let (borrowed, _) = charset_decode(None, Cow::Borrowed(&raw));
            proptest::prop_assert_eq!(&owned, &std_text);
            proptest::prop_assert_eq!(&borrowed, &std_text);
            proptest::prop_assert_eq!(matches!(borrowed, Cow::Borrowed(_)), std::str::from_utf8(&raw).is_ok());
        }

        /// Arbitrary bytes after a plausible header block.
        #[test]
        fn arbitrary_bodies_parse_like_mail_parser(
            headers in proptest::collection::vec(proptest::sample::select(HEADER_LINES), 1..5),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let mut raw = headers.concat();
            raw.push(b'\n');
            raw.extend_from_slice(&body);
            check_against_mail_parser(&raw);
        }
    }

    /// Pieces of `Subject` values: well-formed and broken encoded words in
    /// several charsets, white space, folds and plain text.
    const SUBJECT_PIECES: &[&[u8]] = &[
        b"=?utf-8?b?44GC44GE?=",
        b"=?UTF-8?B?5Lu25ZCN?=",
        b"=?utf-8?b?5ryi5a2X?=",
        // A character split between words (E3 81 | 82), and a lone lead
        // byte: each word is decoded on its own.
        b"=?utf-8?b?44E=?=",
        b"=?utf-8?b?gg==?=",
        b"=?UTF-8?b?4w==?=",
        b"=?utf-8?b?QQ==?=",
        b"=?utf-8?b?QUI=?=",
        b"=?utf-8?b?QUJD?=",
        b"=?utf-8?b??=",
        b"=?ISO-2022-JP?B?GyRCN29MPhsoQjog?=",
        b"=?iso-2022-jp?b?GyRCJCIbKEI=?=",
        b"=?iso-2022-jp?b?GyRCJCIbJEIkJBsoQg==?=",
        b"=?shift_jis?b?gqCCog==?=",
        b"=?euc-jp?b?pKKkpA==?=",
        b"=?iso-8859-1?b?6Q==?=",
        b"=?x-unknown?b?/w==?=",
        b"=?utf-8?q?a=20b?=",
        b"=?utf-8*ja?b?44GC?=",
        b"=?u?b?44GC?=",
        b"=?utf-8?b?44G?=",
        b"=?utf-8?b?4=GC?=",
        b"=?utf-8?b?QQ==QUJD?=",
        b"=?utf-8?b?QQ===?=",
        b"=?utf-8?b?44GC?=x",
        b"=?utf-8?b?44 GC?=",
        b"=?utf-8?b?44GC?",
        b"=?",
        b"plain",
        b"\xe3\x81\x82",
        b" ",
        b"\t",
        b"\n ",
        b"\r\n ",
        b"\n\t",
        b"\r",
    ];

    /// The encoded-word base64 decoder before it wrote groups in place:
    /// one character at a time, the same strictness.
    fn reference_base64_word(data: &[u8]) -> Option<Vec<u8>> {
        let padding = data.iter().rev().take_while(|&&b| b == b'=').count();
        if !data.len().is_multiple_of(4) || padding > 2 {
            return None;
        }
        let mut out = Vec::new();
        let mut groups = data[..data.len() - padding].chunks_exact(4);
        for group in &mut groups {
            let mut word = 0u32;
            for &c in group {
                let v = BASE64_VALUE[usize::from(c)];
                if v >= 64 {
                    return None;
                }
                word = (word << 6) | u32::from(v);
            }
            out.extend_from_slice(&word.to_be_bytes()[1..]);
        }
        let mut word = 0u32;
        for &c in groups.remainder() {
            let v = BASE64_VALUE[usize::from(c)];
            if v >= 64 {
                return None;
            }
            word = (word << 6) | u32::from(v);
        }
        match groups.remainder().len() {
            0 => {}
            2 => out.push((word << 12).to_be_bytes()[1]),
            3 => out.extend_from_slice(&(word << 6).to_be_bytes()[1..3]),
            _ => return None,
        }
        Some(out)
    }

    proptest::proptest! {
        /// Encoded-word data, valid or not (a byte outside the alphabet
        /// anywhere in a group, padding in the wrong place), decodes as
        /// the one-character-at-a-time reference decodes it, appended
        /// after what the buffer held.
        #[test]
        fn base64_words_decode_like_the_reference(
            prefix in proptest::collection::vec(proptest::num::u8::ANY, 0..4),
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::sample::select(
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec()
                    ),
                    1 => proptest::sample::select(b"==-_. *\x80\xff".to_vec()),
                ],
                0..40,
            ),
        ) {
            let mut out = prefix.clone();
            let ours = decode_base64_word(&data, &mut out).map(|()| out);
            let theirs = reference_base64_word(&data).map(|decoded| [prefix, decoded].concat());
            proptest::prop_assert_eq!(ours, theirs);
        }

        /// Subjects made of those pieces parse (on the fast path or not)
        /// as mail-parser's unstructured parser reads them, and the
        /// encoded-word fast path, when it answers, answers the same.
        #[test]
        fn subjects_parse_like_mail_parser(
            pieces in proptest::collection::vec(proptest::sample::select(SUBJECT_PIECES), 0..12),
            end in proptest::sample::select(vec![&b"\n"[..], b"\r\n", b""]),
            crlf in proptest::bool::ANY,
        ) {
            let mut value = pieces.concat();
            value.extend_from_slice(end);
            if let Some(ours) = encoded_words_only(&value) {
                let theirs = MessageStream::new(&value).parse_unstructured();
                proptest::prop_assert_eq!(HeaderValue::Text(ours.into()), theirs);
            }
            let mut raw = b"From: a@b\nSubject:".to_vec();
            raw.extend_from_slice(&value);
            raw.extend_from_slice(b"To: c@d\n\nbody\n");
            if crlf {
                raw = lf_to_crlf(&raw);
            }
            check_against_mail_parser(&raw);
        }
    }

    /// The bench mbox's subjects (folded base64 words) take the
    /// encoded-word path.
    #[test]
    fn typical_subjects_take_the_encoded_word_path() {
        for value in [
            &b" =?iso-2022-jp?b?GyRCN29MPhsoQjogGyRCOFtNUUpdODEbKEI=?=\n =?iso-2022-jp?b?GyRCJE4bKEI=?=\n"[..],
            b" =?utf-8?b?5Lu25ZCNOiDnpL7lhoXloLE=?=\r\n =?utf-8?b?44KJ44Gb?=\r\n",
        ] {
            let ours = encoded_words_only(value);
            assert!(ours.is_some(), "{value:?}");
            let theirs = MessageStream::new(value).parse_unstructured();
            assert_eq!(HeaderValue::Text(ours.unwrap_or_default().into()), theirs);
        }
    }

    /// Consecutive UTF-8 words are checked together; a character split
    /// between two of them, a lone lead byte or more words than one check
    /// holds still decode word by word, as mail-parser decodes them.
    #[test]
    fn utf8_words_split_inside_a_character_decode_one_by_one() {
        let split = " =?utf-8?b?44E=?= =?utf-8?b?gg==?=\n";
        let lone = " =?utf-8?b?5ryi?= =?utf-8?b?4w==?= =?utf-8?b?5a2X?=\n";
        let many = format!("{}\n", " =?utf-8?b?5ryi?=".repeat(19));
        for value in [split, lone, many.as_str()] {
            let ours = encoded_words_only(value.as_bytes());
            let theirs = MessageStream::new(value.as_bytes()).parse_unstructured();
            assert_eq!(
                HeaderValue::Text(ours.unwrap_or_default().into()),
                theirs,
                "{value}"
            );
        }
        assert_eq!(
            encoded_words_only(split.as_bytes()).as_deref(),
            Some("\u{fffd}\u{fffd}")
        );
        assert_eq!(encoded_words_only(many.as_bytes()), Some("漢".repeat(19)));
    }

    #[test]
    fn hex_table_is_mail_parsers() {
        for b in 0..=255u8 {
            let theirs = mail_parser::decoders::quoted_printable::HEX_MAP[b as usize];
            let ours = HEX_VALUE[b as usize];
            assert_eq!(theirs == -1, ours == 0xFF, "{b}");
            if ours != 0xFF {
                assert_eq!(theirs as u8, ours, "{b}");
            }
        }
    }

    #[test]
    fn typical_bodies_decode_like_mail_parser() {
        let cases: &[&[u8]] = &[
            b"",
            b"\n",
            b"44GC44GE\n",
            b"44GC44GE\r\n44GC\r\n",
            b"QUJDRA==\n",
            b"QUJDREU=\r\n\r\n",
            b"QUJD REU=",
            b"5Lu25ZCNOiDnpL7lhoXloLEg77yR77yS5pyI5Y+3IOmFjeS/oeOBruOBiuefpQ==\r\n",
        ];
        for raw in cases {
            assert_eq!(decode_base64_body(raw), mail_parser_base64(raw), "{raw:?}");
        }
        let qp: &[&[u8]] = &[
            b"",
            b"abc",
            b"=E3=81=82=\n=E3=81=84\n",
            b"a b \t\nc=20\nd  =\ne\n",
            b"x\r\ny\nz\n",
            b"=e3=81=82\r\n=\r\nq",
        ];
        for raw in qp {
            assert_eq!(
                decode_quoted_printable_body(raw),
                mail_parser_qp(raw),
                "{raw:?}"
            );
        }
    }

    /// Every one- and two-byte string, alone and after text that leaves it
    /// just short of, at and past simdutf8's vector block, is appended by
    /// `push_if_utf8` exactly when std finds it valid UTF-8, as itself.
    #[test]
    fn short_text_is_checked_like_std() {
        let prefixes = [
            "",
            "件名",
            &"あ".repeat(20),
            &"x".repeat(62),
            &"x".repeat(63),
        ];
        for prefix in prefixes {
            for first in 0..=255u8 {
                for second in (0..=255u8).map(Some).chain([None]) {
                    let mut bytes = prefix.as_bytes().to_vec();
                    bytes.push(first);
                    bytes.extend(second);
                    let mut text = String::from("前");
                    let pushed = push_if_utf8(&mut text, &bytes);
                    match std::str::from_utf8(&bytes) {
                        Ok(valid) => {
                            assert!(pushed, "{bytes:?}");
                            assert_eq!(text, format!("前{valid}"));
                        }
                        Err(_) => {
                            assert!(!pushed, "{bytes:?}");
                            assert_eq!(text, "前");
                        }
                    }
                }
            }
        }
    }

    /// Every byte at every position of a body of two- and one-group steps
    /// (so at every place in the eight-byte step, the four-byte step and
    /// the byte loop, and in the padding) decodes as mail-parser decodes it
    /// whenever the fast decoder accepts it; alphabet bytes are always
    /// accepted.
    #[test]
    fn every_byte_in_every_place_decodes_like_mail_parser() {
        let bases: [&[u8]; 3] = [
            b"5Lu25ZCNOiDnpL7lhoXloLEg\n77yR77yS\n",
            b"QUJDREVGR0hJSktM\r\nTU5PUA==\r\n",
            b"QUJDRA\n==\n",
        ];
        for base in bases {
            for at in 0..base.len() {
                for b in 0..=255u8 {
                    let mut raw = base.to_vec();
                    raw[at] = b;
                    let ours = decode_base64_body(&raw);
                    if let Some(ours) = &ours {
                        assert_eq!(Some(ours.clone()), mail_parser_base64(&raw), "{raw:?}");
                    }
                    if BASE64_VALUE[usize::from(b)] < 64 && BASE64_VALUE[usize::from(base[at])] < 64
                    {
                        assert!(ours.is_some(), "{raw:?}");
                    }
                }
            }
        }
    }

    /// Every byte pair after `=`, alone, inside a run of escapes (at each
    /// position of the four-escape step) and before a line end, decodes as
    /// mail-parser decodes it whenever the fast decoder accepts it, and is
    /// accepted exactly when it is a hex escape or a soft line break.
    #[test]
    fn every_escape_pair_decodes_like_mail_parser() {
        for hi in 0..=255u8 {
            for lo in 0..=255u8 {
                let escape = [b'=', hi, lo];
                let is_hex = hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit();
                for before in 0..5 {
                    let mut raw = b"=E3".repeat(before);
                    raw.extend_from_slice(&escape);
                    raw.extend_from_slice(b"=81=82=83=84x \n");
                    let ours = decode_quoted_printable_body(&raw);
                    if is_hex {
                        assert!(ours.is_some(), "{raw:?}");
                    }
                    if let Some(ours) = ours {
                        assert_eq!(Some(ours), mail_parser_qp(&raw), "{raw:?}");
                    }
                }
            }
        }
    }

    /// Once a CR has been seen every bare LF is written as CR LF, so the
    /// output can be longer than the input: the buffer sized from the
    /// input must grow there.
    #[test]
    fn bare_line_feeds_after_a_carriage_return_grow_the_output() {
        for raw in [
            &b"\r\n\n\n\n\n\n\n\n"[..],
            b"x\r\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
            b"\r\n\n=E3=81=82=E3\n\n\n\n",
            b"=\r\n\n\n\n\n\n\n",
            b"\r",
            b"\r\r\r\n",
        ] {
            let mut long = raw.to_vec();
            long.extend(std::iter::repeat_n(b'\n', 300));
            for raw in [raw, &long[..]] {
                let ours = decode_quoted_printable_body(raw);
                assert!(ours.is_some(), "{raw:?}");
                assert_eq!(ours, mail_parser_qp(raw), "{raw:?}");
            }
        }
    }

    #[test]
    fn unusual_bodies_are_left_to_mail_parser() {
        for raw in [
            &b"QUJD\nRA"[..],
            b"QQ==QUJD",
            b"QU-D",
            b"QUJD--",
            b"QUJDRA=",
            b"QUJDRA===",
            b"QU*D",
        ] {
            assert_eq!(decode_base64_body(raw), None, "{raw:?}");
        }
        for raw in [&b"a=G1"[..], b"=", b"a=4", b"= \n", b"==41", b"=\rx"] {
            assert_eq!(decode_quoted_printable_body(raw), None, "{raw:?}");
        }
    }

    proptest::proptest! {
        /// Whenever the fast decoders return something, it is exactly what
        /// mail-parser's decoders return for the same body.
        #[test]
        fn base64_agrees_with_mail_parser(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec()),
                    2 => proptest::sample::select(b"= \t\r\n-".to_vec()),
                    1 => proptest::num::u8::ANY,
                ],
                0..200,
            )
        ) {
            if let Some(ours) = decode_base64_body(&raw) {
                proptest::prop_assert_eq!(Some(ours), mail_parser_base64(&raw));
            }
        }

        #[test]
        fn quoted_printable_agrees_with_mail_parser(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => proptest::sample::select(b"=0123456789ABCDEFabcdefG \t\x0c\r\n-x".to_vec()),
                    1 => proptest::num::u8::ANY,
                ],
                0..200,
            )
        ) {
            if let Some(ours) = decode_quoted_printable_body(&raw) {
                proptest::prop_assert_eq!(Some(ours), mail_parser_qp(&raw));
            }
        }

        /// Long runs of escapes (the four-at-a-time loop), with a broken
        /// escape, a literal, a soft line break or a line end anywhere in
        /// them, decode as mail-parser decodes them; runs of well-formed
        /// escapes and line breaks always take the fast path.
        #[test]
        fn escape_runs_decode_like_mail_parser(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    12 => proptest::sample::select(vec!["=E3", "=81", "=a4", "=0F", "=FF", "=3D"]),
                    1 => proptest::sample::select(vec![
                        "=G1", "=3", "=\n", "=\r\n", "=", "x", " ", "\n", "\r\n", "==", "=3=",
                    ]),
                ],
                0..60,
            ),
        ) {
            let raw = pieces.concat();
            let ours = decode_quoted_printable_body(raw.as_bytes());
            if let Some(ours) = &ours {
                proptest::prop_assert_eq!(Some(ours.clone()), mail_parser_qp(raw.as_bytes()));
            }
            let well_formed = pieces.iter().all(|p| {
                (p.len() == 3 && p.as_bytes()[1..].iter().all(u8::is_ascii_hexdigit))
                    || matches!(*p, "\n" | "\r\n" | "x")
            });
            if well_formed {
                proptest::prop_assert!(ours.is_some(), "{:?}", raw);
            }
        }

        /// Well-formed encodings of arbitrary bytes always take the fast
        /// path (and decode to those bytes).
        #[test]
        fn well_formed_bodies_take_the_fast_path(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            crlf in proptest::bool::ANY,
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let b64 = encode_base64_lines(&data, nl);
            proptest::prop_assert_eq!(decode_base64_body(b64.as_bytes()), Some(data.clone()));
            let qp = encode_qp_lines(&data, nl);
            let ours = decode_quoted_printable_body(qp.as_bytes());
            proptest::prop_assert!(ours.is_some());
            proptest::prop_assert_eq!(ours, mail_parser_qp(qp.as_bytes()));
        }
    }

    fn encode_base64_lines(data: &[u8], nl: &str) -> String {
        let text = crate::mail::filter::base64(data);
        let mut lines = String::new();
        for (k, c) in text.chars().enumerate() {
            if k > 0 && k % 76 == 0 {
                lines.push_str(nl);
            }
            lines.push(c);
        }
        lines.push_str(nl);
        lines
    }

    fn encode_qp_lines(data: &[u8], nl: &str) -> String {
        let mut out = String::new();
        let mut line = 0;
        for &b in data {
            let piece = if b.is_ascii_graphic() && b != b'=' {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if line + piece.len() > 75 {
                out.push('=');
                out.push_str(nl);
                line = 0;
            }
            line += piece.len();
            out.push_str(&piece);
        }
        out.push_str(nl);
        out
    }
}
