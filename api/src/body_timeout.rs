//! A request body that stops arriving is given up on (issue 18, item 22): when no byte of it
//! comes for the idle timeout (`YIWANG_BODY_IDLE_TIMEOUT_SECS`, 30 s), reading it fails, and the
//! request is answered 408 `body_timeout` — instead of holding the connection for as long as a
//! slow or stalled client likes. Bytes that keep coming, however slowly, keep it alive.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

/// What an idle body fails with; [`is_idle`] recognises it.
const IDLE: &str = "request body idle";

/// `payload` failing with a timed-out I/O error once no bytes came for `idle`.
pub fn limited(payload: Payload, idle: Duration) -> Payload {
    let stream = IdleLimited {
        inner: payload,
        idle,
        sleep: Box::pin(tokio::time::sleep(idle)),
        done: false,
    };
    Payload::Stream {
        payload: Box::pin(stream),
    }
}

/// Whether `e` is the error of a body that stopped arriving.
pub fn is_idle(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut && io.to_string() == IDLE)
}

struct IdleLimited {
    inner: Payload,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    done: bool,
}

impl Stream for IdleLimited {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(item) => {
                let next = Instant::now() + self.idle;
                self.sleep.as_mut().reset(next);
                Poll::Ready(item)
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    let err = std::io::Error::new(std::io::ErrorKind::TimedOut, IDLE);
                    Poll::Ready(Some(Err(PayloadError::Io(err))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
