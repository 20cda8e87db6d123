//! Header blocks read without mail-parser's byte-at-a-time parser, for
//! the common, well-formed shapes.
//!
//! mail-parser's `MessageStream::parse_headers` walks every header byte
//! through a peekable iterator, looks each field's parser up in a SipHash
//! map and builds token vectors even for `To: user@example.jp`; it was a
//! quarter of all MIME time. Here a header block is split into fields with
//! memchr (a field ends at the first line break not followed by a space or
//! tab, exactly where every mail-parser field parser stops), field names
//! are matched without allocating, and the values this crate reads are
//! decoded by small parsers for their usual forms:
//!
//! - unstructured text (`Content-Transfer-Encoding`, plain `Subject`): one
//!   line with no `=?`;
//! - message ids (`Message-ID`, `Return-Path`): one line `<id>`;
//! - addresses (`From`, `Reply-To`): one line `addr@host`, `<addr>`,
//!   `Display Name <addr>` or `"Display Name" <addr>`;
//! - content types (`Content-Type`, `Content-Disposition`):
//!   `type/subtype` and `; name=value` or `; name="value"` parameters,
//!   folded between parameters;
//! - `Subject` made only of base64 encoded words (the strict decoder in
//!   [`fast_path`](super::fast_path)).
//!
//! Any other value of a read field goes to mail-parser's own parser for
//! that field, started at the field's value; if that parser would end the
//! field anywhere else, or if the block itself is unusual (a line without a
//! colon, white space before a name, a name with odd bytes, the input ending
//! inside the block), [`parse_header_block`] returns `None` and the caller
//! uses `parse_headers`. Every field nobody reads (mail-parser's
//! "ignored" value, [`HeaderValue::Empty`]) is left out of the list. The
//! result is held to `parse_headers` (with
//! [`fast_parser`](super::fast_path) and the subject decoding, ignored
//! fields removed) by differential proptests below.

use std::borrow::Cow;

use mail_parser::parsers::MessageStream;
use mail_parser::{Addr, Address, Attribute, ContentType, Header, HeaderName, HeaderValue};

use super::fast_path::encoded_words_only;

/// The read fields of the header block that starts at `start`, and the
/// offset just past the blank line that ends it: what
/// `MessageStream::parse_headers` with the fast path's parser configuration
/// (then the `Subject` decoding) gives, without the fields that
/// configuration ignores (see [`read_as`]). `None` when the block has
/// anything this reader does not handle; the caller then uses
/// `parse_headers`. The block had fields if the offset is more than two
/// bytes past `start` (a blank line alone is one or two).
pub(crate) fn parse_header_block(raw: &[u8], start: usize) -> Option<(Vec<Header<'_>>, usize)> {
    // Room for the read fields of a typical block without growing: eight
    // (one of each read name) take 960 bytes, inside mimalloc's small-size
    // fast path (up to 1 KiB; twelve took 1,440 and the generic path).
    let mut headers = Vec::with_capacity(8);
    let mut i = start;
    loop {
        // A field starts here, or the blank line that ends the block.
        match raw.get(i..)? {
            [b'\n', ..] => return Some((headers, i + 1)),
            [b'\r', b'\n', ..] => return Some((headers, i + 2)),
            _ => {}
        }
        let offset_field = i;
        let (name_len, name) = match known_name(&raw[i..]) {
            Some(known) => known,
            None => {
                let name_len = raw[i..]
                    .iter()
                    .position(|&b| !is_name_byte(b))
                    .unwrap_or(raw.len() - i);
                if name_len == 0 || raw.get(i + name_len) != Some(&b':') {
                    return None;
                }
                (name_len, header_name(&raw[i..i + name_len])?)
            }
        };
        let value_start = i + name_len + 1;
        // The field ends after the first line break not followed by a
        // space or a tab.
        let mut end = value_start;
        let mut folded = false;
        loop {
            let nl = end + memchr::memchr(b'\n', raw.get(end..)?)?;
            end = nl + 1;
            match raw.get(end) {
                Some(b' ' | b'\t') => folded = true,
                _ => break,
            }
        }
        let value = raw.get(value_start..end)?;
        let parsed = match read_as(&name) {
            ReadAs::Ignored => {
                // Left out: nothing looks a field up but by a read name,
                // and every lookup (`rev().find` with `HeaderName`'s `==`)
                // and drop walks the list.
                u32::try_from(end).ok()?;
                i = end;
                continue;
            }
            ReadAs::Text => match subject_or_text(value, folded, &name) {
                Some(v) => v,
                None => with_mail_parser(raw, value_start, end, |s| s.parse_unstructured())?,
            },
            ReadAs::Id => match (!folded).then(|| simple_id(value)).flatten() {
                Some(v) => v,
                None => with_mail_parser(raw, value_start, end, |s| s.parse_id())?,
            },
            ReadAs::Address => match (!folded).then(|| simple_address(value)).flatten() {
                Some(v) => v,
                None => with_mail_parser(raw, value_start, end, |s| s.parse_address())?,
            },
            ReadAs::ContentType => match simple_content_type(value) {
                Some(v) => v,
                None => with_mail_parser(raw, value_start, end, |s| s.parse_content_type())?,
            },
        };
        headers.push(Header {
            name,
            value: parsed,
            offset_field: u32::try_from(offset_field).ok()?,
            offset_start: u32::try_from(value_start).ok()?,
            offset_end: u32::try_from(end).ok()?,
        });
        i = end;
    }
}

