//! One delivered batch read with serde straight into events: the array, and each element's `type`,
//! `time` and `record`.
//!
//! A record is read in passing into the fields any record object may have when its type is a log
//! type (`function`, `extension`), a platform type built from those fields, or not yet known (the
//! platform writes `type` first; the local sandbox writes keys in sorted order, `record` first).
//! Other records are kept as raw text until the element ends. The rare batch where a record read
//! in passing turns out to be needed as JSON text (a type kept as JSON, a log record that is not a
//! string or has no `message`) is read again with every record kept as raw text
//! ([`Batch::needs_text`]). Records read in passing share one allocation per batch: each is read
//! into the one its predecessor was built from. The list of events starts with room for as many
//! as the body's length suggests, so that it rarely moves while it fills.
//!
//! What is accepted is exactly what parsing the batch into `serde_json::Value` accepts; a batch
//! that `Value` would refuse is refused whole.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::body::{self, check, record_fields, NeedsText, ReadRecord, RequestIds, SpareRecord};
use super::events::TelemetryEvent;
use super::lenient::{next_value, Fields, StartingWith};
use super::subscribe::BUFFER_MAX_ITEMS;
use super::time::parse_time;

/// The deepest nesting of arrays and objects that serde_json's parser accepts in a document (its
/// recursion limit); a deeper document is not JSON to it.
const JSON_NESTING_LIMIT: usize = 127;

/// The deepest nesting a `record` may have: it lies inside the batch's array and its element's
/// object. It is enforced here because records are parsed on their own, from their raw text.
const RECORD_NESTING_LIMIT: usize = JSON_NESTING_LIMIT - 2;

/// The fewest events a batch's list starts with room for.
const MIN_INITIAL_EVENTS: usize = 16;

/// Bytes of a delivery per event, on the low side: a short log line's element takes about 100,
/// a platform event's 200 to 600. A list with room for the body's length over this rarely regrows
/// (each regrowth moves every event already read).
const EVENT_BYTES_LOW: usize = 128;

/// The most events a batch's list starts with room for: the platform cuts a batch at the
/// subscription's `maxItems`.
const MAX_INITIAL_EVENTS: usize = BUFFER_MAX_ITEMS as usize;

/// The events a batch of `body_len` bytes starts with room for.
fn initial_events(body_len: usize) -> usize {
    (body_len / EVENT_BYTES_LOW).clamp(MIN_INITIAL_EVENTS, MAX_INITIAL_EVENTS)
}

/// A batch read whole: its events in delivery order and the count of elements that were not.
/// `RAW_RECORDS`: every record is kept as raw text until its element ends.
pub(super) struct Batch<const RAW_RECORDS: bool> {
    /// The elements that are events.
    pub(super) events: Vec<TelemetryEvent>,
    /// The elements that are not: not objects, without a string `type`, platform records that are
    /// not objects, invocation events without `requestId`.
    pub(super) skipped: usize,
    /// A record read in passing was needed as JSON text: the batch must be read again with
    /// `RAW_RECORDS` (its events and count are then incomplete).
    pub(super) needs_text: bool,
}

impl<const RAW_RECORDS: bool> Batch<RAW_RECORDS> {
    /// Reads the batch `text` (as `serde_json::from_str` would), its list sized from its length.
    pub(super) fn read(text: &str) -> Result<Self, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let batch = WithRoom(initial_events(text.len())).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(batch)
    }
}

/// Reads a [`Batch`] whose list starts with room for `.0` events.
struct WithRoom<const RAW_RECORDS: bool>(usize);

impl<'de, const RAW_RECORDS: bool> DeserializeSeed<'de> for WithRoom<RAW_RECORDS> {
    type Value = Batch<RAW_RECORDS>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(BatchVisitor(self.0))
    }
}

/// Reads the array, with room for `.0` events.
struct BatchVisitor<const RAW_RECORDS: bool>(usize);

impl<'de, const RAW_RECORDS: bool> Visitor<'de> for BatchVisitor<RAW_RECORDS> {
    type Value = Batch<RAW_RECORDS>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of telemetry events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut batch = Batch {
            events: Vec::with_capacity(self.0),
            skipped: 0,
            needs_text: false,
        };
        let mut spare = None;
        let mut ids = RequestIds::default();
        // Each element starts with the allocation the last record read in passing left.
        while let Some(element) =
            seq.next_element_seed(StartingWith(|| Element::<'de, RAW_RECORDS> {
                spare: spare.take(),
                ..Element::default()
            }))?
        {
            match element.object() {
                Some(element) => element
                    .add_to(&mut batch, &mut spare, &mut ids)
                    .map_err(de::Error::custom)?,
                None => batch.skipped += 1,
            }
        }
        Ok(batch)
    }
}

