//! Entry points for the fuzz targets (`fuzz/`, built with cargo-fuzz) and for the seeded loops
//! in the unit tests that keep them working on stable. Not part of the API: compiled only with
//! the `fuzzing` feature (and in tests).
//!
//! Each function takes arbitrary bytes and must not panic; where a property can be checked
//! (a token never in an error, sanitised feedback free of control characters, skimming never
//! changing the screen) it asserts it.

use std::path::Path;

/// The pattern file loader: any text either compiles or yields an error that names a line of
/// the file; what compiles also lists cleanly.
pub fn pattern_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = crate::patterns::SourceName::File("fuzz.toml".into());
    match crate::patterns::compile::compile_file("fuzz", &source, text) {
        Ok(file) => {
            for pattern in &file.patterns {
                assert!(
                    !pattern.choices.is_empty(),
                    "{}: no choices",
                    pattern.full_id
                );
            }
        }
        Err(error) => {
            if let Some(line) = error.line {
                assert!(
                    line >= 1 && line <= text.lines().count() + 1,
                    "line {line} of a {}-line file",
                    text.lines().count()
                );
            }
            let _ = error.to_string();
        }
    }
}

/// The key-sequence parser, the steps it plans on screens with and without bracketed paste,
/// and the feedback sanitiser.
pub fn key_spec(data: &[u8]) {
    use crate::wrap::keys::{KeySpec, MAX_FEEDBACK_CHARS, sanitize_feedback};
    use crate::wrap::prompt::{ScreenView, Step};
    let text = String::from_utf8_lossy(data);
    let (spec, feedback) = text.split_once('\u{0}').unwrap_or((&text, &text));
    let clean = sanitize_feedback(feedback);
    assert!(
        !clean
            .chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
        "control characters left in {clean:?}"
    );
    assert!(clean.chars().count() <= MAX_FEEDBACK_CHARS);
    assert_eq!(clean.trim(), clean, "untrimmed");
    match KeySpec::parse(spec) {
        Ok(keys) => {
            for paste in [false, true] {
                let screen = ScreenView {
                    bracketed_paste: paste,
                    application_cursor: paste,
                    ..ScreenView::default()
                };
                for step in keys.steps(&screen, &clean) {
                    if let Step::Write(bytes) = step
                        && !keys.uses_feedback()
                    {
                        assert!(!bytes.is_empty() || spec.is_empty(), "an empty write");
                    }
                }
            }
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

/// The token the config target plants; no error message may show it.
const TOKEN: &str = "7350917264:AAF-fuzzing-token-must-never-show";

/// The config loader: any text either validates (and its plan is computed) or yields an error
/// naming the file; an error never shows the bot token.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |_: &str| None;
    let path = Path::new("/fuzz/config.toml");
    let planted = text.matches(TOKEN).count() == 1
        && text
            .lines()
            .any(|l| l.trim() == format!("bot_token = \"{TOKEN}\""));
    match crate::config::Settings::parse(Some(path), text, &env) {
        Ok(settings) => {
            for provider in [
                None,
                Some(crate::provider::ProviderName::Telegram),
                Some(crate::provider::ProviderName::Web),
            ] {
                if let Err(error) = settings.plan(provider, None) {
                    assert!(!error.to_string().contains(TOKEN), "{error}");
                }
            }
        }
        Err(error) => {
            let shown = error.to_string();
            assert!(shown.contains("/fuzz/config.toml"), "{shown}");
            if planted {
                assert!(!shown.contains(TOKEN), "the token leaked: {shown}");
            }
        }
    }
}

/// The screen model (skimming and plain, compared) and the detector with every built-in
/// pattern, fed arbitrary output and resizes.
pub fn screen(data: &[u8]) {
    crate::wrap::fuzz_screen(data);
}

#[cfg(test)]
mod tests {
    //! The fuzz targets as seeded loops: every seed in `fuzz/seeds/<target>/`, then mutations
    //! of them (bit flips, byte runs, splices). `OPENFEEDBACK_FUZZ_ITERS` sets how many per
    //! target (default: a few hundred, a second or two in all); a long run is the stable
    //! stand-in for `cargo fuzz`.

    use crate::wrap::skim::tests::Rng;

    fn seeds(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds")
            .join(target);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
        const BYTES: &[u8] = b"\x00\x1b\r\n\t[]{}<>=\"'\\#;:0123456789?*+()|^$.\xff\xe2\x80";
        let mut data = rng.pick(seeds).clone();
        for _ in 0..=rng.below(8) {
            let at = rng.below(data.len() + 1);
            match rng.below(5) {
                0 if at < data.len() => data[at] ^= 1 << rng.below(8),
                1 => data.insert(at, *rng.pick(BYTES)),
                2 if at < data.len() => {
                    let end = (at + rng.below(16)).min(data.len());
                    data.drain(at..end);
                }
                3 => {
                    let other = rng.pick(seeds);
                    let from = rng.below(other.len() + 1);
                    let to = (from + rng.below(64)).min(other.len());
                    let piece = other[from..to].to_vec();
                    data.splice(at..at, piece);
                }
                _ => {
                    let byte = *rng.pick(BYTES);
                    let run = vec![byte; rng.below(64)];
                    data.splice(at..at, run);
                }
            }
        }
        data
    }

    fn run(target: &str, default_iters: usize, f: fn(&[u8])) {
        run_with(target, usize::MAX, default_iters, f);
    }

    /// `run` with at most `max_seeds` seeds (the smallest), for slow targets in debug builds.
    fn run_with(target: &str, max_seeds: usize, default_iters: usize, f: fn(&[u8])) {
        let mut seeds = seeds(target);
        seeds.sort_by_key(Vec::len);
        seeds.truncate(max_seeds);
        assert!(!seeds.is_empty(), "no seeds for {target}");
        for seed in &seeds {
            f(seed);
        }
        let iters = std::env::var("OPENFEEDBACK_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_iters);
        let mut rng = Rng::new(0x00f0_22ed);
        for _ in 0..iters {
            f(&mutate(&mut rng, &seeds));
        }
    }

    #[test]
    fn patterns_target() {
        run("patterns", 300, super::pattern_file);
    }

    #[test]
    fn keys_target() {
        run("keys", 2000, super::key_spec);
    }

    #[test]
    fn config_target() {
        run("config", 1000, super::config);
        // The seeds are real configurations: they must load.
        for seed in seeds("config") {
            let text = String::from_utf8(seed).unwrap();
            crate::config::Settings::parse(None, &text, &|_| None)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
    }

    #[test]
    fn screen_target() {
        // Debug builds render slowly: the smallest seeds and few mutations by default.
        run_with("screen", 6, 40, super::screen);
    }
}
