//! WeChat's content check (msgSecCheck, WECHAT.md) on what a worker writes, before anyone else
//! sees it — a platform rule for mini-programs. `risky` is refused (422 `content_risky`,
//! naming the field) and nothing is stored; `review`, or a check that cannot be reached, holds
//! the text for an official: kept, not shown; `pass` shows it.

use actix_web::http::StatusCode;
use yiwang_domain::wechat::{ContentScene, ContentVerdict};
use yiwang_domain::AccountId;

use crate::error::ApiError;
use crate::state::AppState;

/// What the check decided about a text that may be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Held for an official.
    pub held: bool,
    /// WeChat's `trace_id`, kept with the text (none when the check was not reached).
    pub trace_id: Option<String>,
}

/// Checks `text` that worker `account` wrote into `field`, in `scene`.
pub async fn check(
    state: &AppState,
    account: AccountId,
    scene: ContentScene,
    field: &str,
    text: &str,
) -> Result<Checked, ApiError> {
    let author = state.workers.get(account).await?;
    match state.wechat.check_text(&author.openid, scene, text).await {
        Ok(check) => match check.verdict {
            ContentVerdict::Pass => Ok(Checked {
                held: false,
                trace_id: Some(check.trace_id),
            }),
            ContentVerdict::Review => Ok(Checked {
                held: true,
                trace_id: Some(check.trace_id),
            }),
            ContentVerdict::Risky => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "content_risky",
                "内容未通过微信内容安全检测，请修改后再提交",
                "WeChat's content check refused the text; please reword it",
            )
            .field(
                field,
                "content_risky",
                "内容未通过安全检测",
                "refused by the content check",
            )),
        },
        Err(e) => {
            tracing::warn!(cause = %e, "msgSecCheck failed; holding the text");
            Ok(Checked {
                held: true,
                trace_id: None,
            })
        }
    }
}
