//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shipped fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Asserts an exit code, showing stderr when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The follicount binary built for these tests.
#[allow(dead_code)] // not every test crate runs the binary this way
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_follicount"))
}

/// `follicount count INPUTS… -o OUT EXTRA…`, run to completion.
#[allow(dead_code)] // not every test crate runs the binary this way
pub fn count(out: &Path, inputs: &[&Path], extra: &[&str]) -> Output {
    let mut c = bin();
    c.arg("count");
    for i in inputs {
        c.arg(i);
    }
    c.arg("-o").arg(out).args(extra);
    c.output().expect("binary runs")
}
