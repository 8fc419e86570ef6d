//! The time every record is stamped with.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, in UTC, to the microsecond: the precision PostgreSQL keeps, so a value answered at
/// creation equals every later read of the stored row (on SQLite too).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
