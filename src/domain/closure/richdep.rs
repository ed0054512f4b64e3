//! Rich (boolean) dependencies: `(a and b)`, `(a or b)`, `(a if b [else c])`,
//! `(a unless b [else c])`, `(a with b)`, `(a without b)`, nested.
//!
//! The parser is a port of libsolv's `parseRichDep` (`ext/pool_parserpmrichdep.c`, 0.7.23),
//! which is what dnf reads repodata with, so that exactly the same strings are accepted and
//! give the same tree: a chain `a and b and c` nests to the right, `else` binds to the `if`
//! or `unless` before it, a zero epoch (`0:`) in a version is dropped. [`fmt::Display`] writes
//! the tree back as libsolv's `pool_dep2str` does (the form `dnf repoclosure` prints).

use std::fmt;

use super::evrmatch::Sense;

/// A boolean operator of a rich dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RichOp {
    /// `and`
    And,
    /// `or`
    Or,
    /// `if` (libsolv's `REL_COND`)
    If,
    /// `unless`
    Unless,
    /// `else`, only as the right side of `if`/`unless`
    Else,
    /// `with`: one package providing both sides
    With,
    /// `without`: a package providing the left side but not the right
    Without,
}

impl RichOp {
    fn word(self) -> &'static str {
        match self {
            RichOp::And => "and",
            RichOp::Or => "or",
            RichOp::If => "if",
            RichOp::Unless => "unless",
            RichOp::Else => "else",
            RichOp::With => "with",
            RichOp::Without => "without",
        }
    }

    fn from_word(w: &[u8]) -> Option<RichOp> {
        Some(match w {
            b"and" => RichOp::And,
            b"or" => RichOp::Or,
            b"if" => RichOp::If,
            b"unless" => RichOp::Unless,
            b"else" => RichOp::Else,
            b"with" => RichOp::With,
            b"without" => RichOp::Without,
            _ => return None,
        })
    }
}

/// A parsed rich dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RichDep {
    /// A capability, unversioned (`sense` `None`) or compared with a version string
    /// (`[epoch:]version[-release]`, as written).
    Cap {
        /// Capability name (a package name, a provide, a file path).
        name: String,
        /// Comparison and version, when versioned.
        version: Option<(Sense, String)>,
    },
    /// `left op right`.
    Op(Box<RichDep>, RichOp, Box<RichDep>),
}

/// A string that is not a valid rich dependency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid rich dependency: {0}")]
pub struct RichParseError(pub String);

impl RichDep {
    /// Parses a rich dependency (which starts with `(`) exactly as libsolv does.
    pub fn parse(s: &str) -> Result<RichDep, RichParseError> {
        let mut p = Parser { s: s.as_bytes(), i: 0 };
        match p.rich(None) {
            Some(dep) if p.i == p.s.len() => Ok(dep),
            _ => Err(RichParseError(s.to_string())),
        }
    }

