//! The union organisation tree (工会组织): 全国总工会 → 省总工会 → 市总工会 → 县/区总工会 →
//! 乡镇/街道工会 → 基层工会 (`shared/design/DOMAIN.md`, "Who uses it").
//!
//! Each organisation carries a materialised [`OrgPath`]: the ids from the root down to itself.
//! "This node and all below it" is then one range scan on an ordinary B-tree index
//! (`path >= P AND path < P'`, see [`OrgPath::subtree_range`]) on PostgreSQL and SQLite alike.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

crate::uuid_id!(
    /// Identifier of a union organisation (a UUIDv7, shown as its hyphenated text).
    OrgId
);

/// The path of an organisation in the tree: `/<root id>/<child id>/…/<own id>/`.
///
/// Paths never change once written (organisations are not moved in this version), so
/// officials and, later, records keep a copy of their organisation's path for scope checks
/// without a join.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgPath(String);

impl OrgPath {
    /// The path of a root organisation.
    pub fn root(id: OrgId) -> Self {
        Self(format!("/{id}/"))
    }

    /// The path of a child of this organisation.
    pub fn child(&self, id: OrgId) -> Self {
        Self(format!("{}{id}/", self.0))
    }

    /// Wraps a path read from storage. Storage only ever holds paths built by
    /// [`OrgPath::root`] and [`OrgPath::child`].
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `other` is this organisation or lies below it: the data-scope rule
    /// ("an official acts within their own node and its descendants", DOMAIN.md).
    pub fn contains(&self, other: &OrgPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// This organisation's path and those of the organisations above it, root first.
    pub fn ancestors(&self) -> Vec<OrgPath> {
        let mut paths = Vec::new();
        for (i, _) in self.0.match_indices('/').skip(1) {
            paths.push(OrgPath(self.0[..=i].to_owned()));
        }
        paths
    }

    /// Depth in the tree; a root has depth 1.
    pub fn depth(&self) -> usize {
        self.0.matches('/').count().saturating_sub(1)
    }

    /// Half-open text range `[lower, upper)` holding exactly the paths of this node and its
    /// descendants: every such path starts with `lower`, which ends in `/` (0x2F); `upper` is
    /// `lower` with that last `/` replaced by `0` (0x30), the next byte.
    pub fn subtree_range(&self) -> (String, String) {
        let mut upper = self.0.clone();
        upper.pop();
        upper.push('0');
        (self.0.clone(), upper)
    }
}

/// The level or form of a union organisation (DOMAIN.md, "Who uses it").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 全国总工会
    NationalFederation,
    /// 省总工会
    ProvincialFederation,
    /// 市总工会
    CityFederation,
    /// 县/区总工会
    CountyFederation,
    /// 乡镇/街道工会
    TownshipUnion,
    /// 基层工会 of one employer
    EnterpriseUnion,
    /// 联合工会: covers many small employers
    JointUnion,
    /// 行业工会联合会
    IndustryFederation,
}

impl OrgKind {
    /// Every kind, for error messages that list what is allowed.
    pub const ALL: [OrgKind; 8] = [
        OrgKind::NationalFederation,
        OrgKind::ProvincialFederation,
        OrgKind::CityFederation,
        OrgKind::CountyFederation,
        OrgKind::TownshipUnion,
        OrgKind::EnterpriseUnion,
        OrgKind::JointUnion,
        OrgKind::IndustryFederation,
    ];

    /// The stable text code.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::NationalFederation => "national_federation",
            OrgKind::ProvincialFederation => "provincial_federation",
            OrgKind::CityFederation => "city_federation",
            OrgKind::CountyFederation => "county_federation",
            OrgKind::TownshipUnion => "township_union",
            OrgKind::EnterpriseUnion => "enterprise_union",
            OrgKind::JointUnion => "joint_union",
            OrgKind::IndustryFederation => "industry_federation",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            OrgKind::NationalFederation => "全国总工会",
            OrgKind::ProvincialFederation => "省总工会",
            OrgKind::CityFederation => "市总工会",
            OrgKind::CountyFederation => "县（区）总工会",
            OrgKind::TownshipUnion => "乡镇（街道）工会",
            OrgKind::EnterpriseUnion => "基层工会",
            OrgKind::JointUnion => "联合工会",
            OrgKind::IndustryFederation => "行业工会联合会",
        }
    }

    /// Parses the text code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The name of an organisation: 1–100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgName(String);

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty after trimming.
    #[error("empty")]
    Empty,
    /// Longer than the limit.
    #[error("too long")]
    TooLong,
    /// Holds a control character.
    #[error("control character")]
    ControlCharacter,
}

