//! Sessions in Redis, shared by every API process (ARCHITECTURE.md item 10).
//!
//! Keys, each under the configured prefix (e.g. `yiwang:`):
//! - `sess:{sid}` — hash: `rec` (the session as JSON), `rh` (current refresh hash); expires
//!   with the session;
//! - `sess:{sid}:used` — set of refresh hashes already rotated away; same expiry;
//! - `acct:{account id}` — set of the account's session ids, for "end all sessions";
//! - `count:{key}`, `lock:{key}`, `cache:{key}` — windowed counters (login failures, logins,
//!   requests per client address), lockouts, cached values (the WeChat stable_token, workers'
//!   `/me` views, single-flight locks under `cache:flight:{key}`).
//!
//! Refresh rotation is one Lua script, so two refreshes racing on the same token cannot both
//! win.

use async_trait::async_trait;
use chrono::Utc;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use yiwang_domain::account::AccountId;
use yiwang_domain::session::{RotateOutcome, SessionRecord, SessionStore, SessionStoreError};

const ROTATE: &str = r"
local rh = redis.call('HGET', KEYS[1], 'rh')
if not rh then return {0, false} end
if rh == ARGV[1] then
  redis.call('HSET', KEYS[1], 'rh', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[1])
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
  return {1, redis.call('HGET', KEYS[1], 'rec')}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {2, false}
end
return {0, false}
";

const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
";

/// The Redis store.
#[derive(Clone)]
pub struct RedisSessions {
    conn: ConnectionManager,
    prefix: String,
    rotate: Script,
    count: Script,
}

fn err(e: impl std::error::Error + Send + Sync + 'static) -> SessionStoreError {
    SessionStoreError(Box::new(e))
}

