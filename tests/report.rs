//! The report a person reads: snapshots of the human report (both languages,
//! with and without colour, for a scam, a suspicious and a clean message),
//! quoting of disguised phrases exactly as typed, wrapping, and the CLI
//! behaviour around it (`--quiet`, `--lang`, locale, `NO_COLOR`,
//! completions, man page).
//!
//! Everything uses the frozen pack in `tests/fixtures/report-pack/`, not the
//! built-in one, so snapshots only change when the report does.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use sagiscan::patterns::{self, Lang};
use sagiscan::report::{HumanOptions, Origin, Record, render_human};
use sagiscan::{Engine, Message};
use unicode_width::UnicodeWidthStr;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pack_dir() -> PathBuf {
    root().join("tests/fixtures/report-pack")
}

fn engine() -> Engine {
    Engine::build(patterns::load_dir(&pack_dir()).expect("test pack loads")).expect("builds")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(root().join("examples").join(name)).expect("example exists")
}

fn render(name: &str, lang: Lang, color: bool, width: Option<usize>) -> String {
    render_with(&engine(), name, lang, color, width)
}

fn render_with(
    engine: &Engine,
    name: &str,
    lang: Lang,
    color: bool,
    width: Option<usize>,
) -> String {
    let message = Message::plain(example(name));
    let analysis = engine.analyze(&message);
    let origin = Origin {
        source: name.to_string(),
        ..Origin::default()
    };
    let opts = HumanOptions {
        lang,
        color,
        quiet: false,
        width,
    };
    render_human(&analysis, &message, &origin, engine.pack(), opts)
}

/// Escape sequences made visible, so colour snapshots are reviewable.
fn visible(s: &str) -> String {
    s.replace('\u{1b}', "␛")
}

const SCAM: &str = "seed-refund-prepaid.txt";
const SUSPICIOUS: &str = "suspicious-refund-call.txt";
const CLEAN: &str = "clean-seminar.txt";
const SPACED: &str = "scam-halfwidth-spaced.txt";
const FAKE_WARNING: &str = "scam-fake-bank-warning.txt";

macro_rules! snapshots {
    ($($name:ident: $file:expr, $lang:expr, $color:expr;)*) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(visible(&render($file, $lang, $color, Some(80))));
            }
        )*
    };
}

snapshots! {
    scam_ja_plain: SCAM, Lang::Ja, false;
    scam_en_plain: SCAM, Lang::En, false;
    scam_ja_color: SCAM, Lang::Ja, true;
    scam_en_color: SCAM, Lang::En, true;
    suspicious_ja_plain: SUSPICIOUS, Lang::Ja, false;
    suspicious_en_plain: SUSPICIOUS, Lang::En, false;
    suspicious_ja_color: SUSPICIOUS, Lang::Ja, true;
    suspicious_en_color: SUSPICIOUS, Lang::En, true;
    clean_ja_plain: CLEAN, Lang::Ja, false;
    clean_en_plain: CLEAN, Lang::En, false;
    clean_ja_color: CLEAN, Lang::Ja, true;
    clean_en_color: CLEAN, Lang::En, true;
    spaced_ja_plain: SPACED, Lang::Ja, false;
}

/// The frozen pack has no look-alike rule: this one reads the built-in pack.
#[test]
fn regression_phishing_dressed_as_a_banks_own_warning_says_why_its_warnings_do_not_count() {
    let builtin = Engine::build(sagiscan::builtin::load_builtin().expect("built-in pack loads"))
        .expect("builds");
    let out = render_with(&builtin, FAKE_WARNING, Lang::En, false, None);
    assert!(
        out.lines().next().unwrap().contains("Likely a scam"),
        "{out}"
    );
    assert!(
        out.contains("Not counted: the message itself sends you"),
        "{out}"
    );
    let ja = render_with(&builtin, FAKE_WARNING, Lang::Ja, false, None);
    assert!(ja.contains("見せかけなので、減点していません"), "{ja}");
    // A genuine message keeps the plain list.
    let clean = render_with(&builtin, CLEAN, Lang::En, false, None);
    assert!(!clean.contains("Not counted"), "{clean}");
    // The JSON record says it too, in a field and in its explanation.
    let analysis = builtin.analyze(&Message::plain(example(FAKE_WARNING)));
    let record = Record::new(Origin::default(), &analysis, builtin.pack(), Lang::En);
    let json: serde_json::Value = serde_json::to_value(&record).expect("serializes");
    assert_eq!(json["warnings_disarmed"], true, "{json}");
    let explanation = json["explanation"].as_str().unwrap_or_default();
    assert!(
        explanation.ends_with(
            "the message itself sends you to a look-alike site or through a disguised link"
        ),
        "{explanation}"
    );
    let clean_analysis = builtin.analyze(&Message::plain(example(CLEAN)));
    let clean_record = Record::new(Origin::default(), &clean_analysis, builtin.pack(), Lang::En);
    let clean_json = serde_json::to_value(&clean_record).expect("serializes");
    assert!(
        clean_json.get("warnings_disarmed").is_none(),
        "{clean_json}"
    );
}

