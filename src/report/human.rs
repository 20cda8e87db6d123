//! The report a person reads: verdict first, then the reasons quoted from
//! *their own* message, then what to do.
//!
//! Everything here builds a `String`; the binary decides where it goes.
//! Quotes come from the original text of each part (`Hit::start..end`), so a
//! phrase typed as `ｲﾝﾀｰﾈｯﾄ 協 会` is shown exactly like that. Without colour,
//! matched phrases are marked 【…】; with colour they are bold, red and
//! underlined. Lines are wrapped by display width (CJK characters take two
//! columns) when a width is given, and control characters from the message
//! are never echoed, so a hostile message cannot drive the terminal.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use unicode_width::UnicodeWidthChar;

use crate::engine::Hit;
use crate::message::{Message, PartKind};
use crate::patterns::{Lang, RulePack};
use crate::score::{Analysis, Verdict};

use super::{Origin, defang, verdict_label};

/// Options for the human report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanOptions {
    /// Language.
    pub lang: Lang,
    /// Emit ANSI colour.
    pub color: bool,
    /// Only the verdict line.
    pub quiet: bool,
    /// Wrap lines to this many columns; `None` does not wrap.
    pub width: Option<usize>,
}

impl HumanOptions {
    /// Plain report in `lang`: no colour, not quiet, wrapped at 80 columns.
    pub fn new(lang: Lang) -> HumanOptions {
        HumanOptions {
            lang,
            color: false,
            quiet: false,
            width: Some(80),
        }
    }
}

/// Quoted lines shown per category; more would bury the message.
const MAX_LINES_PER_CATEGORY: usize = 3;
/// Characters of context kept on each side of the highlighted phrases.
const CONTEXT_CHARS: usize = 30;
/// Category-specific advice items shown; the general ones always follow.
const MAX_CATEGORY_ADVICE: usize = 3;
/// Narrowest text column we wrap to, whatever the terminal says.
const MIN_COLUMNS: usize = 16;

fn hit_style() -> Style {
    Style::new()
        .bold()
        .underline()
        .fg_color(Some(AnsiColor::Red.into()))
}

fn paint(s: &str, style: Style, color: bool) -> String {
    if color {
        format!("{}{s}{}", style.render(), style.render_reset())
    } else {
        s.to_string()
    }
}

/// Replace characters that must not reach a terminal (control codes,
/// bidi overrides) with a visible stand-in; tabs and CR become spaces.
fn clean_char(c: char) -> char {
    match c {
        '\t' | '\r' | '\n' => ' ',
        c if c.is_control() => '\u{FFFD}',
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => '\u{FFFD}',
        c => c,
    }
}

/// One character of output and whether it is part of a matched phrase.
#[derive(Clone, Copy)]
struct Cell {
    ch: char,
    hit: bool,
}

fn cells(s: &str) -> Vec<Cell> {
    s.chars()
        .map(|c| Cell {
            ch: clean_char(c),
            hit: false,
        })
        .collect()
}

