//! JSON helpers shared by event parsing, redaction and transforms: the one JSON-path grammar users
//! write in settings ([`path`]), the one lexical scanner ([`scan`]) with the value locator built on
//! it ([`locate`]), the parser of heads the capture may have cut ([`prefix`]), and the resumable
//! scanner for bodies read as they stream past ([`stream`]).

pub mod locate;
pub mod path;
pub mod prefix;
pub mod scan;
pub mod stream;

pub use self::path::{JsonPath, PathStep, Segment};
