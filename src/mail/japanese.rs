//! Fast decoders for well-formed ISO-2022-JP, Shift_JIS and EUC-JP text.
//!
//! mail-parser decodes these charsets with encoding_rs through a general
//! decoder that allocates four output bytes per input byte, then shrinks
//! (copies) the result; with encoding_rs's own per-character work that was
//! ~60 instructions per character of Japanese mail body, a fifth of MIME
//! decoding. Here every JIS X 0208 character is one lookup, by its WHATWG
//! pointer (the index all three encodings share), in a table of ready
//! UTF-8 bytes, written into a buffer sized once for the worst case.
//! Shift_JIS pairs find their pointer by two table lookups whose sum runs
//! past the table for any invalid byte (one bounds check for both), and
//! ISO-2022-JP is decoded in runs between escape sequences, so the mode is
//! not tested per character.
//!
//! The table is filled from encoding_rs itself (every Shift_JIS byte pair,
//! decoded in one call, ~1 M instructions) the first time it is needed, so there is no second
//! copy of the mapping to get wrong. The decoders here accept only what
//! decodes cleanly and without state surprises: ASCII, the pairs the table
//! maps, half-width katakana, and in ISO-2022-JP the ASCII and JIS X 0208
//! escape sequences. Anything else — an unmapped pair, a JIS X 0212 or
//! user-defined character in EUC-JP, a byte sequence that encoding_rs would
//! report as an error, a leading byte-order mark (mail-parser's decoders
//! sniff BOMs), ISO-2022-JP's Roman or katakana modes or two escape
//! sequences in a row — returns `None`, and the caller uses mail-parser's
//! decoder. Tests compare every byte pair and random text with encoding_rs
//! and with mail-parser's decoders.

use std::sync::OnceLock;

use encoding_rs::SHIFT_JIS;

/// A Japanese charset this module decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Japanese {
    /// ISO-2022-JP (RFC 1468), the classic 7-bit mail encoding.
    Iso2022Jp,
    /// Shift_JIS as WHATWG defines it (CP932 / Windows-31J).
    ShiftJis,
    /// EUC-JP.
    EucJp,
}

/// The Japanese charset mail-parser's `charset_decoder` picks for `label`,
/// if it picks one of ours. Same normalization as mail-parser (ASCII
/// lowercase, `-` read as `_`), same label list; labels longer than
/// mail-parser's 45-byte buffer are left to it.
pub(crate) fn japanese_charset(label: &[u8]) -> Option<Japanese> {
    if label.len() > 45 {
        return None;
    }
    let mut buf = [0u8; 45];
    for (dest, &src) in buf.iter_mut().zip(label) {
        *dest = match src {
            b'A'..=b'Z' => src + 32,
            b'-' => b'_',
            _ => src,
        };
    }
    match &buf[..label.len()] {
        b"iso_2022_jp" | b"csiso2022jp" => Some(Japanese::Iso2022Jp),
        b"shift_jis" | b"sjis" | b"x_sjis" | b"ms_kanji" | b"ms932" | b"windows_31j"
        | b"csshiftjis" => Some(Japanese::ShiftJis),
        b"euc_jp"
        | b"x_euc_jp"
        | b"cseucpkdfmtjapanese"
        | b"extended_unix_code_packed_format_for_japanese" => Some(Japanese::EucJp),
        _ => None,
    }
}

/// Decode `bytes` in `charset` exactly as encoding_rs (and so mail-parser)
/// would, or `None` when they hold anything this module leaves to them.
pub(crate) fn decode_japanese(charset: Japanese, bytes: &[u8]) -> Option<String> {
    decode_output(charset, bytes)?.finish()
}

/// [`decode_japanese`] appended to `text` (`false`, and `text` unchanged,
/// where that gives `None`): no `String` of its own for short text such
/// as an encoded word.
pub(crate) fn push_japanese(charset: Japanese, bytes: &[u8], text: &mut String) -> bool {
    match decode_output(charset, bytes)
        .as_ref()
        .and_then(Output::checked)
    {
        Some(decoded) => {
            text.push_str(decoded);
            true
        }
        None => false,
    }
}

