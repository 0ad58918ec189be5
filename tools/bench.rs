//! End-to-end benchmark: follicount at -j 1 and -j all cores, the
//! decode-only floor, and the scikit-image reference pipeline, on the same
//! generated batch. Run through `scripts/bench.sh` (which installs the
//! Python side), or directly:
//!
//!     cargo build --release && cargo run --release --features dev --bin bench -- [--fields 32] [--stacks 8]
//!
//! The batch (2048×2048, 3 channels, 16-bit, Deflate; plus z-stacks of 8
//! slices) is generated once, deterministically, under target/bench-data.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use follicount::io::{LoadOptions, TiffSource};
use follicount::synth::write::{imagej_hyperstack, Comp, SampleType};
use follicount::synth::{render, Scene};
use rayon::prelude::*;

const SIZE: usize = 2048;

/// The decode-only floor is measured in this process: with the binary's
/// allocator and setting (src/allocator.rs), so both sides allocate alike.
#[path = "../src/allocator.rs"]
mod allocator;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes the batch once; returns the folder.
fn generate(root: &Path, name: &str, n: usize, depth: usize) -> PathBuf {
    let dir = root.join(name);
    let marker = dir.join(".complete");
    if marker.exists() {
        return dir;
    }
    std::fs::create_dir_all(&dir).expect("bench folder");
    eprintln!(
        "generating {n} fields of {SIZE}² × 3 × {depth} in {} …",
        dir.display()
    );
    (0..n).into_par_iter().for_each(|i| {
        let mut scene = Scene::new(SIZE, SIZE, 1.0, 10_000 + i as u64 + 1000 * depth as u64);
        scene.depth = depth;
        let r = render(&scene);
        let path = dir.join(format!("field_{i:03}.tif"));
        imagej_hyperstack(&path, &r, SampleType::U16(4095), Comp::DeflateFast)
            .expect("write field");
    });
    std::fs::write(&marker, b"").expect("marker");
    dir
}

/// Runs follicount under /usr/bin/time; returns (seconds, peak RSS MiB).
fn follicount(bin: &Path, dir: &Path, jobs: usize) -> (f64, f64) {
    let out = std::env::temp_dir().join(format!("follicount-bench-{}-{jobs}", std::process::id()));
    let t = Instant::now();
    let o = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(bin)
        .arg("count")
        .arg(dir)
        .arg("-o")
        .arg(&out)
        .arg("-j")
        .arg(jobs.to_string())
        .output()
        .expect("run follicount");
    let secs = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let kib: f64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN);
    if let Some(summary) = stderr.lines().rev().nth(1) {
        eprintln!("    {summary}");
        let fields = std::fs::read_to_string(out.join("fields.csv"))
            .map_or(0, |t| t.lines().count().saturating_sub(1));
        let files = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "tif"))
            .count();
        assert_eq!(fields, files, "every file of {} analysed", dir.display());
    }
    let _ = std::fs::remove_dir_all(&out);
    (secs, kib / 1024.0)
}

/// Decoding (and z-projection) alone, with the same reader, thread pool
/// and plane reuse.
fn decode_only(dir: &Path, jobs: usize) -> f64 {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "tif"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("pool");
    let t = Instant::now();
    pool.install(|| {
        files.par_iter().for_each(|f| {
            let mut src = TiffSource::open(f).expect("bench file opens");
            for i in 0..src.field_count() {
                let field = src
                    .load_field(i, &LoadOptions::default())
                    .expect("bench field loads");
                std::hint::black_box(&field);
                // As the batch does once a field is analysed: its planes
                // go back to the worker's pool for the next one.
                field.recycle();
            }
        })
    });
    t.elapsed().as_secs_f64()
}

