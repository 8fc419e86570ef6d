//! `yiwang demo`: a realistic organisation tree drawn from the seeds (`shared/seeds/`, DOMAIN.md
//! "Facts from the seeds"), with one official per role that a walkthrough needs. The
//! officials' passwords are random and printed once: demo data only, never for production.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use yiwang_domain::account::{Role, Username};
use yiwang_domain::org::{OrgKind, OrgName, Organisation};
use yiwang_domain::repo::OrgRepository;
use yiwang_infra::db::Database;

use crate::cli::{add_official, add_org};

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
const OFFICIALS: [(&str, &str, Role, usize); 7] = [
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

fn random_password() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Loads the demo tree and officials into an empty database and prints the credentials.
/// Refuses a database that already holds organisations, so it never mixes with real data.
pub async fn load(db: &Database) -> Result<(), String> {
    if db.any().await.map_err(|e| e.to_string())? {
        return Err("数据库中已有工会组织：演示数据只能载入空数据库 (the database already holds organisations; demo data loads only into an empty one)".into());
    }
    let mut orgs: Vec<Organisation> = Vec::with_capacity(TREE.len());
    for (parent, name, kind, accepts, city) in TREE {
        let name = OrgName::parse(name).map_err(|e| format!("demo name {name}: {e}"))?;
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
    for (username, display, role, org_index) in OFFICIALS {
        let org = orgs
            .get(org_index)
            .ok_or_else(|| format!("demo official {username}: no organisation {org_index}"))?;
        let name = Username::parse(username).ok_or_else(|| format!("demo username {username}"))?;
        let password = random_password();
        add_official(db, name, display.to_owned(), org, role, &password).await?;
        println!(
            "  {username:<24} {password}  {:<16} {}",
            role.as_str(),
            org.name.as_str()
        );
    }
    Ok(())
}