fn width_of(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Characters that should not start a line (禁則): a break before one of
/// them takes the previous character along.
fn no_line_start(c: char) -> bool {
    // Half-width sound marks and combining marks belong to the character before.
    matches!(c, '\u{FF9E}' | '\u{FF9F}' | '\u{3099}'..='\u{309C}' | '\u{0300}'..='\u{036F}')
        || "、。，．,.・：:；;!?！？)）]］」』】〕>〉》ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ…"
        .contains(c)
}

/// Characters that should not end a line: opening brackets.
fn no_line_end(c: char) -> bool {
    "【「『（([［〔《〈<".contains(c)
}

/// Wrap `cells` into lines no wider than `width` columns including the
/// prefixes (`first` on the first line, `rest` on the others), breaking
/// English at spaces and Japanese anywhere but before closing punctuation.
fn wrap(cells: &[Cell], first: &str, rest: &str, width: Option<usize>, color: bool) -> String {
    let avail = |prefix: &str| {
        width.map(|w| {
            w.saturating_sub(prefix.chars().map(width_of).sum::<usize>())
                .max(MIN_COLUMNS)
        })
    };
    let mut lines: Vec<Vec<Cell>> = Vec::new();
    let mut line: Vec<Cell> = Vec::new();
    let mut used = 0usize;
    for &cell in cells {
        let w = width_of(cell.ch);
        let limit = avail(if lines.is_empty() { first } else { rest });
        if let Some(limit) = limit
            && used + w > limit
            && !line.is_empty()
        {
            if cell.ch == ' ' {
                lines.push(std::mem::take(&mut line));
                used = 0;
                continue;
            }
            let mut carry: Vec<Cell> = Vec::new();
            let last = line.last().map(|c| c.ch);
            // Keep a highlighted phrase on one line when it fits on one.
            let run = line.iter().rev().take_while(|c| c.hit).count();
            let run_width: usize = line[line.len() - run..]
                .iter()
                .map(|c| width_of(c.ch))
                .sum();
            if cell.hit && run > 0 && run < line.len() && run_width + w + 2 <= limit {
                carry = line.split_off(line.len() - run);
            } else if cell.ch.is_ascii_graphic() && last.is_some_and(|c| c.is_ascii_graphic()) {
                // Inside a word: break at the last space, if the line has one.
                if let Some(i) = line.iter().rposition(|c| c.ch == ' ')
                    && i > 0
                {
                    carry = line.split_off(i + 1);
                    line.pop();
                }
            } else if no_line_start(cell.ch) && line.len() > 1 {
                carry = line.split_off(line.len() - 1);
            }
            // An opening bracket goes down with what it opens.
            while line.len() > 1 && line.last().is_some_and(|c| no_line_end(c.ch)) {
                carry.insert(0, line.pop().expect("line is not empty"));
            }
            lines.push(std::mem::take(&mut line));
            used = carry.iter().map(|c| width_of(c.ch)).sum();
            line = carry;
        }
        line.push(cell);
        used += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(if i == 0 { first } else { rest });
        let mut in_hit = false;
        let end = line.iter().rposition(|c| c.ch != ' ').map_or(0, |i| i + 1);
        for c in &line[..end] {
            if color && c.hit != in_hit {
                let s = hit_style();
                let _ = if c.hit {
                    write!(out, "{}", s.render())
                } else {
                    write!(out, "{}", s.render_reset())
                };
                in_hit = c.hit;
            }
            out.push(c.ch);
        }
        if in_hit {
            let _ = write!(out, "{}", hit_style().render_reset());
        }
        out.push('\n');
    }
    out
}

/// A paragraph of plain text, wrapped.
fn para(text: &str, first: &str, rest: &str, opts: &HumanOptions) -> String {
    wrap(&cells(text), first, rest, opts.width, opts.color)
}

/// Byte ranges of links in `text`: the engine's URL entities for this part
/// plus anything that starts like a link, so no quote is clickable.
fn link_spans(text: &str, part: PartKind, analysis: &Analysis) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = analysis
        .entities
        .urls
        .iter()
        .filter(|u| u.part == part && u.start < u.end && u.end <= text.len())
        .map(|u| (u.start, u.end))
        .collect();
    let lower = text.to_ascii_lowercase();
    for needle in ["http://", "https://", "www."] {
        for (i, _) in lower.match_indices(needle) {
            let end = text[i..]
                .find(|c: char| c.is_whitespace() || !c.is_ascii())
                .map_or(text.len(), |n| i + n);
            spans.push((i, end));
        }
    }
    spans
}

/// Cells for `text[from..to]`, with links defanged in place
/// (`hxxps://example[.]top/...`) and control characters replaced.
fn text_cells(
    text: &str,
    from: usize,
    to: usize,
    hit: bool,
    links: &[(usize, usize)],
) -> Vec<Cell> {
    let mut out = Vec::new();
    for (i, c) in text[from..to].char_indices() {
        let i = from + i;
        let mut push = |ch: char| out.push(Cell { ch, hit });
        let Some(&(us, ue)) = links.iter().find(|(us, ue)| (*us..*ue).contains(&i)) else {
            push(clean_char(c));
            continue;
        };
        let url = &text[us..ue];
        let rel = i - us;
        let host_start = url.find("://").map_or(0, |p| p + 3);
        let host_end = url[host_start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |p| host_start + p);
        if url.get(..4).is_some_and(|x| x.eq_ignore_ascii_case("http")) && (1..=2).contains(&rel) {
            push('x');
        } else if c == '.' && (host_start..host_end).contains(&rel) {
            push('[');
            push('.');
            push(']');
        } else {
            push(clean_char(c));
        }
    }
    out
}

