//! Migration hygiene (ARCHITECTURE.md item 9): up → down → up on both backends. Every table
//! and column `schema.rs` declares — read from the file itself, so a table added there is
//! checked without touching this test — exists after the migrations with its nullability
//! (and on PostgreSQL its type), and after reverting them no table is left.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use yiwang_infra::db::{connect_once, revert_all_migrations, run_migrations, DbConnection};
use yiwang_tests::{PgDatabase, Shape};

/// The diesel schema the store is written against.
const SCHEMA_RS: &str = include_str!("../../../infra/src/db/schema.rs");

/// A column as `schema.rs` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    sql_type: String,
    nullable: bool,
}

/// A table as `schema.rs` declares it.
#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<Column>,
}

/// Every `diesel::table!` of `schema.rs`, with its columns (`name -> Type` or
/// `name -> Nullable<Type>`).
fn declared_tables() -> Vec<Table> {
    let mut tables = Vec::new();
    let mut lines = SCHEMA_RS.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != "diesel::table! {" {
            continue;
        }
        let header = lines.next().unwrap();
        let name = header.split_whitespace().next().unwrap().to_owned();
        let mut columns = Vec::new();
        for line in lines.by_ref() {
            if line == "}" {
                break;
            }
            let Some((column, ty)) = line.trim_end_matches(',').split_once(" -> ") else {
                continue;
            };
            let (sql_type, nullable) = match ty.strip_prefix("Nullable<") {
                Some(inner) => (inner.trim_end_matches('>'), true),
                None => (ty, false),
            };
            columns.push(Column {
                name: column.to_owned(),
                sql_type: sql_type.to_owned(),
                nullable,
            });
        }
        tables.push(Table { name, columns });
    }
    tables
}

#[derive(QueryableByName)]
struct Described {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    sql_type: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

/// The columns the database has for `table` (none when the table does not exist): the name,
/// the declared type, lower-cased, and whether it takes NULL.
fn columns_of(c: &mut DbConnection, table: &str) -> Vec<Column> {
    let described: Vec<Described> = match c {
        DbConnection::Pg(pg) => diesel::sql_query(
            "SELECT column_name AS name, data_type AS sql_type, \
             CASE is_nullable WHEN 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind::<Text, _>(table)
        .load(pg)
        .unwrap(),
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "SELECT name, lower(type) AS sql_type, \
             CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 1 ELSE 0 END AS nullable \
             FROM pragma_table_info(?)",
        )
        .bind::<Text, _>(table)
        .load(lite)
        .unwrap(),
    };
    described
        .into_iter()
        .map(|d| Column {
            name: d.name,
            sql_type: d.sql_type.to_lowercase(),
            nullable: d.nullable == 1,
        })
        .collect()
}

/// PostgreSQL's `data_type` for a diesel SQL type.
fn pg_type(diesel_type: &str) -> &'static str {
    match diesel_type {
        "Text" => "text",
        "Bool" => "boolean",
        "Timestamp" => "timestamp without time zone",
        "Date" => "date",
        "BigInt" => "bigint",
        "Integer" => "integer",
        "SmallInt" => "smallint",
        "Double" => "double precision",
        other => panic!("schema.rs uses {other}; teach this test its PostgreSQL name"),
    }
}

/// Every declared table exists with exactly its declared columns, each as nullable as
/// declared, and on PostgreSQL of the declared type: a column missing from the migrations,
/// left over, or of another type fails here, naming it.
fn schema_matches(c: &mut DbConnection, tables: &[Table]) {
    let pg = matches!(c, DbConnection::Pg(_));
    assert!(
        tables.len() >= 30,
        "schema.rs read as {} tables",
        tables.len()
    );
    for table in tables {
        let mut found = columns_of(c, &table.name);
        assert!(!found.is_empty(), "table {} is missing", table.name);
        found.sort_by(|a, b| a.name.cmp(&b.name));
        let mut declared = table.columns.clone();
        declared.sort_by(|a, b| a.name.cmp(&b.name));
        let names = |cols: &[Column]| cols.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&found), names(&declared), "columns of {}", table.name);
        for (have, want) in found.iter().zip(&declared) {
            assert_eq!(
                have.nullable, want.nullable,
                "nullability of {}.{}",
                table.name, want.name
            );
            if pg {
                assert_eq!(
                    have.sql_type,
                    pg_type(&want.sql_type),
                    "type of {}.{}",
                    table.name,
                    want.name
                );
            }
        }
    }
}

fn up_down_up(url: &str) {
    let tables = declared_tables();
    let mut c = connect_once(url).unwrap();
    run_migrations(&mut c).unwrap();
    schema_matches(&mut c, &tables);
    revert_all_migrations(&mut c).unwrap();
    let left: Vec<&str> = tables
        .iter()
        .map(|t| t.name.as_str())
        .filter(|name| !columns_of(&mut c, name).is_empty())
        .collect();
    assert!(
        left.is_empty(),
        "down.sql left these tables behind: {left:?}"
    );
    run_migrations(&mut c).unwrap();
    schema_matches(&mut c, &tables);
}

async fn migrations_run_up_down_up(shape: Shape) {
    tokio::task::spawn_blocking(move || match shape {
        Shape::Embedded => {
            let dir = tempfile::tempdir().unwrap();
            up_down_up(&format!("sqlite://{}", dir.path().join("m.db").display()));
        }
        Shape::Production => {
            let db = PgDatabase::create();
            up_down_up(&db.url);
        }
    })
    .await
    .unwrap();
}

yiwang_tests::both_shapes!(migrations_run_up_down_up);

#[test]
fn unknown_database_schemes_are_refused() {
    for url in [
        "mysql://root@localhost/x",
        "sqlite:relative.db",
        "file:///tmp/x.db",
        "",
    ] {
        let err = connect_once(url)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("postgres://"), "{url:?} → {err}");
    }
}
