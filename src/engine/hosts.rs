//! Link-host questions of the signal rules, answered once per distinct host.
//!
//! The brand and link signals ask of every link host which brands own it
//! (it is one of their domains or under one), whether it contains a brand's
//! domain label, and whether it ends with one of a rule's domains. Asked the
//! straightforward way, that is every brand's every domain (about 250
//! `ends_with` calls) and every brand label (`contains`) per link, and real
//! newsletters carry dozens of links, mostly to one or two hosts: 3.5% of a
//! scan went there. Here the domains are looked up by the host's suffixes
//! (a host has a handful), the labels are found by one automaton pass over
//! the folded host, and [`LinkHosts`] asks each question once per distinct
//! host of a message.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use daachorse::DoubleArrayAhoCorasick;

use crate::entities::Url;

/// Domain names are the pack's; a hostile host can only probe them, not
/// add colliding keys, so SipHash's flooding resistance buys nothing here.
type DomainBuild = BuildHasherDefault<super::FastHasher>;

/// The suffixes of `host` that start at its beginning (when `whole`) or
/// right after one of its dots, longest first. `host_is_under(host, d)` is
/// `d` being one of them with `whole`; a top-level domain check is the same
/// without `whole`.
pub(super) fn label_suffixes(host: &str, whole: bool) -> impl Iterator<Item = &str> {
    let after_dots = host
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'.')
        .filter_map(move |(i, _)| host.get(i + 1..));
    whole.then_some(host).into_iter().chain(after_dots)
}

/// A set of domain names, matched against a host's label suffixes.
pub(super) struct DomainSet {
    domains: HashSet<Box<str>, DomainBuild>,
    /// The host itself counts (`host_is_under`), not only what follows a dot
    /// (a top-level domain).
    whole: bool,
}

impl DomainSet {
    /// Hosts under one of `domains` (equal to one, or ending with `.` and one).
    pub(super) fn under<'a>(domains: impl IntoIterator<Item = &'a str>) -> DomainSet {
        DomainSet {
            domains: domains.into_iter().map(Box::from).collect(),
            whole: true,
        }
    }

    /// Hosts ending with `.` and one of `tlds` (leading dots of a TLD ignored,
    /// as in `host_has_tld`).
    pub(super) fn tlds<'a>(tlds: impl IntoIterator<Item = &'a str>) -> DomainSet {
        DomainSet {
            domains: tlds
                .into_iter()
                .map(|t| Box::from(t.trim_start_matches('.')))
                .collect(),
            whole: false,
        }
    }

    /// `host` is in the set (see [`DomainSet::under`] and [`DomainSet::tlds`]).
    pub(super) fn contains(&self, host: &str) -> bool {
        !self.domains.is_empty()
            && label_suffixes(host, self.whole).any(|s| self.domains.contains(s))
    }
}

/// Finds which of the distinct brand labels a folded host contains.
enum LabelFinder {
    /// One overlapping pass of an automaton over the host.
    Automaton(DoubleArrayAhoCorasick<u32>),
    /// Each label in turn: only if the automaton could not be built (it
    /// cannot fail for distinct non-empty labels short of running out of
    /// states), so that no label is lost.
    Plain(Vec<String>),
}

/// The pack's brands, indexed by their domains and domain labels.
pub(super) struct BrandHosts {
    /// Each official domain, with the brands that list it.
    owners: HashMap<Box<str>, Vec<u32>, DomainBuild>,
    /// The distinct non-empty brand labels.
    distinct_labels: Vec<String>,
    /// A finder for them, built on first use ([`BrandHosts::label_finder`]).
    labels: OnceLock<LabelFinder>,
    /// Some brand has an empty label (hyphens only), which every host contains.
    has_empty_label: bool,
}

