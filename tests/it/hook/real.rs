//! The real Claude Code, offline, answering through openfeedback's hook.
