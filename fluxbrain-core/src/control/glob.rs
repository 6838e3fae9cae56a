//! The glob patterns of silence matchers: `*` (any run of characters, also none) and `?` (one
//! character); `\` takes the next character literally. Nothing else is special, and character
//! classes or alternatives (`[...]`, `{...}`) are refused rather than read literally, so a
//! pattern written for a shell never silently matches nothing.

use std::fmt;

/// A checked glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    Any,
    One,
}

/// Why a pattern is not a glob fluxbrain reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError(pub &'static str);

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Glob {
    /// Checks `pattern`.
    ///
    /// # Errors
    /// An empty pattern, a trailing `\`, or `[`, `]`, `{`, `}` not escaped.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError("the value is empty (use * to match anything)"));
        }
        let mut tokens = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' if tokens.last() == Some(&Token::Any) => continue,
                '*' => Token::Any,
                '?' => Token::One,
                '\\' => match chars.next() {
                    Some(next) => Token::Literal(next),
                    None => return Err(GlobError("it ends with a lone \\")),
                },
                '[' | ']' | '{' | '}' => {
                    return Err(GlobError(
                        "character classes and alternatives ([...], {...}) are not supported: use * and ?, or \\ before the character",
                    ));
                }
                c => Token::Literal(c),
            });
        }
        Ok(Glob { tokens })
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        // Greedy matching with one backtrack point (the last `*`): linear in practice,
        // never exponential.
        let (mut t, mut p) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(Token::One) => {
                    t += 1;
                    p += 1;
                }
                Some(Token::Literal(c)) if *c == text[t] => {
                    t += 1;
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p..].iter().all(|t| *t == Token::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Glob::new(pattern).unwrap().matches(text)
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("apps", "apps"));
        assert!(!m("apps", "apps2"));
        assert!(m("team-*", "team-a"));
        assert!(!m("team-*", "xteam-a"));
        assert!(m("*-prod", "eu-prod"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("app-?", "app-1"));
        assert!(!m("app-?", "app-12"));
        assert!(m("**x", "x"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("ü*", "über"));
    }

    #[test]
    fn refused_patterns_say_why() {
        for bad in ["", "a\\", "app-[12]", "{a,b}", "x]"] {
            assert!(Glob::new(bad).is_err(), "{bad:?}");
        }
        assert!(Glob::new("app-\\[1\\]").unwrap().matches("app-[1]"));
    }

    proptest::proptest! {
        #[test]
        fn a_literal_matches_itself(text in "[a-z0-9./-]{1,20}") {
            proptest::prop_assert!(m(&text, &text));
        }

        #[test]
        fn star_prefix_matches_every_suffix(prefix in "[a-z]{0,5}", rest in "[a-z]{0,10}") {
            let pattern = format!("{prefix}*");
            let text = format!("{prefix}{rest}");
            proptest::prop_assert!(m(&pattern, &text));
        }
    }
}