fn decode_output(charset: Japanese, bytes: &[u8]) -> Option<Output> {
    // mail-parser's decoders sniff a byte-order mark and may switch to
    // UTF-8 or UTF-16: every BOM starts with one of these bytes.
    if matches!(bytes.first(), Some(0xEF | 0xFE | 0xFF)) {
        return None;
    }
    match charset {
        Japanese::Iso2022Jp => decode_iso_2022_jp(bytes),
        Japanese::ShiftJis => decode_shift_jis(bytes),
        Japanese::EucJp => decode_euc_jp(bytes),
    }
}

/// Shift_JIS pointers: 60 lead bytes × 188 trail bytes. EUC-JP and
/// ISO-2022-JP use the first 94 × 94 of them (the same JIS X 0208 index).
const POINTERS: usize = 60 * 188;

/// A character as UTF-8: up to three bytes (every character these
/// charsets have is in the Basic Multilingual Plane) and their count in the
/// last byte; a count of 0 marks a pointer encoding_rs does not map.
type Utf8 = [u8; 4];

fn utf8_of(c: char) -> Utf8 {
    let mut entry = [0u8; 4];
    if c.len_utf8() <= 3 {
        let len = c.encode_utf8(&mut entry[..3]).len();
        entry[3] = len as u8;
    }
    entry
}

/// The Shift_JIS bytes of a pointer (WHATWG's Shift_JIS encoder, inverted).
fn shift_jis_pair(pointer: usize) -> [u8; 2] {
    let (lead, trail) = ((pointer / 188) as u8, (pointer % 188) as u8);
    [
        if lead < 0x1F {
            0x81 + lead
        } else {
            0xC1 + lead
        },
        if trail < 0x3F {
            0x40 + trail
        } else {
            0x41 + trail
        },
    ]
}

/// What encoding_rs decodes each pointer to (a count of 0 where it reports
/// an error).
fn pointer_table() -> &'static [Utf8; POINTERS] {
    static TABLE: OnceLock<Box<[Utf8; POINTERS]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // One call for all pairs: each decodes to one character, or (not
        // mapped) to U+FFFD followed, when the trail byte is ASCII, by that
        // byte again. Mapped pairs are never ASCII, so the characters line
        // up with the pointers.
        let mut raw = Vec::with_capacity(POINTERS * 2);
        for pointer in 0..POINTERS {
            raw.extend_from_slice(&shift_jis_pair(pointer));
        }
        let (text, _) = SHIFT_JIS.decode_without_bom_handling(&raw);
        let mut chars = text.chars();
        let mut table = Box::new([[0u8; 4]; POINTERS]);
        for (pointer, slot) in table.iter_mut().enumerate() {
            match chars.next() {
                Some('\u{fffd}') => {
                    if shift_jis_pair(pointer)[1] < 0x80 {
                        chars.next();
                    }
                }
                Some(c) => *slot = utf8_of(c),
                None => break,
            }
        }
        table
    })
}

/// Half-width katakana, U+FF61..=U+FF9F: Shift_JIS 0xA1..=0xDF, EUC-JP
/// 0x8E 0xA1..=0xDF.
fn half_width_katakana(byte: u8) -> Utf8 {
    char::from_u32(0xFF61 + u32::from(byte) - 0xA1).map_or([0; 4], utf8_of)
}

/// `n` zero bytes, allocated as plain memory and then filled: `vec![0; n]`
/// asks the allocator for zeroed memory, which mimalloc serves from its
/// slow generic path for Rust's aligned requests (~1,500 instructions a
/// call, against ~100 for a plain allocation and a `memset`).
#[expect(
    clippy::slow_vector_initialization,
    reason = "vec![0; n] is the slower one with this allocator (measured)"
)]
pub(crate) fn zeroed(n: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(n);
    bytes.resize(n, 0);
    bytes
}

/// The shortest input simdutf8 checks with its vector code (it hands
/// anything shorter to std's byte-at-a-time check).
pub(crate) const SIMD_BLOCK: usize = 64;

/// UTF-8 written into a buffer sized once for the worst case: one bounds
/// check per character, no growth.
struct Output {
    buf: Vec<u8>,
    len: usize,
}

impl Output {
    /// Room for `per_byte_x2 / 2` output bytes per input byte (plus the
    /// four bytes a character entry always writes), and never less than
    /// [`SIMD_BLOCK`] bytes (see [`Output::finish`]).
    fn for_input(input_len: usize, per_byte_x2: usize) -> Output {
        Output {
            buf: zeroed((input_len * per_byte_x2 / 2 + 4).max(SIMD_BLOCK)),
            len: 0,
        }
    }

