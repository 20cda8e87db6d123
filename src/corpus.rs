//! Labelled-corpus regression: the rule maintainer's safety net.
//!
//! A corpus is a folder with `scam/`, `suspicious/` and `ham/` subfolders; a
//! file's label is its folder and its family the file-name prefix before the
//! first `_` (`parcel_003.txt` → `parcel`). Every file is scored, compared
//! with its label, and summarised as a confusion matrix, per-family recall and
//! a list of mismatches. A baseline (a saved run) turns this into a
//! regression gate: a file that was right and is now wrong, or a rule whose
//! hit count dropped, fails the run even when other files improved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::input::{self, Limits};
use crate::score::Verdict;

/// The labels a corpus file can have (its folder).
pub const LABELS: [(&str, Verdict); 3] = [
    ("scam", Verdict::Scam),
    ("suspicious", Verdict::Suspicious),
    ("ham", Verdict::Clean),
];

/// Errors reading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A path could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The folder has none of scam/, suspicious/, ham/.
    #[error(
        "{0} is not a corpus: it needs scam/, suspicious/ or ham/ subfolders holding .txt or .eml files"
    )]
    NotACorpus(PathBuf),
}

/// One scored corpus file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileResult {
    /// Path relative to the corpus root's parent (stable across machines).
    pub file: String,
    /// Family from the file name.
    pub family: String,
    /// Expected verdict (the folder).
    pub label: Verdict,
    /// Verdict given.
    pub verdict: Verdict,
    /// Score given.
    pub score: f64,
    /// The strongest contributing rules.
    pub top_rules: Vec<String>,
    /// Every rule that hit (distinct).
    #[serde(default)]
    pub rules: Vec<String>,
}

impl FileResult {
    /// Whether the verdict equals the label.
    pub fn ok(&self) -> bool {
        self.label == self.verdict
    }
}

/// Recall of one family: how many of its files got their label.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FamilyStats {
    /// Files of the family.
    pub files: usize,
    /// Files whose verdict equals their label.
    pub correct: usize,
    /// Files at least as severe as their label... for scams: flagged at all (suspicious or scam).
    pub flagged: usize,
}

/// The result of one corpus run, also the baseline file format.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CorpusRun {
    /// Per file, sorted by path.
    pub files: Vec<FileResult>,
    /// `matrix[label][verdict]` counts, with labels and verdicts ordered clean, suspicious, scam.
    pub matrix: [[usize; 3]; 3],
    /// Per label/family stats, keyed `label/family`.
    pub families: BTreeMap<String, FamilyStats>,
    /// Hits per rule over the corpus (files in which the rule fired).
    pub rule_hits: BTreeMap<String, usize>,
}

impl CorpusRun {
    /// Files whose verdict differs from their label.
    pub fn mismatches(&self) -> impl Iterator<Item = &FileResult> {
        self.files.iter().filter(|f| !f.ok())
    }

    /// Precision of the scam verdict (files called scam that are labelled scam).
    pub fn scam_precision(&self) -> f64 {
        let called: usize = (0..3).map(|l| self.matrix[l][2]).sum();
        ratio(self.matrix[2][2], called)
    }

    /// Recall of scam-labelled files (called scam).
    pub fn scam_recall(&self) -> f64 {
        ratio(self.matrix[2][2], self.matrix[2].iter().sum())
    }

