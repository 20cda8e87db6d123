//! Sentence-level negation: genuine notices and warnings deny, in one
//! sentence, the very thing a scam asks for ("税務署から電話でATMの操作を
//! お願いすることはありません", "「認証番号を教えて」と頼まれても、絶対に
//! 教えないでください"). Scoring the scam phrase in such a sentence scores
//! the notice for the demand it says it never makes, so a rule marked
//! `negates_sentence` cancels the positive phrase hits that end in its own
//! sentence, before it.
//!
//! A sentence runs from the last boundary (`。`, `!`, `?`, a line break or a
//! space, outside 「」 and 『』 quotes) to the end of the negating hit. Hits
//! that end in an earlier sentence keep their points, so a scam cannot
//! cancel its demands by appending a denial of its own: the denial only
//! reaches what it is grammatically about.

use crate::engine::Hit;
use crate::patterns::RulePack;

/// How far back (in bytes) a sentence start is searched: denials are short,
/// and a missing boundary in a long unpunctuated text must not let one
/// denial reach the whole message.
const MAX_SENTENCE_BYTES: usize = 300;

/// Drop the positive hits in `hits[first..]` (the phrase hits of one part,
/// whose normalized text is `text`) that end in the sentence of a
/// `negates_sentence` hit, before that hit ends.
pub(crate) fn drop_negated_hits(pack: &RulePack, text: &str, hits: &mut Vec<Hit>, first: usize) {
    let negates = |h: &Hit| pack.rules[h.rule_index].negates_sentence;
    if !hits[first..].iter().any(negates) {
        return;
    }
    let negated: Vec<(usize, usize)> = hits[first..]
        .iter()
        .filter(|h| negates(h))
        .map(|h| (sentence_start(text, h.normalized.start), h.normalized.end))
        .collect();
    let mut index = 0;
    hits.retain(|h| {
        let keep = index < first
            || pack.rules[h.rule_index].weight < 0.0
            || !negated
                .iter()
                .any(|&(start, end)| h.normalized.end > start && h.normalized.end <= end);
        index += 1;
        keep
    });
}

/// The byte offset where the sentence containing `at` starts: just after
/// the last boundary before `at` that is not inside a quote.
fn sentence_start(text: &str, at: usize) -> usize {
    let Some(before) = text.get(..at) else {
        return at;
    };
    let floor = at.saturating_sub(MAX_SENTENCE_BYTES);
    // Walking backwards, a closing quote opens a quoted span.
    let mut depth = 0usize;
    for (i, c) in before.char_indices().rev() {
        if i < floor {
            return i + c.len_utf8();
        }
        match c {
            '」' | '』' => depth += 1,
            '「' | '『' => depth = depth.saturating_sub(1),
            '。' | '!' | '?' | '\n' | ' ' if depth == 0 => return i + c.len_utf8(),
            _ => {}
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use std::sync::OnceLock;

    /// The ids of the rules that hit `text`, with the built-in engine.
    fn fired(text: &str) -> Vec<String> {
        static ENGINE: OnceLock<Engine> = OnceLock::new();
        let engine = ENGINE.get_or_init(|| Engine::builtin().unwrap());
        let analysis = engine.analyze_text(text);
        analysis.hits.iter().map(|h| h.rule.to_string()).collect()
    }

    fn has(hits: &[String], rule: &str) -> bool {
        hits.iter().any(|r| r == rule)
    }

    #[test]
    fn a_tax_office_notice_is_not_scored_for_the_atm_step_it_denies() {
        let notice = "所得税の還付金を、ご指定の口座へ振り込みました。税務署から電話やメールでATMの操作をお願いすることはありません。";
        let hits = fired(notice);
        assert!(has(&hits, "negative.we-never-do"), "{hits:?}");
        assert!(!has(&hits, "refund.atm-procedure"), "{hits:?}");
        let engine = Engine::builtin().unwrap();
        assert_eq!(engine.analyze_text(notice).verdict, crate::Verdict::Clean);
    }

    #[test]
    fn a_denial_does_not_reach_the_demands_of_earlier_sentences() {
        let scam = "医療費の還付金があります。お近くのATMで手続きしてください。当社が手数料を求めることはありません。";
        let hits = fired(scam);
        assert!(has(&hits, "refund.atm-procedure"), "{hits:?}");
        assert!(has(&hits, "negative.we-never-do"), "{hits:?}");
    }

    #[test]
    fn a_quoted_request_that_the_sentence_refuses_is_dropped() {
        let warning = "友だちから「認証番号を教えて」と頼まれても、絶対に教えないでください。";
        let hits = fired(warning);
        assert!(
            !has(&hits, "credential.verification-code-request"),
            "{hits:?}"
        );
        let request = fired("認証番号を教えて。急いでるの。");
        assert!(
            has(&request, "credential.verification-code-request"),
            "{request:?}"
        );
    }

    #[test]
    fn sentence_start_stops_at_the_last_boundary_outside_quotes() {
        let text = "前の文。「未払いがあります。本日中に」という電話は詐欺です";
        let at = text.find("という").unwrap();
        assert_eq!(
            &text[sentence_start(text, at)..at],
            "「未払いがあります。本日中に」"
        );
        let text = "一行目\n二行目です";
        assert_eq!(
            sentence_start(text, text.find("です").unwrap()),
            text.find("二").unwrap()
        );
        assert_eq!(sentence_start("境界なし", 6), 0);
    }

    #[test]
    fn sentence_start_never_reaches_further_than_the_limit() {
        let text = "あ".repeat(400);
        let at = text.len();
        let start = sentence_start(&text, at);
        assert!(at - start <= MAX_SENTENCE_BYTES + 3);
        assert!(text.is_char_boundary(start));
    }

    #[test]
    fn sentence_start_is_a_char_boundary_at_any_offset() {
        let text = "「a。」b\nこ?ん!に ち『は』。";
        for at in 0..=text.len() {
            let start = sentence_start(text, at);
            assert!(start <= at);
            assert!(text.is_char_boundary(start) || !text.is_char_boundary(at));
        }
    }
}