/// Does `rest` start with `prefix`? (A constant length: the compiler
/// compares a few machine words instead of calling `memcmp`.)
fn starts_with<const N: usize>(rest: &[u8], prefix: &[u8; N]) -> bool {
    rest.get(..N).is_some_and(|start| start == prefix)
}

/// The length and [`HeaderName`] of a field that starts `rest` with one of
/// the most common names, spelled as mail writes it and followed by its
/// colon; `None` for anything else (then the name is scanned and looked up
/// by [`header_name`], which gives the same answer for these). Matching
/// the spelling and the colon at once skips both the byte-at-a-time name
/// scan and the case-insensitive comparisons, a fifth of a header block's
/// cost.
fn known_name(rest: &[u8]) -> Option<(usize, HeaderName<'static>)> {
    let found = match rest.first()? {
        b'F' if starts_with(rest, b"From:") => (4, HeaderName::From),
        b'T' if starts_with(rest, b"To:") => (2, HeaderName::To),
        b'S' if starts_with(rest, b"Subject:") => (7, HeaderName::Subject),
        b'D' if starts_with(rest, b"Date:") => (4, HeaderName::Date),
        b'M' if starts_with(rest, b"Message-ID:") || starts_with(rest, b"Message-Id:") => {
            (10, HeaderName::MessageId)
        }
        b'M' if starts_with(rest, b"MIME-Version:") || starts_with(rest, b"Mime-Version:") => {
            (12, HeaderName::MimeVersion)
        }
        b'C' if starts_with(rest, b"Content-Type:") => (12, HeaderName::ContentType),
        b'C' if starts_with(rest, b"Content-Transfer-Encoding:") => {
            (25, HeaderName::ContentTransferEncoding)
        }
        b'C' if starts_with(rest, b"Content-Disposition:") => (19, HeaderName::ContentDisposition),
        b'R' if starts_with(rest, b"Received:") => (8, HeaderName::Received),
        b'R' if starts_with(rest, b"Reply-To:") => (8, HeaderName::ReplyTo),
        b'R' if starts_with(rest, b"Return-Path:") => (11, HeaderName::ReturnPath),
        _ => return None,
    };
    Some(found)
}

/// Bytes a field name is made of here: printable ASCII but the colon.
/// (mail-parser also takes names with white space before the colon; those
/// blocks are left to it.)
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b':'
}

/// Longest name mail-parser looks up in its table of known fields; longer
/// names are always `Other`.
const MAX_KNOWN_NAME_LEN: usize = 34;

/// The fields mail (and the bench mbox) carries most, matched without
/// allocating; checked against mail-parser's own table by a test.
const COMMON_NAMES: &[(&str, HeaderName<'static>)] = &[
    ("From", HeaderName::From),
    ("To", HeaderName::To),
    ("Cc", HeaderName::Cc),
    ("Subject", HeaderName::Subject),
    ("Date", HeaderName::Date),
    ("Message-ID", HeaderName::MessageId),
    ("MIME-Version", HeaderName::MimeVersion),
    ("Content-Type", HeaderName::ContentType),
    (
        "Content-Transfer-Encoding",
        HeaderName::ContentTransferEncoding,
    ),
    ("Content-Disposition", HeaderName::ContentDisposition),
    ("Reply-To", HeaderName::ReplyTo),
    ("Return-Path", HeaderName::ReturnPath),
    ("Received", HeaderName::Received),
    ("References", HeaderName::References),
    ("In-Reply-To", HeaderName::InReplyTo),
    ("Sender", HeaderName::Sender),
    ("List-Unsubscribe", HeaderName::ListUnsubscribe),
    ("DKIM-Signature", HeaderName::DkimSignature),
    ("Authentication-Results", HeaderName::AuthenticationResults),
];

/// The [`HeaderName`] mail-parser's `parse_header_name` gives a name made
/// of [`is_name_byte`]s. `None` only if the name is not valid UTF-8, which
/// it always is (ASCII).
fn header_name(name: &[u8]) -> Option<HeaderName<'_>> {
    // Few common names share a length: compare only with those.
    let same_length: &[usize] = match name.len() {
        2 => &[1, 2],
        4 => &[0, 4],
        6 => &[15],
        7 => &[3],
        8 => &[10, 12],
        10 => &[5, 13],
        11 => &[11, 14],
        12 => &[6, 7],
        14 => &[17],
        16 => &[16],
        19 => &[9],
        22 => &[18],
        25 => &[8],
        _ => &[],
    };
    for &k in same_length {
        if let Some((known, header)) = COMMON_NAMES.get(k)
            && name.eq_ignore_ascii_case(known.as_bytes())
        {
            return Some(header.clone());
        }
    }
    let text = std::str::from_utf8(name).ok()?;
    if name.len() > MAX_KNOWN_NAME_LEN {
        return Some(HeaderName::Other(Cow::Borrowed(text)));
    }
    // mail-parser's table, for the rarer fields; a name with bytes outside
    // its table's alphabet is never in it.
    Some(HeaderName::parse(text).unwrap_or(HeaderName::Other(Cow::Borrowed(text))))
}

/// How the fast path's parser configuration reads a field's value.
enum ReadAs {
    Ignored,
    Text,
    Id,
    Address,
    ContentType,
}

