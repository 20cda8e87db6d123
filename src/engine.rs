//! The engine: a rule pack compiled once into immutable matchers.
//!
//! Every literal of every rule goes into one Aho-Corasick automaton. Regexes
//! are not all run over every text: a second automaton over the literals each
//! regex must start with finds where it can start, a third over the literal
//! groups it must contain says whether it can match at all, and only then is
//! it compiled (once, lazily) and searched, anchored at those starts. Entity
//! signals (links, phones, amounts, sender) are evaluated
//! from the extracted entities. The engine is `Send + Sync`: build it once and
//! share it across threads.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};
use serde::Serialize;

use crate::entities::{self, Entities};
use crate::message::{Message, PartKind};
use crate::normalize::{self, Normalized};
use crate::patterns::{RulePack, Signal, Target, limits};
use crate::score::{self, Analysis};

/// Most hits kept for one rule in one part (enough to highlight every place a
/// phrase appears without letting a 20 MB repetition balloon the report).
const MAX_HITS_PER_RULE_PART: usize = 32;

/// Errors building an engine from a pack that loaded.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A literal set too large for the automaton.
    #[error("cannot build the literal automaton: {0}")]
    Automaton(String),
    /// A regex (already validated alone) failed as part of the set or exceeded limits.
    #[error("cannot compile regex of rule {rule}: {message}")]
    Regex {
        /// Rule id.
        rule: String,
        /// Compiler message.
        message: String,
    },
}

/// One place a rule matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Index of the rule in the pack.
    #[serde(skip)]
    pub rule_index: usize,
    /// The hit's byte range in the part's normalized text (empty for entity signals).
    #[serde(skip)]
    pub normalized: Range<usize>,
    /// Rule id.
    pub rule: String,
    /// Category id.
    pub category: String,
    /// Rule weight.
    pub weight: f64,
    /// The part the hit is in.
    pub part: PartKind,
    /// The original text of the hit (`part[start..end]`).
    pub text: String,
    /// Byte offset into the part's original text.
    pub start: usize,
    /// End byte offset.
    pub end: usize,
}

/// A rule regex, compiled on first use: most regexes are never woken by a
/// given run (one SMS touches a few dozen), so compiling all of them up front
/// was a third of start-up.
struct CompiledRegex {
    rule: usize,
    /// The parsed regex (`None` if it does not parse, which the loader
    /// rules out for untrusted packs and tests rule out for the built-in one).
    hir: Option<regex_syntax::hir::Hir>,
    /// Only ever searched anchored at a trigger position: a prefilter would
    /// never be used, and building one (Teddy) is a fifth of the compile.
    anchored_only: bool,
    regex: OnceLock<Option<Regex>>,
}

impl CompiledRegex {
    /// The compiled regex, built on first use (an SMS wakes a few dozen of
    /// the pack's regexes; building all of them was most of start-up).
    /// `None` only if it fails to compile, which the loader rules out for
    /// untrusted packs and a test rules out for the built-in one.
    fn get(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| {
                Regex::builder()
                    .configure(
                        Regex::config()
                            .nfa_size_limit(Some(limits::REGEX_SIZE_LIMIT))
                            .onepass(false)
                            .backtrack(false)
                            .auto_prefilter(!self.anchored_only)
                            .hybrid_cache_capacity(256 * 1024)
                            // Only the match span is used, never groups (the
                            // implicit group 0 is what reports the span).
                            .which_captures(regex_automata::nfa::thompson::WhichCaptures::Implicit),
                    )
                    .build_from_hir(self.hir.as_ref()?)
                    .ok()
            })
            .as_ref()
    }
}

