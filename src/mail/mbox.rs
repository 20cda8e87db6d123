//! Streaming mbox splitter.
//!
//! Mail administrators scan mbox files of gigabytes, so the file is never
//! loaded whole: lines are read through a bounded buffer and each message is
//! yielded as soon as the next `From ` separator is seen. mail-parser has an
//! mbox iterator too, but it silently drops text before the first separator,
//! reports no offsets and lets one huge message or line take unbounded
//! memory; this one reports offsets, caps every buffer and never drops bytes
//! without saying so.

use std::io::{self, BufRead};

/// Longest line fragment examined at once. Longer lines are passed through
/// in pieces (a `From ` separator is never that long).
const LINE_CAP: usize = 8 * 1024;

/// One message cut out of an mbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Byte offset in the file of the message's `From ` separator line
    /// (0 for a [`preamble`](RawMessage::preamble)).
    pub offset: u64,
    /// The message bytes: separator line removed, `>From ` quoting undone,
    /// the blank line that precedes the next separator removed.
    pub bytes: Vec<u8>,
    /// The message was longer than the reader's cap; `bytes` holds its start.
    pub truncated: bool,
    /// These bytes came before the first `From ` line (not a well-formed
    /// mbox, or an `.eml` given as mbox). Yielded so that nothing is lost;
    /// whitespace-only preambles are not yielded.
    pub preamble: bool,
}

/// A message cut out of an mbox by [`MboxReader::next_into`]: its bytes
/// were appended to the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedMessage {
    /// As [`RawMessage::offset`].
    pub offset: u64,
    /// Where the message's bytes are in the buffer given to
    /// [`MboxReader::next_into`] (the same bytes as [`RawMessage::bytes`]).
    pub bytes: std::ops::Range<usize>,
    /// As [`RawMessage::truncated`].
    pub truncated: bool,
    /// As [`RawMessage::preamble`].
    pub preamble: bool,
}

/// Iterator over the messages of an mbox (mboxo or mboxrd) read from any
/// [`BufRead`].
///
/// A line starting with `From ` separates messages when it is the first
/// line, follows a blank line, or looks like a postmark
/// (`From sender Mon Jul  1 10:00:00 2024`). Lines matching `>+From ` lose
/// one `>` (mboxrd unquoting, which is also right for mboxo's `>From `).
/// Memory use is bounded by the message cap plus a small line buffer.
pub struct MboxReader<R> {
    reader: R,
    pos: u64,
    max_message_size: usize,
    line: Vec<u8>,
    at_line_start: bool,
    prev_blank: bool,
    /// The message being collected; `None` once the last one was yielded.
    current: Option<Current>,
    /// The bytes of `current` so far, from `buf[base..]`. Reused from
    /// message to message, so that each yielded message gets one exactly
    /// sized copy instead of a vector grown by doubling; or, during
    /// [`next_into`](Self::next_into), the caller's buffer, so that the
    /// message needs no copy of its own.
    buf: Vec<u8>,
    /// Where the current message starts in `buf`.
    base: usize,
    done: bool,
    /// Searchers for `\nFrom ` and `\n>`, built once per reader.
    finders: LineStartFinders,
}

/// What is known about the message being collected, besides its bytes.
struct Current {
    offset: u64,
    truncated: bool,
    preamble: bool,
}

/// Messages up to this size are copied out of the reused buffer (exact
/// size); larger ones take the buffer itself, so it never stays huge.
const REUSE_LIMIT: usize = 256 * 1024;

impl<R: BufRead> MboxReader<R> {
    /// A reader with the default cap of 25 MiB per message.
    pub fn new(reader: R) -> Self {
        Self::with_max_message_size(reader, 25 * 1024 * 1024)
    }

