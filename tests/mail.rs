//! Batch and filter tests on real encodings: the fixtures in
//! tests/fixtures/mail were generated with Python's codecs
//! (tests/gen_mail_fixtures.py): ISO-2022-JP 7bit, Shift_JIS base64, EUC-JP
//! quoted-printable, UTF-8, CP932 extensions, HTML-only, RFC 2047 headers,
//! mislabelled charsets, `>From ` lines.

use std::collections::BTreeMap;

use assert_cmd::Command;
use serde_json::Value;

fn sagiscan() -> Command {
    let mut cmd = Command::cargo_bin("sagiscan").unwrap();
    cmd.env("LANG", "C").env("NO_COLOR", "1");
    cmd
}

fn scan(args: &[&str]) -> (Vec<Value>, String, i32) {
    let out = sagiscan()
        .arg("scan")
        .args(["--format", "jsonl"])
        .args(args)
        .output()
        .unwrap();
    let records = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    (
        records,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap(),
    )
}

fn verdicts_by_subject(records: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        m.entry(r["subject"].as_str().unwrap_or("").to_string())
            .or_default()
            .push(r["verdict"].as_str().unwrap().to_string());
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

fn eml_paths() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("tests/fixtures/mail")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn mbox_maildir_and_eml_forms_give_the_same_records() {
    let (mbox, stderr, code) = scan(&["tests/fixtures/mail/mixed.mbox"]);
    assert_eq!(
        code, 1,
        "flagged messages make scan exit 1 by default: {stderr}"
    );
    let emls = eml_paths();
    let eml_refs: Vec<&str> = emls.iter().map(String::as_str).collect();
    let (eml, _, _) = scan(&eml_refs);
    let (maildir, _, _) = scan(&["tests/fixtures/mail/maildir"]);
    assert_eq!(mbox.len(), emls.len());
    assert_eq!(maildir.len(), emls.len());
    assert_eq!(verdicts_by_subject(&mbox), verdicts_by_subject(&eml));
    assert_eq!(verdicts_by_subject(&mbox), verdicts_by_subject(&maildir));
    // Every record carries its position; mbox records their byte offsets in order.
    let offsets: Vec<u64> = mbox.iter().map(|r| r["offset"].as_u64().unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    for (i, r) in mbox.iter().enumerate() {
        assert_eq!(r["index"], i as u64);
        assert_eq!(r["source"], "tests/fixtures/mail/mixed.mbox");
    }
    assert!(
        stderr.contains(&format!("{} messages", emls.len())),
        "{stderr}"
    );
}

#[test]
fn japanese_charsets_decode_to_the_same_subjects_as_expected() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/mail/expected.json").unwrap(),
    )
    .unwrap();
    let emls = eml_paths();
    let refs: Vec<&str> = emls.iter().map(String::as_str).collect();
    let (records, _, _) = scan(&refs);
    for r in &records {
        let name = std::path::Path::new(r["source"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let want = &expected[&name];
        if want.is_null() {
            continue;
        }
        assert_eq!(r["subject"], want["subject"], "{name}");
        assert!(
            r["error"].is_null() || name.contains("mislabelled"),
            "{name}: {}",
            r["error"]
        );
    }
}

#[test]
fn mail_verdicts_match_the_same_text_given_as_plain_text() {
    // The body and subject of a decoded mail, piped in as text, score the same verdict
    // when the mail has no sender or link signals.
    let (records, _, _) = scan(&["tests/fixtures/mail/01_iso2022jp_7bit.eml"]);
    let r = &records[0];
    let body_hits: Vec<&Value> = r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["part"] == "body")
        .collect();
    assert!(!body_hits.is_empty());
}

#[test]
fn only_and_quarantine_keep_flagged_messages() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.mbox");
    let (all, _, _) = scan(&["tests/fixtures/mail/mixed.mbox"]);
    let flagged = all.iter().filter(|r| r["verdict"] != "clean").count();
    let (only, _, _) = scan(&[
        "--only",
        "suspicious",
        "--quarantine",
        q.to_str().unwrap(),
        "tests/fixtures/mail/mixed.mbox",
    ]);
    assert_eq!(only.len(), flagged);
    let (requarantined, _, _) = scan(&[q.to_str().unwrap()]);
    assert_eq!(requarantined.len(), flagged);
    assert!(requarantined.iter().all(|r| r["verdict"] != "clean"));
}

