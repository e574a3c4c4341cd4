//! The integration suite: one test binary that runs the real `openfeedback` against fakes.

mod support;

mod cli;
mod discord;
mod discord_fake;
mod patterns;
mod sessions;
mod telegram;
mod web;
