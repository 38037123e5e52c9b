//! The aggregation: one series per instrument and attribute set, summed or bucketed as values are
//! recorded, and turned into OTLP metrics at each collection — reset after it for delta
//! temporality, kept for cumulative.

use std::collections::BTreeMap;
use std::time::SystemTime;

use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum,
};

use super::histogram::HistogramPoint;
use super::names::{Instrument, Kind};
use super::Temporality;
use crate::proto_values;

/// One attribute of a series: (name, value), every value one of a few known words.
pub type Attribute = (&'static str, &'static str);

/// A series' attributes, as stored.
type Attributes = Vec<Attribute>;

#[derive(Debug, Clone, PartialEq)]
enum Point {
    Sum(u64),
    Histogram(HistogramPoint),
}

/// Every series recorded since the start of the current collection period.
#[derive(Debug)]
pub struct Aggregates {
    temporality: Temporality,
    /// Per instrument, in name order (names are unique), per attribute set: looked up by borrowed
    /// attributes, so recording into an existing series allocates nothing. Iterates in
    /// (instrument, attributes) order.
    series: Vec<(Instrument, BTreeMap<Attributes, Point>)>,
    /// Start of the points' time window.
    start: SystemTime,
}

impl Aggregates {
    /// No series yet; the window starts at `start`.
    pub fn new(temporality: Temporality, start: SystemTime) -> Self {
        Self {
            temporality,
            series: Vec::new(),
            start,
        }
    }

    /// Adds `count` to the counter `instrument`.
    pub fn add(&mut self, instrument: Instrument, attributes: &[Attribute], count: u64) {
        self.update(
            instrument,
            attributes,
            || Point::Sum(0),
            |point| {
                if let Point::Sum(sum) = point {
                    *sum += count;
                }
            },
        );
    }

    /// Records `value` into the histogram `instrument`.
    pub fn record(&mut self, instrument: Instrument, attributes: &[Attribute], value: f64) {
        let Kind::Histogram(bounds) = instrument.kind else {
            return;
        };
        let bounds = bounds.values();
        self.update(
            instrument,
            attributes,
            || Point::Histogram(HistogramPoint::new(bounds)),
            |point| {
                if let Point::Histogram(point) = point {
                    point.record(bounds, value);
                }
            },
        );
    }

    /// Applies `change` to the series of `instrument` and `attributes`, made by `new` when there is
    /// none yet.
    fn update(
        &mut self,
        instrument: Instrument,
        attributes: &[Attribute],
        new: impl FnOnce() -> Point,
        change: impl FnOnce(&mut Point),
    ) {
        let series = self.series_of(instrument);
        match series.get_mut(attributes) {
            Some(point) => change(point),
            None => {
                let mut point = new();
                change(&mut point);
                series.insert(attributes.to_vec(), point);
            }
        }
    }

    /// The series of `instrument`, added in name order when it has none yet.
    fn series_of(&mut self, instrument: Instrument) -> &mut BTreeMap<Attributes, Point> {
        // Instruments are constants, so a name is usually the very text already stored: found by
        // its address without comparing text, which a search among names sharing `faas.` does.
        let known = self
            .series
            .iter()
            .position(|(known, _)| std::ptr::eq(known.name, instrument.name));
        let at = match known {
            Some(at) => at,
            None => match self
                .series
                .binary_search_by(|(known, _)| known.name.cmp(instrument.name))
            {
                Ok(at) => at,
                Err(at) => {
                    self.series.insert(at, (instrument, BTreeMap::new()));
                    at
                }
            },
        };
        &mut self.series[at].1
    }

