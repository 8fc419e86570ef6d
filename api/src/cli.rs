//! The `yiwang` command line: `serve`, `migrate`, `admin create`, `import service-points`,
//! `demo`, `erase-expired`, `openapi`.

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::json;
use yiwang_domain::account::{password_problem, AccountId, Official, Role, Username};
use yiwang_domain::audit::{Actor, OutboxEvent};
use yiwang_domain::clock;
use yiwang_domain::org::{NameError, OrgId, OrgKind, OrgName, Organisation};
use yiwang_domain::problem::FieldProblem;
use yiwang_domain::store::{OfficialRepository, OrgRepository, OrgSearch, PageRequest, RepoError};

use crate::auth::audit_change;
use crate::config::Settings;
use crate::routes::service_points::admin::import::{run_import, ImportError, ImportOptions};
use yiwang_infra::db::Database;
use yiwang_infra::spreadsheet::SheetError;

use crate::startup::{open_database, Application, StartupError};
use crate::{openapi, telemetry};

/// yiwang (一网): backend of a trade union's WeChat mini-program.
///
/// Configuration: the defaults, then `yiwang.toml` in the working directory (or the file
/// `YIWANG_CONFIG` names) when present, then `YIWANG_*` environment variables, each over the
/// one before (every setting is in the README). With none at all, `serve` runs the embedded
/// default: SQLite under ./data, in-process sessions, and an emulated WeChat.
#[derive(Debug, Parser)]
#[command(name = "yiwang", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the HTTP server (migrates the database first).
    Serve,
    /// Creates or upgrades the database schema, then exits.
    Migrate,
    /// Manages officials' accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Imports records from a file.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Loads a demo organisation tree (贵州/毕节/黔西, 山西/晋城, 山东/东营/垦利) and demo
    /// officials into an empty database, printing their passwords. Demo data only.
    Demo,
    /// Erases personal data past its retention period once (the server also does it hourly)
    /// and prints how many records were erased.
    EraseExpired,
    /// Prints the OpenAPI document (YAML).
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Imports service points from a CSV (UTF-8 or GBK) or XLSX file, the same way as
    /// `POST /api/v1/admin/service-points/import`: every problem is reported by row and
    /// column, nothing is written when a row is bad (unless --skip-invalid), and importing the
    /// same file again changes nothing. Exits with status 1 when nothing could be imported.
    ServicePoints {
        /// The file.
        file: PathBuf,
        /// Owning organisation: id or exact name (default: the first root organisation).
        #[arg(long)]
        org: Option<String>,
        /// Check and report only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the good rows and leave the bad ones out.
        #[arg(long)]
        skip_invalid: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Creates an official; reads the password (12–128 characters) from standard input. When
    /// no organisation exists yet, creates the root organisation named by --org.
    Create {
        /// Login name (3–64 of A–Z a–z 0–9 . _ -).
        #[arg(long)]
        username: String,
        /// Organisation id or exact name; the root's name when the tree is empty.
        #[arg(long)]
        org: String,
        /// super_admin, org_admin, reviewer, finance, lawyer, station_manager or auditor.
        #[arg(long)]
        role: String,
        /// Name shown to others (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Kind of the root organisation if one is created (default city_federation).
        #[arg(long, default_value = "city_federation")]
        org_kind: String,
    },
}