    /// A reader that keeps at most `max_message_size` bytes of each message
    /// (the rest is skipped and the message flagged `truncated`).
    pub fn with_max_message_size(reader: R, max_message_size: usize) -> Self {
        MboxReader {
            reader,
            pos: 0,
            max_message_size,
            line: Vec::with_capacity(256),
            at_line_start: true,
            prev_blank: true,
            current: Some(Current {
                offset: 0,
                truncated: false,
                preamble: true,
            }),
            buf: Vec::new(),
            base: 0,
            done: false,
            finders: LineStartFinders::new(),
        }
    }

    /// The next message, its bytes appended to `out` (after what `out`
    /// holds already) instead of copied into a vector of their own: a
    /// batch of messages can share one buffer. Same messages as the
    /// iterator.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> Option<io::Result<AppendedMessage>> {
        std::mem::swap(&mut self.buf, out);
        self.base = self.buf.len();
        let result = self.next_message();
        let message = match result {
            Some(Ok((cur, end))) => {
                self.buf.truncate(end);
                Some(Ok(AppendedMessage {
                    offset: cur.offset,
                    bytes: self.base..end,
                    truncated: cur.truncated,
                    preamble: cur.preamble,
                }))
            }
            Some(Err(e)) => {
                self.buf.truncate(self.base);
                Some(Err(e))
            }
            None => {
                self.buf.truncate(self.base);
                None
            }
        };
        std::mem::swap(&mut self.buf, out);
        self.base = 0;
        message
    }

    /// Read the next line fragment into `self.line`. Returns
    /// `(starts_line, ends_line)` or `None` at end of input.
    fn read_fragment(&mut self) -> io::Result<Option<(bool, bool)>> {
        self.line.clear();
        let starts_line = self.at_line_start;
        let mut complete = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                break;
            }
            let room = LINE_CAP - self.line.len();
            let window = &buf[..buf.len().min(room)];
            let (take, found) = match memchr::memchr(b'\n', window) {
                Some(i) => (i + 1, true),
                None => (window.len(), false),
            };
            self.line.extend_from_slice(&window[..take]);
            self.reader.consume(take);
            self.pos += take as u64;
            if found {
                complete = true;
                break;
            }
            if self.line.len() >= LINE_CAP {
                break;
            }
        }
        if self.line.is_empty() {
            return Ok(None);
        }
        self.at_line_start = complete;
        Ok(Some((starts_line, complete)))
    }

    /// Handle every complete line in the reader's buffer in place (no copy
    /// into `self.line`; runs of ordinary lines are appended in one go).
    /// Stops after a separator that completes a message, which is returned.
    /// Lines that do not end inside the buffer are left to
    /// [`read_fragment`](Self::read_fragment); the rules are the same.
    fn whole_lines(&mut self) -> io::Result<Option<(Current, usize)>> {
        let Self {
            reader,
            pos,
            max_message_size,
            prev_blank,
            current,
            buf: msg,
            base,
            finders,
            ..
        } = self;
        let (max, base) = (*max_message_size, *base);
        let data = loop {
            match reader.fill_buf() {
                Ok(b) => break b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        // Only complete lines are handled here; the rest is left to the
        // line reader.
        let limit = memchr::memrchr(b'\n', data).map_or(0, |i| i + 1);
        let lines = &data[..limit];
        // Only lines starting with `From ` or `>` need a look: the others
        // are appended in runs without being visited one by one.
        let mut candidates = LineStartCandidates::new(lines, finders);
        let mut start = 0;
        let mut run = 0;
        let mut done = None;
        while let Some(line_start) = candidates.next_from(start) {
            // Lines skipped since `start` were ordinary; the blank-line
            // state is that of the line just before this one.
            if line_start > start {
                *prev_blank = ends_with_blank_line(&lines[start..line_start]);
            }
            start = line_start;
            let Some(nl) = memchr::memchr(b'\n', &lines[start..]) else {
                break;
            };
            let end = start + nl + 1;
            let line = &lines[start..end];
            // A line longer than LINE_CAP is a fragment to the line reader:
            // never a separator, and only its first LINE_CAP bytes are
            // looked at.
            let head = &line[..line.len().min(LINE_CAP)];
            if line.len() <= LINE_CAP
                && line.starts_with(b"From ")
                && (*prev_blank || looks_like_postmark(line))
            {
                if let Some(cur) = current.as_mut() {
                    append(msg, base, cur, max, &data[run..start]);
                }
                *prev_blank = false;
                let previous = current.replace(Current {
                    offset: *pos + start as u64,
                    truncated: false,
                    preamble: false,
                });
                done = previous.and_then(|m| take_message(msg, base, m));
                start = end;
                run = end;
                if done.is_some() {
                    break;
                }
                continue;
            }
            if line[0] == b'>' && is_quoted_from(head) {
                if let Some(cur) = current.as_mut() {
                    append(msg, base, cur, max, &data[run..start]);
                    append(msg, base, cur, max, &line[1..]);
                }
                run = end;
            }
            *prev_blank = line == b"\n" || line == b"\r\n";
            start = end;
        }
        if done.is_none() && limit > start {
            *prev_blank = ends_with_blank_line(&lines[start..limit]);
            start = limit;
        }
        if let Some(cur) = current.as_mut() {
            append(msg, base, cur, max, &data[run..start]);
        }
        reader.consume(start);
        *pos += start as u64;
        Ok(done)
    }
}

/// Whether the last line of `lines` (complete lines, at least one) is blank
/// (`\n` or `\r\n`).
fn ends_with_blank_line(lines: &[u8]) -> bool {
    matches!(
        lines,
        [.., b'\n', b'\n'] | [b'\n'] | [b'\r', b'\n'] | [.., b'\n', b'\r', b'\n']
    )
}

/// The substring searchers of [`LineStartCandidates`] (building one costs
/// more than a typical search).
struct LineStartFinders {
    from: memchr::memmem::Finder<'static>,
    quote: memchr::memmem::Finder<'static>,
}

impl LineStartFinders {
    fn new() -> Self {
        LineStartFinders {
            from: memchr::memmem::Finder::new(b"\nFrom "),
            quote: memchr::memmem::Finder::new(b"\n>"),
        }
    }
}

/// Finds, in a run of complete lines, the starts of the lines that begin
/// with `From ` or `>` (the only ones the splitter must look at), with two
/// vectorised substring searches instead of a visit to every line.
struct LineStartCandidates<'a> {
    lines: &'a [u8],
    finders: &'a LineStartFinders,
    /// Next line start at or after the last query whose line begins with
    /// `From ` (`usize::MAX`: none left); `None`: not searched yet.
    next_from: Option<usize>,
    /// The same for lines beginning with `>`, searched no further than
    /// `next_from` (a line start found there may be that line).
    next_quote: Option<usize>,
}

