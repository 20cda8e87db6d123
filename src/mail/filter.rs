//! Header editing for `sagiscan filter` (procmail, maildrop, Sieve pipes).
//!
//! A filter must hand back the message it was given, byte for byte, with
//! only its own verdict headers added. These functions touch nothing but the
//! header lines they own (`X-Sagiscan-*`), keep the input's line-ending
//! style, keep an mbox `From ` postmark line first (procmail passes one),
//! and replace earlier `X-Sagiscan-*` headers instead of piling up copies
//! when a message is filtered twice.

use super::message::field_name;

/// Prefix (compared case-insensitively) of every header this tool owns.
pub const FILTER_HEADER_PREFIX: &str = "X-Sagiscan-";

/// A line of `raw` with its terminator, as a byte range.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
}

fn lines(raw: &[u8]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < raw.len() {
        let end = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |p| start + p + 1);
        out.push(Line { start, end });
        start = end;
    }
    out
}

fn content(raw: &[u8], l: Line) -> &[u8] {
    let s = &raw[l.start..l.end];
    let s = s.strip_suffix(b"\n").unwrap_or(s);
    s.strip_suffix(b"\r").unwrap_or(s)
}

/// The line ending the input uses (that of its first line; `\n` if none).
fn line_ending(raw: &[u8]) -> &'static str {
    match memchr::memchr(b'\n', raw) {
        Some(p) if p > 0 && raw[p - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// Header-block layout: index of the first header line (after an optional
/// postmark) and the number of header lines (0 when there is none).
fn header_block(raw: &[u8], ls: &[Line]) -> (usize, usize) {
    let first = usize::from(
        ls.first()
            .is_some_and(|l| content(raw, *l).starts_with(b"From ")),
    );
    let mut n = 0;
    for l in &ls[first..] {
        let c = content(raw, *l);
        if c.is_empty() {
            break;
        }
        let continuation = c[0] == b' ' || c[0] == b'\t';
        if (continuation && n > 0) || (!continuation && field_name(c).is_some()) {
            n += 1;
        } else {
            break;
        }
    }
    (first, n)
}

fn is_own(name: &[u8]) -> bool {
    name.len() >= FILTER_HEADER_PREFIX.len()
        && name[..FILTER_HEADER_PREFIX.len()].eq_ignore_ascii_case(FILTER_HEADER_PREFIX.as_bytes())
}

/// Remove every header whose name starts with `X-Sagiscan-`
/// (case-insensitive), with its folded continuation lines. Everything else
/// is returned byte-identical. When the header block consisted only of such
/// headers (as [`add_filter_headers`] makes for input without headers), the
/// blank line after it goes too, so `strip(add(x)) == x` for every `x`
/// without `X-Sagiscan-` headers.
pub fn strip_filter_headers(raw: &[u8]) -> Vec<u8> {
    let ls = lines(raw);
    let (first, n) = header_block(raw, &ls);
    let mut out = Vec::with_capacity(raw.len());
    for l in &ls[..first] {
        out.extend_from_slice(&raw[l.start..l.end]);
    }
    let mut dropping = false;
    let mut kept = 0;
    let mut removed = 0;
    for l in &ls[first..first + n] {
        let c = content(raw, *l);
        if c[0] != b' ' && c[0] != b'\t' {
            dropping = field_name(c).is_some_and(is_own);
        }
        if dropping {
            removed += 1;
        } else {
            kept += 1;
            out.extend_from_slice(&raw[l.start..l.end]);
        }
    }
    let mut rest = first + n;
    if kept == 0 && removed > 0 && ls.get(rest).is_some_and(|l| content(raw, *l).is_empty()) {
        rest += 1;
    }
    if let Some(l) = ls.get(rest) {
        out.extend_from_slice(&raw[l.start..]);
    }
    out
}

/// Return `raw` with `headers` inserted at the top of its header block
/// (after an mbox `From ` postmark line, if any), after removing all
/// existing `X-Sagiscan-*` headers ([`strip_filter_headers`]). The input's
/// line ending (LF or CRLF) is used; CR and LF inside values become spaces;
/// non-ASCII values are RFC 2047 encoded (UTF-8, B). Input without a header
/// block gets the headers and a blank line before its first byte.
pub fn add_filter_headers(raw: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let stripped = strip_filter_headers(raw);
    let eol = line_ending(&stripped);
    let ls = lines(&stripped);
    let (first, n) = header_block(&stripped, &ls);
    let insert_at = ls.get(first).map_or(stripped.len(), |l| l.start);
    let mut block = Vec::new();
    for (name, value) in headers {
        block.extend_from_slice(name.trim().as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(encode_value(value, eol).as_bytes());
        block.extend_from_slice(eol.as_bytes());
    }
    if n == 0 {
        block.extend_from_slice(eol.as_bytes());
    }
    let mut out = Vec::with_capacity(stripped.len() + block.len());
    out.extend_from_slice(&stripped[..insert_at]);
    out.extend_from_slice(&block);
    out.extend_from_slice(&stripped[insert_at..]);
    out
}

/// A header value: one line, RFC 2047 encoded words when not ASCII.
fn encode_value(value: &str, eol: &str) -> String {
    let one_line: String = value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    if one_line.is_ascii() {
        return one_line;
    }
    // Encoded words of at most 45 input bytes (60 base64 chars + 12 = 72).
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in one_line.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
    }
    words.join(&format!("{eol} "))
}

/// Standard base64 (RFC 4648, with padding) of `data`.
pub(crate) fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for ch in data.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= ch.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &[(&str, &str)] = &[("X-Sagiscan-Verdict", "scam"), ("X-Sagiscan-Score", "12.5")];

    fn inputs() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = vec![
            b"From: a@example.jp\nSubject: hi\n\nbody\n".to_vec(),
            b"From a@x Mon Jul  1 10:00:00 2024\nFrom: a@example.jp\nSubject: hi\n\nbody\n"
                .to_vec(),
            b"Subject: only headers\n".to_vec(),
            b"Subject: no newline".to_vec(),
            b"Received: from x\n\tby y\nSubject: s\n\n\n\nbody with blank lines\n\n".to_vec(),
            "【佐川急便】お荷物の配達に伺いました\nhttp://x.example/\n"
                .as_bytes()
                .to_vec(),
            b"\nbody after an empty header block\n".to_vec(),
            b"".to_vec(),
            b"X-Other: 1\nx-sagiscanner: not ours\n\nbody".to_vec(),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "eml") {
                v.push(std::fs::read(p).unwrap());
            }
        }
        let crlf: Vec<Vec<u8>> = v
            .iter()
            .map(|x| {
                String::from_utf8_lossy(x)
                    .replace('\n', "\r\n")
                    .into_bytes()
            })
            .collect();
        v.extend(crlf);
        v
    }

    #[test]
    fn strip_of_add_is_identity_for_lf_and_crlf() {
        for x in inputs() {
            let added = add_filter_headers(&x, H);
            assert_eq!(
                strip_filter_headers(&added),
                x,
                "{}",
                String::from_utf8_lossy(&x)
            );
            assert_eq!(strip_filter_headers(&x), x);
        }
    }

    #[test]
    fn headers_go_on_top_with_the_input_line_ending() {
        let out = add_filter_headers(b"From: a@b\r\nSubject: s\r\n\r\nbody\r\n", H);
        assert_eq!(
            out,
            b"X-Sagiscan-Verdict: scam\r\nX-Sagiscan-Score: 12.5\r\nFrom: a@b\r\nSubject: s\r\n\r\nbody\r\n"
        );
        let out = add_filter_headers(b"From x Mon Jul  1 10:00:00 2024\nFrom: a@b\n\nbody\n", H);
        assert_eq!(
            out,
            b"From x Mon Jul  1 10:00:00 2024\nX-Sagiscan-Verdict: scam\nX-Sagiscan-Score: 12.5\nFrom: a@b\n\nbody\n"
        );
        let out = add_filter_headers("本文だけ\n".as_bytes(), &[("X-Sagiscan-Verdict", "clean")]);
        assert_eq!(out, "X-Sagiscan-Verdict: clean\n\n本文だけ\n".as_bytes());
    }

    #[test]
    fn refiltering_replaces_instead_of_duplicating() {
        let x = b"Subject: s\nX-SAGISCAN-Verdict: old\n  folded old\nTo: t\n\nbody\n";
        let once = add_filter_headers(x, H);
        assert_eq!(
            once,
            b"X-Sagiscan-Verdict: scam\nX-Sagiscan-Score: 12.5\nSubject: s\nTo: t\n\nbody\n"
        );
        let twice = add_filter_headers(&once, &[("X-Sagiscan-Verdict", "clean")]);
        assert_eq!(
            twice,
            b"X-Sagiscan-Verdict: clean\nSubject: s\nTo: t\n\nbody\n"
        );
        assert_eq!(add_filter_headers(&once, H), once);
    }

    #[test]
    fn values_are_one_line_and_non_ascii_is_encoded() {
        let out = add_filter_headers(b"S: 1\n\nb", &[("X-Sagiscan-Reason", "a\r\nb")]);
        assert_eq!(out, b"X-Sagiscan-Reason: a  b\nS: 1\n\nb");
        let out = add_filter_headers(b"S: 1\n\nb", &[("X-Sagiscan-Reason", "還付金詐欺")]);
        let msg = crate::mail::parse_message(&out, &Default::default());
        assert!(String::from_utf8(out.clone()).unwrap().is_ascii());
        let parsed = mail_parser::MessageParser::new().parse(&out).unwrap();
        assert_eq!(
            parsed.header_raw("X-Sagiscan-Reason").map(str::trim),
            Some("=?UTF-8?B?6YKE5LuY6YeR6KmQ5qy6?=")
        );
        assert_eq!(msg.body, "b");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
