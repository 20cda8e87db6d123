//! `sagiscan scan PATH...`: batch-check mbox files, Maildir folders, `.eml`
//! and `.txt` files, one record per message, in input order.
//!
//! A reader thread reads messages sequentially (an mbox is streamed, never
//! loaded whole) into bounded batches and hands them over, so reading
//! overlaps engine loading and scoring. Each batch is cut into chunks that
//! the worker threads score *and format*; the main thread writes the
//! chunks' records in input order as they complete, while the workers go on
//! with the next batch (two batches are in flight, so no worker waits at a
//! batch's end for its last chunk or for the writer). Memory stays flat,
//! the main thread only copies bytes out, and `--jobs` never changes the
//! output.
//! Nothing is lost: every message read yields exactly one record, with
//! `error` set when it could not be decoded.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use sagiscan::input::{self, Limits};
use sagiscan::mail::{self, InputKind, MboxReader};
use sagiscan::report::{OriginRef, RecordJsonWriter};
use sagiscan::{Engine, Verdict};

use super::{FailOn, PackArgs, load_engine, resolve_lang};

/// Output format of `scan`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanFormat {
    /// One line per message: source#index, verdict, score, subject, from.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
}

/// Which messages to print.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnlyArg {
    /// Only scams.
    Scam,
    /// Suspicious messages and scams.
    Suspicious,
}

/// Arguments of `scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// mbox files, Maildir folders, .eml or .txt files, folders (recursive); `-` reads an mbox from stdin.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    format: Option<ScanFormat>,
    /// Print only messages at least this bad (the summary still counts all).
    #[arg(long, value_enum)]
    only: Option<OnlyArg>,
    /// Write flagged messages (suspicious and scam, or --only's level) to this mbox.
    #[arg(long, value_name = "OUT.mbox")]
    quarantine: Option<PathBuf>,
    /// Threads for scoring (default: all cores).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Exit 1 when a message is at least this bad.
    #[arg(long, value_enum, default_value_t = FailOn::Suspicious)]
    fail_on: FailOn,
    /// Largest message scored whole; larger ones are scored on their first part and flagged `truncated`.
    #[arg(long, value_name = "BYTES", default_value_t = 25 * 1024 * 1024)]
    max_message_size: usize,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    pack: PackArgs,
}

/// A message waiting to be scored.
struct Pending {
    /// Its path, or `-`: one allocation per source, shared by all its
    /// messages (a copy per message was an allocation, a copy and a free).
    source: Arc<str>,
    /// Position of the message within its source.
    index: u64,
    /// Byte offset of the message in an mbox (`None` for a single file).
    offset: Option<u64>,
    /// Where its bytes are in its batch's [`Batch::bytes`].
    bytes: std::ops::Range<usize>,
    truncated: bool,
    force_mail: bool,
}

/// Messages read, in order, with their bytes in one buffer: the mbox
/// reader appends each message there directly (no vector, allocation and
/// copy per message), and the buffer goes back to the reader for the next
/// batch once the batch is written.
#[derive(Default)]
struct Batch {
    messages: Vec<Pending>,
    bytes: Vec<u8>,
}

/// A used batch buffer larger than this is freed instead of reused (one
/// huge message must not pin its memory for the rest of the scan).
const RECYCLED_BYTES_MAX: usize = 2 * BATCH_BYTES;

/// Messages per batch, and bytes per batch: the bound on memory in flight.
/// Up to [`BATCHES_IN_FLIGHT`] + [`QUEUED_BATCHES`] + 1 full batches exist
/// at once (being scored and written, queued, and one the reader has filled
/// and waits to hand over). 128, not 256: with the session-7 pack (214
/// rules, whose lazy-DFA states take ~35 MB once warm) 256 put `scan --jobs
/// 2` of 1 GB at 64.4 MiB, over the 64 MB target; 128 gives 60.3 MiB
/// (docs/PERFORMANCE.md).
const BATCH_MESSAGES: usize = 128;
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Full batches waiting between the reader and the scorers. None: the
/// reader fills the next batch while two are in flight, and a filled batch
/// is handed over (rendezvous) when the oldest one is written; that keeps
/// as many batches alive as one in flight and one queued did.
const QUEUED_BATCHES: usize = 0;
/// Batches whose chunks are queued or being scored and written at once:
/// two, so the workers score the next batch while the current one's last
/// chunks finish and its records are written.
const BATCHES_IN_FLIGHT: usize = 2;

