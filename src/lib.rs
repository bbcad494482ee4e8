//! strikevote: runs a union's strike authorization vote from roster to certified result.
//!
//! See docs/ARCHITECTURE.md for how the modules fit together.

pub mod account;
pub mod api;
pub mod approvals;
pub mod audit;
pub mod ballot;
pub mod cli;
pub mod db;
pub mod demo;
pub mod election;
pub mod error;
pub mod http;
pub mod log;
pub mod metrics;
pub mod notices;
pub mod roster;
pub mod routes;
pub mod sealing_code;
pub mod settings;
pub mod startup;

pub mod teller;
pub use strikevote_core::{tally, text};
pub mod token;
pub mod web;
