//! Secrets scrubbed from screen text before it leaves the machine.
//!
//! The context of a prompt is whatever the agent printed: environment dumps, `curl` lines with
//! headers, config files. Before it is sent to a chat, well-known secret shapes are replaced with
//! `[REDACTED]`: API keys (OpenAI/Anthropic `sk-…`, GitHub `ghp_…`, Slack `xox…`, AWS `AKIA…`,
//! Google `AIza…`, GitLab `glpat-…`, Stripe `sk_live_…`, Telegram bot tokens, JWTs),
//! `Bearer`/`Basic` credentials, PEM private key blocks, credentials in URLs, and
//! `password=`-style assignments. It is a safety net, not a guarantee.

use std::sync::LazyLock;

use regex::Regex;

/// What a redacted value is replaced with.
pub const MASK: &str = "[REDACTED]";

struct Rule {
    re: Regex,
    /// The replacement, with `$1`-style references to the kept prefix.
    with: &'static str,
}

// Values end at ASCII white space (`[:space:]`), and token digits are ASCII: Unicode `\s` and
// `\d` in these classes cost milliseconds to compile and a few hundred KiB to hold, and a value
// that runs on over a no-break space is masked further, which is the safe side.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |re: &str, with: &'static str| Rule {
        re: Regex::new(re).expect("redaction regex"),
        with,
    };
    vec![
        // A PEM private key block; a block cut off by the end of the context is masked to the
        // end.
        rule(
            r"(?s)-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\z)",
            "[REDACTED PRIVATE KEY]",
        ),
        rule(r"\bsk-[A-Za-z0-9_\-]{16,}", MASK),
        rule(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}", MASK),
        rule(r"\bgh[pousr]_[A-Za-z0-9]{20,}", MASK),
        rule(r"\bgithub_pat_[A-Za-z0-9_]{20,}", MASK),
        rule(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", MASK),
        rule(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", MASK),
        rule(r"\bAIza[0-9A-Za-z_\-]{35}", MASK),
        rule(r"\bglpat-[A-Za-z0-9_\-]{20,}", MASK),
        rule(r"\b[0-9]{8,10}:[A-Za-z0-9_\-]{35}\b", MASK),
        rule(
            r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
            MASK,
        ),
        // user:password@host in URLs.
        rule(r"(://[^[:space:]:/@]+:)[^[:space:]@/]+@", "$1[REDACTED]@"),
        // --password x, --token=x, --api-key x
        rule(
            r"(?i)(--?(?:password|passwd|token|secret|api-?key|access-?key)(?:\s+|=))[^[:space:]-][^[:space:]]*",
            "$1[REDACTED]",
        ),
        // PASSWORD=x, api_key: "x", "secret": "x", client_secret='x'
        rule(
            r#"(?i)(\b[A-Za-z0-9_.\-]*(?:password|passwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|credentials?)[A-Za-z0-9_.\-]*"?\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^[:space:]"',;&]+)"#,
            "$1[REDACTED]",
        ),
    ]
});

/// `Bearer x` / `Basic x`: only when the value looks like a credential (it has a digit or a
/// symbol), so "Basic authentication" stays readable.
static SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=\-]{8,})").expect("scheme regex")
});

/// Compile the patterns now: the first prompt would otherwise wait for it (a few ms).
pub fn prepare() {
    LazyLock::force(&RULES);
    LazyLock::force(&SCHEME);
}

/// `text` with every recognised secret replaced.
pub fn redact(text: &str) -> String {
    let mut text = text.to_owned();
    for rule in RULES.iter() {
        if rule.re.is_match(&text) {
            text = rule.re.replace_all(&text, rule.with).into_owned();
        }
    }
    SCHEME
        .replace_all(&text, |caps: &regex::Captures<'_>| {
            let value = &caps[3];
            if value.bytes().any(|b| !b.is_ascii_alphabetic()) {
                format!("{}{}{MASK}", &caps[1], &caps[2])
            } else {
                caps[0].to_owned()
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn api_keys_are_masked() {
        let cases = [
            "export OPENAI_KEY sk-proj-AbCdEf0123456789xyzXYZ",
            "key sk-ant-api03-AbCdEf0123456789_xyz-XYZ",
            "token ghp_0123456789abcdefghijABCDEFGHIJ",
            "pat github_pat_11ABCDEFG0123456789_abcdefghij",
            "slack xoxb-123456789012-abcdefABCDEF",
            "aws AKIAIOSFODNN7EXAMPLE done",
            "gcp AIzaSyA-0123456789abcdefghijklmnopqrstu",
            "gitlab glpat-abcdefghij0123456789",
            "stripe sk_live_0123456789abcdefABCD",
            "bot 123456789:AAEhBP0av28Xc0C2q2aWj9Ba-pPCv3Ei_E8",
        ];
        for case in cases {
            let out = redact(case);
            assert!(out.contains("[REDACTED]"), "{case} -> {out}");
            let secret = case.split_whitespace().last().unwrap();
            let secret = if secret == "done" {
                "AKIAIOSFODNN7EXAMPLE"
            } else {
                secret
            };
            assert!(!out.contains(secret), "{case} -> {out}");
        }
    }

    #[test]
    fn bearer_and_basic_credentials_are_masked() {
        let out = redact("curl -H 'Authorization: Bearer abc.DEF-123_456/xyz=' https://x");
        assert_eq!(
            out, "curl -H 'Authorization: Bearer [REDACTED]' https://x",
            "{out}"
        );
        let out = redact("Authorization: Basic dXNlcjpwYXNzd29yZA==");
        assert_eq!(out, "Authorization: Basic [REDACTED]");
        assert_eq!(redact("Basic authentication"), "Basic authentication");
    }

    #[test]
    fn pem_blocks_are_masked_even_when_cut() {
        let text = "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA\n\
                    -----END OPENSSH PRIVATE KEY-----\nafter";
        assert_eq!(redact(text), "before\n[REDACTED PRIVATE KEY]\nafter");
        let cut = "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC";
        assert_eq!(redact(cut), "x\n[REDACTED PRIVATE KEY]");
        let public = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----";
        assert_eq!(redact(public), public);
    }

    #[test]
    fn assignments_are_masked() {
        assert_eq!(
            redact("DB_PASSWORD=hunter2 psql"),
            "DB_PASSWORD=[REDACTED] psql"
        );
        assert_eq!(
            redact(r#"{"client_secret": "s3cr3t", "user": "ann"}"#),
            r#"{"client_secret": [REDACTED], "user": "ann"}"#
        );
        assert_eq!(redact("api_key: 'abc def'"), "api_key: [REDACTED]");
        assert_eq!(
            redact("mysql --password hunter2 -u root"),
            "mysql --password [REDACTED] -u root"
        );
        assert_eq!(
            redact("git clone https://ann:hunter2@example.com/r.git"),
            "git clone https://ann:[REDACTED]@example.com/r.git"
        );
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let text = "Run shell command?\n  rm -rf build/ && npm test\nauthor: ann\n\
                    (Y)es/(N)o [Yes]: ";
        assert_eq!(redact(text), text);
        let path = "Edit src/tokenizer.rs? [y/n]";
        assert_eq!(redact(path), path);
    }
}
