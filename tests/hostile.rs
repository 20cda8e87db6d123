//! Hostile input never crashes, hangs or loses mail.
//!
//! Small inputs are committed in `tests/hostile/`; large ones (20 MB line,
//! 2,000-level nesting, 5,000 parts, random bytes) are generated here into a
//! temporary directory. Every run has a timeout, every stderr is checked for
//! panics, and every batch is checked for one record per message.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const SCAM: &str = "本日中にコンビニでプリペイドカードを購入し、番号を伝えてください。日本インターネット協会から還付金が出ます\n";

fn hostile_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

fn committed(name: &str) -> PathBuf {
    hostile_dir().join(name)
}

/// The committed inputs (everything but the README).
fn committed_inputs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(hostile_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x != "md"))
        .collect();
    v.sort();
    v
}

fn sagiscan() -> Command {
    let mut c = Command::cargo_bin("sagiscan").unwrap();
    c.timeout(Duration::from_secs(60)).env("LANG", "C");
    c
}

/// Run and check the invariants every run must keep: it finished (no
/// timeout), it did not panic, and the exit code is 0, 1 or 2.
fn run(cmd: &mut Command, stdin: Option<Vec<u8>>) -> Output {
    if let Some(s) = stdin {
        cmd.write_stdin(s);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let code = out.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "killed or odd exit ({code:?}); stderr: {stderr}"
    );
    out
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn one_record(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON record ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A message nested `depth` multiparts deep.
fn nested_multipart(depth: usize) -> Vec<u8> {
    let mut s = String::from("From: a@example.com\nSubject: nested\nMIME-Version: 1.0\n");
    for i in 0..depth {
        s.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n"
        ));
    }
    s.push_str("Content-Type: text/plain; charset=utf-8\n\n");
    s.push_str(SCAM);
    for i in (0..depth).rev() {
        s.push_str(&format!("--b{i}--\n"));
    }
    s.into_bytes()
}

/// A message with `n` text parts.
fn many_parts(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "From: a@example.com\nSubject: parts\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"P\"\n\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "--P\nContent-Type: text/plain; charset=utf-8\n\npart {i}\n"
        ));
    }
    s.push_str("--P--\n");
    s.into_bytes()
}

/// A message whose body is one line of `len` bytes, scam text first.
fn huge_line(len: usize) -> Vec<u8> {
    let mut v = b"From: a@example.com\nSubject: big\n\n".to_vec();
    v.extend_from_slice(SCAM.trim_end().as_bytes());
    v.resize(v.len() + len, b'a');
    v.push(b'\n');
    v
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Generated inputs, written to `dir`.
fn generated(dir: &Path) -> Vec<PathBuf> {
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("random.bin", random_bytes(200_000, 7)),
        ("nested_2000.eml", nested_multipart(2000)),
        ("parts_5000.eml", many_parts(5000)),
    ];
    files
        .into_iter()
        .map(|(name, bytes)| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

/// Quote `bytes` as one mbox message.
fn mbox_entry(bytes: &[u8]) -> Vec<u8> {
    let mut v = b"From hostile@example Mon Jul  1 10:00:00 2024\n".to_vec();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let q = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
        if line[q..].starts_with(b"From ") {
            v.push(b'>');
        }
        v.extend_from_slice(line);
    }
    if !v.ends_with(b"\n") {
        v.push(b'\n');
    }
    v.push(b'\n');
    v
}

#[test]
fn check_gives_a_record_for_every_hostile_input() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = committed_inputs();
    inputs.extend(generated(tmp.path()));
    for path in &inputs {
        let out = run(
            sagiscan().args(["check", "--format", "json"]).arg(path),
            None,
        );
        assert_ne!(out.status.code(), Some(2), "{}", path.display());
        let rec = one_record(&out);
        assert!(
            rec.get("error").is_some(),
            "{}: no error field",
            path.display()
        );
        // The same bytes on stdin.
        let out = run(
            sagiscan().args(["check", "--format", "json"]),
            Some(std::fs::read(path).unwrap()),
        );
        one_record(&out);
    }
}