#[derive(Default)]
struct Summary {
    counts: [usize; 3],
    errors: usize,
    truncated: usize,
    unreadable: Vec<String>,
    rules: HashMap<String, usize>,
    bytes: u64,
    messages: u64,
}

/// Run `scan`.
pub fn run(args: &ScanArgs) -> Result<u8> {
    let started = Instant::now();
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        ScanFormat::Table
    } else {
        ScanFormat::Jsonl
    });
    let only = args.only.map(|o| match o {
        OnlyArg::Scam => Verdict::Scam,
        OnlyArg::Suspicious => Verdict::Suspicious,
    });
    std::thread::scope(|scope| {
        // The reader splits the input into batches on its own thread (while
        // the engine loads, and then while the previous batch is scored), so
        // reading is never a serial step between batches.
        let (tx, rx) = mpsc::sync_channel(QUEUED_BATCHES);
        let (recycle, recycled) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("sagiscan-reader".into())
            .spawn_scoped(scope, move || {
                Reader {
                    tx,
                    recycled,
                    batch: Batch::default(),
                    unreadable: Vec::new(),
                }
                .read_all(&args.paths, args.max_message_size)
            })
            .context("cannot start the reader thread")?;
        // `rx` is dropped when this returns, early or not, so the reader
        // stops at its next batch instead of blocking the scope's join.
        let scored = score_batches(args, format, only, rx, recycle);
        let unreadable = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
        let (reached, mut summary, progress) = scored?;
        summary.unreadable.splice(0..0, unreadable);
        if let Some(pb) = progress {
            pb.finish_and_clear();
        }
        if !args.quiet {
            eprint!(
                "{}",
                summary_text(&summary, started.elapsed().as_secs_f64())
            );
        }
        if !summary.unreadable.is_empty() {
            return Ok(2);
        }
        Ok(u8::from(reached))
    })
}

