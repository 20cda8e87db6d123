//! `sagiscan filter`: one message on stdin, the same bytes on stdout with
//! `X-Sagiscan-*` headers added, for procmail, maildrop and Sieve pipes.
//!
//! Fail-open: a filter must never eat mail. If anything goes wrong (the rule
//! pack does not load, the message cannot be decoded, a panic), the input
//! goes out unchanged and the error goes to stderr.

use std::io::{Read, Write};

use anyhow::Result;
use clap::Args;

use sagiscan::input::{self, Limits};
use sagiscan::mail;
use sagiscan::score::{Analysis, Verdict};

use super::{FailOn, PackArgs, load_engine};

/// Arguments of `filter`.
#[derive(Args, Debug)]
pub struct FilterArgs {
    /// Exit with the verdict (1 at or above --fail-on) instead of always 0.
    #[arg(long)]
    exit_code: bool,
    /// With --exit-code: the lowest verdict that exits 1.
    #[arg(long, value_enum, default_value_t = FailOn::Suspicious)]
    fail_on: FailOn,
    /// Largest message scored; larger ones are scored on their start and passed through whole.
    #[arg(long, value_name = "BYTES", default_value_t = 25 * 1024 * 1024)]
    max_message_size: usize,
    #[command(flatten)]
    pack: PackArgs,
}

/// The `X-Sagiscan-*` headers for an analysis, SpamAssassin style.
pub fn filter_headers(analysis: &Analysis) -> Vec<(&'static str, String)> {
    let mut tests: Vec<&str> = analysis
        .contributions
        .iter()
        .filter(|c| c.points != 0.0)
        .map(|c| &*c.id)
        .collect();
    tests.dedup();
    let tests = if tests.is_empty() {
        "none".to_string()
    } else {
        tests.join(",")
    };
    let yes = if analysis.verdict == Verdict::Scam {
        "Yes"
    } else {
        "No"
    };
    vec![
        (
            "X-Sagiscan-Status",
            format!(
                "{yes}, score={:.1} required={:.1} tests={tests}",
                analysis.score, analysis.scam_threshold
            ),
        ),
        ("X-Sagiscan-Verdict", analysis.verdict.as_str().to_string()),
        ("X-Sagiscan-Score", format!("{:.1}", analysis.score)),
    ]
}

/// Run `filter`.
pub fn run(args: &FilterArgs) -> Result<u8> {
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut raw) {
        // Nothing (or only part) was read: pass through what we have.
        eprintln!("sagiscan: filter: cannot read standard input: {e}");
        std::io::stdout().lock().write_all(&raw)?;
        return Ok(0);
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        // No message at all: nothing to tag, nothing to add.
        std::io::stdout().lock().write_all(&raw)?;
        return Ok(0);
    }
    let outcome = std::panic::catch_unwind(|| -> Result<(Vec<u8>, Verdict)> {
        let engine = load_engine(&args.pack)?;
        let limits = Limits {
            max_message_size: args.max_message_size,
            ..Limits::default()
        };
        let decoded = input::decode_bytes(&raw, &limits);
        if let Some(e) = &decoded.error {
            eprintln!("sagiscan: filter: warning: {e}");
            // Bytes that are neither mail nor decodable text: nothing
            // trustworthy to tag, so they pass through untouched.
            if !mail::looks_like_rfc5322(&raw) {
                anyhow::bail!("input is neither a mail message nor decodable text");
            }
        }
        let analysis = engine.analyze(&decoded.message);
        let headers = filter_headers(&analysis);
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok((mail::add_filter_headers(&raw, &pairs), analysis.verdict))
    });
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(Ok((tagged, verdict))) => {
            out.write_all(&tagged)?;
            out.flush()?;
            Ok(if args.exit_code {
                u8::from(args.fail_on.reached_by(verdict))
            } else {
                0
            })
        }
        Ok(Err(e)) => {
            eprintln!("sagiscan: filter: passing the message through unchanged: {e:#}");
            out.write_all(&raw)?;
            out.flush()?;
            Ok(0)
        }
        Err(_) => {
            eprintln!("sagiscan: filter: internal error; passing the message through unchanged");
            out.write_all(&raw)?;
            out.flush()?;
            Ok(0)
        }
    }
}
