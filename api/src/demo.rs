//! `yiwang demo`: a realistic organisation tree drawn from the seeds (`shared/seeds/`, DOMAIN.md
//! "Facts from the seeds"), with one official per role that a walkthrough needs. The
//! officials' passwords are random and printed once: demo data only, never for production.
//! It also sets up 晋城's 大病医疗互助 for the current year ([`jincheng_plan`]), with the rate
//! the seeds leave open assumed at 50 %.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Datelike, NaiveDate};
use serde_json::json;
use yiwang_domain::account::{Role, Username};
use yiwang_domain::audit::Actor;
use yiwang_domain::calendar::china_date;
use yiwang_domain::clock;
use yiwang_domain::mutual_aid::plan::{BenefitInput, Plan, PlanId, PlanInput, PlanRules};
use yiwang_domain::mutual_aid::store::PlanRepository;
use yiwang_domain::org::{OrgKind, OrgName, Organisation};
use yiwang_domain::problem::FieldProblem;
use yiwang_domain::store::OrgRepository;
use yiwang_infra::db::Database;

use crate::auth::audit_change;
use crate::cli::{add_official, add_org, CliError};

/// One organisation of the demo tree: its parent's index in [`TREE`] (`None` for the root),
/// name, kind, whether it takes individual workers, and city.
type Node = (
    Option<usize>,
    &'static str,
    OrgKind,
    bool,
    Option<&'static str>,
);

/// The tree: 贵州 → 毕节 → 黔西 (the "活力工会" seed), 山西 → 晋城 (大病医疗互助), 山东 → 东营 →
/// 垦利 (云律团), each ending in a federation that takes new-employment-form workers; 河南 → 郑州,
/// owner of the real service-point file (`shared/data/real/zhengzhou_union_stations.csv`).
const TREE: [Node; 14] = [
    (
        None,
        "中华全国总工会",
        OrgKind::NationalFederation,
        false,
        None,
    ),
    (
        Some(0),
        "贵州省总工会",
        OrgKind::ProvincialFederation,
        false,
        Some("贵阳市"),
    ),
    (
        Some(1),
        "毕节市总工会",
        OrgKind::CityFederation,
        false,
        Some("毕节市"),
    ),
    (
        Some(2),
        "黔西市总工会",
        OrgKind::CountyFederation,
        false,
        Some("黔西市"),
    ),
    (
        Some(3),
        "黔西市新就业形态工会联合会",
        OrgKind::JointUnion,
        true,
        Some("黔西市"),
    ),
    (
        Some(0),
        "山西省总工会",
        OrgKind::ProvincialFederation,
        false,
        Some("太原市"),
    ),
    (
        Some(5),
        "晋城市总工会",
        OrgKind::CityFederation,
        false,
        Some("晋城市"),
    ),
    (
        Some(6),
        "晋城市新就业形态劳动者工会联合会",
        OrgKind::JointUnion,
        true,
        Some("晋城市"),
    ),
    (
        Some(0),
        "山东省总工会",
        OrgKind::ProvincialFederation,
        false,
        Some("济南市"),
    ),
    (
        Some(8),
        "东营市总工会",
        OrgKind::CityFederation,
        false,
        Some("东营市"),
    ),
    (
        Some(9),
        "垦利区总工会",
        OrgKind::CountyFederation,
        false,
        Some("东营市"),
    ),
    (
        Some(10),
        "垦利区快递行业工会联合会",
        OrgKind::IndustryFederation,
        true,
        Some("东营市"),
    ),
    (
        Some(0),
        "河南省总工会",
        OrgKind::ProvincialFederation,
        false,
        Some("郑州市"),
    ),
    (
        Some(12),
        "郑州市总工会",
        OrgKind::CityFederation,
        false,
        Some("郑州市"),
    ),
];

/// The demo officials: username, display name, role, index of their organisation in [`TREE`].
const OFFICIALS: [(&str, &str, Role, usize); 10] = [
    ("demo.root", "全总管理员", Role::SuperAdmin, 0),
    ("demo.qianxi", "黔西市总工会管理员", Role::OrgAdmin, 3),
    (
        "demo.qianxi.reviewer",
        "黔西新就业形态工会联合会审核员",
        Role::Reviewer,
        4,
    ),
    (
        "demo.jincheng.reviewer",
        "晋城市总工会审核员",
        Role::Reviewer,
        6,
    ),
    (
        "demo.jincheng.reviewer2",
        "晋城市总工会复核员",
        Role::Reviewer,
        6,
    ),
    (
        "demo.jincheng.finance",
        "晋城市总工会财务",
        Role::Finance,
        6,
    ),
    ("demo.jincheng", "晋城市总工会管理员", Role::OrgAdmin, 6),
    (
        "demo.station",
        "黔西服务站点管理员",
        Role::StationManager,
        3,
    ),
    (
        "demo.zhengzhou.station",
        "郑州市总工会服务阵地管理员",
        Role::StationManager,
        13,
    ),
    ("demo.auditor", "贵州省总工会审计", Role::Auditor, 1),
];

