//! The rule parser: text to [`Expr`], with errors that point at a column.
//!
//! Grammar (operators are upper case; lower-case `and`/`or` are words):
//!
//! ```text
//! query   := or EOF
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*        -- AND is implicit between terms
//! unary   := ("NOT" | "-") unary | primary
//! primary := FIELD ":" (term | "(" or ")") | "(" or ")" | term
//! term    := WORD | WORD "*" | "\"" words "\"" | "/" regex "/"
//! ```

use crate::fold;

/// How deep `(` groups and `NOT`s may nest. Parsing, matching and tagging
/// recurse once per level; a bound keeps a hostile rule (10,000 `(`) from
/// overflowing the stack of whichever thread reads it, even the daemon's on
/// reload. Real rules use a handful of levels.
pub const MAX_NESTING: usize = 32;
/// `/regex/` terms in one rule: each may take [`REGEX_BYTES`] compiled and
/// [`REGEX_CACHE_BYTES`] of matching state, and each costs time per item.
pub const MAX_REGEXES: usize = 8;
/// The compiled size of one `/regex/`.
pub const REGEX_BYTES: usize = 1 << 20;
/// The lazy DFA's cache of one `/regex/` (the regex crate's default is 2 MiB).
pub const REGEX_CACHE_BYTES: usize = 1 << 20;

/// Which part of an item a term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Title,
    Summary,
    Content,
    /// Title, summary and content: the default.
    Text,
    Category,
    Source,
    Tag,
    Author,
    Link,
}

impl Field {
    pub const ALL: [(&'static str, Field); 9] = [
        ("title", Field::Title),
        ("summary", Field::Summary),
        ("content", Field::Content),
        ("text", Field::Text),
        ("category", Field::Category),
        ("source", Field::Source),
        ("tag", Field::Tag),
        ("author", Field::Author),
        ("link", Field::Link),
    ];

    pub fn name(self) -> &'static str {
        Field::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

/// What a term looks for.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Consecutive folded words; one word is the common case.
    Words(Vec<String>),
    /// Words, the last of which is a prefix (`digital*`, `smart cit*`).
    Prefix(Vec<String>),
    /// A case-insensitive regular expression over the field's text.
    Regex(regex::Regex),
}

#[derive(Debug, Clone)]
pub struct Term {
    pub field: Field,
    pub pattern: Pattern,
    /// The term as written, for explanations.
    pub source: String,
    /// 1-based column in characters where the term starts in its rule
    /// (past any `field:`), for warnings about what it refers to.
    pub column: usize,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Term(Term),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// A syntax error: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based column in characters.
    pub column: usize,
    pub message: String,
}

impl RuleError {
    /// The rule with a caret under the error, for terminals and logs.
    pub fn caret(&self, rule: &str) -> String {
        format!(
            "{rule}\n{}^ {}",
            " ".repeat(self.column.saturating_sub(1)),
            self.message
        )
    }