/// The line of `text` holding the byte ranges `spans` (sorted, merged, all
/// on that line), trimmed to some context around them, as cells with the
/// spans marked and links defanged.
fn quote(text: &str, spans: &[(usize, usize)], links: &[(usize, usize)], color: bool) -> Vec<Cell> {
    let (first, last) = (spans[0].0, spans[spans.len() - 1].1);
    let line_start = text[..first].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[last..].find('\n').map_or(text.len(), |i| last + i);
    // 【】 marks the phrases, unless the line itself uses them (【重要】).
    let line_text = &text[line_start..line_end];
    let (open, close) = [('【', '】'), ('《', '》'), ('［', '］'), ('<', '>')]
        .into_iter()
        .find(|(o, c)| !line_text.contains(*o) && !line_text.contains(*c))
        .unwrap_or(('【', '】'));
    let mark = |ch: char| Cell { ch, hit: false };
    let mut out = Vec::new();
    // Keep CONTEXT_CHARS characters either side.
    let from = text[line_start..first]
        .char_indices()
        .rev()
        .nth(CONTEXT_CHARS - 1)
        .map_or(line_start, |(i, _)| line_start + i);
    if from > line_start {
        out.push(mark('…'));
    }
    out.extend(text_cells(text, from, first, false, links));
    let mut pos = first;
    for &(s, e) in spans {
        out.extend(text_cells(text, pos, s, false, links));
        if !color {
            out.push(mark(open));
        }
        out.extend(text_cells(text, s, e, true, links));
        if !color {
            out.push(mark(close));
        }
        pos = e;
    }
    let to = text[last..line_end]
        .char_indices()
        .nth(CONTEXT_CHARS)
        .map_or(line_end, |(i, _)| last + i);
    out.extend(text_cells(text, last, to, false, links));
    if to < line_end {
        out.push(mark('…'));
    }
    // Leading indentation of the message line says nothing.
    let lead = out.iter().take_while(|c| c.ch == ' ').count();
    out.drain(..lead);
    out
}

/// Hits on one line: the part, the line's start, the merged byte spans.
type LineHits = (PartKind, usize, Vec<(usize, usize)>);

/// The hits of one category, grouped by the line they are on, overlapping
/// hits merged: `(part, line start, spans)` in message order.
fn lines_of(hits: &[&Hit], message: &Message) -> Vec<LineHits> {
    let mut groups: Vec<LineHits> = Vec::new();
    for h in hits {
        let Some(text) = message.part(h.part) else {
            continue;
        };
        if h.start >= h.end
            || h.end > text.len()
            || !text.is_char_boundary(h.start)
            || !text.is_char_boundary(h.end)
        {
            continue;
        }
        let line = text[..h.start].rfind('\n').map_or(0, |i| i + 1);
        // A hit spanning lines is quoted on the line where it starts, cut there.
        let end = text[h.start..h.end]
            .find('\n')
            .map_or(h.end, |i| h.start + i);
        if end <= h.start {
            continue;
        }
        match groups.iter_mut().find(|g| g.0 == h.part && g.1 == line) {
            Some(g) => g.2.push((h.start, end)),
            None => groups.push((h.part, line, vec![(h.start, end)])),
        }
    }
    for g in &mut groups {
        g.2.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for &(s, e) in &g.2 {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        g.2 = merged;
    }
    let order = |k: PartKind| match k {
        PartKind::From => 0,
        PartKind::Subject => 1,
        PartKind::Body => 2,
        PartKind::Link => 3,
        PartKind::Attachment => 4,
    };
    groups.sort_by_key(|g| (order(g.0), g.1));
    groups
}

fn part_label(part: PartKind, lang: Lang) -> &'static str {
    match (part, lang) {
        (PartKind::Subject, Lang::Ja) => "件名: ",
        (PartKind::Subject, Lang::En) => "Subject: ",
        (PartKind::From, Lang::Ja) => "差出人: ",
        (PartKind::From, Lang::En) => "From: ",
        (PartKind::Link, Lang::Ja) => "リンク先: ",
        (PartKind::Link, Lang::En) => "Link target: ",
        (PartKind::Attachment, Lang::Ja) => "添付: ",
        (PartKind::Attachment, Lang::En) => "Attachment: ",
        (PartKind::Body, _) => "",
    }
}

