//! Points on the map and distances between them.
//!
//! Coordinates are GCJ-02 (the datum of Chinese maps and of `wx.getLocation({type: 'gcj02'})`,
//! WECHAT.md), in decimal degrees. Distances are great-circle distances on a sphere of the
//! Earth's mean radius; GCJ-02's offset from WGS-84 is smooth over a few kilometres, so
//! distances between two GCJ-02 points are as good as between their WGS-84 originals.

use serde::{Deserialize, Serialize};

/// The Earth's mean radius in metres (IUGG: R₁ = 6,371,008.8 m).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A GCJ-02 point: latitude in [-90, 90], longitude in [-180, 180], degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lng: f64,
}

/// Which coordinate is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GeoError {
    /// Latitude not a number in [-90, 90].
    #[error("latitude must be between -90 and 90")]
    Latitude,
    /// Longitude not a number in [-180, 180].
    #[error("longitude must be between -180 and 180")]
    Longitude,
}

impl GeoError {
    /// The request field at fault: `lat` or `lng`.
    pub fn field(self) -> &'static str {
        match self {
            Self::Latitude => "lat",
            Self::Longitude => "lng",
        }
    }

    /// The user-facing message.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Latitude => "纬度须在 -90 到 90 之间",
            Self::Longitude => "经度须在 -180 到 180 之间",
        }
    }
}

impl GeoPoint {
    /// A checked point; NaN and infinities are refused with the range errors.
    pub fn new(lat: f64, lng: f64) -> Result<GeoPoint, GeoError> {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(GeoError::Latitude);
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(GeoError::Longitude);
        }
        Ok(GeoPoint { lat, lng })
    }

    /// A checked point, naming every coordinate out of range (latitude first).
    pub fn check(lat: f64, lng: f64) -> Result<GeoPoint, Vec<GeoError>> {
        let errors: Vec<GeoError> = [GeoPoint::new(lat, 0.0).err(), GeoPoint::new(0.0, lng).err()]
            .into_iter()
            .flatten()
            .collect();
        if errors.is_empty() {
            Ok(GeoPoint { lat, lng })
        } else {
            Err(errors)
        }
    }

    /// Great-circle distance to `other` in metres (haversine formula).
    pub fn distance_m(self, other: GeoPoint) -> f64 {
        let (phi1, phi2) = (self.lat.to_radians(), other.lat.to_radians());
        let d_phi = phi2 - phi1;
        let d_lambda = (other.lng - self.lng).to_radians();
        let h =
            (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked_including_nan() {
        assert!(GeoPoint::new(34.75, 113.62).is_ok());
        assert!(GeoPoint::new(90.0, 180.0).is_ok());
        assert!(GeoPoint::new(-90.0, -180.0).is_ok());
        assert_eq!(GeoPoint::new(90.01, 0.0), Err(GeoError::Latitude));
        assert_eq!(GeoPoint::new(0.0, -180.5), Err(GeoError::Longitude));
        assert_eq!(GeoPoint::new(f64::NAN, 0.0), Err(GeoError::Latitude));
        assert_eq!(GeoPoint::new(0.0, f64::INFINITY), Err(GeoError::Longitude));
        assert_eq!(GeoError::Longitude.field(), "lng");
    }

    #[test]
    fn known_distances() {
        let p = |lat, lng| GeoPoint::new(lat, lng).unwrap();
        // One degree of latitude is about 111.2 km on the mean sphere.
        let one_degree = p(34.0, 113.0).distance_m(p(35.0, 113.0));
        assert!((one_degree - 111_195.0).abs() < 1.0, "{one_degree}");
        assert_eq!(p(34.7, 113.6).distance_m(p(34.7, 113.6)), 0.0);
        // 郑州东站 to 郑州站: about 10.6 km.
        let d = p(34.7571, 113.7783).distance_m(p(34.7456, 113.6588));
        assert!((10_000.0..11_500.0).contains(&d), "{d}");
        // Antipodes: half the circumference, without NaN from rounding.
        let half = p(0.0, 0.0).distance_m(p(0.0, 180.0));
        assert!((half - std::f64::consts::PI * EARTH_RADIUS_M).abs() < 1.0);
    }
}
