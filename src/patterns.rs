//! Rule pack loading: TOML files in `patterns/` become a validated [`RulePack`].
//!
//! Rule files are product, written by people, so loading is strict
//! (`deny_unknown_fields`) and every problem is collected and reported with
//! file, line and column rather than stopping at the first. The built-in pack
//! is embedded in the binary at compile time so the tool works from any
//! directory; `--patterns DIR` loads another pack from disk.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// Upper bounds that keep an untrusted pack from making the engine slow.
pub mod limits {
    /// Most rules a pack may define.
    pub const MAX_RULES: usize = 10_000;
    /// Most literals over all rules.
    pub const MAX_LITERALS: usize = 200_000;
    /// Most regexes over all rules.
    pub const MAX_REGEXES: usize = 5_000;
    /// Longest literal or regex source, in bytes.
    pub const MAX_PATTERN_LEN: usize = 4_096;
    /// Compiled size limit for one regex (the `regex` crate's `size_limit`).
    pub const REGEX_SIZE_LIMIT: usize = 2 * 1024 * 1024;
    /// Total size of all files of a pack loaded from disk.
    pub const MAX_PACK_BYTES: u64 = 32 * 1024 * 1024;
}

/// A text in both languages the tool speaks.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    /// Japanese text.
    #[serde(default)]
    pub ja: String,
    /// English text.
    #[serde(default)]
    pub en: String,
}

impl Texts {
    /// The text in `lang` (`Ja` or `En`), falling back to the other language when empty.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja if !self.ja.is_empty() => &self.ja,
            Lang::En if !self.en.is_empty() => &self.en,
            _ if !self.ja.is_empty() => &self.ja,
            _ => &self.en,
        }
    }
}

/// Output language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 日本語
    Ja,
    /// English
    En,
}

/// Which text of a message a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Body and subject (the default).
    Text,
    /// The message body only (plain input is all body).
    Body,
    /// The Subject header only.
    Subject,
    /// The From display name.
    From,
    /// Link targets found in HTML (`href`), which are not part of the visible text.
    Link,
    /// Attachment file names.
    Attachment,
}

/// Signals computed from extracted entities rather than phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// Any link at all.
    Url,
    /// A link whose top-level domain is in the rule's `domains` list (e.g. "top", "xyz").
    UrlTld,
    /// A link whose host is an IP address.
    UrlIpLiteral,
    /// A link through a URL shortener (host in the rule's `domains`).
    UrlShortener,
    /// A link written to defeat filters or clicking safety: hxxp, `[.]`, full-width scheme.
    UrlObfuscated,
    /// The message names a brand from the pack's brand list, and links to a host that is not one of its domains.
    BrandDomainMismatch,
    /// A link to a host that no brand of the pack owns, whether a brand is named or not.
    UrlUnowned,
    /// A link host that contains a brand's name or domain label but is not one of its domains.
    BrandLookalikeDomain,
    /// A phone number of one of the rule's `classes`.
    Phone,
    /// A money amount of at least `min_yen`.
    Amount,
    /// The From display name claims an organisation or brand (rule literals, or the brand list)
    /// while the address is on a free-mail / carrier domain (rule `domains`) or not the brand's own.
    FromImpersonation,
    /// An obfuscation trick (spacing, width mixing, zero-width, look-alikes) inside a matched phrase.
    Evasion,
    /// An HTML link whose visible text shows an address on another host than
    /// the one it goes to.
    LinkTextMismatch,
    /// Every link the message offers goes to an official domain of a brand
    /// it names (and not one that hosts user content): the mark of a genuine
    /// notice, for a negative rule.
    OfficialLinksOnly,
}

/// A compiled-pack category: every rule belongs to one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct Category {
    /// Identifier used by rules and combos.
    pub id: String,
    /// Negative categories (warnings about scams, genuine notices) subtract from the score.
    pub negative: bool,
    /// Short name.
    pub name: Texts,
    /// Why hits in this category matter, for the report.
    pub explanation: Texts,
    /// What the reader should do when this category fires.
    pub advice: Texts,
}

