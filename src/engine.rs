//! The engine: a rule pack compiled once into immutable matchers.
//!
//! One automaton ([`crate::prepared`]) finds, in a single pass over the
//! normalized text, every phrase that matters: the literals of rules (hits),
//! the literals each regex must start with (where to try it), the
//! literals each regex cannot match without (whether to try it at all), and
//! brand names. Only regexes that can match are compiled (once, lazily) and
//! searched: anchored at their possible starts (by a lazy DFA over
//! characters, see `engine/chars.rs`), or, for the few without usable
//! prefixes, in windows around their required literals when their length is
//! bounded (whole otherwise). Entity signals (links, phones, amounts,
//! sender) are evaluated from the extracted entities. The engine is
//! `Send + Sync`: build it once and share it across threads. For the
//! built-in pack ([`Engine::builtin`]) the automaton and tables were built
//! when sagiscan was compiled.

use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, hybrid};
use serde::Serialize;

use crate::entities::{self, Entities, Url};
use crate::message::{Message, PartKind};
use crate::negation;
use crate::normalize::{self, Normalized};
use crate::patterns::{Brand, PackError, RulePack, Signal, Target, limits};
use crate::prepared::{self, Action, PhraseAutomaton, Prepared};
use crate::score::{self, Analysis};

mod chars;
mod hosts;

use hosts::{BrandHosts, DomainSet, LinkHosts};

/// Most hits kept for one rule in one part (enough to highlight every place a
/// phrase appears without letting a 20 MB repetition balloon the report).
const MAX_HITS_PER_RULE_PART: usize = 32;

/// Hits a message's vector has room for from the start (the bench mbox
/// averages about 9 per message).
const HITS_PER_MESSAGE: usize = 16;

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
    /// Rule id, shared with every other hit of the rule: a `String` per hit
    /// (allocated, copied and freed) was ~1.4% of a scan.
    #[serde(serialize_with = "serialize_shared_str")]
    pub rule: Arc<str>,
    /// Category id, shared like [`Hit::rule`].
    #[serde(serialize_with = "serialize_shared_str")]
    pub category: Arc<str>,
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

/// Serialize an `Arc<str>` as the string it holds (serde's own impl needs
/// its `rc` feature, which would serialize the same bytes).
fn serialize_shared_str<S: serde::Serializer>(
    s: &Arc<str>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(s)
}

/// A small, fast hasher (FxHash's multiply-rotate) for keys the pack
/// decides, or that input can only choose among within a bounded table:
/// domain names, the NFA-state lists of the character DFAs' states.
#[derive(Default)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A rule regex, compiled on first use: most regexes are never woken by a
/// given run (one SMS touches a few dozen), so compiling all of them up front
/// was a third of start-up.
struct LazyRegex {
    compiled: OnceLock<Option<CompiledRegex>>,
}