    fn fmt_in(&self, f: &mut fmt::Formatter<'_>, outer: Option<RichOp>) -> fmt::Result {
        match self {
            RichDep::Cap { name, version: None } => f.write_str(name),
            RichDep::Cap {
                name,
                version: Some((sense, evr)),
            } => write!(f, "{name} {sense} {evr}"),
            RichDep::Op(left, op, right) => {
                // pool_dep2str: parentheses unless continuing a chain of the same operator
                // (`else` continues its `if`/`unless`; `if`, `unless` and `else` never chain).
                let conditional = |o: RichOp| matches!(o, RichOp::If | RichOp::Unless);
                let paren = match outer {
                    None => true,
                    Some(o) => {
                        (o != *op || conditional(*op) || *op == RichOp::Else)
                            && !(conditional(o) && *op == RichOp::Else)
                    }
                };
                if paren {
                    f.write_str("(")?;
                }
                left.fmt_in(f, Some(*op))?;
                write!(f, " {} ", op.word())?;
                right.fmt_in(f, Some(*op))?;
                if paren {
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for RichDep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_in(f, None)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    fn skip_spaces(&mut self) {
        while self.at(self.i) == b' ' {
            self.i += 1;
        }
    }

    /// libsolv's `skipnonwhite`: up to a space, a comma or an unbalanced `)`.
    fn skip_nonwhite(&mut self) {
        let mut depth = 0i32;
        loop {
            let c = self.at(self.i);
            if c == 0 || c == b' ' || c == b',' {
                return;
            }
            if c == b')' {
                let stop = depth <= 0;
                depth -= 1;
                if stop {
                    return;
                }
            }
            self.i += 1;
            if c == b'(' {
                depth += 1;
            }
        }
    }

    fn text(&self, from: usize) -> String {
        String::from_utf8_lossy(&self.s[from..self.i]).into_owned()
    }

    /// `parseRichDep`: `chain` is the operator whose right side is being read (the opening
    /// parenthesis was already consumed then).
    fn rich(&mut self, chain: Option<RichOp>) -> Option<RichDep> {
        if chain.is_none() {
            if self.at(self.i) != b'(' {
                return None;
            }
            self.i += 1;
        }
        self.skip_spaces();
        if self.at(self.i) == b')' {
            return None;
        }
        let left = if self.at(self.i) == b'(' {
            self.rich(None)?
        } else {
            let start = self.i;
            self.skip_nonwhite();
            if self.i == start {
                return None;
            }
            let name = self.text(start);
            self.skip_spaces();
            let mut bits = 0u8;
            if self.at(self.i) != 0 {
                loop {
                    match self.at(self.i) {
                        b'<' => bits |= Sense::LT.bits(),
                        b'=' => bits |= Sense::EQ.bits(),
                        b'>' => bits |= Sense::GT.bits(),
                        _ => break,
                    }
                    self.i += 1;
                }
            }
            if bits != 0 {
                self.skip_spaces();
                let mut start = self.i;
                self.skip_nonwhite();
                if self.i - start > 2 && self.s[start] == b'0' && self.s[start + 1] == b':' {
                    start += 2; // strip a zero epoch
                }
                if self.i == start {
                    return None;
                }
                RichDep::Cap {
                    name,
                    version: Some((Sense::from_bits(bits), self.text(start))),
                }
            } else {
                RichDep::Cap { name, version: None }
            }
        };
        self.skip_spaces();
        match self.at(self.i) {
            0 => return None,
            b')' => {
                self.i += 1;
                return Some(left);
            }
            _ => {}
        }
        let start = self.i;
        while !matches!(self.at(self.i), 0 | b' ') {
            self.i += 1;
        }
        let op = RichOp::from_word(&self.s[start..self.i])?;
        let mut chain = chain;
        if matches!(chain, Some(RichOp::If | RichOp::Unless)) && op == RichOp::Else {
            chain = None;
        }
        if chain.is_some_and(|c| c != op) {
            return None;
        }
        let right = self.rich(Some(op))?;
        Some(RichDep::Op(Box::new(left), op, Box::new(right)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(name: &str) -> RichDep {
        RichDep::Cap {
            name: name.into(),
            version: None,
        }
    }

    fn op(l: RichDep, o: RichOp, r: RichDep) -> RichDep {
        RichDep::Op(Box::new(l), o, Box::new(r))
    }

    #[test]
    fn parses_each_form() {
        assert_eq!(
            RichDep::parse("(a and b)").unwrap(),
            op(cap("a"), RichOp::And, cap("b"))
        );
        assert_eq!(RichDep::parse("(a or b)").unwrap(), op(cap("a"), RichOp::Or, cap("b")));
        assert_eq!(
            RichDep::parse("(a with b)").unwrap(),
            op(cap("a"), RichOp::With, cap("b"))
        );
        assert_eq!(
            RichDep::parse("(a without b)").unwrap(),
            op(cap("a"), RichOp::Without, cap("b"))
        );
        assert_eq!(RichDep::parse("(a if b)").unwrap(), op(cap("a"), RichOp::If, cap("b")));
        assert_eq!(
            RichDep::parse("(a if b else c)").unwrap(),
            op(cap("a"), RichOp::If, op(cap("b"), RichOp::Else, cap("c")))
        );
        assert_eq!(
            RichDep::parse("(a unless b else c)").unwrap(),
            op(cap("a"), RichOp::Unless, op(cap("b"), RichOp::Else, cap("c")))
        );
        assert_eq!(
            RichDep::parse("(a and b and c)").unwrap(),
            op(cap("a"), RichOp::And, op(cap("b"), RichOp::And, cap("c")))
        );
    }

    #[test]
    fn parses_versions_and_nesting() {
        let d = RichDep::parse("((foo >= 0:1.0-1 or bar(x86-64) < 2:3) and /usr/bin/sh)").unwrap();
        assert_eq!(
            d,
            op(
                op(
                    RichDep::Cap {
                        name: "foo".into(),
                        version: Some((Sense::GE, "1.0-1".into()))
                    },
                    RichOp::Or,
                    RichDep::Cap {
                        name: "bar(x86-64)".into(),
                        version: Some((Sense::LT, "2:3".into()))
                    },
                ),
                RichOp::And,
                cap("/usr/bin/sh"),
            )
        );
        assert_eq!(d.to_string(), "((foo >= 1.0-1 or bar(x86-64) < 2:3) and /usr/bin/sh)");
        let d = RichDep::parse("(a =>2)").unwrap();
        assert_eq!(
            d,
            RichDep::Cap {
                name: "a".into(),
                version: Some((Sense::GE, "2".into()))
            }
        );
    }

    #[test]
    fn rejects_what_libsolv_rejects() {
        for bad in [
            "a and b",
            "()",
            "(a and b",
            "(a and b or c)",
            "(a xor b)",
            "(a and b))",
            "(a >= )",
            "(a, b)",
            "(a and b) ",
        ] {
            assert!(RichDep::parse(bad).is_err(), "{bad} should not parse");
        }
        // libsolv chains `else` to the right (and then finds no provider for the inner one).
        assert_eq!(
            RichDep::parse("(a if b else c else d)").unwrap(),
            op(
                cap("a"),
                RichOp::If,
                op(cap("b"), RichOp::Else, op(cap("c"), RichOp::Else, cap("d")))
            )
        );
        // Mixing needs parentheses, as in rpm.
        assert!(RichDep::parse("(a and (b or c))").is_ok());
    }

    #[test]
    fn displays_like_pool_dep2str() {
        for (input, shown) in [
            ("(a and b and c)", "(a and b and c)"),
            ("(a and (b or c))", "(a and (b or c))"),
            ("(a if b else c)", "(a if b else c)"),
            ("(a unless (b if c))", "(a unless (b if c))"),
            ("((a with b) or c)", "((a with b) or c)"),
            ("(  a   or b )", "(a or b)"),
            ("(a if (b and c) else (d or e))", "(a if (b and c) else (d or e))"),
            ("(foo = 0:1.0)", "foo = 1.0"),
        ] {
            assert_eq!(RichDep::parse(input).unwrap().to_string(), shown, "{input}");
        }
    }
}
