//! A lazy DFA that reads characters, not bytes, for the rule regexes that
//! are searched anchored at their triggers.
//!
//! Why it exists: regex-automata's lazy DFA reads UTF-8 bytes. A rule regex
//! names dozens of Japanese characters of three bytes each, so its byte
//! alphabet has 60–120 classes and every DFA state is a row of 64 or 128
//! transitions, and a `.{0,20}` gap walks three states per character. On a
//! varied 100 MB mbox the ~900 regexes a scan wakes grew ~58 MB of such
//! states (~83 MB of heap with vector growth), most of the scan's peak
//! memory. This DFA takes one step per character, and its alphabet is the
//! classes of characters the regex tells apart (typically 10–60): a state is
//! a row of that many transitions, and a gap one state per character.
//!
//! Characters are first mapped to *atoms*, the intervals between every
//! boundary of every anchored regex of the pack ([`Alphabet`], from
//! `Prepared::char_boundaries`), with one table for the Basic Multilingual
//! Plane; each regex maps atoms to its own classes with a byte per atom.
//!
//! Only what rule regexes use is supported: literals, Unicode classes,
//! ASCII byte classes, repetitions, alternations and groups. A regex with a
//! look-around assertion (`\b`, `^`, `$`), more than 256 classes or a very
//! large NFA gets `None` from [`CharRegex::new`] and keeps the byte engines.
//!
//! Matches follow regex-automata's leftmost-first semantics: an anchored
//! search reports the end of the match a backtracking engine would prefer
//! (alternatives and greedy or lazy repetitions in priority order), so it
//! finds exactly what the byte engines find (tested against them in
//! `engine.rs` on the whole corpus and here on generated text).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex, OnceLock};

use regex_syntax::hir::{Class, Hir, HirKind};

use super::FastHasher;

/// Keys are range sets of a rule regex, or NFA-state lists of a DFA state
/// (a bounded number per cache: input cannot flood it).
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Most states per regex NFA: more is a regex the byte engines handle.
const MAX_NFA_STATES: usize = 20_000;

/// Most bytes of DFA states per regex; past it the cache starts over. On
/// the 100 MB bench mbox few regexes come near it: 64 KB cost 1.4% more
/// instructions, 1 MB and 4 MB saved nothing.
const CACHE_BYTES: usize = 256 * 1024;

/// A transition not computed yet.
const UNKNOWN: u32 = u32::MAX;
/// The state without threads: no longer match is possible.
const DEAD: u32 = u32::MAX - 1;
/// Set in a state id when the state is a match (a match ends where it is
/// entered). The rest of the id is the offset of its row in `trans`.
const MATCH: u32 = 1 << 31;
/// Ends the NFA-state list of a matching state in the cache's map key.
const MATCH_KEY: u32 = u32::MAX;

/// The atoms of a pack: intervals of code points that no anchored regex of
/// the pack tells apart.
pub(crate) struct Alphabet {
    /// Sorted; atom `i` is `starts[i]..starts[i + 1]` (the last one ends
    /// after `char::MAX`). Starts with 0.
    starts: Box<[u32]>,
    /// The atom of every code point below U+10000, built on first use.
    bmp: OnceLock<Box<[u16]>>,
}

