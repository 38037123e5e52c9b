//! OTLP protobuf values: the constructors the metric builder uses (string attributes), and times
//! as OTLP writes them, shared by every signal.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

/// A string attribute.
pub fn string(key: &str, value: impl Into<String>) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.into()))
}

/// Nanoseconds since the epoch (0 for times before it, which OTLP reads as unknown).
pub fn unix_nanos(time: SystemTime) -> u64 {
    // In u64 arithmetic (saturating as the u128 conversion did): every span writes two of these.
    time.duration_since(UNIX_EPOCH).map_or(0, |d| {
        d.as_secs()
            .checked_mul(NANOS_PER_SECOND)
            .and_then(|nanos| nanos.checked_add(u64::from(d.subsec_nanos())))
            .unwrap_or(u64::MAX)
    })
}

/// Nanoseconds in a second.
const NANOS_PER_SECOND: u64 = 1_000_000_000;

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times_in_nanoseconds_saturate_and_clamp_as_u128_would() {
        let at = |d: Duration| unix_nanos(UNIX_EPOCH + d);
        assert_eq!(
            at(Duration::new(1_700_000_000, 123_456_789)),
            1_700_000_000_123_456_789
        );
        assert_eq!(at(Duration::ZERO), 0);
        assert_eq!(unix_nanos(UNIX_EPOCH - Duration::from_secs(1)), 0);
        let last = Duration::from_nanos(u64::MAX);
        assert_eq!(at(last), u64::MAX);
        assert_eq!(at(last + Duration::from_nanos(1)), u64::MAX);
        assert_eq!(
            at(Duration::from_secs(u64::MAX / 1_000_000_000 + 1)),
            u64::MAX
        );
    }
}
