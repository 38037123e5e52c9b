//! Fuzz target `xray_header`: see the function it calls.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_lens::fuzzing::xray_header(data));