/// Load the engine, then score and write every batch the reader sends.
/// Returns whether `--fail-on` was reached, the summary (without the
/// reader's unreadable paths) and the progress bar.
fn score_batches(
    args: &ScanArgs,
    format: ScanFormat,
    only: Option<Verdict>,
    rx: mpsc::Receiver<Batch>,
    recycle: mpsc::Sender<Batch>,
) -> Result<(bool, Summary, Option<indicatif::ProgressBar>)> {
    let engine = load_engine(&args.pack)?;
    let lang = resolve_lang(args.pack.lang);
    let jobs = args.jobs.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start worker threads")?;
    let scorer = Scorer {
        engine,
        limits: Limits {
            max_message_size: args.max_message_size,
            ..Limits::default()
        },
        format,
        only,
        json: RecordJsonWriter::new(engine.pack(), lang),
    };
    let quarantine = match &args.quarantine {
        Some(p) => Some(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut writer = RecordWriter {
        format,
        only,
        fail_on: args.fail_on,
        quarantine,
        quarantine_level: only.unwrap_or(Verdict::Suspicious),
        out: BufWriter::with_capacity(256 * 1024, stdout.lock()),
        summary: Summary::default(),
        rule_counts: vec![0; engine.pack().rules.len()],
        progress: progress_bar(args.quiet),
        json_first: true,
        reached: false,
    };
    if format == ScanFormat::Json {
        writer.out.write_all(b"[")?;
    }
    // Outside the scope: a worker may still send after the writer stopped
    // on an error (the scope waits for it).
    let (done_tx, done_rx) = mpsc::channel();
    pool.in_place_scope(|scope| {
        Pipeline {
            scorer: &scorer,
            done_tx: &done_tx,
            done_rx: &done_rx,
            in_flight: VecDeque::with_capacity(BATCHES_IN_FLIGHT),
            next_chunk: 0,
            arrived: VecDeque::new(),
            spare: Vec::new(),
        }
        .run(scope, &rx, &recycle, &mut writer)
    })?;
    if format == ScanFormat::Json {
        writer.out.write_all(b"\n]\n")?;
    }
    writer.out.flush()?;
    if let Some(q) = writer.quarantine.as_mut() {
        q.flush().context("cannot write the quarantine mbox")?;
    }
    for (rule, &n) in engine.pack().rules.iter().zip(&writer.rule_counts) {
        if n > 0 {
            *writer.summary.rules.entry(rule.id.clone()).or_default() += n;
        }
    }
    Ok((writer.reached, writer.summary, writer.progress))
}

/// The reader thread: turns the paths into batches of messages, in order.
struct Reader {
    tx: mpsc::SyncSender<Batch>,
    /// Written batches coming back, emptied, for their buffers.
    recycled: mpsc::Receiver<Batch>,
    /// The batch being filled.
    batch: Batch,
    /// Paths and streams that could not be read (already reported on stderr).
    unreadable: Vec<String>,
}

/// The scorer hung up (it failed, e.g. stdout closed): stop reading.
struct Stopped;

impl Reader {
    /// Read every path; returns the unreadable ones. Stops early, without
    /// error, when the scoring side has stopped (it reports its own error).
    fn read_all(mut self, paths: &[PathBuf], cap: usize) -> Vec<String> {
        let _ = self.read_paths(paths, cap).and_then(|()| self.flush());
        self.unreadable
    }

    fn read_paths(&mut self, paths: &[PathBuf], cap: usize) -> Result<(), Stopped> {
        let collected = mail::walk_sources(paths);
        for e in &collected.errors {
            self.unreadable.push(e.to_string());
            eprintln!("sagiscan: error: {e}");
        }
        let mut sources = collected.sources;
        if paths.iter().any(|p| p.as_os_str() == "-") {
            sources.retain(|s| s.path.as_os_str() != "-");
            self.read_mbox(Box::new(std::io::stdin()), "-".into(), cap)?;
        }
        for source in sources {
            let name = source.path.display().to_string();
            match source.kind {
                InputKind::Mbox => match File::open(&source.path) {
                    Ok(f) => self.read_mbox(Box::new(f), name, cap)?,
                    Err(e) => self.unreadable(&name, &e),
                },
                _ => match read_capped(&source.path, cap) {
                    Ok((bytes, truncated)) => {
                        let start = self.batch.bytes.len();
                        self.batch.bytes.extend_from_slice(&bytes);
                        self.push(Pending {
                            source: Arc::from(name),
                            index: 0,
                            offset: None,
                            bytes: start..self.batch.bytes.len(),
                            truncated,
                            force_mail: source.kind == InputKind::Eml,
                        })?;
                    }
                    Err(e) => self.unreadable(&name, &e),
                },
            }
        }
        Ok(())
    }

    fn unreadable(&mut self, name: &str, e: &std::io::Error) {
        self.unreadable.push(format!("{name}: {e}"));
        eprintln!("sagiscan: error: cannot read {name}: {e}");
    }

    /// Add a message whose bytes were just appended to the batch's buffer.
    fn push(&mut self, p: Pending) -> Result<(), Stopped> {
        self.batch.messages.push(p);
        if self.batch.messages.len() >= BATCH_MESSAGES || self.batch.bytes.len() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Hand the batch to the scorers (waiting while the queue is full).
    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.messages.is_empty() {
            return Ok(());
        }
        let next = self.recycled.try_recv().unwrap_or_else(|_| Batch {
            messages: Vec::with_capacity(BATCH_MESSAGES),
            bytes: Vec::new(),
        });
        let batch = std::mem::replace(&mut self.batch, next);
        self.tx.send(batch).map_err(|_| Stopped)
    }

    fn read_mbox(
        &mut self,
        reader: Box<dyn Read + Send>,
        source: String,
        cap: usize,
    ) -> Result<(), Stopped> {
        let shared: Arc<str> = Arc::from(source.as_str());
        let mut mbox =
            MboxReader::with_max_message_size(BufReader::with_capacity(256 * 1024, reader), cap);
        let mut index: u64 = 0;
        // Each message is appended to the batch's buffer (which may be a
        // new one after `push`).
        while let Some(m) = mbox.next_into(&mut self.batch.bytes) {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    self.unreadable.push(format!("{source}: {e}"));
                    eprintln!("sagiscan: error: {source}: read failed after {index} messages: {e}");
                    break;
                }
            };
            self.push(Pending {
                source: Arc::clone(&shared),
                index,
                offset: Some(m.offset),
                bytes: m.bytes,
                truncated: m.truncated,
                force_mail: !m.preamble,
            })?;
            index += 1;
        }
        Ok(())
    }
}

