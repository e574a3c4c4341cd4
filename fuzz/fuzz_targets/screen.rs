#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| openfeedback::fuzz::screen(data));
