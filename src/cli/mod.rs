//! Command-line definitions and the pieces every subcommand shares: loading
//! the engine, choosing the language, writing output that survives `| head`.

mod check;
mod docs;
mod filter;
mod input;
mod maintain;
mod scan;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use sagiscan::Engine;
use sagiscan::Verdict;
use sagiscan::patterns::{self, Lang};

const AFTER_HELP: &str = "\
Exit codes:
  0  nothing at or above --fail-on (default: suspicious)
  1  at least one input at or above --fail-on (test/lint: a failure)
  2  usage, I/O or rule-pack error

Environment:
  LC_ALL, LC_MESSAGES, LANG  report language (first set wins; ja* = Japanese)
  NO_COLOR                   no colour with --color auto
  COLUMNS                    width the report is wrapped to (default: terminal, else 80)

Examples:
  pbpaste | sagiscan                  check a pasted message
  sagiscan message.txt --format json  JSON record for a file
  sagiscan --lang en sms.txt          report in English
  sagiscan -q *.txt                   one verdict line per file
  sagiscan completions bash > ~/.local/share/bash-completion/completions/sagiscan
  sagiscan man > sagiscan.1           man page";

/// sagiscan (詐欺スキャン): is this Japanese SMS or email a scam, and why?
#[derive(Parser, Debug)]
#[command(name = "sagiscan", version, about, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    check: CheckArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Score each input (stdin when none): plain text, or an RFC 5322 message.
    #[command(after_help = AFTER_HELP)]
    Check(CheckArgs),
    /// Batch-check mail: mbox files, Maildir folders, .eml and .txt files, folders (recursive).
    Scan(scan::ScanArgs),
    /// One RFC 5322 message on stdin → the same bytes on stdout with X-Sagiscan-* headers (fail-open).
    Filter(filter::FilterArgs),
    /// Validate the rule pack and run every rule's examples and counterexamples.
    Lint(maintain::LintArgs),
    /// Re-check labelled corpora (folders with scam/, suspicious/, ham/): confusion matrix and mismatches.
    Test(maintain::TestArgs),
    /// List the rules of the pack (with hit counts on a corpus when given one).
    Rules(maintain::RulesArgs),
    /// Print shell completions: `sagiscan completions bash > /etc/bash_completion.d/sagiscan`.
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff): `sagiscan man > sagiscan.1`.
    Man,
}

/// Options shared by every command that uses a rule pack.
#[derive(Args, Debug, Clone)]
pub struct PackArgs {
    /// Use the rule pack in DIR instead of the built-in one.
    #[arg(long, value_name = "DIR", global = true)]
    patterns: Option<PathBuf>,
    /// Language of reports (default: from LC_ALL / LC_MESSAGES / LANG).
    #[arg(long, value_enum, global = true)]
    lang: Option<LangArg>,
}

/// Output language.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum LangArg {
    /// 日本語
    Ja,
    /// English
    En,
}

/// Output format of `check`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A report for people.
    Human,
    /// One JSON object (an array when several inputs).
    Json,
    /// One JSON object per line.
    Jsonl,
}

/// The lowest verdict that makes the exit code 1.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Exit 1 only for scams.
    Scam,
    /// Exit 1 for suspicious messages and scams.
    Suspicious,
    /// Always exit 0 (unless an error occurred).
    Never,
}

impl FailOn {
    /// Whether `verdict` reaches this level.
    pub fn reached_by(self, verdict: Verdict) -> bool {
        match self {
            FailOn::Scam => verdict == Verdict::Scam,
            FailOn::Suspicious => verdict >= Verdict::Suspicious,
            FailOn::Never => false,
        }
    }
}

/// When to colour output.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorArg {
    /// Colour on a terminal, unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Arguments of `check` (also the default command).
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Files to check; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 when an input is at least this bad.
    #[arg(long, value_enum, default_value_t = FailOn::Suspicious)]
    fail_on: FailOn,
    /// Colour the report (auto: on a terminal, unless NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// Print only the verdict line of each input.
    #[arg(long, short)]
    quiet: bool,
    /// Largest input scored whole; larger ones are scored on their start and flagged `truncated`.
    #[arg(long, value_name = "BYTES", default_value_t = 25 * 1024 * 1024)]
    max_message_size: usize,
    #[command(flatten)]
    pack: PackArgs,
}

