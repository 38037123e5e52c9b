//! JSON helpers shared by redaction and transforms: the one JSON-path grammar users write in
//! settings ([`path`]).

pub mod path;

pub use self::path::{JsonPath, PathStep, Segment};