/// One rule of the pack.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct Rule {
    /// Unique id, e.g. `prepaid.card-demand`.
    pub id: String,
    /// Index into [`RulePack::categories`].
    pub category: usize,
    /// Points this rule contributes (negative in negative categories).
    pub weight: f64,
    /// What the rule detects.
    pub description: Texts,
    /// Phrases, as written by the author (normalized when the engine is built).
    pub literals: Vec<String>,
    /// Regex sources, as written by the author.
    pub regexes: Vec<String>,
    /// Which text the phrases are matched against.
    pub target: Target,
    /// Entity signal, for non-phrase rules.
    pub signal: Option<Signal>,
    /// Domain list parameter of URL and From signals.
    pub domains: Vec<String>,
    /// Phone classes parameter of the `phone` signal.
    pub classes: Vec<String>,
    /// Minimum amount parameter of the `amount` signal.
    pub min_yen: Option<u64>,
    /// A negative rule that denies what its sentence says ("we never ask
    /// for X", "「X」という電話は詐欺です"): positive phrase hits earlier in
    /// the same sentence are dropped, because the sentence quotes or negates
    /// them instead of asking for them.
    pub negates_sentence: bool,
    /// A positive rule whose hit (on a link the message offers, not one it
    /// quotes) shows the message's own request leading where no genuine
    /// notice would send anyone, such as a brand's look-alike domain: the
    /// warning context then does not apply, because a phishing mail dressed
    /// as the brand's own scam warning is not quoting the scam, it is one.
    pub disarms_warnings: bool,
    /// Messages this rule must fire on.
    pub examples: Vec<String>,
    /// Messages this rule must not fire on.
    pub counterexamples: Vec<String>,
    /// Where the rule is defined.
    pub location: Location,
}

/// A bonus added when all of the listed categories fire together.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct Combo {
    /// Identifier, e.g. `combo.refund-after-prepaid`.
    pub id: String,
    /// Indexes into [`RulePack::categories`], all of which must have fired.
    pub categories: Vec<usize>,
    /// Points added.
    pub bonus: f64,
    /// What the combination means.
    pub description: Texts,
}

/// A brand that scammers impersonate, with its official domains.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct Brand {
    /// Identifier, e.g. `amazon`.
    pub id: String,
    /// Names as they appear in messages (any width or kana).
    pub names: Vec<String>,
    /// Official registrable domains; a host equal to or under one of them is genuine.
    pub domains: Vec<String>,
    /// Anyone can publish under these domains (LINE accounts, shared files,
    /// hosted shops, forms): a link there is the brand's host but not the
    /// brand's word, so it never counts as an official link.
    #[serde(default)]
    pub hosts_user_content: bool,
}

/// Score thresholds and scoring knobs from `pack.toml`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Score at or above which a message is `suspicious`.
    pub suspicious: f64,
    /// Score at or above which a message is `scam`.
    pub scam: f64,
}

/// Scoring knobs (with defaults) from `pack.toml`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    /// Each further distinct rule hit in a category adds this fraction of its weight.
    #[serde(default = "default_extra_factor")]
    pub extra_hit_factor: f64,
    /// A category never contributes more than this multiple of its strongest rule.
    #[serde(default = "default_cap_factor")]
    pub category_cap_factor: f64,
    /// Negative categories together never subtract more than this.
    #[serde(default = "default_max_negative")]
    pub max_negative: f64,
    /// Distinct negative rules that make a text read as an article or warning
    /// *about* scams (it quotes scam phrases while warning). 0 turns this off.
    #[serde(default)]
    pub warning_context_rules: usize,
    /// In warning context, positive points are multiplied by this and combos are not applied.
    #[serde(default = "default_warning_factor")]
    pub warning_context_factor: f64,
    /// In warning context, only this many of the strongest positive categories count (0: all).
    #[serde(default)]
    pub warning_context_max_categories: usize,
}

fn default_warning_factor() -> f64 {
    1.0
}

fn default_extra_factor() -> f64 {
    0.25
}
fn default_cap_factor() -> f64 {
    1.5
}
fn default_max_negative() -> f64 {
    8.0
}

impl Default for Scoring {
    fn default() -> Self {
        Scoring {
            extra_hit_factor: default_extra_factor(),
            category_cap_factor: default_cap_factor(),
            max_negative: default_max_negative(),
            warning_context_rules: 0,
            warning_context_factor: default_warning_factor(),
            warning_context_max_categories: 0,
        }
    }
}

