//! Reports: the JSON record of DESIGN.md and the explanation text.
//!
//! The library builds reports as values and strings; only the binary writes
//! them anywhere. The JSON record is the machine contract (`--format json` /
//! `jsonl`); `explanation` spells out, in the chosen language, where every
//! point of the score came from.

use serde::Serialize;

use crate::engine::Hit;
use crate::patterns::{Lang, RulePack};
use crate::score::{Analysis, ComboHit, Contribution, Verdict};

/// Where a message came from, for batch records.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Origin {
    /// A path, or `-` for stdin.
    pub source: String,
    /// Position of the message within its source (0-based).
    pub index: Option<u64>,
    /// Byte offset of the message in an mbox.
    pub offset: Option<u64>,
    /// Message-ID header.
    pub message_id: Option<String>,
    /// From header (decoded).
    pub from: Option<String>,
    /// Subject header (decoded).
    pub subject: Option<String>,
}

/// An amount as it appears in the JSON record.
#[derive(Debug, Clone, Serialize)]
pub struct AmountRecord {
    /// Value in yen.
    pub yen: u64,
    /// As written.
    pub text: String,
}

/// The `entities` object of the JSON record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EntitiesRecord {
    /// Links as written.
    pub urls: Vec<String>,
    /// Phone numbers as written.
    pub phones: Vec<String>,
    /// Amounts.
    pub amounts: Vec<AmountRecord>,
}

/// One message's result: the JSON schema of DESIGN.md.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// A path, or `-`.
    pub source: String,
    /// Position within the source (mail batches), else null.
    pub index: Option<u64>,
    /// Byte offset within an mbox, else null.
    pub offset: Option<u64>,
    /// Message-ID, else null.
    pub message_id: Option<String>,
    /// From, else null.
    pub from: Option<String>,
    /// Subject, else null.
    pub subject: Option<String>,
    /// `scam`, `suspicious` or `clean`.
    pub verdict: Verdict,
    /// The score.
    pub score: f64,
    /// Categories that fired.
    pub categories: Vec<String>,
    /// Every hit.
    pub hits: Vec<Hit>,
    /// Combos that fired.
    pub combos: Vec<ComboHit>,
    /// Points per rule and combo.
    pub contributions: Vec<Contribution>,
    /// Links, phones, amounts.
    pub entities: EntitiesRecord,
    /// Where the score came from, in words.
    pub explanation: String,
    /// Set when the message could not be (fully) decoded.
    pub error: Option<String>,
    /// Set when the message was larger than the size limit and only its start was scored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Record {
    /// Build the record of an analysed message.
    pub fn new(origin: Origin, analysis: &Analysis, pack: &RulePack, lang: Lang) -> Record {
        Record {
            source: origin.source,
            index: origin.index,
            offset: origin.offset,
            message_id: origin.message_id,
            from: origin.from,
            subject: origin.subject,
            verdict: analysis.verdict,
            score: analysis.score,
            categories: analysis.categories.clone(),
            hits: analysis.hits.clone(),
            combos: analysis.combos.clone(),
            contributions: analysis.contributions.clone(),
            entities: EntitiesRecord {
                urls: analysis
                    .entities
                    .urls
                    .iter()
                    .map(|u| u.text.clone())
                    .collect(),
                phones: analysis
                    .entities
                    .phones
                    .iter()
                    .map(|p| p.text.clone())
                    .collect(),
                amounts: analysis
                    .entities
                    .amounts
                    .iter()
                    .map(|a| AmountRecord {
                        yen: a.yen,
                        text: a.text.clone(),
                    })
                    .collect(),
            },
            explanation: explanation(analysis, pack, lang),
            error: None,
            truncated: false,
        }
    }

    /// A record for a message that could not be analysed at all.
    pub fn failed(origin: Origin, error: String) -> Record {
        Record {
            source: origin.source,
            index: origin.index,
            offset: origin.offset,
            message_id: origin.message_id,
            from: origin.from,
            subject: origin.subject,
            verdict: Verdict::Clean,
            score: 0.0,
            categories: Vec::new(),
            hits: Vec::new(),
            combos: Vec::new(),
            contributions: Vec::new(),
            entities: EntitiesRecord::default(),
            explanation: String::new(),
            error: Some(error),
            truncated: false,
        }
    }
}

/// The verdict in words.
pub fn verdict_label(verdict: Verdict, lang: Lang) -> &'static str {
    match (verdict, lang) {
        (Verdict::Scam, Lang::Ja) => "詐欺の可能性が高い",
        (Verdict::Suspicious, Lang::Ja) => "注意が必要",
        (Verdict::Clean, Lang::Ja) => "詐欺の特徴は見つかりませんでした",
        (Verdict::Scam, Lang::En) => "Likely a scam",
        (Verdict::Suspicious, Lang::En) => "Be careful",
        (Verdict::Clean, Lang::En) => "No signs of a scam found",
    }
}

