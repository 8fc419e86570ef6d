//! What on another claim looks like this one's: the same invoice number however typed, the
//! same amount on the same day at what reads as the same hospital, or the same document
//! bytes. Not a refusal — an invoice is claimed once by its key
//! ([`ClaimLine::invoice_key`](super::claim::ClaimLine::invoice_key)), and the store refuses
//! a second claim of it — but a flag the reviewer sees beside the claim, naming the other
//! one, so a changed day or amount does not slip through unseen.

use chrono::NaiveDate;

use super::claim::{hospital_key, invoice_identity, Claim, ClaimId, ClaimStatus};
use crate::money::Fen;

/// Hospital names at least this alike (1 − Levenshtein distance in characters ÷ the longer
/// name's length, 0–1) read as one hospital: `晋城市人民医院` and `晋城人民医院` are 0.86,
/// `晋城市人民医院` and `晋城市中医院` 0.71. Only a flag for the reviewer, and only beside
/// the same day and amount, so it leans to flagging.
pub const HOSPITAL_LIKENESS: f64 = 0.8;

/// Why two claims look alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Likeness {
    /// A line with the same invoice number once separators, case and leading zeros are set
    /// aside.
    InvoiceNumber,
    /// A line of the same total on the same day, at a hospital whose name reads the same
    /// (one contains the other, or they are [`HOSPITAL_LIKENESS`] alike).
    AmountAndDay,
    /// A document with the same bytes (SHA-256).
    Document,
}

impl Likeness {
    /// Every term, in the order pickers show them.
    pub const ALL: [Likeness; 3] = [Self::InvoiceNumber, Self::AmountAndDay, Self::Document];

    /// Stable code: `same_invoice_number`, `same_amount_and_day`, `same_document`.
    pub fn as_str(self) -> &'static str {
        match self {
            Likeness::InvoiceNumber => "same_invoice_number",
            Likeness::AmountAndDay => "same_amount_and_day",
            Likeness::Document => "same_document",
        }
    }

    /// For the reviewer.
    pub fn zh(self) -> &'static str {
        match self {
            Likeness::InvoiceNumber => "发票号码相同",
            Likeness::AmountAndDay => "同一天、同一金额、医院名称相近",
            Likeness::Document => "上传的材料文件完全相同",
        }
    }
}

/// A line of another (non-draft) claim, as the store finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherLine {
    /// Its claim.
    pub claim_id: ClaimId,
    /// That claim's state.
    pub status: ClaimStatus,
    /// Its position on that claim (0-based).
    pub position: usize,
    /// Hospital as typed.
    pub hospital: String,
    /// Invoice number as stored.
    pub invoice_number: String,
    /// Day of treatment.
    pub treated_on: NaiveDate,
    /// Total cost.
    pub total_fen: Fen,
}

/// A document of another (non-draft) claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherDocument {
    /// Its claim.
    pub claim_id: ClaimId,
    /// That claim's state.
    pub status: ClaimStatus,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// One flag: this claim's line (or document) and the other claim it looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Similar {
    /// Why.
    pub likeness: Likeness,
    /// This claim's line (0-based), for a line's likeness.
    pub line: Option<usize>,
    /// The other claim.
    pub other_claim: ClaimId,
    /// Its state.
    pub other_status: ClaimStatus,
    /// Its line (0-based), for a line's likeness.
    pub other_line: Option<usize>,
}

/// Whether two hospital names read as one.
fn same_hospital(a: &str, b: &str) -> bool {
    let (a, b) = (hospital_key(a), hospital_key(b));
    a.contains(&b) || b.contains(&a) || strsim::normalized_levenshtein(&a, &b) >= HOSPITAL_LIKENESS
}

/// Every flag for `claim` among `lines` and `documents` of other claims (those of `claim`
/// itself are skipped): each pair of lines once, by the strongest likeness; each other claim
/// once per shared document. Ordered by this claim's line, then the other claim.
pub fn similar(claim: &Claim, lines: &[OtherLine], documents: &[OtherDocument]) -> Vec<Similar> {
    let mut found = Vec::new();
    for (i, line) in claim.lines.iter().enumerate() {
        let identity = invoice_identity(&line.invoice_number);
        for other in lines.iter().filter(|o| o.claim_id != claim.id) {
            let likeness = if invoice_identity(&other.invoice_number) == identity {
                Likeness::InvoiceNumber
            } else if other.treated_on == line.treated_on
                && other.total_fen == line.total_fen
                && same_hospital(&other.hospital, &line.hospital)
            {
                Likeness::AmountAndDay
            } else {
                continue;
            };
            found.push(Similar {
                likeness,
                line: Some(i),
                other_claim: other.claim_id,
                other_status: other.status,
                other_line: Some(other.position),
            });
        }
    }
    for document in &claim.documents {
        for other in documents
            .iter()
            .filter(|o| o.claim_id != claim.id && o.sha256 == document.sha256)
        {
            let flag = Similar {
                likeness: Likeness::Document,
                line: None,
                other_claim: other.claim_id,
                other_status: other.status,
                other_line: None,
            };
            if !found.contains(&flag) {
                found.push(flag);
            }
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hospital_names_that_read_as_one() {
        assert!(same_hospital("晋城市人民医院", "山西省晋城市人民医院"));
        assert!(same_hospital("晋城市人民医院", "晋城人民医院"));
        assert!(same_hospital("晋城市 人民医院", "晋城市人民医院（东院）"));
        assert!(!same_hospital("晋城市人民医院", "晋城市中医院"));
        assert!(!same_hospital("晋城市人民医院", "郑州大学第一附属医院"));
        let alike =
            |a: &str, b: &str| strsim::normalized_levenshtein(&hospital_key(a), &hospital_key(b));
        assert!((alike("晋城市人民医院", "晋城人民医院") - 6.0 / 7.0).abs() < 1e-9);
        assert!((alike("晋城市人民医院", "晋城市中医院") - 5.0 / 7.0).abs() < 1e-9);
    }
}
