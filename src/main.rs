//! The `sagiscan` binary: argument parsing, I/O, colour and exit codes.
//!
//! The library decides; this file and `src/cli/` talk to the person or the
//! mail system. Exit codes are a contract: 0 nothing at or above `--fail-on`,
//! 1 at least one input at or above it (for `test`/`lint`: a failure), 2 usage,
//! I/O or rule-pack error. A closed output pipe ends the run quietly.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
