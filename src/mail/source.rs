//! Turning command-line paths into an ordered list of inputs.
//!
//! `sagiscan scan inbox.mbox Maildir/ *.eml notes/` mixes mailboxes,
//! single messages, text files and folders. This module decides what each
//! path is (by extension where it says, else by sniffing its first bytes)
//! and expands folders and Maildirs into files, in a stable sorted order so
//! that results and offsets are reproducible.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::message::looks_like_rfc5322;

/// What kind of input a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// An mbox file: many messages separated by `From ` lines
    /// (read with [`MboxReader`](super::MboxReader)).
    Mbox,
    /// One RFC 5322 message (`.eml`, a Maildir file).
    Eml,
    /// Plain text (pasted SMS, `.txt`): decode with
    /// [`decode_unlabelled`](super::decode_unlabelled), or parse as mail
    /// when [`looks_like_rfc5322`](super::looks_like_rfc5322) says so.
    Text,
    /// A Maildir folder (has `cur/` and `new/`).
    Maildir,
    /// Any other folder.
    Directory,
}

/// One file to read, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    /// The file.
    pub path: PathBuf,
    /// How to read it: [`InputKind::Mbox`], [`InputKind::Eml`] or
    /// [`InputKind::Text`] (never a folder kind).
    pub kind: InputKind,
}

/// A path that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct SourceError {
    /// The path.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: io::Error,
}

/// Everything [`walk_sources`] found.
#[derive(Debug, Default)]
pub struct Collected {
    /// Files to read, in order.
    pub sources: Vec<Source>,
    /// Files inside folders that were skipped as not mail or text (hidden
    /// files, images, Maildir `tmp/`...). Paths given explicitly are never
    /// skipped.
    pub skipped: Vec<PathBuf>,
    /// Paths that could not be read.
    pub errors: Vec<SourceError>,
}

/// How many leading bytes [`detect_kind`] sniffs.
const SNIFF_BYTES: usize = 8 * 1024;

/// Decide what `path` is: a folder (`Maildir` when it has `cur/` and `new/`),
/// or a file kind by extension (`.mbox`/`.mbx` → Mbox, `.eml` → Eml,
/// `.txt` → Text) or else by content: a first line starting with `From `
/// (and not `From:`) → Mbox; a header block → Eml; anything else → Text.
pub fn detect_kind(path: &Path) -> io::Result<InputKind> {
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        return Ok(if is_maildir(path) {
            InputKind::Maildir
        } else {
            InputKind::Directory
        });
    }
    if let Some(kind) = kind_by_extension(path) {
        // Still open it, so that unreadable files fail here, naming the path.
        fs::File::open(path)?;
        return Ok(kind);
    }
    Ok(sniff_kind(&read_head(path)?))
}

fn is_maildir(path: &Path) -> bool {
    path.join("cur").is_dir() && path.join("new").is_dir()
}

fn kind_by_extension(path: &Path) -> Option<InputKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "mbox" | "mbx" => Some(InputKind::Mbox),
        "eml" => Some(InputKind::Eml),
        "txt" => Some(InputKind::Text),
        _ => None,
    }
}

fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    fs::File::open(path)?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Classify file contents (see [`detect_kind`]).
pub fn sniff_kind(head: &[u8]) -> InputKind {
    if head.starts_with(b"From ") {
        InputKind::Mbox
    } else if looks_like_rfc5322(head) {
        InputKind::Eml
    } else {
        InputKind::Text
    }
}

/// Expand `paths` into files to read, failing on the first path that cannot
/// be read (the error names it). See [`walk_sources`] for the rules and for
/// a variant that collects errors instead.
pub fn collect_sources(paths: &[PathBuf]) -> Result<Vec<Source>, SourceError> {
    let mut c = walk_sources(paths);
    match c.errors.is_empty() {
        true => Ok(c.sources),
        false => Err(c.errors.swap_remove(0)),
    }
}

/// Expand `paths` into files to read, in order: each path in the order
/// given; folders walked recursively with entries sorted by name; a Maildir
/// contributes its `cur/` then `new/` files (sorted; `tmp/` is skipped) as
/// [`InputKind::Eml`], then those of its Maildir++ sub-folders (`.Junk/`...). Inside folders, files are kept when their extension
/// says mbox/eml/txt or, for other names, when their content sniffs as
/// mbox or a message; hidden files and everything else go to `skipped`.
/// Symlinked folders are followed once (loops are cut). Errors are
/// collected, not fatal.
pub fn walk_sources(paths: &[PathBuf]) -> Collected {
    let mut c = Collected::default();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        if path.as_os_str() == "-" {
            // Standard input, read by the caller as an mbox stream.
            c.sources.push(Source {
                path: path.clone(),
                kind: InputKind::Mbox,
            });
            continue;
        }
        match detect_kind(path) {
            Ok(InputKind::Maildir) => walk_maildir(path, &mut c),
            Ok(InputKind::Directory) => walk_dir(path, &mut c, &mut seen_dirs),
            Ok(kind) => c.sources.push(Source {
                path: path.clone(),
                kind,
            }),
            Err(source) => c.errors.push(SourceError {
                path: path.clone(),
                source,
            }),
        }
    }
    c
}

