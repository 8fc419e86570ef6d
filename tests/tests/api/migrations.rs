//! Migration hygiene (ARCHITECTURE.md item 9): up → down → up on both backends, and every
//! column of `schema.rs` readable with its declared type afterwards.

use diesel::prelude::*;
use yiwang_infra::db::schema::{
    audit_log, consultation_categories, consultation_messages, consultation_read_marks,
    consultations, early_warning_rule, employer_alerts, lawyer_specialties, lawyers,
    legal_aid_applications, mailbox_letters, members, membership_application_events,
    membership_applications, membership_history, membership_transfers, officials, organisations,
    outbox, workers,
};
use yiwang_infra::db::{connect_once, revert_all_migrations, run_migrations, DbConnection};
use yiwang_tests::{PgDatabase, Shape};

/// Selects every column of every table with the Rust types `schema.rs` declares: a column
/// missing from the migrations, or of another type, fails here.
fn schema_matches(c: &mut DbConnection) {
    organisations::table
        .select(organisations::all_columns)
        .limit(1)
        .load::<(
            String,
            Option<String>,
            String,
            String,
            bool,
            String,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            Option<String>,
            Option<String>,
            i64,
        )>(c)
        .unwrap();
    officials::table
        .select(officials::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            Option<chrono::NaiveDateTime>,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
        )>(c)
        .unwrap();
    workers::table
        .select(workers::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
        )>(c)
        .unwrap();
    audit_log::table
        .select(audit_log::all_columns)
        .limit(1)
        .load::<(
            String,
            chrono::NaiveDateTime,
            String,
            Option<String>,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
        )>(c)
        .unwrap();
    outbox::table
        .select(outbox::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
            i32,
        )>(c)
        .unwrap();
    membership_applications::table
        .select(membership_applications::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<chrono::NaiveDate>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
            String,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
        )>(c)
        .unwrap();
    membership_application_events::table
        .select(membership_application_events::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            chrono::NaiveDateTime,
        )>(c)
        .unwrap();
    members::table
        .select(members::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            chrono::NaiveDate,
            Option<chrono::NaiveDateTime>,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
        )>(c)
        .unwrap();
    membership_history::table
        .select(membership_history::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            Option<String>,
            chrono::NaiveDateTime,
        )>(c)
        .unwrap();
    membership_transfers::table
        .select(membership_transfers::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
            Option<String>,
            Option<String>,
        )>(c)
        .unwrap();
    consultation_categories::table
        .select(consultation_categories::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            i32,
            bool,
            i32,
            i32,
            i32,
            String,
            bool,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
        )>(c)
        .unwrap();
    lawyers::table
        .select(lawyers::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            String,
            String,
            i32,
            String,
            bool,
            i64,
            i64,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
        )>(c)
        .unwrap();
    lawyer_specialties::table
        .select(lawyer_specialties::all_columns)
        .limit(1)
        .load::<(String, String)>(c)
        .unwrap();
    type Time = chrono::NaiveDateTime;
    consultations::table
        .select(consultations::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<Time>,
            Option<String>,
            Option<Time>,
            Option<Time>,
            Option<Time>,
            Option<i64>,
            Option<Time>,
            Option<i32>,
            Option<String>,
            Option<Time>,
            Time,
            Time,
            Option<String>,
            Option<String>,
        )>(c)
        .unwrap();
    consultation_read_marks::table
        .select(consultation_read_marks::all_columns)
        .limit(1)
        .load::<(String, String, String, String, Time)>(c)
        .unwrap();
    early_warning_rule::table
        .select(early_warning_rule::all_columns)
        .load::<(i32, i32, i32, Time)>(c)
        .unwrap();
    employer_alerts::table
        .select(employer_alerts::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            String,
            i32,
            i32,
            i32,
            Time,
            Time,
            String,
            Option<String>,
            Option<Time>,
            Option<String>,
            Time,
        )>(c)
        .unwrap();
    consultation_messages::table
        .select(consultation_messages::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            Option<String>,
            String,
            bool,
            Option<String>,
            Time,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i32>,
        )>(c)
        .unwrap();
    legal_aid_applications::table
        .select(legal_aid_applications::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            String,
            String,
            Option<i64>,
            String,
            bool,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Time,
            Time,
        )>(c)
        .unwrap();
    mailbox_letters::table
        .select(mailbox_letters::all_columns)
        .limit(1)
        .load::<(
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            bool,
            bool,
            bool,
            String,
            Option<String>,
            Option<String>,
            Option<Time>,
            Time,
            Time,
        )>(c)
        .unwrap();
}

fn table_exists(c: &mut DbConnection) -> bool {
    organisations::table.count().get_result::<i64>(c).is_ok()
}

fn up_down_up(url: &str) {
    let mut c = connect_once(url).unwrap();
    run_migrations(&mut c).unwrap();
    schema_matches(&mut c);
    revert_all_migrations(&mut c).unwrap();
    assert!(!table_exists(&mut c), "down.sql left the tables behind");
    run_migrations(&mut c).unwrap();
    schema_matches(&mut c);
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
