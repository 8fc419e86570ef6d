//! The officials' API under `/api/v1/admin`. Every handler calls
//! [`Admin::authorize`](crate::auth::Admin::authorize) before it reads or changes a record.

pub mod consultation_categories;
pub mod consultations;
pub mod early_warnings;
pub mod lawyers;
pub mod legal_aid;
pub mod mailbox;
pub mod membership;
pub mod mutual_aid;
pub mod officials;
pub mod orgs;
pub mod service_points;
pub mod spreadsheet;
