//! The 32-code currency whitelist.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every accepted ISO 4217 code.
pub const CURRENCIES: [&str; 32] = [
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD", "INR", "MXN",
    "BRL", "ZAR", "AED", "SAR", "KRW", "TWD", "THB", "MYR", "IDR", "PHP", "VND", "PLN", "SEK",
    "NOK", "DKK", "CZK", "HUF", "ILS", "TRY",
];

/// A whitelisted currency code, always upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(&'static str);

/// Why a string is not an accepted currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCurrency {
    /// The code is not exactly three characters long.
    #[error("currency code must be 3 characters")]
    Length,
    /// The code is not in the whitelist.
    #[error("unsupported currency code {0}")]
    Unknown(String),
}

impl InvalidCurrency {
    /// The user-facing validation message, as the original service words it.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::Length => "Currency code must be 3 characters".to_owned(),
            Self::Unknown(code) => {
                format!("Invalid currency code: {code}. Must be a valid ISO 4217 code.")
            }
        }
    }
}

impl Currency {
    /// US dollar.
    pub const USD: Self = Self("USD");
    /// Euro.
    pub const EUR: Self = Self("EUR");
    /// Pound sterling.
    pub const GBP: Self = Self("GBP");

    /// Parses a code, accepting any letter case (`"usd"` becomes `USD`).
    ///
    /// # Errors
    /// [`InvalidCurrency`] when the code is not three characters or not whitelisted.
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        if code.chars().count() != 3 {
            return Err(InvalidCurrency::Length);
        }
        let upper = code.to_uppercase();
        CURRENCIES
            .iter()
            .find(|known| **known == upper)
            .map(|known| Self(known))
            .ok_or(InvalidCurrency::Unknown(upper))
    }

    /// The upper-case code.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for Currency {
    type Err = InvalidCurrency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_codes_are_upper_cased() {
        assert_eq!(Currency::parse("usd"), Ok(Currency::USD));
        assert_eq!(Currency::parse("Try").unwrap().as_str(), "TRY");
    }

    #[test]
    fn every_whitelisted_code_parses_and_others_do_not() {
        for code in CURRENCIES {
            assert_eq!(Currency::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(CURRENCIES.len(), 32);
        assert_eq!(
            Currency::parse("XXX"),
            Err(InvalidCurrency::Unknown("XXX".into()))
        );
        assert_eq!(
            Currency::parse("xxx").unwrap_err().message(),
            "Invalid currency code: XXX. Must be a valid ISO 4217 code."
        );
    }

    #[test]
    fn codes_of_the_wrong_length_are_rejected() {
        for bad in ["", "US", "USDX", "€€€€"] {
            assert_eq!(Currency::parse(bad), Err(InvalidCurrency::Length));
        }
        assert_eq!(
            InvalidCurrency::Length.message(),
            "Currency code must be 3 characters"
        );
    }

    #[test]
    fn currencies_serialize_as_their_code() {
        assert_eq!(serde_json::to_string(&Currency::EUR).unwrap(), "\"EUR\"");
        assert_eq!(
            serde_json::from_str::<Currency>("\"gbp\"").unwrap(),
            Currency::GBP
        );
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
    }
}
