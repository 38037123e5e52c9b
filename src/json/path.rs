//! The JSON-path grammar of every path setting (`LAMBDA_LENS_REDACT_PATHS`,
//! `LAMBDA_LENS_MASK_RESPONSE_PATHS`): dot-separated object keys, `*` for any key, `[n]` for one
//! array element and `[*]` for every element, with an optional leading `$` or `$.`
//! (`$.body.card.number`, `Records[*].dynamodb.NewImage`, `items[0].pin`). Keys are case-sensitive.

/// One step of a configured path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object member with exactly this key.
    Key(String),
    /// Any object member (`*`).
    AnyKey,
    /// One array element (`[n]`).
    Index(usize),
    /// Every array element (`[*]`).
    AnyIndex,
}

/// One step of the location of a value in a document being walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStep<'a> {
    /// An object member.
    Key(&'a str),
    /// An array element.
    Index(usize),
}

/// A parsed path; it names values exactly (no recursive descent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(Vec<Segment>);

impl JsonPath {
    /// Parses a path; `None` when it is empty or not of the grammar above.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.strip_prefix('$').unwrap_or(raw);
        let raw = raw.strip_prefix('.').unwrap_or(raw);
        let mut segments = Vec::new();
        for part in raw.split('.') {
            let (name, mut indices) = part.split_at(part.find('[').unwrap_or(part.len()));
            match name {
                "" if indices.is_empty() => return None,
                "" => {}
                _ if name.contains(']') => return None,
                "*" => segments.push(Segment::AnyKey),
                key => segments.push(Segment::Key(key.to_owned())),
            }
            while !indices.is_empty() {
                let (index, rest) = indices.strip_prefix('[')?.split_once(']')?;
                segments.push(match index {
                    "*" => Segment::AnyIndex,
                    n => Segment::Index(n.parse().ok()?),
                });
                indices = rest;
            }
        }
        (!segments.is_empty()).then_some(Self(segments))
    }

    /// The steps of the path, outermost first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether a value at `location` (outermost step first) is named by this path.
    pub fn matches(&self, location: &[PathStep<'_>]) -> bool {
        self.0.len() == location.len()
            && self
                .0
                .iter()
                .zip(location)
                .all(|(segment, step)| segment.matches(*step))
    }
}

impl Segment {
    /// Whether this segment names that step.
    pub fn matches(&self, step: PathStep<'_>) -> bool {
        match (self, step) {
            (Segment::Key(k), PathStep::Key(s)) => k == s,
            (Segment::AnyKey, PathStep::Key(_)) => true,
            (Segment::Index(i), PathStep::Index(n)) => *i == n,
            (Segment::AnyIndex, PathStep::Index(_)) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_wildcards_and_indexes() {
        assert_eq!(
            JsonPath::parse("$.a[*][2].b").map(|p| p.0),
            Some(vec![
                Segment::Key("a".into()),
                Segment::AnyIndex,
                Segment::Index(2),
                Segment::Key("b".into()),
            ])
        );
        assert_eq!(
            JsonPath::parse("Records[*].*").map(|p| p.0),
            Some(vec![
                Segment::Key("Records".into()),
                Segment::AnyIndex,
                Segment::AnyKey,
            ])
        );
        assert_eq!(JsonPath::parse("$a.b"), JsonPath::parse("a.b"));
        for bad in ["", "$", "a..b", "a[x]", "a[1", "a[]", "a[", "a]b", "a[0]x"] {
            assert_eq!(JsonPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn matches_exact_locations_only() {
        let path = JsonPath::parse("items[*].pin").expect("valid");
        assert!(path.matches(&[
            PathStep::Key("items"),
            PathStep::Index(3),
            PathStep::Key("pin")
        ]));
        assert!(!path.matches(&[PathStep::Key("items"), PathStep::Key("pin")]));
        assert!(!path.matches(&[
            PathStep::Key("items"),
            PathStep::Index(0),
            PathStep::Key("pin"),
            PathStep::Key("x"),
        ]));
    }
}