    /// The whole report for a rule typed by a person (`kurator query`,
    /// `/search?q=`): where, then the rule with a caret, indented.
    pub fn report(&self, rule: &str) -> String {
        format!(
            "error in the rule at column {}:\n  {}",
            self.column,
            self.caret(rule).replace('\n', "\n  ")
        )
    }
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for RuleError {}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Phrase(String),
    Regex(String),
    Field(Field),
    And,
    Or,
    Not,
    Open,
    Close,
}

struct Lexed {
    token: Token,
    column: usize,
}

fn lex(rule: &str) -> Result<Vec<Lexed>, RuleError> {
    let chars: Vec<char> = rule.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let error = |message: String| RuleError { column, message };
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Lexed {
                    token: Token::Open,
                    column,
                });
                i += 1;
            }
            ')' => {
                tokens.push(Lexed {
                    token: Token::Close,
                    column,
                });
                i += 1;
            }
            '"' | '„' | '“' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|&c| matches!(c, '"' | '“' | '”'))
                    .ok_or_else(|| error("this quote is never closed; add a closing \"".into()))?;
                let text: String = chars[i + 1..i + 1 + close].iter().collect();
                tokens.push(Lexed {
                    token: Token::Phrase(text),
                    column,
                });
                i += close + 2;
            }
            '/' => {
                let mut j = i + 1;
                let mut pattern = String::new();
                loop {
                    match chars.get(j) {
                        None => {
                            return Err(error("this regex is never closed; end it with /".into()));
                        }
                        Some('\\') if chars.get(j + 1) == Some(&'/') => {
                            pattern.push('/');
                            j += 2;
                        }
                        Some('/') => break,
                        Some(&c) => {
                            pattern.push(c);
                            j += 1;
                        }
                    }
                }
                tokens.push(Lexed {
                    token: Token::Regex(pattern),
                    column,
                });
                i = j + 1;
            }
            '-' if chars.get(i + 1).is_some_and(|n| !n.is_whitespace()) => {
                tokens.push(Lexed {
                    token: Token::Not,
                    column,
                });
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '"' | '„' | '“')
                {
                    if chars[i] == ':' {
                        break;
                    }
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if chars.get(i) == Some(&':') {
                    let field = Field::ALL
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(&word))
                        .map(|(_, f)| *f)
                        .ok_or_else(|| RuleError {
                            column,
                            message: format!(
                                "unknown field `{word}:`; fields are {}",
                                Field::ALL.map(|(n, _)| format!("{n}:")).join(", ")
                            ),
                        })?;
                    tokens.push(Lexed {
                        token: Token::Field(field),
                        column,
                    });
                    i += 1;
                    continue;
                }
                let token = match word.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "NOT" => Token::Not,
                    _ => Token::Word(word),
                };
                tokens.push(Lexed { token, column });
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Lexed>,
    position: usize,
    /// `(` groups and `NOT`s open around the current token.
    depth: usize,
    /// `/regex/` terms so far.
    regexes: usize,
    /// Column just past the end, for "expected … at the end" errors.
    end_column: usize,
}

/// Parses a rule.
pub fn parse(rule: &str) -> Result<Expr, RuleError> {
    let tokens = lex(rule)?;
    let mut parser = Parser {
        tokens,
        position: 0,
        depth: 0,
        regexes: 0,
        end_column: rule.chars().count() + 1,
    };
    if parser.tokens.is_empty() {
        return Err(RuleError {
            column: 1,
            message: "the rule is empty; write at least one word".into(),
        });
    }
    let expr = parser.or(Field::Text)?;
    if let Some(extra) = parser.peek() {
        let message = match extra.token {
            Token::Close => "this ) has no matching (".to_owned(),
            _ => "expected AND, OR or the end of the rule".to_owned(),
        };
        return Err(RuleError {
            column: extra.column,
            message,
        });
    }
    Ok(expr)
}

impl Parser {
    fn peek(&self) -> Option<&Lexed> {
        self.tokens.get(self.position)
    }

    fn column(&self) -> usize {
        self.peek().map_or(self.end_column, |t| t.column)
    }