/// Index in [`TREE`] of 晋城市总工会, which runs the demo mutual-aid plan.
const JINCHENG: usize = 6;

/// 晋城's 大病医疗互助 for new-employment-form workers (DOMAIN.md; seed 晋城) for the plan year
/// of `today`: a 50-yuan fee; hospital costs from 9,000 yuan pay 300–30,000 yuan, chronic
/// disease costs from 5,000 yuan pay 300–10,000 yuan, with an invoice and a diagnosis
/// certificate. Assumed where the seeds are silent: a 50 % rate and no deductible; annual caps
/// of 60,000 and 20,000 yuan; a second review from 10,000 yuan; and, so the walkthrough works on
/// any day, enrolment open all year and no waiting period (the seed's window is the first
/// quarter).
pub fn jincheng_plan(today: NaiveDate) -> Result<PlanRules, Vec<FieldProblem>> {
    let year = today.year();
    let benefit = |kind: &str, threshold: i64, maximum: i64, cap: i64| BenefitInput {
        kind: Some(kind.into()),
        threshold_fen: Some(json!(threshold * 100)),
        deductible_fen: Some(json!(0)),
        rate_basis_points: Some(json!(5_000)),
        minimum_fen: Some(json!(300 * 100)),
        maximum_fen: Some(json!(maximum * 100)),
        annual_cap_fen: Some(json!(cap * 100)),
        required_documents: vec!["invoice".into(), "diagnosis_certificate".into()],
    };
    PlanInput {
        name: Some(format!(
            "{year} 年度晋城市新就业形态劳动者大病医疗互助（演示）"
        )),
        starts_on: Some(format!("{year}-01-01")),
        ends_on: Some(format!("{year}-12-31")),
        enrolment_opens_on: Some(format!("{year}-01-01")),
        enrolment_closes_on: Some(format!("{year}-12-31")),
        fee_fen: Some(json!(5_000)),
        employment_forms: Vec::new(),
        waiting_days: Some(json!(0)),
        second_review_from_fen: Some(json!(1_000_000)),
        benefits: vec![
            benefit("inpatient", 9_000, 30_000, 60_000),
            benefit("chronic", 5_000, 10_000, 20_000),
        ],
    }
    .validate()
}

fn random_password() -> String {
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Loads the demo tree and officials into an empty database and prints the credentials.
/// Refuses a database that already holds organisations, so it never mixes with real data.
pub async fn load(db: &Database) -> Result<(), CliError> {
    if db.any().await? {
        return Err(CliError::NotEmpty);
    }
    let mut orgs: Vec<Organisation> = Vec::with_capacity(TREE.len());
    for (parent, name, kind, accepts, city) in TREE {
        let name = OrgName::parse(name).map_err(CliError::OrgName)?;
        let parent = parent.and_then(|i| orgs.get(i));
        let org = add_org(db, parent, name, kind, accepts, city).await?;
        println!(
            "organisation  {}{}  {}{}",
            "  ".repeat(org.path.depth().saturating_sub(1)),
            org.name.as_str(),
            org.id,
            if org.accepts_individuals {
                "  (accepts individuals)"
            } else {
                ""
            }
        );
        orgs.push(org);
    }
    println!();
    println!("demo officials (password shown once; demo data only):");
    let mut plan_owner = None;
    for (username, display, role, org_index) in OFFICIALS {
        let org = orgs
            .get(org_index)
            .ok_or_else(|| CliError::NoSuchOrg(format!("#{org_index}")))?;
        let name = Username::parse(username).ok_or(CliError::Username)?;
        let password = random_password();
        let official = add_official(db, name, display.to_owned(), org, role, &password).await?;
        if org_index == JINCHENG && role == Role::OrgAdmin {
            plan_owner = Some(official.id);
        }
        println!(
            "  {username:<24} {password}  {:<16} {}",
            role.as_str(),
            org.name.as_str()
        );
    }
    let (Some(owner), Some(jincheng)) = (plan_owner, orgs.get(JINCHENG)) else {
        return Err(CliError::NoSuchOrg("晋城市总工会".into()));
    };
    let now = clock::now();
    let plan = Plan {
        id: PlanId::new(),
        org_id: jincheng.id,
        org_path: jincheng.path.clone(),
        rules: jincheng_plan(china_date(now)).map_err(CliError::DemoPlan)?,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let change = audit_change(
        Actor::System,
        "mutual_aid.plan.create",
        "mutual_aid_plan",
        plan.id,
        json!({ "org_id": jincheng.id, "name": plan.rules.name, "via": "demo" }),
        None,
    );
    db.create_plan(&plan, owner, &change).await?;
    println!();
    println!("mutual-aid plan  {}  {}", plan.rules.name, plan.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_demo_plan_is_valid_and_open_all_year() {
        for day in ["2026-01-01", "2026-11-21", "2026-12-31"] {
            let today: NaiveDate = day.parse().unwrap();
            let rules = jincheng_plan(today).unwrap();
            assert!(rules.enrolment_open_on(today), "{day}");
            assert_eq!(rules.waiting_days, 0);
            assert_eq!(rules.benefits[0].rate_basis_points, 5_000);
        }
    }
}
