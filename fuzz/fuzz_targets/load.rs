//! Arbitrary bytes through the loader and the whole single-field pipeline
//! (`follicount::fuzzing::load_and_analyse`, which tests/robustness.rs
//! also runs on every file under fixtures/bad). Nothing may panic, hang or
//! allocate beyond the limits.
//!
//!     cargo +nightly fuzz run load fuzz/corpus/load -- -runs=1000000
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| follicount::fuzzing::load_and_analyse(data));