fn sorted_entries(dir: &Path, c: &mut Collected) -> Vec<PathBuf> {
    match fs::read_dir(dir) {
        Ok(rd) => {
            let mut out = Vec::new();
            for entry in rd {
                match entry {
                    Ok(e) => out.push(e.path()),
                    Err(source) => c.errors.push(SourceError {
                        path: dir.to_path_buf(),
                        source,
                    }),
                }
            }
            out.sort();
            out
        }
        Err(source) => {
            c.errors.push(SourceError {
                path: dir.to_path_buf(),
                source,
            });
            Vec::new()
        }
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn walk_maildir(dir: &Path, c: &mut Collected) {
    walk_maildir_files(dir, c);
    // Maildir++ sub-folders (`.Junk/`, `.Sent/`), each a Maildir itself.
    for path in sorted_entries(dir, c) {
        if is_hidden(&path) && path.is_dir() && is_maildir(&path) {
            walk_maildir_files(&path, c);
        }
    }
}

fn walk_maildir_files(dir: &Path, c: &mut Collected) {
    for sub in ["cur", "new"] {
        for path in sorted_entries(&dir.join(sub), c) {
            if is_hidden(&path) {
                c.skipped.push(path);
                continue;
            }
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => c.sources.push(Source {
                    path,
                    kind: InputKind::Eml,
                }),
                Ok(_) => c.skipped.push(path),
                Err(source) => c.errors.push(SourceError { path, source }),
            }
        }
    }
}

fn walk_dir(dir: &Path, c: &mut Collected, seen: &mut HashSet<PathBuf>) {
    if let Ok(canonical) = fs::canonicalize(dir)
        && !seen.insert(canonical)
    {
        return;
    }
    for path in sorted_entries(dir, c) {
        if is_hidden(&path) {
            c.skipped.push(path);
            continue;
        }
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(source) => {
                c.errors.push(SourceError { path, source });
                continue;
            }
        };
        if meta.is_dir() {
            if is_maildir(&path) {
                walk_maildir(&path, c);
            } else if path.file_name().is_some_and(|n| n == "tmp")
                && path.parent().is_some_and(is_maildir)
            {
                c.skipped.push(path);
            } else {
                walk_dir(&path, c, seen);
            }
            continue;
        }
        if let Some(kind) = kind_by_extension(&path) {
            c.sources.push(Source { path, kind });
            continue;
        }
        if path.extension().is_some() {
            c.skipped.push(path);
            continue;
        }
        match read_head(&path) {
            Ok(head) => match sniff_kind(&head) {
                InputKind::Text => c.skipped.push(path),
                kind => c.sources.push(Source { path, kind }),
            },
            Err(source) => c.errors.push(SourceError { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
    }

    #[test]
    fn kinds() {
        let f = fixtures();
        assert_eq!(detect_kind(&f.join("mixed.mbox")).unwrap(), InputKind::Mbox);
        assert_eq!(
            detect_kind(&f.join("01_iso2022jp_7bit.eml")).unwrap(),
            InputKind::Eml
        );
        assert_eq!(detect_kind(&f.join("maildir")).unwrap(), InputKind::Maildir);
        assert_eq!(detect_kind(&f).unwrap(), InputKind::Directory);
        let cur = f.join("maildir/cur");
        let first = sorted_entries(&cur, &mut Collected::default())[0].clone();
        assert_eq!(detect_kind(&first).unwrap(), InputKind::Eml);
        assert_eq!(
            sniff_kind(b"From x Mon Jul  1 10:00:00 2024\n"),
            InputKind::Mbox
        );
        assert_eq!(sniff_kind("【佐川急便】お荷物".as_bytes()), InputKind::Text);
        assert_eq!(sniff_kind(b"From: a@b\nSubject: x\n\nbody"), InputKind::Eml);
    }

    #[test]
    fn maildir_plus_plus_subfolders_and_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp", ".Junk/cur", ".Junk/new", ".Junk/tmp"] {
            std::fs::create_dir_all(md.join(sub)).unwrap();
        }
        let msg = b"From: a@b\nSubject: s\n\nb\n";
        for f in [
            "new/2",
            "cur/1:2,S",
            "tmp/3",
            ".Junk/cur/4:2,",
            ".Junk/new/.hidden",
        ] {
            std::fs::write(md.join(f), msg).unwrap();
        }
        let c = walk_sources(&[dir.path().to_path_buf()]);
        let names: Vec<_> = c
            .sources
            .iter()
            .map(|s| {
                s.path
                    .strip_prefix(&md)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["cur/1:2,S", "new/2", ".Junk/cur/4:2,"]);
        assert!(c.skipped.iter().any(|p| p.ends_with(".hidden")));
        assert!(c.errors.is_empty());
    }

    #[test]
    fn missing_path_is_an_error_naming_it() {
        let p = fixtures().join("does-not-exist.eml");
        let e = collect_sources(std::slice::from_ref(&p)).unwrap_err();
        assert_eq!(e.path, p);
        assert!(e.to_string().contains("does-not-exist.eml"));
    }

    #[test]
    fn walking_the_fixture_folder() {
        let c = walk_sources(&[fixtures()]);
        assert!(c.errors.is_empty());
        let names: Vec<String> = c
            .sources
            .iter()
            .map(|s| {
                s.path
                    .strip_prefix(fixtures())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        // 13 .eml, then 13 Maildir files (cur before new), then the mbox.
        assert_eq!(names.len(), 13 + 13 + 1, "{names:?}");
        assert_eq!(names[0], "01_iso2022jp_7bit.eml");
        assert!(names[13].starts_with("maildir/cur/"));
        assert!(names[20].starts_with("maildir/new/"));
        assert_eq!(names[26], "mixed.mbox");
        assert_eq!(c.sources[26].kind, InputKind::Mbox);
        assert!(c.sources[..26].iter().all(|s| s.kind == InputKind::Eml));
        // expected.json has an extension we do not read.
        assert!(c.skipped.iter().any(|p| p.ends_with("expected.json")));
    }
}
