//! Membership (入会): applications, their review, members and their cards.
//!
//! A membership application is a real-name request to join a union organisation
//! (`shared/design/DOMAIN.md`, glossary). Everything here is pure (no I/O):
//!
//! - [`application`]: the application's life cycle and decisions, with its history;
//! - [`member`]: the member record and its number;
//! - [`transfer`]: moving a membership to another organisation (会籍转移) and the membership
//!   history;
//! - [`form`]: the application form and its check, every field at once;
//! - [`store`]: the repository port;
//! - [`identity`]: the resident ID number (居民身份证号码, GB 11643-1999) with its check
//!   character, birth date, sex and the minimum joining age, and the employer's unified social
//!   credit code (统一社会信用代码, GB 32100-2015);
//! - [`person`]: the applicant's name, mainland mobile number and form of employment (职工 or one
//!   of the new employment forms, 新就业形态).
//!
//! Every error has a stable English `code()` and user-facing `zh()` (the default, DOMAIN.md
//! "Rules that hold everywhere") and `en()` messages.
//!
//! The resident ID number is sensitive personal information under PIPL: [`ResidentId`] never
//! prints the full number through `Debug` and has no `Display`; the one caller that must encrypt
//! it uses [`ResidentId::expose`].

pub mod application;
pub mod form;
pub mod identity;
pub mod member;
pub mod person;
pub mod store;
pub mod transfer;

pub use identity::{
    check_minimum_age, CreditCode, CreditCodeError, IdNumberError, ResidentId, Sex, MINIMUM_AGE,
};
pub use person::{
    EmploymentForm, MobilePhone, PersonName, PersonNameError, PhoneError, UnknownEmploymentForm,
};
