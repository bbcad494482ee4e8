//! Integration tests: every scenario runs against a SQLite file and a real PostgreSQL database.

mod helpers;

mod ballot_form;
mod browser;
mod challenges;
mod cli;
mod crashes;
mod health;
mod hostile_input;
mod interop;
mod log;
mod metrics;
mod notices;
mod officials;
mod openapi;
mod operations;
mod roles;
mod roster;
mod schedule;
mod sealing;
mod security;
mod small_locals;
mod teller_attacks;
mod tellers;
mod tokens;
mod two_person;
mod voting;
mod witnesses;
