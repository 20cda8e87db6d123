//! `sagiscan [check] [FILE|-]...`: score each input and report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use sagiscan::report::{self, HumanOptions, Origin, Record};

use super::{CheckArgs, Format, input, load_engine, resolve_lang, use_color};

/// Run `check`; returns the exit code.
pub fn run(args: &CheckArgs) -> Result<u8> {
    let engine = load_engine(&args.pack)?;
    let lang = resolve_lang(args.pack.lang);
    let color = use_color(args.color);
    let width = Some(terminal_width());
    let files: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut reached = false;
    let mut records = Vec::new();
    let mut first = true;
    for path in &files {
        let bytes = input::read_bytes(path, args.max_message_size)?;
        let source = if path.as_os_str() == "-" {
            "-".to_string()
        } else {
            path.display().to_string()
        };
        let limits = sagiscan::input::Limits {
            max_message_size: args.max_message_size,
            ..sagiscan::input::Limits::default()
        };
        let decoded = sagiscan::input::decode_bytes(&bytes, &limits);
        let mut origin = Origin {
            source,
            ..Origin::default()
        };
        decoded.fill_origin(&mut origin);
        let analysis = engine.analyze(&decoded.message);
        reached |= args.fail_on.reached_by(analysis.verdict);
        let mut record = Record::new(origin.clone(), &analysis, engine.pack(), lang);
        record.error = decoded.error.clone();
        record.truncated = decoded.truncated;
        if let Some(e) = &decoded.error {
            eprintln!("sagiscan: warning: {}: {e}", origin.source);
        }
        match args.format {
            Format::Human => {
                if !first && !args.quiet {
                    writeln!(out)?;
                }
                let text = report::render_human(
                    &analysis,
                    &decoded.message,
                    &origin,
                    engine.pack(),
                    HumanOptions {
                        lang,
                        color,
                        quiet: args.quiet,
                        width,
                    },
                );
                out.write_all(text.as_bytes())?;
            }
            Format::Jsonl => {
                serde_json::to_writer(&mut out, &record)?;
                writeln!(out)?;
            }
            Format::Json => records.push(record),
        }
        first = false;
    }
    if args.format == Format::Json {
        if records.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &records[0])?;
        } else {
            serde_json::to_writer_pretty(&mut out, &records)?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(u8::from(reached))
}

/// Columns to wrap the report to: `$COLUMNS` when set, else the terminal's
/// width when stdout is one, else 80.
fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map_or(80, |(terminal_size::Width(w), _)| usize::from(w))
}