/// Why a command failed; `main` prints it. Bilingual where the operator must act.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The store answered a failure; a refusal shows its Chinese and English text.
    #[error("{}", store_text(.0))]
    Store(#[from] RepoError),
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the password from standard input: {0}")]
    Stdin(std::io::Error),
    #[error("cannot write the OpenAPI document: {0}")]
    OpenApi(Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot hash the password: {0}")]
    Hash(yiwang_infra::password::HashError),
    #[error("用户名须为 3 到 64 个字母、数字或 . _ - (invalid --username)")]
    Username,
    #[error("--role 须为以下之一 (must be one of): {}", Role::ALL.map(Role::as_str).join(", "))]
    Role,
    #[error("{0}")]
    Password(String),
    #[error("invalid --org-kind")]
    OrgKind,
    #[error("invalid --org: {0}")]
    OrgName(NameError),
    #[error("找不到组织 `{0}` (no organisation with this id or name; create one first with `yiwang admin create`)")]
    NoSuchOrg(String),
    #[error("{} ({})", .0.zh(), .0)]
    ImportFile(SheetError),
    #[error("有问题的行未修正，未导入任何数据 (nothing imported; fix the rows above or pass --skip-invalid)")]
    NotImported,
    #[error("数据库中已有工会组织：演示数据只能载入空数据库 (the database already holds organisations; demo data loads only into an empty one)")]
    NotEmpty,
    #[error("demo plan: {0:?}")]
    DemoPlan(Vec<FieldProblem>),
}

fn store_text(e: &RepoError) -> String {
    match e {
        RepoError::Refused(r) => format!("{} ({})", r.zh, r.en),
        other => other.to_string(),
    }
}

/// Runs the command line; the error text is printed by `main`.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Openapi { output } => write_openapi(output),
        Command::Serve => serve().await,
        Command::Demo => {
            let settings = Settings::load()?;
            telemetry::init(settings.log_format);
            let db = open_database(&settings).await?;
            crate::demo::load(&db).await
        }
        Command::EraseExpired => {
            let settings = Settings::load()?;
            telemetry::init(settings.log_format);
            let db = open_database(&settings).await?;
            let n =
                crate::retention::erase_expired(&db, settings.personal_data_retention_days).await?;
            println!(
                "erased the personal data of {n} records older than {} days",
                settings.personal_data_retention_days
            );
            Ok(())
        }
        Command::Import {
            command:
                ImportCommand::ServicePoints {
                    file,
                    org,
                    dry_run,
                    skip_invalid,
                },
        } => {
            let settings = Settings::load()?;
            telemetry::init(settings.log_format);
            let options = ImportOptions {
                dry_run,
                skip_invalid,
            };
            import_service_points(&settings, &file, org.as_deref(), options).await
        }
        Command::Migrate => {
            let settings = Settings::load()?;
            telemetry::init(settings.log_format);
            open_database(&settings).await?;
            println!("database schema is up to date");
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    org,
                    role,
                    display_name,
                    org_kind,
                },
        } => {
            let settings = Settings::load()?;
            telemetry::init(settings.log_format);
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(CliError::Stdin)?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            create_official(
                &settings,
                &username,
                &org,
                &role,
                display_name,
                &org_kind,
                &password,
            )
            .await
        }
    }
}

/// `yiwang openapi`: the document to `output`, or to standard output.
fn write_openapi(output: Option<PathBuf>) -> Result<(), CliError> {
    let yaml = openapi::yaml().map_err(|e| CliError::OpenApi(Box::new(e)))?;
    match output {
        Some(path) => std::fs::write(&path, yaml).map_err(|source| CliError::File {
            action: "write",
            path,
            source,
        }),
        None => {
            print!("{yaml}");
            Ok(())
        }
    }
}

/// `yiwang serve`: builds the application, prints the start-up line and serves until stopped.
async fn serve() -> Result<(), CliError> {
    let settings = Settings::load()?;
    telemetry::init(settings.log_format);
    let app = Application::build(settings.clone()).await?;
    println!(
        "yiwang listening on http://{} ({})",
        settings
            .listen
            .rsplit_once(':')
            .map(|(h, _)| format!("{h}:{}", app.port()))
            .unwrap_or_else(|| settings.listen.clone()),
        app.description()
    );
    app.run_until_stopped()
        .await
        .map_err(|source| CliError::File {
            action: "serve on",
            path: PathBuf::from(&settings.listen),
            source,
        })
}

/// `yiwang import service-points`: reads `file`, imports it into `org` (id or name; default
/// the first root organisation) and prints the report.
pub async fn import_service_points(
    settings: &Settings,
    file: &std::path::Path,
    org: Option<&str>,
    options: ImportOptions,
) -> Result<(), CliError> {
    let bytes = std::fs::read(file).map_err(|source| CliError::File {
        action: "read",
        path: file.to_owned(),
        source,
    })?;
    let db = open_database(settings).await?;
    let found = match org {
        Some(org) => match OrgId::parse(org) {
            Some(id) => Some(OrgRepository::get(&db, id).await?),
            None => db.find_by_name(org).await?,
        },
        None => {
            let first = PageRequest {
                after: None,
                limit: 1,
            };
            db.search(&OrgSearch::default(), &first)
                .await?
                .items
                .into_iter()
                .next()
        }
    };
    let org = found.ok_or_else(|| CliError::NoSuchOrg(org.unwrap_or("").to_owned()))?;
    let change = audit_change(
        Actor::System,
        "service_point.import",
        "organisation",
        org.id,
        json!({}),
        Some(OutboxEvent {
            topic: "service_points.imported".into(),
            payload: json!({ "org_id": org.id, "via": "cli" }),
        }),
    );
    let result = run_import(&db, &org, &bytes, options, change).await;
    let report = match result {
        Ok(report) => report,
        Err(ImportError::Invalid(report)) => *report,
        Err(ImportError::File(e)) => return Err(CliError::ImportFile(e)),
        Err(ImportError::Repo(e)) => return Err(e.into()),
    };
    for p in &report.problems {
        let column = p.column.as_deref().unwrap_or("-");
        println!("第 {} 行 [{column}] {}: {}", p.row, p.code, p.detail);
    }
    for w in &report.warnings {
        let column = w.column.as_deref().unwrap_or("-");
        println!("提醒 第 {} 行 [{column}] {}: {}", w.row, w.code, w.detail);
    }
    if !report.ignored_columns.is_empty() {
        println!(
            "未使用的列 (ignored columns): {}",
            report.ignored_columns.join(", ")
        );
    }
    println!(
        "{}: {} rows read ({}), {} valid, {} with problems, {} warnings; created {}, updated {}, unchanged {}, skipped {} — organisation {} ({})",
        if report.dry_run {
            "dry run, nothing written; it would be"
        } else if report.imported {
            "imported"
        } else {
            "NOT imported"
        },
        report.rows_read,
        report.encoding,
        report.valid_rows,
        report.invalid_rows,
        report.warnings.len(),
        report.created,
        report.updated,
        report.unchanged,
        report.skipped,
        org.name.as_str(),
        org.id,
    );
    if report.dry_run || report.imported {
        Ok(())
    } else {
        Err(CliError::NotImported)
    }
}

