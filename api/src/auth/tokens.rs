//! Access tokens: JWTs signed with Ed25519 (`alg: EdDSA`, RFC 8037), 15 minutes, with `iss`,
//! `aud`, `sub`, `sid`, `kind`, `roles`, `iat`, `exp` (ARCHITECTURE.md item 10). Only EdDSA is
//! accepted on the way in, so `alg: none` and HS256-signed-with-the-public-key tokens fail.
//! The public key is published as a JWK set at `/.well-known/jwks.json`.
//!
//! A verified token is remembered until it expires (at most [`VERIFIED_CAPACITY`] of them), so
//! a worker's requests cost one signature check per token, not one per request; the session
//! check that follows still runs every time.
//!
//! Refresh tokens are opaque: `<sid>.<secret>`, the secret 32 random bytes (base64url); only
//! its SHA-256 is stored.

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use yiwang_domain::account::{AccountKind, Role};
use yiwang_domain::clock;
use yiwang_domain::session::SessionRecord;
use yiwang_infra::key_file;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The account id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// `worker` or `admin`.
    pub kind: AccountKind,
    /// The official's roles; empty for workers.
    pub roles: Vec<Role>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// The claims of a scoped token ([`Scope`]): a member card's QR code or a document link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardClaims {
    /// Issuer.
    pub iss: String,
    /// Audience: the access-token audience with `#member-card` appended, so neither kind of
    /// token passes for the other.
    pub aud: String,
    /// The member id.
    pub sub: String,
    /// The member number.
    pub num: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// Lifetime of a member card's QR token, in seconds (the issue: "valid for 5 minutes").
pub const CARD_TOKEN_TTL_SECS: i64 = 300;

/// Lifetime of a claim document's download link, in seconds: long enough to open it, short
/// enough that a forwarded link soon stops working (medical documents are sensitive).
pub const DOCUMENT_LINK_TTL_SECS: i64 = 300;

/// What a scoped token is for: each has its own audience, so no token passes for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A member card's QR code: `sub` is the member id, `num` the member number.
    MemberCard,
    /// A claim document's download link: `sub` is `{claim id}/{document id}`, `num` the
    /// account the link was issued to.
    Document,
    /// A consultation attachment's link (an image or a voice recording): `sub` is
    /// `{consultation id}/{message id}`, `num` the account the link was issued to.
    Attachment,
}

impl Scope {
    fn audience(self, audience: &str) -> String {
        match self {
            Scope::MemberCard => card_audience(audience),
            Scope::Document => format!("{audience}#document"),
            Scope::Attachment => format!("{audience}#attachment"),
        }
    }

    fn ttl_secs(self) -> i64 {
        match self {
            Scope::MemberCard => CARD_TOKEN_TTL_SECS,
            Scope::Document | Scope::Attachment => DOCUMENT_LINK_TTL_SECS,
        }
    }
}

/// Why an access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefused {
    /// Genuine, but past its expiry: refresh it.
    Expired,
    /// Malformed, not signed by us, or for another issuer or audience: log in again.
    Invalid,
}

/// The signing key and what verifies it.
pub struct TokenKeys {
    card_validation: Validation,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    kid: String,
    public_x: String,
    issuer: String,
    audience: String,
    ttl_secs: u64,
    verified: quick_cache::sync::Cache<String, Arc<Claims>>,
    document_validation: Validation,
    attachment_validation: Validation,
}

fn card_audience(audience: &str) -> String {
    format!("{audience}#member-card")
}

/// How many verified access tokens one process remembers (about 1 KiB each).
pub const VERIFIED_CAPACITY: usize = 10_000;

/// Seconds of clock skew allowed on `exp`.
const LEEWAY_SECS: i64 = 5;

const PEM_LABEL: &str = "PRIVATE KEY";

fn pem_encode(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {PEM_LABEL}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {PEM_LABEL}-----\n"));
    out
}

fn pem_decode(pem: &str) -> Result<Vec<u8>, SigningKeyError> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD.decode(body).map_err(SigningKeyError::NotPem)
}

/// Why the token signing key cannot be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(transparent)]
    File(#[from] key_file::FileError),
    #[error("signing key file {} does not exist", .0.display())]
    Missing(std::path::PathBuf),
    #[error("the signing key is not a PEM file: {0}")]
    NotPem(base64::DecodeError),
    #[error("the signing key is not a PKCS#8 Ed25519 key: {0}")]
    NotEd25519(ring::error::KeyRejected),
    #[error("cannot generate an Ed25519 key")]
    Generate,
}

