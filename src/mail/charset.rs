//! Charset decoding for bytes that carry no (trustworthy) label.
//!
//! Pasted text and `.txt` files arrive as bare bytes, and mail parts are often
//! mislabelled (Shift_JIS declared as `iso-8859-1`, raw ISO-2022-JP under
//! `us-ascii`). This module decides between UTF-8, ISO-2022-JP, Shift_JIS
//! (CP932) and EUC-JP, and refuses to guess when none of them fits, so a
//! caller never scores mojibake without knowing it.

use encoding_rs::{EUC_JP, Encoding, ISO_2022_JP, SHIFT_JIS, UTF_8};

/// How many leading bytes chardetng sees when two candidates decode cleanly
/// (chardetng runs at ~10 MB/s; the decision never needs more).
pub const SNIFF_LIMIT: usize = 64 * 1024;

/// Text decoded from unlabelled bytes, with the charset it was read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText {
    /// The decoded text (a leading BOM is removed).
    pub text: String,
    /// The WHATWG name of the charset used: `"UTF-8"`, `"UTF-16LE"`,
    /// `"UTF-16BE"`, `"ISO-2022-JP"`, `"Shift_JIS"` (CP932 / Windows-31J,
    /// including the NEC and IBM extensions) or `"EUC-JP"`.
    pub charset: &'static str,
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No supported charset decodes the bytes without errors.
    #[error(
        "could not determine the character encoding: the input is not valid UTF-8, ISO-2022-JP, Shift_JIS (CP932) or EUC-JP"
    )]
    Undetermined,
    /// A charset label given by the caller is not one encoding_rs knows.
    #[error("unknown character encoding {0:?}")]
    UnknownLabel(String),
    /// The bytes are not valid in the charset named by the caller.
    #[error("the input is not valid {0}")]
    Malformed(&'static str),
}

/// Decode unlabelled bytes (pasted text, a `.txt` file).
///
/// Order: a BOM decides (UTF-8, UTF-16); 7-bit input with ISO-2022-JP escape
/// sequences is ISO-2022-JP; valid UTF-8 is UTF-8; otherwise Shift_JIS (CP932)
/// and EUC-JP are tried, and when both decode cleanly chardetng (over the
/// first [`SNIFF_LIMIT`] bytes) and then the share of kana decide.
/// Returns [`DecodeError::Undetermined`] when nothing decodes cleanly.
pub fn decode_unlabelled(raw: &[u8]) -> Result<DecodedText, DecodeError> {
    if let Some((enc, bom_len)) = Encoding::for_bom(raw) {
        return strict(enc, &raw[bom_len..]).ok_or(DecodeError::Malformed(enc.name()));
    }
    let seven_bit = raw.is_ascii();
    if seven_bit && has_iso2022jp_escape(raw) {
        return strict(ISO_2022_JP, raw).ok_or(DecodeError::Undetermined);
    }
    if let Ok(s) = std::str::from_utf8(raw) {
        return Ok(DecodedText {
            text: s.to_owned(),
            charset: UTF_8.name(),
        });
    }
    let sjis = strict(SHIFT_JIS, raw);
    let euc = strict(EUC_JP, raw);
    match (sjis, euc) {
        (Some(s), None) => Ok(s),
        (None, Some(e)) => Ok(e),
        (None, None) => Err(DecodeError::Undetermined),
        (Some(s), Some(e)) => {
            let head = &raw[..raw.len().min(SNIFF_LIMIT)];
            let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            det.feed(head, head.len() == raw.len());
            let guess = det.guess(Some(b"jp"), chardetng::Utf8Detection::Deny);
            let prefer_euc = if guess == SHIFT_JIS || guess == EUC_JP {
                guess == EUC_JP
            } else {
                japanese_score(&e.text) > japanese_score(&s.text)
            };
            Ok(if prefer_euc { e } else { s })
        }
    }
}

/// Decode bytes in a charset named by the caller (e.g. a `--encoding` flag).
/// Any label encoding_rs knows is accepted (`sjis`, `cp932`, `euc-jp`, ...);
/// a BOM, if present, is removed. Errors instead of inserting U+FFFD.
pub fn decode_with_label(raw: &[u8], label: &str) -> Result<DecodedText, DecodeError> {
    let enc = lookup_label(label).ok_or_else(|| DecodeError::UnknownLabel(label.to_owned()))?;
    let body = match Encoding::for_bom(raw) {
        Some((bom_enc, len)) if bom_enc == enc => &raw[len..],
        _ => raw,
    };
    strict(enc, body).ok_or(DecodeError::Malformed(enc.name()))
}