/// Creates an official (and the root organisation when the tree is empty), as
/// `yiwang admin create` does.
pub async fn create_official(
    settings: &Settings,
    username: &str,
    org: &str,
    role: &str,
    display_name: Option<String>,
    org_kind: &str,
    password: &str,
) -> Result<(), CliError> {
    let username = Username::parse(username).ok_or(CliError::Username)?;
    let role = Role::parse(role).ok_or(CliError::Role)?;
    let name = display_name.clone().unwrap_or_default();
    if let Some(problem) = password_problem("password", password, &[username.as_str(), &name]) {
        return Err(CliError::Password(format!(
            "{} ({})",
            problem.zh, problem.en
        )));
    }
    let db = open_database(settings).await?;
    let found = match OrgId::parse(org) {
        Some(id) => Some(OrgRepository::get(&db, id).await?),
        None => db.find_by_name(org).await?,
    };
    let org = match found {
        Some(o) => o,
        None => {
            let name = org;
            if db.any().await? {
                return Err(CliError::NoSuchOrg(name.to_owned()));
            }
            let kind = OrgKind::parse(org_kind).ok_or(CliError::OrgKind)?;
            let name = OrgName::parse(name).map_err(CliError::OrgName)?;
            let root = add_org(&db, None, name, kind, false, None).await?;
            println!(
                "created root organisation {} ({})",
                root.name.as_str(),
                root.id
            );
            root
        }
    };
    let official = add_official(
        &db,
        username.clone(),
        display_name.unwrap_or_else(|| username.as_str().to_owned()),
        &org,
        role,
        password,
    )
    .await?;
    println!(
        "created official {} ({}) in {} ({})",
        official.username.as_str(),
        role.as_str(),
        org.name.as_str(),
        org.id
    );
    Ok(())
}

/// Stores a new official of `role` in `org` with an argon2id hash of `password`, writing the
/// audit row (actor: the command line).
pub async fn add_official(
    db: &Database,
    username: Username,
    display_name: String,
    org: &Organisation,
    role: Role,
    password: &str,
) -> Result<Official, CliError> {
    let hash = yiwang_infra::password::hash(password).map_err(CliError::Hash)?;
    let official = Official {
        id: AccountId::new(),
        display_name,
        username,
        org_id: org.id,
        org_path: org.path.clone(),
        role,
        disabled_at: None,
        password_change_required: false,
        created_at: clock::now(),
    };
    let change = audit_change(
        Actor::System,
        "official.create",
        "official",
        official.id,
        json!({ "username": official.username.as_str(), "role": role.as_str(), "via": "cli" }),
        Some(OutboxEvent {
            topic: "official.created".into(),
            payload: json!({ "id": official.id, "username": official.username.as_str() }),
        }),
    );
    OfficialRepository::create(db, &official, &hash, &change).await?;
    Ok(official)
}

/// Stores a new organisation — a root when `parent` is `None` — writing the audit row and
/// outbox event (actor: the command line).
pub async fn add_org(
    db: &Database,
    parent: Option<&Organisation>,
    name: OrgName,
    kind: OrgKind,
    accepts_individuals: bool,
    city: Option<&str>,
) -> Result<Organisation, CliError> {
    let now = clock::now();
    let mut org = match parent {
        Some(p) => p.new_child(name, kind, accepts_individuals, now),
        None => Organisation::new_root(name, kind, now),
    };
    org.city = city.map(str::to_owned);
    let change = audit_change(
        Actor::System,
        "organisation.create",
        "organisation",
        org.id,
        json!({ "parent_id": org.parent_id, "name": org.name.as_str(), "via": "cli" }),
        Some(OutboxEvent {
            topic: "organisation.created".into(),
            payload: json!({ "id": org.id, "parent_id": org.parent_id, "name": org.name.as_str() }),
        }),
    );
    OrgRepository::create(db, &org, &change).await?;
    Ok(org)
}