impl<'a> LineStartCandidates<'a> {
    fn new(lines: &'a [u8], finders: &'a LineStartFinders) -> Self {
        LineStartCandidates {
            lines,
            finders,
            next_from: None,
            next_quote: None,
        }
    }

    /// The first candidate line start at or after `at` (a line start).
    fn next_from(&mut self, at: usize) -> Option<usize> {
        if self.next_from.is_none_or(|p| p < at) {
            self.next_from = Some(find_line_start(self.lines, at, &self.finders.from));
        }
        let next_from = self.next_from.unwrap_or(usize::MAX);
        if self.next_quote.is_none_or(|p| p < at) {
            // Searched only up to the next `From ` line: the splitter often
            // stops there (end of a message), and a search to the end of a
            // large buffer for each message would make splitting quadratic.
            // "None before it" is noted as that line, a candidate anyway.
            let bound = next_from.min(self.lines.len());
            let quote = find_line_start(&self.lines[..bound], at, &self.finders.quote);
            self.next_quote = Some(quote.min(next_from));
        }
        let next = next_from.min(self.next_quote.unwrap_or(usize::MAX));
        (next != usize::MAX).then_some(next)
    }
}

/// The first line start at or after `at` (itself a line start) whose line
/// begins with the finder's needle minus its leading `\n`, or `usize::MAX`.
fn find_line_start(lines: &[u8], at: usize, finder: &memchr::memmem::Finder<'_>) -> usize {
    let prefix = &finder.needle()[1..];
    if lines.get(at..).is_some_and(|rest| rest.starts_with(prefix)) {
        return at;
    }
    match lines.get(at..).and_then(|rest| finder.find(rest)) {
        Some(i) => at + i + 1,
        None => usize::MAX,
    }
}