impl Alphabet {
    /// The alphabet of these boundaries (`Prepared::char_boundaries`), or
    /// `None` if they are not sorted from 0 or too many for 16-bit atoms.
    pub(crate) fn new(boundaries: &[u32]) -> Option<Alphabet> {
        let sorted = boundaries.windows(2).all(|w| w[0] < w[1]);
        if boundaries.first() != Some(&0) || !sorted || boundaries.len() > usize::from(u16::MAX) {
            return None;
        }
        Some(Alphabet {
            starts: boundaries.into(),
            bmp: OnceLock::new(),
        })
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    /// The atom of code point `c`, by binary search.
    fn atom_of(&self, c: u32) -> usize {
        self.starts.partition_point(|&s| s <= c) - 1
    }

    /// The atom starting exactly at `c` (`len()` for one past `char::MAX`),
    /// or `None` if no atom starts there.
    fn atom_starting_at(&self, c: u32) -> Option<usize> {
        if c > u32::from(char::MAX) {
            return Some(self.len());
        }
        let atom = self.atom_of(c);
        (self.starts[atom] == c).then_some(atom)
    }

    /// The atom of every code point below U+10000.
    fn bmp(&self) -> &[u16] {
        self.bmp.get_or_init(|| {
            let mut table = vec![0u16; 0x10000];
            let ends = self.starts.iter().skip(1).chain(std::iter::once(&u32::MAX));
            for (atom, (&start, &end)) in self.starts.iter().zip(ends).enumerate() {
                let start = (start as usize).min(table.len());
                let end = (end as usize).min(table.len());
                // Atoms are fewer than 2^16 (checked in `new`).
                table[start..end].fill(atom as u16);
            }
            table.into_boxed_slice()
        })
    }
}

/// One NFA state.
#[derive(Clone, Copy)]
enum State {
    /// Reads one character of range set `set`, then goes to `next`.
    Char { set: u32, next: u32 },
    /// Goes to each of `targets[start..start + len]`, in priority order.
    Split { start: u32, len: u32 },
    /// The regex has matched.
    Match,
}

/// A Thompson NFA over characters.
struct Nfa {
    states: Vec<State>,
    /// The targets of all `Split` states.
    targets: Vec<u32>,
    start: u32,
}

/// Builds an [`Nfa`] back to front: each piece is compiled knowing the
/// state that follows it.
#[derive(Default)]
struct Compiler {
    states: Vec<State>,
    targets: Vec<u32>,
    /// The distinct range sets of `Char` states.
    sets: Vec<Vec<(u32, u32)>>,
    set_index: FastMap<Vec<(u32, u32)>, u32>,
}

impl Compiler {
    fn push(&mut self, state: State) -> Option<u32> {
        if self.states.len() >= MAX_NFA_STATES {
            return None;
        }
        self.states.push(state);
        Some(self.states.len() as u32 - 1)
    }

    fn char(&mut self, ranges: &[(u32, u32)], next: u32) -> Option<u32> {
        let set = match self.set_index.get(ranges) {
            Some(&set) => set,
            None => {
                let set = self.sets.len() as u32;
                self.set_index.insert(ranges.to_vec(), set);
                self.sets.push(ranges.to_vec());
                set
            }
        };
        self.push(State::Char { set, next })
    }

    fn split(&mut self, targets: &[u32]) -> Option<u32> {
        let start = self.targets.len() as u32;
        self.targets.extend_from_slice(targets);
        self.push(State::Split {
            start,
            len: targets.len() as u32,
        })
    }

    /// `targets` of an existing split state (a loop's, made before its body).
    fn set_split(&mut self, split: u32, targets: [u32; 2]) {
        let start = self.targets.len() as u32;
        self.targets.extend_from_slice(&targets);
        self.states[split as usize] = State::Split { start, len: 2 };
    }