#[test]
fn jobs_do_not_change_the_output() {
    let one = sagiscan()
        .args([
            "scan",
            "--format",
            "jsonl",
            "--jobs",
            "1",
            "tests/fixtures/mail/mixed.mbox",
            "tests/fixtures/mail/maildir",
        ])
        .output()
        .unwrap();
    let two = sagiscan()
        .args([
            "scan",
            "--format",
            "jsonl",
            "--jobs",
            "2",
            "tests/fixtures/mail/mixed.mbox",
            "tests/fixtures/mail/maildir",
        ])
        .output()
        .unwrap();
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn unreadable_path_exits_2_but_other_messages_are_still_reported() {
    let (records, stderr, code) = scan(&["tests/fixtures/mail/mixed.mbox", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no/such/dir"), "{stderr}");
    assert!(!records.is_empty());
}

fn without_sagiscan_headers(bytes: &[u8]) -> Vec<u8> {
    let text = bytes.split_inclusive(|&b| b == b'\n');
    text.filter(|l| !l.starts_with(b"X-Sagiscan-"))
        .flatten()
        .copied()
        .collect()
}

#[test]
fn filter_output_minus_its_headers_is_byte_identical() {
    for path in eml_paths() {
        let input = std::fs::read(&path).unwrap();
        let out = sagiscan()
            .arg("filter")
            .write_stdin(input.clone())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("X-Sagiscan-Status: "), "{path}");
        assert!(text.contains("X-Sagiscan-Verdict: "), "{path}");
        assert_eq!(without_sagiscan_headers(&out.stdout), input, "{path}");
        // Filtering twice replaces, never duplicates.
        let twice = sagiscan()
            .arg("filter")
            .write_stdin(out.stdout.clone())
            .output()
            .unwrap();
        assert_eq!(twice.stdout, out.stdout, "{path}");
    }
}

#[test]
fn filter_fails_open_with_a_broken_pack_and_exit_code_reports_the_verdict() {
    let input = std::fs::read("tests/fixtures/mail/01_iso2022jp_7bit.eml").unwrap();
    let out = sagiscan()
        .args(["filter", "--patterns", "no/such/pack"])
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, input);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unchanged"));
    let out = sagiscan()
        .args(["filter", "--exit-code"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// An mbox of `n` small messages, numbered in their subjects.
fn numbered_mbox(n: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..n {
        data.extend_from_slice(
            format!(
                "From a@example.jp Mon Jul  1 10:00:00 2024\nFrom: a@example.jp\nSubject: m{i}\nMessage-ID: <{i}@example.jp>\n\n本文 {i}\n\n"
            )
            .as_bytes(),
        );
    }
    data
}

/// The reader thread hands batches (128 messages) to the scorers: records
/// straddling batch boundaries must all come out, once, in input order, and
/// the same with any number of workers.
#[test]
fn records_across_batch_boundaries_are_complete_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.mbox");
    let n = 512 * 2 + 77;
    std::fs::write(&path, numbered_mbox(n)).unwrap();
    let p = path.to_str().unwrap();
    let (one, stderr, code) = scan(&["--jobs", "1", "--fail-on", "never", p]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("{n} messages")), "{stderr}");
    assert_eq!(one.len(), n);
    for (i, r) in one.iter().enumerate() {
        assert_eq!(r["index"], i as u64);
        assert_eq!(r["subject"], format!("m{i}"));
    }
    let (two, _, _) = scan(&["--jobs", "2", "--fail-on", "never", p]);
    assert_eq!(one, two);
}

/// A scam text (prepaid cards, a fake refund, a deadline).
const SCAM_TEXT: &str = "本日中にコンビニでプリペイドカードを購入し、番号を伝えてください。日本インターネット協会から還付金が出ます";

/// What message `i` of [`mixed_numbered_mbox`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Clean,
    Scam,
    /// Malformed base64: scored on its raw text, with a decoding error.
    Undecodable,
}

fn kind(i: usize) -> Kind {
    if i % 97 == 50 {
        Kind::Undecodable
    } else if i.is_multiple_of(11) {
        Kind::Scam
    } else {
        Kind::Clean
    }
}

/// An mbox of `n` messages numbered in their subjects; which ones are
/// scams or undecodable is given by [`kind`], so both fall mid-batch in
/// many batches.
fn mixed_numbered_mbox(n: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..n {
        let body = match kind(i) {
            Kind::Clean => format!("Subject: m{i}\n\n本文 {i}\n"),
            Kind::Scam => format!("Subject: m{i}\n\n{SCAM_TEXT}\n"),
            Kind::Undecodable => format!(
                "Subject: m{i}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n!!!!not base64 ###\n"
            ),
        };
        data.extend_from_slice(
            format!("From a@example.jp Mon Jul  1 10:00:00 2024\nFrom: a@example.jp\n{body}\n")
                .as_bytes(),
        );
    }
    data
}

/// Batches (128 messages) are scored two at a time and written chunk by
/// chunk as chunks complete: across many batches, with scams and
/// undecodable messages mid-batch, what `--only` prints, what
/// `--quarantine` writes, the summary and `--fail-on`'s exit code must be
/// in input order and the same with any number of workers.
#[test]
fn only_quarantine_and_summary_across_many_batches_do_not_depend_on_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.mbox");
    let n = 128 * 9 + 41;
    std::fs::write(&path, mixed_numbered_mbox(n)).unwrap();
    let p = path.to_str().unwrap();
    let scams: Vec<usize> = (0..n).filter(|&i| kind(i) == Kind::Scam).collect();
    let undecodable = (0..n).filter(|&i| kind(i) == Kind::Undecodable).count();
    let mut first: Option<(Vec<Value>, String, Vec<u8>)> = None;
    for jobs in ["1", "2", "3"] {
        let q = dir.path().join(format!("quarantine-{jobs}.mbox"));
        let (records, stderr, code) = scan(&[
            "--jobs",
            jobs,
            "--only",
            "suspicious",
            "--fail-on",
            "scam",
            "--quarantine",
            q.to_str().unwrap(),
            p,
        ]);
        assert_eq!(code, 1, "--jobs {jobs}: {stderr}");
        let counts = format!(
            "{n} messages: {} scam, 0 suspicious, {} clean; {undecodable} with decoding errors",
            scams.len(),
            n - scams.len()
        );
        assert!(stderr.contains(&counts), "--jobs {jobs}: {stderr}");
        let printed: Vec<(u64, String)> = records
            .iter()
            .map(|r| (r["index"].as_u64().unwrap(), r["subject"].to_string()))
            .collect();
        let expected: Vec<(u64, String)> = scams
            .iter()
            .map(|&i| (i as u64, format!("\"m{i}\"")))
            .collect();
        assert_eq!(printed, expected, "--jobs {jobs}");
        let quarantined = std::fs::read(&q).unwrap();
        let (requarantined, _, _) = scan(&["--fail-on", "never", q.to_str().unwrap()]);
        let subjects: Vec<String> = requarantined
            .iter()
            .map(|r| r["subject"].to_string())
            .collect();
        let expected: Vec<String> = scams.iter().map(|i| format!("\"m{i}\"")).collect();
        assert_eq!(subjects, expected, "--jobs {jobs}: quarantine order");
        // The summary without its timing line.
        let summary: String = stderr.lines().take(2).collect::<Vec<_>>().join("\n");
        match &first {
            None => first = Some((records, summary, quarantined)),
            Some((r, s, q)) => {
                assert_eq!(&records, r, "--jobs {jobs}");
                assert_eq!(&summary, s, "--jobs {jobs}");
                assert_eq!(&quarantined, q, "--jobs {jobs}");
            }
        }
    }
    // Every record, undecodable ones included, in order, in each format.
    for format in ["json", "table"] {
        let outputs: Vec<Vec<u8>> = ["1", "2"]
            .iter()
            .map(|jobs| {
                sagiscan()
                    .args(["scan", "--quiet", "--fail-on", "never", "--format", format])
                    .args(["--jobs", jobs, p])
                    .output()
                    .unwrap()
                    .stdout
            })
            .collect();
        assert_eq!(outputs[0], outputs[1], "--format {format}");
        if format == "json" {
            let all: Vec<Value> = serde_json::from_slice(&outputs[0]).unwrap();
            assert_eq!(all.len(), n);
            for (i, r) in all.iter().enumerate() {
                assert_eq!(r["index"], i as u64);
                assert_eq!(r["error"].is_null(), kind(i) != Kind::Undecodable, "{i}");
            }
        } else {
            let text = String::from_utf8(outputs[0].clone()).unwrap();
            let ids: Vec<&str> = text
                .lines()
                .map(|l| l.split('\t').next().unwrap())
                .collect();
            let expected: Vec<String> = (0..n).map(|i| format!("{p}#{i}")).collect();
            assert_eq!(ids, expected);
        }
    }
}

/// When stdout goes away mid-scan the writer stops; the reader thread must
/// notice and stop instead of waiting forever for room in the queue.
#[test]
fn scan_exits_when_stdout_is_closed_early() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.mbox");
    std::fs::write(&path, numbered_mbox(512 * 8)).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("sagiscan"))
        .args(["scan", "--quiet", "--format", "jsonl", "--jobs", "2"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'), "{first}");
    // The pipe is closed now. Generous bound: this checks for a hang, not speed.
    for _ in 0..1200 {
        // A closed pipe ends the run quietly (exit 0); what matters is that it ends.
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("sagiscan scan did not exit after its stdout was closed");
}