/// The keys of one element lambda-lens reads, each as its last occurrence left it.
#[derive(Default)]
struct Element<'de, const RAW_RECORDS: bool> {
    kind: Option<Cow<'de, str>>,
    time: Option<Cow<'de, str>>,
    record: Option<ElementRecord<'de>>,
    /// The allocation to read a record in passing into, if an earlier record left one.
    spare: SpareRecord<'de>,
}

/// An element's `record`.
enum ElementRecord<'de> {
    /// Kept as its raw text.
    Raw(&'de RawValue),
    /// Read in passing.
    Read(ReadRecord<'de>),
}

impl<'de, const RAW_RECORDS: bool> Fields<'de> for Element<'de, RAW_RECORDS> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "type" => self.kind = next_value(map)?.text(),
            "time" => self.time = next_value(map)?.text(),
            "record" => {
                let in_passing =
                    !RAW_RECORDS && self.kind.as_deref().is_none_or(body::reads_in_passing);
                let record = if in_passing {
                    let spare = &mut self.spare;
                    ElementRecord::Read(map.next_value_seed(StartingWith(|| record_fields(spare)))?)
                } else {
                    let raw: &RawValue = map.next_value()?;
                    if nests_deeper_than(raw.get(), RECORD_NESTING_LIMIT) {
                        return Err(de::Error::custom("a record nests too deep"));
                    }
                    ElementRecord::Raw(raw)
                };
                // Capturing raw text checks less than parsing does; a record read twice is
                // checked in full before it is replaced, as `Value` would have parsed both.
                if let Some(ElementRecord::Raw(replaced)) = self.record.replace(record) {
                    check(replaced).map_err(de::Error::custom)?;
                }
            }
            _ => drop(next_value(map)?),
        }
        Ok(())
    }
}

impl<'de, const RAW_RECORDS: bool> Element<'de, RAW_RECORDS> {
    /// Adds the element to `batch`: its event, or one more skipped element when it is not one, or
    /// `needs_text` when a record read in passing is needed as text; `Err` when the record is not
    /// valid JSON. The allocation of a record read in passing, or the one the element was given,
    /// is left in `spare`; request ids are made through `ids`.
    fn add_to(
        self,
        batch: &mut Batch<RAW_RECORDS>,
        spare: &mut SpareRecord<'de>,
        ids: &mut RequestIds,
    ) -> Result<(), serde_json::Error> {
        *spare = self.spare;
        let Some(kind) = self.kind else {
            if let Some(ElementRecord::Raw(raw)) = self.record {
                check(raw)?;
            }
            batch.skipped += 1;
            return Ok(());
        };
        let time = self
            .time
            .as_deref()
            .and_then(parse_time)
            .unwrap_or_else(SystemTime::now);
        let body = match self.record {
            Some(ElementRecord::Read(record)) => body::from_read(&kind, record, time, spare, ids),
            Some(ElementRecord::Raw(raw)) => Ok(body::read(&kind, Some(raw), time, ids)?),
            None => Ok(body::read(&kind, None, time, ids)?),
        };
        match body {
            // The event is built where it is kept: a body is a few hundred bytes to move.
            Ok(Some(body)) => batch.events.push(TelemetryEvent { time, body }),
            Ok(None) => batch.skipped += 1,
            // Read on anyway: a batch `Value` would refuse is refused whole.
            Err(NeedsText) => batch.needs_text = true,
        }
        Ok(())
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
    fn the_list_is_sized_from_the_body_within_its_bounds() {
        assert_eq!(initial_events(0), MIN_INITIAL_EVENTS);
        assert_eq!(initial_events(9172), 71);
        assert_eq!(initial_events(4 * 1024 * 1024), 1000);
    }

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert!(!nests_deeper_than(r#"{"a":[1,{"b":"[[[[{{{{"}]}"#, 3));
        assert!(nests_deeper_than(r#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(!nests_deeper_than(r#"{"a":"\"[[[[[","b":[{}]}"#, 3));
        assert!(!nests_deeper_than("7", 0));
        assert!(nests_deeper_than("[]", 0));
    }
}