    /// The metrics at `now`, one per instrument with data (none when nothing was recorded).
    pub fn collect(&mut self, now: SystemTime) -> Vec<Metric> {
        let (start, time) = (
            proto_values::unix_nanos(self.start),
            proto_values::unix_nanos(now),
        );
        let temporality = self.temporality.proto() as i32;
        let mut metrics: Vec<Metric> = Vec::new();
        let series = self.series.iter().flat_map(|(instrument, points)| {
            points
                .iter()
                .map(move |(attributes, point)| (instrument, attributes, point))
        });
        for (instrument, attributes, point) in series {
            let attributes: Vec<_> = attributes
                .iter()
                .map(|(key, value)| proto_values::string(key, *value))
                .collect();
            if metrics.last().is_none_or(|m| m.name != instrument.name) {
                metrics.push(Metric {
                    name: instrument.name.to_owned(),
                    unit: instrument.unit.to_owned(),
                    description: instrument.description.to_owned(),
                    data: Some(match instrument.kind {
                        Kind::Counter => metric::Data::Sum(Sum {
                            data_points: Vec::new(),
                            aggregation_temporality: temporality,
                            is_monotonic: true,
                        }),
                        Kind::Histogram(_) => metric::Data::Histogram(Histogram {
                            data_points: Vec::new(),
                            aggregation_temporality: temporality,
                        }),
                    }),
                    ..Metric::default()
                });
            }
            let data = metrics.last_mut().and_then(|m| m.data.as_mut());
            match (data, point, instrument.kind) {
                (Some(metric::Data::Sum(sum)), Point::Sum(value), _) => {
                    sum.data_points.push(NumberDataPoint {
                        attributes,
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsInt(
                            i64::try_from(*value).unwrap_or(i64::MAX),
                        )),
                        ..NumberDataPoint::default()
                    });
                }
                (
                    Some(metric::Data::Histogram(histogram)),
                    Point::Histogram(point),
                    Kind::Histogram(bounds),
                ) => histogram.data_points.push(HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count: point.count,
                    sum: Some(point.sum),
                    bucket_counts: point.bucket_counts.clone(),
                    explicit_bounds: bounds.values().to_vec(),
                    min: Some(point.min),
                    max: Some(point.max),
                    ..HistogramDataPoint::default()
                }),
                _ => {}
            }
        }
        if self.temporality.resets() {
            self.series.clear();
            self.start = now;
        }
        metrics
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::names::{
        FAAS_ERRORS, FAAS_INVOCATIONS, FAAS_INVOKE_DURATION, INSTRUMENTS, METRIC_NAMES,
    };
    use super::*;

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    #[test]
    fn instrument_names_are_unique_so_they_key_the_series() {
        let names: std::collections::BTreeSet<&str> = METRIC_NAMES.into_iter().collect();
        assert_eq!(names.len(), INSTRUMENTS.len());
    }

    fn sums(metric: &Metric) -> Vec<i64> {
        match &metric.data {
            Some(metric::Data::Sum(sum)) => sum
                .data_points
                .iter()
                .map(|p| match p.value {
                    Some(number_data_point::Value::AsInt(v)) => v,
                    _ => panic!("not an integer"),
                })
                .collect(),
            other => panic!("not a sum: {other:?}"),
        }
    }

    fn recorded(temporality: Temporality) -> Aggregates {
        let mut aggregates = Aggregates::new(temporality, t(0));
        let http = vec![("faas.trigger", "http")];
        aggregates.add(FAAS_INVOCATIONS, &http, 1);
        aggregates.add(FAAS_INVOCATIONS, &http, 1);
        aggregates.add(FAAS_ERRORS, &[("faas.trigger", "other")], 1);
        aggregates.record(FAAS_INVOKE_DURATION, &http, 0.02);
        aggregates
    }

    #[test]
    fn delta_resets_after_each_collection() {
        let mut aggregates = recorded(Temporality::Delta);
        let first = aggregates.collect(t(100));
        let names: Vec<_> = first.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["faas.errors", "faas.invocations", "faas.invoke_duration"]
        );
        assert_eq!(sums(&first[1]), vec![2]);
        let Some(metric::Data::Histogram(histogram)) = &first[2].data else {
            panic!("not a histogram");
        };
        let point = &histogram.data_points[0];
        assert_eq!(point.count, 1);
        assert_eq!(point.bucket_counts[2], 1, "0.02 s is in (0.01, 0.025]");
        assert_eq!(point.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(point.time_unix_nano, 1_700_000_000_100_000_000);
        assert!(aggregates.collect(t(200)).is_empty(), "nothing new");
        aggregates.add(FAAS_INVOCATIONS, &[("faas.trigger", "http")], 1);
        let second = aggregates.collect(t(300));
        assert_eq!(sums(&second[0]), vec![1]);
        let Some(metric::Data::Sum(sum)) = &second[0].data else {
            panic!("not a sum");
        };
        assert_eq!(
            sum.data_points[0].start_time_unix_nano,
            1_700_000_000_200_000_000
        );
        assert_eq!(sum.aggregation_temporality, 1, "delta");
    }

    #[test]
    fn cumulative_keeps_counting_from_the_start() {
        let mut aggregates = recorded(Temporality::Cumulative);
        aggregates.collect(t(100));
        aggregates.add(FAAS_INVOCATIONS, &[("faas.trigger", "http")], 1);
        let second = aggregates.collect(t(300));
        assert_eq!(sums(&second[1]), vec![3]);
        let Some(metric::Data::Sum(sum)) = &second[1].data else {
            panic!("not a sum");
        };
        assert_eq!(
            sum.data_points[0].start_time_unix_nano,
            1_700_000_000_000_000_000
        );
        assert_eq!(sum.aggregation_temporality, 2, "cumulative");
    }
}
