//! Encryption at rest for personal data: resident ID numbers (居民身份证号码) and other fields
//! that PIPL (《个人信息保护法》) treats as sensitive personal information, so that a copy of the
//! database alone does not disclose them (`shared/design/DOMAIN.md`, "Rules that hold
//! everywhere").
//!
//! Each value is stored as two columns: the key id ([`Sealed::kid`]) and the AES-256-GCM
//! ciphertext ([`Sealed::ciphertext`]). The column's name is bound as associated data (the
//! `context`), so a ciphertext copied into another column does not decrypt. Next to them sits a
//! blind index ([`PersonalDataKeys::blind_index`]), an HMAC-SHA256 of the plaintext, which
//! lets the store enforce uniqueness and look a value up without decrypting anything.
//!
//! Bytes, such as uploaded claim documents ([`crate::documents`]), are sealed the same way by
//! [`PersonalDataKeys::seal_bytes`], minus the base64; the string form is built on it.
//!
//! Key rotation: add a new kid to the keyring and make it active. New rows are sealed under
//! it; old kids stay in the keyring so the rows sealed under them still open (and can be
//! re-sealed at leisure). A kid is only removed once no row refers to it. The blind-index key
//! never rotates: changing it would make every stored index unfindable.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::key_file;

/// Length of an AES-256 key, in bytes.
const KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce (96 bits), in bytes.
const NONCE_LEN: usize = 12;
/// Length of an AES-GCM authentication tag, in bytes.
const TAG_LEN: usize = 16;
/// Minimum length of the blind-index HMAC key, in bytes.
const MIN_INDEX_KEY_LEN: usize = 32;
/// Longest accepted key id.
const MAX_KID_LEN: usize = 16;
/// Key id of the key made by [`PersonalDataKeys::load_or_generate`].
const GENERATED_KID: &str = "local1";

type HmacSha256 = Hmac<Sha256>;

/// A sealed value as stored: the id of the key it was sealed under and the base64 (standard
/// alphabet, padded, no line breaks) of `nonce (12 bytes) || ciphertext || tag (16 bytes)`.
/// Store both; [`PersonalDataKeys::open`] needs the kid to pick the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Key id (1–16 characters of `[A-Za-z0-9_-]`) of the key that sealed the value.
    pub kid: String,
    /// Base64 of nonce || AES-256-GCM ciphertext || tag.
    pub ciphertext: String,
}

/// Bytes sealed by [`PersonalDataKeys::seal_bytes`]: the id of the key they were sealed under
/// and the raw `nonce (12 bytes) || ciphertext || tag (16 bytes)`. Keep both;
/// [`PersonalDataKeys::open_bytes`] needs the kid to pick the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBytes {
    /// Key id (1–16 characters of `[A-Za-z0-9_-]`) of the key that sealed the bytes.
    pub kid: String,
    /// Nonce || AES-256-GCM ciphertext || tag; 28 bytes longer than the plaintext.
    pub bytes: Vec<u8>,
}

/// Why a value could not be sealed or a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalDataError {
    /// The value was sealed under a key id that is not in the keyring (a retired key was
    /// removed too early, or the configuration is missing a key).
    #[error("未知的个人信息加密密钥 / unknown personal-data key id '{0}'")]
    UnknownKey(String),
    /// Authentication failed: the ciphertext, nonce, tag or context does not match what was
    /// sealed (tampering, a value copied from another column, or a wrong key under that kid).
    #[error("个人信息密文校验失败 / personal-data ciphertext failed authentication")]
    Tampered,
    /// The stored text is not base64, too short to hold a nonce and tag, or (after a successful
    /// decryption) not UTF-8.
    #[error("个人信息密文格式错误 / personal-data ciphertext is malformed")]
    Malformed,
    /// The plaintext exceeds AES-GCM's limit of about 64 GiB and cannot be sealed.
    #[error("个人信息明文过长 / personal data too long to encrypt")]
    TooLong,
}

