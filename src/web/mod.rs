//! The pages: members' (ballot, receipt, verification), the public election pages and the
//! officials' (sign-in, elections, accounts, the builder), drawn with askama on the HTTP
//! toolkit of [`crate::http`].

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod builder;
pub mod certificate;
pub mod checklist;
pub mod i18n;
#[cfg(test)]
mod locale_check;
pub mod member;
pub mod page;
pub mod pdf;
pub mod public;
pub mod result;