/// One sentence per contribution: where each point of the score came from.
pub fn explanation(analysis: &Analysis, pack: &RulePack, lang: Lang) -> String {
    let mut parts = Vec::new();
    for c in &analysis.contributions {
        let what = if c.category == "combo" {
            pack.combos
                .iter()
                .find(|x| x.id == c.id)
                .map(|x| x.description.get(lang).to_string())
                .unwrap_or_default()
        } else {
            pack.rules
                .iter()
                .find(|r| r.id == c.id)
                .map(|r| r.description.get(lang).to_string())
                .unwrap_or_default()
        };
        parts.push(format!("{:+.1} {} ({})", c.points, c.id, what));
    }
    let head = match lang {
        Lang::Ja => format!(
            "スコア {:.1}(注意 {:.1} / 詐欺 {:.1} 以上): {}",
            analysis.score,
            analysis.suspicious_threshold,
            analysis.scam_threshold,
            verdict_label(analysis.verdict, lang)
        ),
        Lang::En => format!(
            "score {:.1} (suspicious at {:.1}, scam at {:.1}): {}",
            analysis.score,
            analysis.suspicious_threshold,
            analysis.scam_threshold,
            verdict_label(analysis.verdict, lang)
        ),
    };
    if parts.is_empty() {
        head
    } else {
        format!("{head}; {}", parts.join("; "))
    }
}

/// Options for the human report.
#[derive(Debug, Clone, Copy)]
pub struct HumanOptions {
    /// Language.
    pub lang: Lang,
    /// Emit ANSI colour.
    pub color: bool,
    /// Only the verdict line.
    pub quiet: bool,
}

fn paint(s: &str, style: anstyle::Style, color: bool) -> String {
    if color {
        format!("{}{s}{}", style.render(), style.render_reset())
    } else {
        s.to_string()
    }
}

/// The line of `text` around `start..end`, with the hit marked 【…】 (or coloured).
fn context_line(text: &str, start: usize, end: usize, color: bool) -> String {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    // Keep lines readable: at most ~30 characters either side.
    let before: String = {
        let b = &text[line_start..start];
        let n = b.chars().count();
        if n > 30 {
            format!("…{}", b.chars().skip(n - 30).collect::<String>())
        } else {
            b.to_string()
        }
    };
    let after: String = {
        let a = &text[end..line_end];
        if a.chars().count() > 30 {
            format!("{}…", a.chars().take(30).collect::<String>())
        } else {
            a.to_string()
        }
    };
    let hit = &text[start..end];
    let marked = if color {
        paint(
            hit,
            anstyle::Style::new()
                .bold()
                .fg_color(Some(anstyle::AnsiColor::Red.into()))
                .underline(),
            true,
        )
    } else {
        format!("【{hit}】")
    };
    format!("{before}{marked}{after}").replace(['\r', '\t'], " ")
}

/// Make a link unclickable: `hxxps://example[.]top/...`.
pub fn defang(url: &str) -> String {
    url.replacen("http", "hxxp", 1).replace('.', "[.]")
}

