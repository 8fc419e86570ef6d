//! The payout calculator: what a claim pays under a plan's rules, with the breakdown that lets
//! a worker and an auditor see why (issue #5, "Plans are data").
//!
//! For each benefit kind among the claim's lines, with that kind's [`BenefitRule`]:
//!
//! 1. **Threshold.** The year's costs are the total cost of every counted line of the kind in
//!    the member's earlier claims of the plan year plus this claim's. Below the threshold the
//!    kind pays nothing (晋城: hospital costs "one stay or summed over the year" of 9,000 yuan).
//! 2. **Rate.** The eligible amount is the out-of-pocket part of this claim's lines of the kind
//!    (after a reviewer's cuts); the deductible comes off, and the rate applies, rounded down to
//!    the fen.
//! 3. **Clamp** to the minimum and maximum payout (晋城: 300 to 30,000 yuan in hospital).
//! 4. **Cap.** Never past what remains of the annual cap after the kind's payouts already
//!    approved in the plan year.
//!
//! A line counts when its amount is above zero; a reviewer who cuts a line to zero takes it
//! out of the threshold too. A line whose kind the plan does not cover counts for nothing and
//! says so.

use serde::{Deserialize, Serialize};

use super::plan::{BenefitKind, BenefitRule, PlanRules};
use crate::money::Fen;

/// One line as the calculator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostLine {
    /// What it was for.
    pub kind: BenefitKind,
    /// Total cost on the invoice.
    pub total_fen: Fen,
    /// The part the rate applies to: the out-of-pocket part as claimed, or what a reviewer
    /// approved of it.
    pub eligible_fen: Fen,
}

/// What the member's earlier claims of the same plan year already used, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YearToDate {
    /// Total cost of their counted lines of the kind.
    pub costs_fen: Fen,
    /// Payouts of the kind approved or paid.
    pub paid_fen: Fen,
}

/// Which bound changed the rated amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// None: the rated amount is paid.
    None,
    /// Raised to the minimum payout.
    Minimum,
    /// Lowered to the maximum payout.
    Maximum,
    /// Lowered to what remains of the annual cap.
    AnnualCap,
}

/// How one benefit kind's payout came about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitPayout {
    /// The kind.
    pub kind: BenefitKind,
    /// Indices (from 0) of this claim's lines of the kind that counted.
    pub lines: Vec<usize>,
    /// Whether the plan covers the kind at all; when not, everything below is zero.
    pub covered: bool,
    /// Total cost of this claim's counted lines.
    pub claim_costs_fen: Fen,
    /// Total cost of the earlier claims' counted lines in the plan year.
    pub earlier_costs_fen: Fen,
    /// The threshold and whether the two together reach it.
    pub threshold_fen: Fen,
    /// `claim_costs_fen + earlier_costs_fen >= threshold_fen`.
    pub threshold_met: bool,
    /// Out-of-pocket amount of the counted lines.
    pub eligible_fen: Fen,
    /// Taken off before the rate.
    pub deductible_fen: Fen,
    /// The rate, in basis points.
    pub rate_basis_points: u32,
    /// `(eligible − deductible) × rate`, rounded down to the fen.
    pub rated_fen: Fen,
    /// Which bound applied, if any.
    pub limit: Limit,
    /// What remained of the annual cap before this claim.
    pub cap_remaining_fen: Fen,
    /// What this kind pays on this claim.
    pub payout_fen: Fen,
}

/// A claim's payout: the sum over its benefit kinds, each with its breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// What the claim pays in all.
    pub total_fen: Fen,
    /// One entry per kind among the lines, in [`BenefitKind::ALL`] order.
    pub benefits: Vec<BenefitPayout>,
}

/// What `lines` pay under `rules`, given what the member's earlier claims of the plan year
/// used (`earlier(kind)`).
pub fn compute(
    rules: &PlanRules,
    lines: &[CostLine],
    earlier: impl Fn(BenefitKind) -> YearToDate,
) -> Payout {
    let benefits: Vec<BenefitPayout> = BenefitKind::ALL
        .into_iter()
        .filter(|kind| lines.iter().any(|l| l.kind == *kind))
        .map(|kind| benefit(rules.benefit(kind), kind, lines, earlier(kind)))
        .collect();
    Payout {
        total_fen: Fen::sum(benefits.iter().map(|b| b.payout_fen)),
        benefits,
    }
}

