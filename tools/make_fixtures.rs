//! Writes the fixture set (see `follicount::synth::fixtures`):
//!
//!     cargo run --release --features dev --bin make-fixtures -- fixtures
//!
//! Deterministic: the same seeds give byte-identical files.

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fixtures".into());
    follicount::synth::fixtures::write_all(std::path::Path::new(&dir))
}
