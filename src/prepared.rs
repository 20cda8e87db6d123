//! The part of building an engine that depends only on the rule pack.
//!
//! Normalizing every phrase and regex source, working out where each regex
//! can start and which literals it cannot match without, and building the
//! phrase automaton used to be most of the start-up of a one-message check.
//! None of it depends on the input, so for the built-in pack `build.rs` runs
//! [`prepare`] when sagiscan is compiled and embeds the result (see
//! `src/builtin.rs`); packs loaded from disk are prepared at run time by the
//! same code. `build.rs` includes this file with `#[path]`, so it may only use
//! `crate::normalize` and `crate::patterns`.

use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder, MatchKind};
use serde::{Deserialize, Serialize};

use crate::normalize;
use crate::patterns::{RulePack, Signal};

/// What the phrase automaton reports a pattern for: one pattern string can
/// serve several purposes at once (a rule's literal is often also the prefix
/// of another rule's regex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// The pattern is a literal of this rule: a hit.
    Literal(u32),
    /// Every match of this regex (index into [`Prepared::regexes`]) starts
    /// with one of its trigger patterns: search it, anchored, here.
    Trigger(u32),
    /// The regex cannot match without one literal of its required group
    /// number `.1` (a bit of [`PreparedRegex::required_mask`]).
    Required(u32, u8),
    /// The pattern is a name of this brand (index into the pack's brands).
    /// Brand names used to have their own leftmost-longest automaton, a
    /// second pass over the text that cost more than this one; the engine
    /// picks the leftmost-longest names from these overlapping matches.
    Brand(u32),
}

/// A rule regex with what is known about it before any text is seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedRegex {
    /// Index of the rule in the pack.
    pub rule: usize,
    /// The regex source, normalized like the text it runs on.
    pub source: String,
    /// Every match starts with one of its trigger patterns, so it is only
    /// ever searched anchored at a trigger (otherwise it is searched whole).
    pub anchored_only: bool,
    /// One bit per required literal group; the regex is only searched when
    /// the text has a literal of every group.
    pub required_mask: u64,
    /// The longest match in bytes, when bounded. A regex searched whole
    /// that has a required literal group and a bounded length is only
    /// searched in the windows around its required literals (see
    /// `Engine::scan_phrases`).
    pub max_len: Option<usize>,
}

/// Everything the engine derives from a pack before seeing any text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    /// For phrase `i`, its actions are `actions[action_start[i]..action_start[i + 1]]`.
    pub action_start: Vec<u32>,
    /// The actions of all phrases, flattened.
    pub actions: Vec<Action>,
    /// Rule regexes, in rule order.
    pub regexes: Vec<PreparedRegex>,
    /// Regexes without a usable prefix, searched whole (indexes into `regexes`).
    pub screened: Vec<u32>,
    /// For rules with a From signal: rule index and normalized literals.
    pub from_literals: Vec<(usize, Vec<String>)>,
    /// Every code point where a character of an anchored regex's literals
    /// or a bound of its classes begins or ends, sorted, starting with 0:
    /// the intervals between them are the characters that no anchored
    /// regex tells apart, the alphabet of the engine's character DFAs.
    pub char_boundaries: Vec<u32>,
}

/// Shortest trigger or required literal, in bytes: anything shorter (a digit,
/// "%") would occur almost everywhere. One Japanese character is 3 bytes.
const MIN_LITERAL_BYTES: usize = 3;