/// encoding_rs's WHATWG labels plus the names Japanese users and mailers
/// also write (`cp932`, `eucjp`, `ujis`, `jis`, `iso2022jp`, `utf8`).
pub fn lookup_label(label: &str) -> Option<&'static Encoding> {
    let l = label.trim().to_ascii_lowercase();
    let alias = match l.as_str() {
        "cp932" | "windows-932" | "ms-932" | "shiftjis" | "sjis-win" | "cp943" => "shift_jis",
        "eucjp" | "ujis" | "euc-jp-ms" | "eucjp-ms" | "eucjpms" | "cp51932" => "euc-jp",
        "jis" | "iso2022jp" | "cp50220" | "cp50221" | "cp50222" => "iso-2022-jp",
        "utf8" => "utf-8",
        other => other,
    };
    Encoding::for_label(alias.as_bytes())
}

/// Decode without replacement characters; `None` when the bytes are malformed.
fn strict(enc: &'static Encoding, bytes: &[u8]) -> Option<DecodedText> {
    let text = enc
        .decode_without_bom_handling_and_without_replacement(bytes)?
        .into_owned();
    Some(DecodedText {
        text,
        charset: enc.name(),
    })
}

/// Decode the RFC 2047 encoded words in header text, more forgivingly than
/// mail-parser: adjacent words in the same charset are joined *before*
/// charset decoding (Japanese mailers split multi-byte characters across
/// words), and a word whose bytes are not valid in its declared charset is
/// re-sniffed with [`decode_unlabelled`]. Whitespace between adjacent
/// encoded words is dropped; other text is kept as is.
pub fn decode_encoded_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut rest = text;
    while let Some(p) = rest.find("=?") {
        let before = &rest[..p];
        let Some((charset, bytes, len)) = parse_word(&rest[p..]) else {
            flush_word(&mut out, &mut pending);
            out.push_str(&rest[..p + 2]);
            rest = &rest[p + 2..];
            continue;
        };
        match &mut pending {
            Some((cs, buf)) if before.trim().is_empty() && cs.eq_ignore_ascii_case(&charset) => {
                buf.extend_from_slice(&bytes)
            }
            _ => {
                let adjacent = pending.is_some() && before.trim().is_empty();
                flush_word(&mut out, &mut pending);
                if !adjacent {
                    out.push_str(before);
                }
                pending = Some((charset, bytes));
            }
        }
        rest = &rest[p + len..];
    }
    flush_word(&mut out, &mut pending);
    out.push_str(rest);
    out
}

fn flush_word(out: &mut String, pending: &mut Option<(String, Vec<u8>)>) {
    let Some((charset, bytes)) = pending.take() else {
        return;
    };
    let strict_label = lookup_label(&charset)
        .and_then(|enc| enc.decode_without_bom_handling_and_without_replacement(&bytes));
    match strict_label {
        Some(t) => out.push_str(&t),
        None => match decode_unlabelled(&bytes) {
            Ok(d) => out.push_str(&d.text),
            Err(_) => out.push_str(&String::from_utf8_lossy(&bytes)),
        },
    }
}

/// Parse `=?charset?B|Q?payload?=` at the start of `s`: charset (RFC 2231
/// language suffix removed), decoded bytes, and the length consumed.
fn parse_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = body[..q1].split('*').next()?.trim().to_owned();
    if charset.is_empty() || charset.contains(char::is_whitespace) {
        return None;
    }
    let after = &body[q1 + 1..];
    let mut chars = after.chars();
    let enc = chars.next()?.to_ascii_uppercase();
    if chars.next()? != '?' {
        return None;
    }
    // The encoding letter may be any char (fuzzed: a multi-byte one).
    let payload_all = chars.as_str();
    let end = payload_all.find("?=")?;
    let payload = &payload_all[..end];
    if payload.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match enc {
        'B' => mail_parser::decoders::base64::base64_decode(payload.as_bytes())?,
        'Q' => {
            let p = payload.as_bytes();
            let mut v = Vec::with_capacity(p.len());
            let mut i = 0;
            while i < p.len() {
                match p[i] {
                    b'_' => v.push(b' '),
                    b'=' => {
                        let hex = p.get(i + 1..i + 3)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        v.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                        i += 2;
                    }
                    b => v.push(b),
                }
                i += 1;
            }
            v
        }
        _ => return None,
    };
    Some((charset, bytes, 2 + q1 + 1 + 2 + end + 2))
}

/// True when the bytes contain an ISO-2022-JP designation escape
/// (`ESC $ B`, `ESC $ @`, `ESC ( J`, `ESC ( I`, `ESC ( B`).
pub(crate) fn has_iso2022jp_escape(raw: &[u8]) -> bool {
    memchr::memchr_iter(0x1b, raw).any(|i| {
        matches!(
            raw.get(i + 1..i + 3),
            Some(b"$B") | Some(b"$@") | Some(b"(J") | Some(b"(I") | Some(b"(B")
        )
    })
}