#[test]
fn decoding_failures_are_reported_in_error() {
    for name in [
        "invalid_utf8.txt",
        "truncated_base64.eml",
        "truncated_qp.eml",
    ] {
        let out = run(
            sagiscan()
                .args(["check", "--format", "json"])
                .arg(committed(name)),
            None,
        );
        let rec = one_record(&out);
        assert!(rec["error"].is_string(), "{name}: {rec}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("warning"), "{name}: no warning: {stderr}");
    }
}

#[test]
fn nesting_and_part_limits_set_error_not_panic() {
    let out = run(
        sagiscan().args(["check", "--format", "json"]),
        Some(nested_multipart(2000)),
    );
    let rec = one_record(&out);
    let err = rec["error"].as_str().unwrap_or_default();
    assert!(err.contains("nest") || err.contains("depth"), "{rec}");

    let out = run(
        sagiscan().args(["check", "--format", "json"]),
        Some(many_parts(5000)),
    );
    let rec = one_record(&out);
    let err = rec["error"].as_str().unwrap_or_default();
    assert!(err.contains("part"), "{rec}");
}

#[test]
fn scan_writes_one_record_per_message_of_a_hostile_mbox() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = committed_inputs();
    inputs.extend(generated(tmp.path()));
    inputs.retain(|p| !p.to_string_lossy().ends_with(".mbox"));
    // Garbage first (a preamble record), then every hostile input as a message.
    let mut mbox = b"\x00\xffgarbage before the first separator\n\n".to_vec();
    for p in &inputs {
        mbox.extend(mbox_entry(&std::fs::read(p).unwrap()));
    }
    let path = tmp.path().join("hostile.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let out = run(
        sagiscan()
            .args([
                "scan",
                "--fail-on",
                "never",
                "--format",
                "jsonl",
                "--jobs",
                "2",
            ])
            .arg(&path),
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let recs = jsonl(&out);
    assert_eq!(recs.len(), inputs.len() + 1, "messages read != records");
    let idx: Vec<u64> = recs.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, (0..recs.len() as u64).collect::<Vec<_>>());

    // The committed mbox with garbage before its first separator.
    let out = run(
        sagiscan()
            .args(["scan", "--fail-on", "never", "--format", "jsonl"])
            .arg(committed("garbage_preamble.mbox")),
        None,
    );
    let recs = jsonl(&out);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[2]["verdict"], "scam");
}

