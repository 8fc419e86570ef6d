//! Deterministic identifiers, base64 and random strings.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Standard base64 with padding (the `session_key` format).
pub(crate) fn base64_standard(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn sha256(input: &str) -> [u8; 32] {
    Sha256::digest(input.as_bytes()).into()
}

/// `prefix` followed by the first 27 base64url characters of sha256(`salt` + `name`).
fn derived_id(prefix: char, salt: &str, name: &str) -> String {
    let digest = sha256(&format!("{salt}{name}"));
    let mut id = String::with_capacity(28);
    id.push(prefix);
    id.extend(URL_SAFE_NO_PAD.encode(digest).chars().take(27));
    id
}

/// The openid the emulator gives user `user` (the part of a `js_code` before its first `.`):
/// `o` followed by the first 27 base64url characters of sha256(`"openid:" + user`), 28 characters
/// in all, like real openids.
pub fn openid_for(user: &str) -> String {
    derived_id('o', "openid:", user)
}

/// The unionid the emulator gives user `user` when the name starts with `u_`: `u` followed by
/// the first 27 base64url characters of sha256(`"unionid:" + user`).
pub fn unionid_for(user: &str) -> String {
    derived_id('u', "unionid:", user)
}

/// The mobile number getuserphonenumber answers for a `code` that does not name one: 11 digits,
/// `1`, then a digit from 3 to 9, then nine digits, all derived from sha256(`"phone:" + code`).
pub fn phone_for_code(code: &str) -> String {
    let digest = sha256(&format!("phone:{code}"));
    let mut number = String::with_capacity(11);
    number.push('1');
    number.push(char::from(b'3' + digest[0] % 7));
    for byte in &digest[1..10] {
        number.push(char::from(b'0' + byte % 10));
    }
    number
}

/// `len` random characters of `[A-Za-z0-9_-]`.
pub(crate) fn random_token(len: usize) -> String {
    (0..len)
        .map(|_| char::from(URL_SAFE[rand::random_range(0..URL_SAFE.len())]))
        .collect()
}

/// `len` random lowercase hexadecimal digits.
pub(crate) fn random_hex(len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..len)
        .map(|_| char::from(HEX[rand::random_range(0..HEX.len())]))
        .collect()
}

/// Base64 of 16 random bytes, like a real `session_key`.
pub(crate) fn random_session_key() -> String {
    let bytes: [u8; 16] = rand::random();
    base64_standard(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_shaped_like_wechat_ones() {
        let openid = openid_for("alice");
        assert_eq!(openid, openid_for("alice"));
        assert_ne!(openid, openid_for("bob"));
        assert_eq!(openid.len(), 28);
        assert!(openid.starts_with('o'));
        let unionid = unionid_for("u_alice");
        assert_eq!(unionid.len(), 28);
        assert!(unionid.starts_with('u'));
    }

    #[test]
    fn derived_phone_numbers_look_like_mobiles() {
        for code in ["a", "b", "some-code", ""] {
            let number = phone_for_code(code);
            assert_eq!(number.len(), 11);
            assert!(number.starts_with('1'));
            assert!(number.chars().all(|c| c.is_ascii_digit()));
            assert_eq!(number, phone_for_code(code));
        }
    }

    #[test]
    fn random_strings_have_the_asked_length() {
        assert_eq!(random_token(136).len(), 136);
        assert_eq!(random_hex(8).len(), 8);
        assert_eq!(random_session_key().len(), 24);
    }
}
