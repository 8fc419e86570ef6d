//! Online consultation (在线咨询) with the union's lawyers (issue #6): the categories a worker
//! picks from and the lawyer roster (云律团) they browse. Facts: DOMAIN.md, "垦利 云律团".

pub mod category;
pub mod early_warning;
pub mod lawyer;
pub mod message;
pub mod sla;
pub mod store;
pub mod thread;
