//! Commands for rule maintainers: `lint`, `test` and `rules`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use sagiscan::corpus::{self, CorpusRun, Regression};
use sagiscan::lint::{self, Severity};
use sagiscan::patterns::Lang;

use super::{PackArgs, load_engine, load_engine_with_examples, resolve_lang};

/// Arguments of `lint`.
#[derive(Args, Debug)]
pub struct LintArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    format: ReportFormat,
    /// Also print warnings (normalization surprises, patterns that can never match).
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    pack: PackArgs,
}

/// Output format of maintainer commands.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// Text for people.
    Human,
    /// JSON.
    Json,
    /// JUnit XML (for CI systems; `test` only).
    Junit,
}

/// Run `lint`: exit 1 when a rule's examples fail, 2 when the pack does not load.
pub fn run_lint(args: &LintArgs) -> Result<u8> {
    let engine = load_engine_with_examples(&args.pack)?;
    let report = lint::lint(engine);
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json | ReportFormat::Junit => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        ReportFormat::Human => {
            for f in &report.findings {
                if f.severity == Severity::Warning && !args.verbose {
                    continue;
                }
                let sev = if f.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                };
                writeln!(out, "{}: {sev}: {}: {}", f.location, f.rule, f.message)?;
            }
            let warnings = report.findings.len() - report.errors();
            writeln!(
                out,
                "lint: {} rules, {} examples checked: {} error(s), {} warning(s){}",
                report.rules,
                report.examples,
                report.errors(),
                warnings,
                if warnings > 0 && !args.verbose {
                    " (-v shows warnings)"
                } else {
                    ""
                }
            )?;
        }
    }
    Ok(u8::from(report.errors() > 0))
}

/// Arguments of `test`.
#[derive(Args, Debug)]
pub struct TestArgs {
    /// Corpus folders (each with scam/, suspicious/, ham/).
    #[arg(value_name = "CORPUS", default_value = "tests/corpus")]
    corpora: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    format: ReportFormat,
    /// Compare with a saved run: fail on files that regressed, new mismatches, or rules that fire less.
    /// Mismatches already in the baseline are reported but do not fail.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Save this run as a baseline.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    #[command(flatten)]
    pack: PackArgs,
}

/// Run `test`.
pub fn run_test(args: &TestArgs) -> Result<u8> {
    let engine = load_engine(&args.pack)?;
    let run = corpus::run(engine, &args.corpora)?;
    if run.files.is_empty() {
        anyhow::bail!("no .txt or .eml files in {:?}", args.corpora);
    }
    let regressions = match &args.baseline {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read baseline {}", path.display()))?;
            let base: CorpusRun = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a sagiscan baseline (write one with --write-baseline)",
                    path.display()
                )
            })?;
            Some(corpus::compare(&base, &run))
        }
        None => None,
    };
    if let Some(path) = &args.write_baseline {
        let json = serde_json::to_string_pretty(&run)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write baseline {}", path.display()))?;
    }
    let failed = match &regressions {
        Some(r) => !r.is_empty(),
        None => run.mismatches().next().is_some(),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Human => {
            out.write_all(human_test_report(&run, regressions.as_deref()).as_bytes())?
        }
        ReportFormat::Json => {
            let v = serde_json::json!({
                "matrix": run.matrix,
                "scam_precision": run.scam_precision(),
                "scam_recall": run.scam_recall(),
                "ham_clean_rate": run.ham_clean_rate(),
                "families": run.families,
                "mismatches": run.mismatches().collect::<Vec<_>>(),
                "regressions": regressions,
                "rule_hits": run.rule_hits,
                "passed": !failed,
            });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ReportFormat::Junit => out.write_all(junit(&run, regressions.as_deref()).as_bytes())?,
    }
    Ok(u8::from(failed))
}

