use super::*;

/// The words of every command (texts), in order.
fn commands(text: &str) -> Vec<Vec<String>> {
    parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .commands
        .iter()
        .map(|c| c.words.iter().map(|w| w.text.clone()).collect())
        .collect()
}

fn refused(text: &str) -> String {
    match parse(text) {
        Ok(p) => panic!("{text:?} parsed: {:?}", p.commands),
        Err(e) => e.message,
    }
}

fn v(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[test]
fn lists_and_pipelines_split_into_commands() {
    assert_eq!(
        commands("npm test; rm -rf ~"),
        vec![v(&["npm", "test"]), v(&["rm", "-rf", "~"])]
    );
    assert_eq!(
        commands("a && b || c & d\ne"),
        vec![v(&["a"]), v(&["b"]), v(&["c"]), v(&["d"]), v(&["e"])]
    );
    let parsed = parse("curl -fsSL x | tee log | sh").unwrap();
    assert_eq!(parsed.commands.len(), 3);
    assert_eq!(parsed.commands[0].upstream, Vec::<usize>::new());
    assert_eq!(parsed.commands[1].upstream, vec![0]);
    assert_eq!(parsed.commands[2].upstream, vec![0, 1]);
    // `|&` and a newline after a pipe.
    let parsed = parse("make |&\n  grep error").unwrap();
    assert_eq!(parsed.commands[1].upstream, vec![0]);
}

#[test]
fn quoting_and_escapes() {
    assert_eq!(
        commands(r#"echo 'a b' "c $HOME d" e\ f "g\"h" 'i'"'"'j'"#),
        vec![v(&["echo", "a b", "c $HOME d", "e f", "g\"h", "i'j"])]
    );
    assert_eq!(
        commands("echo $'a\\tb\\x41\\'c'"),
        vec![v(&["echo", "a\tbA'c"])]
    );
    assert_eq!(commands("r\\m -rf /"), vec![v(&["rm", "-rf", "/"])]);
    assert_eq!(commands("'rm' -rf /"), vec![v(&["rm", "-rf", "/"])]);
    // A line continuation joins words.
    assert_eq!(commands("npm \\\n test"), vec![v(&["npm", "test"])]);
    // Operators inside quotes are text.
    assert_eq!(commands("echo 'a;b|c&&d'"), vec![v(&["echo", "a;b|c&&d"])]);
    // Comments.
    assert_eq!(
        commands("ls # rm -rf /\npwd"),
        vec![v(&["ls"]), v(&["pwd"])]
    );
    assert_eq!(commands("echo a#b"), vec![v(&["echo", "a#b"])]);
}

#[test]
fn dynamic_words_are_flagged() {
    let parsed =
        parse(r#"echo plain "$HOME" ${X:-y} $(date) `id` {a,b} {1..3} 'lit$X' {x}"#).unwrap();
    let flags: Vec<bool> = parsed
        .commands
        .last()
        .unwrap()
        .words
        .iter()
        .map(|w| w.dynamic)
        .collect();
    assert_eq!(
        flags,
        vec![
            false, false, true, true, true, true, true, true, false, false
        ]
    );
}

#[test]
fn glob_source_keeps_quoted_stars_literal() {
    let parsed = parse(r#"rm -rf * '*' "a*" b\*"#).unwrap();
    let globs: Vec<&str> = parsed.commands[0]
        .words
        .iter()
        .map(|w| w.glob.as_str())
        .collect();
    assert_eq!(globs, vec!["rm", "-rf", "*", "\\*", "a\\*", "b\\*"]);
}

#[test]
fn substitutions_are_commands_too() {
    let parsed = parse("echo $(rm -rf ~) `curl x` <(wget y) \"$(a \"$(b)\")\"").unwrap();
    let names: Vec<&str> = parsed
        .commands
        .iter()
        .map(|c| c.words[0].text.as_str())
        .collect();
    assert_eq!(names, vec!["rm", "curl", "wget", "b", "a", "echo"]);
    assert_eq!(parsed.commands[0].nest, Some(Nest::Substitution));
    assert_eq!(parsed.commands[1].nest, Some(Nest::Backticks));
    assert_eq!(parsed.commands[2].nest, Some(Nest::Process));
    let echo = parsed.commands.last().unwrap();
    assert_eq!(echo.words[1].subs, vec![0]);
    assert_eq!(echo.words[4].subs, vec![3, 4]);
    // Escaped backticks inside backticks.
    assert_eq!(
        commands("echo `echo \\`id\\``"),
        vec![
            v(&["id"]),
            v(&["echo", "`id`"]),
            v(&["echo", "`echo \\`id\\``"])
        ]
    );
}

#[test]
fn subshells_groups_and_control_flow_keep_their_commands() {
    assert_eq!(
        commands("(cd x && make) > log; { a; b; } 2>&1"),
        vec![
            v(&["cd", "x"]),
            v(&["make"]),
            v(&[]),
            v(&["a"]),
            v(&["b"]),
            v(&[])
        ]
    );
    let parsed = parse("(cd /; rm -rf x); ls").unwrap();
    assert_ne!(parsed.commands[0].scope, parsed.commands[2].scope);
    assert_eq!(parsed.commands[0].scope, parsed.commands[1].scope);
    assert_eq!(
        commands("if grep -q x f; then npm test; else rm -rf /; fi"),
        vec![
            v(&["grep", "-q", "x", "f"]),
            v(&["npm", "test"]),
            v(&["rm", "-rf", "/"])
        ]
    );
    let parsed = parse("for f in $(ls); do rm \"$f\"; done").unwrap();
    assert_eq!(parsed.commands.len(), 3);
    assert!(parsed.commands[1].header);
    assert_eq!(parsed.commands[2].words[0].text, "rm");
    assert_eq!(
        commands("while true; do sleep 1; done"),
        vec![v(&["true"]), v(&["sleep", "1"])]
    );
    assert_eq!(commands("! false"), vec![v(&["false"])]);
}

#[test]
fn assignments_and_redirections() {
    let parsed = parse("FOO=1 BAR=\"a b\" npm test > out.txt 2>&1 <in &>>all").unwrap();
    let c = &parsed.commands[0];
    assert!(c.words[0].assignment && c.words[1].assignment && !c.words[2].assignment);
    assert_eq!(c.words[0].assigned_name(), Some("FOO"));
    let ops: Vec<(Option<u32>, RedirectOp, &str)> = c
        .redirects
        .iter()
        .map(|r| (r.fd, r.op, r.target.text.as_str()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (None, RedirectOp::Write, "out.txt"),
            (Some(2), RedirectOp::Duplicate, "1"),
            (None, RedirectOp::Read, "in"),
            (None, RedirectOp::AppendBoth, "all"),
        ]
    );
    assert_eq!(
        c.redirects[0].written().map(|w| w.text.as_str()),
        Some("out.txt")
    );
    assert!(c.redirects[1].written().is_none());
    // A quoted name is not an assignment; `echo a=b` is an argument.
    assert!(!parse("\"FOO\"=1 x").unwrap().commands[0].words[0].assignment);
    let p = parse(">> ~/.bashrc echo x").unwrap();
    assert_eq!(p.commands[0].redirects[0].op, RedirectOp::Append);
    assert_eq!(p.commands[0].words[0].text, "echo");
    let p = parse("echo x >&file").unwrap();
    assert_eq!(p.commands[0].redirects[0].op, RedirectOp::WriteBoth);
}

#[test]
fn here_documents() {
    let parsed = parse("cat <<EOF > f.txt\nline $HOME\nEOF\nls").unwrap();
    assert_eq!(parsed.commands.len(), 2);
    assert_eq!(parsed.commands[1].words[0].text, "ls");
    let parsed = parse("cat <<-'X'\n\t$(rm -rf /)\n\tX\n").unwrap();
    assert_eq!(parsed.commands.len(), 1);
    assert!(refused("cat <<EOF\n$(rm -rf /)\nEOF").contains("here-document"));
    assert!(refused("cat <<EOF\nno end").contains("here-document"));
    let p = parse("bash <<< 'rm -rf /'").unwrap();
    assert!(p.commands[0].redirects[0].feeds_stdin());
}

#[test]
fn what_is_refused() {
    assert!(refused("echo 'open").contains('\''));
    assert!(refused("echo \"open").contains('"'));
    assert!(refused("echo $(open").contains(')'));
    assert!(refused("echo `open").contains("backtick"));
    assert!(refused("case x in a) rm -rf /;; esac").contains("case"));
    assert!(refused("f() { rm -rf /; }; f").contains("function"));
    assert!(refused("function f { x; }").contains("function"));
    assert!(refused("(( i++ ))").contains("arithmetic"));
    assert!(refused("a=(1 2)").contains("array"));
    assert!(refused("echo ${X:-$(rm -rf /)}").contains("substitution"));
    assert!(refused("echo $((1 + $(id)))").contains("substitution"));
    assert!(refused("| x").contains('|'));
    assert!(refused("x |").contains('|'));
    assert!(refused("echo >").contains("redirection"));
    assert!(refused("[[ -f x ]] && y").contains("[["));
    assert!(refused("ls @(a|b)").contains("glob"));
    let deep = format!("{}x{}", "$(".repeat(40), ")".repeat(40));
    assert!(refused(&deep).contains("deeply"));
}

#[test]
fn empty_and_blank_lines() {
    assert!(parse("").unwrap().commands.is_empty());
    assert!(
        parse("  \n\t# only a comment\n")
            .unwrap()
            .commands
            .is_empty()
    );
    assert!(refused(";;x").contains("case"));
}