/// Append `data` to the message in `msg[base..]`, up to the size cap.
fn append(msg: &mut Vec<u8>, base: usize, cur: &mut Current, max: usize, data: &[u8]) {
    let room = max.saturating_sub(msg.len() - base);
    if data.len() > room {
        msg.extend_from_slice(&data[..room]);
        cur.truncated = true;
    } else {
        msg.extend_from_slice(data);
    }
}

/// The finished message collected in `msg[base..]`, as the message and
/// where its bytes end in `msg` (the blank line that separates a message
/// from the next `From ` is not part of them, and is dropped from `msg`
/// by the caller), or `None` for a whitespace-only preamble (dropped here).
fn take_message(msg: &mut Vec<u8>, base: usize, cur: Current) -> Option<(Current, usize)> {
    let bytes = &msg[base..];
    if cur.preamble && bytes.iter().all(|b| b.is_ascii_whitespace()) {
        msg.truncate(base);
        return None;
    }
    let end = if bytes.ends_with(b"\r\n\r\n") {
        msg.len() - 2
    } else if bytes.ends_with(b"\n\n") {
        msg.len() - 1
    } else {
        msg.len()
    };
    Some((cur, end))
}

/// `From sender Mon Jul  1 10:00:00 2024`: a sender token and a time.
fn looks_like_postmark(line: &[u8]) -> bool {
    let rest = &line[5..];
    let Some(sp) = memchr::memchr(b' ', rest) else {
        return false;
    };
    if sp == 0 {
        return false;
    }
    let date = &rest[sp..];
    date.windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit())
}

/// `>From `, `>>From `, ...
fn is_quoted_from(line: &[u8]) -> bool {
    let n = line.iter().take_while(|&&b| b == b'>').count();
    n > 0 && line[n..].starts_with(b"From ")
}