    /// Share of ham files called clean.
    pub fn ham_clean_rate(&self) -> f64 {
        ratio(self.matrix[0][0], self.matrix[0].iter().sum())
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// A regression against a baseline.
#[derive(Debug, Clone, Serialize)]
pub enum Regression {
    /// A file that matched its label in the baseline and does not now.
    FileRegressed {
        /// The file.
        file: String,
        /// Verdict in the baseline.
        was: Verdict,
        /// Verdict now.
        now: Verdict,
    },
    /// A rule that fires on fewer corpus files than in the baseline.
    RuleDropped {
        /// Rule id.
        rule: String,
        /// Files before.
        was: usize,
        /// Files now.
        now: usize,
    },
    /// A file that mismatches now and is not a known mismatch of the baseline.
    NewMismatch {
        /// The file.
        file: String,
        /// Its label.
        label: Verdict,
        /// Verdict now.
        now: Verdict,
    },
}

/// List the files of a corpus: `(path, label, family)`, sorted.
pub fn list(root: &Path) -> Result<Vec<(PathBuf, Verdict, String)>, CorpusError> {
    let mut out = Vec::new();
    let mut any = false;
    for (dir, label) in LABELS {
        let d = root.join(dir);
        if !d.is_dir() {
            continue;
        }
        any = true;
        let entries = std::fs::read_dir(&d).map_err(|source| CorpusError::Io {
            path: d.clone(),
            source,
        })?;
        for e in entries {
            let e = e.map_err(|source| CorpusError::Io {
                path: d.clone(),
                source,
            })?;
            let p = e.path();
            if p.is_file() && p.extension().is_some_and(|x| x == "txt" || x == "eml") {
                let stem = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let family = stem.split(['_', '-']).next().unwrap_or("").to_string();
                out.push((p, label, family));
            }
        }
    }
    if !any {
        return Err(CorpusError::NotACorpus(root.to_path_buf()));
    }
    out.sort();
    Ok(out)
}

/// Score every file of the corpora at `roots`.
pub fn run(engine: &Engine, roots: &[PathBuf]) -> Result<CorpusRun, CorpusError> {
    let mut run = CorpusRun::default();
    let limits = Limits::default();
    for root in roots {
        let base = root.parent().unwrap_or(Path::new(""));
        for (path, label, family) in list(root)? {
            let bytes = std::fs::read(&path).map_err(|source| CorpusError::Io {
                path: path.clone(),
                source,
            })?;
            let decoded = input::decode_bytes(&bytes, &limits);
            let analysis = engine.analyze(&decoded.message);
            let mut contributions = analysis.contributions.clone();
            contributions.sort_by(|a, b| b.points.abs().total_cmp(&a.points.abs()));
            let top_rules = contributions
                .iter()
                .take(4)
                .map(|c| format!("{}({:+.1})", c.id, c.points))
                .collect();
            let mut rules: Vec<String> = analysis.hits.iter().map(|h| h.rule.to_string()).collect();
            rules.sort();
            rules.dedup();
            for r in &rules {
                *run.rule_hits.entry(r.clone()).or_default() += 1;
            }
            let file = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            run.matrix[label as usize][analysis.verdict as usize] += 1;
            let stats = run
                .families
                .entry(format!("{}/{}", label_name(label), family))
                .or_default();
            stats.files += 1;
            if analysis.verdict == label {
                stats.correct += 1;
            }
            if analysis.verdict != Verdict::Clean {
                stats.flagged += 1;
            }
            run.files.push(FileResult {
                file,
                family,
                label,
                verdict: analysis.verdict,
                score: analysis.score,
                top_rules,
                rules,
            });
        }
    }
    Ok(run)
}

/// The folder name of a label.
pub fn label_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Scam => "scam",
        Verdict::Suspicious => "suspicious",
        Verdict::Clean => "ham",
    }
}

/// Compare a run with a baseline: what got worse.
pub fn compare(baseline: &CorpusRun, now: &CorpusRun) -> Vec<Regression> {
    let mut out = Vec::new();
    let before: BTreeMap<&str, &FileResult> = baseline
        .files
        .iter()
        .map(|f| (f.file.as_str(), f))
        .collect();
    for f in &now.files {
        match before.get(f.file.as_str()) {
            Some(b) if b.ok() && !f.ok() => out.push(Regression::FileRegressed {
                file: f.file.clone(),
                was: b.verdict,
                now: f.verdict,
            }),
            None if !f.ok() => out.push(Regression::NewMismatch {
                file: f.file.clone(),
                label: f.label,
                now: f.verdict,
            }),
            _ => {}
        }
    }
    for (rule, &was) in &baseline.rule_hits {
        let now_hits = now.rule_hits.get(rule).copied().unwrap_or(0);
        if now_hits < was {
            out.push(Regression::RuleDropped {
                rule: rule.clone(),
                was,
                now: now_hits,
            });
        }
    }
    out
}

/// The repository's seed reports and corpus messages (`tests/seed`,
/// `tests/corpus/{scam,ham,suspicious}`) read as text, with their paths:
/// the real input that differential tests of fast paths run on.
#[cfg(test)]
pub(crate) fn sample_texts() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut texts = Vec::new();
    for dir in ["seed", "corpus/scam", "corpus/ham", "corpus/suspicious"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                texts.push((entry.path(), text));
            }
        }
    }
    texts
}