fn human_test_report(run: &CorpusRun, regressions: Option<&[Regression]>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "confusion matrix (rows: label, columns: verdict)");
    let _ = writeln!(
        s,
        "{:>12} {:>7} {:>11} {:>6}",
        "", "clean", "suspicious", "scam"
    );
    for (li, name) in [(0, "ham"), (1, "suspicious"), (2, "scam")] {
        let row = run.matrix[li];
        if row.iter().sum::<usize>() == 0 {
            continue;
        }
        let _ = writeln!(s, "{name:>12} {:>7} {:>11} {:>6}", row[0], row[1], row[2]);
    }
    let _ = writeln!(
        s,
        "\nscam precision {:.3}, scam recall {:.3}, ham kept clean {:.3}",
        run.scam_precision(),
        run.scam_recall(),
        run.ham_clean_rate()
    );
    let _ = writeln!(s, "\nper family: correct / flagged / files");
    for (fam, st) in &run.families {
        let _ = writeln!(
            s,
            "  {fam:<24} {:>4} {:>4} {:>4}",
            st.correct, st.flagged, st.files
        );
    }
    let mismatches: Vec<_> = run.mismatches().collect();
    if !mismatches.is_empty() {
        let _ = writeln!(s, "\nmismatches ({}):", mismatches.len());
        for f in mismatches {
            let _ = writeln!(
                s,
                "  {} expected {} got {} (score {:.1}) {}",
                f.file,
                f.label.as_str(),
                f.verdict.as_str(),
                f.score,
                f.top_rules.join(" ")
            );
        }
    }
    if let Some(regs) = regressions {
        if regs.is_empty() {
            let _ = writeln!(s, "\nbaseline: no regressions");
        } else {
            let _ = writeln!(s, "\nregressions against the baseline ({}):", regs.len());
            for r in regs {
                let _ = match r {
                    Regression::FileRegressed { file, was, now } => {
                        writeln!(s, "  {file}: was {}, now {}", was.as_str(), now.as_str())
                    }
                    Regression::NewMismatch { file, label, now } => {
                        writeln!(
                            s,
                            "  {file}: new mismatch, expected {} got {}",
                            label.as_str(),
                            now.as_str()
                        )
                    }
                    Regression::RuleDropped { rule, was, now } => {
                        writeln!(s, "  rule {rule}: fired on {was} files, now {now}")
                    }
                };
            }
        }
    }
    let total = run.files.len();
    let failed = run.mismatches().count();
    let _ = writeln!(s, "\n{} passed, {} failed", total - failed, failed);
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(run: &CorpusRun, regressions: Option<&[Regression]>) -> String {
    let known_ok = |file: &str| {
        regressions.is_some_and(|r| {
            !r.iter().any(|x| matches!(x, Regression::FileRegressed { file: f, .. } | Regression::NewMismatch { file: f, .. } if f == file))
        })
    };
    let failures = run.mismatches().filter(|f| !known_ok(&f.file)).count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuite name=\"sagiscan-corpus\" tests=\"{}\" failures=\"{failures}\">",
        run.files.len()
    );
    for f in &run.files {
        let _ = write!(
            s,
            "  <testcase classname=\"{}\" name=\"{}\"",
            xml_escape(&f.family),
            xml_escape(&f.file)
        );
        if f.ok() || known_ok(&f.file) {
            let _ = writeln!(s, "/>");
        } else {
            let _ = writeln!(
                s,
                "><failure message=\"expected {} got {} (score {:.1})\">{}</failure></testcase>",
                f.label.as_str(),
                f.verdict.as_str(),
                f.score,
                xml_escape(&f.top_rules.join(" "))
            );
        }
    }
    s.push_str("</testsuite>\n");
    s
}

/// Arguments of `rules`.
#[derive(Args, Debug)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    format: ReportFormat,
    /// Also count, per rule, the corpus files it fires on.
    #[arg(long, value_name = "CORPUS")]
    corpus: Vec<PathBuf>,
    #[command(flatten)]
    pack: PackArgs,
}

/// Run `rules`.
pub fn run_rules(args: &RulesArgs) -> Result<u8> {
    let engine = load_engine(&args.pack)?;
    let lang = resolve_lang(args.pack.lang);
    let hits: Option<BTreeMap<String, usize>> = if args.corpus.is_empty() {
        None
    } else {
        Some(corpus::run(engine, &args.corpus)?.rule_hits)
    };
    let pack = engine.pack();
    let mut out = std::io::stdout().lock();
    if args.format != ReportFormat::Human {
        let rules: Vec<_> = pack
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "category": pack.categories[r.category].id,
                    "weight": r.weight,
                    "description": r.description,
                    "signal": r.signal,
                    "location": r.location.to_string(),
                    "hits": hits.as_ref().map(|h| h.get(&r.id).copied().unwrap_or(0)),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rules)?;
        writeln!(out)?;
        return Ok(0);
    }
    for r in &pack.rules {
        let count = hits
            .as_ref()
            .map(|h| format!(" {:>4}", h.get(&r.id).copied().unwrap_or(0)))
            .unwrap_or_default();
        let desc = r.description.get(lang);
        writeln!(
            out,
            "{:<42} {:<15} {:>+5.1}{count}  {desc}",
            r.id, pack.categories[r.category].id, r.weight
        )?;
    }
    if lang == Lang::Ja {
        writeln!(out, "{} ルール", pack.rules.len())?;
    } else {
        writeln!(out, "{} rules", pack.rules.len())?;
    }
    Ok(0)
}