    fn ascii(&mut self, byte: u8) -> Option<()> {
        *self.buf.get_mut(self.len)? = byte;
        self.len += 1;
        Some(())
    }

    /// Write a table entry; `None` if it is unmapped.
    fn char(&mut self, entry: Utf8) -> Option<()> {
        let len = usize::from(entry[3]);
        if len == 0 {
            return None;
        }
        // All four bytes in one store: the fourth (the count) lands past
        // the text and is overwritten by the next character or cut off.
        self.buf
            .get_mut(self.len..self.len + 4)?
            .copy_from_slice(&entry);
        self.len += len;
        Some(())
    }

    /// Write two table entries with one store and one bounds check;
    /// `None` if either is unmapped. Entries are zero past their text, so
    /// the second, shifted to where the first ends, ORs in cleanly.
    fn char2(&mut self, first: Utf8, second: Utf8) -> Option<()> {
        let (first_len, second_len) = (usize::from(first[3]), usize::from(second[3]));
        if first_len == 0 || second_len == 0 {
            return None;
        }
        let text = u64::from(u32::from_le_bytes(first) & 0x00FF_FFFF)
            | (u64::from(u32::from_le_bytes(second)) << (8 * first_len));
        self.buf
            .get_mut(self.len..self.len + 8)?
            .copy_from_slice(&text.to_le_bytes());
        self.len += first_len + second_len;
        Some(())
    }

    /// The text written. It is UTF-8 by construction; checking costs a
    /// fraction of an instruction per byte with simdutf8 (std's check of
    /// `String::from_utf8` would cost more than the decoding).
    ///
    /// simdutf8 hands text shorter than [`SIMD_BLOCK`] to std's byte loop
    /// (~10 instructions a byte on Japanese: most encoded-word subjects),
    /// so short text is checked with the buffer's tail up to that length.
    /// Every byte past the text is zero or a character entry's count
    /// (1 to 3), all ASCII: the longer slice is valid exactly when the
    /// text is (a character cut at the text's end stays cut), and then
    /// the text's end is a character boundary.
    fn checked(&self) -> Option<&str> {
        let checked = self.buf.get(..self.len.max(SIMD_BLOCK))?;
        simdutf8::basic::from_utf8(checked).ok()?.get(..self.len)
    }

    /// [`Output::checked`] as a `String` of its own.
    fn finish(self) -> Option<String> {
        self.checked().map(str::to_owned)
    }
}

/// Marks a byte that cannot lead (or trail) a Shift_JIS pair in
/// [`SJIS_LEAD`] and [`SJIS_TRAIL`]: any sum with it is past the last
/// pointer, so one bounds check of the table rejects the pair.
const SJIS_INVALID: u16 = 0x8000;

/// [`SJIS_LEAD`] of a half-width katakana byte (0xA1..=0xDF).
const SJIS_HALF_WIDTH: u16 = 0x4000;

/// The first pointer of each Shift_JIS lead byte (`lead index × 188`),
/// [`SJIS_HALF_WIDTH`] for half-width katakana, [`SJIS_INVALID`] for the
/// rest (ASCII is handled before the lookup).
static SJIS_LEAD: [u16; 256] = {
    let mut table = [SJIS_INVALID; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b {
            0x81..=0x9F => (b as u16 - 0x81) * 188,
            0xE0..=0xFC => (b as u16 - 0xC1) * 188,
            0xA1..=0xDF => SJIS_HALF_WIDTH,
            _ => SJIS_INVALID,
        };
        b += 1;
    }
    table
};

/// The trail index (0..188) of each Shift_JIS trail byte, [`SJIS_INVALID`]
/// for bytes that cannot trail.
static SJIS_TRAIL: [u16; 256] = {
    let mut table = [SJIS_INVALID; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b {
            0x40..=0x7E => b as u16 - 0x40,
            0x80..=0xFC => b as u16 - 0x41,
            _ => SJIS_INVALID,
        };
        b += 1;
    }
    table
};

