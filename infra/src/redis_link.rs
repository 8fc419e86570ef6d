//! How every Redis user here (sessions, live delivery) connects and survives a restart: one
//! connection manager with bounded calls (issue 18, item 19), and one retry when the
//! connection turns out lost (item 21).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisResult;

/// Longest wait for a connection or an answer, seconds.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection manager to `client`: connecting and each answer bounded by 2 s, two
/// reconnection attempts. Errs (`timed out`) when Redis does not answer within 3 s in all.
pub async fn connect(client: &redis::Client) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CALL_TIMEOUT))
        .set_response_timeout(Some(CALL_TIMEOUT))
        .set_number_of_retries(2);
    tokio::time::timeout(
        Duration::from_secs(3),
        client.get_connection_manager_with_config(config),
    )
    .await
    .map_err(|_| {
        redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "redis did not answer within 3 s",
        ))
    })?
}

/// Runs `op` on `conn` and, when that connection turned out lost (Redis restarted, a network
/// blip: the command failed to be sent or its answer never came), once more on the
/// reconnected one — so the first command after a restart does not fail. Only for commands
/// that may safely run twice.
pub async fn once_more_if_lost<T, F, Fut>(conn: &ConnectionManager, op: F) -> RedisResult<T>
where
    F: Fn(ConnectionManager) -> Fut,
    Fut: std::future::Future<Output = RedisResult<T>>,
{
    match op(conn.clone()).await {
        Err(e) if e.is_connection_dropped() || e.is_io_error() || e.is_connection_refusal() => {
            tracing::warn!(cause = %e, "redis connection lost; retrying once");
            op(conn.clone()).await
        }
        other => other,
    }
}
