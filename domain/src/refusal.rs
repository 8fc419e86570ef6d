//! The one vocabulary for "the rules say no" (ARCHITECTURE.md item 16).
//!
//! Every state machine, every store rule (a uniqueness the database keeps, a row in the wrong
//! state) and every check of a request that is not about one form field answers with a
//! [`Refusal`]: a [`RefusalKind`] (which the API turns into 404, 403, 409 or 422), a stable
//! English `code`, the Chinese and English texts a person reads, and the field at fault when
//! there is one. A store's refusals are typed per feature with [`reasons!`](crate::reasons)
//! (`MembershipConflict::AlreadyMember`), so no caller compares strings to learn what happened.

use std::borrow::Cow;

use crate::problem::FieldProblem;

/// What kind of "no" a refusal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// There is no such record for this caller (404): absent, or outside what the caller may
    /// see — the two are never told apart.
    NotFound,
    /// The caller may not do this (403).
    Forbidden,
    /// The record is not in a state that allows it, or a uniqueness rule is broken (409).
    Conflict,
    /// What the caller sent breaks a rule they can fix (422).
    Invalid,
}

/// Something that tells a person why: a stable code and the Chinese and English texts.
pub trait Explain {
    /// Stable English code, `snake_case` (`already_member`, `id_number_check`).
    fn code(&self) -> &'static str;
    /// What a person reads, in Chinese (the default language).
    fn zh(&self) -> String;
    /// The same in English.
    fn en(&self) -> String;
}

/// The rules said no; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {en}")]
pub struct Refusal {
    /// Which kind of no.
    pub kind: RefusalKind,
    /// Stable English code.
    pub code: &'static str,
    /// In Chinese.
    pub zh: Cow<'static, str>,
    /// In English.
    pub en: Cow<'static, str>,
    /// The request fields at fault (`lines.2`, `to_org_id`), each with its own short code
    /// and texts: every one the rule found, not only the first.
    pub fields: Vec<FieldProblem>,
}

impl Refusal {
    /// A refusal of `kind` for `reason`.
    pub fn new(kind: RefusalKind, reason: &impl Explain) -> Self {
        Self {
            kind,
            code: reason.code(),
            zh: reason.zh().into(),
            en: reason.en().into(),
            fields: Vec::new(),
        }
    }

    /// A refusal of `kind` with its texts written out.
    pub fn with_text(
        kind: RefusalKind,
        code: &'static str,
        zh: impl Into<Cow<'static, str>>,
        en: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind,
            code,
            zh: zh.into(),
            en: en.into(),
            fields: Vec::new(),
        }
    }

    /// 422 `validation_failed` for one field, as a form with one bad field is answered.
    pub fn invalid_field(problem: FieldProblem) -> Self {
        let mut refusal = Self::with_text(
            RefusalKind::Invalid,
            "validation_failed",
            format!("请求内容有误：{}", problem.zh),
            format!("The request is not valid: {}", problem.en),
        );
        refusal.fields.push(problem);
        refusal
    }

    /// 404 `not_found`: no such record for this caller.
    pub fn not_found() -> Self {
        Self::with_text(
            RefusalKind::NotFound,
            "not_found",
            "未找到该记录",
            "No such record",
        )
    }

    /// 403 `forbidden`: the caller's role may not do this.
    pub fn forbidden() -> Self {
        Self::with_text(
            RefusalKind::Forbidden,
            "forbidden",
            "您的角色无权执行此操作",
            "Your role is not allowed to do this",
        )
    }

    /// The same refusal, naming `field` as one at fault (with the refusal's own code and
    /// texts).
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.fields.push(FieldProblem::new(
            field,
            self.code,
            self.zh.clone(),
            self.en.clone(),
        ));
        self
    }

    /// One refusal for several: the first's kind and code, every text joined (Chinese by
    /// `；`), every field of each. `None` when there are none. So a rule that finds three
    /// things wrong says all three at once.
    pub fn all(refusals: Vec<Refusal>) -> Option<Refusal> {
        let mut rest = refusals.into_iter();
        let mut first = rest.next()?;
        for r in rest {
            first.zh = format!("{}；{}", first.zh, r.zh).into();
            first.en = format!("{}; {}", first.en, r.en).into();
            first.fields.extend(r.fields);
        }
        Some(first)
    }

    /// Whether this is the refusal `reason` gives (same code).
    pub fn is(&self, reason: &impl Explain) -> bool {
        self.code == reason.code()
    }
}