/// A compiled, immutable rule pack.
pub struct Engine {
    pack: RulePack,
    literals: Option<AhoCorasick>,
    /// For each automaton pattern, the rules that use that literal.
    literal_rules: Vec<Vec<usize>>,
    /// Regexes whose every match starts with one of a few literals: one
    /// automaton over all those prefixes says which of them can match at all.
    regex_triggers: Option<AhoCorasick>,
    /// For each trigger pattern, the regexes (indexes into `regexes`) it wakes.
    trigger_regexes: Vec<Vec<usize>>,
    /// Literals of the alternation groups a regex cannot match without (every
    /// match contains one literal of each group): a second filter, so a regex
    /// whose prefix occurs is still not searched unless all its groups do.
    required_literals: Option<AhoCorasick>,
    /// For each required-literal pattern: (regex index, group bit).
    required_of: Vec<Vec<(usize, u64)>>,
    /// For each regex, the bits of all its required groups (0: none).
    required_mask: Vec<u64>,
    /// The other regexes (no usable prefix), searched one by one.
    screened: Vec<usize>,
    regexes: Vec<CompiledRegex>,
    brand_names: Option<AhoCorasick>,
    /// For each brand-name pattern, the brand index.
    brand_of_name: Vec<usize>,
    /// For rules with a From signal: normalized literal list.
    from_literals: HashMap<usize, Vec<String>>,
}

/// Per-part scan state kept while a message is scanned.
struct ScannedPart<'m> {
    kind: PartKind,
    original: &'m str,
    normalized: Normalized,
}

