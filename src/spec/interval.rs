//! Chunk intervals as the spec writes them: `7 days`, `12 hours`, `1 day 6 hours`,
//! or a plain integer for integer time columns.

use std::fmt;

use serde::Serialize;

const MICROS_PER_SECOND: i64 = 1_000_000;
const UNITS: &[(&[&str], i64)] = &[
    (&["microsecond", "microseconds", "us"], 1),
    (&["millisecond", "milliseconds", "ms"], 1_000),
    (
        &["second", "seconds", "sec", "secs", "s"],
        MICROS_PER_SECOND,
    ),
    (
        &["minute", "minutes", "min", "mins"],
        60 * MICROS_PER_SECOND,
    ),
    (&["hour", "hours", "h"], 3_600 * MICROS_PER_SECOND),
    (&["day", "days", "d"], 86_400 * MICROS_PER_SECOND),
    (&["week", "weeks", "w"], 7 * 86_400 * MICROS_PER_SECOND),
];

/// Why text is not a chunk interval; each message quotes the text as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    /// Nothing but spaces.
    #[error("empty interval; write for example `7 days`")]
    Empty,
    /// A number at the end, with no unit.
    #[error("interval `{text}` needs a unit after `{number}`, such as `days`")]
    NoUnit {
        /// The interval as written.
        text: String,
        /// The number without a unit.
        number: String,
    },
    /// A count that is not a whole number.
    #[error("interval `{text}`: `{number}` is not a whole number")]
    NotWhole {
        /// The interval as written.
        text: String,
        /// The count as written.
        number: String,
    },
    /// Months or years, whose length varies.
    #[error("interval `{0}`: months and years vary in length; give the interval in days or weeks")]
    VariableUnit(String),
    /// A unit not in the list.
    #[error(
        "interval `{text}`: unknown unit `{unit}` (use microseconds, milliseconds, seconds, minutes, hours, days or weeks)"
    )]
    UnknownUnit {
        /// The interval as written.
        text: String,
        /// The unit as written.
        unit: String,
    },
    /// More microseconds than an `i64` holds.
    #[error("interval `{0}` is too large")]
    TooLarge(String),
    /// Zero or negative.
    #[error("interval `{0}` must be positive")]
    NotPositive(String),
    /// An integer interval of zero or less.
    #[error("chunk_time_interval {0} must be positive")]
    IntegerNotPositive(i64),
}

/// A chunk interval: a fixed length of time, or a width in integer time units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkInterval {
    /// For `timestamptz`, `timestamp` and `date` columns, in microseconds.
    Time {
        /// Length in microseconds; always positive.
        micros: i64,
    },
    /// For integer time columns, in the column's own units; always positive.
    Integer(i64),
}

impl ChunkInterval {
    /// Parse the text form. Months and years are refused: their length varies,
    /// and a chunk interval must be fixed.
    pub fn parse_time(text: &str) -> Result<Self, IntervalError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            return Err(IntervalError::Empty);
        }
        let mut total: i64 = 0;
        let mut i = 0;
        while i < words.len() {
            // Accept both `7 days` and `7days`.
            let (number, unit) = match words[i].find(|c: char| c.is_ascii_alphabetic()) {
                Some(pos) if pos > 0 => (&words[i][..pos], &words[i][pos..]),
                _ => {
                    let unit = words
                        .get(i + 1)
                        .copied()
                        .ok_or_else(|| IntervalError::NoUnit {
                            text: text.to_string(),
                            number: words[i].to_string(),
                        })?;
                    i += 1;
                    (words[i - 1], unit)
                }
            };
            i += 1;
            let n: i64 = number.parse().map_err(|_| IntervalError::NotWhole {
                text: text.to_string(),
                number: number.to_string(),
            })?;
            let unit_lc = unit.to_ascii_lowercase();
            let factor = UNITS
                .iter()
                .find(|(names, _)| names.contains(&unit_lc.as_str()))
                .map(|(_, f)| *f)
                .ok_or_else(|| match unit_lc.trim_end_matches('s') {
                    "month" | "mon" | "year" | "yr" => {
                        IntervalError::VariableUnit(text.to_string())
                    }
                    _ => IntervalError::UnknownUnit {
                        text: text.to_string(),
                        unit: unit.to_string(),
                    },
                })?;
            total = n
                .checked_mul(factor)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| IntervalError::TooLarge(text.to_string()))?;
        }
        if total <= 0 {
            return Err(IntervalError::NotPositive(text.to_string()));
        }
        Ok(ChunkInterval::Time { micros: total })
    }

    /// An integer interval, which must be positive.
    pub fn integer(width: i64) -> Result<Self, IntervalError> {
        if width <= 0 {
            return Err(IntervalError::IntegerNotPositive(width));
        }
        Ok(ChunkInterval::Integer(width))
    }

    /// The interval as a SQL expression for `by_range`.
    pub fn sql(&self) -> String {
        match self {
            ChunkInterval::Time { .. } => format!("INTERVAL '{self}'"),
            ChunkInterval::Integer(n) => n.to_string(),
        }
    }

    /// Width in the dimension's internal units (microseconds for time).
    pub fn width(&self) -> i64 {
        match self {
            ChunkInterval::Time { micros } => *micros,
            ChunkInterval::Integer(n) => *n,
        }
    }
}