impl OrgName {
    /// Maximum length in characters.
    pub const MAX_CHARS: usize = 100;

    /// Checks a name: at most [`Self::MAX_CHARS`] characters as sent, trimmed, not blank, no
    /// control characters.
    pub fn parse(sent: &str) -> Result<Self, NameError> {
        let s = sent.trim();
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if sent.chars().count() > Self::MAX_CHARS {
            return Err(NameError::TooLong);
        }
        if s.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        Ok(Self(s.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A union organisation (工会组织), one node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Its id.
    pub id: OrgId,
    /// The parent; `None` for the root.
    pub parent_id: Option<OrgId>,
    /// Display name, unique among siblings.
    pub name: OrgName,
    /// Level or form.
    pub kind: OrgKind,
    /// Whether individual workers may join it directly (a 联合工会 or 行业工会联合会 taking
    /// new-employment-form workers who have no employer union).
    pub accepts_individuals: bool,
    /// Materialised path from the root.
    pub path: OrgPath,
    /// City (市) it serves, for workers choosing where to join; `None` when not set.
    pub city: Option<String>,
    /// Prefix of its member numbers ([`crate::membership::member::member_number`]): eight uppercase hex
    /// digits taken from the random part of its id, unique.
    pub code: String,
    /// When it was created (UTC).
    pub created_at: DateTime<Utc>,
    /// When it was last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// The member-number prefix of a new organisation: the last eight hex digits of its id
/// (random bits of the UUIDv7), uppercased. The first migration computes the same for
/// organisations created before codes existed.
fn code_of(id: OrgId) -> String {
    let text = id.to_string();
    text[text.len().saturating_sub(8)..].to_ascii_uppercase()
}

/// Longest city name accepted, in characters.
pub const CITY_MAX_CHARS: usize = 30;

/// A city name as officials enter it (`黔西市`, `晋城市`): at most [`CITY_MAX_CHARS`]
/// characters as sent, trimmed, not blank, no control characters. `None` when it is not
/// acceptable.
pub fn parse_city(input: &str) -> Option<String> {
    let city = input.trim();
    (!city.is_empty()
        && input.chars().count() <= CITY_MAX_CHARS
        && !city.chars().any(char::is_control))
    .then(|| city.to_owned())
}

impl Organisation {
    /// A new root organisation.
    pub fn new_root(name: OrgName, kind: OrgKind, now: DateTime<Utc>) -> Self {
        let id = OrgId::new();
        Self {
            id,
            parent_id: None,
            name,
            kind,
            accepts_individuals: false,
            path: OrgPath::root(id),
            city: None,
            code: code_of(id),
            created_at: now,
            updated_at: now,
        }
    }

    /// A new child of `self`.
    pub fn new_child(
        &self,
        name: OrgName,
        kind: OrgKind,
        accepts_individuals: bool,
        now: DateTime<Utc>,
    ) -> Self {
        let id = OrgId::new();
        Self {
            id,
            parent_id: Some(self.id),
            name,
            kind,
            accepts_individuals,
            path: self.path.child(id),
            city: None,
            code: code_of(id),
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_run_from_the_root_to_the_node() {
        let (a, b) = (OrgId::new(), OrgId::new());
        let root = OrgPath::root(a);
        let child = root.child(b);
        assert_eq!(child.ancestors(), vec![root.clone(), child.clone()]);
        assert_eq!(root.ancestors(), vec![root]);
    }

    #[test]
    fn subtree_range_holds_descendants_and_nothing_else() {
        let root = OrgPath::root(OrgId::new());
        let child = root.child(OrgId::new());
        let grandchild = child.child(OrgId::new());
        let sibling = root.child(OrgId::new());
        let (lo, hi) = child.subtree_range();
        let inside = |p: &OrgPath| p.as_str() >= lo.as_str() && p.as_str() < hi.as_str();
        assert!(inside(&child));
        assert!(inside(&grandchild));
        assert!(!inside(&sibling));
        assert!(!inside(&root));
        assert!(child.contains(&grandchild));
        assert!(!child.contains(&sibling));
        assert_eq!(grandchild.depth(), 3);
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(
            OrgName::parse("  郑州市总工会 ").map(|n| n.0),
            Ok("郑州市总工会".into())
        );
        assert_eq!(OrgName::parse("  "), Err(NameError::Empty));
        assert_eq!(OrgName::parse(&"工".repeat(101)), Err(NameError::TooLong));
        assert_eq!(OrgName::parse("a\u{7}b"), Err(NameError::ControlCharacter));
    }
}