/// What the worker threads share to score and format messages.
struct Scorer<'e> {
    engine: &'e Engine,
    limits: Limits,
    format: ScanFormat,
    only: Option<Verdict>,
    /// Formats `jsonl` and `json` records (the pack's rules pre-escaped).
    json: RecordJsonWriter<'e>,
}

/// The main thread's side: writes records in order and keeps the summary.
struct RecordWriter<W: Write> {
    format: ScanFormat,
    only: Option<Verdict>,
    fail_on: FailOn,
    quarantine: Option<BufWriter<File>>,
    quarantine_level: Verdict,
    out: W,
    summary: Summary,
    /// Messages per rule index that the rule added points to (turned into
    /// the summary's `rules` by id at the end: no id strings or hashing
    /// per message).
    rule_counts: Vec<usize>,
    progress: Option<indicatif::ProgressBar>,
    json_first: bool,
    reached: bool,
}

/// One scored message, as the writer needs it: the record is already
/// formatted (by the worker that scored it), the rest feeds the summary.
struct Scored {
    verdict: Verdict,
    error: bool,
    truncated: bool,
    /// Where the indices of the rules that added points (not combos), for
    /// the summary's top rules, are in its chunk's [`ChunkOut::rules`].
    rules: std::ops::Range<usize>,
    /// Where the formatted record (without separators or newline) is in
    /// its chunk's [`ChunkOut::records`]; empty when `--only` hides it.
    out: std::ops::Range<usize>,
}

/// The scored messages of one chunk, in order, and the buffers their
/// [`Scored`] ranges point into.
#[derive(Default)]
struct ChunkOut {
    scored: Vec<Scored>,
    /// The formatted records, one after another.
    records: Vec<u8>,
    /// Rule indices, message after message.
    rules: Vec<usize>,
}

impl ChunkOut {
    fn clear(&mut self) {
        self.scored.clear();
        self.records.clear();
        self.rules.clear();
    }
}

/// Messages scored by one task, formatted into one reused buffer. Chunks
/// are fed continuously across batches, so they need not be small for the
/// threads to share work evenly (only the scan's last chunk can leave a
/// thread idle); 32 instead of 8 wakes the writer a quarter as often (8:
/// ~11,500 context switches on 100 MB with `--jobs 1`, against ~1,400
/// before the overlap).
const CHUNK_MESSAGES: usize = 32;

/// A chunk's outcome as a worker sends it to the writer: the chunk's
/// number (counted across batches) and its records, or `None` when the
/// worker panicked (the scope then re-raises the panic).
type ChunkDone = (u64, Option<ChunkOut>);

/// Sends a chunk's outcome when dropped, so that the writer, which waits
/// for every chunk in order, hears of a worker that panicked instead of
/// waiting forever.
struct DoneGuard<'a> {
    chunk: u64,
    out: Option<ChunkOut>,
    tx: &'a mpsc::Sender<ChunkDone>,
}

impl Drop for DoneGuard<'_> {
    fn drop(&mut self) {
        // The writer has stopped only after an error of its own.
        let _ = self.tx.send((self.chunk, self.out.take()));
    }
}