/// The field parsers of [`new_parser`](super::message::new_parser):
/// everything it does not list is ignored.
fn read_as(name: &HeaderName<'_>) -> ReadAs {
    match name {
        HeaderName::From | HeaderName::ReplyTo => ReadAs::Address,
        HeaderName::ReturnPath | HeaderName::MessageId => ReadAs::Id,
        HeaderName::Subject | HeaderName::ContentTransferEncoding => ReadAs::Text,
        HeaderName::ContentType | HeaderName::ContentDisposition => ReadAs::ContentType,
        _ => ReadAs::Ignored,
    }
}

/// Run mail-parser's field parser `parse` on the value at `start`; `None`
/// if it ends the field anywhere but `end`.
fn with_mail_parser<'x>(
    raw: &'x [u8],
    start: usize,
    end: usize,
    parse: impl FnOnce(&mut MessageStream<'x>) -> HeaderValue<'x>,
) -> Option<HeaderValue<'x>> {
    let mut stream = MessageStream::new(raw);
    stream.skip_bytes(start);
    let value = parse(&mut stream);
    (stream.offset() == end).then_some(value)
}

/// A `Subject` made only of base64 encoded words, or any one-line text
/// field without encoded words.
fn subject_or_text<'x>(
    value: &'x [u8],
    folded: bool,
    name: &HeaderName<'_>,
) -> Option<HeaderValue<'x>> {
    if *name == HeaderName::Subject
        && let Some(text) = encoded_words_only(value)
    {
        return Some(HeaderValue::Text(Cow::Owned(text)));
    }
    if folded {
        return None;
    }
    simple_text(value)
}

/// The one line of a field value, without its line break: `None` when the
/// value has a CR anywhere else.
fn one_line(value: &[u8]) -> Option<&[u8]> {
    let line = value.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    memchr::memchr2(b'\r', b'\n', line)
        .is_none()
        .then_some(line)
}

/// `line` without leading and trailing spaces and tabs.
fn trim_blanks(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |p| p + 1);
    &line[start..end]
}

/// Does `bytes` hold `=?`, where mail-parser's parsers try an RFC 2047
/// encoded word? (Values rarely have an `=` at all: memchr for it beats a
/// two-byte substring search.)
fn has_encoded_word_start(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'=', bytes).any(|at| bytes.get(at + 1) == Some(&b'?'))
}

/// `String::from_utf8_lossy(bytes)`, checked first by `str::from_utf8`,
/// which passes ASCII a word at a time (the lossy conversion's chunk
/// iterator walks every byte); header values are nearly always valid.
fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// `parse_unstructured` of a one-line value without `=?`: the text
/// between the first and last byte that is not a space or tab.
fn simple_text(value: &[u8]) -> Option<HeaderValue<'_>> {
    let line = one_line(value)?;
    if has_encoded_word_start(line) {
        return None;
    }
    let text = trim_blanks(line);
    Some(if text.is_empty() {
        HeaderValue::Empty
    } else {
        HeaderValue::Text(lossy(text))
    })
}

/// `parse_id` of a one-line value `<id>` (white space around it allowed,
/// none inside).
fn simple_id(value: &[u8]) -> Option<HeaderValue<'_>> {
    let id = trim_blanks(one_line(value)?)
        .strip_prefix(b"<")?
        .strip_suffix(b">")?;
    if id.is_empty() || id.iter().any(|b| matches!(b, b'<' | b'>' | b' ' | b'\t')) {
        return None;
    }
    Some(HeaderValue::Text(lossy(id)))
}

/// `parse_address` of a one-line single mailbox: `addr@host`, `<addr>`,
/// `Display Name <addr>` (words without specials) or `"Display Name"
/// <addr>` (no backslash or quote inside), with no `=?` anywhere.
fn simple_address(value: &[u8]) -> Option<HeaderValue<'_>> {
    let text = trim_blanks(one_line(value)?);
    if has_encoded_word_start(text) {
        return encoded_name_address(text);
    }
    let Some(addr_and_bracket) = text.strip_suffix(b">") else {
        // A bare address: one word with an `@` (without one it would be a
        // name).
        let plain = !text.iter().any(|&b| {
            matches!(
                b,
                b' ' | b'\t' | b'<' | b'>' | b'"' | b'(' | b')' | b',' | b';' | b':' | b'\\'
            )
        });
        return (plain && memchr::memchr(b'@', text).is_some()).then(|| mailbox(None, text));
    };
    let open = memchr::memrchr(b'<', addr_and_bracket)?;
    let address = &addr_and_bracket[open + 1..];
    if address.is_empty()
        || address
            .iter()
            .any(|b| matches!(b, b' ' | b'\t' | b'<' | b'>' | b'(' | b')' | b'\\' | b'"'))
    {
        return None;
    }
    let name = trim_blanks(&addr_and_bracket[..open]);
    if name.is_empty() {
        return Some(mailbox(None, address));
    }
    if let Some(quoted) = name.strip_prefix(b"\"").and_then(|n| n.strip_suffix(b"\"")) {
        if quoted.is_empty() || quoted.iter().any(|b| matches!(b, b'"' | b'\\')) {
            return None;
        }
        return Some(mailbox(Some(quoted), address));
    }
    if name.iter().any(|b| {
        matches!(
            b,
            b'<' | b'>' | b'"' | b'(' | b')' | b',' | b';' | b':' | b'\\' | b'@'
        )
    }) {
        return None;
    }
    Some(mailbox(Some(name), address))
}

