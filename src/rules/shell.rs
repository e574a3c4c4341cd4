//! A small parser for the shell command lines agents ask to run: enough of the POSIX shell
//! grammar (plus the bash forms agents use) to find every simple command a line would run.
//!
//! It is deliberately not a shell. It reads words (quoting, escapes, `$'…'`), splits on
//! `;` `&&` `||` `|` `&` and newlines, descends into subshells `( )`, groups `{ }`, command
//! substitutions `$( )` and backticks, process substitutions `<( )` `>( )`, and the bodies of
//! `if`/`while`/`for` (their keywords are skipped, their commands kept). Redirections are kept
//! with their targets. Anything it cannot read with certainty is an error, never a guess:
//! `case`, function definitions, arithmetic commands, arrays, here-documents whose body runs
//! substitutions, and `${…}` holding a substitution. An error means "ask a human".
//!
//! Words keep a flag for values only known at run time (`$VAR`, `$(…)`, `{a,b}`): a rule can
//! never approve such a word, because nobody can say now what it will be.
//!
//! The output is flat: every simple command, in the order the shell would start them (a
//! substitution's commands before the command that uses its output), each with the commands
//! whose output reaches its standard input (earlier stages of its pipeline).

use std::fmt;
use std::ops::Range;

/// Deepest nesting of substitutions and subshells (a longer chain is refused).
const MAX_DEPTH: usize = 24;
/// Longest command line parsed (in characters).
const MAX_CHARS: usize = 64 * 1024;

/// One word of a command, after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    /// The word as the command will see it; expansions are left as written (`$HOME`).
    pub text: String,
    /// The word as a glob: unquoted `*`, `?`, `[` kept, quoted ones (and `\`) escaped with `\`.
    pub glob: String,
    /// Part of the word is only known at run time: `$VAR`, `${…}`, `$(…)`, backticks,
    /// `$((…))`, `<(…)`, or brace expansion `{a,b}`.
    pub dynamic: bool,
    /// Commands run to produce this word (indices into [`Parsed::commands`]).
    pub subs: Vec<usize>,
    /// Starts with an unquoted `NAME=` (an assignment when it precedes the command name).
    pub assignment: bool,
    /// The word as written, for display.
    pub source: String,
}

impl Word {
    /// A plain word (for tests and synthetic arguments).
    pub fn plain(text: &str) -> Word {
        Word {
            text: text.to_owned(),
            glob: escape_glob(text),
            source: text.to_owned(),
            ..Word::default()
        }
    }

    /// The variable name of an assignment word (`FOO` of `FOO=1`).
    pub fn assigned_name(&self) -> Option<&str> {
        if !self.assignment {
            return None;
        }
        let eq = self.text.find('=')?;
        Some(self.text[..eq].trim_end_matches('+'))
    }
}

/// Escape the glob characters of `text`.
pub fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What a redirection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectOp {
    /// `<`
    Read,
    /// `>`, `>|`
    Write,
    /// `>>`
    Append,
    /// `<>`
    ReadWrite,
    /// `&>`, `>&file`
    WriteBoth,
    /// `&>>`
    AppendBoth,
    /// `<&n`, `>&n`, `>&-`: another descriptor, no file.
    Duplicate,
    /// `<<`, `<<-`: the target is the delimiter.
    HereDoc,
    /// `<<<`: the target is the text.
    HereString,
}

/// A redirection and its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub fd: Option<u32>,
    pub op: RedirectOp,
    pub target: Word,
}

impl Redirect {
    /// The file this redirection writes to (created, truncated or appended).
    pub fn written(&self) -> Option<&Word> {
        matches!(
            self.op,
            RedirectOp::Write
                | RedirectOp::Append
                | RedirectOp::ReadWrite
                | RedirectOp::WriteBoth
                | RedirectOp::AppendBoth
        )
        .then_some(&self.target)
    }

    /// The redirection replaces standard input (a file, a here-document, a string).
    pub fn feeds_stdin(&self) -> bool {
        matches!(self.fd, None | Some(0))
            && matches!(
                self.op,
                RedirectOp::Read | RedirectOp::HereDoc | RedirectOp::HereString
            )
    }
}

/// Where a command sits, when it is not at the top level of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nest {
    /// `$( … )`
    Substitution,
    /// `` ` … ` ``
    Backticks,
    /// `<( … )` or `>( … )`
    Process,
}