impl<R: BufRead> MboxReader<R> {
    /// Collect the next message in `self.buf[self.base..]`: the message and
    /// where its bytes end.
    fn next_message(&mut self) -> Option<io::Result<(Current, usize)>> {
        if self.done {
            return None;
        }
        loop {
            if self.at_line_start {
                match self.whole_lines() {
                    Ok(Some(m)) => return Some(Ok(m)),
                    Ok(None) => {}
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            let line_offset = self.pos;
            let (starts_line, ends_line) = match self.read_fragment() {
                Ok(Some(f)) => f,
                Ok(None) => {
                    self.done = true;
                    let cur = self.current.take()?;
                    return take_message(&mut self.buf, self.base, cur).map(Ok);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            let Some(cur) = self.current.as_mut() else {
                continue;
            };
            if !starts_line {
                append(
                    &mut self.buf,
                    self.base,
                    cur,
                    self.max_message_size,
                    &self.line,
                );
                continue;
            }
            let blank = ends_line && (self.line == b"\n" || self.line == b"\r\n");
            let separator = ends_line
                && self.line.starts_with(b"From ")
                && (self.prev_blank || looks_like_postmark(&self.line));
            self.prev_blank = blank;
            if separator {
                let previous = self.current.replace(Current {
                    offset: line_offset,
                    truncated: false,
                    preamble: false,
                });
                if let Some(m) = previous.and_then(|m| take_message(&mut self.buf, self.base, m)) {
                    return Some(Ok(m));
                }
                continue;
            }
            let data = if is_quoted_from(&self.line) {
                &self.line[1..]
            } else {
                &self.line[..]
            };
            append(&mut self.buf, self.base, cur, self.max_message_size, data);
        }
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = io::Result<RawMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        let (cur, end) = match self.next_message()? {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        let bytes = if end > REUSE_LIMIT {
            self.buf.truncate(end);
            std::mem::take(&mut self.buf)
        } else {
            let bytes = self.buf[..end].to_vec();
            self.buf.clear();
            bytes
        };
        Some(Ok(RawMessage {
            offset: cur.offset,
            bytes,
            truncated: cur.truncated,
            preamble: cur.preamble,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    fn split(data: &[u8]) -> Vec<RawMessage> {
        MboxReader::new(Cursor::new(data.to_vec()))
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn splits_unquotes_and_reports_offsets() {
        let data = b"From a@x Mon Jul  1 10:00:00 2024\nSubject: 1\n\n>From here\n>>From there\n>Fromage\n\nFrom b@x Mon Jul  1 10:01:00 2024\nSubject: 2\n\nbody\n";
        let msgs = split(data);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].offset, 0);
        assert_eq!(
            msgs[0].bytes,
            b"Subject: 1\n\nFrom here\n>From there\n>Fromage\n"
        );
        let second = data.windows(6).rposition(|w| w == b"From b").unwrap() as u64;
        assert_eq!(msgs[1].offset, second);
        assert_eq!(msgs[1].bytes, b"Subject: 2\n\nbody\n");
        assert!(msgs.iter().all(|m| !m.truncated && !m.preamble));
    }

    #[test]
    fn from_in_body_without_blank_line_or_postmark_is_text() {
        let data = b"From a@x Mon Jul  1 10:00:00 2024\nSubject: 1\n\nline\nFrom me to you\n";
        let msgs = split(data);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].bytes, b"Subject: 1\n\nline\nFrom me to you\n");
    }

    #[test]
    fn preamble_is_yielded_not_lost() {
        let msgs = split(b"garbage line\n\nFrom a@x Mon Jul  1 10:00:00 2024\nSubject: 1\n\nx\n");
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].preamble);
        assert_eq!(msgs[0].offset, 0);
        assert_eq!(msgs[0].bytes, b"garbage line\n");
        assert!(!msgs[1].preamble);
        assert_eq!(msgs[1].offset, 14);
        // Whitespace-only preambles are not messages.
        assert_eq!(
            split(b"\n\nFrom a@x Mon Jul  1 10:00:00 2024\nS: 1\n\nx\n").len(),
            1
        );
        assert!(split(b"").is_empty());
    }

    #[test]
    fn crlf_mbox() {
        let msgs = split(b"From a Mon Jul  1 10:00:00 2024\r\nS: 1\r\n\r\n>From x\r\n\r\nFrom b Mon Jul  1 10:00:00 2024\r\nS: 2\r\n\r\ny\r\n");
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].bytes, b"S: 1\r\n\r\nFrom x\r\n");
        assert_eq!(msgs[1].bytes, b"S: 2\r\n\r\ny\r\n");
    }

    #[test]
    fn oversized_message_is_truncated_not_skipped_and_long_lines_pass() {
        let mut data = b"From a Mon Jul  1 10:00:00 2024\nS: 1\n\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100_000));
        data.extend_from_slice(b"\n>From q\n\nFrom b Mon Jul  1 10:00:00 2024\nS: 2\n\nok\n");
        let msgs: Vec<_> = MboxReader::with_max_message_size(
            BufReader::with_capacity(64, Cursor::new(&data)),
            1000,
        )
        .map(|r| r.unwrap())
        .collect();
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].truncated);
        assert_eq!(msgs[0].bytes.len(), 1000);
        assert!(!msgs[1].truncated);
        assert_eq!(msgs[1].bytes, b"S: 2\n\nok\n");
        // Without a cap the long line comes through whole, in fragments.
        let msgs = split(&data);
        assert_eq!(msgs[0].bytes.len(), 6 + 100_000 + 1 + 7);
        assert!(msgs[0].bytes.ends_with(b"x\nFrom q\n"));
    }

