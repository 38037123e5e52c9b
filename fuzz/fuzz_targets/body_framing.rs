//! Fuzz target `body_framing`: see the function it calls.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_lens_fuzz::differential::body_framing(data));