impl Nest {
    pub fn describe(self) -> &'static str {
        match self {
            Nest::Substitution => "$( )",
            Nest::Backticks => "` `",
            Nest::Process => "<( )",
        }
    }
}

/// One simple command: words and redirections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// Assignments first (`FOO=1`), then the command name and its arguments.
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// Commands whose output reaches this command's standard input (earlier pipeline stages).
    pub upstream: Vec<usize>,
    /// Inside a substitution (the innermost one).
    pub nest: Option<Nest>,
    /// A `for NAME in WORDS` header: it runs nothing itself (its substitutions do).
    pub header: bool,
    /// The shell environment it runs in: 0 is the line's own shell; subshells and
    /// substitutions get their own (see [`Parsed::scopes`]), so a `cd` inside them does not
    /// move the commands outside.
    pub scope: usize,
}

/// A parsed command line: every simple command in it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub commands: Vec<Command>,
    /// The enclosing scope of each scope (`scopes[0]` is 0, the top level).
    pub scopes: Vec<usize>,
}

/// Why a command line could not be read with certainty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// Character offset where the problem was seen.
    pub at: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

impl std::error::Error for ParseError {}

/// Parse a command line (several lines are several commands).
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let mut commands = Vec::new();
    let mut scopes = vec![0];
    parse_into(text, &mut commands, &mut scopes, 0, 0)?;
    Ok(Parsed { commands, scopes })
}

/// Parse `text` in `scope` and append its commands to `out`; returns the range appended.
fn parse_into(
    text: &str,
    out: &mut Vec<Command>,
    scopes: &mut Vec<usize>,
    scope: usize,
    depth: usize,
) -> Result<Range<usize>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_CHARS {
        return Err(ParseError {
            message: format!("command line longer than {MAX_CHARS} characters"),
            at: 0,
        });
    }
    let start = out.len();
    let mut parser = Parser {
        s: chars,
        i: 0,
        out,
        scopes,
        scope,
        depth,
        heredocs: Vec::new(),
    };
    parser.list(End::Eof)?;
    if !parser.heredocs.is_empty() {
        return Err(parser.fail("here-document without its body"));
    }
    Ok(start..parser.out.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Paren,
}

struct HereDoc {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
}

struct Parser<'a> {
    s: Vec<char>,
    i: usize,
    out: &'a mut Vec<Command>,
    scopes: &'a mut Vec<usize>,
    /// The scope commands parsed now belong to.
    scope: usize,
    depth: usize,
    heredocs: Vec<HereDoc>,
}

