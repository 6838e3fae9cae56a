//! The one rule for durations in fluxbrain's settings, flags and simulator scripts.
//!
//! `0` alone is zero. Anything else is one or more numbers, each with a unit, as
//! [humantime](https://docs.rs/humantime) reads them: `ms`, `s`, `m`, `h`, `d` (and their long
//! forms `sec`, `min`, `hours`, `days`, ...), optionally separated by spaces: `90s`, `5m`,
//! `1h30m`, `2h 15m`, `500ms`. A number without a unit (`10`) and a sign (`-5m`) are errors.
//! Settings that cannot be zero use [`parse_positive`]; the error then says so.

use std::fmt;
use std::time::Duration;

/// A text that is not a duration under the rule above.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DurationError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub problem: DurationProblem,
}

/// What is wrong with a duration text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationProblem {
    /// Not numbers with units (humantime's explanation).
    Malformed(String),
    /// Zero where only a positive duration makes sense.
    Zero,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            DurationProblem::Malformed(why) => write!(
                f,
                "{:?} is not a duration ({why}); write numbers with units, e.g. 90s, 5m, 1h30m",
                self.text
            ),
            DurationProblem::Zero => write!(f, "{:?} must be longer than zero", self.text),
        }
    }
}

/// Parses `text` under the module's rule; `0` is [`Duration::ZERO`].
///
/// # Errors
/// [`DurationProblem::Malformed`] for anything but `0` or numbers with units.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed.starts_with('-') {
        return Err(DurationError {
            text: text.to_owned(),
            problem: DurationProblem::Malformed("a duration cannot be negative".to_owned()),
        });
    }
    humantime::parse_duration(trimmed).map_err(|e| DurationError {
        text: text.to_owned(),
        problem: DurationProblem::Malformed(e.to_string()),
    })
}

/// Parses `text` as [`parse`] does, refusing zero.
///
/// # Errors
/// As [`parse`], and [`DurationProblem::Zero`] for a zero duration (`0`, `0s`).
pub fn parse_positive(text: &str) -> Result<Duration, DurationError> {
    let duration = parse(text)?;
    if duration.is_zero() {
        return Err(DurationError {
            text: text.to_owned(),
            problem: DurationProblem::Zero,
        });
    }
    Ok(duration)
}

/// Writes `duration` so that [`parse`] reads it back: `0`, else humantime's `1h 30m`.
pub fn format(duration: Duration) -> String {
    if duration.is_zero() {
        "0".to_owned()
    } else {
        humantime::format_duration(duration).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        let secs = Duration::from_secs;
        for (text, want) in [
            ("0", secs(0)),
            (" 0 ", secs(0)),
            ("0s", secs(0)),
            ("90s", secs(90)),
            ("1m30s", secs(90)),
            ("1h 30m", secs(5400)),
            ("4h", secs(14_400)),
            ("2d", secs(2 * 86_400)),
            ("250ms", Duration::from_millis(250)),
            ("5min", secs(300)),
            ("1.5h", secs(5400)),
        ] {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
        for bad in ["", "10", "-5m", "soon", "5 parsecs", "m5"] {
            let e = parse(bad).unwrap_err();
            assert!(matches!(e.problem, DurationProblem::Malformed(_)), "{bad}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn positive_refuses_zero() {
        assert_eq!(parse_positive("5m"), Ok(Duration::from_secs(300)));
        for zero in ["0", "0s", "0ms"] {
            let e = parse_positive(zero).unwrap_err();
            assert_eq!(e.problem, DurationProblem::Zero);
            assert!(e.to_string().contains("longer than zero"), "{e}");
        }
    }

    #[test]
    fn format_reads_back() {
        for d in [0, 1, 59, 90, 3600, 5400, 86_400 + 61] {
            let d = Duration::from_secs(d);
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
