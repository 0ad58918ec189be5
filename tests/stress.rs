//! Stress: a batch of 1,000 files, 5 % of them corrupt in assorted ways,
//! at -j 2. Every good field gets its true count, every bad file an error
//! row, the exit status is 1 and memory stays bounded.
//!
//! Ignored by plain `cargo test` (it takes ~15 s); `.ci/run` runs it:
//!
//!     cargo test --test stress -- --ignored

mod common;

use std::collections::BTreeMap;

use common::{assert_exit, count, fixtures};

/// A little-endian TIFF with one 8-bit page of `w`×`h` over 4 KiB of data
/// whose strip claims `strip_bytes`.
fn raw_page(w: u32, h: u32, strip_bytes: u32) -> Vec<u8> {
    let tags: [(u16, u16, u32); 8] = [
        (256, 4, w),
        (257, 4, h),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8 + 2 + 8 * 12 + 4),
        (278, 4, h),
        (279, 4, strip_bytes),
    ];
    let mut b = b"II*\0".to_vec();
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&8u16.to_le_bytes());
    for (tag, typ, v) in tags {
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&typ.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        if typ == 3 {
            b.extend_from_slice(&(v as u16).to_le_bytes());
            b.extend_from_slice(&[0, 0]);
        } else {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&[9u8; 4096]);
    b
}

#[test]
#[ignore = "1,000 files, ~15 s: cargo test --test stress -- --ignored (as .ci/run does)"]
fn a_thousand_files_five_percent_corrupt() {
    const FILES: usize = 1000;
    const BAD_EVERY: usize = 20; // 5 %
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();

    // The good layouts and their true counts (from the generator).
    let mut truth: BTreeMap<String, BTreeMap<usize, usize>> = BTreeMap::new();
    let mut r = csv::Reader::from_path(fixtures().join("expected.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        truth
            .entry(rec[0].to_string())
            .or_default()
            .insert(rec[1].parse().unwrap(), rec[2].parse().unwrap());
    }
    let good: Vec<(String, Vec<u8>)> = truth
        .keys()
        .map(|f| (f.clone(), std::fs::read(fixtures().join(f)).unwrap()))
        .collect();
    let two_channels = std::fs::read(fixtures().join("bad/two_channels.tif")).unwrap();

    let mut want_counts: BTreeMap<(String, usize), usize> = BTreeMap::new();
    let mut want_bad: Vec<String> = Vec::new();
    for i in 0..FILES {
        let (src, bytes) = &good[i % good.len()];
        let name = format!("{i:04}_{src}");
        if i % BAD_EVERY == 7 {
            let k = i / BAD_EVERY;
            let data: Vec<u8> = match k % 7 {
                0 => Vec::new(),
                1 => b"scan notes, not an image\n".repeat(50),
                // Cut: the IFDs follow the pixel data, so they are lost.
                2 => bytes[..bytes.len() * (1 + k % 4) / 6].to_vec(),
                3 => {
                    let mut b = bytes.clone();
                    b[..4].copy_from_slice(b"JUNK");
                    b
                }
                4 => raw_page(90_000, 90_000, 4096),
                5 => raw_page(64, 64, 40_000_000),
                _ => two_channels.clone(),
            };
            std::fs::write(dir.join(&name), data).unwrap();
            want_bad.push(name);
        } else {
            std::fs::write(dir.join(&name), bytes).unwrap();
            for (&field, &n) in &truth[src] {
                want_counts.insert((name.clone(), field), n);
            }
        }
    }
    assert_eq!(want_bad.len(), FILES / BAD_EVERY);

    let out = tmp.path().join("out");
    let o = count(&out, &[&dir], &["-j", "2"]);
    assert_exit(&o, 1);

    let mut rows: BTreeMap<(String, usize), (String, String)> = BTreeMap::new();
    let mut r = csv::Reader::from_path(out.join("fields.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        rows.insert(
            (rec[0].to_string(), rec[1].parse().unwrap()),
            (rec[6].to_string(), rec[9].to_string()),
        );
    }
    assert_eq!(rows.len(), want_counts.len() + want_bad.len());
    for (key, n) in &want_counts {
        let (got, err) = &rows[key];
        assert_eq!(got, &n.to_string(), "{key:?} {err}");
    }
    for name in &want_bad {
        let (got, err) = &rows[&(name.clone(), 0)];
        assert!(got.is_empty() && !err.is_empty(), "{name}: {got} {err}");
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.contains("error:")).count(),
        want_bad.len(),
        "{stderr}"
    );

    // Memory: the bound of the performance work, threads × 4 × one
    // field decoded + 64 MiB; the largest field here decodes to 600 KiB
    // (320² × 3 × 16-bit).
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    let rss = run["peak_rss_mib"].as_f64().unwrap();
    let bound = 2.0 * 4.0 * (320.0 * 320.0 * 3.0 * 2.0) / (1 << 20) as f64 + 64.0;
    eprintln!("peak RSS {rss} MiB for {FILES} files (bound {bound:.1} MiB)");
    assert!(
        rss > 0.0 && rss < bound,
        "peak RSS {rss} MiB over {bound:.1} MiB"
    );
}
