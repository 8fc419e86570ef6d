//! Officials' password hashes: argon2id with the `argon2` crate's defaults (RFC 9106 second
//! recommended option: m = 19 MiB, t = 2, p = 1), stored as PHC strings.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

/// Why hashing or checking failed (not a wrong password, which is `Ok(false)`).
pub use argon2::password_hash::Error as HashError;

/// Hashes a password into a PHC string (`$argon2id$v=19$…`). Errs only on a password
/// beyond argon2's length limit (2^32 − 1 bytes).
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

/// Checks a password against a stored PHC string. A stored string that does not parse is an
/// error, not a mismatch (a corrupt hash must not read as "wrong password").
pub fn verify(password: &str, stored: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(stored)?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(HashError::Password) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A hash to verify against when the username is unknown, so that an unknown user costs the
/// same time as a wrong password. Made once per process.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("yiwang-unknown-user").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mismatch() {
        let h = hash("correct horse battery").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify("correct horse battery", &h), Ok(true));
        assert_eq!(verify("wrong horse battery", &h), Ok(false));
        assert!(verify("x", "not a hash").is_err());
        assert!(PasswordHash::new(dummy_hash()).is_ok());
    }
}
