//! Fuzz target `runtime_api_endpoint`: see the function it calls.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_lens::fuzzing::runtime_api_endpoint(data));
