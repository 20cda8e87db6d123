//! The `sagiscan` binary: argument parsing, I/O, colour and exit codes.
//!
//! The library decides; this file and `src/cli/` talk to the person or the
//! mail system. Exit codes are a contract: 0 nothing at or above `--fail-on`,
//! 1 at least one input at or above it (for `test`/`lint`: a failure), 2 usage,
//! I/O or rule-pack error. A closed output pipe ends the run quietly.

mod cli;

use std::process::ExitCode;

/// mimalloc instead of glibc malloc: a scan allocates and frees small
/// strings and vectors per message, part and hit, and glibc's
/// malloc/free/realloc were ~14% of a scan's instructions. Built with
/// `no_thp`: on transparent huge pages its peak RSS went past the 64 MB
/// target (README, dependency notes; docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::run()
}