/// Derive everything in [`Prepared`] from `pack`, and the phrase
/// automaton's patterns (normalized literals, regex trigger prefixes and
/// required literals, brand names, each once, in value order: see
/// [`phrase_automaton`]).
/// Regexes that do not parse are kept (the loader rejects them for untrusted
/// packs) and never match.
pub fn prepare(pack: &RulePack) -> (Prepared, Vec<String>) {
    let mut phrases = PhraseTable::default();
    let mut regexes = Vec::new();
    let mut screened = Vec::new();
    let mut from_literals = Vec::new();
    let mut char_boundaries = vec![0];
    for (ri, rule) in pack.rules.iter().enumerate() {
        if rule.signal == Some(Signal::FromImpersonation) {
            from_literals.push((
                ri,
                rule.literals
                    .iter()
                    .map(|l| normalize::normalize_literal(l))
                    .collect(),
            ));
            continue;
        }
        if rule.signal.is_some() {
            continue;
        }
        for lit in &rule.literals {
            let norm = normalize::normalize_literal(lit);
            if !norm.is_empty() {
                phrases.add(norm, Action::Literal(ri as u32));
            }
        }
        for source in &rule.regexes {
            let norm = normalize::normalize_regex_source(source);
            let hir = regex_syntax::ParserBuilder::new().build().parse(&norm).ok();
            let index = regexes.len() as u32;
            let mut anchored_only = false;
            let mut required_mask = 0u64;
            let max_len = hir.as_ref().and_then(|h| h.properties().maximum_len());
            if let Some(hir) = &hir {
                match required_prefixes(hir) {
                    Some(prefixes) => {
                        anchored_only = true;
                        push_char_boundaries(hir, &mut char_boundaries);
                        for p in prefixes {
                            phrases.add(p, Action::Trigger(index));
                        }
                    }
                    None => screened.push(index),
                }
                let groups = useful_groups(required_groups(hir), anchored_only);
                for (g, group) in groups.into_iter().take(64).enumerate() {
                    required_mask |= 1u64 << g;
                    for lit in group {
                        phrases.add(lit, Action::Required(index, g as u8));
                    }
                }
            } else {
                screened.push(index);
            }
            regexes.push(PreparedRegex {
                rule: ri,
                source: norm,
                anchored_only,
                required_mask,
                max_len,
            });
        }
    }
    // A name shared by two brands is the first one's.
    let mut brand_names: Vec<String> = Vec::new();
    for (bi, brand) in pack.brands.iter().enumerate() {
        for name in &brand.names {
            let norm = normalize::normalize_literal(name);
            if !norm.is_empty() && !brand_names.contains(&norm) {
                brand_names.push(norm.clone());
                phrases.add(norm, Action::Brand(bi as u32));
            }
        }
    }
    let (phrases, action_start, actions) = phrases.finish();
    finish_char_boundaries(&mut char_boundaries);
    let prepared = Prepared {
        action_start,
        actions,
        regexes,
        screened,
        from_literals,
        char_boundaries,
    };
    (prepared, phrases)
}

/// Push where each literal character and class range of `hir` begins and
/// ends (one past its last code point). Byte classes count only for their
/// ASCII part: a regex with other bytes is not searched by characters.
pub fn push_char_boundaries(hir: &regex_syntax::hir::Hir, out: &mut Vec<u32>) {
    use regex_syntax::hir::{Class, HirKind};
    let mut range = |start: u32, end: u32| out.extend([start, end + 1]);
    match hir.kind() {
        HirKind::Literal(literal) => {
            for c in String::from_utf8_lossy(&literal.0).chars() {
                range(u32::from(c), u32::from(c));
            }
        }
        HirKind::Class(Class::Unicode(class)) => {
            for r in class.iter() {
                range(u32::from(r.start()), u32::from(r.end()));
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            for r in class.iter().filter(|r| r.end() < 0x80) {
                range(u32::from(r.start()), u32::from(r.end()));
            }
        }
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Repetition(repetition) => push_char_boundaries(&repetition.sub, out),
        HirKind::Capture(capture) => push_char_boundaries(&capture.sub, out),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            for sub in subs {
                push_char_boundaries(sub, out);
            }
        }
    }
}

/// Sort what [`push_char_boundaries`] pushed, without repeats and without
/// the end past `char::MAX`: [`Prepared::char_boundaries`].
pub fn finish_char_boundaries(boundaries: &mut Vec<u32>) {
    boundaries.sort_unstable();
    boundaries.dedup();
    boundaries.retain(|&b| b <= u32::from(char::MAX));
}

/// Unique phrase strings with their actions, in first-seen order.
#[derive(Default)]
struct PhraseTable {
    index: std::collections::HashMap<String, usize>,
    actions: Vec<Vec<Action>>,
    phrases: Vec<String>,
}

impl PhraseTable {
    fn add(&mut self, phrase: String, action: Action) {
        let i = *self.index.entry(phrase.clone()).or_insert_with(|| {
            self.phrases.push(phrase);
            self.actions.push(Vec::new());
            self.phrases.len() - 1
        });
        if !self.actions[i].contains(&action) {
            self.actions[i].push(action);
        }
    }