    /// The first state of `hir` followed by `next`.
    fn compile(&mut self, hir: &Hir, next: u32) -> Option<u32> {
        match hir.kind() {
            HirKind::Empty => Some(next),
            HirKind::Literal(literal) => {
                let text = std::str::from_utf8(&literal.0).ok()?;
                let mut next = next;
                for c in text.chars().rev() {
                    next = self.char(&[(u32::from(c), u32::from(c))], next)?;
                }
                Some(next)
            }
            HirKind::Class(Class::Unicode(class)) => {
                let ranges: Vec<(u32, u32)> = class
                    .iter()
                    .map(|r| (u32::from(r.start()), u32::from(r.end())))
                    .collect();
                self.char(&ranges, next)
            }
            HirKind::Class(Class::Bytes(class)) => {
                if class.iter().any(|r| r.end() >= 0x80) {
                    return None;
                }
                let ranges: Vec<(u32, u32)> = class
                    .iter()
                    .map(|r| (u32::from(r.start()), u32::from(r.end())))
                    .collect();
                self.char(&ranges, next)
            }
            HirKind::Look(_) => None,
            HirKind::Capture(capture) => self.compile(&capture.sub, next),
            HirKind::Concat(subs) => {
                let mut next = next;
                for sub in subs.iter().rev() {
                    next = self.compile(sub, next)?;
                }
                Some(next)
            }
            HirKind::Alternation(subs) => {
                let starts = subs
                    .iter()
                    .map(|sub| self.compile(sub, next))
                    .collect::<Option<Vec<u32>>>()?;
                self.split(&starts)
            }
            HirKind::Repetition(repetition) => {
                let sub = &repetition.sub;
                let order = |body: u32| {
                    if repetition.greedy {
                        [body, next]
                    } else {
                        [next, body]
                    }
                };
                // The optional part first: `x*` is a loop, `x{0,n}` is
                // `(x(x(x)?)?)?`, as regex-automata compiles it.
                let mut tail = match repetition.max {
                    None => {
                        let split = self.split(&[])?;
                        let body = self.compile(sub, split)?;
                        self.set_split(split, order(body));
                        split
                    }
                    Some(max) => {
                        let mut optional = next;
                        for _ in repetition.min..max {
                            let body = self.compile(sub, optional)?;
                            let targets = order(body);
                            optional = self.split(&targets)?;
                        }
                        optional
                    }
                };
                for _ in 0..repetition.min {
                    tail = self.compile(sub, tail)?;
                }
                Some(tail)
            }
        }
    }
}

/// A rule regex as a character DFA, built lazily in its cache.
pub(crate) struct CharRegex {
    nfa: Nfa,
    /// The pack's atoms, shared by all its regexes.
    alphabet: Arc<Alphabet>,
    classes: Classes,
    /// Most bytes of states before the cache starts over.
    capacity: usize,
    /// One cache shared by all threads, as for the byte engine's DFAs: an
    /// anchored search holds the lock for well under a microsecond.
    cache: Mutex<Cache>,
}

/// The DFA states built so far, and scratch space for building more.
struct Cache {
    /// Rows of `stride` transitions, one per state: tagged state ids,
    /// [`DEAD`] or [`UNKNOWN`].
    trans: Vec<u32>,
    /// For each state, its NFA `Char` states in priority order, ended by
    /// [`MATCH_KEY`] if it is a match.
    lists: Vec<Arc<[u32]>>,
    /// State id of each list.
    ids: FastMap<Arc<[u32]>, u32>,
    /// The start state, once known.
    start: Option<u32>,
    /// About how many bytes the states take.
    bytes: usize,
    /// `seen[s] == stamp`: NFA state `s` is already in the list being built.
    seen: Vec<u32>,
    stamp: u32,
    stack: Vec<u32>,
    list: Vec<u32>,
    /// The map key being looked up: a list, then [`MATCH_KEY`] if it matches.
    key: Vec<u32>,
}

impl CharRegex {
    /// The regex of `source` as a character DFA over `alphabet`, or `None`
    /// when it uses what this engine does not support (see the module
    /// documentation) or `alphabet` was not made from it.
    #[cfg(test)]
    pub(crate) fn new(source: &str, alphabet: &Arc<Alphabet>) -> Option<CharRegex> {
        let hir = regex_syntax::Parser::new().parse(source).ok()?;
        CharRegex::from_hir(&hir, alphabet)
    }

