//! JSON helpers shared by event parsing, redaction and transforms: the one JSON-path grammar users
//! write in settings ([`path`]), the one lexical scanner ([`scan`]) with the value locator built on
//! it ([`locate`]), and the parser of heads the capture may have cut ([`prefix`]).

pub mod locate;
pub mod path;
pub mod prefix;
pub mod scan;

pub use self::path::{JsonPath, PathStep, Segment};
