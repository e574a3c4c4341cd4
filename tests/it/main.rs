//! The integration suite: one test binary that runs the real `openfeedback` against fakes.

mod support;

mod agents;
mod agents_e2e;
mod bench;
mod cli;
mod discord;
mod discord_fake;
mod failover;
mod faults;
mod hook;
mod patterns;
mod rules;
mod sessions;
mod soak;
mod telegram;
mod web;
mod wrap;