#[test]
fn scan_writes_one_record_per_hostile_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs: Vec<PathBuf> = committed_inputs()
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".mbox"))
        .collect();
    inputs.extend(generated(tmp.path()));
    let out = run(
        sagiscan()
            .args(["scan", "--fail-on", "never", "--format", "jsonl"])
            .args(&inputs),
        None,
    );
    let recs = jsonl(&out);
    assert_eq!(
        recs.len(),
        inputs.len(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn empty_input_everywhere() {
    let out = run(sagiscan().args(["check", "--format", "json"]), Some(vec![]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(one_record(&out)["verdict"], "clean");
    let out = run(
        sagiscan().args(["scan", "--fail-on", "never", "--format", "jsonl", "-"]),
        Some(vec![]),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(jsonl(&out).is_empty());
    let out = run(sagiscan().arg("filter"), Some(vec![]));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn twenty_megabyte_line_through_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let big = huge_line(20 * 1024 * 1024);
    let eml = tmp.path().join("big.eml");
    std::fs::write(&eml, &big).unwrap();
    let mbox = tmp.path().join("big.mbox");
    let mut m = mbox_entry(&big);
    m.extend(mbox_entry(SCAM.as_bytes()));
    std::fs::write(&mbox, &m).unwrap();

    let out = run(
        sagiscan().args(["check", "--format", "json"]).arg(&eml),
        None,
    );
    let rec = one_record(&out);
    assert_eq!(rec["verdict"], "scam");

    let out = run(
        sagiscan()
            .args(["scan", "--fail-on", "never", "--format", "jsonl"])
            .arg(&eml)
            .arg(&mbox),
        None,
    );
    let recs = jsonl(&out);
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r["verdict"] == "scam"), "{recs:?}");

    let out = run(sagiscan().arg("filter"), Some(big.clone()));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.len() > big.len());
    assert!(out.stdout.ends_with(&big[big.len() - 1000..]));
    assert!(out.stdout.windows(18).any(|w| w == b"X-Sagiscan-Verdict"));
}

#[test]
fn max_message_size_truncates_but_still_records_and_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let big = huge_line(100_000);
    let eml = tmp.path().join("big.eml");
    std::fs::write(&eml, &big).unwrap();
    let txt = tmp.path().join("big.txt");
    let mut plain = SCAM.as_bytes().to_vec();
    plain.resize(100_000, b'x');
    std::fs::write(&txt, &plain).unwrap();

    for path in [&eml, &txt] {
        let out = run(
            sagiscan()
                .args(["check", "--format", "json", "--max-message-size", "4096"])
                .arg(path),
            None,
        );
        let rec = one_record(&out);
        assert_eq!(rec["truncated"], true, "{}: {rec}", path.display());
        assert_eq!(rec["verdict"], "scam", "{}", path.display());
    }
    // Under the limit: not truncated.
    let out = run(
        sagiscan()
            .args(["check", "--format", "json", "--max-message-size", "200000"])
            .arg(&eml),
        None,
    );
    assert_ne!(one_record(&out)["truncated"], true);

    let mbox = tmp.path().join("big.mbox");
    let mut m = mbox_entry(&big);
    m.extend(mbox_entry(b"Subject: small\n\nhello\n"));
    std::fs::write(&mbox, &m).unwrap();
    let out = run(
        sagiscan()
            .args([
                "scan",
                "--fail-on",
                "never",
                "--format",
                "jsonl",
                "--max-message-size",
                "4096",
            ])
            .arg(&eml)
            .arg(&mbox),
        None,
    );
    let recs = jsonl(&out);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["truncated"], true);
    assert_eq!(recs[0]["verdict"], "scam");
    assert_eq!(recs[1]["truncated"], true);
    assert_eq!(recs[1]["verdict"], "scam");
    assert_ne!(recs[2]["truncated"], true);

    // filter: scored on the start, passed through whole.
    let out = run(
        sagiscan().args(["filter", "--max-message-size", "4096"]),
        Some(big.clone()),
    );
    assert!(out.stdout.ends_with(&big[40..]));
    let text = String::from_utf8_lossy(&out.stdout[..out.stdout.len() - big.len()]);
    assert!(text.contains("X-Sagiscan-Verdict: scam"), "{text}");
}

#[test]
fn unlabelled_japanese_charsets_are_decoded_and_caught() {
    for name in [
        "unlabelled_shift_jis.txt",
        "unlabelled_euc_jp.txt",
        "unlabelled_iso2022jp.txt",
    ] {
        let bytes = std::fs::read(committed(name)).unwrap();
        let out = run(sagiscan().args(["check", "--format", "json"]), Some(bytes));
        let rec = one_record(&out);
        assert_eq!(rec["verdict"], "scam", "{name}: {rec}");
        assert!(rec["error"].is_null(), "{name}: {rec}");
        let hit = rec["hits"][0]["text"].as_str().unwrap();
        assert!(
            SCAM.contains(hit),
            "{name}: hit {hit:?} is not decoded text"
        );
    }
}

#[test]
fn filter_is_fail_open_on_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    for path in generated(tmp.path()).into_iter().chain(committed_inputs()) {
        let raw = std::fs::read(&path).unwrap();
        let out = run(sagiscan().arg("filter"), Some(raw.clone()));
        assert_eq!(out.status.code(), Some(0), "{}", path.display());
        // Either untouched, or the same bytes with headers inserted.
        if out.stdout != raw {
            assert!(
                out.stdout.len() > raw.len()
                    && out.stdout.windows(18).any(|w| w == b"X-Sagiscan-Verdict"),
                "{}",
                path.display()
            );
        }
    }
    // Undecodable bytes that are not mail pass through unchanged.
    for raw in [
        random_bytes(100_000, 3),
        std::fs::read(committed("invalid_utf8.txt")).unwrap(),
    ] {
        let out = run(sagiscan().arg("filter"), Some(raw.clone()));
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout == raw, "garbage was changed");
    }
    // A broken rule pack: the mail still goes through unchanged.
    let raw = b"Subject: hi\n\nhello\n".to_vec();
    let out = run(
        sagiscan().args(["filter", "--patterns", "/nonexistent/pack"]),
        Some(raw.clone()),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, raw);
}

