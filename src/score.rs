//! Scoring: from hits to a verdict, where every point traces to a rule id.
//!
//! Each category contributes its strongest rule; further distinct rules in the
//! same category add a fraction of their weight (repeating the same kind of
//! evidence is weak evidence). Combos add a bonus when categories co-occur
//! (impersonation + refund + prepaid is the classic pattern of the seed
//! reports). Negative categories — a warning *about* scams, a genuine notice —
//! subtract, up to a cap so that a scam cannot launder itself by appending
//! "詐欺にご注意ください". The result is independent of hit order.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use crate::engine::Hit;
use crate::entities::Entities;
use crate::patterns::RulePack;

/// The verdict on a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No scam characteristics reach the `suspicious` threshold.
    Clean,
    /// Some warning signs: be careful.
    Suspicious,
    /// Very likely a scam.
    Scam,
}

impl Verdict {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Suspicious => "suspicious",
            Verdict::Scam => "scam",
        }
    }
}

/// A combo that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComboHit {
    /// Combo id.
    pub id: String,
    /// Points added.
    pub bonus: f64,
}

/// Points one rule contributed (the trace from score to rule ids).
///
/// The ids are shared text (`Arc<str>`), the same the message's hits hold:
/// a `String` each (allocated, copied and freed for every contribution of
/// every message) was a third of scoring.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Rule or combo id.
    #[serde(serialize_with = "serialize_shared_str")]
    pub id: Arc<str>,
    /// Category id (or `combo`).
    #[serde(serialize_with = "serialize_shared_str")]
    pub category: Arc<str>,
    /// Points (negative for negative categories), after the category rules were applied.
    pub points: f64,
    /// Index of the rule in the pack (`None` for combos): reports look the
    /// rule's description up by index instead of searching the pack's
    /// rules by id once per contribution.
    #[serde(skip)]
    pub rule_index: Option<usize>,
}

/// The scored result for one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The verdict.
    pub verdict: Verdict,
    /// The score, rounded to one decimal.
    pub score: f64,
    /// Categories with at least one hit, strongest first (negative ones
    /// last); shared with the hits, like [`Contribution::category`].
    #[serde(serialize_with = "serialize_shared_strs")]
    pub categories: Vec<Arc<str>>,
    /// Every hit, sorted by part and position.
    pub hits: Vec<Hit>,
    /// Combos that fired.
    pub combos: Vec<ComboHit>,
    /// Points per rule and combo; they add up to `score` (before the floor at 0).
    pub contributions: Vec<Contribution>,
    /// A `disarms_warnings` rule fired on what the message itself offers
    /// (a look-alike link it does not quote): its warning and notice
    /// wording counted 0 points and no warning context applied. Written to
    /// JSON only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warnings_disarmed: bool,
    /// Links, phones and amounts.
    pub entities: Entities,
    /// The `suspicious` threshold used.
    pub suspicious_threshold: f64,
    /// The `scam` threshold used.
    pub scam_threshold: f64,
}

/// Serialize an `Arc<str>` as the string it holds (serde's own impl needs
/// its `rc` feature, which would serialize the same bytes).
pub(crate) fn serialize_shared_str<S: serde::Serializer>(
    s: &Arc<str>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(s)
}

/// Serialize `Arc<str>`s as the array of strings they hold.
pub(crate) fn serialize_shared_strs<S: serde::Serializer>(
    strs: &[Arc<str>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(strs.iter().map(|s| &**s))
}

/// The category of combo contributions.
pub const COMBO_CATEGORY: &str = "combo";

/// [`COMBO_CATEGORY`] as shared text, allocated once.
static COMBO_CATEGORY_SHARED: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from(COMBO_CATEGORY));