    fn finish(self) -> (Vec<String>, Vec<u32>, Vec<Action>) {
        let mut start = Vec::with_capacity(self.actions.len() + 1);
        let mut flat = Vec::new();
        for a in self.actions {
            start.push(flat.len() as u32);
            flat.extend(a);
        }
        start.push(flat.len() as u32);
        (self.phrases, start, flat)
    }
}

impl Prepared {
    /// The actions of phrase `value` (an automaton match value).
    pub fn actions_of(&self, value: u32) -> &[Action] {
        let v = value as usize;
        &self.actions[self.action_start[v] as usize..self.action_start[v + 1] as usize]
    }
}

/// Build the phrase automaton over the phrases [`prepare`] returned: every
/// occurrence (overlapping) of every phrase, the value being the phrase
/// index. `None` without phrases.
pub fn phrase_automaton(phrases: &[String]) -> Result<Option<PhraseAutomaton>, String> {
    if phrases.is_empty() {
        return Ok(None);
    }
    CharwiseDoubleArrayAhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .build_with_values(phrases.iter().enumerate().map(|(i, p)| (p, i as u32)))
        .map(Some)
        .map_err(|e| e.to_string())
}

/// A double-array Aho-Corasick automaton over characters, chosen for
/// Japanese text: matching is faster than a byte automaton on multibyte
/// text, and it serializes, so the built-in one is built at compile time.
pub type PhraseAutomaton = CharwiseDoubleArrayAhoCorasick<u32>;

/// The phrase automaton, preceded by a byte saying whether it exists, in
/// daachorse's (little-endian) serialization.
pub fn serialize_automaton(phrases: Option<&PhraseAutomaton>) -> Vec<u8> {
    match phrases {
        None => vec![0],
        Some(a) => {
            let mut out = vec![1];
            out.extend(a.serialize());
            out
        }
    }
}

/// Read what [`serialize_automaton`] wrote; `None` if `bytes` are not that.
pub fn deserialize_automaton(bytes: &[u8]) -> Option<Option<PhraseAutomaton>> {
    read_automaton(bytes, |rest| PhraseAutomaton::deserialize(rest).ok())
}

/// [`deserialize_automaton`] without daachorse's validation of the states.
///
/// # Safety
///
/// `bytes` must be what [`serialize_automaton`] wrote, with the same
/// daachorse version.
pub unsafe fn deserialize_automaton_unchecked(bytes: &[u8]) -> Option<Option<PhraseAutomaton>> {
    // SAFETY: the caller vouches for `bytes` (see above).
    read_automaton(bytes, |rest| {
        Some(unsafe { PhraseAutomaton::deserialize_unchecked(rest) })
    })
}

/// The flag byte of [`serialize_automaton`], then the automaton read by
/// `read`, which must use up the rest.
fn read_automaton<'b>(
    bytes: &'b [u8],
    read: impl FnOnce(&'b [u8]) -> Option<(PhraseAutomaton, &'b [u8])>,
) -> Option<Option<PhraseAutomaton>> {
    let (&flag, rest) = bytes.split_first()?;
    match flag {
        0 => rest.is_empty().then_some(None),
        1 => {
            let (automaton, rest) = read(rest)?;
            rest.is_empty().then_some(Some(automaton))
        }
        _ => None,
    }
}

