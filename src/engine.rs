//! The engine: a rule pack compiled once into immutable matchers.
//!
//! One automaton ([`crate::prepared`]) finds, in a single pass over the
//! normalized text, every phrase that matters: the literals of rules (hits),
//! the literals each regex must start with (where to try it), and the
//! literals each regex cannot match without (whether to try it at all).
//! Only regexes that can match are compiled (once, lazily) and searched,
//! anchored at their possible starts. Entity signals (links, phones,
//! amounts, sender) are evaluated from the extracted entities. The engine is
//! `Send + Sync`: build it once and share it across threads. For the
//! built-in pack ([`Engine::builtin`]) the automata and tables were built
//! when sagiscan was compiled.

use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, hybrid};
use serde::Serialize;

use crate::entities::{self, Entities};
use crate::message::{Message, PartKind};
use crate::normalize::{self, Normalized};
use crate::patterns::{PackError, RulePack, Signal, Target, limits};
use crate::prepared::{self, Action, PhraseAutomaton, Prepared};
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
    /// The built-in pack did not load (only possible for a broken build).
    #[error(transparent)]
    Pack(#[from] PackError),
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
struct LazyRegex {
    compiled: OnceLock<Option<CompiledRegex>>,
}

/// A compiled rule regex.
enum CompiledRegex {
    /// Searched only anchored at a trigger, where the start is known: a
    /// forward lazy DFA finds the end, so no reverse automaton is built
    /// (half the compile of a full regex).
    Forward(Box<ForwardRegex>),
    /// Searched whole, or not expressible as a lazy DFA (Unicode `\b`).
    Full(Regex),
}

/// See [`CompiledRegex::Forward`].
struct ForwardRegex {
    dfa: hybrid::dfa::DFA,
    /// One cache shared by all threads: an anchored search holds the lock
    /// for well under a microsecond, and per-thread caches were most of the
    /// memory of `scan --jobs 2` (each thread grew its own copy of the same
    /// states).
    cache: Mutex<hybrid::dfa::Cache>,
}

/// Most lazy-DFA cache per regex and thread. Caches grow only as states are
/// needed; `.{0,20}` gaps between Japanese phrases need many states, and at
/// 256 KB the busiest regexes kept clearing and rebuilding theirs (2 MB: 5%
/// fewer instructions on the 10 MB bench mbox, peak RSS +1.5 MB).
const DFA_CACHE_BYTES: usize = 2 * 1024 * 1024;

impl CompiledRegex {
    fn new(prepared: &prepared::PreparedRegex) -> Option<CompiledRegex> {
        if prepared.anchored_only
            && let Some(forward) = CompiledRegex::forward(&prepared.source)
        {
            return Some(forward);
        }
        Regex::builder()
            .configure(
                Regex::config()
                    .nfa_size_limit(Some(limits::REGEX_SIZE_LIMIT))
                    .onepass(false)
                    .backtrack(false)
                    // An anchored-only regex never uses a prefilter, and
                    // building one (Teddy) is a fifth of the compile.
                    .auto_prefilter(!prepared.anchored_only)
                    .hybrid_cache_capacity(DFA_CACHE_BYTES)
                    // Only the match span is used, never groups (the
                    // implicit group 0 is what reports the span).
                    .which_captures(thompson::WhichCaptures::Implicit),
            )
            .build(&prepared.source)
            .ok()
            .map(CompiledRegex::Full)
    }

    /// A forward-only lazy DFA, or `None` if the regex needs the full engine.
    fn forward(source: &str) -> Option<CompiledRegex> {
        thread_local! {
            /// One NFA compiler per thread, reused: a fresh compiler allocates
            /// (and then frees) its UTF-8 suffix caches, which was a third
            /// of compiling a typical rule regex.
            static COMPILER: thompson::Compiler = {
                let mut compiler = thompson::Compiler::new();
                compiler.configure(
                    thompson::Config::new()
                        .nfa_size_limit(Some(limits::REGEX_SIZE_LIMIT))
                        .which_captures(thompson::WhichCaptures::None),
                );
                compiler
            };
        }
        let hir = regex_automata::util::syntax::parse(source).ok()?;
        let nfa = COMPILER.with(|c| c.build_from_hir(&hir).ok())?;
        let dfa = hybrid::dfa::Builder::new()
            .configure(
                hybrid::dfa::Config::new()
                    .cache_capacity(DFA_CACHE_BYTES)
                    .starts_for_each_pattern(false),
            )
            .build_from_nfa(nfa)
            .ok()?;
        let cache = Mutex::new(dfa.create_cache());
        Some(CompiledRegex::Forward(Box::new(ForwardRegex {
            dfa,
            cache,
        })))
    }

    /// The end of the match starting exactly at `start`, if any.
    fn match_at(&self, text: &str, start: usize) -> Option<usize> {
        let input = Input::new(text)
            .span(start..text.len())
            .anchored(Anchored::Yes);
        match self {
            CompiledRegex::Forward(forward) => {
                let ForwardRegex { dfa, cache: shared } = forward.as_ref();
                // A panic elsewhere while holding the lock must not leave a
                // half-updated cache in use: reset it and go on.
                let mut cache = shared.lock().unwrap_or_else(|poisoned| {
                    shared.clear_poison();
                    let mut cache = poisoned.into_inner();
                    cache.reset(dfa);
                    cache
                });
                // Without quit bytes or a give-up threshold the lazy DFA
                // cannot fail; treat a failure as no match.
                dfa.try_search_fwd(&mut cache, &input)
                    .ok()
                    .flatten()
                    .map(|m| m.offset())
            }
            CompiledRegex::Full(regex) => regex.search(&input).map(|m| m.end()),
        }
    }
}

impl LazyRegex {
    /// The compiled regex, built on first use. `None` only if it fails to
    /// compile, which the loader rules out for untrusted packs and build.rs
    /// for the built-in one.
    fn get(&self, prepared: &prepared::PreparedRegex) -> Option<&CompiledRegex> {
        self.compiled
            .get_or_init(|| CompiledRegex::new(prepared))
            .as_ref()
    }
}

/// A compiled, immutable rule pack.
pub struct Engine {
    pack: RulePack,
    prepared: Prepared,
    /// Every phrase of [`Prepared::phrases`], overlapping; values are phrase indexes.
    phrases: Option<PhraseAutomaton>,
    /// Brand names (leftmost-longest); values index [`Prepared::brand_of_name`].
    brands: Option<PhraseAutomaton>,
    /// One per [`Prepared::regexes`].
    regexes: Vec<LazyRegex>,
    /// For each brand, the first labels of its domains (4+ characters,
    /// hyphens removed) that a look-alike host would contain.
    brand_labels: Vec<Vec<String>>,
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
        let (prepared, phrases) = prepared::prepare(&pack);
        let phrases = prepared::phrase_automaton(&phrases).map_err(BuildError::Automaton)?;
        let brands = prepared.brand_automaton().map_err(BuildError::Automaton)?;
        Ok(Engine::from_parts(pack, prepared, phrases, brands))
    }

    /// The engine for the built-in pack, from the tables and automata built
    /// when sagiscan was compiled (nothing to parse or build at start-up).
    pub fn builtin() -> Result<Engine, BuildError> {
        match crate::builtin::load_prepared() {
            Some(parts) => Ok(Engine::from_parts(
                parts.pack,
                parts.prepared,
                parts.phrases,
                parts.brands,
            )),
            None => Engine::build(crate::builtin::load_builtin()?),
        }
    }

    fn from_parts(
        pack: RulePack,
        prepared: Prepared,
        phrases: Option<PhraseAutomaton>,
        brands: Option<PhraseAutomaton>,
    ) -> Engine {
        let regexes = prepared
            .regexes
            .iter()
            .map(|_| LazyRegex {
                compiled: OnceLock::new(),
            })
            .collect();
        let brand_labels = pack
            .brands
            .iter()
            .map(|b| {
                b.domains
                    .iter()
                    .filter_map(|d| {
                        let label = d.split('.').next().unwrap_or(d);
                        (label.len() >= 4).then(|| label.replace('-', ""))
                    })
                    .collect()
            })
            .collect();
        Engine {
            pack,
            prepared,
            phrases,
            brands,
            regexes,
            brand_labels,
        }
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
        let mut per_rule = vec![0u8; self.pack.rules.len()];
        let mut push = |rule: usize, range: Range<usize>, hits: &mut Vec<Hit>| {
            if !Self::target_accepts(self.pack.rules[rule].target, part.kind) {
                return;
            }
            let n = &mut per_rule[rule];
            if usize::from(*n) >= MAX_HITS_PER_RULE_PART {
                return;
            }
            *n += 1;
            hits.push(self.hit(rule, part, range));
        };
        let regexes = &self.prepared.regexes;
        // One pass: literal hits, where regexes can start, and which of
        // their required literal groups occur.
        let mut present = vec![0u64; regexes.len()];
        let mut starts: Vec<(u32, usize)> = Vec::new();
        let matches = self
            .phrases
            .iter()
            .flat_map(|automaton| automaton.find_overlapping_iter(text));
        for m in matches {
            for &action in self.prepared.actions_of(m.value()) {
                match action {
                    Action::Literal(rule) => push(rule as usize, m.start()..m.end(), hits),
                    Action::Trigger(i) => starts.push((i, m.start())),
                    Action::Required(i, group) => present[i as usize] |= 1u64 << group,
                }
            }
        }
        let possible = |i: usize| present[i] & regexes[i].required_mask == regexes[i].required_mask;
        starts.retain(|&(i, _)| possible(i as usize));
        starts.sort_unstable();
        starts.dedup();
        let mut k = 0;
        while k < starts.len() {
            let i = starts[k].0 as usize;
            let group_end = starts[k..]
                .iter()
                .position(|&(r, _)| r as usize != i)
                .map_or(starts.len(), |n| k + n);
            if let Some(regex) = self.regexes[i].get(&regexes[i]) {
                // Anchored search at each candidate start, left to right,
                // resuming after each match: the same matches as an
                // unanchored `find_iter`, without scanning the whole text.
                let mut resume = 0;
                for &(_, pos) in &starts[k..group_end] {
                    if pos < resume {
                        continue;
                    }
                    if let Some(end) = regex.match_at(text, pos)
                        && end > pos
                    {
                        push(regexes[i].rule, pos..end, hits);
                        resume = end;
                    }
                }
            }
            k = group_end;
        }
        // The few regexes without a usable prefix are searched whole.
        for &i in &self.prepared.screened {
            let i = i as usize;
            if !possible(i) {
                continue;
            }
            let Some(CompiledRegex::Full(regex)) = self.regexes[i].get(&regexes[i]) else {
                continue;
            };
            for m in regex.find_iter(text) {
                if !m.is_empty() {
                    push(regexes[i].rule, m.start()..m.end(), hits);
                }
            }
        }
    }

    /// Brands named in the message text (body or subject), with the part and normalized span.
    fn brands_named(&self, parts: &[ScannedPart<'_>]) -> Vec<(usize, usize, Range<usize>)> {
        let mut found = Vec::new();
        let Some(automaton) = &self.brands else {
            return found;
        };
        for (pi, part) in parts.iter().enumerate() {
            if !matches!(
                part.kind,
                PartKind::Body | PartKind::Subject | PartKind::From
            ) {
                continue;
            }
            for m in automaton.leftmost_find_iter(part.normalized.text()) {
                if !is_word_boundary(part.normalized.text(), m.start()..m.end()) {
                    continue;
                }
                found.push((
                    self.prepared.brand_of_name[m.value() as usize] as usize,
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
                    if let Some(u) = entities
                        .urls
                        .iter()
                        .find(|u| rule.domains.iter().any(|tld| host_has_tld(&u.host, tld)))
                    {
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
                        let folded = fold_lookalike_host(&u.host);
                        self.pack
                            .brands
                            .iter()
                            .zip(&self.brand_labels)
                            .any(|(b, labels)| {
                                !b.domains
                                    .iter()
                                    .any(|d| entities::host_is_under(&u.host, d))
                                    && labels.iter().any(|l| folded.contains(l.as_str()))
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
                        claim = self
                            .prepared
                            .from_literals
                            .iter()
                            .filter(|(rule, _)| *rule == ri)
                            .flat_map(|(_, literals)| literals)
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

/// `host` with digit look-alikes read as letters and hyphens dropped, so
/// that a brand label (see [`Engine::brand_labels`]) is found in `amaz0n-jp`
/// or `rakuten-card`.
fn fold_lookalike_host(host: &str) -> String {
    host.chars()
        .filter(|c| *c != '-')
        .map(|c| match c {
            '0' => 'o',
            '1' => 'l',
            '3' => 'e',
            '5' => 's',
            _ => c,
        })
        .collect()
}

/// `host` ends with the top-level domain `tld` (given as `top` or `.top`).
fn host_has_tld(host: &str, tld: &str) -> bool {
    let tld = tld.trim_start_matches('.');
    host.len() > tld.len()
        && host.ends_with(tld)
        && host.as_bytes()[host.len() - tld.len() - 1] == b'.'
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tld_matches_whole_labels_only() {
        assert!(host_has_tld("apple-id.top", "top"));
        assert!(host_has_tld("apple-id.top", ".top"));
        assert!(!host_has_tld("desktop", "top"));
        assert!(!host_has_tld("top", "top"));
        assert!(!host_has_tld("", ".top"));
        assert!(host_has_tld("a.b.xyz", "xyz"));
    }

    #[test]
    fn lookalike_host_folds_digits_and_hyphens() {
        assert_eq!(fold_lookalike_host("amaz0n-jp.c0m"), "amazonjp.com");
        assert!(fold_lookalike_host("rakuten-card.example").contains("rakutencard"));
        assert_eq!(fold_lookalike_host("1ine.me"), "line.me");
    }

    #[test]
    fn brand_lookalike_domain_fires_on_a_disguised_host() {
        let engine = Engine::builtin().unwrap();
        let a = engine.analyze_text("アカウントを確認してください https://amaz0n-secure.top/login");
        assert!(
            a.hits.iter().any(|h| h.rule.contains("lookalike")),
            "{:?}",
            a.hits.iter().map(|h| &h.rule).collect::<Vec<_>>()
        );
    }
}