#[test]
fn verdict_comes_first_with_score_and_thresholds() {
    let ja = render(SCAM, Lang::Ja, false, Some(80));
    let first = ja.lines().next().unwrap();
    assert!(first.contains("詐欺の可能性が高い"), "{first}");
    assert!(first.contains("詐欺 8.0 以上"), "{first}");
    let en = render(SUSPICIOUS, Lang::En, false, Some(80));
    let first = en.lines().next().unwrap();
    assert!(first.contains("Be careful"), "{first}");
    assert!(first.contains("suspicious at 4.0"), "{first}");
    let clean = render(CLEAN, Lang::Ja, false, Some(80));
    assert!(clean.starts_with("clean-seminar.txt: ✔ 詐欺の特徴は見つかりませんでした"));
}

#[test]
fn half_width_spaced_phrases_are_quoted_exactly_as_typed() {
    let out = render(SPACED, Lang::Ja, false, None);
    for phrase in [
        "ｲﾝﾀｰﾈｯﾄ 協 会",
        "ｺﾝﾋﾞﾆでﾌﾟ ﾘ ﾍﾟ ｲ ﾄﾞ ｶ ｰ ﾄﾞを購入",
        "還 付 金",
        "0120-**-****",
    ] {
        assert!(
            out.contains(&format!("【{phrase}】")),
            "{phrase} not highlighted in:\n{out}"
        );
    }
    // The normalized spelling never appears in place of what was typed.
    assert!(!out.contains("【インターネット協会】"), "{out}");
    let colored = render(SPACED, Lang::En, true, None);
    assert!(colored.contains("ｲﾝﾀｰﾈｯﾄ 協 会\u{1b}["), "{colored:?}");
    assert!(!colored.contains('【'));
}

#[test]
fn the_message_own_brackets_do_not_hide_the_highlight() {
    // The scam line starts with 【重要】: its phrases get another marker.
    let out = render(SCAM, Lang::Ja, false, None);
    assert!(out.contains("【重要】"), "{out}");
    assert!(
        out.contains("《コンビニでプリペイドカードを購入》"),
        "{out}"
    );
}

#[test]
fn no_line_is_wider_than_the_width() {
    for width in [40, 60, 80] {
        for name in [SCAM, SUSPICIOUS, CLEAN, SPACED] {
            for lang in [Lang::Ja, Lang::En] {
                let out = render(name, lang, false, Some(width));
                // The verdict line is kept whole (it is what --quiet prints).
                for line in out.lines().skip(1) {
                    assert!(line.width() <= width, "{name} {width}: {line:?}");
                }
            }
        }
    }
}

#[test]
fn advice_names_hotlines_only_when_needed_and_defangs_links() {
    let engine = engine();
    let text = "インターネット協会より還付金があります。本日中に https://inet-kyokai.top/refund から手続きしてください。";
    let message = Message::plain(text);
    let analysis = engine.analyze(&message);
    let out = render_human(
        &analysis,
        &message,
        &Origin::default(),
        engine.pack(),
        HumanOptions::new(Lang::Ja),
    );
    assert!(out.contains("hxxps://inet-kyokai[.]top/refund"), "{out}");
    assert!(!out.contains("https://inet-kyokai.top"), "{out}");
    assert!(out.contains("リンクを開かない"), "{out}");
    assert!(out.contains("188") && out.contains("#9110"), "{out}");
}

#[test]
fn quiet_prints_the_verdict_line_only() {
    let engine = engine();
    let message = Message::plain(example(SCAM));
    let analysis = engine.analyze(&message);
    let opts = HumanOptions {
        quiet: true,
        ..HumanOptions::new(Lang::En)
    };
    let out = render_human(&analysis, &message, &Origin::default(), engine.pack(), opts);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("✖ Likely a scam"), "{out}");
}

