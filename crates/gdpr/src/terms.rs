//! The subject's identifying terms (email, specific local part, own IP addresses) and how an
//! occurrence is recognised: case-insensitively, not glued to further address characters.
//! The same rule is the regular expression of `ncy_gdpr_terms` (migration 0018), which
//! `anonymize_user_data` and `ncy_gdpr_erase` use.

use serde::{Deserialize, Serialize};

/// What a term is (decides its boundary characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    Email,
    LocalPart,
    Ip,
}

/// The replacement written over an occurrence.
pub const REDACTED: &str = "[redacted]";

/// Terms to find or redact, lower-cased.
#[derive(Debug, Clone, Default)]
pub struct Terms {
    items: Vec<(String, TermKind)>,
    /// IPs of the subject also used by other users: not swept (they are the others' data too).
    pub shared_ips_skipped: u32,
}

/// How many terms of each kind a sweep looked for (never the terms themselves).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TermSummary {
    pub email: u32,
    pub local_part: u32,
    pub ip_addresses: u32,
    pub shared_ip_addresses_skipped: u32,
}

/// A local part is swept on its own only when specific enough: 5+ characters with at least one
/// character that is not a letter (`john.smith`, `jd1984`), so that words like `admin` or
/// `employee` do not count as hits.
pub fn local_part_is_specific(local: &str) -> bool {
    local.chars().count() >= 5 && local.chars().any(|c| !c.is_ascii_lowercase())
}

impl Terms {
    /// Terms for an email (its specific local part included) and unshared IPs.
    pub fn new(email: Option<&str>, ips: &[String], shared_ips_skipped: u32) -> Terms {
        let mut items = Vec::new();
        if let Some(e) = email {
            let e = e.trim().to_lowercase();
            if !e.is_empty() {
                let local = e.split('@').next().unwrap_or("").to_owned();
                items.push((e, TermKind::Email));
                if local_part_is_specific(&local) {
                    items.push((local, TermKind::LocalPart));
                }
            }
        }
        for ip in ips {
            let ip = ip.trim().to_lowercase();
            if !ip.is_empty() && !items.iter().any(|(t, _)| *t == ip) {
                items.push((ip, TermKind::Ip));
            }
        }
        Terms {
            items,
            shared_ips_skipped,
        }
    }

    /// True when there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The raw terms (for SQL prefilters; never reported).
    pub(crate) fn patterns(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(t, _)| t.as_str())
    }

    /// Counts per kind.
    pub fn summary(&self) -> TermSummary {
        let count = |k| self.items.iter().filter(|(_, kk)| *kk == k).count() as u32;
        TermSummary {
            email: count(TermKind::Email),
            local_part: count(TermKind::LocalPart),
            ip_addresses: count(TermKind::Ip),
            shared_ip_addresses_skipped: self.shared_ips_skipped,
        }
    }

    /// The longest term occurring at byte `i` of `lower` with clean boundaries.
    fn match_at(&self, lower: &str, i: usize) -> Option<usize> {
        let rest = &lower[i..];
        let prev = lower[..i].chars().next_back();
        self.items
            .iter()
            .filter(|(t, k)| {
                rest.starts_with(t.as_str())
                    && !matches!(prev, Some(c) if glued(*k, c))
                    && !matches!(rest[t.len()..].chars().next(), Some(c) if glued(*k, c))
            })
            .map(|(t, _)| t.len())
            .max()
    }

    /// True when `hay` contains a term.
    pub fn found_in(&self, hay: &str) -> bool {
        if self.items.is_empty() {
            return false;
        }
        let lower = hay.to_ascii_lowercase();
        lower
            .char_indices()
            .any(|(i, _)| self.match_at(&lower, i).is_some())
    }

    /// `hay` with every occurrence replaced by [`REDACTED`], or `None` when nothing matched.
    pub fn redact(&self, hay: &str) -> Option<String> {
        if self.items.is_empty() {
            return None;
        }
        let lower = hay.to_ascii_lowercase();
        let mut out = String::with_capacity(hay.len());
        let mut changed = false;
        let mut i = 0;
        while i < hay.len() {
            if let Some(n) = self.match_at(&lower, i) {
                out.push_str(REDACTED);
                i += n;
                changed = true;
            } else {
                let c = hay[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
        changed.then_some(out)
    }
}

/// Characters that would make a match part of a longer address.
fn glued(kind: TermKind, c: char) -> bool {
    match kind {
        TermKind::Email => c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-'),
        // A local part next to `@` belongs to an address: another user's when it is not the
        // subject's full email (which the longer Email term matches).
        TermKind::LocalPart => {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '@')
        }
        TermKind::Ip => c.is_ascii_hexdigit() || matches!(c, '.' | ':'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_with_boundaries_case_insensitively() {
        let t = Terms::new(Some("John.Smith@Example.com"), &["10.0.0.1".into()], 0);
        assert_eq!(t.summary().local_part, 1);
        assert!(t.found_in("mail JOHN.SMITH@example.com now"));
        assert!(t.found_in(r#"{"ip":"10.0.0.1"}"#));
        assert!(t.found_in("10.0.0.1/32"));
        assert!(!t.found_in("10.0.0.12"));
        assert!(!t.found_in("xjohn.smith@example.com.au"));
        assert_eq!(
            t.redact(r#"{"email":"john.smith@example.com","by":"john.smith"}"#)
                .unwrap(),
            r#"{"email":"[redacted]","by":"[redacted]"}"#
        );
        assert_eq!(t.redact("nothing here"), None);
        // The same local part at another domain is someone else's address.
        assert!(!t.found_in("john.smith@other.org"));
        assert_eq!(t.redact("to john.smith@other.org"), None);
    }

    #[test]
    fn generic_local_parts_are_not_terms() {
        assert!(!local_part_is_specific("admin"));
        assert!(!local_part_is_specific("employee"));
        assert!(local_part_is_specific("user00042"));
        let t = Terms::new(Some("employee@test-org.com"), &[], 0);
        assert!(!t.found_in("EMPLOYEE"));
    }
}