/// The longest prefix of `bytes` that is whole UTF-8 characters.
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        // Safe slice: `valid_up_to` is a char boundary of valid UTF-8.
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// The literals every match of `hir` must start with, when there are few
/// enough (and none too short) to use as triggers; `None` when the regex can
/// start anywhere (`.{0,20}x`) or with too many different strings. Prefixes
/// are cut to whole characters (a shorter prefix is still a prefix).
fn required_prefixes(hir: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_literal_len(9)
        .limit_total(512);
    let seq = extractor.extract(hir);
    let literals = seq.literals()?;
    let mut out: Vec<String> = Vec::new();
    for l in literals {
        let p = utf8_prefix(l.as_bytes());
        // A prefix shorter than one Japanese character (a digit, "pc") would
        // wake the regex at nearly every position; such regexes are searched whole.
        if p.len() < MIN_LITERAL_BYTES {
            return None;
        }
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    // Counted after cutting to whole characters: the extractor's cut
    // literals repeat (`確認ガ` once per way the regex goes on), and
    // counting them before made regexes with a dozen different prefixes
    // look unusable.
    if out.is_empty() || out.len() > 128 {
        return None;
    }
    Some(out)
}

/// The required literal groups worth looking for. A group with a
/// one-character literal (`ハ`, `ノ`, `日`) is in nearly every text, so it
/// hardly ever rules a regex out, and its matches were most of the phrase
/// automaton's work (1.3 actions per byte of text); so is a group with a
/// two-kana literal (`シテ`, `マス`: dropping those too saved 0.6% on the
/// 10 MB bench mbox, while dropping three-kana ones cost more searches than
/// it saved). A regex searched only at its triggers drops such groups; a
/// regex searched whole keeps them when it has no other group, because its
/// windows (see `Engine::scan_phrases`) are found from the occurrences of a
/// required group. Dropping a group never changes a match, only how often a
/// regex is tried.
fn useful_groups(groups: Vec<Vec<String>>, anchored_only: bool) -> Vec<Vec<String>> {
    let useful = |g: &Vec<String>| !g.iter().any(|l| is_common_literal(l));
    if !anchored_only && !groups.iter().any(useful) {
        return groups;
    }
    groups.into_iter().filter(useful).collect()
}

/// A literal found in nearly every text: one character, or two kana (see
/// [`useful_groups`]).
fn is_common_literal(l: &str) -> bool {
    let kana = |c: char| matches!(c, '\u{3040}'..='\u{30FF}');
    let mut chars = l.chars();
    let first = chars.next();
    match (chars.next(), chars.next()) {
        (None, _) => true,
        (Some(second), None) => first.is_some_and(kana) && kana(second),
        _ => false,
    }
}

/// The groups of literals a match of `hir` must contain: for each top-level
/// piece of the regex that is not optional, the literals every match of the
/// piece starts with (its literals, for a literal or an alternation of
/// literals); and the literals every match of the whole regex ends with. A
/// text without one literal of every group cannot match, so the regex need
/// not be searched. Groups with a literal shorter than [`MIN_LITERAL_BYTES`]
/// (after cutting to whole characters), with more than
/// [`MAX_DERIVED_GROUP`] literals, or that repeat another group are left out.
///
/// The pieces' prefixes and the suffixes come from the same literal
/// extractor the regex crate builds its prefilters from: a finite sequence
/// means every match starts (ends) with one of its literals. They rule out
/// regexes whose literal alternatives nest (`送(ッテ|信)`), and give a regex
/// with no usable prefix a rarer group to search around than a one-character
/// particle (`(ハ|ガ)[0-9]{1,2}日` ends with `ハ1日` or the like, not just `日`).
fn required_groups(hir: &regex_syntax::hir::Hir) -> Vec<Vec<String>> {
    use regex_syntax::hir::HirKind;
    use regex_syntax::hir::literal::ExtractKind;
    fn literals(h: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
        match h.kind() {
            HirKind::Literal(l) => Some(vec![std::str::from_utf8(&l.0).ok()?.to_string()]),
            HirKind::Capture(c) => literals(&c.sub),
            HirKind::Alternation(alts) => {
                let mut out = Vec::new();
                for a in alts {
                    out.extend(literals(a)?);
                }
                Some(out)
            }
            _ => None,
        }
    }
    let long_enough =
        |g: &Vec<String>| !g.is_empty() && g.iter().all(|l| l.len() >= MIN_LITERAL_BYTES);
    let pieces: Vec<&regex_syntax::hir::Hir> = match hir.kind() {
        HirKind::Concat(items) => items.iter().collect(),
        _ => vec![hir],
    };
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut add = |mut group: Vec<String>| {
        group.sort_unstable();
        if !groups.contains(&group) {
            groups.push(group);
        }
    };
    for piece in pieces {
        if let Some(group) = literals(piece)
            .filter(long_enough)
            .or_else(|| extracted_group(piece, ExtractKind::Prefix))
        {
            add(group);
        }
    }
    if let Some(group) = extracted_group(hir, ExtractKind::Suffix) {
        add(group);
    }
    groups
}

/// Most literals in a group found by the literal extractor (see
/// [`required_groups`]): each is a phrase of the automaton.
const MAX_DERIVED_GROUP: usize = 256;

/// The literals every match of `hir` starts with (`Prefix`) or ends with
/// (`Suffix`), cut to whole characters, without repeats; `None` when they
/// are not a finite set, any is shorter than [`MIN_LITERAL_BYTES`], or
/// there are more than [`MAX_DERIVED_GROUP`].
fn extracted_group(
    hir: &regex_syntax::hir::Hir,
    kind: regex_syntax::hir::literal::ExtractKind,
) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut extractor = Extractor::new();
    extractor
        .kind(kind.clone())
        .limit_literal_len(18)
        .limit_total(2 * MAX_DERIVED_GROUP);
    let seq = extractor.extract(hir);
    let mut out: Vec<String> = Vec::new();
    for l in seq.literals()? {
        let whole = match kind {
            ExtractKind::Suffix => utf8_suffix(l.as_bytes())?,
            _ => utf8_prefix(l.as_bytes()),
        };
        if whole.len() < MIN_LITERAL_BYTES {
            return None;
        }
        if !out.iter().any(|o| o == whole) {
            out.push(whole.to_string());
        }
    }
    (!out.is_empty() && out.len() <= MAX_DERIVED_GROUP).then_some(out)
}