fn peer(dir: &Path, jobs: usize) -> Option<f64> {
    let t = Instant::now();
    let mut cmd = Command::new("python3");
    cmd.arg("scripts/skimage_peer.py")
        .arg(dir)
        .arg("--jobs")
        .arg(jobs.to_string());
    // `allocator::tune` turned transparent huge pages off for this process
    // and its children; the peer runs with the system's setting.
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure makes one system call (async-signal-safe)
        // and touches no memory.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0);
                Ok(())
            });
        }
    }
    let o = cmd.output().ok()?;
    if !o.status.success() {
        eprintln!(
            "    skimage peer failed: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    eprintln!("    {}", String::from_utf8_lossy(&o.stdout).trim());
    Some(t.elapsed().as_secs_f64())
}

fn main() {
    allocator::tune();
    let fields = arg("--fields", 32);
    let stacks = arg("--stacks", 8);
    // --quick: follicount and decode-only only (no peer, no 320 fields).
    let quick = std::env::args().any(|a| a == "--quick");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/follicount");
    assert!(
        bin.exists(),
        "build the binary first: cargo build --release"
    );
    let flat = generate(&root, &format!("flat{fields}"), fields, 1);
    let zstack = generate(&root, &format!("zstack{stacks}"), stacks, 8);
    // 10× the flat batch through hard links (follicount analyses a file
    // reached through several symbolic links once): memory must not grow
    // with it.
    let big = root.join(format!("flat{fields}x10-hardlinks"));
    if !big.exists() {
        std::fs::create_dir_all(&big).expect("big folder");
        for k in 0..10 {
            for i in 0..fields {
                let target = flat.join(format!("field_{i:03}.tif"));
                std::fs::hard_link(&target, big.join(format!("copy{k}_field_{i:03}.tif")))
                    .expect("hard link in target/bench-data");
            }
        }
    }
    let field_mib = (SIZE * SIZE * 3 * 2) as f64 / (1024.0 * 1024.0);
    println!("machine: {cores} cores; one field decoded = {field_mib:.0} MiB (2048² × 3 × 16-bit)");
    for (label, dir, n, depth) in [
        ("flat", &flat, fields, 1usize),
        ("z-stack", &zstack, stacks, 8),
    ] {
        let mpix = (n * SIZE * SIZE * depth) as f64 / 1e6;
        println!("\n== {label}: {n} fields × {depth} slice(s), {mpix:.0} MPix per channel");
        let (t1, rss1) = follicount(&bin, dir, 1);
        let (tn, rssn) = follicount(&bin, dir, cores);
        let d1 = decode_only(dir, 1);
        let dn = decode_only(dir, cores);
        println!("follicount -j 1      {t1:7.2} s  {:6.2} fields/s  {:7.1} MPix/s  peak RSS {rss1:6.0} MiB", n as f64 / t1, mpix / t1);
        println!("follicount -j {cores:<6} {tn:7.2} s  {:6.2} fields/s  {:7.1} MPix/s  peak RSS {rssn:6.0} MiB", n as f64 / tn, mpix / tn);
        println!("decode only -j 1     {d1:7.2} s");
        println!("decode only -j {cores:<5} {dn:7.2} s");
        println!("ratios: -j1/-j{cores} {:.2}×   follicount/decode-only (-j{cores}) {:.2}×   (-j1) {:.2}×", t1 / tn, tn / dn, t1 / d1);
        let bound = cores as f64 * 4.0 * field_mib + 64.0;
        println!(
            "RSS bound threads×4×field+64 MiB = {bound:.0} MiB: {}",
            if rssn <= bound { "met" } else { "NOT met" }
        );
        if quick {
            continue;
        }
        match peer(dir, cores) {
            Some(tp) => println!(
                "skimage -j {cores}: {tp:.2} s   peer/follicount {:.1}×",
                tp / tn
            ),
            None => println!("skimage: not run (install with scripts/bench.sh)"),
        }
    }
    if quick {
        return;
    }
    println!(
        "\n== memory flatness: {fields} vs {} fields (-j {cores})",
        fields * 10
    );
    let (_, rss_small) = follicount(&bin, &flat, cores);
    let (t_big, rss_big) = follicount(&bin, &big, cores);
    println!(
        "peak RSS {rss_small:.0} MiB vs {rss_big:.0} MiB ({:.2}×); {} fields in {t_big:.1} s",
        rss_big / rss_small,
        fields * 10
    );
}