fn heading(out: &mut String, ja: &str, en: &str, opts: &HumanOptions) {
    let text = if opts.lang == Lang::Ja { ja } else { en };
    let _ = writeln!(out, "\n{}", paint(text, Style::new().bold(), opts.color));
}

/// The verdict line: mark, verdict, and the score against the thresholds.
fn verdict_line(analysis: &Analysis, origin: &Origin, opts: &HumanOptions) -> String {
    let (mark, color) = match analysis.verdict {
        Verdict::Scam => ("✖", AnsiColor::Red),
        Verdict::Suspicious => ("⚠", AnsiColor::Yellow),
        Verdict::Clean => ("✔", AnsiColor::Green),
    };
    let source: String = if origin.source == "-" || origin.source.is_empty() {
        String::new()
    } else {
        format!(
            "{}: ",
            origin.source.chars().map(clean_char).collect::<String>()
        )
    };
    let score = match opts.lang {
        Lang::Ja => format!(
            "スコア {:.1}(注意 {:.1} / 詐欺 {:.1} 以上)",
            analysis.score, analysis.suspicious_threshold, analysis.scam_threshold
        ),
        Lang::En => format!(
            "score {:.1} (suspicious at {:.1}, scam at {:.1})",
            analysis.score, analysis.suspicious_threshold, analysis.scam_threshold
        ),
    };
    let verdict = paint(
        &format!("{mark} {}", verdict_label(analysis.verdict, opts.lang)),
        Style::new().bold().fg_color(Some(color.into())),
        opts.color,
    );
    format!("{source}{verdict}  {score}\n")
}