    /// The line-by-line reader this module had before the whole-line fast
    /// path: every line copied into a line buffer, then appended. Kept as
    /// the reference the fast path must agree with.
    /// The messages `MboxReader` reads from `data` through a buffer of
    /// `buf_size` bytes, with messages capped at `max`.
    fn split_buffered(data: &[u8], buf_size: usize, max: usize) -> Vec<RawMessage> {
        MboxReader::with_max_message_size(
            BufReader::with_capacity(buf_size, Cursor::new(data)),
            max,
        )
        .map(|r| r.unwrap())
        .collect()
    }

    fn reference_split(data: &[u8], buf_size: usize, max: usize) -> Vec<RawMessage> {
        let mut reader = BufReader::with_capacity(buf_size, Cursor::new(data));
        let (mut pos, mut at_line_start, mut prev_blank) = (0u64, true, true);
        let mut line = Vec::new();
        let mut out = Vec::new();
        let mut current = RawMessage {
            offset: 0,
            bytes: Vec::new(),
            truncated: false,
            preamble: true,
        };
        let keep = |m: RawMessage, out: &mut Vec<RawMessage>| {
            if !m.preamble || !m.bytes.iter().all(|b| b.is_ascii_whitespace()) {
                let mut m = m;
                if m.bytes.ends_with(b"\r\n\r\n") {
                    m.bytes.truncate(m.bytes.len() - 2);
                } else if m.bytes.ends_with(b"\n\n") {
                    m.bytes.truncate(m.bytes.len() - 1);
                }
                out.push(m);
            }
        };
        loop {
            line.clear();
            let line_offset = pos;
            let starts_line = at_line_start;
            let mut complete = false;
            loop {
                let buf = reader.fill_buf().unwrap();
                if buf.is_empty() {
                    break;
                }
                let window = &buf[..buf.len().min(LINE_CAP - line.len())];
                let (take, found) = match memchr::memchr(b'\n', window) {
                    Some(i) => (i + 1, true),
                    None => (window.len(), false),
                };
                line.extend_from_slice(&window[..take]);
                reader.consume(take);
                pos += take as u64;
                if found {
                    complete = true;
                    break;
                }
                if line.len() >= LINE_CAP {
                    break;
                }
            }
            if line.is_empty() {
                keep(current, &mut out);
                return out;
            }
            at_line_start = complete;
            let mut data = &line[..];
            if starts_line {
                let blank = complete && (line == b"\n" || line == b"\r\n");
                let separator = complete
                    && line.starts_with(b"From ")
                    && (prev_blank || looks_like_postmark(&line));
                prev_blank = blank;
                if separator {
                    let next = RawMessage {
                        offset: line_offset,
                        bytes: Vec::new(),
                        truncated: false,
                        preamble: false,
                    };
                    keep(std::mem::replace(&mut current, next), &mut out);
                    continue;
                }
                if is_quoted_from(&line) {
                    data = &line[1..];
                }
            }
            let room = max.saturating_sub(current.bytes.len());
            if data.len() > room {
                current.bytes.extend_from_slice(&data[..room]);
                current.truncated = true;
            } else {
                current.bytes.extend_from_slice(data);
            }
        }
    }

