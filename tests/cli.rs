//! End-to-end tests of the `sagiscan` binary: verdicts, exit codes, JSON
//! offsets and rule-pack errors, on the seed's own messages.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn sagiscan() -> Command {
    let mut cmd = Command::cargo_bin("sagiscan").unwrap();
    cmd.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C")
        .env("NO_COLOR", "1");
    cmd
}

fn json_of(path: &Path) -> Value {
    let out = sagiscan()
        .arg("--format")
        .arg("json")
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every hit's start..end slices the original bytes to exactly its text.
fn assert_offsets(original: &str, record: &Value) {
    for hit in record["hits"].as_array().unwrap() {
        if hit["part"] != "body" {
            continue;
        }
        let (s, e) = (
            hit["start"].as_u64().unwrap() as usize,
            hit["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&original[s..e], hit["text"].as_str().unwrap(), "hit {hit}");
    }
}

#[test]
fn seed_messages_get_their_expected_verdicts() {
    let mut checked = 0;
    for entry in std::fs::read_dir("tests/seed").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let expected = if name.starts_with("scam_") {
            "scam"
        } else {
            "clean"
        };
        let record = json_of(&path);
        assert_eq!(
            record["verdict"], expected,
            "{name}: {}",
            record["explanation"]
        );
        let original = std::fs::read_to_string(&path).unwrap();
        if !original.starts_with("From:") {
            assert_offsets(&original, &record);
        }
        checked += 1;
    }
    assert!(checked >= 10);
}

#[test]
fn scam_on_stdin_exits_1_and_clean_exits_0() {
    let scam = std::fs::read_to_string("tests/seed/scam_dmm-call.txt").unwrap();
    sagiscan()
        .write_stdin(scam)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Likely a scam"));
    sagiscan()
        .write_stdin("明日の会議は10時からです。")
        .assert()
        .code(0);
}

#[test]
fn fail_on_controls_the_exit_code() {
    let scam = std::fs::read_to_string("tests/seed/scam_dmm-call.txt").unwrap();
    sagiscan()
        .args(["--fail-on", "never"])
        .write_stdin(scam.clone())
        .assert()
        .code(0);
    sagiscan()
        .args(["check", "--fail-on", "scam", "-"])
        .write_stdin(scam)
        .assert()
        .code(1);
}

#[test]
fn evasion_with_half_width_full_width_and_spaces_is_still_a_scam_with_exact_offsets() {
    let path = Path::new("tests/seed/scam_evasion-halfwidth-spaced.txt");
    let original = std::fs::read_to_string(path).unwrap();
    let record = json_of(path);
    assert_eq!(record["verdict"], "scam");
    assert_offsets(&original, &record);
    let texts: Vec<&str> = record["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["text"].as_str())
        .collect();
    assert!(texts.contains(&"ｲ ﾝ ﾀ ｰ ﾈ ｯ ﾄ 協 会"), "{texts:?}");
    assert!(texts.contains(&"ﾌﾟﾘﾍﾟｲﾄﾞｶｰﾄﾞ"), "{texts:?}");
}

#[test]
fn json_record_has_the_documented_fields() {
    let record = json_of(Path::new("tests/seed/scam_society-prize.txt"));
    for key in [
        "source",
        "index",
        "offset",
        "message_id",
        "from",
        "subject",
        "verdict",
        "score",
        "categories",
        "hits",
        "combos",
        "entities",
        "explanation",
        "error",
    ] {
        assert!(record.get(key).is_some(), "missing {key}");
    }
    assert_eq!(record["source"], "tests/seed/scam_society-prize.txt");
    let amounts = record["entities"]["amounts"].as_array().unwrap();
    assert!(
        amounts
            .iter()
            .any(|a| a["yen"] == 87_500_000 && a["text"] == "8,750万円"),
        "{amounts:?}"
    );
    let points: f64 = record["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["points"].as_f64().unwrap())
        .sum();
    assert!(
        (points - record["score"].as_f64().unwrap()).abs() < 0.3,
        "contributions {points} vs score {}",
        record["score"]
    );
}

#[test]
fn jsonl_prints_one_record_per_input() {
    let out = sagiscan()
        .args([
            "--format",
            "jsonl",
            "tests/seed/ham_everyday.txt",
            "tests/seed/scam_dmm-call.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "clean");
    assert_eq!(lines[1]["verdict"], "scam");
}

#[test]
fn shift_jis_input_is_decoded() {
    let text = std::fs::read_to_string("tests/seed/scam_dmm-call.txt").unwrap();
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    sagiscan()
        .write_stdin(sjis.into_owned())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Likely a scam"));
}

#[test]
fn broken_regex_in_a_pack_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pack.toml"),
        "[thresholds]\nsuspicious = 3.0\nscam = 6.0\n[[category]]\nid = \"x\"\nname = { ja = \"x\", en = \"x\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[rule]]\nid = \"x.bad\"\ncategory = \"x\"\nweight = 1.0\nregexes = [\"(unclosed\"]\n",
    )
    .unwrap();
    sagiscan()
        .arg("--patterns")
        .arg(dir.path())
        .write_stdin("test")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("bad.toml:5:").and(predicate::str::contains("invalid regex")),
        );
}

#[test]
fn missing_file_exits_2_naming_it() {
    sagiscan()
        .arg("no/such/file.txt")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/file.txt"));
}

#[test]
fn builtin_rule_examples_all_pass_lint() {
    let out = sagiscan().arg("lint").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A rule pack folder with one category `x` and the given rules (TOML).
fn pack_with_rules(rules: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pack.toml"),
        "[thresholds]\nsuspicious = 3.0\nscam = 6.0\n[[category]]\nid = \"x\"\nname = { ja = \"x\", en = \"x\" }\nexplanation = { ja = \"x\", en = \"x\" }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("r.toml"), rules).unwrap();
    dir
}

#[test]
fn lint_fails_naming_a_rule_whose_example_does_not_fire() {
    let dir = pack_with_rules(
        "[[rule]]\nid = \"x.card\"\ncategory = \"x\"\nweight = 1.0\ndescription = { ja = \"x\", en = \"x\" }\nliterals = [\"ギフト券\"]\nexamples = [\"プリペイドカード\"]\n",
    );
    sagiscan()
        .arg("lint")
        .arg("--patterns")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("x.card").and(predicate::str::contains(
                "example does not fire: プリペイドカード",
            )),
        );
}

/// A maintainer adding a regex that every message pays for (searched over
/// the whole text, in long windows, or woken by a two-character word) is
/// told which one and why, as a warning that does not fail lint; a regex that starts at a rare
/// word is not mentioned.
#[test]
fn lint_warns_about_regexes_that_every_message_pays_for() {
    let dir = pack_with_rules(concat!(
        "[[rule]]\nid = \"x.whole\"\ncategory = \"x\"\nweight = 1.0\ndescription = { ja = \"x\", en = \"x\" }\n",
        "regexes = [\"[0-9]+万円デ\"]\nexamples = [\"30万円で\"]\n",
        "[[rule]]\nid = \"x.common\"\ncategory = \"x\"\nweight = 1.0\ndescription = { ja = \"x\", en = \"x\" }\n",
        "regexes = [\"(コレ|ソレ)[^。]{0,5}(詐欺)?\"]\nexamples = [\"これは\"]\n",
        "[[rule]]\nid = \"x.rare\"\ncategory = \"x\"\nweight = 1.0\ndescription = { ja = \"x\", en = \"x\" }\n",
        "regexes = [\"還付金[^。]{0,5}(受ケ取)\"]\nexamples = [\"還付金を受け取って\"]\n",
        "[[rule]]\nid = \"x.window\"\ncategory = \"x\"\nweight = 1.0\ndescription = { ja = \"x\", en = \"x\" }\n",
        "regexes = [\"(pr|モニター)(?s:.){0,200}(送料)\"]\nexamples = [\"モニターの送料\"]\n",
    ));
    sagiscan()
        .args(["lint", "-v", "--patterns"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("x.whole: regex")
                .and(predicate::str::contains(
                    "searched over the whole of every message",
                ))
                .and(predicate::str::contains("x.common: regex"))
                .and(predicate::str::contains("wakes at every"))
                .and(predicate::str::contains("x.window: regex"))
                .and(predicate::str::contains("long windows"))
                .and(predicate::str::contains("x.rare").not()),
        );
}

#[test]
fn corpus_regression_against_the_committed_baseline() {
    sagiscan()
        .args([
            "test",
            "tests/corpus",
            "--baseline",
            "tests/corpus/baseline.json",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("baseline: no regressions"));
}

#[test]
fn regression_global_flags_before_the_subcommand_are_not_read_as_a_file() {
    sagiscan()
        .args(["--patterns", "patterns", "lint"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("0 error(s)"));
    // A file argument still means the implied `check`.
    sagiscan()
        .args(["--format", "json", "tests/seed/ham_everyday.txt"])
        .assert()
        .code(0);
}
