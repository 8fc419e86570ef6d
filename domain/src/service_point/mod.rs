//! Service points (服务阵地): outdoor workers' stations, truck drivers' homes, nursing rooms,
//! service centres and the other places where the union serves workers (DOMAIN.md "Service
//! points", issue #4). Everything here is pure:
//!
//! - [`kind`]: the kinds and the amenity vocabulary, with the names imports use;
//! - [`hours`]: opening hours read from text, and whether a point is open at a moment;
//! - [`geo`]: GCJ-02 points and great-circle distances.

pub mod geo;
pub mod hours;
pub mod kind;

pub use geo::{GeoError, GeoPoint};
pub use hours::{OpeningHours, Schedule};
pub use kind::{Amenity, ServicePointKind};