/// A batch whose chunks were handed to the workers.
struct InFlight {
    /// Shared with the chunk tasks, which drop their references before
    /// reporting, so the writer gets the batch back whole once every chunk
    /// is in.
    batch: Arc<Batch>,
    /// Number of the batch's first chunk.
    first_chunk: u64,
    /// Number of its chunks.
    chunks: u64,
}

/// Feeds chunks to the workers continuously, batch after batch, and writes
/// their records in order as they complete (runs on the main thread, inside
/// the pool's scope).
struct Pipeline<'p, 'e> {
    scorer: &'p Scorer<'e>,
    done_tx: &'p mpsc::Sender<ChunkDone>,
    done_rx: &'p mpsc::Receiver<ChunkDone>,
    /// Batches handed to the workers and not yet fully written, oldest
    /// first; at most [`BATCHES_IN_FLIGHT`].
    in_flight: VecDeque<InFlight>,
    /// Number the next chunk handed out gets.
    next_chunk: u64,
    /// Chunks that completed before the ones ahead of them: entry `i` is
    /// chunk `written + i`, where `written` is the oldest batch's next
    /// chunk to write.
    arrived: VecDeque<Option<ChunkOut>>,
    /// Chunk buffers back from the writer, reused for later chunks.
    spare: Vec<ChunkOut>,
}

impl<'p, 'e: 'p> Pipeline<'p, 'e> {
    /// Score and write every batch `rx` delivers; hands written batches
    /// back through `recycle`.
    fn run<W: Write>(
        mut self,
        scope: &rayon::Scope<'p>,
        rx: &mpsc::Receiver<Batch>,
        recycle: &mpsc::Sender<Batch>,
        writer: &mut RecordWriter<W>,
    ) -> Result<()> {
        let mut reader_done = false;
        let mut written: u64 = 0;
        loop {
            // Keep the workers fed: wait for a batch only when none is in
            // flight, otherwise take one only if it is ready.
            while !reader_done && self.in_flight.len() < BATCHES_IN_FLIGHT {
                let next = if self.in_flight.is_empty() {
                    rx.recv().ok()
                } else {
                    match rx.try_recv() {
                        Ok(batch) => Some(batch),
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => None,
                    }
                };
                match next {
                    Some(batch) => self.spawn(scope, batch),
                    None => reader_done = true,
                }
            }
            if self.in_flight.is_empty() {
                return Ok(());
            }
            let out = self.wait_for(written)?;
            let Some(oldest) = self.in_flight.front() else {
                return Ok(());
            };
            let batch = &oldest.batch;
            let index = usize::try_from(written - oldest.first_chunk).unwrap_or(usize::MAX);
            let start = index.saturating_mul(CHUNK_MESSAGES);
            let messages = batch
                .messages
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take(CHUNK_MESSAGES);
            writer.write_chunk(messages, &batch.bytes, &out)?;
            self.spare.push(out);
            written += 1;
            if written == oldest.first_chunk + oldest.chunks {
                let Some(done) = self.in_flight.pop_front() else {
                    return Ok(());
                };
                if let Some(pb) = &writer.progress {
                    pb.inc(done.batch.messages.len() as u64);
                }
                // Every chunk task has dropped its reference by now.
                if let Ok(mut batch) = Arc::try_unwrap(done.batch)
                    && batch.bytes.capacity() <= RECYCLED_BYTES_MAX
                {
                    batch.messages.clear();
                    batch.bytes.clear();
                    // The reader may have finished: then the batch is just freed.
                    let _ = recycle.send(batch);
                }
            }
        }
    }

    /// Hand a batch's chunks to the workers (in order: the pool's queue for
    /// tasks spawned from outside it is first in, first out).
    fn spawn(&mut self, scope: &rayon::Scope<'p>, batch: Batch) {
        let batch = Arc::new(batch);
        let chunks = batch.messages.len().div_ceil(CHUNK_MESSAGES);
        let first_chunk = self.next_chunk;
        for index in 0..chunks {
            let batch = Arc::clone(&batch);
            let mut out = self.spare.pop().unwrap_or_default();
            let done = DoneGuard {
                chunk: self.next_chunk,
                out: None,
                tx: self.done_tx,
            };
            let scorer = self.scorer;
            scope.spawn(move |_| {
                let mut done = done;
                out.clear();
                let start = index * CHUNK_MESSAGES;
                let messages = batch.messages.get(start..).unwrap_or_default();
                for p in messages.iter().take(CHUNK_MESSAGES) {
                    let message = batch.bytes.get(p.bytes.clone()).unwrap_or_default();
                    scorer.score_one(p, message, &mut out);
                }
                drop(batch);
                done.out = Some(out);
            });
            self.next_chunk += 1;
        }
        self.in_flight.push_back(InFlight {
            batch,
            first_chunk,
            chunks: chunks as u64,
        });
    }

    /// The records of chunk `chunk`, the oldest not yet written, waiting
    /// for it if needed (later chunks that come first are kept).
    fn wait_for(&mut self, chunk: u64) -> Result<ChunkOut> {
        loop {
            if let Some(Some(out)) = self.arrived.front_mut().map(Option::take) {
                self.arrived.pop_front();
                return Ok(out);
            }
            let (n, out) = self
                .done_rx
                .recv()
                .map_err(|_| anyhow::anyhow!("the worker threads stopped"))?;
            let out = out.ok_or_else(|| anyhow::anyhow!("a worker thread panicked"))?;
            let slot = usize::try_from(n.saturating_sub(chunk)).unwrap_or(usize::MAX);
            if self.arrived.len() <= slot {
                self.arrived.resize_with(slot + 1, || None);
            }
            if let Some(entry) = self.arrived.get_mut(slot) {
                *entry = Some(out);
            }
        }
    }
}