/// `parse_address` of one line `=?cs?B?...?= =?cs?B?...?= <addr>`: a
/// display name made only of base64 encoded words (common in Japanese
/// mail), which mail-parser decodes and runs together as
/// [`encoded_words_only`] does. `None` for anything else, and for a name
/// that decodes to nothing.
fn encoded_name_address(text: &[u8]) -> Option<HeaderValue<'_>> {
    let addr_and_bracket = text.strip_suffix(b">")?;
    let open = memchr::memrchr(b'<', addr_and_bracket)?;
    let address = &addr_and_bracket[open + 1..];
    if address.is_empty()
        || has_encoded_word_start(address)
        || address
            .iter()
            .any(|b| matches!(b, b' ' | b'\t' | b'<' | b'>' | b'(' | b')' | b'\\' | b'"'))
    {
        return None;
    }
    // `encoded_words_only` reads a field value up to its line break.
    let name = trim_blanks(&addr_and_bracket[..open]);
    let mut value = Vec::with_capacity(name.len() + 1);
    value.extend_from_slice(name);
    value.push(b'\n');
    let decoded = encoded_words_only(&value).filter(|d| !d.is_empty())?;
    Some(HeaderValue::Address(Address::List(vec![Addr {
        name: Some(Cow::Owned(decoded)),
        address: Some(lossy(address)),
    }])))
}

/// One mailbox, as `parse_address` returns it.
fn mailbox<'x>(name: Option<&'x [u8]>, address: &'x [u8]) -> HeaderValue<'x> {
    HeaderValue::Address(Address::List(vec![Addr {
        name: name.map(lossy),
        address: Some(lossy(address)),
    }]))
}

/// A byte of a MIME type, subtype or parameter name as read here (RFC
/// 2045 token characters but `*` and `'`, which start RFC 2231 syntax).
fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[usize::from(b)]
}

/// [`is_token_byte`] as a table.
static TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// A byte of an unquoted parameter value as read here: printable ASCII but
/// the bytes that start a quote, an escape, a comment or the next
/// parameter.
fn is_value_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b';' | b'(' | b')')
}

/// `parse_content_type` of `type/subtype` (or a bare `type`) followed by parameters
/// `; name=value` or `; name="value"` (no escapes, no `=?`, no empty
/// values, no RFC 2231 `*`), with white space around every separator and
/// folds only where white space may stand before a name or a `;`.
fn simple_content_type(value: &[u8]) -> Option<HeaderValue<'_>> {
    let body = value.strip_suffix(b"\n")?;
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    if has_encoded_word_start(body) {
        return None;
    }
    // Checked once here, not per token (a type with other bytes is left
    // to mail-parser); every slice below starts and ends next to ASCII.
    let text = std::str::from_utf8(body).ok()?;
    let mut at = skip_space(body, 0, true)?;
    let type_end = token_end(body, at);
    if type_end == at {
        return None;
    }
    let c_type = lowercase(text.get(at..type_end)?);
    // `inline`, `attachment; ...`: a type without a subtype.
    let mut c_subtype = None;
    at = type_end;
    if body.get(at) == Some(&b'/') {
        let subtype_end = token_end(body, at + 1);
        if subtype_end == at + 1 {
            return None;
        }
        c_subtype = Some(lowercase(text.get(at + 1..subtype_end)?));
        at = subtype_end;
    }
    at = skip_space(body, at, false)?;
    let mut attributes = Vec::new();
    while at < body.len() {
        if body[at] != b';' {
            return None;
        }
        at = skip_space(body, at + 1, true)?;
        if at == body.len() {
            break;
        }
        if body[at] == b';' {
            continue;
        }
        let name_end = token_end(body, at);
        if name_end == at {
            return None;
        }
        let name = lowercase(text.get(at..name_end)?);
        at = skip_space(body, name_end, false)?;
        if body.get(at) != Some(&b'=') {
            return None;
        }
        at = skip_space(body, at + 1, false)?;
        let value = if body.get(at) == Some(&b'"') {
            let close = at + 1 + memchr::memchr(b'"', &body[at + 1..])?;
            let quoted = text.get(at + 1..close)?;
            if quoted.is_empty()
                || quoted
                    .bytes()
                    .any(|b| matches!(b, b'\\' | b'\r' | b'\n' | b'"'))
            {
                return None;
            }
            at = close + 1;
            quoted
        } else {
            let end = body[at..]
                .iter()
                .position(|&b| !is_value_byte(b))
                .map_or(body.len(), |p| at + p);
            if end == at {
                return None;
            }
            let value = text.get(at..end)?;
            at = end;
            value
        };
        attributes.push(Attribute {
            name,
            value: Cow::Borrowed(value),
        });
        at = skip_space(body, at, false)?;
    }
    Some(HeaderValue::ContentType(ContentType {
        c_type,
        c_subtype,
        attributes: (!attributes.is_empty()).then_some(attributes),
    }))
}

/// Past the spaces and tabs at `at` (and folds, where `folds` allows
/// them); `None` at a fold that is not allowed or at a CR or LF that is not
/// part of a fold.
fn skip_space(body: &[u8], mut at: usize, folds: bool) -> Option<usize> {
    loop {
        match body.get(at..) {
            Some([b' ' | b'\t', ..]) => at += 1,
            Some([b'\r', b'\n', b' ' | b'\t', ..]) if folds => at += 3,
            Some([b'\n', b' ' | b'\t', ..]) if folds => at += 2,
            Some([b'\r' | b'\n', ..]) => return None,
            _ => return Some(at),
        }
    }
}