impl Explain for Refusal {
    fn code(&self) -> &'static str {
        self.code
    }

    fn zh(&self) -> String {
        self.zh.clone().into_owned()
    }

    fn en(&self) -> String {
        self.en.clone().into_owned()
    }
}

/// Declares a feature's typed refusals: an enum whose variants each carry their kind, code
/// and texts, with [`Explain`] and `From<…> for Refusal`. A store returns
/// `RepoError::Refused(MailboxConflict::AlreadyReplied.into())`; a test asks
/// `refusal.is(&MailboxConflict::AlreadyReplied)`. A variant may name the field at fault with
/// its own short code and texts: `… at ("external_id", "taken", "已被使用", "already in use")`.
///
/// ```
/// yiwang_domain::reasons! {
///     /// Why a letter cannot be answered.
///     pub enum LetterRefusal {
///         /// Someone replied first.
///         AlreadyReplied = (Conflict, "already_replied", "这封信已经回复过了",
///                           "This letter has already been replied to"),
///     }
/// }
/// let refusal = yiwang_domain::refusal::Refusal::from(LetterRefusal::AlreadyReplied);
/// assert_eq!(refusal.code, "already_replied");
/// ```
#[macro_export]
macro_rules! reasons {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = ($kind:ident, $code:literal, $zh:expr, $en:expr $(,)?)
                $(at ($field:literal, $fcode:literal, $fzh:literal, $fen:literal))?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Which kind of refusal it is.
            pub fn kind(self) -> $crate::refusal::RefusalKind {
                match self {
                    $( Self::$variant => $crate::refusal::RefusalKind::$kind, )+
                }
            }
        }

        impl $crate::refusal::Explain for $name {
            fn code(&self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                }
            }

            fn zh(&self) -> String {
                match self {
                    $( Self::$variant => $zh, )+
                }
                .to_owned()
            }

            fn en(&self) -> String {
                match self {
                    $( Self::$variant => $en, )+
                }
                .to_owned()
            }
        }

        impl From<$name> for $crate::refusal::Refusal {
            fn from(reason: $name) -> Self {
                #[allow(unused_mut)]
                let mut refusal = $crate::refusal::Refusal::new(reason.kind(), &reason);
                match reason {
                    $( $name::$variant => {
                        $( refusal.fields.push($crate::problem::FieldProblem::new(
                            $field, $fcode, $fzh, $fen,
                        )); )?
                    } )+
                }
                refusal
            }
        }

        impl From<$name> for $crate::store::RepoError {
            fn from(reason: $name) -> Self {
                $crate::store::RepoError::Refused(reason.into())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::reasons! {
        /// Test reasons.
        enum Sample {
            /// A conflict.
            Taken = (Conflict, "taken", "已被占用", "Already taken"),
            /// A forbidden step.
            Barred = (Forbidden, "barred", "无权操作", "Not allowed")
                at ("who", "not_you", "不是你", "not you"),
        }
    }

    #[test]
    fn a_declared_reason_becomes_a_refusal_of_its_kind_with_its_texts() {
        let r = Refusal::from(Sample::Taken).at("name");
        assert_eq!(r.kind, RefusalKind::Conflict);
        assert_eq!(
            (r.code, r.zh.as_ref(), r.en.as_ref()),
            ("taken", "已被占用", "Already taken")
        );
        let field = r.fields.first().map(|f| (f.field.as_str(), f.code));
        assert_eq!(field, Some(("name", "taken")));
        assert!(r.is(&Sample::Taken));
        assert!(!r.is(&Sample::Barred));
        let barred = Refusal::from(Sample::Barred);
        assert_eq!(barred.kind, RefusalKind::Forbidden);
        let field = barred
            .fields
            .first()
            .map(|f| (f.field.as_str(), f.code, f.zh.as_str()));
        assert_eq!(field, Some(("who", "not_you", "不是你")));
    }
}