/// The keyring for personal data: AES-256-GCM keys by key id (kid), one of them active for new
/// encryptions, plus the HMAC-SHA256 key of the blind index.
///
/// Why: PIPL requires sensitive personal information such as resident ID numbers to be
/// protected by encryption (`shared/design/DOMAIN.md`, "Rules that hold everywhere").
///
/// Rotation: configure a new kid next to the old ones and make it active; the old kids stay to
/// decrypt old rows. The index key must never change, as that would break every lookup and
/// uniqueness check on the stored blind indexes.
///
/// `Debug` prints only the kids, never key material.
#[derive(Clone)]
pub struct PersonalDataKeys {
    /// The keys in configuration order; kids are unique.
    keys: Vec<(String, Aes256Gcm)>,
    /// Index into `keys` of the key used by [`PersonalDataKeys::seal`].
    active: usize,
    /// HMAC-SHA256 keyed with the index key, cloned for each use.
    index: HmacSha256,
}

impl fmt::Debug for PersonalDataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonalDataKeys")
            .field(
                "kids",
                &self
                    .keys
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("active", &self.active_kid())
            .finish_non_exhaustive()
    }
}

/// Why a keyring cannot be built. Bilingual (Chinese / English) like every start-up error,
/// and never holding key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// Entry `n` (from 1) of the key list is not `kid:BASE64KEY`.
    #[error("个人信息加密密钥格式错误 / personal-data key entry {0} must be kid:BASE64KEY")]
    Entry(usize),
    #[error(
        "个人信息加密密钥标识格式错误 / personal-data key id '{0}' must be 1–{MAX_KID_LEN} characters of [A-Za-z0-9_-]"
    )]
    Kid(String),
    #[error("个人信息加密密钥标识重复 / personal-data key id '{0}' is listed twice")]
    KidTwice(String),
    #[error(
        "个人信息加密密钥格式错误 / personal-data key '{0}' must be {KEY_LEN} bytes of base64"
    )]
    Key(String),
    #[error(
        "未配置个人信息加密密钥 / no personal-data key configured (expected kid:BASE64KEY[,…])"
    )]
    NoKey,
    #[error(
        "个人信息加密密钥配置错误 / active personal-data key id '{0}' is not among the configured keys"
    )]
    UnknownActive(String),
    #[error(
        "个人信息索引密钥格式错误 / personal-data index key must be at least {MIN_INDEX_KEY_LEN} bytes of base64"
    )]
    IndexKey,
    /// Line `n` (from 1) of the key file is not `keys=`, `index=` or `active=`.
    #[error(
        "个人信息密钥文件格式错误 / personal-data key file line {0} must be keys=…, index=… or active=…"
    )]
    FileLine(usize),
    /// The key file has no line of this name.
    #[error("个人信息密钥文件缺少 {0} 行 / personal-data key file has no {0}= line")]
    FileMissing(&'static str),
    #[error("{source} (in {})", path.display())]
    InFile {
        path: PathBuf,
        source: Box<KeyringError>,
    },
    #[error(transparent)]
    File(#[from] key_file::FileError),
}

impl PersonalDataKeys {
    /// Builds the keyring from configuration.
    ///
    /// - `keys`: comma-separated `kid:BASE64KEY` entries, e.g. `k1:…,k2:…`; each kid is 1–16
    ///   characters of `[A-Za-z0-9_-]` and unique, each key is 32 bytes in standard base64.
    /// - `active`: the kid used for new encryptions; `None` (or empty) means the last listed.
    /// - `index_key`: standard base64 of at least 32 bytes, the blind-index HMAC key. It must
    ///   never change once rows are stored.
    ///
    /// Errors are bilingual (Chinese / English) and never contain key material.
    pub fn from_config(
        keys: &str,
        active: Option<&str>,
        index_key: &str,
    ) -> Result<Self, KeyringError> {
        let mut ring: Vec<(String, Aes256Gcm)> = Vec::new();
        for (i, entry) in keys.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some((kid, key_b64)) = entry.split_once(':') else {
                return Err(KeyringError::Entry(i + 1));
            };
            let kid = kid.trim();
            check_kid(kid)?;
            if ring.iter().any(|(k, _)| k == kid) {
                return Err(KeyringError::KidTwice(kid.to_owned()));
            }
            let bytes = STANDARD
                .decode(key_b64.trim())
                .ok()
                .filter(|b| b.len() == KEY_LEN)
                .ok_or_else(|| KeyringError::Key(kid.to_owned()))?;
            let cipher =
                Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyringError::Key(kid.to_owned()))?;
            ring.push((kid.to_owned(), cipher));
        }
        if ring.is_empty() {
            return Err(KeyringError::NoKey);
        }
        let active = match active.map(str::trim).filter(|a| !a.is_empty()) {
            None => ring.len() - 1,
            Some(a) => ring
                .iter()
                .position(|(k, _)| k == a)
                .ok_or_else(|| KeyringError::UnknownActive(a.to_owned()))?,
        };
        let index_bytes = STANDARD
            .decode(index_key.trim())
            .ok()
            .filter(|b| b.len() >= MIN_INDEX_KEY_LEN)
            .ok_or(KeyringError::IndexKey)?;
        let index = <HmacSha256 as Mac>::new_from_slice(&index_bytes)
            .map_err(|_| KeyringError::IndexKey)?;
        Ok(Self {
            keys: ring,
            active,
            index,
        })
    }

    /// Loads the keyring from the file at `path`, or, if there is no such file, generates one
    /// (one random key with kid `local1` and a random index key), creating the parent directory
    /// and writing the file with mode 0600 on unix. This is for the embedded default with no
    /// configuration; deployments configure keys via [`PersonalDataKeys::from_config`].
    ///
    /// The file is plain `name=value` lines (blank lines and `#` comments are ignored):
    ///
    /// ```text
    /// keys=local1:BASE64KEY
    /// index=BASE64KEY
    /// ```
    ///
    /// `keys` takes the same comma-separated list as [`PersonalDataKeys::from_config`], and an
    /// optional `active=kid` line picks the active key (default: the last listed), so a key can
    /// be rotated in the file too. Never change or lose the `index` line, nor drop a kid that
    /// rows still use: the data would become unfindable or unreadable.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyringError> {
        if path.exists() {
            let text = key_file::read(path)?;
            return Self::from_file_text(&text).map_err(|e| KeyringError::InFile {
                path: path.to_owned(),
                source: Box::new(e),
            });
        }
        let key = Aes256Gcm::generate_key(OsRng);
        let mut index = [0u8; MIN_INDEX_KEY_LEN];
        OsRng.fill_bytes(&mut index);
        let content = format!(
            "keys={GENERATED_KID}:{}\nindex={}\n",
            STANDARD.encode(key),
            STANDARD.encode(index)
        );
        key_file::create_private(path, &content)?;
        tracing::info!(path = %path.display(), kid = GENERATED_KID, "generated a new personal-data encryption key");
        Self::from_file_text(&content)
    }

    /// Parses the `name=value` key file of [`PersonalDataKeys::load_or_generate`].
    fn from_file_text(text: &str) -> Result<Self, KeyringError> {
        let (mut keys, mut index, mut active) = (None, None, None);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let slot = match line.split_once('=') {
                Some(("keys", v)) => (&mut keys, v),
                Some(("index", v)) => (&mut index, v),
                Some(("active", v)) => (&mut active, v),
                _ => return Err(KeyringError::FileLine(n + 1)),
            };
            *slot.0 = Some(slot.1);
        }
        let keys = keys.ok_or(KeyringError::FileMissing("keys"))?;
        let index = index.ok_or(KeyringError::FileMissing("index"))?;
        Self::from_config(keys, active, index)
    }

    /// The kid used for new encryptions.
    pub fn active_kid(&self) -> &str {
        self.keys
            .get(self.active)
            .map(|(k, _)| k.as_str())
            .unwrap_or_default()
    }

    /// Encrypts `plaintext` under the active key with a fresh random 96-bit nonce, binding
    /// `context` (the column, e.g. `"membership_applications.id_number"`) as associated data.
    /// Sealing the same text twice gives different ciphertexts; use
    /// [`PersonalDataKeys::blind_index`] to compare values.
    ///
    /// The string form of [`PersonalDataKeys::seal_bytes`]: the sealed bytes are base64-encoded.
    ///
    /// # Panics
    ///
    /// Only if `plaintext` exceeds AES-GCM's limit of about 64 GiB.
    pub fn seal(&self, plaintext: &str, context: &str) -> Sealed {
        let Ok(sealed) = self.seal_bytes(plaintext.as_bytes(), context) else {
            panic!("plaintext exceeds the AES-GCM length limit");
        };
        Sealed {
            kid: sealed.kid,
            ciphertext: STANDARD.encode(sealed.bytes),
        }
    }

    /// Encrypts the bytes `plaintext` under the active key with a fresh random 96-bit nonce,
    /// binding `context` (what the bytes are and where they live, e.g.
    /// `"mutual_aid_documents:claims/…"`) as associated data, so the result only opens under
    /// the same context.
    ///
    /// The result is [`SealedBytes`]: the active kid and `nonce (12 bytes) || ciphertext ||
    /// tag (16 bytes)`, 28 bytes longer than `plaintext`. Sealing the same bytes twice gives
    /// different results.
    ///
    /// Errors: [`PersonalDataError::TooLong`] if `plaintext` exceeds AES-GCM's limit of about
    /// 64 GiB (nothing else can fail). Never panics.
    pub fn seal_bytes(
        &self,
        plaintext: &[u8],
        context: &str,
    ) -> Result<SealedBytes, PersonalDataError> {
        let (kid, cipher) = &self.keys[self.active];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        let ct = cipher
            .encrypt(&nonce, payload)
            .map_err(|_| PersonalDataError::TooLong)?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + ct.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ct);
        Ok(SealedBytes {
            kid: kid.clone(),
            bytes,
        })
    }

    /// Decrypts a value sealed by [`PersonalDataKeys::seal`]: picks the key by `sealed_kid`,
    /// then verifies the tag over the ciphertext and `context` (which must be the one used when
    /// sealing) before returning the plaintext.
    ///
    /// The string form of [`PersonalDataKeys::open_bytes`]: `ciphertext` is base64 and the
    /// plaintext must be UTF-8 ([`PersonalDataError::Malformed`] otherwise).
    pub fn open(
        &self,
        sealed_kid: &str,
        ciphertext: &str,
        context: &str,
    ) -> Result<String, PersonalDataError> {
        let Ok(bytes) = STANDARD.decode(ciphertext) else {
            // An unknown kid is reported first, whatever the ciphertext looks like.
            self.cipher(sealed_kid)?;
            return Err(PersonalDataError::Malformed);
        };
        let plain = self.open_bytes(sealed_kid, &bytes, context)?;
        String::from_utf8(plain).map_err(|_| PersonalDataError::Malformed)
    }

    /// Decrypts bytes sealed by [`PersonalDataKeys::seal_bytes`]: `sealed` is `nonce (12 bytes)
    /// || ciphertext || tag (16 bytes)`, `sealed_kid` names the key it was sealed under and
    /// `context` must be the one used when sealing. Nothing is returned unless the tag verifies.
    ///
    /// Errors: [`PersonalDataError::UnknownKey`] when `sealed_kid` is not in the keyring,
    /// [`PersonalDataError::Malformed`] when `sealed` is shorter than 28 bytes,
    /// [`PersonalDataError::Tampered`] when authentication fails.
    pub fn open_bytes(
        &self,
        sealed_kid: &str,
        sealed: &[u8],
        context: &str,
    ) -> Result<Vec<u8>, PersonalDataError> {
        let cipher = self.cipher(sealed_kid)?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(PersonalDataError::Malformed);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| PersonalDataError::Tampered)
    }

    /// The key named `kid`, or [`PersonalDataError::UnknownKey`].
    fn cipher(&self, kid: &str) -> Result<&Aes256Gcm, PersonalDataError> {
        self.keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, cipher)| cipher)
            .ok_or_else(|| PersonalDataError::UnknownKey(kid.to_owned()))
    }

    /// The blind index of `plaintext`: lowercase hex (64 characters) of HMAC-SHA256 under the
    /// index key. Equal plaintexts give equal indexes, so it serves for uniqueness constraints
    /// and lookups of ID numbers without decrypting. The input is hashed as given: normalise it
    /// first (e.g. trim, upper-case the check character `X`) so equal values index equally.
    pub fn blind_index(&self, plaintext: &str) -> String {
        let mut mac = self.index.clone();
        mac.update(plaintext.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Checks a key id: 1–16 characters of `[A-Za-z0-9_-]`.
fn check_kid(kid: &str) -> Result<(), KeyringError> {
    let ok = (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(KeyringError::Kid(kid.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CTX: &str = "membership_applications.id_number";
    const ID: &str = "11010519491231002X";

    fn b64(byte: u8, len: usize) -> String {
        STANDARD.encode(vec![byte; len])
    }

    fn ring(keys: &[(&str, u8)], active: Option<&str>) -> PersonalDataKeys {
        let list = keys
            .iter()
            .map(|(kid, byte)| format!("{kid}:{}", b64(*byte, KEY_LEN)))
            .collect::<Vec<_>>()
            .join(",");
        PersonalDataKeys::from_config(&list, active, &b64(9, 32)).unwrap()
    }

    #[test]
    fn round_trip() {
        let keys = ring(&[("k1", 1)], None);
        let sealed = keys.seal(ID, CTX);
        assert_eq!(sealed.kid, "k1");
        assert!(!sealed.ciphertext.contains(ID));
        assert_eq!(
            STANDARD.decode(&sealed.ciphertext).unwrap().len(),
            NONCE_LEN + ID.len() + TAG_LEN
        );
        assert_eq!(keys.open(&sealed.kid, &sealed.ciphertext, CTX).unwrap(), ID);
        let empty = keys.seal("", CTX);
        assert_eq!(keys.open(&empty.kid, &empty.ciphertext, CTX).unwrap(), "");
    }

    #[test]
    fn bytes_round_trip_and_match_the_string_form() {
        let keys = ring(&[("k1", 1), ("k2", 2)], Some("k1"));
        let plain = b"%PDF-1.4 \x00\xff binary";
        let sealed = keys.seal_bytes(plain, CTX).unwrap();
        assert_eq!(sealed.kid, "k1");
        assert_eq!(sealed.bytes.len(), NONCE_LEN + plain.len() + TAG_LEN);
        assert_eq!(keys.open_bytes("k1", &sealed.bytes, CTX).unwrap(), plain);
        // The string form is the same sealing, base64-encoded.
        let text = keys.seal(ID, CTX);
        let raw = STANDARD.decode(&text.ciphertext).unwrap();
        assert_eq!(
            keys.open_bytes(&text.kid, &raw, CTX).unwrap(),
            ID.as_bytes()
        );
        let back = STANDARD.encode(&sealed.bytes);
        assert_eq!(
            keys.open("k1", &back, CTX),
            Err(PersonalDataError::Malformed),
            "binary plaintext is not UTF-8"
        );
        let empty = keys.seal_bytes(&[], CTX).unwrap();
        assert_eq!(keys.open_bytes("k1", &empty.bytes, CTX).unwrap(), b"");
    }

    #[test]
    fn bytes_fail_closed() {
        let keys = ring(&[("k1", 1)], None);
        let sealed = keys.seal_bytes(b"diagnosis", CTX).unwrap();
        assert_eq!(
            keys.open_bytes("k1", &sealed.bytes, "users.phone"),
            Err(PersonalDataError::Tampered)
        );
        let mut flipped = sealed.bytes.clone();
        flipped[NONCE_LEN + 1] ^= 0x80;
        assert_eq!(
            keys.open_bytes("k1", &flipped, CTX),
            Err(PersonalDataError::Tampered)
        );
        assert_eq!(
            keys.open_bytes("k1", &sealed.bytes[..NONCE_LEN + TAG_LEN - 1], CTX),
            Err(PersonalDataError::Malformed)
        );
        assert_eq!(
            keys.open_bytes("k9", &sealed.bytes, CTX),
            Err(PersonalDataError::UnknownKey("k9".to_owned()))
        );
        // Unknown kid wins over a malformed string ciphertext, as before.
        assert_eq!(
            keys.open("k9", "not base64!", CTX),
            Err(PersonalDataError::UnknownKey("k9".to_owned()))
        );
    }

    #[test]
    fn random_nonce_but_stable_blind_index() {
        let keys = ring(&[("k1", 1)], None);
        let (a, b) = (keys.seal(ID, CTX), keys.seal(ID, CTX));
        assert_ne!(a.ciphertext, b.ciphertext);
        let index = keys.blind_index(ID);
        assert_eq!(index, keys.blind_index(ID));
        assert_eq!(index.len(), 64);
        assert!(index
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_ne!(index, keys.blind_index("110105194912310021"));
        // The index depends only on the index key, not on the encryption keys.
        assert_eq!(ring(&[("k2", 2)], None).blind_index(ID), index);
    }

    #[test]
    fn wrong_context_fails() {
        let keys = ring(&[("k1", 1)], None);
        let sealed = keys.seal(ID, CTX);
        assert_eq!(
            keys.open(&sealed.kid, &sealed.ciphertext, "users.phone"),
            Err(PersonalDataError::Tampered)
        );
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let keys = ring(&[("k1", 1)], None);
        let sealed = keys.seal(ID, CTX);
        let mut bytes = STANDARD.decode(&sealed.ciphertext).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 0x01;
            let forged = STANDARD.encode(&bytes);
            assert_eq!(
                keys.open(&sealed.kid, &forged, CTX),
                Err(PersonalDataError::Tampered)
            );
            bytes[i] ^= 0x01;
        }
        // Same kid, different key material: authentication fails too.
        let other = ring(&[("k1", 7)], None);
        assert_eq!(
            other.open(&sealed.kid, &sealed.ciphertext, CTX),
            Err(PersonalDataError::Tampered)
        );
    }

    #[test]
    fn malformed_ciphertext_fails() {
        let keys = ring(&[("k1", 1)], None);
        assert_eq!(
            keys.open("k1", "not base64!", CTX),
            Err(PersonalDataError::Malformed)
        );
        assert_eq!(
            keys.open("k1", &b64(0, NONCE_LEN + TAG_LEN - 1), CTX),
            Err(PersonalDataError::Malformed)
        );
    }

    #[test]
    fn rotation_keeps_old_rows_readable() {
        let old = ring(&[("k1", 1)], None);
        let sealed_old = old.seal(ID, CTX);
        let new = ring(&[("k1", 1), ("k2", 2)], Some("k2"));
        assert_eq!(new.active_kid(), "k2");
        assert_eq!(
            new.open(&sealed_old.kid, &sealed_old.ciphertext, CTX)
                .unwrap(),
            ID
        );
        let sealed_new = new.seal(ID, CTX);
        assert_eq!(sealed_new.kid, "k2");
        assert_eq!(
            new.open(&sealed_new.kid, &sealed_new.ciphertext, CTX)
                .unwrap(),
            ID
        );
        assert_eq!(
            old.open(&sealed_new.kid, &sealed_new.ciphertext, CTX),
            Err(PersonalDataError::UnknownKey("k2".to_owned()))
        );
        assert_eq!(new.blind_index(ID), old.blind_index(ID));
        // Explicit active key overrides "last listed".
        assert_eq!(
            ring(&[("k1", 1), ("k2", 2)], Some("k1")).seal(ID, CTX).kid,
            "k1"
        );
        assert_eq!(ring(&[("k1", 1), ("k2", 2)], None).active_kid(), "k2");
    }

    #[test]
    fn unknown_kid_fails() {
        let keys = ring(&[("k1", 1)], None);
        let sealed = keys.seal(ID, CTX);
        assert_eq!(
            keys.open("k9", &sealed.ciphertext, CTX),
            Err(PersonalDataError::UnknownKey("k9".to_owned()))
        );
    }

    #[test]
    fn bad_config_is_rejected() {
        let key = b64(1, KEY_LEN);
        let index = b64(9, 32);
        let bad = [
            (String::new(), None, index.clone()),
            (" , ".to_owned(), None, index.clone()),
            (key.clone(), None, index.clone()),
            (format!(":{key}"), None, index.clone()),
            (format!("k 1:{key}"), None, index.clone()),
            (format!("abcdefghijklmnopq:{key}"), None, index.clone()),
            (format!("k1:{}", b64(1, 16)), None, index.clone()),
            ("k1:not base64!".to_owned(), None, index.clone()),
            (format!("k1:{key},k1:{key}"), None, index.clone()),
            (format!("k1:{key}"), Some("k2"), index.clone()),
            (format!("k1:{key}"), None, b64(9, 31)),
            (format!("k1:{key}"), None, "not base64!".to_owned()),
        ];
        for (keys, active, index) in &bad {
            let err = PersonalDataKeys::from_config(keys, *active, index)
                .unwrap_err()
                .to_string();
            assert!(err.contains(" / "), "{err}");
            assert!(!err.contains(&key), "error leaks key material: {err}");
        }
        let ok = PersonalDataKeys::from_config(
            &format!(" k1:{key} , k-2_B:{key} "),
            Some(""),
            &b64(9, 64),
        )
        .unwrap();
        assert_eq!(ok.active_kid(), "k-2_B");
    }

    #[test]
    fn debug_shows_only_kids() {
        let keys = ring(&[("k1", 1), ("k2", 2)], Some("k1"));
        let shown = format!("{keys:?}");
        assert!(
            shown.contains("\"k1\"") && shown.contains("\"k2\""),
            "{shown}"
        );
        assert!(!shown.contains(&b64(1, KEY_LEN)), "{shown}");
        assert!(!shown.contains(&b64(9, 32)), "{shown}");
    }

    #[test]
    fn load_or_generate_writes_a_private_file_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("personal-data.keys");
        let first = PersonalDataKeys::load_or_generate(&path).unwrap();
        assert_eq!(first.active_kid(), GENERATED_KID);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("keys=local1:"), "{text}");
        assert!(text.contains("\nindex="), "{text}");

        let sealed = first.seal(ID, CTX);
        let second = PersonalDataKeys::load_or_generate(&path).unwrap();
        assert_eq!(
            second.open(&sealed.kid, &sealed.ciphertext, CTX).unwrap(),
            ID
        );
        assert_eq!(second.blind_index(ID), first.blind_index(ID));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

        // A second generated keyring is independent of the first.
        let other = PersonalDataKeys::load_or_generate(&dir.path().join("other.keys")).unwrap();
        assert_ne!(other.blind_index(ID), first.blind_index(ID));
        assert_eq!(
            other.open(&sealed.kid, &sealed.ciphertext, CTX),
            Err(PersonalDataError::Tampered)
        );
    }

    #[test]
    fn key_file_format_errors() {
        let key = b64(1, KEY_LEN);
        let index = b64(9, 32);
        let ok = PersonalDataKeys::from_file_text(&format!(
            "# rotated\nkeys=k1:{key},k2:{key}\nactive=k1\n\nindex={index}\n"
        ))
        .unwrap();
        assert_eq!(ok.active_kid(), "k1");
        for text in [
            format!("index={index}\n"),
            format!("keys=k1:{key}\n"),
            format!("keys=k1:{key}\nindex={index}\nsomething else\n"),
        ] {
            assert!(PersonalDataKeys::from_file_text(&text).is_err(), "{text}");
        }
    }
}