/// End of the run of [`is_token_byte`]s at `at`.
fn token_end(body: &[u8], at: usize) -> usize {
    body[at..]
        .iter()
        .position(|&b| !is_token_byte(b))
        .map_or(body.len(), |p| at + p)
}

/// A token lowercased as mail-parser does (ASCII only; borrowed when it
/// already is lowercase).
fn lowercase(token: &str) -> Cow<'_, str> {
    if token.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(token.to_ascii_lowercase())
    } else {
        Cow::Borrowed(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::fast_path::{decode_subjects, fast_parser};

    /// What the fast path did before this reader: mail-parser's
    /// `parse_headers` with the fast path's configuration, then the
    /// `Subject` decoding, less the fields that configuration ignores.
    /// `None` where that fails.
    fn reference(raw: &[u8], start: usize) -> Option<(Vec<Header<'_>>, usize)> {
        let mut stream = MessageStream::new(raw);
        stream.skip_bytes(start);
        let mut headers = Vec::new();
        if !stream.parse_headers(fast_parser(), &mut headers) {
            return None;
        }
        decode_subjects(raw, &mut headers)?;
        // The reader leaves out the fields nobody reads.
        headers.retain(|h| !matches!(read_as(&h.name), ReadAs::Ignored));
        Some((headers, stream.offset()))
    }

    /// Whenever the reader answers, it answers exactly what mail-parser
    /// does (compared through `Debug`, which also tells apart what
    /// `HeaderName`'s case-insensitive `==` does not). True if it answered.
    fn check_block(raw: &[u8]) -> bool {
        let Some(ours) = parse_header_block(raw, 0) else {
            return false;
        };
        let theirs = reference(raw, 0);
        assert_eq!(
            format!("{:?}", Some(&ours)),
            format!("{:?}", theirs.as_ref()),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
        true
    }

    /// `value` read by `ours` and by mail-parser's `theirs`, as the value of
    /// a field followed by another field.
    fn check_value(
        value: &[u8],
        ours: fn(&[u8]) -> Option<HeaderValue<'_>>,
        theirs: for<'s, 'x> fn(&'s mut MessageStream<'x>) -> HeaderValue<'x>,
    ) -> bool {
        let Some(fast) = ours(value) else {
            return false;
        };
        let mut raw = value.to_vec();
        raw.extend_from_slice(b"X: y\n");
        let mut stream = MessageStream::new(&raw);
        let slow = theirs(&mut stream);
        assert_eq!(
            format!("{fast:?}"),
            format!("{slow:?}"),
            "{:?}",
            String::from_utf8_lossy(value)
        );
        assert_eq!(stream.offset(), value.len(), "{value:?}");
        true
    }

    /// The length dispatch in `header_name` lists every common name under
    /// its length.
    #[test]
    fn every_common_name_is_found() {
        for (known, header) in COMMON_NAMES {
            assert_eq!(
                format!("{:?}", header_name(known.as_bytes())),
                format!("{:?}", Some(header))
            );
        }
    }

    /// The general path for a field name: scanned up to its colon, then
    /// looked up.
    fn scanned_name(rest: &[u8]) -> Option<(usize, HeaderName<'_>)> {
        let len = rest
            .iter()
            .position(|&b| !is_name_byte(b))
            .unwrap_or(rest.len());
        if len == 0 || rest.get(len) != Some(&b':') {
            return None;
        }
        Some((len, header_name(&rest[..len])?))
    }

    /// `known_name` answers only what the scan and lookup answer: for
    /// every common name in several spellings, followed by a colon, a
    /// space, more name bytes or nothing, and cut at every length.
    #[test]
    fn known_names_are_what_the_scan_finds() {
        let mut found = 0;
        for (name, _) in COMMON_NAMES {
            for spelling in [
                name.to_string(),
                name.to_ascii_lowercase(),
                name.to_ascii_uppercase(),
                "Message-Id".to_string(),
                "Mime-Version".to_string(),
            ] {
                for suffix in [":", ": x\n", ":\n", "", " :", "-X:", "X:", "\n"] {
                    let field = format!("{spelling}{suffix}");
                    for cut in 0..=field.len() {
                        let rest = &field.as_bytes()[..cut];
                        if let Some(known) = known_name(rest) {
                            found += 1;
                            assert_eq!(
                                format!("{:?}", Some(known)),
                                format!("{:?}", scanned_name(rest)),
                                "{:?}",
                                String::from_utf8_lossy(rest)
                            );
                        }
                    }
                }
            }
        }
        // The fast match is taken (for each name's usual spelling).
        assert!(found >= 13 * 3, "{found}");
        for field in [
            &b"From: a@b\n"[..],
            b"To: a@b\n",
            b"Subject: x\n",
            b"Date: x\n",
            b"Message-ID: <x>\n",
            b"MIME-Version: 1.0\n",
            b"Content-Type: text/plain\n",
            b"Content-Transfer-Encoding: 7bit\n",
            b"Content-Disposition: inline\n",
            b"Received: x\n",
            b"Reply-To: a@b\n",
            b"Return-Path: <a@b>\n",
        ] {
            assert!(known_name(field).is_some(), "{field:?}");
        }
    }

    #[test]
    fn common_names_are_mail_parsers() {
        for (name, header) in COMMON_NAMES {
            for spelling in [
                name.to_string(),
                name.to_ascii_lowercase(),
                name.to_ascii_uppercase(),
            ] {
                let ours = header_name(spelling.as_bytes()).unwrap();
                assert_eq!(format!("{ours:?}"), format!("{header:?}"));
                let field = format!("{spelling}: x\n");
                let theirs = MessageStream::new(field.as_bytes()).parse_header_name();
                assert_eq!(format!("{:?}", Some(ours)), format!("{theirs:?}"));
            }
        }
    }

    #[test]
    fn rare_and_long_names_are_named_as_mail_parser_names_them() {
        for name in [
            "X-Mailer",
            "x-mailer",
            "Delivered-To",
            "List-Id",
            "X.Odd",
            "X_Under",
            "Archived-At",
            "Original-Encoded-Information-Types",
            "Disposition-Notification-Options",
            "MMHS-Other-Recipients-Indicator-To",
            "Original-Encoded-Information-Types-Extra",
            "A-Very-Long-Field-Name-That-Is-Not-Known-Anywhere",
            "!#$%&'*+-.^_`{|}~",
            "X-\u{7f}",
        ] {
            let field = format!("{name}: x\n");
            let theirs = MessageStream::new(field.as_bytes()).parse_header_name();
            if name.bytes().all(is_name_byte) {
                let ours = header_name(name.as_bytes());
                assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{name}");
            }
        }
    }

    /// The header list's first allocation stays within mimalloc's
    /// small-size fast path (up to 1 KiB), as the comment where it is
    /// made says, and holds a typical message's read fields.
    #[test]
    fn header_list_fits_a_small_allocation() {
        assert!(8 * std::mem::size_of::<Header<'_>>() <= 1024);
        let raw = b"From: a@b.jp\nTo: c@d.jp\nSubject: s\nDate: x\nMessage-ID: <i@d>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nbody";
        let (headers, _) = parse_header_block(raw, 0).expect("read here");
        assert!(headers.len() <= headers.capacity() && headers.capacity() == 8);
    }

    /// The bench mbox's and most real mail's header blocks take this path.
    #[test]
    fn typical_blocks_are_read_here() {
        let blocks: &[&[u8]] = &[
            b"From: noreply@example38.jp\nTo: user@example.jp\nSubject: =?iso-2022-jp?b?GyRCN29MPhsoQjog?=\n =?iso-2022-jp?b?GyRCJE4bKEI=?=\nDate: Mon, 1 Jan 2024 10:00:00 +0900\nMessage-ID: <bench0@example.jp>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\nbody\n",
            b"Return-Path: <bounce@mail.example.com>\r\nReceived: from mx (mx [1.2.3.4])\r\n\tby mail; Mon, 1 Jan 2024\r\nFrom: \"Example Shop\" <info@shop.example>\r\nReply-To: Support Desk <support@shop.example>\r\nSubject: Your order\r\nContent-Type: multipart/alternative;\r\n\tboundary=\"----=_Part_1_2.3\"\r\n\r\n",
            b"Content-Type: text/html; charset=\"utf-8\"\nContent-Transfer-Encoding: quoted-printable\nContent-Disposition: inline\n\n",
            b"From: <a@b.example>\nContent-Type: TEXT/Plain; Charset=UTF-8; format=flowed\n\n",
        ];
        for raw in blocks {
            assert!(check_block(raw), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    /// Blocks this reader leaves to mail-parser.
    #[test]
    fn unusual_blocks_are_left_to_mail_parser() {
        let blocks: &[&[u8]] = &[
            b" folded first\nFrom: a@b\n\n",
            b"junk line\nFrom: a@b\n\n",
            b"Subject : spaced name\n\n",
            b"From: a@b\nTo: c@d\n",
            b"From: a@b",
        ];
        for raw in blocks {
            assert!(parse_header_block(raw, 0).is_none(), "{raw:?}");
        }
    }

    /// Regression: a `From` display name with an `@` goes to the address
    /// list in mail-parser (`a@b <c@d>` is one address `a@bc@d`), never a
    /// name here.
    #[test]
    fn display_name_with_at_sign_is_left_to_mail_parser() {
        assert!(simple_address(b" a@b <c@d>\n").is_none());
        assert!(check_block(b"From: a@b <c@d>\n\n"));
    }

    /// Field lines that steer the reader and mail-parser: every read field
    /// in its usual and unusual forms (folds, comments, quoted strings,
    /// RFC 2047 words, RFC 2231 parameters, odd charsets, empty values),
    /// unread fields, and broken lines.
    const FIELD_LINES: &[&[u8]] = &[
        b"From: a@b.example\n",
        b"From: <a@b.example>\n",
        b"From: Name Here <a@b.example>\n",
        b"From: \"Quoted, Name\" <a@b.example>\n",
        b"From: \"\" <a@b.example>\n",
        b"From: \"a\\\"b\" <a@b>\n",
        b"From: =?utf-8?b?44GC?= <a@b>\n",
        b"From: =?ISO-2022-JP?B?GyRCJCIbKEI=?= <a@b>\n",
        b"From: a@b (comment)\n",
        b"From: (c) a@b\n",
        b"From: a@b, c@d\n",
        b"From: group: a@b;\n",
        b"From: MAILER-DAEMON\n",
        b"From: <>\n",
        b"From:\n",
        b"From: Name\n <a@b>\n",
        b"From: \xe5\xb1\xb1\xe7\x94\xb0 <a@b>\n",
        b"From: \"\xe5\xb1\xb1 \xe7\x94\xb0\" <a@b>\n",
        b"From: x <a b@c>\n",
        b"From: a@b <c@d>\n",
        b"From: \"A\" B <c@d>\n",
        b"Reply-To: Desk <r@s>\n",
        b"Reply-To: r@s\r\n",
        b"Return-Path: <p@q>\n",
        b"Return-Path: <>\n",
        b"Return-Path: p@q\n",
        b"Return-Path: <p@q> <r@s>\n",
        b"Message-ID: <m@n>\n",
        b"Message-ID: <m@n>\r\n",
        b"Message-ID:\n <m@n>\n",
        b"Message-ID: <m n>\n",
        b"Message-ID: m@n\n",
        b"Subject: plain words\n",
        b"Subject: =?utf-8?b?44GC?=\n",
        b"Subject: =?utf-8?b?44GC?=\n =?utf-8?b?44GE?=\n",
        b"Subject: Re: =?utf-8?b?44GC?= x\n",
        b"Subject: a =? b\n",
        b"Subject: \x1b$B$\"\x1b(B\n",
        b"Subject:\n",
        b"Subject: folded\n line\n",
        b"Subject: \xff\xfe\n",
        b"Content-Type: text/plain\n",
        b"Content-Type: text/plain; charset=utf-8\n",
        b"Content-Type: text/plain; charset=\"Shift_JIS\"\r\n",
        b"Content-Type: TEXT/HTML; CHARSET=EUC-JP\n",
        b"Content-Type: multipart/alternative;\n\tboundary=\"----=_Part_1\"\n",
        b"Content-Type: multipart/mixed; boundary=\"a b\"; x=y\n",
        b"Content-Type: multipart/mixed; boundary=abc\n def\n",
        b"Content-Type: multipart/mixed; boundary=\"abc\n def\"\n",
        b"Content-Type: text/plain; charset=utf-8 (comment)\n",
        b"Content-Type: text/plain; name*=utf-8''%E3%81%82\n",
        b"Content-Type: text/plain; name*0=a; name*1=b\n",
        b"Content-Type: text/plain; name=\"=?utf-8?b?44GC?=\"\n",
        b"Content-Type: text/plain; name=\"a\\\"b\"\n",
        b"Content-Type: text/plain; charset=\n",
        b"Content-Type: text/plain; charset=\"\"\n",
        b"Content-Type: text/plain; flag; charset=x\n",
        b"Content-Type: text/plain;;charset=x;\n",
        b"Content-Type: text /plain\n",
        b"Content-Type: text/plain/x\n",
        b"Content-Type: text\n",
        b"Content-Type: \n",
        b"Content-Type: text/plain; charset = utf-8 \n",
        b"Content-Type: text/plain; a=\"x\"y\n",
        b"Content-Type: text/plain\n ; charset=x\n",
        b"Content-Type: text/plain\n charset=x\n",
        b"Content-Disposition: inline\n",
        b"Content-Disposition: attachment; filename=\"a.txt\"\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding:  Quoted-Printable \r\n",
        b"Content-Transfer-Encoding: 8bit (x)\n",
        b"To: x <y@z>, \"q\n",
        b"Date: Mon, 1 Jan 2024 (comment\n 10:00 +0900\n",
        b"Received: from x (y [1.2.3.4])\n\tby z; Mon, 1 Jan 2024\n",
        b"X-Mailer: something\n",
        b"X.Odd: value\n",
        b"MIME-Version: 1.0\n",
        b" folded\n",
        b"junk line\n",
        b"Name With Space: x\n",
        b"Subject : x\n",
        b"\r\n",
        b"\n",
    ];

    /// Base64 encoded words that decode to some text.
    const WELL_FORMED_WORDS: &[&str] = &[
        "=?utf-8?b?5bGx55Sw?=",
        "=?UTF-8?B?44GC44GE?=",
        "=?iso-2022-jp?b?GyRCOzNFRBsoQg==?=",
        "=?ISO-2022-JP?B?GyRCJCIbKEI=?=",
        "=?shift_jis?b?gqCCog==?=",
        "=?euc-jp?b?pKKkpA==?=",
        "=?utf-8?b?QQ==?=",
        "=?iso-8859-1?b?6Q==?=",
        "=?x-unknown?b?/w==?=",
    ];

    proptest::proptest! {
        /// `known_name` on a common name's start followed by arbitrary
        /// bytes answers what the scan and lookup answer, or nothing.
        #[test]
        fn known_names_agree_with_the_scan_on_any_bytes(
            start in proptest::sample::select(vec!["From", "To", "Subject", "Date", "Message-I", "MIME-Version", "Mime-", "Content-T", "Content-", "Re", "Received", "Return-Path", "C", ""]),
            tail in proptest::collection::vec(proptest::sample::select(b":Dd- \t\r\nxP\xe3".to_vec()), 0..6),
        ) {
            let mut rest = start.as_bytes().to_vec();
            rest.extend_from_slice(&tail);
            if let Some(known) = known_name(&rest) {
                proptest::prop_assert_eq!(format!("{:?}", Some(known)), format!("{:?}", scanned_name(&rest)));
            }
        }

        /// Header blocks made of those lines, LF or CRLF, with or without
        /// the blank line that ends them.
        #[test]
        fn blocks_read_like_mail_parser(
            lines in proptest::collection::vec(proptest::sample::select(FIELD_LINES), 0..8),
            end in proptest::sample::select(vec![&b"\n"[..], b"\r\n", b"", b"body"]),
            crlf in proptest::bool::ANY,
        ) {
            let mut raw = lines.concat();
            raw.extend_from_slice(end);
            if crlf {
                raw = raw
                    .iter()
                    .flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] })
                    .collect();
            }
            check_block(&raw);
        }

        /// Values from the bytes that steer the address, id, text and
        /// content-type parsers, checked one parser at a time.
        #[test]
        fn values_read_like_mail_parser(
            value in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => proptest::sample::select(b"aZ@<>\"(),;:\\=?/*' \t.-".to_vec()),
                    1 => proptest::sample::select(vec![b'\r', b'\n', 0xE3, 0x81, 0xFF, b'B', b'q', b'8']),
                ],
                0..24,
            ),
            crlf in proptest::bool::ANY,
        ) {
            let mut value = value;
            value.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            check_value(&value, simple_address, |s| s.parse_address());
            check_value(&value, simple_id, |s| s.parse_id());
            check_value(&value, simple_text, |s| s.parse_unstructured());
            check_value(&value, simple_content_type, |s| s.parse_content_type());
        }

        /// Well-formed content types built from parts: type, subtype,
        /// parameters quoted or not, folds after `;`.
        #[test]
        fn content_types_read_like_mail_parser(
            ctype in proptest::sample::select(vec!["text", "TEXT", "multipart", "x-Odd", "inline"]),
            subtype in proptest::sample::select(vec!["/plain", "/HTML", "/alternative", "", "/x.y+z"]),
            params in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["charset", "Boundary", "name", "format"]),
                    proptest::sample::select(vec!["utf-8", "\"Shift_JIS\"", "\"a b; c\"", "----=_Part_1", "\"あ\"", "x/y"]),
                    proptest::sample::select(vec![";", "; ", ";\n\t", " ;\r\n ", ";;"]),
                ),
                0..4,
            ),
        ) {
            let mut value = format!(" {ctype}{subtype}");
            for (name, val, sep) in &params {
                value.push_str(sep);
                value.push_str(name);
                value.push('=');
                value.push_str(val);
            }
            value.push('\n');
            proptest::prop_assert!(check_value(value.as_bytes(), simple_content_type, |s| s.parse_content_type()), "{}", value);
        }

        /// Message ids with and without the usual form.
        #[test]
        fn ids_read_like_mail_parser(
            before in proptest::sample::select(vec!["", " ", "\t", "  "]),
            id in proptest::collection::vec(proptest::sample::select(b"aZ0@.-_$<> \t\"()".to_vec()), 0..12),
            after in proptest::sample::select(vec!["", " ", "x", "<b>"]),
        ) {
            let mut value = before.as_bytes().to_vec();
            value.push(b'<');
            value.extend_from_slice(&id);
            value.push(b'>');
            value.extend_from_slice(after.as_bytes());
            value.push(b'\n');
            let plain = !id.is_empty() && !id.iter().any(|b| b"<> \t".contains(b)) && after.trim().is_empty();
            proptest::prop_assert_eq!(check_value(&value, simple_id, |s| s.parse_id()), plain);
        }

        /// Well-formed single mailboxes always take the fast path and read
        /// as mail-parser reads them.
        #[test]
        fn mailboxes_read_like_mail_parser(
            name in proptest::sample::select(vec!["", "Name", "Two Words", "\"Quoted, Name\"", "\"山 田\"", "J. Doe"]),
            address in proptest::sample::select(vec!["a@b.example", "first.last+tag@mail.example.co.jp", "x_y@z"]),
            bracket in proptest::bool::ANY,
        ) {
            let value = if name.is_empty() && !bracket {
                format!(" {address}\n")
            } else {
                format!(" {name} <{address}>\n")
            };
            proptest::prop_assert!(check_value(value.as_bytes(), simple_address, |s| s.parse_address()), "{}", value);
        }

        /// Display names made of encoded words (and anything near them:
        /// plain words, quotes, words not followed by white space) read
        /// as mail-parser reads them whenever the fast path answers, and
        /// names made only of well-formed base64 words take it.
        #[test]
        fn encoded_display_names_read_like_mail_parser(
            pieces in proptest::collection::vec(proptest::sample::select(
                WELL_FORMED_WORDS.iter().copied().chain([
                "=?utf-8?b??=",
                "=?utf-8?q?Yamada?=",
                "=?utf-8?b?44G?=",
                "=?utf-8?b?44GC",
                "Taro",
                "\"",
                ",",
                "(c)",
                "@",
                " ",
                "  ",
                "\t",
            ]).collect::<Vec<_>>()), 1..5),
            address in proptest::sample::select(vec!["a@b.example", "x_y@z", "=?utf-8?b?QQ==?=@b", "a b@c", ""]),
            space in proptest::sample::select(vec!["", " ", "\t"]),
        ) {
            let name = pieces.concat();
            let value = format!(" {name}{space}<{address}>\n");
            let read = check_value(value.as_bytes(), simple_address, |s| s.parse_address());
            // Well-formed: base64 words that decode to something,
            // white space between them, a plain address.
            let is_space = |p: &str| p.trim().is_empty();
            let is_good_word = |p: &str| WELL_FORMED_WORDS.contains(&p);
            let well_formed = pieces.iter().all(|p| is_space(p) || is_good_word(p))
                && pieces.iter().any(|p| is_good_word(p))
                && pieces.windows(2).all(|w| is_space(w[0]) || is_space(w[1]))
                && matches!(address, "a@b.example" | "x_y@z");
            if well_formed {
                proptest::prop_assert!(read, "{}", value);
            }
        }
    }
}
