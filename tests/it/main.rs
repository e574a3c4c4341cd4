//! The integration suite: one test binary that runs the real `openfeedback` against fakes.

mod support;

mod cli;
mod hook;
mod patterns;
mod telegram;