fn benefit(
    rule: Option<&BenefitRule>,
    kind: BenefitKind,
    lines: &[CostLine],
    earlier: YearToDate,
) -> BenefitPayout {
    let counted: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.kind == kind && l.eligible_fen > Fen::ZERO)
        .map(|(i, _)| i)
        .collect();
    let claim_costs = Fen::sum(counted.iter().map(|&i| lines[i].total_fen));
    let eligible = Fen::sum(counted.iter().map(|&i| lines[i].eligible_fen));
    let Some(rule) = rule else {
        return BenefitPayout {
            kind,
            lines: Vec::new(),
            covered: false,
            claim_costs_fen: claim_costs,
            earlier_costs_fen: earlier.costs_fen,
            threshold_fen: Fen::ZERO,
            threshold_met: false,
            eligible_fen: eligible,
            deductible_fen: Fen::ZERO,
            rate_basis_points: 0,
            rated_fen: Fen::ZERO,
            limit: Limit::None,
            cap_remaining_fen: Fen::ZERO,
            payout_fen: Fen::ZERO,
        };
    };
    let threshold_met = claim_costs.plus(earlier.costs_fen) >= rule.threshold_fen;
    let rated = eligible
        .minus(rule.deductible_fen)
        .times_basis_points(rule.rate_basis_points);
    let cap_remaining = rule.annual_cap_fen.minus(earlier.paid_fen);
    let (payout, limit) = if !threshold_met || counted.is_empty() {
        (Fen::ZERO, Limit::None)
    } else {
        let (clamped, limit) = if rated < rule.minimum_fen {
            (rule.minimum_fen, Limit::Minimum)
        } else if rated > rule.maximum_fen {
            (rule.maximum_fen, Limit::Maximum)
        } else {
            (rated, Limit::None)
        };
        if clamped > cap_remaining {
            (cap_remaining, Limit::AnnualCap)
        } else {
            (clamped, limit)
        }
    };
    BenefitPayout {
        kind,
        lines: counted,
        covered: true,
        claim_costs_fen: claim_costs,
        earlier_costs_fen: earlier.costs_fen,
        threshold_fen: rule.threshold_fen,
        threshold_met,
        eligible_fen: eligible,
        deductible_fen: rule.deductible_fen,
        rate_basis_points: rule.rate_basis_points,
        rated_fen: rated,
        limit,
        cap_remaining_fen: cap_remaining,
        payout_fen: payout,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::mutual_aid::plan::tests::jincheng;
    use BenefitKind::{Chronic, Inpatient};

    fn line(kind: BenefitKind, total_yuan: i64, eligible_yuan: i64) -> CostLine {
        CostLine {
            kind,
            total_fen: Fen::yuan(total_yuan),
            eligible_fen: Fen::yuan(eligible_yuan),
        }
    }

    fn fresh(_: BenefitKind) -> YearToDate {
        YearToDate::default()
    }

    /// The 晋城 figures with the assumed 50 % rate (see `jincheng`): one claim, nothing earlier.
    #[test]
    fn jincheng_table() {
        let cases: [(&str, Vec<CostLine>, i64, Limit, bool); 8] = [
            (
                "8,999 yuan in hospital: below the threshold",
                vec![line(Inpatient, 8_999, 8_999)],
                0,
                Limit::None,
                false,
            ),
            (
                "9,000 yuan: eligible, half of it",
                vec![line(Inpatient, 9_000, 9_000)],
                4_500,
                Limit::None,
                true,
            ),
            (
                "two stays summed",
                vec![line(Inpatient, 4_000, 4_000), line(Inpatient, 5_000, 5_000)],
                4_500,
                Limit::None,
                true,
            ),
            (
                "insurance paid most: the rate gives 200, the minimum 300",
                vec![line(Inpatient, 9_000, 400)],
                300,
                Limit::Minimum,
                true,
            ),
            (
                "100,000 yuan: 50,000 lowered to the maximum 30,000",
                vec![line(Inpatient, 100_000, 100_000)],
                30_000,
                Limit::Maximum,
                true,
            ),
            (
                "chronic 4,999: below its threshold",
                vec![line(Chronic, 4_999, 4_999)],
                0,
                Limit::None,
                false,
            ),
            (
                "chronic 5,000: eligible",
                vec![line(Chronic, 5_000, 5_000)],
                2_500,
                Limit::None,
                true,
            ),
            (
                "chronic 50,000: capped at 10,000",
                vec![line(Chronic, 50_000, 50_000)],
                10_000,
                Limit::Maximum,
                true,
            ),
        ];
        let rules = jincheng();
        for (what, lines, payout_yuan, limit, met) in cases {
            let payout = compute(&rules, &lines, fresh);
            assert_eq!(payout.total_fen, Fen::yuan(payout_yuan), "{what}");
            assert_eq!(payout.benefits.len(), 1, "{what}");
            let b = &payout.benefits[0];
            assert_eq!((b.limit, b.threshold_met), (limit, met), "{what}");
            assert_eq!(b.lines.len(), lines.len(), "{what}");
        }
    }

    #[test]
    fn the_annual_cap_holds_across_two_claims() {
        let rules = jincheng();
        let first = compute(&rules, &[line(Inpatient, 80_000, 80_000)], fresh);
        assert_eq!(first.total_fen, Fen::yuan(30_000));
        let second = compute(&rules, &[line(Inpatient, 80_000, 80_000)], |_| YearToDate {
            costs_fen: Fen::yuan(80_000),
            paid_fen: Fen::yuan(30_000),
        });
        assert_eq!(second.total_fen, Fen::yuan(30_000), "the cap is 60,000");
        let third = compute(&rules, &[line(Inpatient, 20_000, 20_000)], |_| YearToDate {
            costs_fen: Fen::yuan(160_000),
            paid_fen: Fen::yuan(60_000),
        });
        assert_eq!(third.total_fen, Fen::ZERO);
        assert_eq!(third.benefits[0].limit, Limit::AnnualCap);
        assert_eq!(third.benefits[0].cap_remaining_fen, Fen::ZERO);
    }

    #[test]
    fn earlier_costs_of_the_year_count_towards_the_threshold() {
        let rules = jincheng();
        let alone = compute(&rules, &[line(Inpatient, 5_000, 5_000)], fresh);
        assert_eq!(alone.total_fen, Fen::ZERO);
        let after = compute(&rules, &[line(Inpatient, 5_000, 5_000)], |kind| {
            YearToDate {
                costs_fen: if kind == Inpatient {
                    Fen::yuan(4_000)
                } else {
                    Fen::ZERO
                },
                paid_fen: Fen::ZERO,
            }
        });
        assert_eq!(after.total_fen, Fen::yuan(2_500));
        assert_eq!(after.benefits[0].earlier_costs_fen, Fen::yuan(4_000));
    }

    #[test]
    fn kinds_are_computed_apart_and_cut_lines_do_not_count() {
        let rules = jincheng();
        let lines = [
            line(Inpatient, 12_000, 10_000),
            line(Chronic, 6_000, 6_000),
            line(Inpatient, 3_000, 0),
        ];
        let payout = compute(&rules, &lines, fresh);
        assert_eq!(payout.total_fen, Fen::yuan(5_000 + 3_000));
        let inpatient = &payout.benefits[0];
        assert_eq!(inpatient.lines, vec![0]);
        assert_eq!(inpatient.claim_costs_fen, Fen::yuan(12_000));
        assert_eq!(payout.benefits[1].lines, vec![1]);
    }

    #[test]
    fn deductible_and_rate_round_down_and_uncovered_kinds_pay_nothing() {
        let mut rules = jincheng();
        rules.benefits[0].deductible_fen = Fen::yuan(1_000);
        rules.benefits[0].rate_basis_points = 3_333;
        let payout = compute(&rules, &[line(Inpatient, 10_000, 10_000)], fresh);
        // (10,000 − 1,000) × 33.33 % = 2,999.70 yuan.
        assert_eq!(payout.total_fen, Fen::new(299_970).unwrap());
        rules.benefits.retain(|b| b.kind == Inpatient);
        let payout = compute(&rules, &[line(Chronic, 50_000, 50_000)], fresh);
        assert_eq!(payout.total_fen, Fen::ZERO);
        assert!(!payout.benefits[0].covered);
    }
}