#[test]
fn closed_output_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let mbox = tmp.path().join("many.mbox");
    let mut m = Vec::new();
    for i in 0..3000 {
        m.extend(mbox_entry(format!("Subject: {i}\n\n{SCAM}").as_bytes()));
    }
    std::fs::write(&mbox, &m).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("sagiscan");
    for (args, input) in [
        ("scan --format jsonl", mbox.display().to_string()),
        ("scan --format table", mbox.display().to_string()),
        ("scan --format json", mbox.display().to_string()),
        (
            "check --format jsonl",
            format!("{0} {0} {0}", mbox.display()),
        ),
    ] {
        let script = format!(
            "'{}' {args} {input} | head -c 10 >/dev/null; exit ${{PIPESTATUS[0]}}",
            bin.display()
        );
        let out = run(Command::new("bash").arg("-c").arg(&script), None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args}: {stderr}");
        assert!(
            !stderr.contains("error") && !stderr.contains("Broken pipe"),
            "{args}: {stderr}"
        );
    }
}

fn pack_with_rule(dir: &Path, rule: &str) -> PathBuf {
    let pack = dir.join("pack");
    std::fs::create_dir(&pack).unwrap();
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("patterns")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, pack.join(p.file_name().unwrap())).unwrap();
    }
    let evil = pack.join("zz-evil.toml");
    std::fs::write(&evil, rule).unwrap();
    pack
}

fn evil_rule(regex: &str) -> String {
    format!(
        "# untrusted\n\n[[rule]]\nid = \"evil.rule\"\ncategory = \"prepaid\"\nweight = 1.0\ndescription = {{ ja = \"x\", en = \"x\" }}\nregexes = [\n  {},\n]\n",
        toml_string(regex)
    )
}

fn toml_string(s: &str) -> String {
    format!("'''{s}'''")
}

#[test]
fn untrusted_pack_with_huge_regex_is_a_clear_error() {
    let cases = [
        ("counted repetition", r"\w{1000}{1000}".to_string()),
        (
            "4000 alternatives",
            (0..4000)
                .map(|i| format!("x{i}"))
                .collect::<Vec<_>>()
                .join("|"),
        ),
        ("nested repetition", r"((a{100}){100}){100}".to_string()),
    ];
    for (what, regex) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let pack = pack_with_rule(tmp.path(), &evil_rule(&regex));
        let started = std::time::Instant::now();
        let out = run(
            sagiscan().args(["check", "--patterns"]).arg(&pack).arg("-"),
            Some(b"hello".to_vec()),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains("zz-evil.toml") && stderr.contains(":9:"),
            "{what}: no file:line in {stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: slow build"
        );
    }
}

#[test]
fn pack_literal_cap_is_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let long = "あ".repeat(sagiscan::patterns::limits::MAX_PATTERN_LEN);
    let rule = format!(
        "[[rule]]\nid = \"evil.literal\"\ncategory = \"prepaid\"\nweight = 1.0\ndescription = {{ ja = \"x\", en = \"x\" }}\nliterals = [\"{long}\"]\n"
    );
    let pack = pack_with_rule(tmp.path(), &rule);
    let out = run(sagiscan().args(["lint", "--patterns"]).arg(&pack), None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}{stdout}");
    assert!(
        format!("{stderr}{stdout}").contains("literal longer than"),
        "{stderr}{stdout}"
    );
}

/// Found by the `mime` fuzz target: an RFC 2047 word whose encoding letter
/// is a multi-byte character (`=?cs?ﾂ?...?=`) sliced a str inside a char.
#[test]
fn encoded_word_with_multibyte_encoding_letter_does_not_panic() {
    let _ = sagiscan::mail::decode_encoded_words("=?utf-8?ﾂ?abc?=");
    let raw = std::fs::read(committed("fuzz_mime_encoded_word_multibyte_encoding.eml")).unwrap();
    let _ = sagiscan::mail::parse_message(&raw, &sagiscan::mail::ParseLimits::default());
}