impl<W: Write> RecordWriter<W> {
    /// Write one chunk's records (those `--only` keeps) and its messages to
    /// the quarantine, and count them in the summary.
    fn write_chunk<'a>(
        &mut self,
        messages: impl Iterator<Item = &'a Pending>,
        bytes: &[u8],
        out: &ChunkOut,
    ) -> Result<()> {
        for (p, scored) in messages.zip(&out.scored) {
            let record = out.records.get(scored.out.clone()).unwrap_or_default();
            let rules = out.rules.get(scored.rules.clone()).unwrap_or_default();
            let s = &mut self.summary;
            s.messages += 1;
            s.bytes += p.bytes.len() as u64;
            s.counts[scored.verdict as usize] += 1;
            s.errors += usize::from(scored.error);
            s.truncated += usize::from(scored.truncated);
            for &i in rules {
                if let Some(n) = self.rule_counts.get_mut(i) {
                    *n += 1;
                }
            }
            self.reached |= self.fail_on.reached_by(scored.verdict);
            if scored.verdict >= self.quarantine_level
                && scored.verdict != Verdict::Clean
                && let Some(q) = self.quarantine.as_mut()
            {
                let message = bytes.get(p.bytes.clone()).unwrap_or_default();
                write_mbox_message(q, message).context("cannot write the quarantine mbox")?;
            }
            if self.only.is_some_and(|o| scored.verdict < o) {
                continue;
            }
            match self.format {
                ScanFormat::Table | ScanFormat::Jsonl => {
                    self.out.write_all(record)?;
                    self.out.write_all(b"\n")?;
                }
                ScanFormat::Json => {
                    if !self.json_first {
                        self.out.write_all(b",")?;
                    }
                    self.json_first = false;
                    self.out.write_all(b"\n")?;
                    self.out.write_all(record)?;
                }
            }
        }
        Ok(())
    }
}

fn progress_bar(quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} messages ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    Some(pb)
}

/// Read a single-message file, keeping at most `cap` bytes.
fn read_capped(path: &std::path::Path, cap: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let f = File::open(path)?;
    let mut bytes = Vec::new();
    f.take(cap as u64 + 1).read_to_end(&mut bytes)?;
    let truncated = bytes.len() > cap;
    bytes.truncate(cap);
    Ok((bytes, truncated))
}

