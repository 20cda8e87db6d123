//! `sagiscan completions SHELL` and `sagiscan man`: shell completions and a
//! man page generated from the same clap definitions as `--help`, so they
//! cannot drift from the real flags.

use std::io::Write;

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

/// Arguments of `completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Write the completion script for `args.shell` to stdout.
pub fn run_completions(args: &CompletionsArgs) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "sagiscan", &mut out);
    out.flush()?;
    Ok(0)
}

/// Write the man page (roff, section 1) to stdout.
pub fn run_man() -> Result<u8> {
    let cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    out.flush()?;
    Ok(0)
}