/// The report a person reads: verdict first, the reasons in their own words, what to do.
pub fn render_human(
    analysis: &Analysis,
    message: &crate::Message,
    origin: &Origin,
    pack: &RulePack,
    opts: HumanOptions,
) -> String {
    use std::fmt::Write;
    let lang = opts.lang;
    let mut out = String::new();
    let style = match analysis.verdict {
        Verdict::Scam => anstyle::Style::new()
            .bold()
            .fg_color(Some(anstyle::AnsiColor::Red.into())),
        Verdict::Suspicious => anstyle::Style::new()
            .bold()
            .fg_color(Some(anstyle::AnsiColor::Yellow.into())),
        Verdict::Clean => anstyle::Style::new()
            .bold()
            .fg_color(Some(anstyle::AnsiColor::Green.into())),
    };
    let mark = match analysis.verdict {
        Verdict::Scam => "✖",
        Verdict::Suspicious => "⚠",
        Verdict::Clean => "✔",
    };
    let source = if origin.source == "-" {
        String::new()
    } else {
        format!("{}: ", origin.source)
    };
    let score = match lang {
        Lang::Ja => format!(
            "スコア {:.1} / 詐欺判定 {:.1}",
            analysis.score, analysis.scam_threshold
        ),
        Lang::En => format!(
            "score {:.1} / scam at {:.1}",
            analysis.score, analysis.scam_threshold
        ),
    };
    let _ = writeln!(
        out,
        "{source}{} ({score})",
        paint(
            &format!("{mark} {}", verdict_label(analysis.verdict, lang)),
            style,
            opts.color
        )
    );
    if opts.quiet {
        return out;
    }
    let positive: Vec<&Hit> = analysis.hits.iter().filter(|h| h.weight > 0.0).collect();
    if !positive.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            paint(
                if lang == Lang::Ja { "理由" } else { "Why" },
                anstyle::Style::new().bold(),
                opts.color
            )
        );
        for cat_id in &analysis.categories {
            let Some(cat) = pack.categories.iter().find(|c| &c.id == cat_id) else {
                continue;
            };
            if cat.negative {
                continue;
            }
            let points: f64 = analysis
                .contributions
                .iter()
                .filter(|c| &c.category == cat_id)
                .map(|c| c.points)
                .sum();
            let _ = writeln!(out, "  ■ {} (+{:.1})", cat.name.get(lang), points);
            let expl = cat.explanation.get(lang);
            if !expl.is_empty() {
                let _ = writeln!(out, "    {expl}");
            }
            let mut shown = 0;
            let mut seen = std::collections::HashSet::new();
            for h in positive.iter().filter(|h| &h.category == cat_id) {
                if !seen.insert((h.part, h.start, h.end)) || shown >= 3 {
                    continue;
                }
                shown += 1;
                let Some(text) = message.part(h.part) else {
                    continue;
                };
                if h.end > text.len()
                    || !text.is_char_boundary(h.start)
                    || !text.is_char_boundary(h.end)
                {
                    continue;
                }
                let line = context_line(text, h.start, h.end, opts.color);
                let part = match (h.part, lang) {
                    (crate::PartKind::Subject, Lang::Ja) => "件名: ",
                    (crate::PartKind::Subject, Lang::En) => "Subject: ",
                    (crate::PartKind::From, Lang::Ja) => "差出人: ",
                    (crate::PartKind::From, Lang::En) => "From: ",
                    _ => "",
                };
                let _ = writeln!(out, "    » {part}{line}");
            }
        }
        for c in &analysis.combos {
            if let Some(combo) = pack.combos.iter().find(|x| x.id == c.id) {
                let _ = writeln!(out, "  ■ {} (+{:.1})", combo.description.get(lang), c.bonus);
            }
        }
    }
    let negative: f64 = analysis
        .contributions
        .iter()
        .filter(|c| c.points < 0.0)
        .map(|c| c.points)
        .sum();
    if negative < 0.0 {
        let names: Vec<&str> = analysis
            .categories
            .iter()
            .filter_map(|id| pack.categories.iter().find(|c| &c.id == id && c.negative))
            .map(|c| c.name.get(lang))
            .collect();
        let _ = writeln!(out, "  □ {} ({:.1})", names.join(", "), negative);
    }
    let e = &analysis.entities;
    if !e.urls.is_empty() || !e.phones.is_empty() || !e.amounts.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            paint(
                if lang == Lang::Ja {
                    "含まれる連絡先・金額"
                } else {
                    "Links, numbers, amounts"
                },
                anstyle::Style::new().bold(),
                opts.color
            )
        );
        for u in &e.urls {
            let _ = writeln!(
                out,
                "  {} {}",
                if lang == Lang::Ja {
                    "リンク:"
                } else {
                    "link:"
                },
                defang(&u.url)
            );
        }
        for p in &e.phones {
            let _ = writeln!(
                out,
                "  {} {}",
                if lang == Lang::Ja {
                    "電話:"
                } else {
                    "phone:"
                },
                p.text
            );
        }
        for a in &e.amounts {
            let _ = writeln!(
                out,
                "  {} {} (¥{})",
                if lang == Lang::Ja {
                    "金額:"
                } else {
                    "amount:"
                },
                a.text,
                group_digits(a.yen)
            );
        }
    }
    if analysis.verdict != Verdict::Clean {
        let _ = writeln!(
            out,
            "\n{}",
            paint(
                if lang == Lang::Ja {
                    "どうすればいい?"
                } else {
                    "What to do"
                },
                anstyle::Style::new().bold(),
                opts.color
            )
        );
        let mut advice: Vec<&str> = Vec::new();
        for cat_id in &analysis.categories {
            if let Some(cat) = pack
                .categories
                .iter()
                .find(|c| &c.id == cat_id && !c.negative)
            {
                let a = cat.advice.get(lang);
                if !a.is_empty() && !advice.contains(&a) {
                    advice.push(a);
                }
            }
        }
        for a in advice.iter().take(4) {
            let _ = writeln!(out, "  • {a}");
        }
        let _ = writeln!(
            out,
            "  • {}",
            match lang {
                Lang::Ja =>
                    "困ったときは 消費者ホットライン 188、警察相談専用電話 #9110 に相談してください。",
                Lang::En =>
                    "In Japan, call the consumer hotline 188 or the police consultation line #9110 for help.",
            }
        );
    }
    out
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