/// A compiled rule regex.
enum CompiledRegex {
    /// Searched only anchored at a trigger, by a DFA over characters (most
    /// anchored regexes: see [`chars`]).
    Chars(Box<chars::CharRegex>),
    /// Searched only anchored at a trigger but with a look-around
    /// assertion (the English rules' `\b`), which the character DFA does
    /// not support: a forward lazy DFA over bytes finds the end, so no
    /// reverse automaton is built (half the compile of a full regex).
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
    fn new(
        prepared: &prepared::PreparedRegex,
        alphabet: Option<&Arc<chars::Alphabet>>,
    ) -> Option<CompiledRegex> {
        // Parsed once for both engines of an anchored regex.
        if prepared.anchored_only
            && let Ok(hir) = regex_automata::util::syntax::parse(&prepared.source)
        {
            if let Some(alphabet) = alphabet
                && let Some(regex) = chars::CharRegex::from_hir(&hir, alphabet)
            {
                return Some(CompiledRegex::Chars(Box::new(regex)));
            }
            if let Some(forward) = CompiledRegex::forward_from_hir(&hir) {
                return Some(forward);
            }
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
    #[cfg(test)]
    fn forward(source: &str) -> Option<CompiledRegex> {
        let hir = regex_automata::util::syntax::parse(source).ok()?;
        CompiledRegex::forward_from_hir(&hir)
    }

    /// [`CompiledRegex::forward`] of a parsed regex.
    fn forward_from_hir(hir: &regex_syntax::hir::Hir) -> Option<CompiledRegex> {
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
        let nfa = COMPILER.with(|c| c.build_from_hir(hir).ok())?;
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

    /// The matches starting exactly at one of `starts` (ascending), left
    /// to right, each searched after the end of the one before: the same
    /// non-empty matches as an unanchored `find_iter`, for a regex whose
    /// matches all start at one of `starts`. The shared cache is locked once
    /// for all of them, not once per start.
    fn matches_at(
        &self,
        text: &str,
        starts: impl Iterator<Item = usize>,
        found: impl FnMut(Range<usize>),
    ) {
        let input = |start: usize| {
            Input::new(text)
                .span(start..text.len())
                .anchored(Anchored::Yes)
        };
        match self {
            CompiledRegex::Chars(regex) => {
                let mut searcher = regex.searcher();
                left_to_right(starts, |start| searcher.match_end(text, start), found);
            }
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
                let search = |start| {
                    dfa.try_search_fwd(&mut cache, &input(start))
                        .ok()
                        .flatten()
                        .map(|m| m.offset())
                };
                left_to_right(starts, search, found);
            }
            CompiledRegex::Full(regex) => {
                let search = |start| regex.search(&input(start)).map(|m| m.end());
                left_to_right(starts, search, found);
            }
        }
    }
}

/// The non-empty matches `end_at(start)` finds at each of `starts`
/// (ascending), skipping the starts inside the match before.
fn left_to_right(
    starts: impl Iterator<Item = usize>,
    mut end_at: impl FnMut(usize) -> Option<usize>,
    mut found: impl FnMut(Range<usize>),
) {
    let mut resume = 0;
    for start in starts {
        if start < resume {
            continue;
        }
        if let Some(end) = end_at(start)
            && end > start
        {
            found(start..end);
            resume = end;
        }
    }
}

impl LazyRegex {
    /// The compiled regex, built on first use. `None` only if it fails to
    /// compile, which the loader rules out for untrusted packs and build.rs
    /// for the built-in one.
    fn get(
        &self,
        prepared: &prepared::PreparedRegex,
        alphabet: Option<&Arc<chars::Alphabet>>,
    ) -> Option<&CompiledRegex> {
        self.compiled
            .get_or_init(|| CompiledRegex::new(prepared, alphabet))
            .as_ref()
    }
}

/// A compiled, immutable rule pack.
pub struct Engine {
    pack: RulePack,
    prepared: Prepared,
    /// Every phrase (rule literals, regex triggers and required literals,
    /// brand names), overlapping; values are phrase indexes.
    phrases: Option<PhraseAutomaton>,
    /// One per [`Prepared::regexes`].
    regexes: Vec<LazyRegex>,
    /// For each of [`Prepared::regexes`]: searched whole, but only in
    /// windows around its required literals (see [`search_windows`]).
    windowed: Vec<bool>,
    /// For each of [`Prepared::regexes`], its required literal groups, each
    /// as the phrases (automaton values) of its literals.
    required_groups: Vec<Vec<Vec<u32>>>,
    /// For each brand, the first labels of its domains (4+ characters,
    /// hyphens removed) that a look-alike host would contain.
    brand_labels: Vec<Vec<String>>,
    /// For each rule, its id, shared by all its hits.
    rule_ids: Vec<Arc<str>>,
    /// For each rule, its category's id, shared by all its hits.
    rule_categories: Vec<Arc<str>>,
    /// For each part kind (see [`part_kind_index`]), its phrase actions,
    /// built the first time a part of that kind is scanned: a one-message
    /// check reads one to three kinds of six, and building all six tables
    /// was 5% of its instructions.
    part_actions: Vec<OnceLock<PartActions>>,
    /// For each rule, bit `part_kind_index(kind)` set for each kind it reads.
    rule_kinds: Vec<u8>,
    /// The part kinds brand names are looked for in, as bits.
    brand_kinds: u8,
    /// The rules with a signal, in pack order (walking every rule of the
    /// pack for each message to find them was 0.2% of a scan), each with its
    /// `domains` as a set when its signal matches link hosts against them.
    signal_rules: Vec<(usize, Signal, Option<DomainSet>)>,
    /// The brands by domain and domain label, for the brand link signals.
    brand_hosts: BrandHosts,
    /// The atoms of the anchored regexes' characters, for their character
    /// DFAs (`None` only for a malformed prepared pack: the byte engines
    /// then search them).
    alphabet: Option<Arc<chars::Alphabet>>,
}

/// The phrase actions that can matter in one kind of part: a literal or
/// regex of a rule whose target does not accept the part would be dropped
/// anyway, and brand names are only looked for in body, subject and From.
/// Leaving them out of the table keeps them out of the per-match loop
/// (a link or attachment part walked every body rule's actions).
#[derive(Default)]
struct PartActions {
    /// For phrase `i`, its actions are `actions[action_start[i]..action_start[i + 1]]`.
    action_start: Vec<u32>,
    /// The actions kept, phrase by phrase, in [`Prepared::actions`] order.
    actions: Vec<PartAction>,
    /// The screened regexes kept, in [`Prepared::screened`] order.
    screened: Vec<u32>,
}

impl PartActions {
    /// One table for each of `kinds` part kinds (at most 8): kind `k` keeps
    /// the actions whose rule has bit `k` in `rule_kinds` (brand actions
    /// when `brand_kinds` has it), in their order, in one pass over the
    /// phrases. The engine builds one kind at a time, on first use.
    fn for_kinds(
        prepared: &Prepared,
        rule_kinds: &[u8],
        brand_kinds: u8,
        kinds: usize,
    ) -> Vec<PartActions> {
        let kinds_of_rule = |rule: usize| rule_kinds.get(rule).copied().unwrap_or(0);
        let kinds_of_regex = |i: u32| {
            prepared
                .regexes
                .get(i as usize)
                .map_or(0, |r| kinds_of_rule(r.rule))
        };
        let screened = |i: u32| {
            prepared
                .regexes
                .get(i as usize)
                .is_some_and(|r| !r.anchored_only)
        };
        let phrases = prepared.action_start.len().saturating_sub(1);
        let mut tables: Vec<PartActions> = (0..kinds)
            .map(|_| PartActions {
                action_start: Vec::with_capacity(phrases + 1),
                actions: Vec::new(),
                screened: Vec::new(),
            })
            .collect();
        for value in 0..phrases {
            for table in tables.iter_mut() {
                table.action_start.push(table.actions.len() as u32);
            }
            for action in prepared.actions_of(value as u32) {
                let (mask, converted) = match *action {
                    Action::Literal(rule) => {
                        (kinds_of_rule(rule as usize), PartAction::Literal(rule))
                    }
                    Action::Trigger(i) => (kinds_of_regex(i), PartAction::Trigger(i)),
                    // A screened regex's required literals are few and
                    // rare; their places give its windows (see
                    // [`search_windows`]) and whether it can match.
                    Action::Required(i, g) if screened(i) => {
                        (kinds_of_regex(i), PartAction::RequiredAt(i, g))
                    }
                    // For a regex searched at its triggers, whether a group
                    // occurs is read from the phrases seen (see
                    // [`RequiredSeen`]), not from an action per match.
                    Action::Required(..) => continue,
                    Action::Brand(b) => (brand_kinds, PartAction::Brand(b)),
                };
                for (k, table) in tables.iter_mut().enumerate() {
                    if mask & (1 << k) != 0 {
                        table.actions.push(converted);
                    }
                }
            }
        }
        for table in tables.iter_mut() {
            table.action_start.push(table.actions.len() as u32);
        }
        for &i in &prepared.screened {
            let mask = kinds_of_regex(i);
            for (k, table) in tables.iter_mut().enumerate() {
                if mask & (1 << k) != 0 {
                    table.screened.push(i);
                }
            }
        }
        tables
    }

    /// The table of all actions (tests compare the per-kind tables with it).
    #[cfg(test)]
    fn all(engine: &Engine) -> PartActions {
        let every_rule = vec![1u8; engine.pack.rules.len()];
        PartActions::for_kinds(&engine.prepared, &every_rule, 1, 1)
            .pop()
            .expect("one table")
    }

    /// The kept actions of phrase `value` (an automaton match value).
    #[inline]
    fn of(&self, value: u32) -> &[PartAction] {
        let v = value as usize;
        match (self.action_start.get(v), self.action_start.get(v + 1)) {
            (Some(&from), Some(&to)) => self.actions.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// An [`Action`] as the per-match loop uses it: a required literal says
/// whether its place is kept (for a regex searched in windows), so the loop
/// does not look that up per match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartAction {
    /// [`Action::Literal`].
    Literal(u32),
    /// [`Action::Trigger`].
    Trigger(u32),
    /// [`Action::Required`] of a screened regex: its place is kept. (A
    /// required literal of a regex searched at its triggers has no action:
    /// see [`RequiredSeen`].)
    RequiredAt(u32, u8),
    /// [`Action::Brand`].
    Brand(u32),
}

/// Index of `kind` in [`Engine::part_actions`].
fn part_kind_index(kind: PartKind) -> usize {
    match kind {
        PartKind::Body => 0,
        PartKind::Subject => 1,
        PartKind::From => 2,
        PartKind::Link => 3,
        PartKind::Attachment => 4,
    }
}

/// Every part kind, in [`part_kind_index`] order.
const PART_KINDS: [PartKind; 5] = [
    PartKind::Body,
    PartKind::Subject,
    PartKind::From,
    PartKind::Link,
    PartKind::Attachment,
];

/// Per-part scan state kept while a message is scanned.
struct ScannedPart<'m> {
    kind: PartKind,
    original: &'m str,
    normalized: Normalized,
    /// Brand names in the part (body, subject or From only), leftmost-longest:
    /// (brand index, normalized span). Filled by [`Engine::scan_phrases`].
    brands: std::cell::RefCell<Vec<(usize, Range<usize>)>>,
}

impl Engine {
    /// Compile `pack`. This is the one expensive step; the result is immutable.
    pub fn build(pack: RulePack) -> Result<Engine, BuildError> {
        let (prepared, phrases) = prepared::prepare(&pack);
        let phrases = prepared::phrase_automaton(&phrases).map_err(BuildError::Automaton)?;
        Ok(Engine::from_parts(pack, prepared, phrases))
    }

    /// The engine for the built-in pack, from the tables and automaton built
    /// when sagiscan was compiled (nothing to parse or build at start-up).
    /// Its [`Engine::pack`] leaves out the rules' examples and
    /// counterexamples, which a check never reads: use
    /// [`Engine::builtin_with_examples`] to run them (`lint`), or
    /// [`crate::builtin::load_builtin`] for the whole pack.
    pub fn builtin() -> Result<Engine, BuildError> {
        Engine::from_builtin(crate::builtin::load_prepared())
    }

    /// [`Engine::builtin`] with every rule's examples and counterexamples in
    /// its pack.
    pub fn builtin_with_examples() -> Result<Engine, BuildError> {
        Engine::from_builtin(crate::builtin::load_prepared_with_examples())
    }

    /// The engine from the embedded parts, or (should they not load) from
    /// the embedded TOML sources.
    fn from_builtin(parts: Option<crate::builtin::BuiltinParts>) -> Result<Engine, BuildError> {
        match parts {
            Some(parts) => Ok(Engine::from_parts(
                parts.pack,
                parts.prepared,
                parts.phrases,
            )),
            None => Engine::build(crate::builtin::load_builtin()?),
        }
    }

    fn from_parts(pack: RulePack, prepared: Prepared, phrases: Option<PhraseAutomaton>) -> Engine {
        let regexes = prepared
            .regexes
            .iter()
            .map(|_| LazyRegex {
                compiled: OnceLock::new(),
            })
            .collect();
        let windowed: Vec<bool> = prepared
            .regexes
            .iter()
            .map(|r| !r.anchored_only && r.required_mask != 0 && r.max_len.is_some())
            .collect();
        let mut required_groups: Vec<Vec<Vec<u32>>> = vec![Vec::new(); prepared.regexes.len()];
        for value in 0..prepared.action_start.len().saturating_sub(1) {
            for action in prepared.actions_of(value as u32) {
                if let Action::Required(i, g) = *action
                    && let Some(groups) = required_groups.get_mut(i as usize)
                {
                    let g = usize::from(g);
                    if groups.len() <= g {
                        groups.resize(g + 1, Vec::new());
                    }
                    groups[g].push(value as u32);
                }
            }
        }
        // Smallest groups first: a regex is ruled out as soon as one group
        // is missing, and a small group is checked quickest.
        for groups in required_groups.iter_mut() {
            groups.sort_by_key(Vec::len);
        }
        let brand_labels: Vec<Vec<String>> = pack
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
        let category_ids: Vec<Arc<str>> = pack
            .categories
            .iter()
            .map(|c| Arc::from(c.id.as_str()))
            .collect();
        let rule_ids = pack
            .rules
            .iter()
            .map(|r| Arc::from(r.id.as_str()))
            .collect();
        let rule_categories = pack
            .rules
            .iter()
            .map(|r| match category_ids.get(r.category) {
                Some(id) => Arc::clone(id),
                None => Arc::from(""),
            })
            .collect();
        // Bit `part_kind_index(kind)` set for each kind the rule reads.
        let rule_kinds: Vec<u8> = pack
            .rules
            .iter()
            .map(|r| {
                PART_KINDS
                    .iter()
                    .filter(|&&kind| Engine::target_accepts(r.target, kind))
                    .fold(0u8, |mask, &kind| mask | 1 << part_kind_index(kind))
            })
            .collect();
        let brand_kinds = [PartKind::Body, PartKind::Subject, PartKind::From]
            .iter()
            .fold(0u8, |mask, &kind| mask | 1 << part_kind_index(kind));
        let part_actions = PART_KINDS.iter().map(|_| OnceLock::new()).collect();
        let signal_rules = pack
            .rules
            .iter()
            .enumerate()
            .filter_map(|(ri, rule)| {
                let domains = rule.domains.iter().map(String::as_str);
                let set = match rule.signal? {
                    Signal::UrlTld => Some(DomainSet::tlds(domains)),
                    Signal::UrlShortener => Some(DomainSet::under(domains)),
                    _ => None,
                };
                rule.signal.map(|signal| (ri, signal, set))
            })
            .collect();
        let brand_hosts = BrandHosts::new(
            pack.brands.iter().map(|b| b.domains.as_slice()),
            &brand_labels,
        );
        let alphabet = chars::Alphabet::new(&prepared.char_boundaries).map(Arc::new);
        Engine {
            alphabet,
            signal_rules,
            brand_hosts,
            pack,
            prepared,
            phrases,
            regexes,
            windowed,
            required_groups,
            brand_labels,
            rule_ids,
            rule_categories,
            part_actions,
            rule_kinds,
            brand_kinds,
        }
    }

    #[cfg(test)]
    fn prepared_and_alphabet(&self) -> (&Prepared, Option<&Arc<chars::Alphabet>>) {
        (&self.prepared, self.alphabet.as_ref())
    }

    /// The phrase actions for parts of `kind`, built on first use (see the
    /// `part_actions` field).
    fn part_actions(&self, kind: PartKind) -> &PartActions {
        let k = part_kind_index(kind);
        self.part_actions[k].get_or_init(|| {
            let rule_kinds: Vec<u8> = self.rule_kinds.iter().map(|m| m >> k & 1).collect();
            PartActions::for_kinds(&self.prepared, &rule_kinds, self.brand_kinds >> k & 1, 1)
                .pop()
                .unwrap_or_default()
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
                brands: Default::default(),
            })
            .collect();
        // Room for the hits of most messages at once: growing a vector of
        // `Hit`s 4 → 8 → 16 moved them twice (0.3% of a scan).
        let mut hits = Vec::with_capacity(HITS_PER_MESSAGE);
        let mut entities = Entities::default();
        for part in &parts {
            if matches!(
                part.kind,
                PartKind::Body | PartKind::Subject | PartKind::Link
            ) {
                entities::extract(part.kind, part.original, &part.normalized, &mut entities);
            }
            let first = hits.len();
            self.scan_phrases(part, &mut hits);
            negation::drop_negated_hits(&self.pack, part.normalized.text(), &mut hits, first);
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
        Hit {
            rule_index: rule,
            normalized,
            rule: Arc::clone(&self.rule_ids[rule]),
            category: Arc::clone(&self.rule_categories[rule]),
            weight: self.pack.rules[rule].weight,
            part: part.kind,
            text: part.original[o.clone()].to_string(),
            start: o.start,
            end: o.end,
        }
    }

    fn scan_phrases(&self, part: &ScannedPart<'_>, hits: &mut Vec<Hit>) {
        with_scratch(|scratch| {
            let text = part.normalized.text();
            let mut per_rule = std::mem::take(&mut scratch.per_rule);
            let mut counted = std::mem::take(&mut scratch.counted);
            reset_counts(&mut per_rule, &mut counted, self.pack.rules.len());
            let actions = self.part_actions(part.kind);
            // Every action and screened regex in `actions` is of a rule
            // whose target accepts this part.
            self.find_all(text, actions, scratch, |found, range| {
                let rule = match found {
                    Found::Literal(rule) => rule,
                    Found::Regex(i) => self.prepared.regexes[i].rule,
                };
                let n = &mut per_rule[rule];
                if usize::from(*n) >= MAX_HITS_PER_RULE_PART {
                    return;
                }
                if *n == 0 {
                    counted.push(rule);
                }
                *n += 1;
                hits.push(self.hit(rule, part, range));
            });
            scratch.per_rule = per_rule;
            scratch.counted = counted;
            if matches!(
                part.kind,
                PartKind::Body | PartKind::Subject | PartKind::From
            ) {
                let mut brands = part.brands.borrow_mut();
                brands.clear();
                leftmost_longest(&mut scratch.brands_at, &mut brands);
            }
        });
    }

    /// Every literal and regex match in `text`, in the order hits are kept:
    /// literals as the automaton reports them, then each triggered regex's
    /// matches left to right, then each screened regex's.
    fn find_all(
        &self,
        text: &str,
        actions: &PartActions,
        scratch: &mut PhraseScratch,
        mut found: impl FnMut(Found, Range<usize>),
    ) {
        let regexes = &self.prepared.regexes;
        let PhraseScratch {
            required_seen,
            triggered,
            required_at,
            windows,
            brands_at,
            ..
        } = scratch;
        brands_at.clear();
        required_seen.start(
            self.prepared.action_start.len().saturating_sub(1),
            regexes.len(),
        );
        triggered.start();
        required_at.clear();
        // One pass: literal hits, where regexes can start, and which of
        // their required literal groups occur (and where, for the screened
        // regexes searched in windows).
        // Without phrases (a pack of screened regexes only) there is
        // nothing to walk, but the screened regexes are still searched.
        if let Some(automaton) = &self.phrases {
            for m in automaton.find_overlapping_iter(text) {
                required_seen.saw(m.value());
                for &action in actions.of(m.value()) {
                    match action {
                        PartAction::Literal(rule) => {
                            found(Found::Literal(rule as usize), m.start()..m.end())
                        }
                        PartAction::Trigger(i) => triggered.push(i, m.start()),
                        PartAction::Brand(brand) => brands_at.push((m.start(), m.end(), brand)),
                        PartAction::RequiredAt(i, group) => {
                            required_at.push((i, group, m.start(), m.end()))
                        }
                    }
                }
            }
        }
        // Regex by regex, in index order; each one's starts ascending.
        triggered.keep_possible(required_seen, &self.required_groups);
        triggered.sort();
        for (i, starts) in triggered.by_regex() {
            let alphabet = self.alphabet.as_ref();
            if let Some(regex) = self
                .regexes
                .get(i)
                .and_then(|r| r.get(&regexes[i], alphabet))
            {
                // Anchored search at each candidate start, left to right,
                // resuming after each match: the same matches as an
                // unanchored `find_iter`, without scanning the whole text.
                regex.matches_at(text, starts.iter().map(|&k| key_position(k)), |range| {
                    found(Found::Regex(i), range)
                });
            }
        }
        // The few regexes without a usable prefix are searched whole, or,
        // when their length is bounded, only near their required literals.
        required_at.sort_unstable();
        for &i in &actions.screened {
            let i = i as usize;
            let mask = regexes[i].required_mask;
            if groups_present(required_at, i as u32) & mask != mask {
                continue;
            }
            let Some(CompiledRegex::Full(regex)) = self.regexes[i].get(&regexes[i], None) else {
                continue;
            };
            match regexes[i].max_len {
                Some(max_len) if self.windowed[i] => {
                    let literals = rarest_group(required_at, i as u32);
                    search_windows(regex, text, max_len, literals, windows, |range| {
                        found(Found::Regex(i), range)
                    });
                }
                _ => {
                    for m in regex.find_iter(text) {
                        if !m.is_empty() {
                            found(Found::Regex(i), m.start()..m.end());
                        }
                    }
                }
            }
        }
    }

    /// Brands named in the message text (body, subject or From), with the
    /// part and normalized span.
    fn brands_named(&self, parts: &[ScannedPart<'_>]) -> Vec<(usize, usize, Range<usize>)> {
        let mut found = Vec::new();
        for (pi, part) in parts.iter().enumerate() {
            for (brand, span) in part.brands.borrow().iter() {
                let text = part.normalized.text();
                if is_word_boundary(text, span.clone()) && !names_a_payee_account(text, span.end) {
                    found.push((*brand, pi, span.clone()));
                }
            }
        }
        found
    }

    /// The first link (with a scheme or path) of a message whose every
    /// offered link goes to an official domain of a brand the message
    /// names, none of them a brand that hosts user content
    /// ([`crate::patterns::Brand::hosts_user_content`]) and none disguised
    /// (defanged, behind other link text). Each host is asked about once
    /// ([`LinkHosts::first_where`]).
    fn official_links_only<'u>(
        &self,
        message: &Message,
        entities: &'u Entities,
        links: &mut LinkHosts<'u>,
        brands: &[(usize, usize, Range<usize>)],
        owners: &mut Vec<u32>,
    ) -> Option<&'u Url> {
        if brands.is_empty() || !message.disguised_links.is_empty() {
            return None;
        }
        let mut offered = entities.urls.iter().filter(|u| !u.quoted);
        if offered.clone().any(|u| u.obfuscated) {
            return None;
        }
        // A bare domain without a path ("Amazon.co.jp をご利用いただき")
        // is a name more often than a link: one real link is needed.
        let first = offered.find(|u| u.text.contains('/'))?;
        let unofficial = links.first_where(|host| {
            self.brand_hosts.owners_of(host, owners);
            let named = owners
                .iter()
                .any(|&b| brands.iter().any(|&(named, _, _)| named == b as usize));
            let own_word = owners.iter().all(|&b| {
                self.pack
                    .brands
                    .get(b as usize)
                    .is_some_and(|brand| !brand.hosts_user_content)
            });
            !(named && own_word)
        });
        // An offered link comes before a quoted one, so a quoted answer
        // means every offered link is official.
        match unofficial {
            Some(u) if !u.quoted => None,
            _ => Some(first),
        }
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
        let mut links = LinkHosts::new(&entities.urls);
        let mut owners: Vec<u32> = Vec::new();
        let mut folded: Vec<u8> = Vec::new();
        // A link whose host reads as a brand's own only once its look-alike
        // letters are folded ("smbc-саrd.com" with Cyrillic с and а): the
        // brand does not own what was written, so it counts as unowned, and
        // it is the plainest brand look-alike there is.
        let disguised_owned = entities.urls.iter().find(|u| {
            u.lookalike_letters && {
                self.brand_hosts.owners_of(&u.host, &mut owners);
                !owners.is_empty()
            }
        });
        for (ri, signal, domain_set) in &self.signal_rules {
            let (ri, signal) = (*ri, *signal);
            let rule = &self.pack.rules[ri];
            let mut fire = |part: PartKind, start: usize, end: usize, text: &str| {
                let r = &self.pack.rules[ri];
                hits.push(Hit {
                    rule_index: ri,
                    normalized: 0..0,
                    rule: Arc::clone(&self.rule_ids[ri]),
                    category: Arc::clone(&self.rule_categories[ri]),
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
                // A host ending with one of the rule's top-level domains
                // (`host_has_tld`), or under one of its shortener domains
                // (`host_is_under`).
                Signal::UrlTld | Signal::UrlShortener => {
                    if let Some(set) = domain_set
                        && let Some(u) = links.first_where(|host| set.contains(host))
                    {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::UrlIpLiteral => {
                    if let Some(u) = links.first_where(entities::is_ip_literal) {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::UrlObfuscated => {
                    if let Some(u) = entities.urls.iter().find(|u| u.obfuscated) {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::BrandDomainMismatch => {
                    // A brand is named, there are links, and a link goes to
                    // a host of no brand in the pack (a bank notice that
                    // links to the bank's card company is not a mismatch).
                    // Not the named brand's host is implied: it is in the pack.
                    if !brands.is_empty()
                        && let Some(u) = links
                            .first_unowned(&self.brand_hosts, &mut owners)
                            .or(disguised_owned)
                    {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::UrlUnowned => {
                    // A link to a host of no brand in the pack, named or not.
                    if let Some(u) = links
                        .first_unowned(&self.brand_hosts, &mut owners)
                        .or(disguised_owned)
                    {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::BrandLookalikeDomain => {
                    let found = links.first_where(|host| {
                        self.brand_hosts.owners_of(host, &mut owners);
                        // A host a brand of the pack owns is that brand's
                        // own site, even when another brand's label hides
                        // in it ("sagawa-exp" holds American Express's "aexp").
                        if !owners.is_empty() {
                            return false;
                        }
                        // A brand label inside the host, digits read as
                        // letters ("amaz0n-jp")…
                        self.brand_hosts.disguised(host, &mut folded)
                            // …or a one-letter typo of a brand the message names
                            // ("amazom" in a mail signed Amazon). Only for named
                            // brands: unnamed, "mizuno" would pass for "mizuho".
                            || brands.iter().any(|&(bi, _, _)| {
                                self.brand_labels.get(bi).is_some_and(|labels| {
                                    labels.iter().any(|l| host_has_typo_of(host, l))
                                })
                            })
                    });
                    if let Some(u) = disguised_owned.or(found) {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::OfficialLinksOnly => {
                    if disguised_owned.is_none()
                        && let Some(u) = self.official_links_only(
                            message,
                            entities,
                            &mut links,
                            &brands,
                            &mut owners,
                        )
                    {
                        fire(u.part, u.start, u.end, &u.text);
                    }
                }
                Signal::LinkTextMismatch => {
                    if let Some(d) = message.disguised_links.first() {
                        // Point at the target in the link part when it is
                        // there (it always is for mail; a caller building a
                        // `Message` by hand may leave it out).
                        let at = part_index(PartKind::Link).and_then(|pi| {
                            let start = parts[pi].original.find(d.target.as_str())?;
                            Some((start, start + d.target.len()))
                        });
                        let (start, end) = at.unwrap_or((0, 0));
                        fire(PartKind::Link, start, end, &d.target);
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
                        .find(|(bi, _, _)| !brand_owns_host(&self.pack.brands[*bi], &domain))
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

/// What [`Engine::find_all`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// A literal of this rule.
    Literal(usize),
    /// A match of this regex (index into [`Prepared::regexes`]).
    Regex(usize),
}

/// Buffers [`Engine::scan_phrases`] reuses from part to part, one set per
/// thread: allocating and zeroing them for every part was a visible share
/// of short messages.
#[derive(Default)]
struct PhraseScratch {
    /// Hits kept per rule in this part.
    per_rule: Vec<u8>,
    /// The rules whose `per_rule` count is not zero.
    counted: Vec<usize>,
    /// Which phrases occur, and so which regexes can match.
    required_seen: RequiredSeen,
    /// Where each regex's triggers occur.
    triggered: TriggerStarts,
    /// (regex, group, start, end) of each required literal of a windowed regex.
    required_at: Vec<(u32, u8, usize, usize)>,
    /// Work space of [`search_windows`].
    windows: Vec<Range<usize>>,
    /// (start, end, brand) of every brand name occurrence, overlapping.
    brands_at: Vec<(usize, usize, u32)>,
}

/// Where regexes' triggers occur in a part, each as one `u64` key that
/// sorts by regex, then position: sorting `(regex, position)` pairs was 2%
/// of a scan, and filtering them by [`RequiredSeen::possible`] pair by pair
/// before sorting another 1.5%; sorted integers, with `possible` asked once
/// per regex, cost a fraction of that.
#[derive(Default)]
struct TriggerStarts {
    /// `regex << POSITION_BITS | position` for each trigger match.
    keys: Vec<u64>,
}

/// Bits of a [`TriggerStarts`] key that hold the position: a part of a
/// terabyte cannot be held in memory, and the pack limits keep regex
/// indexes far below `1 << (64 - POSITION_BITS)`.
const POSITION_BITS: u32 = 40;

impl TriggerStarts {
    /// Start a part.
    fn start(&mut self) {
        self.keys.clear();
    }

    /// A trigger of regex `i` starts at `position`.
    #[inline]
    fn push(&mut self, i: u32, position: usize) {
        self.keys
            .push(u64::from(i) << POSITION_BITS | (position as u64 & ((1 << POSITION_BITS) - 1)));
    }

    /// Keep only the starts of regexes that [`RequiredSeen::possible`]
    /// allows, in order. Most starts are dropped (~87% on the bench mbox):
    /// a plain index loop that writes every key and advances only past the
    /// kept ones costs less than `Vec::retain`'s general machinery.
    fn keep_possible(&mut self, seen: &mut RequiredSeen, groups: &[Vec<Vec<u32>>]) {
        let mut kept = 0;
        for next in 0..self.keys.len() {
            let key = self.keys[next];
            if seen.possible((key >> POSITION_BITS) as usize, groups) {
                self.keys[kept] = key;
                kept += 1;
            }
        }
        self.keys.truncate(kept);
    }

    /// Sort the starts by regex, then position, without repeats.
    fn sort(&mut self) {
        self.keys.sort_unstable();
        self.keys.dedup();
    }

    /// The regexes with starts, each with its starts (ascending), from the
    /// sorted keys.
    fn by_regex(&self) -> impl Iterator<Item = (usize, &[u64])> {
        self.keys
            .chunk_by(|a, b| a >> POSITION_BITS == b >> POSITION_BITS)
            .filter_map(|chunk| Some(((chunk.first()? >> POSITION_BITS) as usize, chunk)))
    }
}

/// The position of a [`TriggerStarts`] key.
fn key_position(key: u64) -> usize {
    (key & ((1 << POSITION_BITS) - 1)) as usize
}

/// Which phrases occur in a part, and which regexes have a literal of every
/// required group among them (may match).
///
/// Marking the phrase of every automaton match and checking the groups of
/// only the regexes that are tried replaced an action per required literal
/// match setting a group bit (1.3 actions per 10 bytes of text, most for
/// regexes never tried).
/// Tables are stamped with a per-part number instead of cleared.
#[derive(Default)]
struct RequiredSeen {
    /// The current part's stamp (never 0 once a part started).
    stamp: u32,
    /// For each phrase, the stamp of the last part it occurred in.
    phrase: Vec<u32>,
    /// For each regex, `stamp << 1 | possible` for the part `possible` was
    /// last worked out for: one load and compare per trigger key in the
    /// filter (two tables were two bounds checks and loads per key).
    known: Vec<u64>,
}

impl RequiredSeen {
    /// Start a part (for an engine of `phrases` phrases and `regexes` regexes).
    fn start(&mut self, phrases: usize, regexes: usize) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 || self.phrase.len() != phrases || self.known.len() != regexes {
            self.stamp = 1;
            self.phrase.clear();
            self.phrase.resize(phrases, 0);
            self.known.clear();
            self.known.resize(regexes, 0);
        }
    }

    /// Phrase `value` occurs in the part.
    #[inline]
    fn saw(&mut self, value: u32) {
        if let Some(stamp) = self.phrase.get_mut(value as usize) {
            *stamp = self.stamp;
        }
    }

    /// Regex `i`, with required literal groups `groups[i]`, has a literal of
    /// each group in the part.
    #[inline]
    fn possible(&mut self, i: usize, groups: &[Vec<Vec<u32>>]) -> bool {
        match self.known.get(i) {
            Some(&known) if known >> 1 == u64::from(self.stamp) => known & 1 != 0,
            Some(_) => self.check(i, groups),
            None => false,
        }
    }

    /// [`RequiredSeen::possible`] the first time it is asked in a part.
    #[inline(never)]
    fn check(&mut self, i: usize, groups: &[Vec<Vec<u32>>]) -> bool {
        let phrase = &self.phrase;
        let stamp = self.stamp;
        let possible = groups.get(i).is_some_and(|groups| {
            groups.iter().all(|group| {
                group
                    .iter()
                    .any(|&value| phrase.get(value as usize) == Some(&stamp))
            })
        });
        if let Some(known) = self.known.get_mut(i) {
            *known = u64::from(stamp) << 1 | u64::from(possible);
        }
        possible
    }
}

/// The matches a leftmost-longest search for the brand names would report,
/// from all their (overlapping) occurrences `at`, as (brand, span): the
/// longest name at the leftmost start, then the same after its end.
fn leftmost_longest(at: &mut [(usize, usize, u32)], out: &mut Vec<(usize, Range<usize>)>) {
    at.sort_unstable_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut next = 0;
    for &(start, end, brand) in at.iter() {
        if start >= next {
            out.push((brand as usize, start..end));
            next = end;
        }
    }
}

/// Make `counts` `len` zeros, given the indexes of its non-zero entries
/// (`touched`, emptied): zeroing only those instead of the whole table (a
/// few KB for every part) was 1.4% of a scan.
fn reset_counts<T: Copy + Default>(counts: &mut Vec<T>, touched: &mut Vec<usize>, len: usize) {
    if counts.len() == len {
        for i in touched.drain(..) {
            if let Some(c) = counts.get_mut(i) {
                *c = T::default();
            }
        }
    } else {
        counts.clear();
        counts.resize(len, T::default());
        touched.clear();
    }
}

/// Run `f` with this thread's [`PhraseScratch`] (taken out of the
/// thread-local while `f` runs, so a nested call gets a fresh one).
fn with_scratch<R>(f: impl FnOnce(&mut PhraseScratch) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::Cell<PhraseScratch> =
            std::cell::Cell::new(PhraseScratch::default());
    }
    let mut scratch = SCRATCH.with(std::cell::Cell::take);
    let out = f(&mut scratch);
    SCRATCH.with(|cell| cell.set(scratch));
    out
}

/// The bits of regex `i`'s required literal groups that occur, from
/// `required_at` sorted by regex.
fn groups_present(required_at: &[(u32, u8, usize, usize)], i: u32) -> u64 {
    let from = required_at.partition_point(|&(r, ..)| r < i);
    let to = required_at.partition_point(|&(r, ..)| r <= i);
    required_at[from..to].iter().fold(0, |bits, &(_, g, ..)| {
        bits | 1u64.checked_shl(u32::from(g)).unwrap_or(0)
    })
}

/// The (start, end) occurrences of regex `i`'s required literal group with
/// the fewest occurrences, from `required_at` sorted by (regex, group,
/// start): every match contains one literal of every group, so any group
/// locates all matches, and the rarest gives the fewest windows.
fn rarest_group(required_at: &[(u32, u8, usize, usize)], i: u32) -> &[(u32, u8, usize, usize)] {
    let from = required_at.partition_point(|&(r, ..)| r < i);
    let to = required_at.partition_point(|&(r, ..)| r <= i);
    let of_regex = &required_at[from..to];
    let mut best: &[(u32, u8, usize, usize)] = &[];
    let mut k = 0;
    while k < of_regex.len() {
        let group = of_regex[k].1;
        let n = of_regex[k..]
            .iter()
            .position(|&(_, g, ..)| g != group)
            .unwrap_or(of_regex.len() - k);
        if best.is_empty() || n < best.len() {
            best = &of_regex[k..k + n];
        }
        k += n;
    }
    best
}

/// The matches `regex.find_iter(text)` would give, for a regex whose matches
/// are at most `max_len` bytes long and each contain one of `literals` (its
/// occurrences in `text`, `(_, _, start, end)`, sorted by start).
///
/// A match containing the literal at `start..end` starts in
/// `end - max_len ..= start`. Those start ranges are merged into windows,
/// and each window is searched (unanchored, with the whole text as context
/// for look-around) only up to `max_len` past its last possible start, so
/// every match starting in the window is seen whole and the leftmost-first
/// choice is the same as in a search of the whole text. A match the search
/// reports starting after the window can be cut short by the window's end,
/// so it is dropped: the next window, which contains its start, finds it
/// again.
fn search_windows(
    regex: &Regex,
    text: &str,
    max_len: usize,
    literals: &[(u32, u8, usize, usize)],
    windows: &mut Vec<Range<usize>>,
    mut found: impl FnMut(Range<usize>),
) {
    windows.clear();
    windows.extend(
        literals
            .iter()
            .map(|&(_, _, start, end)| end.saturating_sub(max_len)..start.min(text.len())),
    );
    windows.sort_unstable_by_key(|w| w.start);
    // Merge overlapping or touching start ranges (`end` is inclusive).
    let mut merged = 0;
    for k in 0..windows.len() {
        let w = windows[k].clone();
        if merged > 0 && w.start <= windows[merged - 1].end.saturating_add(1) {
            let last = &mut windows[merged - 1];
            last.end = last.end.max(w.end);
        } else {
            windows[merged] = w;
            merged += 1;
        }
    }
    windows.truncate(merged);
    let mut resume = 0;
    for w in windows.iter() {
        let mut from = w.start.max(resume);
        while from <= w.end {
            let to = w.end.saturating_add(max_len).min(text.len());
            let input = Input::new(text).span(from..to);
            match regex.search(&input) {
                // Never empty (it contains a required literal); an empty
                // match would not advance, so it ends the window.
                Some(m) if m.start() <= w.end && !m.is_empty() => {
                    found(m.start()..m.end());
                    resume = m.end();
                    from = m.end();
                }
                _ => break,
            }
        }
    }
}

/// `host` is one of `brand`'s official domains or under one.
fn brand_owns_host(brand: &Brand, host: &str) -> bool {
    brand
        .domains
        .iter()
        .any(|d| entities::host_is_under(host, d))
}

/// `host` with digit look-alikes read as letters and hyphens dropped, so
/// that a brand label (see [`Engine::brand_labels`]) is found in `amaz0n-jp`
/// or `rakuten-card`. [`BrandHosts::disguised`] folds the same bytes.
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

/// Shortest brand label checked for one-letter typos: shorter labels
/// ("line", "ntt", "jcb") are one edit away from too many real words.
const TYPO_MIN_LABEL_LEN: usize = 6;

/// Some `.`- or `-`-separated label of `host` (digit look-alikes read as
/// letters) is one substitution, insertion, deletion or swap of adjacent
/// letters away from the brand label `label`, and not `label` itself.
fn host_has_typo_of(host: &str, label: &str) -> bool {
    if label.len() < TYPO_MIN_LABEL_LEN || !label.is_ascii() {
        return false;
    }
    host.split(['.', '-']).any(|part| {
        let folded: Vec<u8> = fold_lookalike_host(part).into_bytes();
        folded.as_slice() != label.as_bytes() && within_one_edit(&folded, label.as_bytes())
    })
}

/// `a` and `b` differ by at most one substitution, insertion, deletion or
/// swap of two adjacent bytes (optimal string alignment distance ≤ 1).
fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    match a.len().abs_diff(b.len()) {
        0 => {
            a.len() <= 1
                || a[1..] == b[1..]
                || (a.len() >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..])
        }
        1 => {
            let (short, long) = if a.len() < b.len() { (a, b) } else { (b, a) };
            short == &long[1..]
        }
        _ => false,
    }
}

/// `host` ends with the top-level domain `tld` (given as `top` or `.top`):
/// the reference for [`DomainSet::tlds`].
#[cfg(test)]
fn host_has_tld(host: &str, tld: &str) -> bool {
    let tld = tld.trim_start_matches('.');
    host.len() > tld.len()
        && host.ends_with(tld)
        && host.as_bytes()[host.len() - tld.len() - 1] == b'.'
}

/// Whether the brand name ending at `end` is the bank of an account to pay
/// into ("みずほ銀行 渋谷支店 普通 1234567"): an invoice or shop that names
/// the bank it is paid through is not writing in that bank's name. Both a
/// branch and an account type must follow closely: a phishing mail's
/// "【みずほ銀行】普通預金口座のお取引を…" still names the bank.
fn names_a_payee_account(text: &str, end: usize) -> bool {
    let mut window_end = (end + 45).min(text.len());
    while !text.is_char_boundary(window_end) {
        window_end -= 1;
    }
    let after = &text[end..window_end];
    after.contains("支店") && (after.contains("普通") || after.contains("当座"))
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
    fn within_one_edit_matches_a_plain_distance_reference() {
        // Reference: optimal string alignment distance by dynamic programming.
        fn osa(a: &[u8], b: &[u8]) -> usize {
            let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
            for (i, row) in d.iter_mut().enumerate() {
                row[0] = i;
            }
            for (j, cell) in d[0].iter_mut().enumerate() {
                *cell = j;
            }
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    let mut v = (d[i - 1][j] + 1)
                        .min(d[i][j - 1] + 1)
                        .min(d[i - 1][j - 1] + cost);
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                        v = v.min(d[i - 2][j - 2] + 1);
                    }
                    d[i][j] = v;
                }
            }
            d[a.len()][b.len()]
        }
        let alphabet = [b'a', b'm', b'z', b'o'];
        let mut words: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=4 {
            let start = words.len();
            for w in words.clone().into_iter().filter(|w| w.len() == len - 1) {
                for c in alphabet {
                    let mut w = w.clone();
                    w.push(c);
                    words.push(w);
                }
            }
            assert!(words.len() > start);
        }
        for a in &words {
            for b in &words {
                assert_eq!(within_one_edit(a, b), osa(a, b) <= 1, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn typo_of_a_brand_label_needs_a_long_label() {
        assert!(host_has_typo_of(
            "amazom-co-jp.account-verify.xyz",
            "amazon"
        ));
        assert!(host_has_typo_of("rakuetn.example", "rakuten"));
        assert!(!host_has_typo_of("amazon.co.jp", "amazon"));
        assert!(!host_has_typo_of("lime.example", "line"));
        assert!(!host_has_typo_of("example.com", "amazon"));
    }

    #[test]
    fn lookalike_host_folds_digits_and_hyphens() {
        assert_eq!(fold_lookalike_host("amaz0n-jp.c0m"), "amazonjp.com");
        assert!(fold_lookalike_host("rakuten-card.example").contains("rakutencard"));
        assert_eq!(fold_lookalike_host("1ine.me"), "line.me");
    }

    /// Every non-empty match of `source`, from a plain whole-text search.
    fn reference_matches(source: &str, text: &str) -> Vec<Range<usize>> {
        let regex = Regex::new(source).unwrap();
        regex
            .find_iter(text)
            .filter(|m| !m.is_empty())
            .map(|m| m.range())
            .collect()
    }

    /// Sagawa's own site was scored a look-alike: "sagawaexp" (its host,
    /// hyphen dropped) holds "aexp", a label of American Express. A host a
    /// brand of the pack owns is never a disguise of another brand.
    #[test]
    fn a_brands_own_domain_is_not_a_lookalike_of_another_brand() {
        let engine = Engine::builtin().unwrap();
        let fired = |text: &str| {
            let (hits, _) = engine.scan(&Message::plain(text));
            hits.iter().any(|h| &*h.rule == "link.lookalike-domain")
        };
        assert!(!fired(
            "佐川急便公式サイトから。https://www.sagawa-exp.co.jp/"
        ));
        assert!(fired(
            "佐川急便です。https://sagawa-exp.co.jp-aexp.example/"
        ));
        assert!(fired("https://amaz0n-jp.example/verify"));
    }

    /// A genuine invoice naming the bank it is paid into ("みずほ銀行 渋谷支店
    /// 普通 …") and linking to its invoicing service was scored a brand-domain
    /// mismatch, as if it wrote in Mizuho's name.
    #[test]
    fn regression_invoice_naming_its_payee_bank_is_not_a_brand_mismatch() {
        let engine = Engine::builtin().unwrap();
        let fired = |text: &str| {
            let (hits, _) = engine.scan(&Message::plain(text));
            hits.iter()
                .any(|h| &*h.rule == "link.brand-domain-mismatch")
        };
        assert!(!fired(
            "振込先：みずほ銀行 渋谷支店 普通 1234567\n請求書はこちら https://invoice.example-billing.jp/pdf/1"
        ));
        assert!(fired(
            "【みずほ銀行】お取引を制限しました。https://mizuho-check.example-billing.jp/"
        ));
        assert!(fired(
            "【みずほ銀行】普通預金口座のお取引を制限しました。https://check.example-billing.jp/"
        ));
    }

    /// Every rule regex, however the engine searches it (anchored at
    /// triggers, in windows around required literals, or whole), finds
    /// exactly the matches of a plain `find_iter` on the normalized text of
    /// every corpus message.
    #[test]
    fn every_rule_regex_matches_like_a_whole_text_search_on_the_corpus() {
        let engine = Engine::builtin().unwrap();
        let regexes = &engine.prepared.regexes;
        let plain: Vec<Regex> = regexes
            .iter()
            .map(|r| Regex::new(&r.source).unwrap())
            .collect();
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let (mut checked, mut matched, mut windowed_matches) = (0, 0, 0);
        // One scratch for all texts, as in a scan: what one text leaves in
        // it must not leak into the next.
        let mut scratch = PhraseScratch::default();
        let all_actions = PartActions::all(&engine);
        for label in ["scam", "suspicious", "ham"] {
            for entry in std::fs::read_dir(corpus.join(label)).unwrap() {
                let raw = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                let normalized = normalize::normalize(&raw);
                let text = normalized.text();
                let mut found: Vec<Vec<Range<usize>>> = vec![Vec::new(); regexes.len()];
                engine.find_all(text, &all_actions, &mut scratch, |f, range| {
                    if let Found::Regex(i) = f {
                        found[i].push(range);
                    }
                });
                for (i, regex) in plain.iter().enumerate() {
                    let expected: Vec<Range<usize>> = regex
                        .find_iter(text)
                        .filter(|m| !m.is_empty())
                        .map(|m| m.range())
                        .collect();
                    assert_eq!(found[i], expected, "regex {i} {:?}", regexes[i].source);
                    matched += expected.len();
                    if engine.windowed[i] {
                        windowed_matches += expected.len();
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 500, "corpus not found: {checked} files");
        assert!(
            matched > 1000 && windowed_matches > 20,
            "{matched} {windowed_matches}"
        );
    }

    /// For every part kind, the actions kept for that kind find exactly
    /// what all actions find, less what the kind's target check drops, in
    /// the same order, and the same brand names where brands are looked for.
    #[test]
    fn per_kind_actions_find_what_all_actions_find_for_that_kind() {
        let engine = Engine::builtin().unwrap();
        let all_actions = PartActions::all(&engine);
        let rule_of = |f: Found| match f {
            Found::Literal(rule) => rule,
            Found::Regex(i) => engine.prepared.regexes[i].rule,
        };
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut scratch = PhraseScratch::default();
        let (mut checked, mut dropped) = (0, 0);
        for label in ["scam", "ham"] {
            for entry in std::fs::read_dir(corpus.join(label)).unwrap() {
                let raw = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                let normalized = normalize::normalize(&raw);
                let text = normalized.text();
                let mut everything = Vec::new();
                engine.find_all(text, &all_actions, &mut scratch, |f, r| {
                    everything.push((f, r))
                });
                let all_brands = scratch.brands_at.clone();
                for kind in PART_KINDS {
                    let expected: Vec<(Found, Range<usize>)> = everything
                        .iter()
                        .filter(|(f, _)| {
                            Engine::target_accepts(engine.pack.rules[rule_of(*f)].target, kind)
                        })
                        .cloned()
                        .collect();
                    dropped += everything.len() - expected.len();
                    let mut found = Vec::new();
                    let actions = engine.part_actions(kind);
                    engine.find_all(text, actions, &mut scratch, |f, r| found.push((f, r)));
                    assert_eq!(found, expected, "{kind:?}");
                    if matches!(kind, PartKind::Body | PartKind::Subject | PartKind::From) {
                        assert_eq!(scratch.brands_at, all_brands, "{kind:?}");
                    } else {
                        assert!(scratch.brands_at.is_empty());
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 300 && dropped > 1000, "{checked} {dropped}");
    }

    fn occurrences(text: &str, literals: &[&str]) -> Vec<(u32, u8, usize, usize)> {
        let mut out = Vec::new();
        for (start, _) in text.char_indices() {
            for l in literals {
                if text[start..].starts_with(l) {
                    out.push((0, 0, start, start + l.len()));
                }
            }
        }
        out
    }

    /// Bounded regexes with a required literal group (some of them built-in
    /// rules), each with the literals of that group.
    const WINDOWED_CASES: &[(&str, &[&str])] = &[
        (
            "(県警|府警|道警|警視庁|警察署|同署|[^\\s]{1,6}署)(ハ|ガ)[0-9]{1,2}日",
            &["日"],
        ),
        (
            "(パソコン|pc|スマホ|端末)(ガ|ハ)?.{0,20}(感染|ハッキング|損傷)",
            &["感染", "ハッキング", "損傷"],
        ),
        ("(ア|イ)?.{0,3}感染(スル|シタ)?.{0,2}", &["感染"]),
        ("[^。\n]{0,4}(感染|損傷)[^。\n]{0,4}", &["感染", "損傷"]),
        ("\\b[a-z]{1,3}感染|感染[0-9]{1,2}\\b", &["感染"]),
        ("(^|ア)感染(イ|$)", &["感染"]),
    ];

    proptest::proptest! {
        /// Searching windows around the required literals gives exactly the
        /// matches of a whole-text search, however the literals crowd or
        /// overlap the windows.
        #[test]
        fn windowed_search_matches_a_whole_text_search(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "感染", "損傷", "ハッキング", "パソコン", "pc", "ハ", "ガ", "ア", "イ",
                    "県警", "署", "日", "1", "23", "。", "\n", " ", "ab", "x", "スル", "シタ",
                    "ヲ", "連絡", "端末",
                ]),
                0..40,
            ),
            case in 0..WINDOWED_CASES.len(),
        ) {
            let text: String = pieces.concat();
            let (source, literals) = WINDOWED_CASES[case];
            let regex = Regex::new(source).unwrap();
            let hir = regex_syntax::Parser::new().parse(source).unwrap();
            let max_len = hir.properties().maximum_len().unwrap();
            let mut found = Vec::new();
            search_windows(
                &regex,
                &text,
                max_len,
                &occurrences(&text, literals),
                &mut Vec::new(),
                |r| found.push(r),
            );
            proptest::prop_assert_eq!(found, reference_matches(source, &text));
        }
    }

    proptest::proptest! {
        /// Picking leftmost-longest names from all overlapping occurrences
        /// gives what daachorse's leftmost-longest search gives (what the
        /// brand automaton did before brand names joined the phrases).
        #[test]
        fn leftmost_longest_matches_a_leftmost_longest_automaton(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "au", "audio", "dio", "ヤマト", "ヤマト運輸", "マト", "運輸", "a", "u", "ト", " ",
                ]),
                0..30,
            ),
        ) {
            let names = ["au", "audio", "ヤマト", "ヤマト運輸", "マト運", "運輸", "o"];
            let text: String = pieces.concat();
            let build = |kind| {
                daachorse::CharwiseDoubleArrayAhoCorasickBuilder::new()
                    .match_kind(kind)
                    .build_with_values(names.iter().enumerate().map(|(i, n)| (n, i as u32)))
                    .unwrap()
            };
            let longest: daachorse::CharwiseDoubleArrayAhoCorasick<u32> =
                build(daachorse::MatchKind::LeftmostLongest);
            let expected: Vec<(usize, Range<usize>)> = longest
                .leftmost_find_iter(&text)
                .map(|m| (m.value() as usize, m.start()..m.end()))
                .collect();
            let standard: daachorse::CharwiseDoubleArrayAhoCorasick<u32> =
                build(daachorse::MatchKind::Standard);
            let mut at: Vec<(usize, usize, u32)> = standard
                .find_overlapping_iter(&text)
                .map(|m| (m.start(), m.end(), m.value()))
                .collect();
            let mut found = Vec::new();
            leftmost_longest(&mut at, &mut found);
            proptest::prop_assert_eq!(found, expected);
        }
    }

    proptest::proptest! {
        /// Anchored searches at every start of a regex's trigger, skipping
        /// the starts inside the match before (what `matches_at` does with
        /// one lock of the cache), find what a whole-text `find_iter`
        /// finds, for a regex whose matches all start with one of its
        /// triggers.
        #[test]
        fn anchored_searches_at_triggers_match_a_whole_text_search(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "確認", "確認確認", "ヲ", "オ願イ", "シテ", "下サイ", "x", "。", " ",
                ]),
                0..30,
            ),
        ) {
            let text: String = pieces.concat();
            let source = "確認(ヲ|確認)*(オ願イ)?.{0,3}";
            let regex = CompiledRegex::forward(source).expect("a forward lazy DFA");
            let starts = text.match_indices("確認").map(|(at, _)| at);
            let mut found = Vec::new();
            regex.matches_at(&text, starts, |range| found.push(range));
            proptest::prop_assert_eq!(found, reference_matches(source, &text));
        }
    }

    /// The built-in engine and a plain whole-text regex for each of its
    /// rule regexes, built once for all proptest cases.
    fn engine_and_plain_regexes() -> &'static (Engine, Vec<Regex>) {
        static BUILT: OnceLock<(Engine, Vec<Regex>)> = OnceLock::new();
        BUILT.get_or_init(|| {
            let engine = Engine::builtin().unwrap();
            let plain = engine
                .prepared
                .regexes
                .iter()
                .map(|r| Regex::new(&r.source).unwrap())
                .collect();
            (engine, plain)
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Regexes skipped because a required literal group is missing
        /// (read from the phrases seen for regexes tried at triggers, from
        /// the kept places for screened ones) lose no match: every rule
        /// regex finds what a whole-text `find_iter` finds, on texts made
        /// of the built-in rules' triggers, required literals and gaps,
        /// part after part with one scratch (a phrase seen in one part must
        /// not count in the next).
        #[test]
        fn skipped_regexes_lose_no_match(
            parts in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec![
                        "カード", "ギフト", "番号", "コード", "id", "教エ", "伝エ", "送", "電話",
                        "メール", "ハ", "モ", "詐欺", "デス", "口座", "差押エ", "財産", "ノ",
                        "確認", "デキマセン", "返金", "全額", "100%", "1", "23", "万円", "ヲ押シ",
                        "県警", "署", "ガ", "日", "感染", "パソコン", "ポイント", "失効シマス",
                        "atm", "還付", "コト", "アリマセン", "連絡スル", "。", "\n", " ", "x",
                        "オ金", "貸シテ", "クダサイ", "注意", "不審ナ", "sms",
                    ]),
                    0..40,
                ),
                1..4,
            ),
        ) {
            let (engine, plain) = engine_and_plain_regexes();
            let all_actions = PartActions::all(engine);
            let mut scratch = PhraseScratch::default();
            for pieces in parts {
                let text: String = pieces.concat();
                let mut found: Vec<Vec<Range<usize>>> = vec![Vec::new(); plain.len()];
                engine.find_all(&text, &all_actions, &mut scratch, |f, range| {
                    if let Found::Regex(i) = f {
                        found[i].push(range);
                    }
                });
                for (i, regex) in plain.iter().enumerate() {
                    let expected: Vec<Range<usize>> = regex
                        .find_iter(&text)
                        .filter(|m| !m.is_empty())
                        .map(|m| m.range())
                        .collect();
                    proptest::prop_assert_eq!(&found[i], &expected, "regex {} in {:?}", i, text);
                }
            }
        }
    }

    proptest::proptest! {
        /// `RequiredSeen::possible` says a regex may match exactly when
        /// each of its groups has a phrase seen in the current part, however
        /// parts, phrases and groups interleave (stamps, not clearing).
        #[test]
        fn required_seen_matches_a_set_of_phrases(
            groups in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(0u32..12, 1..4), 0..4),
                1..6,
            ),
            parts in proptest::collection::vec(proptest::collection::vec(0u32..14, 0..10), 1..5),
            asks in proptest::collection::vec(0usize..7, 0..12),
        ) {
            let mut seen = RequiredSeen::default();
            for phrases in &parts {
                seen.start(12, groups.len());
                for &p in phrases {
                    seen.saw(p);
                }
                for &i in &asks {
                    let expected = groups.get(i).is_some_and(|gs| {
                        gs.iter().all(|g| g.iter().any(|v| phrases.contains(v)))
                    });
                    proptest::prop_assert_eq!(seen.possible(i, &groups), expected, "regex {}", i);
                }
            }
        }
    }

    proptest::proptest! {
        /// `keep_possible` keeps exactly the keys `Vec::retain` with
        /// `RequiredSeen::possible` keeps, in the same order.
        #[test]
        fn keep_possible_keeps_what_retain_keeps(
            groups in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(0u32..8, 1..3), 0..3),
                1..6,
            ),
            phrases in proptest::collection::vec(0u32..8, 0..6),
            starts in proptest::collection::vec((0u32..7, 0usize..50), 0..40),
        ) {
            let mut seen = RequiredSeen::default();
            seen.start(8, groups.len());
            for &p in &phrases {
                seen.saw(p);
            }
            let mut triggered = TriggerStarts::default();
            for &(i, at) in &starts {
                triggered.push(i, at);
            }
            let mut expected = triggered.keys.clone();
            expected.retain(|&k| seen.possible((k >> POSITION_BITS) as usize, &groups));
            triggered.keep_possible(&mut seen, &groups);
            proptest::prop_assert_eq!(triggered.keys, expected);
        }
    }

    #[test]
    fn required_seen_starts_over_when_the_stamp_wraps() {
        let groups = vec![vec![vec![3]]];
        let mut seen = RequiredSeen::default();
        seen.start(4, 1);
        seen.saw(3);
        assert!(seen.possible(0, &groups));
        seen.stamp = u32::MAX;
        seen.start(4, 1);
        assert_eq!(seen.stamp, 1);
        assert!(!seen.possible(0, &groups));
    }

    #[test]
    fn groups_present_reads_only_the_regexs_places() {
        let at = [
            (1, 0, 0, 3),
            (2, 0, 5, 8),
            (2, 2, 9, 12),
            (2, 70, 1, 2),
            (3, 1, 0, 3),
        ];
        assert_eq!(groups_present(&at, 2), 0b101);
        assert_eq!(groups_present(&at, 3), 0b10);
        assert_eq!(groups_present(&at, 4), 0);
    }

    #[test]
    fn rarest_group_picks_the_group_with_fewest_occurrences() {
        let at = [
            (1, 0, 0, 3),
            (2, 0, 5, 8),
            (2, 0, 9, 12),
            (2, 1, 20, 23),
            (2, 2, 1, 4),
            (2, 2, 30, 33),
            (3, 0, 0, 3),
        ];
        assert_eq!(rarest_group(&at, 2), &[(2, 1, 20, 23)]);
        assert_eq!(rarest_group(&at, 3), &[(3, 0, 0, 3)]);
        assert!(rarest_group(&at, 4).is_empty());
    }

    /// "smbc-саrd.com" with Cyrillic с and а was read as SMBC's own
    /// smbc-card.com once normalization folded its letters, so a card
    /// phishing SMS had no mismatch, no look-alike and no unknown site.
    #[test]
    fn regression_a_host_owned_only_after_folding_cyrillic_letters_is_a_lookalike() {
        let engine = Engine::builtin().unwrap();
        let rules = |text: &str| -> Vec<String> {
            let (hits, _) = engine.scan(&Message::plain(text));
            hits.iter().map(|h| h.rule.to_string()).collect()
        };
        let disguised = rules(
            "【三井住友カード】ご利用確認のお願い。https://www.smbc-\u{0441}\u{0430}rd.com/vp/check",
        );
        for rule in [
            "link.lookalike-domain",
            "link.brand-domain-mismatch",
            "link.unknown-site",
        ] {
            assert!(
                disguised.iter().any(|r| r == rule),
                "{rule} missing: {disguised:?}"
            );
        }
        let genuine =
            rules("【三井住友カード】ご利用確認のお願い。https://www.smbc-card.com/vp/check");
        assert!(
            !genuine.iter().any(|r| r.starts_with("link.")),
            "the real host is the brand's own: {genuine:?}"
        );
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