fn decode_shift_jis(bytes: &[u8]) -> Option<Output> {
    let table = pointer_table();
    // One-byte half-width katakana become three UTF-8 bytes.
    let mut out = Output::for_input(bytes.len(), 6);
    let mut i = 0;
    while let Some(&lead) = bytes.get(i) {
        if lead < 0x80 {
            out.ascii(lead)?;
            i += 1;
            continue;
        }
        // Two double-byte characters at a time while they last; anything
        // else (ASCII, half-width katakana, an invalid byte) is left to
        // the one-character steps below.
        let start = i;
        while let Some(&[lead1, trail1, lead2, trail2]) = bytes.get(i..i + 4) {
            let pointer = |lead: u8, trail: u8| {
                usize::from(SJIS_LEAD[usize::from(lead)])
                    + usize::from(SJIS_TRAIL[usize::from(trail)])
            };
            let (Some(&first), Some(&second)) = (
                table.get(pointer(lead1, trail1)),
                table.get(pointer(lead2, trail2)),
            ) else {
                break;
            };
            out.char2(first, second)?;
            i += 4;
        }
        if i > start {
            continue;
        }
        let lead_pointer = SJIS_LEAD[usize::from(lead)];
        if lead_pointer == SJIS_HALF_WIDTH {
            out.char(half_width_katakana(lead))?;
            i += 1;
            continue;
        }
        let trail = *bytes.get(i + 1)?;
        // An invalid lead or trail byte sends the pointer past the table.
        let pointer = usize::from(lead_pointer) + usize::from(SJIS_TRAIL[usize::from(trail)]);
        out.char(*table.get(pointer)?)?;
        i += 2;
    }
    Some(out)
}

/// The JIS X 0208 entry of row and cell (both 0..94 after subtracting the
/// encoding's offset).
fn jis0208(table: &[Utf8; POINTERS], row: u8, cell: u8) -> Option<Utf8> {
    if row >= 94 || cell >= 94 {
        return None;
    }
    Some(table[usize::from(row) * 94 + usize::from(cell)])
}

/// Decodes JIS X 0208 characters two at a time from `bytes[i..]`, whose
/// row and cell bytes count from `base` (0xA1 in EUC-JP, 0x21 in
/// ISO-2022-JP), while both characters of a pair are mapped (one store
/// and one bounds check per pair); returns where it stopped, for the
/// one-character steps of the callers to go on.
#[inline(always)]
fn jis0208_pairs(
    table: &[Utf8; POINTERS],
    bytes: &[u8],
    mut i: usize,
    base: u8,
    out: &mut Output,
) -> Option<usize> {
    while let Some(&[lead1, trail1, lead2, trail2]) = bytes.get(i..i + 4) {
        let (Some(first), Some(second)) = (
            jis0208(table, lead1.wrapping_sub(base), trail1.wrapping_sub(base)),
            jis0208(table, lead2.wrapping_sub(base), trail2.wrapping_sub(base)),
        ) else {
            break;
        };
        out.char2(first, second)?;
        i += 4;
    }
    Some(i)
}

fn decode_euc_jp(bytes: &[u8]) -> Option<Output> {
    let table = pointer_table();
    // Two bytes become at most three.
    let mut out = Output::for_input(bytes.len(), 3);
    let mut i = 0;
    while let Some(&lead) = bytes.get(i) {
        if lead < 0x80 {
            out.ascii(lead)?;
            i += 1;
            continue;
        }
        // Two JIS X 0208 characters at a time while they last; anything
        // else is left to the one-character step below.
        let start = i;
        i = jis0208_pairs(table, bytes, i, 0xA1, &mut out)?;
        if i > start {
            continue;
        }
        let trail = *bytes.get(i + 1)?;
        let entry = match lead {
            0xA1..=0xFE => jis0208(table, lead - 0xA1, trail.wrapping_sub(0xA1))?,
            0x8E if (0xA1..=0xDF).contains(&trail) => half_width_katakana(trail),
            _ => return None,
        };
        out.char(entry)?;
        i += 2;
    }
    Some(out)
}