impl BrandHosts {
    /// Index `domains[b]` and `labels[b]` of each brand `b`.
    pub(super) fn new<'a>(
        domains: impl IntoIterator<Item = &'a [String]>,
        labels: &[Vec<String>],
    ) -> BrandHosts {
        let mut owners: HashMap<Box<str>, Vec<u32>, DomainBuild> = HashMap::default();
        for (b, brand_domains) in domains.into_iter().enumerate() {
            for d in brand_domains {
                let brands = owners.entry(Box::from(d.as_str())).or_default();
                if brands.last() != Some(&(b as u32)) {
                    brands.push(b as u32);
                }
            }
        }
        let mut distinct: Vec<String> = labels
            .iter()
            .flatten()
            .filter(|l| !l.is_empty())
            .cloned()
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        let has_empty_label = labels.iter().flatten().any(String::is_empty);
        BrandHosts {
            owners,
            distinct_labels: distinct,
            labels: OnceLock::new(),
            has_empty_label,
        }
    }

    /// The label finder, built on the first host asked about: building it
    /// was 1.7 M of a one-message check's 30 M instructions, and a message
    /// without links never needs it.
    fn label_finder(&self) -> &LabelFinder {
        self.labels.get_or_init(|| {
            match DoubleArrayAhoCorasick::with_values(
                self.distinct_labels
                    .iter()
                    .enumerate()
                    .map(|(k, l)| (l.as_str(), k as u32)),
            ) {
                Ok(automaton) => LabelFinder::Automaton(automaton),
                Err(_) => LabelFinder::Plain(self.distinct_labels.clone()),
            }
        })
    }

    /// Replace `owners` with the brands that own `host` (`host` is one of
    /// their domains or under one), each once, in no particular order.
    pub(super) fn owners_of(&self, host: &str, owners: &mut Vec<u32>) {
        owners.clear();
        for suffix in label_suffixes(host, true) {
            if let Some(brands) = self.owners.get(suffix) {
                for &b in brands {
                    if !owners.contains(&b) {
                        owners.push(b);
                    }
                }
            }
        }
    }

    /// Some brand's label is inside `host`, with digit look-alikes read as
    /// letters and hyphens dropped. Only asked of a host no brand owns
    /// (the caller has [`BrandHosts::owners_of`] at hand): a brand's own
    /// host is never a disguise, even when another brand's label hides in
    /// it ("sagawa-exp" holds American Express's "aexp"). `folded` is work
    /// space.
    pub(super) fn disguised(&self, host: &str, folded: &mut Vec<u8>) -> bool {
        if self.has_empty_label {
            return true;
        }
        fold_lookalike_bytes(host, folded);
        match self.label_finder() {
            LabelFinder::Automaton(automaton) => automaton
                .find_overlapping_iter(&folded[..])
                .next()
                .is_some(),
            LabelFinder::Plain(labels) => labels
                .iter()
                .any(|l| memchr::memmem::find(folded, l.as_bytes()).is_some()),
        }
    }
}

/// `host`'s bytes with hyphens dropped and the digits 0, 1, 3, 5 read as
/// o, l, e, s (the bytes of `fold_lookalike_host`: only ASCII changes, and
/// no byte of a multi-byte UTF-8 character is ASCII).
fn fold_lookalike_bytes(host: &str, folded: &mut Vec<u8>) {
    folded.clear();
    folded.extend(host.bytes().filter(|&b| b != b'-').map(|b| match b {
        b'0' => b'o',
        b'1' => b'l',
        b'3' => b'e',
        b'5' => b's',
        _ => b,
    }));
}

/// The link hosts of one message, each distinct host numbered once, so a
/// question about hosts is answered once per host, not once per link.
pub(super) struct LinkHosts<'u> {
    urls: &'u [Url],
    /// For each link, the number of its host.
    host_of_url: Vec<u32>,
    /// Each distinct host, by number.
    hosts: Vec<&'u str>,
    /// Per host, the answer to the current question: 0 unknown, 1 no, 2 yes.
    answers: Vec<u8>,
    /// [`LinkHosts::first_unowned`], once asked: the signals that share it
    /// ask once per message.
    first_unowned: Option<Option<&'u Url>>,
}

