//! Every name the span model emits — attribute keys, span names, span event names — as constants.
//! Span building and the event sources write only these constants, so the lists below are what
//! lambda-lens emits, complete by construction; the dashboards' cross-check (`tests/configs.rs`)
//! iterates them instead of reading source text.
//!
//! The names live beside the span model rather than in a crate-level module because each one is a
//! name on a span or on its resource: the event sources ([`crate::event`]) describe the invocation
//! span, in the span model's words. This module depends on nothing, so using it from the event
//! sources or the settings ties no logic to span building.
//!
//! One file per namespace: [`semconv`] holds the names of the OpenTelemetry semantic-conventions
//! registry, [`lens`] lambda-lens's own (its `lambda_lens.*` namespace, and the few names it chose
//! in the conventions' style that the registry does not define). Each file declares its names in
//! groups, and a group's slice is generated with its constants, so no name can be left out of it.
//! The lists here join the groups by where the names appear.

/// Declares a group of names: one `pub const` per name, and a slice listing them all.
macro_rules! names {
    (
        $(#[$group_doc:meta])*
        $group:ident {
            $($(#[$doc:meta])* $name:ident = $value:literal,)+
        }
    ) => {
        $($(#[$doc])* pub const $name: &str = $value;)+

        $(#[$group_doc])*
        pub const $group: &[&str] = &[$($name),+];
    };
}

pub mod lens;
pub mod semconv;

/// The names of several groups, one list, built at compile time.
macro_rules! union {
    ($($group:expr),+ $(,)?) => {{
        const GROUPS: &[&[&str]] = &[$($group),+];
        const NAMES: [&str; total(GROUPS)] = concat(GROUPS);
        &NAMES
    }};
}

/// Resource attribute names (besides the user's, from `OTEL_RESOURCE_ATTRIBUTES`).
pub const RESOURCE_ATTRIBUTES: &[&str] = semconv::RESOURCE_ATTRIBUTES;

/// Span attribute names.
pub const SPAN_ATTRIBUTES: &[&str] = union!(semconv::SPAN_ATTRIBUTES, lens::SPAN_ATTRIBUTES);

/// Attribute names of span events.
pub const SPAN_EVENT_ATTRIBUTES: &[&str] = semconv::EXCEPTION_ATTRIBUTES;

/// Attribute names of span links.
pub const SPAN_LINK_ATTRIBUTES: &[&str] = lens::LINK_ATTRIBUTES;

/// Span names given by lambda-lens. The invocation span is named after the function (or its HTTP
/// route), the `runtimeDone` phase spans as the platform names them.
pub const SPAN_NAMES: &[&str] = lens::SPAN_NAMES;

/// Span event names.
pub const SPAN_EVENT_NAMES: &[&str] = semconv::SPAN_EVENT_NAMES;

/// The groups every emitted name belongs to, one group each.
const GROUPS: &[&[&str]] = &[
    RESOURCE_ATTRIBUTES,
    SPAN_ATTRIBUTES,
    SPAN_EVENT_ATTRIBUTES,
    SPAN_LINK_ATTRIBUTES,
    SPAN_NAMES,
    SPAN_EVENT_NAMES,
];

/// Every name lambda-lens emits.
pub const ALL: &[&str] = {
    const NAMES: [&str; total(GROUPS)] = concat(GROUPS);
    &NAMES
};

/// How many names `groups` hold together.
const fn total(groups: &[&[&str]]) -> usize {
    let (mut sum, mut group) = (0, 0);
    while group < groups.len() {
        sum += groups[group].len();
        group += 1;
    }
    sum
}

/// The names of `groups`, one group after the other.
const fn concat<const N: usize>(groups: &[&[&'static str]]) -> [&'static str; N] {
    let mut names = [""; N];
    let (mut at, mut group) = (0, 0);
    while group < groups.len() {
        let mut index = 0;
        while index < groups[group].len() {
            names[at] = groups[group][index];
            at += 1;
            index += 1;
        }
        group += 1;
    }
    names
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `a.b` or `a.b_c.d`: lower-case, dot-separated, at least two parts.
    fn is_dotted_key(name: &str) -> bool {
        let parts: Vec<&str> = name.split('.').collect();
        parts.len() > 1
            && parts.iter().all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            })
    }

    #[test]
    fn every_name_is_listed_once() {
        let unique: BTreeSet<&str> = ALL.iter().copied().collect();
        assert_eq!(unique.len(), ALL.len(), "{ALL:?}");
        assert_eq!(GROUPS.iter().map(|v| v.len()).sum::<usize>(), ALL.len());
        assert!(ALL.contains(&semconv::FAAS_TRIGGER) && ALL.contains(&lens::INIT_SPAN));
    }

    #[test]
    fn attribute_names_are_dotted_keys() {
        for name in RESOURCE_ATTRIBUTES
            .iter()
            .chain(SPAN_ATTRIBUTES)
            .chain(SPAN_EVENT_ATTRIBUTES)
            .chain(SPAN_LINK_ATTRIBUTES)
        {
            assert!(is_dotted_key(name), "{name}");
        }
    }

    #[test]
    fn the_namespaces_hold_what_they_say() {
        assert!(lens::SPAN_ATTRIBUTES
            .iter()
            .all(|name| name.starts_with("lambda_lens.")));
        let registry = [
            semconv::RESOURCE_ATTRIBUTES,
            semconv::SPAN_ATTRIBUTES,
            semconv::EXCEPTION_ATTRIBUTES,
            semconv::SPAN_EVENT_NAMES,
        ];
        let outside = [lens::SPAN_NAMES];
        for name in registry
            .iter()
            .chain(&outside)
            .flat_map(|group| group.iter())
        {
            assert!(!name.starts_with("lambda_lens"), "{name}");
        }
    }
}
