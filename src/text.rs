//! Cutting text to a channel's limits with a visible marker.
//!
//! Free text loses its end; terminal text loses its top, because the prompt line is at the
//! bottom and must always be shown.

/// Keep the start of `text`, at most `limit` characters including the marker.
pub fn cut_end(text: &str, limit: usize, marker: &str) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let keep = limit.saturating_sub(marker.chars().count() + 1);
    let mut out: String = text.chars().take(keep).collect();
    out.push('\n');
    out.push_str(marker);
    out
}

/// Keep the end of `text` (the prompt of a terminal screen), cutting whole lines off the top.
pub fn cut_top(text: &str, limit: usize, marker: &str) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let budget = limit.saturating_sub(marker.chars().count() + 1);
    let mut kept: Vec<&str> = Vec::new();
    let mut used = 0;
    for line in text.lines().rev() {
        let cost = line.chars().count() + 1;
        if used + cost > budget {
            if kept.is_empty() {
                // A single huge last line: keep its end.
                let tail: String = line
                    .chars()
                    .rev()
                    .take(budget)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                return format!("{marker}\n{tail}");
            }
            break;
        }
        used += cost;
        kept.push(line);
    }
    kept.reverse();
    format!("{marker}\n{}", kept.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(cut_end("abc", 10, "…"), "abc");
        assert_eq!(cut_top("a\nb", 10, "…"), "a\nb");
    }

    #[test]
    fn cut_end_keeps_the_start_within_the_limit() {
        let cut = cut_end(&"x".repeat(50), 20, "[cut]");
        assert_eq!(cut, format!("{}\n[cut]", "x".repeat(14)));
        assert_eq!(cut.chars().count(), 20);
    }

    #[test]
    fn cut_top_keeps_whole_bottom_lines() {
        let screen = "one\ntwo\nthree\nProceed? [y/N]";
        assert_eq!(cut_top(screen, 27, "[cut]"), "[cut]\nthree\nProceed? [y/N]");
        assert_eq!(cut_top(screen, 26, "[cut]"), "[cut]\nProceed? [y/N]");
    }

    #[test]
    fn cut_top_keeps_the_end_of_one_huge_line() {
        let cut = cut_top(&format!("{}END", "x".repeat(100)), 20, "[cut]");
        assert!(cut.starts_with("[cut]\n") && cut.ends_with("END"));
        assert!(cut.chars().count() <= 20);
    }
}