impl<'u> LinkHosts<'u> {
    /// Number the distinct hosts of `urls`.
    pub(super) fn new(urls: &'u [Url]) -> LinkHosts<'u> {
        let mut host_of_url = Vec::with_capacity(urls.len());
        let mut hosts: Vec<&str> = Vec::new();
        let mut numbers: HashMap<&str, u32, DomainBuild> = HashMap::default();
        for u in urls {
            let host = u.host.as_str();
            // Links in a row mostly share their host: check the last first.
            let n = match hosts.last() {
                Some(&last) if last == host => (hosts.len() - 1) as u32,
                _ => *numbers.entry(host).or_insert_with(|| {
                    hosts.push(host);
                    (hosts.len() - 1) as u32
                }),
            };
            host_of_url.push(n);
        }
        let answers = vec![0; hosts.len()];
        LinkHosts {
            urls,
            host_of_url,
            hosts,
            answers,
            first_unowned: None,
        }
    }

    /// The first link to a host no brand of the pack owns (`owners` is
    /// scratch), worked out on the first call only.
    pub(super) fn first_unowned(
        &mut self,
        brand_hosts: &BrandHosts,
        owners: &mut Vec<u32>,
    ) -> Option<&'u Url> {
        if let Some(known) = self.first_unowned {
            return known;
        }
        let found = self.first_where(|host| {
            brand_hosts.owners_of(host, owners);
            owners.is_empty()
        });
        self.first_unowned = Some(found);
        found
    }

    /// The first link whose host satisfies `question`, asked at most once
    /// per distinct host. A link the message offers comes before one it
    /// only quotes ([`Url::quoted`]): a warning that shows a scam's link and
    /// then sends the reader to its own is judged by its own.
    pub(super) fn first_where(
        &mut self,
        mut question: impl FnMut(&str) -> bool,
    ) -> Option<&'u Url> {
        self.answers.iter_mut().for_each(|a| *a = 0);
        let mut first_quoted = None;
        for (u, &n) in self.urls.iter().zip(&self.host_of_url) {
            let (Some(answer), Some(&host)) =
                (self.answers.get_mut(n as usize), self.hosts.get(n as usize))
            else {
                continue;
            };
            if *answer == 0 {
                *answer = if question(host) { 2 } else { 1 };
            }
            if *answer == 2 {
                if !u.quoted {
                    return Some(u);
                }
                first_quoted = first_quoted.or(Some(u));
            }
        }
        first_quoted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{brand_owns_host, fold_lookalike_host, host_has_tld};
    use crate::entities::host_is_under;
    use crate::message::PartKind;
    use crate::patterns::Brand;
    use proptest::prelude::*;

