//! Service points (服务阵地): outdoor workers' stations, truck drivers' homes, nursing rooms,
//! service centres and the other places where the union serves workers (DOMAIN.md "Service
//! points", issue #4). Everything here is pure:
//!
//! - [`kind`]: the kinds and the amenity vocabulary, with the names imports use;
//! - [`hours`]: opening hours read from text, and whether a point is open at a moment;
//! - [`geo`]: GCJ-02 points and great-circle distances;
//! - [`point`]: the record and the one validation every way of writing it goes through;
//! - [`import`]: spreadsheet rows into records, every problem named by row and column;
//! - [`store`]: the catalogue port and the nearest-point index port.

pub mod geo;
pub mod hours;
pub mod import;
pub mod kind;
pub mod point;
pub mod store;

pub use geo::{GeoError, GeoPoint};
pub use hours::{OpeningHours, Schedule};
pub use kind::{Amenity, ServicePointKind};
pub use point::{
    DraftInput, QualityFlag, ServicePoint, ServicePointDraft, ServicePointId, ServicePointStatus,
};