impl Engine {
    /// Compile `pack`. This is the one expensive step; the result is immutable.
    pub fn build(pack: RulePack) -> Result<Engine, BuildError> {
        let mut literal_index: HashMap<String, usize> = HashMap::new();
        let mut literal_patterns: Vec<String> = Vec::new();
        let mut literal_rules: Vec<Vec<usize>> = Vec::new();
        let mut regexes = Vec::new();
        let mut from_literals = HashMap::new();
        for (ri, rule) in pack.rules.iter().enumerate() {
            if rule.signal == Some(Signal::FromImpersonation) {
                from_literals.insert(
                    ri,
                    rule.literals
                        .iter()
                        .map(|l| normalize::normalize_literal(l))
                        .collect(),
                );
                continue;
            }
            if rule.signal.is_some() {
                continue;
            }
            for lit in &rule.literals {
                let norm = normalize::normalize_literal(lit);
                if norm.is_empty() {
                    continue;
                }
                let idx = *literal_index.entry(norm.clone()).or_insert_with(|| {
                    literal_patterns.push(norm);
                    literal_rules.push(Vec::new());
                    literal_patterns.len() - 1
                });
                if !literal_rules[idx].contains(&ri) {
                    literal_rules[idx].push(ri);
                }
            }
            for source in &rule.regexes {
                let norm = normalize::normalize_regex_source(source);
                let hir = regex_syntax::ParserBuilder::new().build().parse(&norm).ok();
                regexes.push(CompiledRegex {
                    rule: ri,
                    hir,
                    anchored_only: false,
                    regex: OnceLock::new(),
                });
            }
        }
        let literals = overlapping_automaton(&literal_patterns)?;
        // Regexes are not screened with a RegexSet: the lazy DFA of a set of
        // Japanese regexes with `.{0,20}` gaps blows up its state cache and
        // falls back to the PikeVM (0.3 MB/s on real mail). Instead, nearly
        // every rule regex starts with one of a few literals: one automaton
        // over all those prefixes finds where each regex can start, and the
        // regex is then only tried, anchored, at those positions.
        let mut trigger_index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut trigger_patterns: Vec<Vec<u8>> = Vec::new();
        let mut trigger_regexes: Vec<Vec<usize>> = Vec::new();
        let mut screened = Vec::new();
        for (i, compiled) in regexes.iter_mut().enumerate() {
            match compiled.hir.as_ref().and_then(required_prefixes) {
                Some(prefixes) => {
                    compiled.anchored_only = true;
                    for p in prefixes {
                        let t = *trigger_index.entry(p.clone()).or_insert_with(|| {
                            trigger_patterns.push(p);
                            trigger_regexes.push(Vec::new());
                            trigger_patterns.len() - 1
                        });
                        if !trigger_regexes[t].contains(&i) {
                            trigger_regexes[t].push(i);
                        }
                    }
                }
                None => screened.push(i),
            }
        }
        let mut required_index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut required_patterns: Vec<Vec<u8>> = Vec::new();
        let mut required_of: Vec<Vec<(usize, u64)>> = Vec::new();
        let mut required_mask = vec![0u64; regexes.len()];
        for (i, compiled) in regexes.iter().enumerate() {
            let Some(hir) = compiled.hir.as_ref() else {
                continue;
            };
            for (g, group) in required_groups(hir).into_iter().take(64).enumerate() {
                let bit = 1u64 << g;
                required_mask[i] |= bit;
                for lit in group {
                    let t = *required_index.entry(lit.clone()).or_insert_with(|| {
                        required_patterns.push(lit);
                        required_of.push(Vec::new());
                        required_patterns.len() - 1
                    });
                    required_of[t].push((i, bit));
                }
            }
        }
        let required_literals = overlapping_automaton(&required_patterns)?;
        let regex_triggers = overlapping_automaton(&trigger_patterns)?;
        let mut brand_patterns = Vec::new();
        let mut brand_of_name = Vec::new();
        for (bi, brand) in pack.brands.iter().enumerate() {
            for name in &brand.names {
                let norm = normalize::normalize_literal(name);
                if !norm.is_empty() {
                    brand_patterns.push(norm);
                    brand_of_name.push(bi);
                }
            }
        }
        let brand_names = if brand_patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&brand_patterns)
                    .map_err(|e| BuildError::Automaton(e.to_string()))?,
            )
        };
        Ok(Engine {
            pack,
            literals,
            literal_rules,
            regex_triggers,
            trigger_regexes,
            required_literals,
            required_of,
            required_mask,
            screened,
            regexes,
            brand_names,
            brand_of_name,
            from_literals,
        })
    }

    /// The pack this engine was built from.
    pub fn pack(&self) -> &RulePack {
        &self.pack
    }

    /// Scan and score a message.
    pub fn analyze(&self, message: &Message) -> Analysis {
        let (hits, entities) = self.scan(message);
        score::score(&self.pack, hits, entities)
    }

    /// Scan plain text (a shortcut for `analyze(&Message::plain(text))`).
    pub fn analyze_text(&self, text: &str) -> Analysis {
        self.analyze(&Message::plain(text))
    }

    /// Find every hit and entity of a message, unscored.
    pub fn scan(&self, message: &Message) -> (Vec<Hit>, Entities) {
        let parts: Vec<ScannedPart<'_>> = message
            .parts
            .iter()
            .map(|p| ScannedPart {
                kind: p.kind,
                original: &p.text,
                normalized: normalize::normalize(&p.text),
            })
            .collect();
        let mut hits = Vec::new();
        let mut entities = Entities::default();
        for part in &parts {
            if matches!(
                part.kind,
                PartKind::Body | PartKind::Subject | PartKind::Link
            ) {
                entities::extract(part.kind, part.original, &part.normalized, &mut entities);
            }
            self.scan_phrases(part, &mut hits);
        }
        self.scan_signals(message, &parts, &entities, &mut hits);
        (hits, entities)
    }

    fn target_accepts(target: Target, kind: PartKind) -> bool {
        match target {
            Target::Text => matches!(kind, PartKind::Body | PartKind::Subject),
            Target::Body => kind == PartKind::Body,
            Target::Subject => kind == PartKind::Subject,
            Target::From => kind == PartKind::From,
            Target::Link => kind == PartKind::Link,
            Target::Attachment => kind == PartKind::Attachment,
        }
    }

    fn hit(&self, rule: usize, part: &ScannedPart<'_>, normalized: Range<usize>) -> Hit {
        let o = part.normalized.original_range(normalized.clone());
        let r = &self.pack.rules[rule];
        Hit {
            rule_index: rule,
            normalized,
            rule: r.id.clone(),
            category: self.pack.categories[r.category].id.clone(),
            weight: r.weight,
            part: part.kind,
            text: part.original[o.clone()].to_string(),
            start: o.start,
            end: o.end,
        }
    }

    fn scan_phrases(&self, part: &ScannedPart<'_>, hits: &mut Vec<Hit>) {
        let text = part.normalized.text();
        let mut per_rule: HashMap<usize, usize> = HashMap::new();
        let mut push = |rule: usize, range: Range<usize>, hits: &mut Vec<Hit>| {
            if !Self::target_accepts(self.pack.rules[rule].target, part.kind) {
                return;
            }
            let n = per_rule.entry(rule).or_insert(0);
            if *n >= MAX_HITS_PER_RULE_PART {
                return;
            }
            *n += 1;
            hits.push(self.hit(rule, part, range));
        };
        if let Some(ac) = &self.literals {
            for m in ac.find_overlapping_iter(text) {
                for &rule in &self.literal_rules[m.pattern().as_usize()] {
                    push(rule, m.start()..m.end(), hits);
                }
            }
        }
        if self.regexes.is_empty() {
            return;
        }
        // Where each regex can start: every match of a triggered regex begins
        // with one of its prefix literals.
        let mut present = vec![0u64; self.regexes.len()];
        if let Some(ac) = &self.required_literals {
            for m in ac.find_overlapping_iter(text.as_bytes()) {
                for &(i, bit) in &self.required_of[m.pattern().as_usize()] {
                    present[i] |= bit;
                }
            }
        }
        let possible = |i: usize| present[i] & self.required_mask[i] == self.required_mask[i];
        let mut starts: Vec<(usize, usize)> = Vec::new();
        if let Some(ac) = &self.regex_triggers {
            for m in ac.find_overlapping_iter(text.as_bytes()) {
                for &i in &self.trigger_regexes[m.pattern().as_usize()] {
                    if possible(i) {
                        starts.push((i, m.start()));
                    }
                }
            }
        }
        starts.sort_unstable();
        starts.dedup();
        let mut k = 0;
        while k < starts.len() {
            let i = starts[k].0;
            let group_end = starts[k..]
                .iter()
                .position(|&(r, _)| r != i)
                .map_or(starts.len(), |n| k + n);
            if let Some(regex) = self.regexes[i].get() {
                // Anchored search at each candidate start, left to right,
                // resuming after each match: the same matches as an
                // unanchored `find_iter`, without scanning the whole text.
                let mut resume = 0;
                for &(_, pos) in &starts[k..group_end] {
                    if pos < resume {
                        continue;
                    }
                    let input = Input::new(text)
                        .span(pos..text.len())
                        .anchored(Anchored::Yes);
                    if let Some(m) = regex.search(&input)
                        && !m.is_empty()
                    {
                        push(self.regexes[i].rule, m.start()..m.end(), hits);
                        resume = m.end();
                    }
                }
            }
            k = group_end;
        }
        // The few regexes without a usable prefix are searched whole.
        for &i in self.screened.iter().filter(|&&i| possible(i)) {
            let compiled = &self.regexes[i];
            let Some(regex) = compiled.get() else {
                continue;
            };
            for m in regex.find_iter(text) {
                if !m.is_empty() {
                    push(compiled.rule, m.start()..m.end(), hits);
                }
            }
        }
    }

    /// Brands named in the message text (body or subject), with the part and normalized span.
    fn brands_named(&self, parts: &[ScannedPart<'_>]) -> Vec<(usize, usize, Range<usize>)> {
        let mut found = Vec::new();
        let Some(ac) = &self.brand_names else {
            return found;
        };
        for (pi, part) in parts.iter().enumerate() {
            if !matches!(
                part.kind,
                PartKind::Body | PartKind::Subject | PartKind::From
            ) {
                continue;
            }
            for m in ac.find_iter(part.normalized.text()) {
                if !is_word_boundary(part.normalized.text(), m.start()..m.end()) {
                    continue;
                }
                found.push((
                    self.brand_of_name[m.pattern().as_usize()],
                    pi,
                    m.start()..m.end(),
                ));
            }
        }
        found
    }

    fn scan_signals(
        &self,
        message: &Message,
        parts: &[ScannedPart<'_>],
        entities: &Entities,
        hits: &mut Vec<Hit>,
    ) {
        let phrase_hits = hits.len();
        let brands = self.brands_named(parts);
        let part_index = |kind: PartKind| parts.iter().position(|p| p.kind == kind);
        // The first positive phrase hit whose original text used an evasion trick.
        let evasion = hits[..phrase_hits]
            .iter()
            .filter(|h| self.pack.rules[h.rule_index].weight > 0.0)
            .find_map(|h| {
                let part = parts.iter().find(|p| p.kind == h.part)?;
                part.normalized
                    .is_obfuscated(h.normalized.clone())
                    .then(|| (h.part, h.start, h.end, h.text.clone()))
            });
        for (ri, rule) in self.pack.rules.iter().enumerate() {
            let Some(signal) = rule.signal else { continue };
            let mut fire = |part: PartKind, start: usize, end: usize, text: &str| {
                let r = &self.pack.rules[ri];
                hits.push(Hit {
                    rule_index: ri,
                    normalized: 0..0,
                    rule: r.id.clone(),
                    category: self.pack.categories[r.category].id.clone(),
                    weight: r.weight,
                    part,
                    text: text.to_string(),
                    start,
                    end,
                });
            };
            match signal {
                Signal::Url => {
                    if let Some(u) = entities.urls.first() {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::UrlTld => {
                    if let Some(u) = entities.urls.iter().find(|u| {
                        rule.domains.iter().any(|tld| {
                            u.host
                                .ends_with(&format!(".{}", tld.trim_start_matches('.')))
                        })
                    }) {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::UrlIpLiteral => {
                    if let Some(u) = entities
                        .urls
                        .iter()
                        .find(|u| entities::is_ip_literal(&u.host))
                    {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::UrlShortener => {
                    if let Some(u) = entities.urls.iter().find(|u| {
                        rule.domains
                            .iter()
                            .any(|d| entities::host_is_under(&u.host, d))
                    }) {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::UrlObfuscated => {
                    if let Some(u) = entities.urls.iter().find(|u| u.obfuscated) {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::BrandDomainMismatch => {
                    // A brand is named, there are links, and no link goes to that brand.
                    for (bi, _, _) in &brands {
                        let brand = &self.pack.brands[*bi];
                        let foreign = entities.urls.iter().find(|u| {
                            !brand
                                .domains
                                .iter()
                                .any(|d| entities::host_is_under(&u.host, d))
                                && !is_common_official(&self.pack, &u.host)
                        });
                        if let Some(u) = foreign {
                            fire(u.part, u.start, u.end, &u.text);
                            break;
                        }
                    }
                }
                Signal::BrandLookalikeDomain => {
                    let found = entities.urls.iter().find(|u| {
                        self.pack.brands.iter().any(|b| {
                            !b.domains
                                .iter()
                                .any(|d| entities::host_is_under(&u.host, d))
                                && b.domains.iter().any(|d| {
                                    let label = d.split('.').next().unwrap_or(d);
                                    label.len() >= 4 && host_contains_label_like(&u.host, label)
                                })
                        })
                    });
                    if let Some(u) = found {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::Phone => {
                    if let Some(p) = entities.phones.iter().find(|p| {
                        rule.classes.is_empty()
                            || p.classes
                                .iter()
                                .any(|c| rule.classes.iter().any(|rc| rc == c))
                    }) {
                        fire(p.part, p.start, p.end, &p.text);
                    }
                }
                Signal::Amount => {
                    let min = rule.min_yen.unwrap_or(0);
                    if let Some(a) = entities.amounts.iter().find(|a| a.yen >= min) {
                        fire(a.part, a.start, a.end, &a.text);
                    }
                }
                Signal::FromImpersonation => {
                    let (Some(pi), Some(addr)) =
                        (part_index(PartKind::From), message.from_address.as_deref())
                    else {
                        continue;
                    };
                    let domain = addr
                        .rsplit_once('@')
                        .map_or(addr, |(_, d)| d)
                        .to_ascii_lowercase();
                    let part = &parts[pi];
                    let text = part.normalized.text();
                    // A brand in the display name whose domain this is not.
                    let mut claim: Option<Range<usize>> = brands
                        .iter()
                        .filter(|(_, p, _)| *p == pi)
                        .find(|(bi, _, _)| {
                            !self.pack.brands[*bi]
                                .domains
                                .iter()
                                .any(|d| entities::host_is_under(&domain, d))
                        })
                        .map(|(_, _, r)| r.clone());
                    // Or an organisation word in the name, sent from a free-mail/carrier domain.
                    if claim.is_none()
                        && rule
                            .domains
                            .iter()
                            .any(|d| entities::host_is_under(&domain, d))
                    {
                        claim = self.from_literals[&ri]
                            .iter()
                            .find_map(|l| text.find(l.as_str()).map(|s| s..s + l.len()));
                    }
                    if let Some(r) = claim {
                        let o = part.normalized.original_range(r);
                        fire(PartKind::From, o.start, o.end, &part.original[o.clone()]);
                    }
                }
                Signal::Evasion => {
                    if let Some((part, s, e, t)) = &evasion {
                        fire(*part, *s, *e, t);
                    }
                }
            }
        }
    }
}

/// A host of any brand in the pack counts as official for mismatch purposes
/// (a bank notice that links to the bank's card company is not a mismatch).
fn is_common_official(pack: &RulePack, host: &str) -> bool {
    pack.brands
        .iter()
        .any(|b| b.domains.iter().any(|d| entities::host_is_under(host, d)))
}

/// `label` appears in `host`, also with digit look-alikes (amaz0n, rakuten-card).
fn host_contains_label_like(host: &str, label: &str) -> bool {
    let folded: String = host
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'l',
            '3' => 'e',
            '5' => 's',
            _ => c,
        })
        .filter(|c| *c != '-')
        .collect();
    let label: String = label.chars().filter(|c| *c != '-').collect();
    folded.contains(&label)
}

/// Latin brand names must not match inside longer Latin words ("au" in "audio").
fn is_word_boundary(text: &str, r: Range<usize>) -> bool {
    let first = text[r.clone()].chars().next();
    let last = text[r.clone()].chars().next_back();
    let before = text[..r.start].chars().next_back();
    let after = text[r.end..].chars().next();
    let latin = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !(latin(first) && latin(before) || latin(last) && latin(after))
}

/// The literals every match of `hir` must start with, when there are few
/// enough (and none empty) to use as a trigger; `None` when the regex can
/// start anywhere (`.{0,20}x`) or with too many different strings.
fn required_prefixes(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_literal_len(9)
        .limit_total(512);
    let seq = extractor.extract(hir);
    let literals = seq.literals()?;
    // A prefix shorter than one Japanese character (a digit, "pc") would
    // wake the regex at nearly every position; such regexes are searched whole.
    if literals.is_empty()
        || literals.len() > 128
        || literals.iter().any(|l| l.as_bytes().len() < 3)
    {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// The groups of literals a match of `hir` must contain: for each top-level
/// piece of the regex that is a literal or an alternation of literals (not
/// optional, not repeated), its literals. A text without one literal of every
/// group cannot match, so the regex need not be searched.
fn required_groups(hir: &regex_syntax::hir::Hir) -> Vec<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    fn literals(h: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
        match h.kind() {
            HirKind::Literal(l) => Some(vec![l.0.to_vec()]),
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
    let pieces: Vec<&regex_syntax::hir::Hir> = match hir.kind() {
        HirKind::Concat(items) => items.iter().collect(),
        _ => vec![hir],
    };
    pieces
        .into_iter()
        .filter_map(literals)
        // Short literals (a digit, "%") would be present almost everywhere.
        .filter(|g| !g.is_empty() && g.iter().all(|l| l.len() >= 3))
        .collect()
}

/// One automaton reporting every occurrence (overlapping) of `patterns`, or
/// `None` when there are none. A contiguous NFA builds in ~1 ms where the DFA
/// took ~11 ms (and 2 MB) for the literals; see docs/PERFORMANCE.md.
fn overlapping_automaton<P: AsRef<[u8]>>(
    patterns: &[P],
) -> Result<Option<AhoCorasick>, BuildError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .build(patterns)
        .or_else(|_| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(patterns)
        })
        .map(Some)
        .map_err(|e| BuildError::Automaton(e.to_string()))
}
