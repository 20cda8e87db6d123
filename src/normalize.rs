//! Text normalization with an offset map (interim version; the full pipeline
//! lands from the `normalize` branch).

use std::ops::Range;

/// Result of normalizing one text.
pub struct Normalized {
    text: String,
    starts: Vec<u32>,
    ends: Vec<u32>,
}

impl Normalized {
    /// The normalized text.
    pub fn text(&self) -> &str {
        &self.text
    }
    /// Map a normalized byte range back to the original text.
    pub fn original_range(&self, normalized: Range<usize>) -> Range<usize> {
        if normalized.start >= normalized.end || normalized.start >= self.starts.len() {
            let p = self
                .starts
                .get(normalized.start)
                .copied()
                .unwrap_or(*self.ends.last().unwrap_or(&0));
            return p as usize..p as usize;
        }
        self.starts[normalized.start] as usize..self.ends[normalized.end - 1] as usize
    }
    /// Whether the range used an evasion trick.
    pub fn is_obfuscated(&self, _normalized: Range<usize>) -> bool {
        false
    }
}

fn fold(c: char) -> char {
    match c {
        '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c.to_ascii_lowercase(),
    }
}

/// Normalize `input`.
pub fn normalize(input: &str) -> Normalized {
    let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
    let mut text = String::with_capacity(input.len());
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let mut buf = [0u8; 4];
    for (i, c) in input.char_indices() {
        let end = (i + c.len_utf8()) as u32;
        let n = nfkc.normalize(c.encode_utf8(&mut buf));
        for nc in n.chars() {
            let nc = fold(nc);
            text.push(nc);
            for _ in 0..nc.len_utf8() {
                starts.push(i as u32);
                ends.push(end);
            }
        }
    }
    Normalized { text, starts, ends }
}

/// Same pipeline, text only.
pub fn normalize_literal(input: &str) -> String {
    normalize(input).text
}

/// Normalize a regex source.
pub fn normalize_regex_source(source: &str) -> String {
    source.to_string()
}