/// `want` as shared text: `held` itself when it holds the same text (a
/// hit from the engine always holds its rule's and category's ids), else
/// a new allocation (a hit built by hand may hold anything).
fn shared(held: &Arc<str>, want: &str) -> Arc<str> {
    if **held == *want {
        Arc::clone(held)
    } else {
        Arc::from(want)
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Score `hits` with the pack's categories, combos and thresholds.
pub fn score(pack: &RulePack, mut hits: Vec<Hit>, entities: Entities) -> Analysis {
    hits.sort_by(|a, b| {
        (a.part as u8, a.start, a.end, a.rule_index).cmp(&(
            b.part as u8,
            b.start,
            b.end,
            b.rule_index,
        ))
    });
    hits.dedup_by(|a, b| {
        a.rule_index == b.rule_index && a.part == b.part && a.start == b.start && a.end == b.end
    });

    // Scratch vectors reused from the previous message scored on this
    // thread (a batch scan scores thousands: their allocations were a
    // visible part of scoring).
    let mut scratch = SCRATCH.take();
    // Distinct (category, rule) pairs, grouped by category in ascending
    // order (one sorted vector instead of a map of vectors: no allocation
    // per category).
    // Each pair keeps its first hit, whose shared ids the contribution
    // takes.
    // The distinct rules are found with a per-rule table (one look-up per
    // hit) and only they are sorted: sorting every hit's pair was most of
    // scoring for long messages.
    let Scratch {
        by_category,
        first_hit,
        ..
    } = &mut scratch;
    by_category.clear();
    if first_hit.len() < pack.rules.len() {
        first_hit.resize(pack.rules.len(), NO_HIT);
    }
    for (at, h) in hits.iter().enumerate() {
        let first = &mut first_hit[h.rule_index];
        if *first == NO_HIT {
            *first = at;
            by_category.push((pack.rules[h.rule_index].category, h.rule_index, at));
        }
    }
    for &(_, rule, _) in by_category.iter() {
        first_hit[rule] = NO_HIT;
    }
    by_category.sort_unstable();
    // Warning context: several distinct negative rules (a warning, a helpline, a
    // "this is how the scam goes" article) mean scam phrases are being quoted.
    // Rules count only with evidence of their own: two negative rules that
    // match the same phrase (「…」という内容) are one piece of evidence.
    // Unless the message's own request goes where only a scam sends anyone
    // (a brand's look-alike host it offers rather than quotes): then the
    // warning wording is the disguise.
    let negative_rules = independent_negative_rules(pack, &hits, &mut scratch);
    let disarmed = disarms_warnings(pack, &hits, &entities);
    let warning_context = pack.scoring.warning_context_rules > 0
        && negative_rules >= pack.scoring.warning_context_rules
        && !disarmed;
    let positive_factor = if warning_context {
        pack.scoring.warning_context_factor
    } else {
        1.0
    };
    let mut contributions = Vec::with_capacity(scratch.by_category.len() + 1);
    let mut positive = 0.0;
    let mut negative = 0.0;
    let cat_points = &mut scratch.cat_points;
    cat_points.clear();
    let rules = &mut scratch.rules;
    for group in scratch.by_category.chunk_by(|a, b| a.0 == b.0) {
        let (cat, _, first_hit) = group[0];
        let category = shared(&hits[first_hit].category, &pack.categories[cat].id);
        rules.clear();
        rules.extend(group.iter().map(|&(_, r, at)| (r, at)));
        // Strongest first; ties broken by rule order so the result is order-independent.
        rules.sort_by(|&(a, _), &(b, _)| {
            pack.rules[b]
                .weight
                .abs()
                .total_cmp(&pack.rules[a].weight.abs())
                .then(a.cmp(&b))
        });
        let is_negative = pack.categories[cat].negative;
        let factor = match (is_negative, disarmed) {
            (true, true) => 0.0,
            (true, false) => 1.0,
            (false, _) => positive_factor,
        };
        let top = pack.rules[rules[0].0].weight * factor;
        let cap = top.abs() * pack.scoring.category_cap_factor;
        let mut total = 0.0f64;
        for (i, &(r, at)) in rules.iter().enumerate() {
            let w = pack.rules[r].weight * factor;
            let want = if i == 0 {
                w
            } else {
                w * pack.scoring.extra_hit_factor
            };
            let room = (cap - total.abs()).max(0.0);
            let points = want.signum() * want.abs().min(room);
            total += points;
            contributions.push(Contribution {
                id: shared(&hits[at].rule, &pack.rules[r].id),
                category: Arc::clone(&category),
                points: round1(points * 100.0) / 100.0,
                rule_index: Some(r),
            });
        }
        if is_negative {
            negative += -total;
        } else {
            positive += total;
        }
        cat_points.push((cat, total, category));
    }
    if warning_context && pack.scoring.warning_context_max_categories > 0 {
        // An article quoting several scam scripts touches many categories; only
        // its strongest few count, as for any single quoted scam.
        let mut positive_cats: Vec<(usize, f64)> = cat_points
            .iter()
            .map(|&(c, p, _)| (c, p))
            .filter(|&(_, p)| p > 0.0)
            .collect();
        positive_cats.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for &(cat, points) in positive_cats
            .iter()
            .skip(pack.scoring.warning_context_max_categories)
        {
            positive -= points;
            let id = pack.categories[cat].id.as_str();
            for c in contributions.iter_mut().filter(|c| &*c.category == id) {
                c.points = 0.0;
            }
            if let Some(cp) = cat_points.iter_mut().find(|(c, _, _)| *c == cat) {
                cp.1 = 0.0;
            }
        }
    }
    // Which categories fired, by index (a combo asks about each of its
    // categories: a table instead of a search of `cat_points` each time).
    let fired = &mut scratch.fired;
    if fired.len() < pack.categories.len() {
        fired.resize(pack.categories.len(), false);
    }
    let mut any_fired = false;
    for &(cat, p, _) in cat_points.iter() {
        if p > 0.0 {
            fired[cat] = true;
            any_fired = true;
        }
    }
    let mut combos = Vec::new();
    // A combo needs all of its (one or more) categories fired: none can
    // fire when no category did (most messages).
    for combo in pack.combos.iter().filter(|_| any_fired && !warning_context) {
        if !combo.categories.is_empty()
            && combo
                .categories
                .iter()
                .all(|&c| fired.get(c).copied().unwrap_or(false))
        {
            positive += combo.bonus;
            combos.push(ComboHit {
                id: combo.id.clone(),
                bonus: combo.bonus,
            });
            contributions.push(Contribution {
                id: Arc::from(combo.id.as_str()),
                category: Arc::clone(&COMBO_CATEGORY_SHARED),
                points: combo.bonus,
                rule_index: None,
            });
        }
    }
    for &(cat, _, _) in cat_points.iter() {
        fired[cat] = false;
    }
    let negative_applied = negative.min(pack.scoring.max_negative);
    if negative_applied < negative {
        // Scale negative contributions so they still add up to what was applied.
        let f = negative_applied / negative;
        for c in contributions.iter_mut().filter(|c| c.points < 0.0) {
            c.points = round1(c.points * f * 100.0) / 100.0;
        }
    }
    let score = round1((positive - negative_applied).max(0.0));
    let verdict = if score >= pack.thresholds.scam {
        Verdict::Scam
    } else if score >= pack.thresholds.suspicious {
        Verdict::Suspicious
    } else {
        Verdict::Clean
    };
    cat_points.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let categories = cat_points.drain(..).map(|(_, _, id)| id).collect();
    SCRATCH.set(scratch);
    Analysis {
        verdict,
        score,
        categories,
        hits,
        combos,
        contributions,
        // Only when there was warning wording to set aside.
        warnings_disarmed: disarmed && negative_rules > 0,
        entities,
        suspicious_threshold: pack.thresholds.suspicious,
        scam_threshold: pack.thresholds.scam,
    }
}

/// Vectors [`score`] needs only while it runs, kept per thread between
/// messages so that scoring one allocates only what it returns.
#[derive(Default)]
struct Scratch {
    /// Distinct (category, rule) pairs of the message's hits, each with
    /// the index of its first hit.
    by_category: Vec<(usize, usize, usize)>,
    /// The first hit of each rule of the pack while `by_category` is
    /// built, [`NO_HIT`] for none (all [`NO_HIT`] between messages).
    first_hit: Vec<usize>,
    /// Whether each category of the pack fired, while combos are checked
    /// (all `false` between messages).
    fired: Vec<bool>,
    /// The rules of one category, strongest first, with their first hits.
    rules: Vec<(usize, usize)>,
    /// Points of each category with a hit, and its shared id (emptied
    /// before the scratch is put back: no message's ids outlive it).
    cat_points: Vec<(usize, f64, Arc<str>)>,
    /// Negative rules with a hit, in pack order.
    negative_rules: Vec<usize>,
    /// Spans of the negative rules counted so far.
    taken: Vec<(crate::message::PartKind, usize, usize)>,
}

/// No hit of the rule yet, in [`Scratch::first_hit`].
const NO_HIT: usize = usize::MAX;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// How many negative rules have a hit that overlaps no hit of the negative
/// rules counted before them (rules taken in pack order).
/// Whether a hit of a `disarms_warnings` rule stands on something the
/// message offers: a link it does not quote ([`crate::entities::Url::quoted`]),
/// or anything that is not a link.
fn disarms_warnings(pack: &RulePack, hits: &[Hit], entities: &Entities) -> bool {
    hits.iter()
        .filter(|h| pack.rules[h.rule_index].disarms_warnings)
        .any(|h| {
            !entities
                .urls
                .iter()
                // Overlap, not equality: a regex rule's match may take a
                // character after the link.
                .any(|u| u.quoted && u.part == h.part && u.start < h.end && h.start < u.end)
        })
}

fn independent_negative_rules(pack: &RulePack, hits: &[Hit], scratch: &mut Scratch) -> usize {
    let rules = &mut scratch.negative_rules;
    rules.clear();
    rules.extend(
        hits.iter()
            .filter(|h| pack.categories[pack.rules[h.rule_index].category].negative)
            .map(|h| h.rule_index),
    );
    rules.sort_unstable();
    rules.dedup();
    let taken = &mut scratch.taken;
    taken.clear();
    let mut count = 0;
    for &r in rules.iter() {
        let own = || {
            hits.iter()
                .filter(move |h| h.rule_index == r)
                .map(|h| (h.part, h.start, h.end))
        };
        let independent = own().any(|(p, s, e)| {
            !taken
                .iter()
                .any(|&(tp, ts, te)| tp == p && ts < e && s < te)
        });
        if independent {
            count += 1;
        }
        taken.extend(own());
    }
    count
}

#[cfg(test)]
mod tests {
    use crate::builtin::load_builtin;
    use crate::engine::Engine;

    fn engine() -> Engine {
        Engine::build(load_builtin().unwrap()).unwrap()
    }

    #[test]
    fn a_warning_article_quoting_a_scam_is_damped_but_the_scam_alone_is_not() {
        let e = engine();
        let scam = "有料動画の未納料金があります。本日中にコンビニでプリペイドカードを購入し番号を伝えてください。支払わない場合は法的措置をとります。";
        let alone = e.analyze_text(scam);
        let article = e.analyze_text(&format!(
            "次のような手口にご注意ください。「{scam}」このようなSMSには応じないでください。困ったら消費者ホットライン188へ。"
        ));
        assert_eq!(alone.verdict, crate::Verdict::Scam);
        assert!(
            article.score < alone.score / 2.0,
            "{} vs {}",
            article.score,
            alone.score
        );
        assert!(article.combos.is_empty());
    }

    /// The bank's own warning wording around a link the message offers to
    /// a look-alike of the bank's domain: before `disarms_warnings` the
    /// negative rules and the warning context took it to 0.
    #[test]
    fn regression_phishing_dressed_as_the_banks_own_warning_is_not_damped() {
        let e = engine();
        let warning = "【三菱UFJ銀行】当行を装った詐欺メールが増えています。当行がメールで暗証番号をお聞きすることはございません。不審なメールのリンクは開かないでください。";
        let request = "セキュリティ強化のため、下記の公式サイトでご本人確認をお願いいたします。https://mufg-secure-check.top/verify ご確認がない場合、お取引を制限させていただきます。";
        let offered = e.analyze_text(&format!("{warning}{request}"));
        assert_eq!(offered.verdict, crate::Verdict::Scam, "{offered:?}");
        assert!(offered.warnings_disarmed);
        // Its warning wording fired and counted nothing.
        let negative: Vec<f64> = offered
            .contributions
            .iter()
            .filter(|c| {
                e.pack()
                    .categories
                    .iter()
                    .any(|cat| cat.negative && *cat.id == *c.category)
            })
            .map(|c| c.points)
            .collect();
        assert!(!negative.is_empty(), "{offered:?}");
        assert!(negative.iter().all(|&p| p == 0.0), "{negative:?}");
        // The same request quoted by the genuine warning stays damped.
        let quoted = e.analyze_text(&format!(
            "{warning}次のようなメールが確認されています。「{request}」"
        ));
        assert!(!quoted.warnings_disarmed);
        assert_eq!(quoted.verdict, crate::Verdict::Clean, "{quoted:?}");
    }

    #[test]
    fn one_appended_warning_line_does_not_launder_a_scam() {
        let e = engine();
        let scam = "日本インターネット協会です。還付金をお受け取りいただくため、本日中にコンビニでギフト券を購入し、番号を送ってください。※詐欺にご注意ください";
        assert_eq!(e.analyze_text(scam).verdict, crate::Verdict::Scam);
    }

    #[test]
    fn regression_two_negative_rules_on_one_phrase_do_not_make_a_victim_report_an_article() {
        // A victim quoting the scam mail they got: 「…」という内容のメールが届いた.
        let e = engine();
        let report = "DMMから「有料動画閲覧の料金が未納となっております。本日ご連絡がない場合法的手続きをいたします。窓口 0120-**-****」という内容のメールが届いた。電話をかけたら、本日中に払わないと退会の手続きができないので、15万円をアマゾンカードで払うように。その後、インターネット協会から連絡があるので、7万4千円の返金手続きをすすめてくださいと言われた。";
        assert_eq!(e.analyze_text(report).verdict, crate::Verdict::Scam);
    }

    #[test]
    fn scratch_reused_between_messages_does_not_leak_into_the_next_score() {
        // The per-thread scratch vectors keep the previous message's rules
        // and spans: a message scored after a bigger one (and after a
        // warning article with many negative rules) must score as when
        // scored first.
        let e = engine();
        let texts = [
            "インターネット協会から還付金。コンビニでプリペイドカードを購入。本日中。0120-**-****",
            "次のような手口にご注意ください。「本日中にコンビニでプリペイドカードを購入し番号を伝えてください」このようなSMSには応じないでください。困ったら消費者ホットライン188へ。",
            "明日の会議は10時からです。",
            "DMMから「有料動画閲覧の料金が未納となっております。」という内容のメールが届いた。",
        ];
        let fresh: Vec<_> = texts
            .iter()
            .map(|t| {
                let (hits, entities) = e.scan(&crate::Message::plain(*t));
                std::thread::scope(|s| {
                    s.spawn(|| super::score(e.pack(), hits, entities))
                        .join()
                        .unwrap()
                })
            })
            .collect();
        for round in 0..2 {
            for (t, want) in texts.iter().zip(&fresh).rev() {
                let (hits, entities) = e.scan(&crate::Message::plain(*t));
                assert_eq!(
                    &super::score(e.pack(), hits, entities),
                    want,
                    "round {round}: {t}"
                );
            }
        }
    }

    #[test]
    fn score_does_not_depend_on_hit_order() {
        let e = engine();
        let msg = crate::Message::plain(
            "インターネット協会から還付金。コンビニでプリペイドカードを購入。本日中。0120-**-****",
        );
        let (hits, entities) = e.scan(&msg);
        let forward = super::score(e.pack(), hits.clone(), entities.clone());
        let mut reversed = hits;
        reversed.reverse();
        let backward = super::score(e.pack(), reversed, entities);
        assert_eq!(forward, backward);
    }
}
