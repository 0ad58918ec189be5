//! Writes the fuzzer's seed inputs (small files in every layout, plus
//! broken ones) into a folder:
//!
//!     cargo run --features dev --bin fuzz-seeds -- fuzz/corpus/load
fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus/load".into());
    follicount::synth::fixtures::write_fuzz_seeds(std::path::Path::new(&dir))
}