impl Scorer<'_> {
    /// Decode, analyse and format one message (runs on a worker thread),
    /// appending its record and rules to `out`: the record is written
    /// straight from the analysis, with no record value built.
    fn score_one(&self, p: &Pending, bytes: &[u8], out: &mut ChunkOut) {
        let Scorer {
            engine,
            limits,
            format,
            only,
            json,
        } = self;
        let (format, only) = (*format, *only);
        let decoded = if p.force_mail {
            input::Decoded::from_mail(mail::parse_message(bytes, limits))
        } else {
            input::decode_bytes(bytes, limits)
        };
        let origin = OriginRef {
            source: &p.source,
            index: Some(p.index),
            offset: p.offset,
            message_id: decoded.message_id.as_deref(),
            from: decoded.from.as_deref(),
            subject: decoded.subject.as_deref(),
        };
        let analysis = engine.analyze(&decoded.message);
        let error = decoded.error.as_deref();
        let truncated = decoded.truncated || p.truncated;
        let start = out.records.len();
        if only.is_none_or(|o| analysis.verdict >= o) {
            match format {
                ScanFormat::Table => out.records.extend_from_slice(
                    table_row(&origin, analysis.verdict, analysis.score, error.is_some())
                        .as_bytes(),
                ),
                // The explanation is written by the JSON writer, straight
                // from the pack's prepared sentences; the table shows none.
                ScanFormat::Jsonl | ScanFormat::Json => {
                    json.write_analysis(&mut out.records, &origin, &analysis, error, truncated);
                }
            }
        }
        let rules_start = out.rules.len();
        out.rules.extend(
            analysis
                .contributions
                .iter()
                .filter(|c| c.points > 0.0 && &*c.category != sagiscan::score::COMBO_CATEGORY)
                .filter_map(|c| c.rule_index),
        );
        out.scored.push(Scored {
            verdict: analysis.verdict,
            error: error.is_some(),
            truncated,
            rules: rules_start..out.rules.len(),
            out: start..out.records.len(),
        });
    }
}

/// Append one message to an mbox, mboxrd-quoting `From ` lines.
fn write_mbox_message(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(b"From sagiscan-quarantine Thu Jan  1 00:00:00 1970\n")?;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let unquoted = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
        if line[unquoted..].starts_with(b"From ") {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
    }
    if !bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

fn clip(s: &str, n: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s
    }
}

fn table_row(o: &OriginRef<'_>, verdict: Verdict, score: f64, error: bool) -> String {
    let id = match o.index {
        Some(i) => format!("{}#{i}", o.source),
        None => o.source.to_string(),
    };
    let verdict = if error {
        format!("{}!", verdict.as_str())
    } else {
        verdict.as_str().to_string()
    };
    format!(
        "{id}\t{verdict}\t{score:.1}\t{}\t{}",
        clip(o.subject.unwrap_or("-"), 40),
        clip(o.from.unwrap_or("-"), 40)
    )
}

fn summary_text(s: &Summary, secs: f64) -> String {
    let mut top: Vec<_> = s.rules.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = top
        .iter()
        .take(5)
        .map(|(r, n)| format!("{r} ({n})"))
        .collect();
    let secs = secs.max(1e-6);
    format!(
        "sagiscan: {} messages: {} scam, {} suspicious, {} clean; {} with decoding errors, {} truncated, {} unreadable paths\n\
         sagiscan: top rules: {}\n\
         sagiscan: {:.2} s, {:.0} messages/s, {:.1} MB/s\n",
        s.messages,
        s.counts[Verdict::Scam as usize],
        s.counts[Verdict::Suspicious as usize],
        s.counts[Verdict::Clean as usize],
        s.errors,
        s.truncated,
        s.unreadable.len(),
        if top.is_empty() {
            "-".to_string()
        } else {
            top.join(", ")
        },
        secs,
        s.messages as f64 / secs,
        s.bytes as f64 / secs / 1e6,
    )
}