/// The canonical text: the largest unit that divides the interval exactly.
impl fmt::Display for ChunkInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkInterval::Integer(n) => write!(f, "{n}"),
            ChunkInterval::Time { micros } => {
                let (names, factor) = UNITS
                    .iter()
                    .rev()
                    .find(|(_, factor)| micros % factor == 0)
                    .expect("microseconds divide everything");
                // Weeks print as days: that is how TimescaleDB shows them.
                let (unit, factor) = if names[0] == "week" {
                    ("day", 86_400 * MICROS_PER_SECOND)
                } else {
                    (names[0], *factor)
                };
                let n = micros / factor;
                write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(text: &str) -> i64 {
        ChunkInterval::parse_time(text).unwrap().width()
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!(micros("7 days"), 7 * 86_400_000_000);
        assert_eq!(micros("1 day"), 86_400_000_000);
        assert_eq!(micros("12 hours"), 12 * 3_600_000_000);
        assert_eq!(micros("1 day 6 hours"), 30 * 3_600_000_000);
        assert_eq!(micros("2weeks"), 14 * 86_400_000_000);
        assert_eq!(micros("90 Minutes"), 90 * 60_000_000);
    }

    #[test]
    fn refuses_bad_intervals() {
        for bad in ["", "7", "7 dayz", "1 month", "0 days", "-1 days", "x days"] {
            assert!(
                ChunkInterval::parse_time(bad).is_err(),
                "{bad:?} must be refused"
            );
        }
        assert!(ChunkInterval::integer(0).is_err());
    }

    #[test]
    fn displays_canonically() {
        assert_eq!(
            ChunkInterval::parse_time("168 hours").unwrap().to_string(),
            "7 days"
        );
        assert_eq!(
            ChunkInterval::parse_time("1 day").unwrap().to_string(),
            "1 day"
        );
        assert_eq!(
            ChunkInterval::parse_time("90 minutes").unwrap().to_string(),
            "90 minutes"
        );
        assert_eq!(
            ChunkInterval::parse_time("7 days").unwrap().sql(),
            "INTERVAL '7 days'"
        );
    }

    #[test]
    fn error_messages_are_exact() {
        let message = |text: &str| ChunkInterval::parse_time(text).unwrap_err().to_string();
        assert_eq!(message(" "), "empty interval; write for example `7 days`");
        assert_eq!(
            message("7"),
            "interval `7` needs a unit after `7`, such as `days`"
        );
        assert_eq!(
            message("x days"),
            "interval `x days`: `x` is not a whole number"
        );
        assert_eq!(
            message("99999999999999 weeks"),
            "interval `99999999999999 weeks` is too large"
        );
        assert_eq!(
            ChunkInterval::integer(0).unwrap_err().to_string(),
            "chunk_time_interval 0 must be positive"
        );
    }
}
