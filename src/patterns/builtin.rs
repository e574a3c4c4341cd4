//! The built-in pattern files, compiled into the binary from `patterns/` at the repository
//! root. One file per agent; `generic` is the fallback that always applies.

/// `(file stem, contents)`, in load order.
pub const FILES: &[(&str, &str)] = &[("generic", include_str!("../../patterns/generic.toml"))];
