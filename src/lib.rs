//! openfeedback puts a human in the loop of AI coding agents.
//!
//! `send` posts an approval request to a chat (or a local page) and waits for the answer;
//! `wrap` runs an agent under a pseudo-terminal and answers its prompts from the human's phone.
//! Both go through one [`gate::Gate`] over a chain of [`provider::Provider`]s.

pub mod answer;
pub mod ask;
pub mod audit;
pub mod cli;
pub mod config;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod gate;
pub mod hook;
pub mod http;
pub mod i18n;
pub mod init;
pub mod log;
pub mod paths;
pub mod patterns;
pub mod provider;
pub mod providers;
pub mod relay;
pub mod request;
pub mod rules;
pub mod run;
pub mod secret;
pub mod send;
pub mod signal;
pub mod text;
pub mod token;
pub mod wrap;
