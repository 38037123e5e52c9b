//! Fuzz target `record_scanner`: see the function it calls.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_lens::fuzzing::record_scanner(data));
