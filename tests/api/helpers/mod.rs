//! Test fixtures, by concern: databases (database), the CLI and what it sets up (cli), running
//! servers (app), and a browser-like client (web).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::prelude::*;
use diesel::sql_types::Text;
use strikevote::db::{self, DatabaseUrl, Pool, PooledConn};
use strikevote::settings::Settings;
use strikevote::startup::Application;
use tempfile::TempDir;

mod app;
mod cli;
mod database;
mod pdf;
mod relay;
mod smtp;
mod web;
mod witness;

pub use app::*;
pub use cli::*;
pub use database::*;
pub use pdf::*;
pub use relay::*;
pub use smtp::*;
pub use web::*;
pub use witness::*;
