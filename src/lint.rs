//! Rule-pack lint: every rule proves itself on its own examples.
//!
//! A rule pack is product, and rule maintainers change it often. `lint` makes
//! each rule carry its evidence: every example must fire the rule, every
//! counterexample must not, every rule and category must speak both
//! languages. It also warns about literals that do not match what the author
//! wrote (normalization changes them beyond kana/case folding), patterns
//! that can never match normalized text, and regexes that every message pays
//! for (searched over the whole text or in long windows, or woken by a one-
//! or two-character word with nothing rarer to rule them out).

use crate::engine::Engine;
use crate::input;
use crate::patterns::{Location, Signal};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look; does not fail lint.
    Warning,
    /// Fails lint.
    Error,
}

/// One lint finding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Rule (or category) id.
    pub rule: String,
    /// Where the rule is defined.
    #[serde(serialize_with = "ser_location")]
    pub location: Location,
    /// What is wrong.
    pub message: String,
}

fn ser_location<S: serde::Serializer>(l: &Location, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&l.to_string())
}

/// The result of linting a pack.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LintReport {
    /// Rules checked.
    pub rules: usize,
    /// Examples and counterexamples run.
    pub examples: usize,
    /// Findings, errors first.
    pub findings: Vec<Finding>,
}

impl LintReport {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// Hiragana→katakana and ASCII lowercase only: the folding authors expect.
fn expected_folding(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Lint every rule and category of the engine's pack.
pub fn lint(engine: &Engine) -> LintReport {
    let pack = engine.pack();
    let mut report = LintReport {
        rules: pack.rules.len(),
        ..LintReport::default()
    };
    let mut push = |severity, rule: &str, location: &Location, message: String| {
        report.findings.push(Finding {
            severity,
            rule: rule.to_string(),
            location: location.clone(),
            message,
        });
    };
    for cat in &pack.categories {
        let loc = Location {
            file: "pack.toml".into(),
            ..Location::default()
        };
        if cat.name.ja.is_empty() || cat.name.en.is_empty() {
            push(
                Severity::Error,
                &cat.id,
                &loc,
                "category name needs both `ja` and `en`".into(),
            );
        }
        if !cat.negative && (cat.explanation.ja.is_empty() || cat.explanation.en.is_empty()) {
            push(
                Severity::Error,
                &cat.id,
                &loc,
                "category explanation needs both `ja` and `en`".into(),
            );
        }
    }
    let mut examples = 0;
    for (ri, rule) in pack.rules.iter().enumerate() {
        if rule.description.ja.is_empty() || rule.description.en.is_empty() {
            push(
                Severity::Error,
                &rule.id,
                &rule.location,
                "description needs both `ja` and `en`".into(),
            );
        }
        if rule.examples.is_empty() {
            push(
                Severity::Error,
                &rule.id,
                &rule.location,
                "rule has no examples: add a message it must fire on".into(),
            );
        }
        if rule.signal.is_none() || rule.signal == Some(Signal::FromImpersonation) {
            for lit in &rule.literals {
                let norm = crate::normalize::normalize_literal(lit);
                if norm.is_empty() {
                    push(
                        Severity::Error,
                        &rule.id,
                        &rule.location,
                        format!("literal {lit:?} normalizes to nothing and can never fire"),
                    );
                } else if norm != expected_folding(lit) {
                    push(
                        Severity::Warning,
                        &rule.id,
                        &rule.location,
                        format!("literal {lit:?} is matched as {norm:?} after normalization"),
                    );
                }
            }
        }
        for re in &rule.regexes {
            let norm = crate::normalize::normalize_regex_source(re);
            if norm.chars().any(|c| {
                ('\u{3041}'..='\u{3096}').contains(&c) || ('\u{FF01}'..='\u{FF5E}').contains(&c)
            }) {
                push(
                    Severity::Warning,
                    &rule.id,
                    &rule.location,
                    format!(
                        "regex {re:?} still contains hiragana or full-width characters after normalization; it can never match those parts"
                    ),
                );
            }
        }
        for ex in &rule.examples {
            examples += 1;
            if !fires(engine, ri, ex) {
                push(
                    Severity::Error,
                    &rule.id,
                    &rule.location,
                    format!("example does not fire: {}", one_line(ex)),
                );
            }
        }
        for ex in &rule.counterexamples {
            examples += 1;
            if fires(engine, ri, ex) {
                push(
                    Severity::Error,
                    &rule.id,
                    &rule.location,
                    format!("counterexample fires: {}", one_line(ex)),
                );
            }
        }
    }
    report.examples = examples;
    for (rule, message) in cost_warnings(pack) {
        if let Some(r) = pack.rules.get(rule) {
            push(Severity::Warning, &r.id, &r.location, message);
        }
    }
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    report
}

/// Longest match, in bytes, of a regex searched in windows around its
/// required literals before `lint -v` calls the windows long (80 Japanese
/// characters).
const MAX_WINDOWED_BYTES: usize = 240;

/// Regexes that cost every message: searched over the whole text (no
/// literal of at least 3 bytes to start from, and no rarer required literal
/// with a bounded length to narrow the search to), searched in long windows
/// around their required literals, or searched at each occurrence of a one-
/// or two-character literal (これ, 口座) with no rarer required literal to
/// rule the search out. Each new pack's regexes cost a few percent of a
/// scan, most of it from a few regexes like these (docs/PERFORMANCE.md);
/// the fix is usually to start the regex at its rare word. Rule index and
/// message.
fn cost_warnings(pack: &crate::patterns::RulePack) -> Vec<(usize, String)> {
    use crate::prepared::Action;
    let (prepared, phrases) = crate::prepared::prepare(pack);
    let mut warnings = Vec::new();
    for &i in &prepared.screened {
        let Some(r) = prepared.regexes.get(i as usize) else {
            continue;
        };
        // Searched in windows around its required literals, but with long
        // gaps: each window runs a whole-text lazy DFA whose states grow
        // with the gap (a `pr…(?s:.){0,200}…` rule cost 4 MB of them).
        if let Some(len) = r
            .max_len
            .filter(|&n| r.required_mask != 0 && n > MAX_WINDOWED_BYTES)
        {
            warnings.push((
                r.rule,
                format!(
                    "regex {:?} (normalized) has no literal of 3+ bytes to start from, and matches up to {len} bytes: it is searched in long windows around its required literals; start it at a rarer word",
                    r.source
                ),
            ));
        }
        if r.required_mask == 0 || r.max_len.is_none() {
            warnings.push((
                r.rule,
                format!(
                    "regex {:?} (normalized) has no literal of 3+ bytes to start from{}: it is searched over the whole of every message; start it at a rarer word",
                    r.source,
                    if r.required_mask == 0 {
                        " and no required literal"
                    } else {
                        ", and its length is unbounded"
                    }
                ),
            ));
        }
    }
    let mut short_triggers: Vec<Vec<&str>> = vec![Vec::new(); prepared.regexes.len()];
    for (value, phrase) in phrases.iter().enumerate() {
        if phrase.chars().count() > 2 {
            continue;
        }
        for action in prepared.actions_of(value as u32) {
            if let Action::Trigger(i) = *action
                && let Some(list) = short_triggers.get_mut(i as usize)
            {
                list.push(phrase);
            }
        }
    }
    for (i, short) in short_triggers.iter().enumerate() {
        if let Some(r) = prepared.regexes.get(i)
            && !short.is_empty()
            && r.required_mask == 0
        {
            warnings.push((
                r.rule,
                format!(
                    "regex {:?} (normalized) wakes at every {:?}, with no rarer required literal to rule it out: start it at a rarer word",
                    r.source, short
                ),
            ));
        }
    }
    warnings
}

fn fires(engine: &Engine, rule: usize, example: &str) -> bool {
    let decoded = input::decode_bytes(example.as_bytes(), &input::Limits::default());
    let (hits, _) = engine.scan(&decoded.message);
    hits.iter().any(|h| h.rule_index == rule)
}

fn one_line(s: &str) -> String {
    let s = s.replace('\n', "⏎");
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}