    /// [`CharRegex::new`] of a parsed regex.
    pub(crate) fn from_hir(hir: &Hir, alphabet: &Arc<Alphabet>) -> Option<CharRegex> {
        if !hir.properties().look_set().is_empty() {
            return None;
        }
        let mut compiler = Compiler::default();
        let matched = compiler.push(State::Match)?;
        let start = compiler.compile(hir, matched)?;
        let classes = Classes::new(&compiler.sets, alphabet)?;
        let nfa = Nfa {
            states: compiler.states,
            targets: compiler.targets,
            start,
        };
        let cache = Cache {
            trans: Vec::new(),
            lists: Vec::new(),
            ids: FastMap::default(),
            start: None,
            bytes: 0,
            seen: vec![0; nfa.states.len()],
            stamp: 0,
            stack: Vec::new(),
            list: Vec::new(),
            key: Vec::new(),
        };
        Some(CharRegex {
            nfa,
            alphabet: Arc::clone(alphabet),
            classes,
            capacity: CACHE_BYTES,
            cache: Mutex::new(cache),
        })
    }
}

impl CharRegex {
    /// Lock the cache for a run of searches in one text.
    pub(crate) fn searcher(&self) -> Searcher<'_> {
        // A panic elsewhere while holding the lock must not leave a
        // half-updated cache in use: start it over and go on.
        let cache = self.cache.lock().unwrap_or_else(|poisoned| {
            self.cache.clear_poison();
            let mut cache = poisoned.into_inner();
            cache.clear();
            cache
        });
        Searcher {
            regex: self,
            cache,
            bmp: self.alphabet.bmp(),
        }
    }
}

/// [`CharRegex`] searches holding its cache's lock.
pub(crate) struct Searcher<'r> {
    regex: &'r CharRegex,
    cache: std::sync::MutexGuard<'r, Cache>,
    /// The atom of every BMP code point (`Alphabet::bmp`).
    bmp: &'r [u16],
}

impl Searcher<'_> {
    /// The end of the leftmost-first match starting exactly at `start` (a
    /// character boundary of `text`), if there is one.
    pub(crate) fn match_end(&mut self, text: &str, start: usize) -> Option<usize> {
        let bytes = text.as_bytes();
        let mut state = self.start_state();
        if state == DEAD {
            return None;
        }
        let mut end = (state & MATCH != 0).then_some(start);
        let mut at = start;
        loop {
            // The common steps: known transitions to states that are not
            // matches. Match, dead and unknown ids all have `MATCH` set.
            let trans = &self.cache.trans;
            let of_atom = &self.regex.classes.of_atom;
            let (next, class, len) = loop {
                let Some(rest) = bytes.get(at..).filter(|rest| !rest.is_empty()) else {
                    return end;
                };
                let (c, len) = decode(rest);
                let atom = match self.bmp.get(c as usize) {
                    Some(&atom) => usize::from(atom),
                    None => self.regex.alphabet.atom_of(c),
                };
                let class = usize::from(of_atom[atom]);
                let next = trans[(state & !MATCH) as usize + class];
                if next & MATCH != 0 {
                    break (next, class, len);
                }
                at += len;
                state = next;
            };
            let next = if next == UNKNOWN {
                self.compute(&mut state, class)
            } else {
                next
            };
            if next == DEAD {
                return end;
            }
            at += len;
            state = next;
            if state & MATCH != 0 {
                end = Some(at);
            }
        }
    }

    fn start_state(&mut self) -> u32 {
        if let Some(start) = self.cache.start {
            return start;
        }
        let regex = self.regex;
        let cache = &mut *self.cache;
        cache.next_stamp();
        cache.list.clear();
        let matched = closure(&regex.nfa, regex.nfa.start, cache);
        let list = std::mem::take(&mut cache.list);
        let start = if list.is_empty() && !matched {
            DEAD
        } else {
            cache.intern(&list, matched, regex.classes.count)
        };
        cache.list = list;
        cache.start = Some(start);
        start
    }

    /// The state after `state` reads a character of `class`, recorded in
    /// the cache. If the cache was full and started over, `state` is
    /// re-added and updated to its new id.
    fn compute(&mut self, state: &mut u32, class: usize) -> u32 {
        let regex = self.regex;
        let stride = regex.classes.count;
        let cache = &mut *self.cache;
        let source = Arc::clone(&cache.lists[(*state & !MATCH) as usize / stride]);
        cache.next_stamp();
        cache.list.clear();
        let mut matched = false;
        for &s in source.iter().take_while(|&&s| s != MATCH_KEY) {
            if let State::Char { set, next } = regex.nfa.states[s as usize]
                && regex.classes.set_has(set, class)
                && closure(&regex.nfa, next, cache)
            {
                // Leftmost-first: the threads after a match have lower
                // priority than it, and are dropped.
                matched = true;
                break;
            }
        }
        if cache.bytes > regex.capacity {
            cache.clear();
            *state = cache.intern_key(&source, stride);
        }
        let list = std::mem::take(&mut cache.list);
        let next = if list.is_empty() && !matched {
            DEAD
        } else {
            cache.intern(&list, matched, stride)
        };
        cache.list = list;
        cache.trans[(*state & !MATCH) as usize + class] = next;
        next
    }
}