    /// Parses `inner` one level deeper, refusing to go past [`MAX_NESTING`]
    /// (the error points at `column`, the `(` or `NOT` that went too deep).
    fn nested(
        &mut self,
        column: usize,
        inner: impl FnOnce(&mut Parser) -> Result<Expr, RuleError>,
    ) -> Result<Expr, RuleError> {
        if self.depth >= MAX_NESTING {
            return Err(RuleError {
                column,
                message: format!(
                    "the rule nests ( and NOT more than {MAX_NESTING} deep here; \
                     write it flatter (a OR b OR c needs no parentheses)"
                ),
            });
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn or(&mut self, field: Field) -> Result<Expr, RuleError> {
        let mut parts = vec![self.and(field)?];
        while self.peek().is_some_and(|t| t.token == Token::Or) {
            self.position += 1;
            parts.push(self.and(field)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, field: Field) -> Result<Expr, RuleError> {
        let mut parts = vec![self.unary(field)?];
        loop {
            match self.peek().map(|t| &t.token) {
                Some(Token::And) => {
                    self.position += 1;
                    parts.push(self.unary(field)?);
                }
                Some(Token::Or | Token::Close) | None => break,
                Some(_) => parts.push(self.unary(field)?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self, field: Field) -> Result<Expr, RuleError> {
        if let Some(not) = self.peek().filter(|t| t.token == Token::Not) {
            let column = not.column;
            self.position += 1;
            let inner = self.nested(column, |parser| parser.unary(field))?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary(field)
    }

    fn primary(&mut self, field: Field) -> Result<Expr, RuleError> {
        let column = self.column();
        let Some(lexed) = self.tokens.get(self.position) else {
            return Err(RuleError {
                column,
                message: "expected a word, a \"phrase\" or ( here".into(),
            });
        };
        let token = lexed.token.clone();
        self.position += 1;
        match token {
            Token::Open => {
                let inner = self.nested(column, |parser| parser.or(field))?;
                match self.peek() {
                    Some(t) if t.token == Token::Close => {
                        self.position += 1;
                        Ok(inner)
                    }
                    _ => Err(RuleError {
                        column: self.column(),
                        message: format!("expected ) to close the ( at column {column}"),
                    }),
                }
            }
            Token::Field(inner_field) => match self.peek().map(|t| &t.token) {
                Some(Token::Open) => self.primary(inner_field),
                Some(Token::Word(_) | Token::Phrase(_) | Token::Regex(_)) => {
                    self.primary(inner_field)
                }
                _ => Err(RuleError {
                    column: self.column(),
                    message: format!(
                        "expected a word, a \"phrase\" or ( after `{}:`",
                        inner_field.name()
                    ),
                }),
            },
            Token::Word(word) => term(field, &word, column, false),
            Token::Phrase(phrase) => term(field, &phrase, column, true),
            Token::Regex(pattern) => {
                self.regexes += 1;
                if self.regexes > MAX_REGEXES {
                    return Err(RuleError {
                        column,
                        message: format!(
                            "a rule may hold at most {MAX_REGEXES} /regex/ terms; \
                             use words, \"phrases\" or prefix* for the others"
                        ),
                    });
                }
                let regex = regex::RegexBuilder::new(&pattern)
                    .case_insensitive(true)
                    .size_limit(REGEX_BYTES)
                    .dfa_size_limit(REGEX_CACHE_BYTES)
                    .build()
                    .map_err(|err| RuleError {
                        column,
                        message: format!(
                            "invalid regex: {}",
                            err.to_string().lines().last().unwrap_or("")
                        ),
                    })?;
                Ok(Expr::Term(Term {
                    field,
                    pattern: Pattern::Regex(regex),
                    source: format!("/{pattern}/"),
                    column,
                }))
            }
            Token::And | Token::Or => Err(RuleError {
                column,
                message: "expected a word, a \"phrase\" or ( before this operator".into(),
            }),
            Token::Not => unreachable!("handled by unary"),
            Token::Close => Err(RuleError {
                column,
                message: "expected a word, a \"phrase\" or ( here, not )".into(),
            }),
        }
    }
}

fn term(field: Field, text: &str, column: usize, quoted: bool) -> Result<Expr, RuleError> {
    let prefix = text.ends_with('*');
    let words = fold::words(text.trim_end_matches('*'));
    if words.is_empty() {
        let message = if quoted {
            "this phrase has no words in it".to_owned()
        } else {
            format!("`{text}` has no letters or digits to match")
        };
        return Err(RuleError { column, message });
    }
    let source = if quoted {
        format!("\"{text}\"")
    } else {
        text.to_owned()
    };
    let pattern = if prefix {
        Pattern::Prefix(words)
    } else {
        Pattern::Words(words)
    };
    Ok(Expr::Term(Term {
        field,
        pattern,
        source,
        column,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(expr: &Expr) -> String {
        match expr {
            Expr::Term(t) => format!("{}:{}", t.field.name(), t.source),
            Expr::And(parts) => format!(
                "(AND {})",
                parts.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Expr::Or(parts) => format!(
                "(OR {})",
                parts.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Expr::Not(inner) => format!("(NOT {})", shape(inner)),
        }
    }

    fn parsed(rule: &str) -> String {
        shape(&parse(rule).unwrap_or_else(|e| panic!("{}", e.caret(rule))))
    }

    #[test]
    fn precedence_and_implicit_and() {
        assert_eq!(parsed("a b OR c"), "(OR (AND text:a text:b) text:c)");
        assert_eq!(parsed("a AND (b OR c)"), "(AND text:a (OR text:b text:c))");
        assert_eq!(
            parsed("a -b NOT c"),
            "(AND text:a (NOT text:b) (NOT text:c))"
        );
        assert_eq!(parsed("NOT a OR b"), "(OR (NOT text:a) text:b)");
    }

    #[test]
    fn fields_terms_and_groups() {
        assert_eq!(
            parsed(
                r#""smart city" OR digitalstadt* OR category:"Smart City" OR (digital* AND stadt*)"#
            ),
            r#"(OR text:"smart city" text:digitalstadt* category:"Smart City" (AND text:digital* text:stadt*))"#
        );
        assert_eq!(
            parsed("title:(ozg OR egov*) source:kommune21"),
            "(AND (OR title:ozg title:egov*) source:kommune21)"
        );
        assert_eq!(parsed("link:/kommune21\\.de/"), "link:/kommune21\\.de/");
        assert_eq!(parsed("„Bürger Service“"), "text:\"Bürger Service\"");
        assert_eq!(
            parsed("and or"),
            "(AND text:and text:or)",
            "lower-case operators are words"
        );
    }

    #[test]
    fn errors_point_at_the_spot() {
        let cases = [
            ("", 1, "the rule is empty"),
            ("a AND", 6, "expected a word"),
            ("(a OR b", 8, "expected ) to close the ( at column 1"),
            ("a)", 2, "this ) has no matching ("),
            ("titel:ozg", 1, "unknown field `titel:`"),
            ("\"smart city", 1, "never closed"),
            ("a OR OR b", 6, "before this operator"),
            ("/[a-/", 1, "invalid regex"),
            ("title:", 7, "after `title:`"),
            ("***", 1, "no letters or digits"),
            (
                "/a/ /b/ /c/ /d/ /e/ /f/ /g/ /h/ /i/",
                33,
                "at most 8 /regex/ terms",
            ),
            ("/\\w{50}/", 1, "invalid regex"),
        ];
        for (rule, column, message) in cases {
            let err = parse(rule)
                .err()
                .unwrap_or_else(|| panic!("{rule:?} must fail"));
            assert_eq!(err.column, column, "{rule:?}: {}", err.caret(rule));
            assert!(err.message.contains(message), "{rule:?}: {}", err.message);
        }
        let err = parse("digital AND (stadt OR").unwrap_err();
        assert_eq!(
            err.caret("digital AND (stadt OR"),
            "digital AND (stadt OR\n                     ^ expected a word, a \"phrase\" or ( here"
        );
    }

    #[test]
    fn nesting_is_bounded_with_an_error_at_the_spot() {
        let deep = |levels: usize| format!("{}a{}", "(".repeat(levels), ")".repeat(levels));
        assert_eq!(parsed(&deep(MAX_NESTING)), "text:a");
        let err = parse(&deep(MAX_NESTING + 1)).unwrap_err();
        assert_eq!(err.column, MAX_NESTING + 1, "{err}");
        assert!(err.message.contains("more than 32 deep"), "{err}");
        // Far past any stack: an error, not an abort.
        for hostile in [
            "(".repeat(10_000),
            "NOT ".repeat(10_000) + "a",
            "-".repeat(10_000) + "a",
            "title:(".repeat(10_000),
        ] {
            let err = parse(&hostile).unwrap_err();
            assert!(err.message.contains("nests"), "{err}");
        }
    }
}
