//! WAL positions (`pg_lsn`): a 64-bit byte position, written `XXX/YYY` in hex.

use std::fmt;
use std::str::FromStr;

/// A WAL position. Ordered like the server orders `pg_lsn` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The zero position; `START_REPLICATION … LOGICAL 0/0` means "from the slot's
    /// confirmed position".
    pub const ZERO: Lsn = Lsn(0);
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

/// A text that is not `XXX/YYY` with two hexadecimal halves of at most 8 digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid WAL position `{0}` (expected XXX/YYY in hexadecimal)")]
pub struct LsnParseError(pub String);

impl FromStr for Lsn {
    type Err = LsnParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || LsnParseError(s.to_string());
        let (hi, lo) = s.split_once('/').ok_or_else(bad)?;
        let half = |part: &str| {
            if part.is_empty() || part.len() > 8 {
                return Err(bad());
            }
            u32::from_str_radix(part, 16).map_err(|_| bad())
        };
        Ok(Lsn((u64::from(half(hi)?) << 32) | u64::from(half(lo)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips_through_its_text_form() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn, Lsn(0x16_B374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!(Lsn::ZERO.to_string(), "0/0");
        assert!("16".parse::<Lsn>().is_err());
        assert!("/1".parse::<Lsn>().is_err());
        assert!("1/123456789".parse::<Lsn>().is_err());
        assert!("0/5A4B59B".parse::<Lsn>().unwrap() < "1/0".parse::<Lsn>().unwrap());
    }
}