impl TokenKeys {
    /// Loads the PKCS#8 Ed25519 key at `path`; when `generate` is set and the file is missing,
    /// makes a new key and writes it there (mode 0600).
    pub fn load_or_generate(
        path: &Path,
        generate: bool,
        issuer: &str,
        audience: &str,
        ttl_secs: u64,
    ) -> Result<TokenKeys, SigningKeyError> {
        let der = if path.exists() {
            pem_decode(&key_file::read(path)?)?
        } else if generate {
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 =
                Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| SigningKeyError::Generate)?;
            key_file::create_private(path, &pem_encode(pkcs8.as_ref()))?;
            tracing::info!(path = %path.display(), "generated a new token signing key");
            pkcs8.as_ref().to_vec()
        } else {
            return Err(SigningKeyError::Missing(path.to_owned()));
        };
        Self::from_pkcs8(&der, issuer, audience, ttl_secs)
    }

    /// Builds the keys from PKCS#8 DER.
    pub fn from_pkcs8(
        der: &[u8],
        issuer: &str,
        audience: &str,
        ttl_secs: u64,
    ) -> Result<TokenKeys, SigningKeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(SigningKeyError::NotEd25519)?;
        let public = pair.public_key().as_ref().to_vec();
        let public_x = URL_SAFE_NO_PAD.encode(&public);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(&public))[..16].to_owned();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        let mut card_validation = validation.clone();
        card_validation.set_audience(&[card_audience(audience)]);
        card_validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let mut document_validation = card_validation.clone();
        document_validation.set_audience(&[Scope::Document.audience(audience)]);
        let mut attachment_validation = card_validation.clone();
        attachment_validation.set_audience(&[Scope::Attachment.audience(audience)]);
        Ok(TokenKeys {
            document_validation,
            attachment_validation,
            encoding: EncodingKey::from_ed_der(der),
            decoding: DecodingKey::from_ed_der(&public),
            validation,
            kid,
            public_x,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
            verified: quick_cache::sync::Cache::new(VERIFIED_CAPACITY),
            card_validation,
        })
    }

    /// Access token lifetime in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Signs an access token for a session.
    pub fn issue(&self, session: &SessionRecord) -> Result<String, jsonwebtoken::errors::Error> {
        let now = clock::now().timestamp();
        let ttl = i64::try_from(self.ttl_secs).unwrap_or(900);
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: session.account_id.to_string(),
            sid: session.sid.clone(),
            kind: session.kind,
            roles: session.roles.clone(),
            iat: now,
            exp: now + ttl,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    /// Verifies signature, algorithm, issuer, audience and expiry: the claims, or why not —
    /// [`TokenRefused::Expired`] only for a token that is genuine in every other way (the
    /// signature is checked before the expiry). A token verified before is answered from
    /// memory until its `exp` (plus the leeway) has passed.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, TokenRefused> {
        let now = clock::now().timestamp();
        if let Some(claims) = self.verified.get(token) {
            return if claims.exp + LEEWAY_SECS > now {
                Ok(claims)
            } else {
                Err(TokenRefused::Expired)
            };
        }
        let claims = match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Arc::new(data.claims),
            Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                return Err(TokenRefused::Expired)
            }
            Err(_) => return Err(TokenRefused::Invalid),
        };
        self.verified.insert(token.to_owned(), Arc::clone(&claims));
        Ok(claims)
    }

    /// Signs a member card's QR token for `member_id` with number `number`, valid for
    /// [`CARD_TOKEN_TTL_SECS`]; returns it with its expiry (Unix seconds).
    pub fn issue_card(
        &self,
        member_id: &str,
        number: &str,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        self.issue_scoped(Scope::MemberCard, member_id, number)
    }

    /// Signs a token of `scope` (its audience and lifetime) for `sub` and `num`; returns it
    /// with its expiry (Unix seconds).
    pub fn issue_scoped(
        &self,
        scope: Scope,
        sub: &str,
        num: &str,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        let now = clock::now().timestamp();
        let claims = CardClaims {
            iss: self.issuer.clone(),
            aud: scope.audience(&self.audience),
            sub: sub.to_owned(),
            num: num.to_owned(),
            iat: now,
            exp: now + scope.ttl_secs(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)?;
        Ok((token, claims.exp))
    }

    /// Verifies a member card's QR token: signature, issuer, card audience and expiry.
    pub fn verify_card(&self, token: &str) -> Option<CardClaims> {
        self.verify_scoped(Scope::MemberCard, token)
    }

    /// Verifies a token of `scope`: signature, issuer, the scope's audience and expiry.
    pub fn verify_scoped(&self, scope: Scope, token: &str) -> Option<CardClaims> {
        let validation = match scope {
            Scope::MemberCard => &self.card_validation,
            Scope::Document => &self.document_validation,
            Scope::Attachment => &self.attachment_validation,
        };
        jsonwebtoken::decode::<CardClaims>(token, &self.decoding, validation)
            .ok()
            .map(|d| d.claims)
    }

    /// The JWK set with the public key.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": self.public_x,
                "kid": self.kid,
                "use": "sig",
                "alg": "EdDSA",
            }]
        })
    }
}

/// A fresh random id or secret: `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256 of a refresh secret, as stored.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new refresh token for `sid`: `(token, hash of its secret)`.
pub fn new_refresh(sid: &str) -> (String, String) {
    let secret = random_token(32);
    (format!("{sid}.{secret}"), hash_secret(&secret))
}

/// Splits a refresh token into `(sid, hash of its secret)`.
pub fn parse_refresh(token: &str) -> Option<(String, String)> {
    let (sid, secret) = token.split_once('.')?;
    if sid.is_empty() || secret.is_empty() || token.len() > 200 {
        return None;
    }
    Some((sid.to_owned(), hash_secret(secret)))
}
