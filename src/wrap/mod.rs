//! `openfeedback wrap`: run an agent under a pseudo-terminal and answer its prompts remotely.

pub mod detect;
pub mod keys;
pub mod plan;
pub mod prompt;
