//! One delivered batch read with serde straight into events: the array, and each element's `type`,
//! `time` and `record` (kept as its raw text until the whole element, hence its type, is known:
//! the platform writes `type` first, but nothing guarantees it).
//!
//! What is accepted is exactly what parsing the batch into `serde_json::Value` accepts; a batch
//! that `Value` would refuse is refused whole.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::body::{self, check};
use super::events::{parse_time, TelemetryEvent};
use super::lenient::{next_value, Fields, Lenient};

/// The deepest nesting of arrays and objects that serde_json's parser accepts in a document (its
/// recursion limit); a deeper document is not JSON to it.
const JSON_NESTING_LIMIT: usize = 127;

/// The deepest nesting a `record` may have: it lies inside the batch's array and its element's
/// object. It is enforced here because records are parsed on their own, from their raw text.
const RECORD_NESTING_LIMIT: usize = JSON_NESTING_LIMIT - 2;

/// A batch read whole: its events in delivery order and the count of elements that were not.
pub(super) struct Batch {
    /// The elements that are events.
    pub(super) events: Vec<TelemetryEvent>,
    /// The elements that are not: not objects, without a string `type`, platform records that are
    /// not objects, invocation events without `requestId`.
    pub(super) skipped: usize,
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(BatchVisitor)
    }
}

struct BatchVisitor;

impl<'de> Visitor<'de> for BatchVisitor {
    type Value = Batch;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of telemetry events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch, A::Error> {
        let mut batch = Batch {
            events: Vec::new(),
            skipped: 0,
        };
        while let Some(element) = seq.next_element::<Lenient<'_, Element<'_>>>()? {
            let event = match element.object() {
                Some(element) => element.into_event().map_err(de::Error::custom)?,
                None => None,
            };
            match event {
                Some(event) => batch.events.push(event),
                None => batch.skipped += 1,
            }
        }
        Ok(batch)
    }
}

/// The keys of one element lambda-lens reads, each as its last occurrence left it.
#[derive(Default)]
struct Element<'de> {
    kind: Option<Cow<'de, str>>,
    time: Option<Cow<'de, str>>,
    record: Option<&'de RawValue>,
}

impl<'de> Fields<'de> for Element<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "type" => self.kind = next_value(map)?.text(),
            "time" => self.time = next_value(map)?.text(),
            "record" => {
                let raw: &RawValue = map.next_value()?;
                if nests_deeper_than(raw.get(), RECORD_NESTING_LIMIT) {
                    return Err(de::Error::custom("a record nests too deep"));
                }
                // Capturing raw text checks less than parsing does; a record read twice is
                // checked in full before it is replaced, as `Value` would have parsed both.
                if let Some(replaced) = self.record.replace(raw) {
                    check(replaced).map_err(de::Error::custom)?;
                }
            }
            _ => drop(next_value(map)?),
        }
        Ok(())
    }
}

impl Element<'_> {
    /// The event, or `None` when the element is not one; `Err` when its record is not valid JSON.
    fn into_event(self) -> Result<Option<TelemetryEvent>, serde_json::Error> {
        let Some(kind) = self.kind else {
            return self.record.map_or(Ok(()), check).map(|()| None);
        };
        let time = self
            .time
            .as_deref()
            .and_then(parse_time)
            .unwrap_or_else(SystemTime::now);
        let body = body::read(&kind, self.record, time)?;
        Ok(body.map(|body| TelemetryEvent { time, body }))
    }
}

/// Whether the valid JSON text `raw` nests arrays and objects deeper than `limit`.
fn nests_deeper_than(raw: &str, limit: usize) -> bool {
    let bytes = raw.as_bytes();
    // Each level needs an opening bracket: counting them (strings included) rules out almost every
    // record without the string-aware walk below.
    let brackets = bytes.iter().filter(|&&b| b == b'[' || b == b'{').count();
    if brackets <= limit {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > limit {
                        return true;
                    }
                }
                b']' | b'}' => depth -= 1,
                _ => {}
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert!(!nests_deeper_than(r#"{"a":[1,{"b":"[[[[{{{{"}]}"#, 3));
        assert!(nests_deeper_than(r#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(!nests_deeper_than(r#"{"a":"\"[[[[[","b":[{}]}"#, 3));
        assert!(!nests_deeper_than("7", 0));
        assert!(nests_deeper_than("[]", 0));
    }
}
