//! Keyset pages (ARCHITECTURE.md item 17): each listing reads its cursor with [`after`] and
//! builds the next one with [`page`], from the same key type its `ORDER BY` sorts by, so the
//! key a cursor carries and the order the rows come in cannot drift apart. A cursor the
//! listing did not hand out is refused ([`PageRequest::invalid_cursor`]).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use uuid::Uuid;
use yiwang_domain::store::{Page, PageRequest, RepoError};

/// A position in a listing's order: what the next page's cursor says.
pub(crate) trait Key: Sized {
    /// The cursor text.
    fn write(&self) -> String;
    /// The position a cursor names; `None` when it is not one of this kind.
    fn read(cursor: &str) -> Option<Self>;
}

/// Rows ordered by a time, then id: `{at}|{id}` (UTC, microseconds).
pub(crate) struct TimeKey {
    pub(crate) at: NaiveDateTime,
    pub(crate) id: String,
}

impl TimeKey {
    pub(crate) fn new(at: DateTime<Utc>, id: impl std::fmt::Display) -> Self {
        Self {
            at: at.naive_utc(),
            id: id.to_string(),
        }
    }
}

impl Key for TimeKey {
    fn write(&self) -> String {
        format!("{}|{}", self.at.format("%Y-%m-%dT%H:%M:%S%.6f"), self.id)
    }

    fn read(cursor: &str) -> Option<Self> {
        let (at, id) = cursor.split_once('|')?;
        Some(Self {
            at: NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S%.f").ok()?,
            id: Uuid::parse_str(id).ok()?.to_string(),
        })
    }
}

/// Rows ordered by a day, then id: `{YYYY-MM-DD}|{id}`.
pub(crate) struct DayKey {
    pub(crate) day: NaiveDate,
    pub(crate) id: String,
}

impl DayKey {
    pub(crate) fn new(day: NaiveDate, id: impl std::fmt::Display) -> Self {
        Self {
            day,
            id: id.to_string(),
        }
    }
}

impl Key for DayKey {
    fn write(&self) -> String {
        format!("{}|{}", self.day, self.id)
    }

    fn read(cursor: &str) -> Option<Self> {
        let (day, id) = cursor.split_once('|')?;
        Some(Self {
            day: NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?,
            id: Uuid::parse_str(id).ok()?.to_string(),
        })
    }
}

/// Rows ordered by their id (a UUID).
#[derive(Debug)]
pub(crate) struct IdKey(pub(crate) String);

impl Key for IdKey {
    fn write(&self) -> String {
        self.0.clone()
    }

    fn read(cursor: &str) -> Option<Self> {
        Some(Self(Uuid::parse_str(cursor).ok()?.to_string()))
    }
}

/// Organisations in tree order: the materialised path, `/…/`.
pub(crate) struct PathKey(pub(crate) String);

impl Key for PathKey {
    fn write(&self) -> String {
        self.0.clone()
    }

    fn read(cursor: &str) -> Option<Self> {
        (cursor.len() > 1 && cursor.starts_with('/') && cursor.ends_with('/'))
            .then(|| Self(cursor.to_owned()))
    }
}

/// Rows ordered by a text of their own that is unique (a member number).
pub(crate) struct TextKey(pub(crate) String);

impl Key for TextKey {
    fn write(&self) -> String {
        self.0.clone()
    }

    fn read(cursor: &str) -> Option<Self> {
        (!cursor.is_empty()).then(|| Self(cursor.to_owned()))
    }
}

/// Lawyers on duty first, then by id: `{0 on duty | 1 off}|{id}`.
pub(crate) struct DutyKey {
    pub(crate) off_duty: bool,
    pub(crate) id: String,
}

impl Key for DutyKey {
    fn write(&self) -> String {
        format!("{}|{}", u8::from(self.off_duty), self.id)
    }

    fn read(cursor: &str) -> Option<Self> {
        let (duty, id) = cursor.split_once('|')?;
        let off_duty = match duty {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        Some(Self {
            off_duty,
            id: Uuid::parse_str(id).ok()?.to_string(),
        })
    }
}

/// Where the requested page starts: `None` at the beginning of the listing, else the position
/// its cursor names; a cursor that is not a `K` is refused.
pub(crate) fn start_after<K: Key>(request: &PageRequest) -> Result<Option<K>, RepoError> {
    match request.after.as_deref() {
        None => Ok(None),
        Some(cursor) => K::read(cursor)
            .map(Some)
            .ok_or_else(|| RepoError::Refused(PageRequest::invalid_cursor())),
    }
}

/// `rows` (at most `request.limit`, in the listing's order) as a page: when it is full, the
/// next cursor is the last row's `key`.
pub(crate) fn page_of<T, K: Key>(
    rows: Vec<T>,
    request: &PageRequest,
    key: impl Fn(&T) -> K,
) -> Page<T> {
    let full = u32::try_from(rows.len()).unwrap_or(u32::MAX) >= request.limit;
    let next = match (full, rows.last()) {
        (true, Some(last)) => Some(key(last).write()),
        _ => None,
    };
    Page { items: rows, next }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_back_what_it_wrote_and_nothing_else() {
        let id = Uuid::new_v4();
        let at = DateTime::parse_from_rfc3339("2026-12-03T10:24:42.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let written = TimeKey::new(at, id).write();
        let read = TimeKey::read(&written).unwrap();
        assert_eq!((read.at, read.id), (at.naive_utc(), id.to_string()));
        for bad in [
            "",
            "|",
            "2026-12-03|x",
            "yesterday|00000000-0000-0000-0000-000000000000",
        ] {
            assert!(TimeKey::read(bad).is_none(), "{bad}");
        }
        assert!(DutyKey::read(&format!("2|{id}")).is_none());
        assert!(PathKey::read("/").is_none());
        assert!(IdKey::read("1|2").is_none());
    }

    #[test]
    fn only_a_full_page_has_a_next_cursor_and_a_foreign_cursor_is_refused() {
        let request = PageRequest {
            after: None,
            limit: 2,
        };
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        let full = page_of(ids.to_vec(), &request, |id| IdKey(id.to_string()));
        assert_eq!(full.next, Some(ids[1].to_string()));
        let short = page_of(ids[..1].to_vec(), &request, |id| IdKey(id.to_string()));
        assert_eq!(short.next, None);
        let foreign = PageRequest {
            after: Some("/a/".into()),
            limit: 2,
        };
        let refused = start_after::<IdKey>(&foreign).unwrap_err();
        assert!(
            matches!(&refused, RepoError::Refused(r) if r.fields.iter().any(|f| f.field == "cursor")),
            "{refused:?}"
        );
    }
}