/// Number of full-width kana in `text` minus a penalty for characters that
/// typical Japanese prose does not contain (used to choose between two
/// clean decodings).
pub(crate) fn japanese_score(text: &str) -> i64 {
    let mut score = 0i64;
    for c in text.chars() {
        match c {
            '\u{3041}'..='\u{309f}' | '\u{30a0}'..='\u{30ff}' => score += 2,
            '\u{3000}'..='\u{303f}' | '\u{ff01}'..='\u{ff5e}' => score += 1,
            '\u{4e00}'..='\u{9fff}' => score += 1,
            '\u{ff61}'..='\u{ff9f}' => {} // half-width katakana: ambiguous
            c if c.is_ascii() => {}
            _ => score -= 2,
        }
    }
    score
}

/// Count of full-width hiragana/katakana characters.
pub(crate) fn kana_count(text: &str) -> usize {
    text.chars()
        .filter(|c| matches!(c, '\u{3041}'..='\u{3096}' | '\u{30a1}'..='\u{30fa}'))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAGAWA: &str = "【佐川急便】お荷物の配達に伺いましたが不在のため持ち帰りました。";

    #[test]
    fn utf8_and_bom() {
        let d = decode_unlabelled(SAGAWA.as_bytes()).unwrap();
        assert_eq!((d.text.as_str(), d.charset), (SAGAWA, "UTF-8"));
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice(SAGAWA.as_bytes());
        let d = decode_unlabelled(&bom).unwrap();
        assert_eq!((d.text.as_str(), d.charset), (SAGAWA, "UTF-8"));
    }

    #[test]
    fn empty_is_utf8() {
        let d = decode_unlabelled(b"").unwrap();
        assert_eq!((d.text.as_str(), d.charset), ("", "UTF-8"));
    }

    #[test]
    fn shift_jis_cp932_extensions() {
        let text = "①髙橋様、未払い料金があります。至急ご連絡ください。";
        let (bytes, _, bad) = SHIFT_JIS.encode(text);
        assert!(!bad);
        let d = decode_unlabelled(&bytes).unwrap();
        assert_eq!((d.text.as_str(), d.charset), (text, "Shift_JIS"));
    }

    #[test]
    fn euc_jp() {
        let (bytes, _, bad) = EUC_JP.encode(SAGAWA);
        assert!(!bad);
        let d = decode_unlabelled(&bytes).unwrap();
        assert_eq!((d.text.as_str(), d.charset), (SAGAWA, "EUC-JP"));
    }

    #[test]
    fn iso2022jp() {
        let (bytes, _, bad) = ISO_2022_JP.encode(SAGAWA);
        assert!(!bad);
        assert!(bytes.is_ascii());
        let d = decode_unlabelled(&bytes).unwrap();
        assert_eq!((d.text.as_str(), d.charset), (SAGAWA, "ISO-2022-JP"));
    }

    #[test]
    fn iso2022jp_nec_row13_and_halfwidth_katakana() {
        // ESC $ B 0x2D21 is ① (NEC row 13, CP50220/CP50221); ESC ( I is JIS X 0201 katakana.
        let bytes = b"\x1b$B-!\x1b(B \x1b(I1\x1b(B";
        let d = decode_unlabelled(bytes).unwrap();
        assert_eq!(d.text, "① ｱ");
    }

    #[test]
    fn garbage_is_an_error_not_a_guess() {
        let bytes = [0xff, 0xfe - 1, 0x80, 0x80, 0xff, 0x00, 0xa0];
        assert_eq!(decode_unlabelled(&bytes), Err(DecodeError::Undetermined));
    }

    #[test]
    fn encoded_words() {
        // A character split across two words, and Shift_JIS bytes labelled UTF-8.
        let (sj, _, _) = SHIFT_JIS.encode("還付金");
        let text = format!("Re: =?UTF-8?B?{}?=", crate::mail::filter::base64(&sj));
        assert_eq!(decode_encoded_words(&text), "Re: 還付金");
        let split = "=?UTF-8?Q?=E9=82?= =?utf-8?Q?=84=E4=BB=98?= tail =?x?Q?bad";
        assert_eq!(decode_encoded_words(split), "還付 tail =?x?Q?bad");
        assert_eq!(
            decode_encoded_words("=?ISO-2022-JP*ja?B?GyRCJDMkcyRLJEEkTxsoQg==?= =?UTF-8?Q?_!?="),
            "こんにちは !"
        );
        assert_eq!(
            decode_encoded_words("=?UTF-8?Q?=E3=8?="),
            "=?UTF-8?Q?=E3=8?="
        );
        assert_eq!(decode_encoded_words("=?=?a?Q?=?="), "=?=?a?Q?=?=");
    }

    #[test]
    fn label_decoding() {
        let (bytes, _, _) = SHIFT_JIS.encode(SAGAWA);
        assert_eq!(decode_with_label(&bytes, "cp932").unwrap().text, SAGAWA);
        assert!(matches!(
            decode_with_label(&bytes, "euc-jp"),
            Err(DecodeError::Malformed("EUC-JP"))
        ));
        assert!(matches!(
            decode_with_label(&bytes, "klingon"),
            Err(DecodeError::UnknownLabel(_))
        ));
    }
}