/// Run the command line and turn the result into an exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse_from(hoist_subcommand(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Scan(args)) => scan::run(&args),
        Some(Command::Filter(args)) => filter::run(&args),
        Some(Command::Lint(args)) => maintain::run_lint(&args),
        Some(Command::Test(args)) => maintain::run_test(&args),
        Some(Command::Rules(args)) => maintain::run_rules(&args),
        Some(Command::Completions(args)) => docs::run_completions(&args),
        Some(Command::Man) => docs::run_man(),
        None => check::run(&cli.check),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("sagiscan: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Let global flags come before the subcommand: `sagiscan --patterns DIR lint`
/// becomes `sagiscan lint --patterns DIR`. Without this, clap reads the flags
/// as the implied `check` command's and `lint` as a file name. Only a
/// subcommand name preceded by nothing but flags (and their values) moves.
fn hoist_subcommand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let command = Cli::command();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    // Long flags that take a separate value, from the definitions themselves.
    let mut takes_value: Vec<String> = Vec::new();
    for c in std::iter::once(&command).chain(command.get_subcommands()) {
        for a in c.get_arguments() {
            if a.get_action().takes_values() {
                if let Some(l) = a.get_long() {
                    takes_value.push(format!("--{l}"));
                }
                if let Some(sh) = a.get_short() {
                    takes_value.push(format!("-{sh}"));
                }
            }
        }
    }
    let mut i = 1;
    while i < args.len() {
        let Some(arg) = args[i].to_str() else {
            return args;
        };
        if arg == "--" || arg == "-" {
            return args;
        }
        if names.iter().any(|n| n == arg) {
            if i > 1 {
                let sub = args.remove(i);
                args.insert(1, sub);
            }
            return args;
        }
        if !arg.starts_with('-') {
            return args; // a file: the implied `check`
        }
        i += if !arg.contains('=') && takes_value.iter().any(|t| t == arg) {
            2
        } else {
            1
        };
    }
    args
}

/// True when the error is a closed output pipe (`sagiscan ... | head`),
/// including one reported through serde_json while writing a record.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}

/// The language from `--lang`, else the locale environment.
pub fn resolve_lang(arg: Option<LangArg>) -> Lang {
    match arg {
        Some(LangArg::Ja) => Lang::Ja,
        Some(LangArg::En) => Lang::En,
        None => lang_from_env(|k| std::env::var(k).ok()),
    }
}

/// Japanese when the first set of LC_ALL, LC_MESSAGES, LANG starts with `ja`.
pub fn lang_from_env(get: impl Fn(&str) -> Option<String>) -> Lang {
    for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Some(v) = get(key).filter(|v| !v.is_empty()) {
            return if v.starts_with("ja") {
                Lang::Ja
            } else {
                Lang::En
            };
        }
    }
    Lang::En
}

/// Load the pack named by `--patterns` (or the built-in one) and build the engine.
///
/// The engine lives until the process exits, so it is leaked rather than
/// dropped: freeing its thousands of allocations was 4% of a one-message check.
pub fn load_engine(args: &PackArgs) -> Result<&'static Engine> {
    load_engine_from(args, Engine::builtin)
}

/// [`load_engine`] for `lint`: the built-in pack keeps its rules' examples
/// (a check leaves them out, see [`Engine::builtin`]).
pub fn load_engine_with_examples(args: &PackArgs) -> Result<&'static Engine> {
    load_engine_from(args, Engine::builtin_with_examples)
}

fn load_engine_from(
    args: &PackArgs,
    builtin: fn() -> Result<Engine, sagiscan::engine::BuildError>,
) -> Result<&'static Engine> {
    let engine = match &args.patterns {
        None => builtin().context("the built-in rule pack did not load")?,
        Some(dir) => {
            let pack = patterns::load_dir(dir)
                .map_err(anyhow::Error::new)
                .with_context(|| format!("rule pack {} did not load", dir.display()))?;
            Engine::build(pack).context("cannot compile the rule pack")?
        }
    };
    Ok(Box::leak(Box::new(engine)))
}

/// Whether to colour output written to stdout.
pub fn use_color(arg: ColorArg) -> bool {
    use std::io::IsTerminal;
    match arg {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    }
}