impl RedisSessions {
    /// Connects to `url` (`redis://…` or `rediss://…`); every key is put under `prefix`.
    /// Fails when Redis cannot be reached within 2 seconds.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, SessionStoreError> {
        let client = redis::Client::open(url).map_err(err)?;
        let conn = crate::redis_link::connect(&client).await.map_err(err)?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            rotate: Script::new(ROTATE),
            count: Script::new(COUNT),
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        k.push_str(&parts.join(":"));
        k
    }

    /// [`crate::redis_link::once_more_if_lost`] on this store's connection. Not for the
    /// refresh rotation, whose second run would read as a reused token.
    async fn retried<T, F, Fut>(&self, op: F) -> Result<T, SessionStoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        crate::redis_link::once_more_if_lost(&self.conn, op)
            .await
            .map_err(err)
    }

    fn decode(rec: &str, rh: String) -> Result<SessionRecord, SessionStoreError> {
        let mut r: SessionRecord = serde_json::from_str(rec).map_err(err)?;
        r.refresh_hash = rh;
        Ok(r)
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn create(&self, s: &SessionRecord) -> Result<(), SessionStoreError> {
        let key = self.key(&["sess", &s.sid]);
        let acct = self.key(&["acct", &s.account_id.to_string()]);
        let ttl_ms = (s.expires_at - Utc::now()).num_milliseconds().max(1);
        let rec = serde_json::to_string(s).map_err(err)?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[("rec", rec.as_str()), ("rh", s.refresh_hash.as_str())],
            )
            .pexpire(&key, ttl_ms)
            .sadd(&acct, &s.sid)
            .pexpire(&acct, ttl_ms);
        self.retried(|mut c| {
            let pipe = pipe.clone();
            async move { pipe.exec_async(&mut c).await }
        })
        .await
    }

    async fn get(&self, sid: &str) -> Result<Option<SessionRecord>, SessionStoreError> {
        let key = self.key(&["sess", sid]);
        let (rec, rh): (Option<String>, Option<String>) = self
            .retried(|mut c| {
                let key = key.clone();
                async move {
                    redis::cmd("HMGET")
                        .arg(key)
                        .arg("rec")
                        .arg("rh")
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        match (rec, rh) {
            (Some(rec), Some(rh)) => Self::decode(&rec, rh).map(Some),
            _ => Ok(None),
        }
    }

    async fn rotate(
        &self,
        sid: &str,
        presented_hash: &str,
        new_hash: &str,
    ) -> Result<RotateOutcome, SessionStoreError> {
        let mut c = self.conn.clone();
        let (status, rec): (i64, Option<String>) = self
            .rotate
            .key(self.key(&["sess", sid]))
            .key(self.key(&["sess", sid, "used"]))
            .arg(presented_hash)
            .arg(new_hash)
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        Ok(match (status, rec) {
            (1, Some(rec)) => RotateOutcome::Rotated(Self::decode(&rec, new_hash.to_owned())?),
            (2, _) => RotateOutcome::ReuseDetected,
            _ => RotateOutcome::Invalid,
        })
    }

    async fn revoke(&self, sid: &str) -> Result<(), SessionStoreError> {
        let keys = [self.key(&["sess", sid]), self.key(&["sess", sid, "used"])];
        self.retried(|mut c| {
            let keys = keys.clone();
            async move { c.del::<_, ()>(&keys).await }
        })
        .await
    }

    async fn sessions_of(
        &self,
        account_id: AccountId,
    ) -> Result<Vec<SessionRecord>, SessionStoreError> {
        let mut c = self.conn.clone();
        let acct = self.key(&["acct", &account_id.to_string()]);
        let sids: Vec<String> = c.smembers(&acct).await.map_err(err)?;
        if sids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for sid in &sids {
            pipe.cmd("HMGET")
                .arg(self.key(&["sess", sid]))
                .arg("rec")
                .arg("rh");
        }
        let found: Vec<(Option<String>, Option<String>)> =
            pipe.query_async(&mut c).await.map_err(err)?;
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for (sid, fields) in sids.into_iter().zip(found) {
            match fields {
                (Some(rec), Some(rh)) => live.push(Self::decode(&rec, rh)?),
                _ => gone.push(sid),
            }
        }
        if !gone.is_empty() {
            c.srem::<_, _, ()>(&acct, &gone).await.map_err(err)?;
        }
        live.sort_by(|a, b| (a.created_at, &a.sid).cmp(&(b.created_at, &b.sid)));
        Ok(live)
    }

    async fn revoke_account(&self, account_id: AccountId) -> Result<u64, SessionStoreError> {
        let mut c = self.conn.clone();
        let acct = self.key(&["acct", &account_id.to_string()]);
        let sids: Vec<String> = c.smembers(&acct).await.map_err(err)?;
        if sids.is_empty() {
            return Ok(0);
        }
        let sessions: Vec<String> = sids.iter().map(|s| self.key(&["sess", s])).collect();
        let mut others: Vec<String> = sids
            .iter()
            .map(|s| self.key(&["sess", s, "used"]))
            .collect();
        others.push(acct);
        // One round trip; DEL of the session keys counts the sessions that were still live.
        let (ended,): (u64,) = redis::pipe()
            .atomic()
            .del(&sessions)
            .del(&others)
            .ignore()
            .query_async(&mut c)
            .await
            .map_err(err)?;
        Ok(ended)
    }

    async fn count(&self, key: &str, window_secs: u64) -> Result<u32, SessionStoreError> {
        let mut c = self.conn.clone();
        self.count
            .key(self.key(&["count", key]))
            .arg(window_secs)
            .invoke_async(&mut c)
            .await
            .map_err(err)
    }

    async fn clear_count(&self, key: &str) -> Result<(), SessionStoreError> {
        let mut c = self.conn.clone();
        c.del::<_, ()>(self.key(&["count", key])).await.map_err(err)
    }

    async fn lock(&self, key: &str, secs: u64) -> Result<(), SessionStoreError> {
        let mut c = self.conn.clone();
        c.set_ex::<_, _, ()>(self.key(&["lock", key]), 1, secs)
            .await
            .map_err(err)
    }

    async fn locked_for(&self, key: &str) -> Result<Option<u64>, SessionStoreError> {
        let key = self.key(&["lock", key]);
        let ttl: i64 = self
            .retried(|mut c| {
                let key = key.clone();
                async move { c.ttl(key).await }
            })
            .await?;
        Ok(u64::try_from(ttl).ok().filter(|t| *t > 0))
    }

    async fn cache_get(&self, key: &str) -> Result<Option<String>, SessionStoreError> {
        let key = self.key(&["cache", key]);
        self.retried(|mut c| {
            let key = key.clone();
            async move { c.get(key).await }
        })
        .await
    }

    async fn cache_set(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), SessionStoreError> {
        let mut c = self.conn.clone();
        c.set_ex::<_, _, ()>(self.key(&["cache", key]), value, ttl_secs.max(1))
            .await
            .map_err(err)
    }

    async fn cache_add(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<bool, SessionStoreError> {
        let mut c = self.conn.clone();
        let stored: Option<String> = redis::cmd("SET")
            .arg(self.key(&["cache", key]))
            .arg(value)
            .arg("NX")
            .arg("EX")
            .arg(ttl_secs.max(1))
            .query_async(&mut c)
            .await
            .map_err(err)?;
        Ok(stored.is_some())
    }

    async fn cache_delete(&self, key: &str) -> Result<(), SessionStoreError> {
        let mut c = self.conn.clone();
        c.del::<_, ()>(self.key(&["cache", key])).await.map_err(err)
    }

    async fn ping(&self) -> Result<(), SessionStoreError> {
        self.retried(|mut c| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .map(|_| ())
        })
        .await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
