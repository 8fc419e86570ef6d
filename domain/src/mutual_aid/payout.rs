//! The payout calculator: what a claim pays under a plan's rules, with the breakdown that lets
//! a worker and an auditor see why (issue #5, "Plans are data").
//!
//! For each benefit kind among the claim's lines, with that kind's [`BenefitRule`]:
//!
//! 1. **Threshold.** The year's costs are the **total cost** (总费用, insurance's part
//!    included) of every counted line of the kind in the member's earlier claims of the plan
//!    year plus this claim's. Below the threshold the kind pays nothing (晋城: "住院总费用一次性或
//!    累计达到9000元以上").
//! 2. **Rate.** The eligible amount is the out-of-pocket part of this claim's lines of the kind
//!    (after a reviewer's cuts); the deductible comes off, and the rate applies, rounded down to
//!    the fen.
//! 3. **Clamp** to the minimum and maximum payout (晋城: 300 to 30,000 yuan in hospital).
//! 4. **What the member paid.** Never more than the eligible amount: the minimum payout does
//!    not pay a member more than the loss (a line insurance paid in full pays nothing).
//! 5. **Cap.** Never past what remains of the annual cap after the kind's payouts already
//!    approved in the plan year.
//!
//! A line counts when its total cost is above zero — also when insurance paid all of it — and
//! a reviewer has not struck it (cut it to zero), which takes it out of the threshold too. A
//! line whose kind the plan does not cover counts for nothing and says so.

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
    /// A reviewer cut the line to nothing: it counts for nothing, not even the threshold.
    pub struck: bool,
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
    /// Lowered to what the member paid (the eligible amount).
    OutOfPocket,
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
        .filter(|(_, l)| l.kind == kind && !l.struck && l.total_fen > Fen::ZERO)
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
        let (mut clamped, mut limit) = if rated < rule.minimum_fen {
            (rule.minimum_fen, Limit::Minimum)
        } else if rated > rule.maximum_fen {
            (rule.maximum_fen, Limit::Maximum)
        } else {
            (rated, Limit::None)
        };
        if clamped > eligible {
            (clamped, limit) = (eligible, Limit::OutOfPocket);
        }
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
            struck: false,
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
    fn kinds_are_computed_apart_and_struck_lines_do_not_count() {
        let rules = jincheng();
        let struck = CostLine {
            struck: true,
            ..line(Inpatient, 3_000, 0)
        };
        let lines = [
            line(Inpatient, 12_000, 10_000),
            line(Chronic, 6_000, 6_000),
            struck,
        ];
        let payout = compute(&rules, &lines, fresh);
        assert_eq!(payout.total_fen, Fen::yuan(5_000 + 3_000));
        let inpatient = &payout.benefits[0];
        assert_eq!(inpatient.lines, vec![0]);
        assert_eq!(inpatient.claim_costs_fen, Fen::yuan(12_000));
        assert_eq!(payout.benefits[1].lines, vec![1]);
    }

    /// Issue 18, item 1: the threshold is on total costs (晋城: 总费用), so a line insurance
    /// paid in full still counts towards it, and how little the member paid of it does not
    /// change the answer.
    #[test]
    fn lines_insurance_paid_in_full_count_towards_the_threshold() {
        let rules = jincheng();
        let paid_by_insurance = line(Chronic, 3_000, 0);
        let paid_by_worker = line(Chronic, 3_000, 3_000);
        let payout = compute(&rules, &[paid_by_insurance, paid_by_worker], fresh);
        let b = &payout.benefits[0];
        assert!(b.threshold_met);
        assert_eq!(b.claim_costs_fen, Fen::yuan(6_000));
        assert_eq!(b.lines, vec![0, 1]);
        assert_eq!(payout.total_fen, Fen::yuan(1_500));
        let one_fen = CostLine {
            eligible_fen: Fen::new(1).unwrap(),
            ..paid_by_insurance
        };
        let payout = compute(&rules, &[one_fen, paid_by_worker], fresh);
        assert_eq!(payout.total_fen, Fen::yuan(1_500));
        // A line insurance paid in full, alone, pays nothing however large.
        let alone = compute(&rules, &[line(Inpatient, 20_000, 0)], fresh);
        assert!(alone.benefits[0].threshold_met);
        assert_eq!(alone.total_fen, Fen::ZERO);
        assert_eq!(alone.benefits[0].limit, Limit::OutOfPocket);
    }

    /// Issue 18, item 2: the minimum payout never pays more than the member paid.
    #[test]
    fn the_minimum_payout_never_exceeds_the_loss() {
        let rules = jincheng();
        let payout = compute(&rules, &[line(Chronic, 5_000, 100)], fresh);
        assert_eq!(payout.total_fen, Fen::yuan(100));
        assert_eq!(payout.benefits[0].limit, Limit::OutOfPocket);
        let payout = compute(&rules, &[line(Chronic, 5_000, 400)], fresh);
        assert_eq!(payout.total_fen, Fen::yuan(300));
        assert_eq!(payout.benefits[0].limit, Limit::Minimum);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn cost_line() -> impl Strategy<Value = CostLine> {
            (
                prop_oneof![Just(Inpatient), Just(Chronic)],
                0i64..=20_000_000,
                0u32..=10_000,
                any::<bool>(),
            )
                .prop_map(|(kind, total, share, struck)| CostLine {
                    kind,
                    total_fen: Fen::new(total).unwrap(),
                    eligible_fen: Fen::new(total * i64::from(share) / 10_000).unwrap(),
                    struck,
                })
        }

        fn year() -> impl Strategy<Value = YearToDate> {
            (0i64..=50_000_000, 0i64..=8_000_000).prop_map(|(costs, paid)| YearToDate {
                costs_fen: Fen::new(costs).unwrap(),
                paid_fen: Fen::new(paid).unwrap(),
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Issue 18: payout ≥ 0, ≤ what the member paid, never past the cap or the
            /// maximum; the threshold is judged on total costs of the lines not struck.
            #[test]
            fn a_payout_is_bounded_by_the_loss_the_cap_and_the_rules(
                lines in proptest::collection::vec(cost_line(), 1..6),
                earlier in year(),
            ) {
                let rules = jincheng();
                let payout = compute(&rules, &lines, |_| earlier);
                prop_assert_eq!(
                    payout.total_fen,
                    Fen::sum(payout.benefits.iter().map(|b| b.payout_fen))
                );
                for b in &payout.benefits {
                    let rule = rules.benefit(b.kind).unwrap();
                    let mine = lines.iter().filter(|l| l.kind == b.kind && !l.struck);
                    let costs = Fen::sum(mine.clone().map(|l| l.total_fen));
                    let paid = Fen::sum(mine.map(|l| l.eligible_fen));
                    prop_assert!(b.payout_fen >= Fen::ZERO);
                    prop_assert!(b.payout_fen <= paid, "{:?}", b);
                    prop_assert!(b.payout_fen <= rule.maximum_fen);
                    prop_assert!(b.payout_fen <= rule.annual_cap_fen.minus(earlier.paid_fen));
                    prop_assert_eq!(b.claim_costs_fen, costs);
                    prop_assert_eq!(
                        b.threshold_met,
                        costs.plus(earlier.costs_fen) >= rule.threshold_fen
                    );
                    if !b.threshold_met {
                        prop_assert_eq!(b.payout_fen, Fen::ZERO);
                    }
                }
            }

            /// More cost on a line (total and the member's part alike) never pays less.
            #[test]
            fn a_payout_is_monotone_in_costs(
                lines in proptest::collection::vec(cost_line(), 1..6),
                earlier in year(),
                which in any::<prop::sample::Index>(),
                more in 0i64..=5_000_000,
            ) {
                let rules = jincheng();
                let before = compute(&rules, &lines, |_| earlier);
                let mut grown = lines.clone();
                let line = &mut grown[which.index(lines.len())];
                line.total_fen = line.total_fen.plus(Fen::new(more).unwrap());
                line.eligible_fen = line.eligible_fen.plus(Fen::new(more).unwrap());
                let after = compute(&rules, &grown, |_| earlier);
                prop_assert!(after.total_fen >= before.total_fen, "{:?} → {:?}", before, after);
            }
        }
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