/// The longest suffix of `bytes` that starts at a character boundary, if
/// the rest is valid UTF-8 (a suffix literal ends where a match ends, on a
/// boundary; only its start can be cut inside a character).
fn utf8_suffix(bytes: &[u8]) -> Option<&str> {
    let start = bytes
        .iter()
        .position(|&b| b & 0xC0 != 0x80)
        .unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[start..]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(gs: &[&[&str]]) -> Vec<Vec<String>> {
        gs.iter()
            .map(|g| g.iter().map(|l| l.to_string()).collect())
            .collect()
    }

    #[test]
    fn common_literal_groups_are_dropped_unless_a_whole_text_regex_needs_one() {
        let all = groups(&[
            &["ハ", "ガ"],
            &["シテ", "詐欺"],
            &["感染", "ウイルス"],
            &["日"],
        ]);
        assert_eq!(
            useful_groups(all.clone(), true),
            groups(&[&["感染", "ウイルス"]])
        );
        assert_eq!(useful_groups(all, false), groups(&[&["感染", "ウイルス"]]));
        let only_common = groups(&[&["ハ", "ガ"], &["日"]]);
        assert!(useful_groups(only_common.clone(), true).is_empty());
        assert_eq!(useful_groups(only_common.clone(), false), only_common);
    }

    fn parse(source: &str) -> regex_syntax::hir::Hir {
        regex_syntax::Parser::new().parse(source).unwrap()
    }

    #[test]
    fn a_regex_ending_in_particle_digits_and_a_kanji_gets_its_suffixes() {
        // No usable prefix, and its literal pieces are a particle and one
        // kanji (in nearly every text): the suffixes (a digit and 日 at
        // least) are rarer.
        let groups = required_groups(&parse("(県警|府警|[^\\s]{1,6}署)(ハ|ガ)[0-9]{1,2}日"));
        assert!(groups.contains(&vec!["ガ".to_string(), "ハ".to_string()]));
        assert!(groups.contains(&vec!["日".to_string()]));
        let suffixes = groups
            .iter()
            .find(|g| g.iter().any(|l| l.ends_with("1日")))
            .expect("a suffix group");
        assert!(
            suffixes
                .iter()
                .all(|l| l.ends_with('日') && l.len() >= MIN_LITERAL_BYTES)
        );
        assert_eq!(useful_groups(groups.clone(), false), vec![suffixes.clone()]);
    }

    #[test]
    fn nested_alternatives_give_a_group_and_optional_pieces_none() {
        let groups = required_groups(&parse("(カード|ギフト).{0,20}(教エ|送(ッテ|信))(ヲ)?"));
        assert!(groups.contains(&vec!["カード".to_string(), "ギフト".to_string()]));
        // The nested alternation, by its prefixes.
        assert!(groups.contains(&vec![
            "教エ".to_string(),
            "送ッテ".to_string(),
            "送信".to_string(),
        ]));
        // The suffixes: with or without the optional ヲ.
        let suffixes = groups
            .iter()
            .find(|g| g.iter().any(|l| l == "送信ヲ"))
            .expect("a suffix group");
        assert!(suffixes.iter().any(|l| l == "教エ"));
        assert!(!groups.iter().flatten().any(|l| l.len() < MIN_LITERAL_BYTES));
        // A piece that can be empty or is not a finite set of literals
        // gives no group; a digit is too short.
        assert!(required_groups(&parse("(ヲ)?.{0,5}[0-9]+")).is_empty());
    }

    #[test]
    fn suffixes_are_cut_to_whole_characters() {
        assert_eq!(utf8_suffix(&"日本".as_bytes()[1..]), Some("本"));
        assert_eq!(utf8_suffix(&"日本".as_bytes()[3..]), Some("本"));
        assert_eq!(utf8_suffix(b"\x97\xa5abc"), Some("abc"));
        assert_eq!(utf8_suffix(b"\xa5"), Some(""));
        assert_eq!(utf8_suffix(b"ab\xff"), None);
    }

    /// Every match of every built-in rule regex on the corpus contains a
    /// literal of each of its required groups (the extracted ones included):
    /// a group that is not required would make the engine skip a regex that
    /// matches.
    #[test]
    fn every_corpus_match_contains_a_literal_of_every_group() {
        let pack = crate::builtin::load_builtin().unwrap();
        let sources: Vec<String> = pack
            .rules
            .iter()
            .flat_map(|r| r.regexes.iter())
            .map(|s| normalize::normalize_regex_source(s))
            .collect();
        let regexes: Vec<(regex::Regex, Vec<Vec<String>>)> = sources
            .iter()
            .map(|s| (regex::Regex::new(s).unwrap(), required_groups(&parse(s))))
            .collect();
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let (mut files, mut checked) = (0, 0);
        for label in ["scam", "suspicious", "ham"] {
            for entry in std::fs::read_dir(corpus.join(label)).unwrap() {
                let raw = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                let normalized = normalize::normalize(&raw);
                for (regex, groups) in &regexes {
                    for m in regex.find_iter(normalized.text()) {
                        for group in groups {
                            assert!(
                                group.iter().any(|l| m.as_str().contains(l.as_str())),
                                "{:?} matched {:?} without any of {group:?}",
                                regex.as_str(),
                                m.as_str()
                            );
                            checked += 1;
                        }
                    }
                }
                files += 1;
            }
        }
        assert!(
            files > 500 && checked > 1000,
            "{files} files, {checked} checks"
        );
    }

    #[test]
    fn repeated_cut_prefixes_count_once() {
        // Dozens of ways to go on after each first word: the extractor's
        // literals, cut to 9 bytes, repeat; counted before dedup there were
        // more than 128 and the regex was searched whole.
        let hir = regex_syntax::Parser::new()
            .parse(concat!(
                "(確認|ゴ確認|手続キ|オ手続キ|更新|ゴ回答|回答|認証|再設定|再提出|同意)(ガ|ヲ)?",
                "(取レナイ|デキナイ|トレナイ|イタダケナイ|完了シナイ|サレナイ|ナイ|無イ)(場合|ト)",
            ))
            .unwrap();
        let mut extractor = regex_syntax::hir::literal::Extractor::new();
        extractor.limit_literal_len(9).limit_total(512);
        let extracted = extractor.extract(&hir).len().unwrap_or(0);
        assert!(extracted > 128, "premise: {extracted} cut literals");
        let prefixes = required_prefixes(&hir).expect("usable prefixes");
        assert!(prefixes.iter().all(|p| p.len() >= MIN_LITERAL_BYTES));
        assert!(prefixes.len() <= 128);
        assert!(prefixes.iter().any(|p| p.starts_with("確認")));
        // A digit can start a match: no usable prefix.
        let digits = regex_syntax::Parser::new().parse("[0-9]+万円").unwrap();
        assert!(required_prefixes(&digits).is_none());
    }
}
