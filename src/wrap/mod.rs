//! `openfeedback wrap`: run an agent under a pseudo-terminal and answer its prompts remotely.

pub mod prompt;