/// A validated rule pack, ready for [`crate::engine::Engine::build`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct RulePack {
    /// Pack name from `pack.toml`.
    pub name: String,
    /// Thresholds for `suspicious` and `scam`.
    pub thresholds: Thresholds,
    /// Scoring knobs.
    pub scoring: Scoring,
    /// Categories in definition order.
    pub categories: Vec<Category>,
    /// Rules in definition order (files sorted by name).
    pub rules: Vec<Rule>,
    /// Combos.
    pub combos: Vec<Combo>,
    /// Impersonated brands.
    pub brands: Vec<Brand>,
}

/// Where something in a rule file is.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
pub struct Location {
    /// The file, as given (e.g. `patterns/prepaid.toml`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem in a rule pack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct PackIssue {
    /// Where.
    pub location: Location,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
}

/// Every problem found while loading a pack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// The pack directory or one of its files could not be read.
    #[error("cannot read rule pack {path}: {message}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
    /// The files were read but are not a valid pack.
    #[error("{} error(s) in rule pack:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<PackIssue>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    pack: Option<RawPackInfo>,
    #[serde(default)]
    thresholds: Option<Spanned<Thresholds>>,
    #[serde(default)]
    scoring: Option<Scoring>,
    #[serde(default)]
    category: Vec<RawCategory>,
    #[serde(default)]
    combo: Vec<RawCombo>,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    brand: Vec<RawBrand>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackInfo {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    id: Spanned<String>,
    #[serde(default)]
    negative: bool,
    name: Texts,
    #[serde(default)]
    explanation: Texts,
    #[serde(default)]
    advice: Texts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCombo {
    id: Spanned<String>,
    categories: Vec<Spanned<String>>,
    bonus: f64,
    #[serde(default)]
    description: Texts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBrand {
    id: Spanned<String>,
    names: Vec<String>,
    domains: Vec<String>,
    #[serde(default)]
    hosts_user_content: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    category: Spanned<String>,
    weight: Spanned<f64>,
    #[serde(default)]
    description: Texts,
    #[serde(default)]
    literals: Vec<Spanned<String>>,
    #[serde(default)]
    regexes: Vec<Spanned<String>>,
    #[serde(default)]
    part: Option<Spanned<String>>,
    #[serde(default)]
    signal: Option<Spanned<String>>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    classes: Vec<Spanned<String>>,
    #[serde(default)]
    min_yen: Option<u64>,
    #[serde(default)]
    negates_sentence: Option<Spanned<bool>>,
    #[serde(default)]
    disarms_warnings: Option<Spanned<bool>>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    counterexamples: Vec<String>,
}

/// Phone classes known to the `phone` signal.
pub const PHONE_CLASSES: &[&str] = &[
    "free-dial",
    "ip-phone",
    "mobile",
    "international",
    "foreign",
    "masked",
    "landline",
];

fn location(file: &str, source: &str, span: Range<usize>) -> Location {
    let start = span.start.min(source.len());
    let before = &source[..floor_char_boundary(source, start)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Location {
        file: file.to_string(),
        line,
        column,
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How thoroughly a loader checks regexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexCheck {
    /// Parse and compile within the size limit (untrusted packs).
    Compile,
    /// No check at load time: the built-in pack, whose regexes `build.rs`
    /// compiles (with [`RegexCheck::Compile`]) when sagiscan itself is built.
    Trusted,
}

/// Load every `*.toml` file of `dir` (sorted by name) as one pack.
pub fn load_dir(dir: &Path) -> Result<RulePack, PackError> {
    let io_err = |path: &Path, e: std::io::Error| PackError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(PackError::Io {
            path: dir.to_path_buf(),
            message:
                "no .toml rule files in this directory (a pack needs pack.toml and rule files)"
                    .into(),
        });
    }
    let mut total = 0u64;
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(&path).map_err(|e| io_err(&path, e))?;
        total += meta.len();
        if total > limits::MAX_PACK_BYTES {
            return Err(PackError::Io {
                path,
                message: format!("rule pack larger than {} bytes", limits::MAX_PACK_BYTES),
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| PackError::Io {
            path: path.clone(),
            message: format!("not UTF-8 ({e}); save rule files as UTF-8"),
        })?;
        files.push((path.display().to_string(), text));
    }
    load_sources(files)
}

/// Load a pack from `(file name, contents)` pairs. This is what `build.rs`
/// (for the built-in pack) and [`load_dir`] use, and what tests call directly.
pub fn load_sources(files: Vec<(String, String)>) -> Result<RulePack, PackError> {
    load_sources_checked(files, RegexCheck::Compile)
}

/// [`load_sources`] with a choice of how regexes are checked.
pub fn load_sources_checked(
    files: Vec<(String, String)>,
    check: RegexCheck,
) -> Result<RulePack, PackError> {
    let mut issues = Vec::new();
    let mut parsed = Vec::new();
    for (name, text) in &files {
        match toml::from_str::<RawFile>(text) {
            Ok(raw) => parsed.push((name.as_str(), text.as_str(), raw)),
            Err(e) => {
                let loc = location(name, text, e.span().unwrap_or(0..0));
                issues.push(PackIssue {
                    location: loc,
                    message: e.message().trim().to_string(),
                });
            }
        }
    }

    // When a file did not parse, its categories are unknown: reporting every
    // rule elsewhere as using an "unknown category" would bury the real error.
    let some_file_unparsed = !issues.is_empty();
    let mut name = None;
    let mut thresholds = None;
    let mut scoring = None;
    let mut categories: Vec<Category> = Vec::new();
    let mut category_index: HashMap<String, usize> = HashMap::new();
    // First pass: pack settings and categories (rules may come before pack.toml in sort order).
    for (file, text, raw) in &mut parsed {
        if let Some(info) = raw.pack.take() {
            name = Some(info.name);
        }
        if let Some(t) = raw.thresholds.take() {
            let span = t.span();
            let t = t.into_inner();
            if thresholds.is_some() {
                issues.push(PackIssue {
                    location: location(file, text, span),
                    message: "[thresholds] defined twice; keep one in pack.toml".into(),
                });
            } else if !(t.suspicious > 0.0 && t.scam >= t.suspicious) {
                issues.push(PackIssue {
                    location: location(file, text, span),
                    message: "thresholds must satisfy 0 < suspicious <= scam".into(),
                });
            }
            thresholds = Some(t);
        }
        if let Some(s) = raw.scoring.take() {
            scoring = Some(s);
        }
        for c in raw.category.drain(..) {
            let span = c.id.span();
            let id = c.id.into_inner();
            if category_index.contains_key(&id) {
                issues.push(PackIssue {
                    location: location(file, text, span),
                    message: format!("duplicate category id `{id}`"),
                });
                continue;
            }
            category_index.insert(id.clone(), categories.len());
            categories.push(Category {
                id,
                negative: c.negative,
                name: c.name,
                explanation: c.explanation,
                advice: c.advice,
            });
        }
    }

    let mut rules = Vec::new();
    let mut combos = Vec::new();
    let mut brands = Vec::new();
    let mut rule_ids: HashSet<String> = HashSet::new();
    let mut total_literals = 0usize;
    let mut total_regexes = 0usize;
    for (file, text, raw) in parsed {
        let loc = |span: Range<usize>| location(file, text, span);
        for c in raw.combo {
            let mut cats = Vec::new();
            for cat in c.categories {
                match category_index.get(cat.get_ref()) {
                    Some(&i) => cats.push(i),
                    None if some_file_unparsed => {}
                    None => issues.push(PackIssue {
                        location: loc(cat.span()),
                        message: format!("unknown category `{}` in combo", cat.get_ref()),
                    }),
                }
            }
            if !rule_ids.insert(c.id.get_ref().clone()) {
                issues.push(PackIssue {
                    location: loc(c.id.span()),
                    message: format!("duplicate id `{}`", c.id.get_ref()),
                });
            }
            combos.push(Combo {
                id: c.id.into_inner(),
                categories: cats,
                bonus: c.bonus,
                description: c.description,
            });
        }
        for b in raw.brand {
            brands.push(Brand {
                id: b.id.into_inner(),
                names: b.names,
                domains: b
                    .domains
                    .into_iter()
                    .map(|d| d.to_ascii_lowercase())
                    .collect(),
                hosts_user_content: b.hosts_user_content,
            });
        }
        for r in raw.rule {
            let rule_loc = loc(r.id.span());
            let id = r.id.get_ref().clone();
            if !rule_ids.insert(id.clone()) {
                issues.push(PackIssue {
                    location: rule_loc.clone(),
                    message: format!("duplicate rule id `{id}`"),
                });
            }
            let category = match category_index.get(r.category.get_ref()) {
                Some(&i) => i,
                None => {
                    if !some_file_unparsed {
                        issues.push(PackIssue {
                            location: loc(r.category.span()),
                            message: format!(
                                "unknown category `{}` (declare it with [[category]] in pack.toml)",
                                r.category.get_ref()
                            ),
                        });
                    }
                    usize::MAX
                }
            };
            let weight = *r.weight.get_ref();
            if !weight.is_finite() || weight.abs() > 100.0 {
                issues.push(PackIssue {
                    location: loc(r.weight.span()),
                    message: "weight must be a finite number between -100 and 100".into(),
                });
            }
            if category != usize::MAX {
                let negative = categories[category].negative;
                if negative != (weight < 0.0) && weight != 0.0 {
                    issues.push(PackIssue {
                        location: loc(r.weight.span()),
                        message: if negative {
                            "rules in a negative category need a negative weight".into()
                        } else {
                            "negative weight in a positive category; put the rule in a negative category".into()
                        },
                    });
                }
            }
            // A flag that only makes sense for one sign of weight: set on
            // a rule of the other sign, it is an error at the flag.
            let mut signed_flag =
                |flag: &Option<Spanned<bool>>, wrong_sign: bool, message: &str| {
                    let set = flag.as_ref().is_some_and(|f| *f.get_ref());
                    if let Some(f) = flag.as_ref().filter(|_| set && wrong_sign) {
                        issues.push(PackIssue {
                            location: loc(f.span()),
                            message: message.into(),
                        });
                    }
                    set && !wrong_sign
                };
            let negates_sentence = signed_flag(
                &r.negates_sentence,
                weight >= 0.0,
                "`negates_sentence` is for negative rules (a genuine notice or warning that denies the phrases before it); remove it or give the rule a negative weight",
            );
            let disarms_warnings = signed_flag(
                &r.disarms_warnings,
                weight <= 0.0,
                "`disarms_warnings` is for positive rules (evidence that the message's own request is a scam's); remove it or give the rule a positive weight",
            );
            let target = match r.part.as_ref().map(|p| p.get_ref().as_str()) {
                None | Some("text") => Target::Text,
                Some("body") => Target::Body,
                Some("subject") => Target::Subject,
                Some("from") => Target::From,
                Some("link") => Target::Link,
                Some("attachment") => Target::Attachment,
                Some(other) => {
                    issues.push(PackIssue {
                        location: loc(r.part.as_ref().map_or(0..0, |p| p.span())),
                        message: format!(
                            "unknown part `{other}` (expected text, body, subject, from, link or attachment)"
                        ),
                    });
                    Target::Text
                }
            };
            let signal = match r.signal.as_ref() {
                None => None,
                Some(s) => match parse_signal(s.get_ref()) {
                    Some(sig) => Some(sig),
                    None => {
                        issues.push(PackIssue {
                            location: loc(s.span()),
                            message: format!("unknown signal `{}`", s.get_ref()),
                        });
                        None
                    }
                },
            };
            if signal.is_none()
                && r.signal.is_none()
                && r.literals.is_empty()
                && r.regexes.is_empty()
            {
                issues.push(PackIssue {
                    location: rule_loc.clone(),
                    message: "rule has no literals, regexes or signal, so it can never fire".into(),
                });
            }
            let mut classes = Vec::new();
            for c in &r.classes {
                if !PHONE_CLASSES.contains(&c.get_ref().as_str()) {
                    issues.push(PackIssue {
                        location: loc(c.span()),
                        message: format!(
                            "unknown phone class `{}` (expected one of {})",
                            c.get_ref(),
                            PHONE_CLASSES.join(", ")
                        ),
                    });
                }
                classes.push(c.get_ref().clone());
            }
            let mut literals = Vec::new();
            for l in r.literals {
                if l.get_ref().trim().is_empty() {
                    issues.push(PackIssue {
                        location: loc(l.span()),
                        message: "empty literal".into(),
                    });
                } else if l.get_ref().len() > limits::MAX_PATTERN_LEN {
                    issues.push(PackIssue {
                        location: loc(l.span()),
                        message: format!("literal longer than {} bytes", limits::MAX_PATTERN_LEN),
                    });
                } else {
                    literals.push(l.into_inner());
                }
            }
            let mut regexes = Vec::new();
            for re in r.regexes {
                let source = re.get_ref();
                if source.len() > limits::MAX_PATTERN_LEN {
                    issues.push(PackIssue {
                        location: loc(re.span()),
                        message: format!("regex longer than {} bytes", limits::MAX_PATTERN_LEN),
                    });
                    continue;
                }
                let checked = match check {
                    RegexCheck::Compile => {
                        validate_regex(&crate::normalize::normalize_regex_source(source))
                    }
                    RegexCheck::Trusted => Ok(()),
                };
                match checked {
                    Ok(()) => regexes.push(re.into_inner()),
                    Err(e) => issues.push(PackIssue {
                        location: loc(re.span()),
                        message: format!("invalid regex: {}", one_line(&e)),
                    }),
                }
            }
            total_literals += literals.len();
            total_regexes += regexes.len();
            rules.push(Rule {
                id,
                category,
                weight,
                description: r.description,
                literals,
                regexes,
                target,
                signal,
                domains: r
                    .domains
                    .into_iter()
                    .map(|d| d.to_ascii_lowercase())
                    .collect(),
                classes,
                min_yen: r.min_yen,
                negates_sentence,
                disarms_warnings,
                examples: r.examples,
                counterexamples: r.counterexamples,
                location: rule_loc,
            });
        }
    }
    let whole = |message: String| PackIssue {
        location: Location {
            file: "pack".into(),
            line: 0,
            column: 0,
        },
        message,
    };
    if rules.len() > limits::MAX_RULES {
        issues.push(whole(format!("more than {} rules", limits::MAX_RULES)));
    }
    if total_literals > limits::MAX_LITERALS {
        issues.push(whole(format!(
            "more than {} literals",
            limits::MAX_LITERALS
        )));
    }
    if total_regexes > limits::MAX_REGEXES {
        issues.push(whole(format!("more than {} regexes", limits::MAX_REGEXES)));
    }
    if thresholds.is_none() && issues.is_empty() {
        issues.push(whole(
            "no [thresholds] table (put `[thresholds] suspicious = .. scam = ..` in pack.toml)"
                .into(),
        ));
    }
    if !issues.is_empty() {
        return Err(PackError::Invalid(issues));
    }
    Ok(RulePack {
        name: name.unwrap_or_else(|| "unnamed".into()),
        thresholds: thresholds.expect("checked above"),
        scoring: scoring.unwrap_or_default(),
        categories,
        rules,
        combos,
        brands,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_signal(s: &str) -> Option<Signal> {
    Some(match s {
        "url" => Signal::Url,
        "url-tld" => Signal::UrlTld,
        "url-ip-literal" => Signal::UrlIpLiteral,
        "url-shortener" => Signal::UrlShortener,
        "url-obfuscated" => Signal::UrlObfuscated,
        "brand-domain-mismatch" => Signal::BrandDomainMismatch,
        "url-unowned" => Signal::UrlUnowned,
        "brand-lookalike-domain" => Signal::BrandLookalikeDomain,
        "phone" => Signal::Phone,
        "amount" => Signal::Amount,
        "from-impersonation" => Signal::FromImpersonation,
        "evasion" => Signal::Evasion,
        "link-text-mismatch" => Signal::LinkTextMismatch,
        "official-links-only" => Signal::OfficialLinksOnly,
        _ => return None,
    })
}

/// Check that `source` compiles as the engine will compile it, with the
/// `regex` crate's messages, at a fraction of the cost: only the forward
/// Thompson NFA is built (that is where syntax errors and the size limit are
/// caught), not the whole meta regex (reverse NFA, prefilters, one-pass DFA),
/// which the engine builds anyway. Start-up went from two full compiles of
/// every regex to this plus the set.
fn validate_regex(source: &str) -> Result<(), String> {
    use regex_automata::nfa::thompson;
    let hir = regex_automata::util::syntax::parse(source).map_err(|e| e.to_string())?;
    thompson::Compiler::new()
        .configure(thompson::Config::new().nfa_size_limit(Some(limits::REGEX_SIZE_LIMIT)))
        .build_from_hir(&hir)
        .map(|_| ())
        .map_err(|e| match e.size_limit() {
            Some(limit) => format!("Compiled regex exceeds size limit of {limit} bytes."),
            None => e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACK: &str = r#"
[pack]
name = "test"
[thresholds]
suspicious = 3.0
scam = 6.0
[[category]]
id = "prepaid"
name = { ja = "プリペイド", en = "Prepaid" }
"#;

    fn load(rules: &str) -> Result<RulePack, PackError> {
        load_sources(vec![
            ("pack.toml".into(), PACK.into()),
            ("rules.toml".into(), rules.into()),
        ])
    }

    fn issues(rules: &str) -> Vec<PackIssue> {
        match load(rules) {
            Err(PackError::Invalid(v)) => v,
            other => panic!("expected invalid pack, got {other:?}"),
        }
    }

    #[test]
    fn loads_a_valid_rule() {
        let pack = load(
            r#"
[[rule]]
id = "prepaid.card"
category = "prepaid"
weight = 4.0
literals = ["プリペイドカード"]
"#,
        )
        .unwrap();
        assert_eq!(pack.rules.len(), 1);
        assert_eq!(pack.rules[0].location.line, 3);
    }

    #[test]
    fn bad_regex_names_file_line_and_column() {
        let found = issues(
            "[[rule]]\nid = \"a\"\ncategory = \"prepaid\"\nweight = 1.0\nregexes = [\"(unclosed\"]\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location.file, "rules.toml");
        assert_eq!(found[0].location.line, 5);
        assert_eq!(found[0].location.column, 12);
        assert!(found[0].message.contains("invalid regex"));
    }

    #[test]
    fn collects_every_error_not_just_the_first() {
        let found = issues(
            r#"
[[rule]]
id = "a"
category = "nope"
weight = 1.0
literals = ["x"]
[[rule]]
id = "a"
category = "prepaid"
weight = 1.0
regexes = ["["]
"#,
        );
        let messages: Vec<_> = found.iter().map(|i| i.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("unknown category `nope`"))
        );
        assert!(messages.iter().any(|m| m.contains("duplicate rule id `a`")));
        assert!(messages.iter().any(|m| m.contains("invalid regex")));
    }

    #[test]
    fn negates_sentence_on_a_positive_rule_is_an_error_with_its_line() {
        let found = issues(
            "[[rule]]\nid = \"a\"\ncategory = \"prepaid\"\nweight = 1.0\nnegates_sentence = true\nliterals = [\"x\"]\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location.line, 5);
        assert!(
            found[0].message.contains("negates_sentence"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn disarms_warnings_on_a_negative_rule_is_an_error_with_its_line() {
        let found = issues(
            "[[rule]]\nid = \"a\"\ncategory = \"prepaid\"\nweight = -1.0\ndisarms_warnings = true\nliterals = [\"x\"]\n",
        );
        let flag = found
            .iter()
            .find(|i| i.message.contains("disarms_warnings"))
            .expect("an issue about the flag");
        assert_eq!(flag.location.line, 5);
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let found = issues(
            "[[rule]]\nid = \"a\"\ncategory = \"prepaid\"\nweight = 1.0\nliteralz = [\"x\"]\n",
        );
        assert_eq!(found[0].location.line, 5);
        assert!(
            found[0].message.contains("literalz"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_broken_pack_toml_is_reported_once_not_as_every_rule_using_an_unknown_category() {
        let found = match load_sources(vec![
            ("pack.toml".into(), format!("{PACK}\nbroken line\n")),
            (
                "rules.toml".into(),
                "[[rule]]\nid = \"a\"\ncategory = \"prepaid\"\nweight = 1.0\nliterals = [\"x\"]\n"
                    .into(),
            ),
        ]) {
            Err(PackError::Invalid(v)) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].location.file, "pack.toml");
    }

    #[test]
    fn builtin_regexes_compile_within_limits() {
        let pack = crate::builtin::load_builtin().unwrap();
        for rule in &pack.rules {
            for re in &rule.regexes {
                let normalized = crate::normalize::normalize_regex_source(re);
                validate_regex(&normalized).unwrap_or_else(|e| panic!("{}: {re}: {e}", rule.id));
            }
        }
    }

    #[test]
    fn builtin_pack_loads() {
        let pack = crate::builtin::load_builtin().unwrap_or_else(|e| panic!("{e}"));
        assert!(!pack.rules.is_empty());
    }
}