/// The report a person reads: verdict first, the reasons in their own words,
/// the links, numbers and amounts, and what to do.
///
/// `message` must be the message `analysis` was computed from: hits are
/// quoted from its parts by byte offset.
pub fn render_human(
    analysis: &Analysis,
    message: &Message,
    origin: &Origin,
    pack: &RulePack,
    opts: HumanOptions,
) -> String {
    let lang = opts.lang;
    let mut out = verdict_line(analysis, origin, &opts);
    if opts.quiet {
        return out;
    }
    let tr = |ja: &'static str, en: &'static str| if lang == Lang::Ja { ja } else { en };

    // Why: each category that fired, its explanation, the lines it fired on.
    let positive: Vec<&Hit> = analysis.hits.iter().filter(|h| h.weight > 0.0).collect();
    let fired: Vec<_> = analysis
        .categories
        .iter()
        .filter_map(|id| pack.categories.iter().find(|c| *c.id == **id))
        .collect();
    if fired.iter().any(|c| !c.negative) || !analysis.combos.is_empty() {
        heading(&mut out, "理由", "Why", &opts);
    }
    for cat in fired.iter().filter(|c| !c.negative) {
        let points = category_points(analysis, &cat.id);
        let title = format!("■ {} (+{:.1})", cat.name.get(lang), points);
        out.push_str(&wrap(&cells(&title), "  ", "    ", opts.width, false));
        let expl = cat.explanation.get(lang);
        if !expl.is_empty() {
            out.push_str(&para(expl, "    ", "    ", &opts));
        }
        let hits: Vec<&Hit> = positive
            .iter()
            .copied()
            .filter(|h| *h.category == *cat.id)
            .collect();
        let groups = lines_of(&hits, message);
        for (part, _, spans) in groups.iter().take(MAX_LINES_PER_CATEGORY) {
            let Some(text) = message.part(*part) else {
                continue;
            };
            let links = link_spans(text, *part, analysis);
            let mut line = cells(part_label(*part, lang));
            line.extend(quote(text, spans, &links, opts.color));
            out.push_str(&wrap(&line, "    » ", "      ", opts.width, opts.color));
        }
        if groups.len() > MAX_LINES_PER_CATEGORY {
            let more = groups.len() - MAX_LINES_PER_CATEGORY;
            let text = match lang {
                Lang::Ja => format!("ほか {more} か所"),
                Lang::En => format!("and {more} more"),
            };
            out.push_str(&para(&text, "      ", "      ", &opts));
        }
    }
    if !analysis.combos.is_empty() {
        out.push_str(&para(
            tr("  ■ 組み合わせ", "  ■ Combinations"),
            "",
            "    ",
            &opts,
        ));
        for c in &analysis.combos {
            if let Some(combo) = pack.combos.iter().find(|x| x.id == c.id) {
                let text = format!("{} (+{:.1})", combo.description.get(lang), c.bonus);
                out.push_str(&para(&text, "    + ", "      ", &opts));
            }
        }
    }

    // Signs of a genuine message or a warning about scams: they subtract.
    let negatives: Vec<_> = fired.iter().filter(|c| c.negative).collect();
    if !negatives.is_empty() {
        heading(
            &mut out,
            "安心材料(減点)",
            "Reassuring signs (subtracted)",
            &opts,
        );
        if analysis.warnings_disarmed {
            let note = tr(
                "  ※ このメッセージ自身が、企業のドメインに似せた偽サイトや表示と行き先の違うリンクへ案内しています。注意喚起や公式を名乗る文言は見せかけなので、減点していません。",
                "  Not counted: the message itself sends you to a look-alike of a company's site or through a disguised link, so its warning and official-sounding wording is a disguise, not a reason to trust it.",
            );
            out.push_str(&para(note, "", "    ", &opts));
        }
        for cat in negatives {
            let points = category_points(analysis, &cat.id);
            let title = format!("□ {} ({:.1})", cat.name.get(lang), points);
            out.push_str(&para(&title, "  ", "    ", &opts));
            let expl = cat.explanation.get(lang);
            if !expl.is_empty() {
                out.push_str(&para(expl, "    ", "    ", &opts));
            }
        }
    }

    // Entities, made safe to look at.
    let e = &analysis.entities;
    if !e.urls.is_empty() || !e.phones.is_empty() || !e.amounts.is_empty() {
        heading(
            &mut out,
            "含まれるリンク・電話番号・金額",
            "Links, phone numbers, amounts",
            &opts,
        );
        let mut seen = std::collections::HashSet::new();
        for u in &e.urls {
            let shown = defang(&u.url);
            if seen.insert(shown.clone()) {
                let label = tr("  リンク: ", "  link:   ");
                out.push_str(&para(&shown, label, "          ", &opts));
            }
        }
        for p in &e.phones {
            if seen.insert(p.text.clone()) {
                let label = tr("  電話:   ", "  phone:  ");
                out.push_str(&para(&p.text, label, "          ", &opts));
            }
        }
        for a in &e.amounts {
            let shown = format!("{} (¥{})", a.text, group_digits(a.yen));
            if seen.insert(shown.clone()) {
                let label = tr("  金額:   ", "  amount: ");
                out.push_str(&para(&shown, label, "          ", &opts));
            }
        }
    }

    // What to do.
    heading(&mut out, "どうすればいい?", "What to do", &opts);
    for a in advice(analysis, pack, lang) {
        out.push_str(&para(&a, "  • ", "    ", &opts));
    }
    out
}

