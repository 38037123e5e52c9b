//! One explicit-bucket histogram data point: count, sum, min, max and bucket counts, where bucket
//! `i` holds the values in `(bounds[i-1], bounds[i]]` and the last one those above every bound.

/// The aggregate of the values recorded into one histogram series.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// One count per bucket: `bounds.len() + 1`.
    pub bucket_counts: Vec<u64>,
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl HistogramPoint {
    /// An empty point over `bounds`.
    pub fn new(bounds: &[f64]) -> Self {
        Self {
            bucket_counts: vec![0; bounds.len() + 1],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Records `value` against `bounds` (the ones the point was made with).
    pub fn record(&mut self, bounds: &[f64], value: f64) {
        let bucket = bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(bounds.len());
        self.bucket_counts[bucket] += 1;
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fall_in_their_upper_inclusive_bucket() {
        let bounds = [1.0, 10.0];
        let mut point = HistogramPoint::new(&bounds);
        for value in [0.5, 1.0, 1.5, 10.0, 11.0] {
            point.record(&bounds, value);
        }
        assert_eq!(point.bucket_counts, vec![2, 2, 1]);
        assert_eq!(point.count, 5);
        assert_eq!(point.sum, 24.0);
        assert_eq!((point.min, point.max), (0.5, 11.0));
    }
}
