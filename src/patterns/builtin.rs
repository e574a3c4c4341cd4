//! The built-in pattern files, compiled into the binary from `patterns/` at the repository
//! root. One file per agent; `generic` is the fallback that always applies (it is tried after
//! the agent's own patterns whatever its place here).

/// `(file stem, contents)`, in load order.
pub const FILES: &[(&str, &str)] = &[
    ("aider", include_str!("../../patterns/aider.toml")),
    ("amazon-q", include_str!("../../patterns/amazon-q.toml")),
    (
        "claude-code",
        include_str!("../../patterns/claude-code.toml"),
    ),
    ("codex", include_str!("../../patterns/codex.toml")),
    ("copilot", include_str!("../../patterns/copilot.toml")),
    ("gemini", include_str!("../../patterns/gemini.toml")),
    ("goose", include_str!("../../patterns/goose.toml")),
    ("generic", include_str!("../../patterns/generic.toml")),
];

#[cfg(test)]
mod tests;
