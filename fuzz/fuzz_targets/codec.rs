#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtmedia_fuzz::codec(data));