impl Cache {
    fn clear(&mut self) {
        self.trans.clear();
        self.lists.clear();
        self.ids.clear();
        self.start = None;
        self.bytes = 0;
    }

    fn next_stamp(&mut self) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.fill(0);
            self.stamp = 1;
        }
    }

    /// The id of the state with these NFA states (and whether it matches),
    /// added if new.
    fn intern(&mut self, list: &[u32], matched: bool, stride: usize) -> u32 {
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        key.extend_from_slice(list);
        if matched {
            key.push(MATCH_KEY);
        }
        let id = self.intern_key(&key, stride);
        self.key = key;
        id
    }

    /// [`Cache::intern`] of a list already ended by [`MATCH_KEY`] if it matches.
    fn intern_key(&mut self, key: &[u32], stride: usize) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let row = self.trans.len() as u32;
        let id = if key.last() == Some(&MATCH_KEY) {
            row | MATCH
        } else {
            row
        };
        let key: Arc<[u32]> = key.into();
        self.trans.extend(std::iter::repeat_n(UNKNOWN, stride));
        self.lists.push(Arc::clone(&key));
        self.bytes += stride * 4 + key.len() * 4 + 64;
        self.ids.insert(key, id);
        id
    }
}

/// Add to `cache.list` the `Char` states reachable from `start` without
/// reading, in priority order, skipping those already in it. Returns whether
/// a match was reached (the search stops there: what is left has lower
/// priority).
fn closure(nfa: &Nfa, start: u32, cache: &mut Cache) -> bool {
    let stamp = cache.stamp;
    cache.stack.clear();
    cache.stack.push(start);
    while let Some(s) = cache.stack.pop() {
        let seen = &mut cache.seen[s as usize];
        if *seen == stamp {
            continue;
        }
        *seen = stamp;
        match nfa.states[s as usize] {
            State::Match => return true,
            State::Char { .. } => cache.list.push(s),
            State::Split { start, len } => {
                let targets = &nfa.targets[start as usize..(start + len) as usize];
                cache.stack.extend(targets.iter().rev());
            }
        }
    }
    false
}

/// The code point that `rest` starts with (at a character boundary of a
/// `str`) and its length in bytes.
fn decode(rest: &[u8]) -> (u32, usize) {
    let low = |b: u8| u32::from(b & 0x3F);
    match *rest {
        [b0, ..] if b0 < 0x80 => (u32::from(b0), 1),
        [b0, b1, b2, ..] if (0xE0..0xF0).contains(&b0) => {
            (u32::from(b0 & 0x0F) << 12 | low(b1) << 6 | low(b2), 3)
        }
        [b0, b1, ..] if b0 < 0xE0 => (u32::from(b0 & 0x1F) << 6 | low(b1), 2),
        [b0, b1, b2, b3, ..] => (
            u32::from(b0 & 0x07) << 18 | low(b1) << 12 | low(b2) << 6 | low(b3),
            4,
        ),
        // Not after a character boundary: one byte that matches nothing
        // a regex names.
        _ => (u32::MAX, 1),
    }
}

/// The classes of characters a regex tells apart: the atoms of the pack's
/// [`Alphabet`] that each range set of its NFA either contains or not,
/// numbered.
struct Classes {
    /// The class of each atom.
    of_atom: Box<[u8]>,
    /// For each range set of the NFA, the classes it contains (a bit each).
    of_set: Vec<[u64; 4]>,
    /// Number of classes: the length of a row of transitions.
    count: usize,
}

