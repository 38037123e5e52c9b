//! The fuzz targets' shared code: the strict reference parser of HTTP/1.1 message boundaries and
//! the differential oracle that judges the proxy's parser against it. The targets of the other
//! parsers live in `lambda_lens::fuzzing`.

pub mod differential;
pub mod reference;