    /// Pieces of hosts and domains: labels of real brands, their digit
    /// look-alikes, dots, hyphens, non-ASCII, and empty strings.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "amazon",
            "amaz0n",
            "co",
            "jp",
            "com",
            ".",
            ".",
            "-",
            "rakuten",
            "card",
            "rakutencard",
            "r",
            "a",
            "1ine",
            "line",
            "docomo",
            "ne",
            "smt",
            "au",
            "top",
            "xyz",
            "bit",
            "ly",
            "例え",
            "",
            "5",
            "3",
            "----",
        ])
    }

    fn name() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..6).prop_map(|p| p.concat())
    }

    /// The labels the engine derives from a brand's domains.
    fn labels_of(domains: &[String]) -> Vec<String> {
        domains
            .iter()
            .filter_map(|d| {
                let label = d.split('.').next().unwrap_or(d);
                (label.len() >= 4).then(|| label.replace('-', ""))
            })
            .collect()
    }

    fn brand(domains: Vec<String>) -> Brand {
        Brand {
            id: String::new(),
            names: Vec::new(),
            domains,
            hosts_user_content: false,
        }
    }

    proptest! {
        /// The owners found by suffix lookup are the brands
        /// `brand_owns_host` says own the host, and a host no brand owns is
        /// disguised exactly when some brand has a label inside the folded
        /// host (the straightforward check the engine made per link).
        #[test]
        fn brand_hosts_match_the_per_brand_checks(
            brand_domains in prop::collection::vec(prop::collection::vec(name(), 0..4), 0..6),
            hosts in prop::collection::vec(name(), 1..8),
        ) {
            let brands: Vec<Brand> = brand_domains.into_iter().map(brand).collect();
            let labels: Vec<Vec<String>> = brands.iter().map(|b| labels_of(&b.domains)).collect();
            let index = BrandHosts::new(brands.iter().map(|b| b.domains.as_slice()), &labels);
            let (mut owners, mut folded) = (Vec::new(), Vec::new());
            for host in &hosts {
                index.owners_of(host, &mut owners);
                let mut found = owners.clone();
                found.sort_unstable();
                let expected: Vec<u32> = (0..brands.len() as u32)
                    .filter(|&b| brand_owns_host(&brands[b as usize], host))
                    .collect();
                prop_assert_eq!(&found, &expected, "owners of {:?}", host);
                if expected.is_empty() {
                    let plain_folded = fold_lookalike_host(host);
                    let disguised = labels
                        .iter()
                        .flatten()
                        .any(|l| plain_folded.contains(l.as_str()));
                    prop_assert_eq!(
                        index.disguised(host, &mut folded),
                        disguised,
                        "disguised {:?}", host
                    );
                }
            }
        }

        /// A rule's domain set says what `host_is_under` / `host_has_tld`
        /// over the rule's domains says.
        #[test]
        fn domain_sets_match_the_per_domain_checks(
            domains in prop::collection::vec(name(), 0..5),
            hosts in prop::collection::vec(name(), 1..8),
        ) {
            let under = DomainSet::under(domains.iter().map(String::as_str));
            let tlds = DomainSet::tlds(domains.iter().map(String::as_str));
            for host in &hosts {
                prop_assert_eq!(
                    under.contains(host),
                    domains.iter().any(|d| host_is_under(host, d)),
                    "under {:?}", host
                );
                prop_assert_eq!(
                    tlds.contains(host),
                    domains.iter().any(|t| host_has_tld(host, t)),
                    "tld {:?}", host
                );
            }
        }

        /// Asking once per distinct host finds the link a plain search
        /// over the links finds (the first one the message offers, else the
        /// first it quotes), question after question.
        #[test]
        fn link_hosts_find_the_first_link_like_a_plain_search(
            hosts in prop::collection::vec((prop::sample::select(vec!["a", "b", "c.a", "", "d"]), any::<bool>()), 0..12),
            wanted in prop::collection::vec(prop::collection::vec(prop::sample::select(vec!["a", "b", "c.a", "", "d"]), 0..3), 1..4),
        ) {
            let urls: Vec<Url> = hosts
                .iter()
                .enumerate()
                .map(|(i, (h, quoted))| Url {
                    text: i.to_string(),
                    url: String::new(),
                    host: h.to_string(),
                    obfuscated: false,
                    lookalike_letters: false,
                    quoted: *quoted,
                    part: PartKind::Body,
                    start: i,
                    end: i + 1,
                })
                .collect();
            let mut links = LinkHosts::new(&urls);
            for w in &wanted {
                let mut asked = Vec::new();
                let found = links.first_where(|h| {
                    asked.push(h.to_string());
                    w.contains(&h)
                });
                let wanted = |u: &&Url| w.contains(&u.host.as_str());
                let expected = urls
                    .iter()
                    .filter(wanted)
                    .find(|u| !u.quoted)
                    .or_else(|| urls.iter().find(wanted));
                prop_assert_eq!(found.map(|u| u.start), expected.map(|u| u.start));
                let mut distinct = asked.clone();
                distinct.sort();
                distinct.dedup();
                prop_assert_eq!(distinct.len(), asked.len(), "a host asked twice");
            }
        }
    }

    #[test]
    fn label_suffixes_start_after_each_dot() {
        let all: Vec<&str> = label_suffixes("a.b..c.", true).collect();
        assert_eq!(all, ["a.b..c.", "b..c.", ".c.", "c.", ""]);
        let tlds: Vec<&str> = label_suffixes("x.top", false).collect();
        assert_eq!(tlds, ["top"]);
    }
}