/// Advice fitted to what fired: general rules for any warning, the
/// categories' own advice, and where to get help.
fn advice(analysis: &Analysis, pack: &RulePack, lang: Lang) -> Vec<String> {
    let tr = |ja: &str, en: &str| {
        if lang == Lang::Ja {
            ja.to_string()
        } else {
            en.to_string()
        }
    };
    let mut list: Vec<String> = Vec::new();
    if analysis.verdict == Verdict::Clean {
        list.push(tr(
            "それでも不安なときは、メッセージ内のリンクや電話番号ではなく、公式サイトで調べた窓口に確認してください。",
            "If you are still unsure, check with the company through its official website, not the links or numbers in the message.",
        ));
        list.push(tr(
            "相談窓口: 消費者ホットライン 188、警察相談専用電話 #9110。",
            "Help in Japan: consumer hotline 188, police consultation line #9110.",
        ));
        return list;
    }
    list.push(tr(
        "お金を払ったり、カード番号・暗証番号・パスワードを教えたりしないでください。",
        "Do not pay, and do not give card numbers, PINs or passwords.",
    ));
    let e = &analysis.entities;
    match (!e.phones.is_empty(), !e.urls.is_empty()) {
        (true, true) => list.push(tr(
            "メッセージにある電話番号に電話したり、リンクを開いたりしないでください。",
            "Do not call the numbers or open the links in the message.",
        )),
        (true, false) => list.push(tr(
            "メッセージにある電話番号に電話しないでください。",
            "Do not call the numbers in the message.",
        )),
        (false, true) => list.push(tr(
            "メッセージにあるリンクを開かないでください。",
            "Do not open the links in the message.",
        )),
        (false, false) => list.push(tr(
            "メッセージに返信したり、書かれた連絡先に連絡したりしないでください。",
            "Do not reply or contact anyone the message points you to.",
        )),
    }
    // The strongest categories' own advice (categories come strongest first).
    let mut fitted = 0;
    for id in &analysis.categories {
        if fitted == MAX_CATEGORY_ADVICE {
            break;
        }
        if let Some(cat) = pack
            .categories
            .iter()
            .find(|c| *c.id == **id && !c.negative)
        {
            let a = cat.advice.get(lang);
            if !a.is_empty() && !list.iter().any(|x| x == a) {
                list.push(a.to_string());
                fitted += 1;
            }
        }
    }
    // Unless a category already said it: check through official channels.
    let official = if lang == Lang::Ja {
        "公式"
    } else {
        "official"
    };
    if !list.iter().any(|a| a.contains(official)) {
        list.push(tr(
        "本物かどうかは、公式サイトや手元の書類で調べた窓口に自分で確認してください。",
        "To check whether it is genuine, contact the real company through its official website or documents you already have.",
    ));
    }
    list.push(tr(
        "不安なとき・払ってしまったときは、消費者ホットライン 188 か警察相談専用電話 #9110 に相談してください。",
        "If worried, or if you already paid: in Japan call the consumer hotline 188 or the police consultation line #9110.",
    ));
    list
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

/// The points a category contributed (the sum of its rules' contributions).
fn category_points(analysis: &Analysis, category: &str) -> f64 {
    analysis
        .contributions
        .iter()
        .filter(|c| &*c.category == category)
        .map(|c| c.points)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn wraps_cjk_by_display_width() {
        let text = "あ".repeat(50);
        let out = wrap(&cells(&text), "  ", "  ", Some(40), false);
        for line in out.lines() {
            assert!(line.width() <= 40, "{line:?}");
        }
        assert_eq!(out.lines().count(), 3);
    }

    #[test]
    fn wraps_english_at_spaces() {
        let out = wrap(
            &cells("Do not call the numbers or open the links in the message."),
            "",
            "",
            Some(20),
            false,
        );
        assert!(out.lines().all(|l| l.width() <= 20));
        assert!(out.lines().all(|l| !l.starts_with(' ')));
        assert!(out.contains("numbers"));
    }

    #[test]
    fn closing_punctuation_does_not_start_a_line() {
        let out = wrap(&cells("ああああ。"), "", "", Some(MIN_COLUMNS), false);
        let text = "ああああああああ。";
        let out2 = wrap(&cells(text), "", "", Some(MIN_COLUMNS), false);
        assert_eq!(out, "ああああ。\n");
        assert!(out2.lines().all(|l| !l.starts_with('。')), "{out2}");
    }

    #[test]
    fn control_characters_are_not_echoed() {
        let out = wrap(&cells("a\u{1b}[31mb"), "", "", None, false);
        assert!(!out.contains('\u{1b}'));
    }
}