fn decode_iso_2022_jp(bytes: &[u8]) -> Option<Output> {
    let table = pointer_table();
    // Two bytes become at most three; escape sequences none.
    let mut out = Output::for_input(bytes.len(), 3);
    // encoding_rs reports an error for an escape sequence right after
    // another (nothing written in between).
    let mut escape_pending = false;
    let mut jis = false;
    let mut i = 0;
    loop {
        // A run of the current mode's characters, up to the next escape
        // sequence (or anything else, which is rejected below).
        let start = i;
        if jis {
            // Pairs only: encoding_rs reports even a line break inside
            // JIS X 0208 text as an error. ESC (0x1B) is outside the row
            // range and ends the run.
            // Two characters at a time, then the odd one.
            i = jis0208_pairs(table, bytes, i, 0x21, &mut out)?;
            while let Some(&[lead, trail]) = bytes.get(i..i + 2) {
                let Some(entry) = jis0208(table, lead.wrapping_sub(0x21), trail.wrapping_sub(0x21))
                else {
                    break;
                };
                out.char(entry)?;
                i += 2;
            }
        } else {
            while let Some(&byte) = bytes.get(i) {
                if byte >= 0x80 || matches!(byte, 0x0E | 0x0F | 0x1B) {
                    break;
                }
                out.ascii(byte)?;
                i += 1;
            }
        }
        if i > start {
            escape_pending = false;
        }
        match bytes.get(i) {
            None => break,
            Some(0x1B) => {
                jis = match bytes.get(i + 1..i + 3)? {
                    b"(B" => false,
                    b"$B" | b"$@" => true,
                    _ => return None,
                };
                if escape_pending {
                    return None;
                }
                escape_pending = true;
                i += 3;
            }
            Some(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{EUC_JP, Encoding, ISO_2022_JP};

    fn encoding(charset: Japanese) -> &'static Encoding {
        match charset {
            Japanese::Iso2022Jp => ISO_2022_JP,
            Japanese::ShiftJis => SHIFT_JIS,
            Japanese::EucJp => EUC_JP,
        }
    }

    /// What mail-parser's decoder for `label` gives.
    fn mail_parser_decode(label: &str, bytes: &[u8]) -> String {
        let decode = mail_parser::decoders::charsets::map::charset_decoder(label.as_bytes())
            .expect("mail-parser knows the label");
        decode(bytes)
    }

    const CHARSETS: [(Japanese, &str); 3] = [
        (Japanese::Iso2022Jp, "iso-2022-jp"),
        (Japanese::ShiftJis, "shift_jis"),
        (Japanese::EucJp, "euc-jp"),
    ];

    /// Whenever a fast decoder returns text, it is encoding_rs's (BOM
    /// sniffing included, as mail-parser's decoders do it), and
    /// `push_japanese` appends exactly that text (nothing on `None`).
    fn check(charset: Japanese, bytes: &[u8]) -> bool {
        let decoded = decode_japanese(charset, bytes);
        let mut pushed = String::from("前");
        let was_pushed = push_japanese(charset, bytes, &mut pushed);
        assert_eq!(was_pushed, decoded.is_some(), "{charset:?} {bytes:?}");
        assert_eq!(
            pushed,
            format!("前{}", decoded.as_deref().unwrap_or_default()),
            "{charset:?} {bytes:?}"
        );
        match decoded {
            Some(ours) => {
                let (theirs, _) = encoding(charset).decode_with_bom_removal(bytes);
                let sniffed = Encoding::for_bom(bytes).is_some();
                assert!(!sniffed, "took a BOM: {bytes:?}");
                assert_eq!(ours, theirs, "{charset:?} {bytes:?}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn zeroed_is_vec_of_zeros() {
        for n in [0, 1, 63, 64, 1024, 1025, 100_000] {
            assert_eq!(zeroed(n), vec![0u8; n]);
        }
    }

    #[test]
    fn every_shift_jis_pair_decodes_like_encoding_rs() {
        let mut fast = 0;
        for lead in 0..=255u8 {
            for trail in 0..=255u8 {
                fast += usize::from(check(Japanese::ShiftJis, &[lead, trail]));
                fast += usize::from(check(Japanese::ShiftJis, &[b'a', lead, trail, b'z']));
            }
        }
        // All mapped pairs (7,915 JIS X 0208 and extensions, 1,880
        // user-defined, 63 half-width pairs...) take the fast path.
        assert!(fast > 2 * 9_000, "{fast}");
    }

    #[test]
    fn every_euc_jp_pair_decodes_like_encoding_rs() {
        let mut fast = 0;
        for lead in 0..=255u8 {
            for trail in 0..=255u8 {
                fast += usize::from(check(Japanese::EucJp, &[lead, trail]));
                fast += usize::from(check(Japanese::EucJp, &[b'a', lead, trail, b'\n']));
            }
        }
        assert!(fast > 2 * 7_000, "{fast}");
    }

    #[test]
    fn every_iso_2022_jp_pair_decodes_like_encoding_rs() {
        let mut fast = 0;
        for lead in 0..=255u8 {
            for trail in 0..=255u8 {
                for raw in [
                    vec![0x1B, b'$', b'B', lead, trail, 0x1B, b'(', b'B'],
                    vec![b'x', 0x1B, b'$', b'@', lead, trail],
                    vec![lead, trail],
                ] {
                    fast += usize::from(check(Japanese::Iso2022Jp, &raw));
                }
            }
        }
        assert!(fast > 2 * 6_800, "{fast}");
    }

    /// Every byte pair next to a mapped character, before and after it and
    /// twice in a row (the two-characters-at-a-time loops then see it in
    /// either place): decoded as encoding_rs decodes it whenever it is
    /// decoded here, and on the fast path whenever the pair alone is and
    /// is one double-byte character (so that the context cannot pair its
    /// bytes differently).
    #[test]
    fn every_pair_beside_another_character_decodes_like_encoding_rs() {
        for (charset, kanji) in [
            (Japanese::ShiftJis, [0x8A, 0xBF]),
            (Japanese::EucJp, [0xB4, 0xC1]),
            (Japanese::Iso2022Jp, [0x34, 0x41]),
        ] {
            let framed = |body: &[u8]| -> Vec<u8> {
                if charset == Japanese::Iso2022Jp {
                    [&[0x1B, b'$', b'B'][..], body, &[0x1B, b'(', b'B']].concat()
                } else {
                    body.to_vec()
                }
            };
            for lead in 0..=255u8 {
                for trail in 0..=255u8 {
                    let pair = [lead, trail];
                    let double_byte = match charset {
                        Japanese::ShiftJis => SJIS_LEAD[usize::from(lead)] < SJIS_HALF_WIDTH,
                        Japanese::EucJp => (0xA1..=0xFE).contains(&lead),
                        Japanese::Iso2022Jp => {
                            [lead, trail].iter().all(|b| (0x21..=0x7E).contains(b))
                        }
                    };
                    let alone = check(charset, &framed(&pair)) && double_byte;
                    for body in [
                        [kanji, pair].concat(),
                        [pair, kanji].concat(),
                        [pair, pair].concat(),
                        [kanji, pair, kanji].concat(),
                    ] {
                        let fast = check(charset, &framed(&body));
                        assert!(fast || !alone, "{charset:?} {body:x?}");
                    }
                }
            }
        }
    }

    /// The labels mail-parser maps to each charset, in any case, are ours;
    /// a few it maps elsewhere (or not at all) are not.
    #[test]
    fn labels_are_mail_parsers() {
        let sample = "お知らせ: ｶﾀｶﾅ 漢字 ①".to_owned();
        for (labels, charset) in [
            (
                &["ISO-2022-JP", "csISO2022JP", "iso_2022_jp"][..],
                Japanese::Iso2022Jp,
            ),
            (
                &[
                    "Shift_JIS",
                    "SJIS",
                    "x-sjis",
                    "MS_Kanji",
                    "ms932",
                    "Windows-31J",
                    "csShiftJIS",
                ][..],
                Japanese::ShiftJis,
            ),
            (
                &[
                    "EUC-JP",
                    "x-euc-jp",
                    "csEUCPkdFmtJapanese",
                    "Extended_UNIX_Code_Packed_Format_for_Japanese",
                ][..],
                Japanese::EucJp,
            ),
        ] {
            let (bytes, _, _) = encoding(charset).encode(&sample);
            let expected = encoding(charset).decode(&bytes).0;
            for label in labels {
                assert_eq!(japanese_charset(label.as_bytes()), Some(charset), "{label}");
                assert_eq!(mail_parser_decode(label, &bytes), expected, "{label}");
            }
        }
        for label in [
            "utf-8",
            "iso-2022-jp-2",
            "shift-jis2",
            "euc-kr",
            "",
            "cp932",
        ] {
            assert_eq!(japanese_charset(label.as_bytes()), None, "{label}");
        }
    }

    /// Real text in each charset takes the fast path.
    #[test]
    fn typical_text_takes_the_fast_path() {
        let text = "件名: 社内報 １２月号\n配信のお知らせ。\r\nTotal: 1,000円 ①②";
        for (charset, _) in CHARSETS {
            let (bytes, _, _) = encoding(charset).encode(text);
            assert_eq!(
                decode_japanese(charset, &bytes).as_deref(),
                Some(text),
                "{charset:?}"
            );
        }
        // Half-width katakana (which ISO-2022-JP writes as full-width).
        for charset in [Japanese::ShiftJis, Japanese::EucJp] {
            let (bytes, _, _) = encoding(charset).encode("ｶﾀｶﾅ｡");
            assert_eq!(
                decode_japanese(charset, &bytes).as_deref(),
                Some("ｶﾀｶﾅ｡"),
                "{charset:?}"
            );
        }
    }

    #[test]
    fn unusual_input_is_left_to_encoding_rs() {
        let cases: &[(Japanese, &[u8])] = &[
            (Japanese::ShiftJis, b"\xef\xbb\xbfabc"),
            (Japanese::ShiftJis, b"\x82"),
            (Japanese::ShiftJis, b"\x82\x20"),
            (Japanese::ShiftJis, b"\x80"),
            (Japanese::EucJp, b"\x8f\xa1\xa1"),
            (Japanese::EucJp, b"\xa4"),
            (Japanese::Iso2022Jp, b"\x1b$B\x1b(B"),
            (Japanese::Iso2022Jp, b"\x1b(Jabc"),
            (Japanese::Iso2022Jp, b"\x1b$B$\"\r\n"),
            (Japanese::Iso2022Jp, b"\x1b$B$\"\n\x1b(B"),
            (Japanese::Iso2022Jp, b"\x1b$B$"),
            (Japanese::Iso2022Jp, b"a\x0eb"),
        ];
        for (charset, raw) in cases {
            assert_eq!(decode_japanese(*charset, raw), None, "{charset:?} {raw:?}");
        }
    }

    proptest::proptest! {
        /// Random text, mostly made of the bytes that matter to each
        /// charset: the fast decoders, when they answer, answer as
        /// mail-parser's decoders do.
        #[test]
        fn japanese_decoders_agree_with_mail_parser(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => proptest::sample::select(vec![
                        0x1B, b'$', b'(', b'B', b'@', b'J', b'\n', b'\r', b'a', 0x21, 0x30, 0x7E,
                        0x81, 0x82, 0xA0, 0xA1, 0xA4, 0xDF, 0xE0, 0xEF, 0x8E, 0x8F, 0xFC, 0xFE,
                    ]),
                    1 => proptest::num::u8::ANY,
                ],
                0..60,
            ),
        ) {
            for (charset, label) in CHARSETS {
                if let Some(ours) = decode_japanese(charset, &raw) {
                    proptest::prop_assert_eq!(ours, mail_parser_decode(label, &raw));
                }
            }
        }

        /// Well-formed text — ASCII runs, JIS X 0208 runs and half-width
        /// katakana, in any order and length, so that the run loops stop
        /// at every kind of boundary (and ISO-2022-JP switches modes at
        /// each) — always takes the fast path, and decodes as encoding_rs
        /// does.
        #[test]
        fn well_formed_text_always_takes_the_fast_path(
            text in proptest::collection::vec(
                proptest::sample::select(vec!['a', 'Z', '1', ' ', '\n', '\r', 'ア', 'ｱ', '漢', '字', 'あ', '。', '１', '①']),
                0..80,
            ),
        ) {
            let text: String = text.into_iter().collect();
            for (charset, label) in CHARSETS {
                let (bytes, _, unmappable) = encoding(charset).encode(&text);
                proptest::prop_assert!(!unmappable);
                let ours = decode_japanese(charset, &bytes);
                proptest::prop_assert_eq!(ours, Some(mail_parser_decode(label, &bytes)), "{:?}", charset);
            }
        }

        /// Text encoded by encoding_rs decodes on the fast path (when it
        /// has no character the fast path leaves alone) to the same text.
        #[test]
        fn encoded_text_round_trips(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec!['a', '\n', ' ', '1', 'ア', 'ｱ', '漢', '〜', '①', '髙', '€']),
                    proptest::char::range('\u{3000}', '\u{9FFF}'),
                ],
                0..40,
            ),
        ) {
            let text: String = text.into_iter().collect();
            for (charset, label) in CHARSETS {
                let (bytes, _, _) = encoding(charset).encode(&text);
                if let Some(ours) = decode_japanese(charset, &bytes) {
                    proptest::prop_assert_eq!(ours, mail_parser_decode(label, &bytes));
                }
            }
        }
    }
}
