//! Snapshots of what a worker or an official reads: [`assert_view`] keeps each answer in
//! `tests/tests/api/snapshots/<name>.snap` (reviewed like code) and fails when a field
//! appears, disappears, is renamed or changes its value or shape.
//!
//! What differs from run to run is redacted by insta filters on the snapshot text — ids
//! (UUIDs), times (RFC 3339), dates, signed tokens, organisation codes (and so member numbers)
//! and paging cursors — wherever it sits: a field, an element of a list or the middle of a
//! URL. (Filters rather than per-field redactions: one list covers every view, and they catch
//! an id inside a link or a list of ids, which a field selector misses.) Both backends compare against the same
//! file, so the snapshot also proves SQLite and PostgreSQL answer alike.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

/// What changes between runs, and what it is shown as.
const FILTERS: [(&str, &str); 10] = [
    (
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    ),
    (
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "[time]",
    ),
    (r"\b\d{4}-\d{2}-\d{2}\b", "[date]"),
    (
        r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
        "[token]",
    ),
    // Organisation codes are random; a member number is `{organisation code}-{sequence}`.
    (r#""code": "[0-9A-F]{8}""#, r#""code": "[org code]""#),
    (r"\b[0-9A-F]{8}-(\d{6})\b", "[org code]-$1"),
    (r#""next_cursor": "[^"]+""#, r#""next_cursor": "[cursor]""#),
    // A plan year is the current one: "2026 年度…".
    (r"\b20\d{2} 年度", "[year] 年度"),
    // Waiting, time left and opening hours depend on when the suite runs.
    (
        r#""(waited_working_days|[a-z_]+_left_seconds)": \d+"#,
        r#""$1": "[n]""#,
    ),
    (r#""open_now": (true|false)"#, r#""open_now": "[now]""#),
];

/// Asserts `view` against the snapshot `name`, with ids, times, dates and tokens redacted.
pub fn assert_view(name: &str, view: &Value) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for (pattern, replacement) in FILTERS {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(|| insta::assert_json_snapshot!(name, view));
}

/// `items` ordered by the string field `key`, for a listing whose order is by id (random).
pub fn sorted_by(items: &[Value], key: &str) -> Vec<Value> {
    let mut sorted = items.to_vec();
    sorted.sort_by(|a, b| a[key].as_str().cmp(&b[key].as_str()));
    sorted
}