#[test]
fn hits_in_the_subject_are_labelled_and_escapes_are_not_echoed() {
    let engine = engine();
    let mut message = Message::default();
    message.push(
        sagiscan::PartKind::Subject,
        "インターネット協会より還付金のお知らせ",
    );
    message.push(
        sagiscan::PartKind::Body,
        "\u{1b}]8;;https://evil.example/\u{7}本日中\u{1b}[2Jにプリペイドカードを購入してください。",
    );
    let analysis = engine.analyze(&message);
    let out = render_human(
        &analysis,
        &message,
        &Origin::default(),
        engine.pack(),
        HumanOptions::new(Lang::Ja),
    );
    assert!(
        out.contains("件名: 【インターネット協会】より還付金のお知らせ"),
        "{out}"
    );
    assert!(out.contains("【本日中】"), "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    assert!(!out.contains("https://evil.example"), "{out}");
}

// ---- the command line ---------------------------------------------------

fn sagiscan() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("sagiscan"));
    for key in ["LC_ALL", "LC_MESSAGES", "LANG", "NO_COLOR", "COLUMNS"] {
        cmd.env_remove(key);
    }
    cmd.arg("--patterns").arg(pack_dir());
    cmd
}

fn example_path(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

#[test]
fn cli_quiet_prints_one_line_and_exits_1_on_a_scam() {
    let out = sagiscan()
        .args(["--quiet", "--lang", "en"])
        .arg(example_path(SCAM))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("Likely a scam"), "{out}");
}

#[test]
fn cli_clean_message_exits_0() {
    sagiscan()
        .args(["-q", "--lang", "ja"])
        .arg(example_path(CLEAN))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("詐欺の特徴は見つかりませんでした"));
}

#[test]
fn cli_lang_flag_overrides_the_locale() {
    sagiscan()
        .env("LANG", "ja_JP.UTF-8")
        .args(["--lang", "en"])
        .arg(example_path(SCAM))
        .assert()
        .stdout(predicate::str::contains("What to do"))
        .stdout(predicate::str::contains("理由").not());
    sagiscan()
        .env("LANG", "C")
        .args(["--lang", "ja"])
        .arg(example_path(SCAM))
        .assert()
        .stdout(predicate::str::contains("どうすればいい?"));
}

#[test]
fn cli_japanese_locale_gives_a_japanese_report() {
    sagiscan()
        .env("LANG", "ja_JP.UTF-8")
        .arg(example_path(SCAM))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("詐欺の可能性が高い"))
        .stdout(predicate::str::contains("消費者ホットライン 188"));
    // LC_ALL wins over LANG.
    sagiscan()
        .env("LANG", "ja_JP.UTF-8")
        .env("LC_ALL", "en_US.UTF-8")
        .arg(example_path(SCAM))
        .assert()
        .stdout(predicate::str::contains("Likely a scam"));
}

#[test]
fn cli_reads_stdin() {
    sagiscan()
        .args(["--lang", "en", "-q"])
        .write_stdin(example(SPACED))
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("✖ Likely a scam"));
}

#[test]
fn cli_colour_only_when_asked_and_no_color_honoured() {
    // Not a terminal: no colour by default.
    sagiscan()
        .arg(example_path(SCAM))
        .assert()
        .stdout(predicate::str::contains("\u{1b}[").not())
        .stdout(predicate::str::contains("【インターネット協会】"));
    sagiscan()
        .env("NO_COLOR", "1")
        .args(["--color", "auto"])
        .arg(example_path(SCAM))
        .assert()
        .stdout(predicate::str::contains("\u{1b}[").not());
    sagiscan()
        .args(["--color", "always"])
        .arg(example_path(SCAM))
        .assert()
        .stdout(predicate::str::contains("\u{1b}["));
}

#[test]
fn cli_wraps_to_columns() {
    let out = sagiscan()
        .env("COLUMNS", "50")
        .args(["--lang", "ja"])
        .arg(example_path(SCAM))
        .assert()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    for line in out.lines().skip(1) {
        assert!(line.width() <= 50, "{line:?}");
    }
}

#[test]
fn cli_completions_and_man() {
    Command::new(assert_cmd::cargo::cargo_bin!("sagiscan"))
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_sagiscan()"))
        .stdout(predicate::str::contains("--lang"));
    for shell in ["zsh", "fish"] {
        Command::new(assert_cmd::cargo::cargo_bin!("sagiscan"))
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("sagiscan"));
    }
    Command::new(assert_cmd::cargo::cargo_bin!("sagiscan"))
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH sagiscan 1"))
        .stdout(predicate::str::contains("Exit codes"));
}

#[test]
fn cli_help_documents_flags_exit_codes_and_examples() {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("sagiscan"))
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    for needle in [
        "--quiet",
        "--lang",
        "--color",
        "--format",
        "--fail-on",
        "--patterns",
        "Exit codes",
        "NO_COLOR",
        "Examples",
        "completions",
        "man",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn examples_are_where_the_readme_says() {
    for name in [SCAM, SUSPICIOUS, CLEAN, SPACED, "library.rs"] {
        assert!(Path::new(&example_path(name)).is_file(), "{name}");
    }
}