impl Classes {
    /// The classes of a regex whose `Char` states read `sets`, or `None`
    /// if a range does not fall on atom bounds (the alphabet was made from
    /// other regexes) or there are more than 256 classes.
    fn new(sets: &[Vec<(u32, u32)>], alphabet: &Alphabet) -> Option<Classes> {
        let atoms = alphabet.len();
        // Each set's ranges as atom ranges, and every atom where a range
        // begins or ends: the classes are unions of the intervals between.
        let mut cuts = vec![0, atoms];
        let mut atom_sets: Vec<Vec<(usize, usize)>> = Vec::with_capacity(sets.len());
        for set in sets {
            let mut ranges = Vec::with_capacity(set.len());
            for &(first, last) in set {
                let start = alphabet.atom_starting_at(first)?;
                let end = alphabet.atom_starting_at(last + 1)?;
                cuts.extend([start, end]);
                ranges.push((start, end));
            }
            atom_sets.push(ranges);
        }
        cuts.sort_unstable();
        cuts.dedup();
        // The sets containing each interval, a bit per set.
        let intervals = cuts.len() - 1;
        let words = sets.len().div_ceil(64).max(1);
        let mut signatures = vec![0u64; intervals * words];
        for (k, ranges) in atom_sets.iter().enumerate() {
            for &(start, end) in ranges {
                // Both are cuts.
                let first = cuts.partition_point(|&c| c < start);
                let last = cuts.partition_point(|&c| c < end);
                for interval in first..last {
                    signatures[interval * words + k / 64] |= 1 << (k % 64);
                }
            }
        }
        let mut class_of: FastMap<&[u64], usize> = FastMap::default();
        let mut of_atom = vec![0u8; atoms];
        let mut of_set = vec![[0u64; 4]; sets.len()];
        for (interval, signature) in signatures.chunks_exact(words).enumerate() {
            let next = class_of.len();
            let class = *class_of.entry(signature).or_insert(next);
            if class > usize::from(u8::MAX) {
                return None;
            }
            of_atom[cuts[interval]..cuts[interval + 1]].fill(class as u8);
            if class == next {
                for (k, classes) in of_set.iter_mut().enumerate() {
                    if signature[k / 64] >> (k % 64) & 1 != 0 {
                        classes[class / 64] |= 1 << (class % 64);
                    }
                }
            }
        }
        Some(Classes {
            of_atom: of_atom.into_boxed_slice(),
            of_set,
            count: class_of.len(),
        })
    }

    /// Whether range set `set` contains the characters of `class`.
    fn set_has(&self, set: u32, class: usize) -> bool {
        self.of_set[set as usize][class / 64] >> (class % 64) & 1 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex;
    use regex_automata::{Anchored, Input};

    /// The alphabet of these regexes alone, as `prepare` makes it for a pack.
    fn alphabet_of(sources: &[&str]) -> Arc<Alphabet> {
        let mut boundaries = vec![0];
        for source in sources {
            let hir = regex_syntax::Parser::new().parse(source).unwrap();
            crate::prepared::push_char_boundaries(&hir, &mut boundaries);
        }
        crate::prepared::finish_char_boundaries(&mut boundaries);
        Arc::new(Alphabet::new(&boundaries).unwrap())
    }

    /// What regex-automata finds anchored at each character boundary.
    fn reference_ends(regex: &Regex, text: &str) -> Vec<Option<usize>> {
        (0..=text.len())
            .filter(|&at| text.is_char_boundary(at))
            .map(|at| {
                let input = Input::new(text)
                    .span(at..text.len())
                    .anchored(Anchored::Yes);
                regex.search(&input).map(|m| m.end())
            })
            .collect()
    }

    fn char_ends(regex: &CharRegex, text: &str) -> Vec<Option<usize>> {
        let mut searcher = regex.searcher();
        (0..=text.len())
            .filter(|&at| text.is_char_boundary(at))
            .map(|at| searcher.match_end(text, at))
            .collect()
    }

    /// Regexes whose leftmost-first end depends on priorities: greedy and
    /// lazy repetitions, alternatives that are prefixes of each other,
    /// bounded gaps, nested and empty repetitions.
    const TRICKY: &[&str] = &[
        "ア(イ|イウ)",
        "ア(イウ|イ)",
        "ア.{0,3}ウ",
        "ア.{0,3}?ウ",
        "ア[^。\\n]{0,4}(ウ|ウエ)?",
        "(ア|アイ)+?ウ?",
        "ア(イ*)*ウ",
        "ア(イ?)*?ウ",
        "ア(イ|)+",
        "[ア-ウ]{2,4}[0-9]{1,3}",
        "ア(イウ)?イ?.{1,2}$|ア",
        "ア(x|ｙ|😀)+.?",
    ];

    const PIECES: &[&str] = &["ア", "イ", "ウ", "エ", "。", "\n", "1", "x", "😀", "ab"];

    proptest::proptest! {
        /// The character DFA ends every anchored match where regex-automata
        /// does, at every start, with room for all states and with a cache
        /// so small that it starts over during a search.
        #[test]
        fn char_dfa_ends_matches_where_the_byte_engine_does(
            which in 0..TRICKY.len(),
            pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..24),
            tiny_cache in proptest::bool::ANY,
        ) {
            let source = TRICKY[which];
            let text: String = pieces.concat();
            let reference = Regex::new(source).unwrap();
            let alphabet = alphabet_of(&[source]);
            let Some(mut regex) = CharRegex::new(source, &alphabet) else {
                // Only the regex with `$` may be refused.
                proptest::prop_assert!(source.contains('$'));
                return Ok(());
            };
            if tiny_cache {
                regex.capacity = 0;
            }
            proptest::prop_assert_eq!(
                char_ends(&regex, &text),
                reference_ends(&reference, &text)
            );
        }
    }