/// Words that are grammar, not commands, where a command could start.
const SKIPPED_KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}",
];
const REFUSED_KEYWORDS: &[&str] = &["case", "esac", "function", "coproc", "select"];

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.s.get(self.i + n).copied()
    }

    fn fail(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            at: self.i.min(self.s.len()),
        }
    }

    /// Spaces, tabs, line continuations and comments (not newlines).
    fn blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => self.i += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.i += 2,
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// A list of pipelines separated by `;`, `&`, `&&`, `||` and newlines.
    fn list(&mut self, end: End) -> Result<(), ParseError> {
        loop {
            self.blanks();
            match self.peek() {
                None if end == End::Eof => return Ok(()),
                None => return Err(self.fail("missing `)`")),
                Some(')') if end == End::Paren => return Ok(()),
                Some(')') => return Err(self.fail("unexpected `)`")),
                Some('\n') => {
                    self.i += 1;
                    self.here_documents()?;
                }
                Some(';') => {
                    if self.peek_at(1) == Some(';') || self.peek_at(1) == Some('&') {
                        return Err(self.fail("`;;` (case syntax) is not supported"));
                    }
                    self.i += 1;
                }
                Some('&') if self.peek_at(1) != Some('>') => {
                    self.i += 1;
                    if self.peek() == Some('&') {
                        self.i += 1;
                    }
                }
                Some('|') if self.peek_at(1) == Some('|') => self.i += 2,
                Some('|') => return Err(self.fail("`|` without a command before it")),
                Some(_) => self.pipeline()?,
            }
        }
    }

    /// Commands joined by `|` (or `|&`).
    fn pipeline(&mut self) -> Result<(), ParseError> {
        let mut before: Vec<usize> = Vec::new();
        loop {
            self.blanks();
            let start = self.out.len();
            self.command()?;
            let mine = start..self.out.len();
            if !before.is_empty() {
                for index in mine.clone() {
                    self.out[index].upstream.extend(before.iter().copied());
                }
            }
            before.extend(mine);
            self.blanks();
            if self.peek() == Some('|') && self.peek_at(1) != Some('|') {
                self.i += 1;
                if self.peek() == Some('&') {
                    self.i += 1;
                }
                // A newline may follow a pipe.
                loop {
                    self.blanks();
                    if self.peek() == Some('\n') {
                        self.i += 1;
                        self.here_documents()?;
                    } else {
                        break;
                    }
                }
                if matches!(self.peek(), None | Some(';' | '&' | '|' | ')')) {
                    return Err(self.fail("`|` without a command after it"));
                }
                continue;
            }
            return Ok(());
        }
    }

    /// After an opening parenthesis: a list in a scope of its own, up to the `)`.
    fn nested(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        self.depth += 1;
        let outer = self.scope;
        self.scope = self.scopes.len();
        self.scopes.push(outer);
        let result = self.list(End::Paren);
        self.scope = outer;
        self.depth -= 1;
        result?;
        if self.peek() == Some(')') {
            self.i += 1;
            Ok(())
        } else {
            Err(self.fail("missing `)`"))
        }
    }

    /// A subshell `( … )` or a simple command.
    fn command(&mut self) -> Result<(), ParseError> {
        if self.peek() == Some('(') {
            if self.peek_at(1) == Some('(') {
                return Err(self.fail("arithmetic command `(( ))` is not supported"));
            }
            self.i += 1;
            self.nested()?;
            // Redirections after the subshell apply to all of it: keep them as a command of
            // their own (it runs nothing, but it writes its targets).
            return self.simple(true);
        }
        self.simple(false)
    }

    /// Words and redirections up to an operator.
    fn simple(&mut self, redirects_only: bool) -> Result<(), ParseError> {
        let mut command = Command {
            scope: self.scope,
            ..Command::default()
        };
        loop {
            self.blanks();
            let Some(c) = self.peek() else { break };
            match c {
                ';' | '|' | ')' | '\n' => break,
                '&' if self.peek_at(1) != Some('>') => break,
                '(' => {
                    return Err(if command.words.len() == 1 {
                        self.fail("function definitions are not supported")
                    } else {
                        self.fail("unexpected `(`")
                    });
                }
                _ => {}
            }
            if let Some(redirect) = self.redirect()? {
                command.redirects.push(redirect);
                continue;
            }
            if redirects_only {
                return Err(self.fail("a word after `)`"));
            }
            let word = self.word()?;
            if command.words.is_empty() && command.redirects.is_empty() && word.source == word.text
            {
                let w = word.text.as_str();
                if SKIPPED_KEYWORDS.contains(&w) {
                    // Grammar: the command (if any) starts after it.
                    if matches!(w, "fi" | "done" | "}") {
                        return self.simple(true);
                    }
                    continue;
                }
                if REFUSED_KEYWORDS.contains(&w) {
                    return Err(self.fail(format!("`{w}` is not supported")));
                }
                if w == "for" {
                    command.header = true;
                }
                if w == "[[" {
                    return Err(self.fail(format!("`{w}` is not supported")));
                }
            }
            if command.header && word.source == "do" {
                // `for x in a b; do` without the `;` is not valid, but `for x do` is: stop.
                break;
            }
            command.words.push(word);
        }
        if !command.words.is_empty() || !command.redirects.is_empty() {
            self.out.push(command);
        }
        Ok(())
    }

    /// A redirection at the current position, if there is one.
    fn redirect(&mut self) -> Result<Option<Redirect>, ParseError> {
        let start = self.i;
        let mut j = self.i;
        while self.s.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        let fd = if j > start && matches!(self.s.get(j), Some('<' | '>')) {
            let digits: String = self.s[start..j].iter().collect();
            Some(
                digits
                    .parse::<u32>()
                    .map_err(|_| self.fail("file descriptor number too large"))?,
            )
        } else {
            j = start;
            None
        };
        let at = |k: usize| self.s.get(j + k).copied();
        let (op, len) = match (at(0), at(1), at(2)) {
            (Some('<' | '>'), Some('('), _) if fd.is_none() => return Ok(None),
            (Some('<'), Some('<'), Some('<')) => (RedirectOp::HereString, 3),
            (Some('<'), Some('<'), Some('-')) => (RedirectOp::HereDoc, 3),
            (Some('<'), Some('<'), _) => (RedirectOp::HereDoc, 2),
            (Some('<'), Some('>'), _) => (RedirectOp::ReadWrite, 2),
            (Some('<' | '>'), Some('&'), _) => (RedirectOp::Duplicate, 2),
            (Some('<'), _, _) => (RedirectOp::Read, 1),
            (Some('>'), Some('>'), _) => (RedirectOp::Append, 2),
            (Some('>'), Some('|'), _) => (RedirectOp::Write, 2),
            (Some('>'), _, _) => (RedirectOp::Write, 1),
            (Some('&'), Some('>'), Some('>')) if fd.is_none() => (RedirectOp::AppendBoth, 3),
            (Some('&'), Some('>'), _) if fd.is_none() => (RedirectOp::WriteBoth, 2),
            _ => return Ok(None),
        };
        let strip_tabs = op == RedirectOp::HereDoc && len == 3;
        self.i = j + len;
        self.blanks();
        if matches!(
            self.peek(),
            None | Some(';' | '&' | '|' | ')' | '(' | '\n' | '<' | '>')
        ) {
            return Err(self.fail("redirection without a target"));
        }
        let target = self.word()?;
        let op = match op {
            // `>&file` writes a file; `>&2`, `>&-` duplicate or close a descriptor.
            RedirectOp::Duplicate
                if !(target.text == "-" || target.text.chars().all(|c| c.is_ascii_digit()))
                    && self.s[j] == '>' =>
            {
                RedirectOp::WriteBoth
            }
            op => op,
        };
        if op == RedirectOp::HereDoc {
            self.heredocs.push(HereDoc {
                delimiter: target.text.clone(),
                strip_tabs,
                quoted: target.source != target.text,
            });
        }
        Ok(Some(Redirect { fd, op, target }))
    }

    /// Read the bodies of the here-documents opened on the line that just ended.
    fn here_documents(&mut self) -> Result<(), ParseError> {
        for doc in std::mem::take(&mut self.heredocs) {
            let mut found = false;
            let mut body = String::new();
            while self.i < self.s.len() {
                let end = self.s[self.i..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map_or(self.s.len(), |p| self.i + p);
                let line: String = self.s[self.i..end].iter().collect();
                self.i = (end + 1).min(self.s.len());
                let line = if doc.strip_tabs {
                    line.trim_start_matches('\t').to_owned()
                } else {
                    line
                };
                if line.trim_end_matches('\r') == doc.delimiter {
                    found = true;
                    break;
                }
                body.push_str(&line);
                body.push('\n');
            }
            if !found {
                return Err(self.fail(format!(
                    "here-document without its end line `{}`",
                    doc.delimiter
                )));
            }
            if !doc.quoted && (body.contains("$(") || body.contains('`')) {
                return Err(self.fail("here-document that runs command substitutions"));
            }
        }
        Ok(())
    }

    /// One word: quoted parts, escapes and expansions, up to a blank or an operator.
    fn word(&mut self) -> Result<Word, ParseError> {
        let start = self.i;
        let mut w = Builder::default();
        // `<( … )` and `>( … )` are words of their own.
        if matches!(self.peek(), Some('<' | '>')) && self.peek_at(1) == Some('(') {
            self.i += 2;
            self.substitution(&mut w, Nest::Process)?;
        }
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | ')' | '<' | '>' => break,
                '(' => {
                    if w.at_assignment_value(&self.s[start..self.i]) {
                        return Err(self.fail("array assignments are not supported"));
                    }
                    if w.glob.ends_with(['@', '!', '+', '?', '*']) {
                        return Err(self.fail("extended globs are not supported"));
                    }
                    break;
                }
                '\\' => {
                    match self.peek_at(1) {
                        Some('\n') => {}
                        Some(next) => w.quoted(next),
                        None => w.quoted('\\'),
                    }
                    self.i += 2;
                }
                '\'' => {
                    self.i += 1;
                    loop {
                        match self.peek() {
                            None => return Err(self.fail("missing closing `'`")),
                            Some('\'') => break,
                            Some(c) => w.quoted(c),
                        }
                        self.i += 1;
                    }
                    self.i += 1;
                }
                '"' => {
                    self.i += 1;
                    self.double_quoted(&mut w)?;
                }
                '$' => self.dollar(&mut w, false)?,
                '`' => self.backticks(&mut w)?,
                '{' => {
                    if self.brace_expansion() {
                        w.dynamic = true;
                    }
                    w.unquoted('{');
                    self.i += 1;
                }
                c => {
                    w.unquoted(c);
                    self.i += 1;
                }
            }
        }
        let source: String = self.s[start..self.i].iter().collect();
        Ok(w.finish(source))
    }

    /// At `{`: is this brace expansion (`{a,b}`, `{1..3}`) within the current word?
    fn brace_expansion(&self) -> bool {
        let mut depth = 0usize;
        let mut comma = false;
        let mut j = self.i;
        while let Some(&c) = self.s.get(j) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        let inner: String = self.s[self.i + 1..j].iter().collect();
                        return comma || inner.contains("..");
                    }
                }
                ',' if depth == 1 => comma = true,
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' | '"' | '\'' => {
                    return false;
                }
                _ => {}
            }
            j += 1;
        }
        false
    }

    /// After an opening `"`: up to the closing one.
    fn double_quoted(&mut self, w: &mut Builder) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                None => return Err(self.fail("missing closing `\"`")),
                Some('"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some('\\') => {
                    match self.peek_at(1) {
                        Some('\n') => {}
                        Some(c @ ('$' | '`' | '"' | '\\')) => w.quoted(c),
                        Some(c) => {
                            w.quoted('\\');
                            w.quoted(c);
                        }
                        None => return Err(self.fail("missing closing `\"`")),
                    }
                    self.i += 2;
                }
                Some('$') => self.dollar(w, true)?,
                Some('`') => self.backticks(w)?,
                Some(c) => {
                    w.quoted(c);
                    self.i += 1;
                }
            }
        }
    }

    /// At `$`: an expansion (or a plain dollar sign).
    fn dollar(&mut self, w: &mut Builder, in_quotes: bool) -> Result<(), ParseError> {
        let start = self.i;
        match self.peek_at(1) {
            Some('(') if self.peek_at(2) == Some('(') => {
                self.i += 3;
                let mut depth = 2usize;
                while depth > 0 {
                    match self.peek() {
                        None => return Err(self.fail("missing `))`")),
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        Some('`') => return Err(self.fail("substitution inside `$(( ))`")),
                        Some('$') if self.peek_at(1) == Some('(') => {
                            return Err(self.fail("substitution inside `$(( ))`"));
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                w.expansion(&self.s[start..self.i]);
            }
            Some('(') => {
                self.i += 2;
                self.substitution(w, Nest::Substitution)?;
            }
            Some('{') => {
                self.i += 2;
                let mut depth = 1usize;
                while depth > 0 {
                    match self.peek() {
                        None => return Err(self.fail("missing `}`")),
                        Some('{') => depth += 1,
                        Some('}') => depth -= 1,
                        Some('`') => return Err(self.fail("substitution inside `${ }`")),
                        Some('$') if self.peek_at(1) == Some('(') => {
                            return Err(self.fail("substitution inside `${ }`"));
                        }
                        Some('\\') => self.i += 1,
                        _ => {}
                    }
                    self.i += 1;
                }
                w.expansion(&self.s[start..self.i]);
            }
            Some('\'') if !in_quotes => {
                self.i += 2;
                self.ansi_c(w)?;
            }
            Some('"') if !in_quotes => {
                // $"…": a translated string; as a double-quoted one.
                self.i += 2;
                self.double_quoted(w)?;
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                self.i += 1;
                while self
                    .peek()
                    .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
                {
                    self.i += 1;
                }
                w.expansion(&self.s[start..self.i]);
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.i += 2;
                w.expansion(&self.s[start..self.i]);
            }
            _ => {
                if in_quotes {
                    w.quoted('$');
                } else {
                    w.unquoted('$');
                }
                self.i += 1;
            }
        }
        Ok(())
    }

    /// After `$(`, `<(` or `>(`: the commands up to the matching `)`.
    fn substitution(&mut self, w: &mut Builder, nest: Nest) -> Result<(), ParseError> {
        let source_start = self.i - 2;
        let first = self.out.len();
        self.nested()?;
        for command in &mut self.out[first..] {
            command.nest.get_or_insert(nest);
        }
        w.subs.extend(first..self.out.len());
        w.expansion(&self.s[source_start..self.i]);
        Ok(())
    }

    /// At a backtick: the commands up to the closing one.
    fn backticks(&mut self, w: &mut Builder) -> Result<(), ParseError> {
        let start = self.i;
        self.i += 1;
        let mut inner = String::new();
        loop {
            match self.peek() {
                None => return Err(self.fail("missing closing backtick")),
                Some('`') => break,
                Some('\\') => {
                    match self.peek_at(1) {
                        Some(c @ ('$' | '`' | '\\')) => inner.push(c),
                        Some(c) => {
                            inner.push('\\');
                            inner.push(c);
                        }
                        None => return Err(self.fail("missing closing backtick")),
                    }
                    self.i += 2;
                    continue;
                }
                Some(c) => inner.push(c),
            }
            self.i += 1;
        }
        self.i += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        let scope = self.scopes.len();
        self.scopes.push(self.scope);
        let range =
            parse_into(&inner, self.out, self.scopes, scope, self.depth + 1).map_err(|e| {
                ParseError {
                    message: format!("in backticks: {}", e.message),
                    at: start,
                }
            })?;
        for command in &mut self.out[range.clone()] {
            command.nest.get_or_insert(Nest::Backticks);
        }
        w.subs.extend(range);
        w.expansion(&self.s[start..self.i]);
        Ok(())
    }

    /// After `$'`: an ANSI-C quoted string.
    fn ansi_c(&mut self, w: &mut Builder) -> Result<(), ParseError> {
        loop {
            let Some(c) = self.peek() else {
                return Err(self.fail("missing closing `'`"));
            };
            self.i += 1;
            match c {
                '\'' => return Ok(()),
                '\\' => {
                    let Some(escape) = self.peek() else {
                        return Err(self.fail("missing closing `'`"));
                    };
                    self.i += 1;
                    let decoded = match escape {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'a' => '\x07',
                        'b' => '\x08',
                        'e' | 'E' => '\x1b',
                        'f' => '\x0c',
                        'v' => '\x0b',
                        '0'..='7' => {
                            let mut value = escape.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                match self.peek().and_then(|digit| digit.to_digit(8)) {
                                    Some(digit) => {
                                        value = value * 8 + digit;
                                        self.i += 1;
                                    }
                                    None => break,
                                }
                            }
                            char::from_u32(value).unwrap_or('\u{fffd}')
                        }
                        'x' | 'u' | 'U' => {
                            let max = match escape {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let mut value = 0u32;
                            let mut count = 0;
                            while count < max {
                                match self.peek().and_then(|digit| digit.to_digit(16)) {
                                    Some(digit) => {
                                        value = value * 16 + digit;
                                        self.i += 1;
                                        count += 1;
                                    }
                                    None => break,
                                }
                            }
                            if count == 0 {
                                return Err(self.fail(format!("`\\{escape}` without digits")));
                            }
                            char::from_u32(value).unwrap_or('\u{fffd}')
                        }
                        'c' => return Err(self.fail("`\\c` in `$'…'` is not supported")),
                        other => other,
                    };
                    w.quoted(decoded);
                }
                c => w.quoted(c),
            }
        }
    }
}

/// Accumulates one word.
#[derive(Default)]
struct Builder {
    text: String,
    glob: String,
    dynamic: bool,
    subs: Vec<usize>,
}

impl Builder {
    fn unquoted(&mut self, c: char) {
        self.text.push(c);
        if c == '\\' {
            self.glob.push('\\');
        }
        self.glob.push(c);
    }

    fn quoted(&mut self, c: char) {
        self.text.push(c);
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            self.glob.push('\\');
        }
        self.glob.push(c);
    }

    /// An expansion, kept as written.
    fn expansion(&mut self, source: &[char]) {
        self.dynamic = true;
        for &c in source {
            self.text.push(c);
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                self.glob.push('\\');
            }
            self.glob.push(c);
        }
    }

    /// The word so far is `NAME=` exactly (the next `(` would start an array).
    fn at_assignment_value(&self, source: &[char]) -> bool {
        source.last() == Some(&'=') && is_assignment(&self.text) && self.text.ends_with('=')
    }

    fn finish(self, source: String) -> Word {
        let assignment = is_assignment(&self.text) && {
            // The `NAME=` part must be unquoted.
            let eq = self.text.find('=').unwrap_or(0);
            source.starts_with(&self.text[..=eq])
        };
        Word {
            text: self.text,
            glob: self.glob,
            dynamic: self.dynamic,
            subs: self.subs,
            assignment,
            source,
        }
    }
}

/// `NAME=…` or `NAME+=…` with a valid shell name.
fn is_assignment(text: &str) -> bool {
    let Some(eq) = text.find('=') else {
        return false;
    };
    let name = text[..eq].strip_suffix('+').unwrap_or(&text[..eq]);
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests;
