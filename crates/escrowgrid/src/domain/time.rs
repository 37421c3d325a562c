//! Timestamps: UTC with millisecond precision, serialized as `2026-11-21T19:04:02.147Z`.
//!
//! Every stored timestamp is truncated to milliseconds (see [`now_millis`]) so the memory and
//! PostgreSQL backends return equal values.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The current time truncated to whole milliseconds.
#[must_use]
pub fn now_millis() -> DateTime<Utc> {
    truncate_millis(Utc::now())
}

/// Truncates a timestamp to whole milliseconds.
#[must_use]
pub fn truncate_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// Formats a timestamp as ISO-8601 UTC with milliseconds and a `Z`.
#[must_use]
pub fn format_millis(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serde helper for `DateTime<Utc>` fields: `#[serde(with = "crate::domain::time::millis")]`.
pub mod millis {
    use super::{DateTime, Deserialize, Deserializer, Serializer, Utc, format_millis};

    /// Serializes as `2026-11-21T19:04:02.147Z`.
    ///
    /// # Errors
    /// Whatever the serializer reports.
    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_millis(at))
    }

    /// Deserializes any RFC 3339 timestamp.
    ///
    /// # Errors
    /// When the text is not an RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Serde helper for `Option<DateTime<Utc>>` fields; pair with
/// `skip_serializing_if = "Option::is_none"` and `default`.
pub mod millis_option {
    use super::{DateTime, Deserialize, Deserializer, Serializer, Utc, format_millis};

    /// Serializes `Some` as `2026-11-21T19:04:02.147Z` and `None` as null.
    ///
    /// # Errors
    /// Whatever the serializer reports.
    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_str(&format_millis(at)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes null or an RFC 3339 timestamp.
    ///
    /// # Errors
    /// When the text is not an RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_formatted_with_milliseconds_and_z() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T19:04:02.147999+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            format_millis(&truncate_millis(at)),
            "2026-11-21T19:04:02.147Z"
        );
        let whole = DateTime::parse_from_rfc3339("2026-11-21T19:04:02Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_millis(&whole), "2026-11-21T19:04:02.000Z");
    }

    #[test]
    fn now_has_no_sub_millisecond_part() {
        assert_eq!(now_millis().timestamp_subsec_nanos() % 1_000_000, 0);
    }
}