    /// A regex whose ranges do not fall on the alphabet's atoms (the
    /// alphabet was made from other regexes) is refused, not searched
    /// with the wrong classes.
    #[test]
    fn a_regex_outside_its_alphabet_is_refused() {
        let alphabet = alphabet_of(&["アイ"]);
        assert!(CharRegex::new("アイ", &alphabet).is_some());
        assert!(CharRegex::new("ア[イ-エ]", &alphabet).is_none());
    }

    #[test]
    fn look_arounds_and_non_ascii_bytes_are_left_to_the_byte_engines() {
        for source in ["\\bア", "ア$", "(?-u:\\xff)ア"] {
            let alphabet = alphabet_of(&["ア"]);
            assert!(CharRegex::new(source, &alphabet).is_none(), "{source}");
        }
    }

    #[test]
    fn alphabet_needs_sorted_boundaries_from_zero() {
        assert!(Alphabet::new(&[0, 5, 9]).is_some());
        assert!(Alphabet::new(&[1, 5]).is_none());
        assert!(Alphabet::new(&[0, 5, 5]).is_none());
        assert!(Alphabet::new(&[]).is_none());
    }

    /// Every anchored regex of the built-in pack without a look-around
    /// assertion (the English rules' `\\b`) gets a character DFA, so none
    /// of them pays for byte-level states.
    #[test]
    fn every_anchored_builtin_regex_without_look_arounds_is_a_char_dfa() {
        let engine = crate::Engine::builtin().unwrap();
        let (prepared, alphabet) = engine.prepared_and_alphabet();
        let alphabet = alphabet.expect("the built-in pack has an alphabet");
        let anchored: Vec<_> = prepared
            .regexes
            .iter()
            .filter(|r| r.anchored_only)
            .collect();
        let has_look = |source: &str| {
            let hir = regex_syntax::Parser::new().parse(source).unwrap();
            !hir.properties().look_set().is_empty()
        };
        let refused: Vec<&str> = anchored
            .iter()
            .filter(|r| !has_look(&r.source) && CharRegex::new(&r.source, alphabet).is_none())
            .map(|r| r.source.as_str())
            .collect();
        let with_look = anchored.iter().filter(|r| has_look(&r.source)).count();
        assert!(
            anchored.len() > 1000 && with_look < 100,
            "{} {with_look}",
            anchored.len()
        );
        assert!(refused.is_empty(), "{refused:#?}");
    }
}