    proptest::proptest! {
        /// The in-buffer fast path must split exactly like the line reader,
        /// whatever the buffer size (lines straddling buffer ends), line
        /// length (past LINE_CAP), quoting, line ends and size cap.
        #[test]
        fn whole_line_fast_path_matches_the_line_by_line_reader(
            pieces in proptest::collection::vec(0usize..14, 0..40),
            buf_size in proptest::prop_oneof![1usize..300, 8000usize..20000],
            max in proptest::prop_oneof![proptest::strategy::Just(usize::MAX), 0usize..200],
        ) {
            let long = "x".repeat(LINE_CAP + 5);
            let long_quoted = format!("{}From z\n", ">".repeat(LINE_CAP + 1));
            let long_from = format!("From a {} 10:00:00 2024\n", "y".repeat(LINE_CAP));
            let vocabulary: [&str; 14] = [
                "From a@x Mon Jul  1 10:00:00 2024\n",
                "From me to you\n",
                "\n",
                "\r\n",
                ">From x\n",
                ">>From y\r\n",
                "本文のテキスト\n",
                "From b@x Mon Jul  1 10:01:00 2024\r\n",
                &long,
                &long_quoted,
                &long_from,
                "no newline",
                "  \n",
                ">Fromage\n",
            ];
            let data: Vec<u8> = pieces.iter().flat_map(|&i| vocabulary[i].bytes()).collect();
            proptest::prop_assert_eq!(
                split_buffered(&data, buf_size, max),
                reference_split(&data, buf_size, max)
            );
        }

        /// Regression guard for the candidate-line search (lines starting
        /// with `From ` or `>` found by substring search, others skipped):
        /// random bytes over a small alphabet make `From `, `>`, blank and
        /// CRLF lines in every arrangement, at every buffer boundary.
        #[test]
        fn candidate_line_search_matches_the_line_by_line_reader_on_random_bytes(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"From \n\n\n>\r1:2x".to_vec()),
                0..400,
            ),
            buf_size in proptest::prop_oneof![1usize..64, 64usize..600],
            max in proptest::prop_oneof![proptest::strategy::Just(usize::MAX), 0usize..100],
        ) {
            // Splice whole words in too: random letters rarely spell them.
            let mut data = Vec::new();
            for (i, &b) in bytes.iter().enumerate() {
                match (b, i % 3) {
                    (b'F', 0) => data.extend_from_slice(b"From "),
                    (b'1', 0) => data.extend_from_slice(b"From a 10:00:00 2024\n"),
                    _ => data.push(b),
                }
            }
            proptest::prop_assert_eq!(
                split_buffered(&data, buf_size, max),
                reference_split(&data, buf_size, max)
            );
        }

        /// Messages appended to one shared buffer by `next_into` are the
        /// iterator's messages, at the ranges reported, with nothing else
        /// in the buffer.
        #[test]
        fn next_into_appends_the_iterators_messages(
            pieces in proptest::collection::vec(0usize..8, 0..40),
            buf_size in 1usize..300,
            max in proptest::prop_oneof![proptest::strategy::Just(usize::MAX), 0usize..200],
        ) {
            let vocabulary: [&str; 8] = [
                "From a@x Mon Jul  1 10:00:00 2024\n",
                "\n",
                "\r\n",
                ">From x\n",
                "本文のテキスト\n",
                "no newline",
                "  \n",
                "From me to you\n",
            ];
            let data: Vec<u8> = pieces.iter().flat_map(|&i| vocabulary[i].bytes()).collect();
            let want: Vec<RawMessage> = MboxReader::with_max_message_size(
                BufReader::with_capacity(buf_size, Cursor::new(&data)),
                max,
            )
            .map(|r| r.unwrap())
            .collect();
            let mut reader = MboxReader::with_max_message_size(
                BufReader::with_capacity(buf_size, Cursor::new(&data)),
                max,
            );
            let mut shared = b"already here".to_vec();
            let mut got = Vec::new();
            while let Some(m) = reader.next_into(&mut shared) {
                let m = m.unwrap();
                proptest::prop_assert_eq!(m.bytes.end, shared.len());
                got.push(RawMessage {
                    offset: m.offset,
                    bytes: shared[m.bytes].to_vec(),
                    truncated: m.truncated,
                    preamble: m.preamble,
                });
            }
            proptest::prop_assert!(shared.starts_with(b"already here"));
            let total: usize = want.iter().map(|m| m.bytes.len()).sum();
            proptest::prop_assert_eq!(shared.len(), b"already here".len() + total);
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn small_buffers_give_same_result() {
        let data = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/mixed.mbox"),
        )
        .unwrap();
        let a = split(&data);
        let b: Vec<_> = MboxReader::new(BufReader::with_capacity(7, Cursor::new(&data)))
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(a, b);
    }
}
