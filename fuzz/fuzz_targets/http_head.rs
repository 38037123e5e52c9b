//! Fuzz target `http_head`: see the function it calls.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_lens_fuzz::differential::http_head(data));
