//! Reliability: resource limits, hostile batches, and nothing lost —
//! interrupted runs, resumed runs, existing output folders.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_exit, bin, count, fixtures};

/// fields.csv as file -> (field, follicles or "", error).
fn fields(out: &Path) -> BTreeMap<(String, usize), (String, String)> {
    let mut r = csv::Reader::from_path(out.join("fields.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), 12, "{rec:?}");
            (
                (rec[0].to_string(), rec[1].parse().unwrap()),
                (rec[6].to_string(), rec[9].to_string()),
            )
        })
        .collect()
}

fn run_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap()
}

/// The shipped good fixtures (one per layout) and their expected counts.
fn good_fixtures() -> Vec<(PathBuf, BTreeMap<usize, usize>)> {
    let mut by_file: BTreeMap<String, BTreeMap<usize, usize>> = BTreeMap::new();
    let mut r = csv::Reader::from_path(fixtures().join("expected.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        by_file
            .entry(rec[0].to_string())
            .or_default()
            .insert(rec[1].parse().unwrap(), rec[2].parse().unwrap());
    }
    by_file
        .into_iter()
        .map(|(f, c)| (fixtures().join(f), c))
        .collect()
}

/// A classic little-endian TIFF, tag by tag: one 8-bit grey page whose
/// header may lie (size, strip extents, an ImageDescription of
/// `desc_claim` bytes) and whose next-IFD pointer may loop back to itself.
fn raw_tiff_with(
    w: u32,
    h: u32,
    data: &[u8],
    strip_bytes: u32,
    strip_offset: Option<u32>,
    loop_back: bool,
    desc_claim: Option<u32>,
) -> Vec<u8> {
    // (tag, type, count, value)
    let mut entries: Vec<(u16, u16, u32, u32)> = vec![
        (256, 4, 1, w), // ImageWidth, LONG
        (257, 4, 1, h), // ImageLength
        (258, 3, 1, 8), // BitsPerSample, SHORT
        (259, 3, 1, 1), // Compression: none
        (262, 3, 1, 1), // Photometric: black is zero
    ];
    if let Some(n) = desc_claim {
        entries.push((270, 2, n, 8)); // ImageDescription, ASCII, "at" byte 8
    }
    entries.extend([
        (273, 4, 1, 0),           // StripOffsets (filled below)
        (278, 4, 1, h),           // RowsPerStrip
        (279, 4, 1, strip_bytes), // StripByteCounts
    ]);
    let ifd_len = 2 + entries.len() * 12 + 4;
    let data_at = 8 + ifd_len as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"II*\0");
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, typ, count, v) in entries {
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&typ.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        let v = if tag == 273 {
            strip_offset.unwrap_or(data_at)
        } else {
            v
        };
        if typ == 3 {
            b.extend_from_slice(&(v as u16).to_le_bytes());
            b.extend_from_slice(&[0, 0]);
        } else {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    b.extend_from_slice(&(if loop_back { 8u32 } else { 0 }).to_le_bytes());
    b.extend_from_slice(data);
    b
}

fn raw_tiff(
    w: u32,
    h: u32,
    data: &[u8],
    strip_bytes: u32,
    strip_offset: Option<u32>,
    loop_back: bool,
) -> Vec<u8> {
    raw_tiff_with(w, h, data, strip_bytes, strip_offset, loop_back, None)
}

#[test]
fn each_limit_is_an_error_row_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let imagej = fixtures().join("imagej_cyx_deflate.tif"); // 320², 3 channels, 16-bit
    let plain = fixtures().join("plain_multipage_packbits.tif"); // 3 pages
    let cases: [(&Path, &[&str], &str); 5] = [
        (
            &imagej,
            &["--max-plane-pixels", "100000"],
            "max_plane_pixels",
        ),
        (
            &imagej,
            &["--max-field-samples", "300000"],
            "max_field_samples",
        ),
        (&imagej, &["--max-field-bytes", "512K"], "max_field_bytes"),
        (&plain, &["--max-pages", "2"], "max_pages"),
        (&imagej, &["--config", "LIMITS_TOML"], "max_field_bytes"),
    ];
    let config = tmp.path().join("limits.toml");
    std::fs::write(&config, "max_field_bytes = 600000\n").unwrap();
    for (k, (input, flags, limit)) in cases.into_iter().enumerate() {
        let out = tmp.path().join(format!("o{k}"));
        let flags: Vec<&str> = flags
            .iter()
            .map(|f| {
                if *f == "LIMITS_TOML" {
                    config.to_str().unwrap()
                } else {
                    f
                }
            })
            .collect();
        let o = count(&out, &[input], &flags);
        assert_exit(&o, 1);
        let rows = fields(&out);
        assert_eq!(rows.len(), 1);
        let (n, err) = rows.values().next().unwrap();
        assert_eq!(n, "");
        assert!(
            err.contains("limit exceeded") && err.contains(limit),
            "{limit}: {err}"
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        let name = input.file_name().unwrap().to_string_lossy();
        assert!(
            stderr.contains(&*name) && stderr.contains(limit),
            "{stderr}"
        );
    }
    // Just above what the file needs, it passes: the limits are exact.
    let out = tmp.path().join("ok");
    let o = count(
        &out,
        &[&imagej],
        &[
            "--max-field-bytes",
            "614400",
            "--max-plane-pixels",
            "102400",
        ],
    );
    assert_exit(&o, 0);
    // A bad value is a usage error naming the flag.
    let o = count(
        &tmp.path().join("bad"),
        &[&imagej],
        &["--max-field-bytes", "lots"],
    );
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--max-field-bytes"));
}

#[test]
fn hostile_headers_fail_fast_without_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    let pixels = vec![7u8; 64 * 64];
    // A decompression bomb in spirit: 100 000² pixels declared (10 GB of
    // 8-bit samples) over 4 KiB of data.
    std::fs::write(
        dir.join("bomb.tif"),
        raw_tiff(100_000, 100_000, &pixels, 4096, None, false),
    )
    .unwrap();
    // A strip that claims 1000× the bytes the file has.
    std::fs::write(
        dir.join("long_strip.tif"),
        raw_tiff(64, 64, &pixels, 4_096_000, None, false),
    )
    .unwrap();
    // A strip that starts past the end of the file.
    std::fs::write(
        dir.join("far_strip.tif"),
        raw_tiff(64, 64, &pixels, 4096, Some(1 << 30), false),
    )
    .unwrap();
    // An IFD whose next pointer is itself.
    std::fs::write(
        dir.join("ifd_loop.tif"),
        raw_tiff(64, 64, &pixels, 4096, None, true),
    )
    .unwrap();
    // An ImageDescription claiming 2 GB (the decoder would allocate it
    // before finding the file is 4 KiB).
    std::fs::write(
        dir.join("long_text.tif"),
        raw_tiff_with(64, 64, &pixels, 4096, None, false, Some(2_000_000_000)),
    )
    .unwrap();
    // And the same page, honest, as a control: it loads (then fails only
    // for having one channel).
    std::fs::write(
        dir.join("honest.tif"),
        raw_tiff(64, 64, &pixels, 4096, None, false),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let t = Instant::now();
    let o = count(&out, &[&dir], &[]);
    assert_exit(&o, 1);
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
    let rows = fields(&out);
    let err = |f: &str| rows[&(f.to_string(), 0)].1.clone();
    // (Over max_plane_pixels it would be analysed in blocks, were it
    // not over the mosaic limit too.)
    assert!(
        err("bomb.tif").contains("max_mosaic_pixels"),
        "{}",
        err("bomb.tif")
    );
    for f in ["long_strip.tif", "far_strip.tif"] {
        assert!(
            err(f).starts_with("truncated file") && err(f).contains("but the file has"),
            "{f}: {}",
            err(f)
        );
    }
    assert!(
        err("ifd_loop.tif").contains("cycle") || err("ifd_loop.tif").contains("Cycle"),
        "{}",
        err("ifd_loop.tif")
    );
    assert!(
        err("honest.tif").contains("channel"),
        "{}",
        err("honest.tif")
    );
    assert!(
        err("long_text.tif").contains("ImageDescription claims 2000000000 bytes"),
        "{}",
        err("long_text.tif")
    );
    // Only follicount's own lines on stderr: one per bad file and the
    // summary (no decoder debug output).
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 7, "{stderr}");
}

#[test]
fn hostile_folder_counts_every_good_field_and_names_every_bad_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("usb");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let mut want: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for (path, counts) in good_fixtures() {
        // Mixed layouts, at two depths.
        for prefix in ["", "sub/"] {
            let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
            std::fs::copy(&path, dir.join(&name)).unwrap();
            for (&field, &n) in &counts {
                want.insert((name.clone(), field), n);
            }
        }
    }
    let good = std::fs::read(fixtures().join("imagej_cyx_deflate.tif")).unwrap();
    std::fs::write(dir.join("zero.tif"), b"").unwrap();
    std::fs::write(
        dir.join("notes.tif"),
        b"this is a text file from the microscope PC\n",
    )
    .unwrap();
    std::fs::write(dir.join("cut.tif"), &good[..good.len() / 2]).unwrap();
    std::fs::write(dir.join("readme.txt"), b"not an input").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        // Links the OS refuses to open, even for root.
        symlink(tmp.path().join("nowhere.tif"), dir.join("dangling.tif")).unwrap();
        symlink("self.tif", dir.join("self.tif")).unwrap();
        // A folder loop: walked once, not forever.
        symlink("..", dir.join("sub").join("up")).unwrap();
    }
    let before: Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> = walk(&dir);
    let out = tmp.path().join("out");
    // The folder, one of its files and the folder again: each file once.
    let again = dir.join("rgb8_lzw.tif");
    let o = count(&out, &[&dir, &again, &dir], &["-j", "2"]);
    assert_exit(&o, 1);
    let rows = fields(&out);
    let mut bad = vec!["zero.tif", "notes.tif", "cut.tif"];
    if cfg!(unix) {
        bad.extend(["dangling.tif", "self.tif"]);
    }
    for f in &bad {
        let (n, err) = &rows[&(f.to_string(), 0)];
        assert!(n.is_empty() && !err.is_empty(), "{f}: {n} {err}");
    }
    for (key, n) in &want {
        let (got, err) = &rows[key];
        assert_eq!(got, &n.to_string(), "{key:?}: {err}");
    }
    // Nothing else: no duplicates (the folder loop, the folder given
    // twice, the file given again on its own), no .txt.
    let extra: Vec<_> = rows
        .keys()
        .filter(|k| !want.contains_key(*k) && !bad.contains(&k.0.as_str()))
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    for f in &bad {
        assert!(stderr.contains(f), "{f} not named on stderr: {stderr}");
    }
    // Inputs are untouched: same bytes, same modification times.
    assert_eq!(walk(&dir), before);
}

/// Every regular file under `dir` (not following links) with its bytes and
/// modification time.
fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let m = e.metadata().unwrap();
            out.push((
                e.path().to_path_buf(),
                std::fs::read(e.path()).unwrap(),
                m.modified().unwrap(),
            ));
        }
    }
    out
}

#[test]
fn files_that_vanish_or_change_during_the_run_are_error_rows() {
    use follicount::batch::inputs::collect_inputs;
    use follicount::batch::run;
    use follicount::run::RunOptions;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    let src = fixtures().join("rgb8_lzw.tif");
    for n in ["a.tif", "b.tif", "c.tif", "d.tif"] {
        std::fs::copy(&src, dir.join(n)).unwrap();
    }
    let (inputs, _) = collect_inputs(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(inputs.len(), 4);
    // After the batch found them: one vanishes, one grows (a sync client
    // still writing), one is rewritten with the same size but a new time.
    std::fs::remove_file(dir.join("b.tif")).unwrap();
    let mut bytes = std::fs::read(&src).unwrap();
    bytes.extend_from_slice(&[0; 100]);
    std::fs::write(dir.join("c.tif"), &bytes).unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(dir.join("d.tif"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    drop(f);
    let result = run(&inputs, &RunOptions::default()).unwrap();
    let by: BTreeMap<&str, &follicount::run::FieldRecord> = result
        .records
        .iter()
        .map(|r| (r.file.as_str(), r))
        .collect();
    assert_eq!(by["a.tif"].follicle_count(), 8);
    assert!(by["a.tif"].error.is_none());
    let err = |f: &str| by[f].error.clone().unwrap_or_default();
    assert!(err("b.tif").contains("vanished"), "{}", err("b.tif"));
    assert!(err("c.tif").contains("size went from"), "{}", err("c.tif"));
    assert!(
        err("d.tif").contains("modification time"),
        "{}",
        err("d.tif")
    );
}

#[test]
fn an_output_folder_with_results_is_never_silently_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let input = fixtures().join("rgb8_lzw.tif");
    let out = tmp.path().join("out");
    assert_exit(&count(&out, &[&input], &["--overlay"]), 0);
    let first = std::fs::read(out.join("run.json")).unwrap();
    // Again: refused before any work, nothing touched.
    let o = count(&out, &[&input], &[]);
    assert_exit(&o, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--force") && err.contains("--resume") && err.contains("fields.csv"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("run.json")).unwrap(), first);
    // A complete run leaves no journal: --resume has nothing to do and
    // exits as the run did (scripts that always pass it keep working),
    // touching nothing; with other parameters it says which differ.
    assert!(!out.join("journal.jsonl").exists());
    let o = count(&out, &[&input], &["--resume"]);
    assert_exit(&o, 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to resume"));
    assert_eq!(std::fs::read(out.join("run.json")).unwrap(), first);
    let o = count(&out, &[&input], &["--resume", "--min-sox9", "4"]);
    assert_exit(&o, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("min_sox9_nuclei 3 → 4"), "{err}");
    // --resume into an empty folder just runs.
    let fresh = tmp.path().join("fresh");
    assert_exit(&count(&fresh, &[&input], &["--resume"]), 0);
    assert!(fresh.join("fields.csv").exists());
    // --force replaces the results, old overlays included; other files in
    // the folder stay.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    assert!(walk(&out.join("overlays"))
        .iter()
        .any(|(p, _, _)| p.ends_with("rgb8_lzw.tif.png")));
    assert_exit(&count(&out, &[&input], &["--force"]), 0);
    assert!(!out.join("overlays").exists());
    assert_ne!(std::fs::read(out.join("run.json")).unwrap(), first);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    // --force with inputs that hold no TIFF is an error that keeps the
    // results it would have replaced.
    let before = std::fs::read(out.join("run.json")).unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = count(&out, &[&empty], &["--force"]);
    assert_exit(&o, 2);
    assert_eq!(std::fs::read(out.join("run.json")).unwrap(), before);
    // The two together make no sense.
    assert_exit(&count(&out, &[&input], &["--force", "--resume"]), 2);
}

/// A folder of `n` copies of the good fixtures (distinct names).
fn many_fields(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let good = good_fixtures();
    for i in 0..n {
        let (path, _) = &good[i % good.len()];
        let name = format!("{i:03}_{}", path.file_name().unwrap().to_string_lossy());
        std::fs::copy(path, dir.join(name)).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_resume_gives_the_uninterrupted_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    many_fields(&dir, 90);
    // Two unreadable files too, so error rows cross the interruption.
    std::fs::write(dir.join("000_zero.tif"), b"").unwrap();
    std::fs::write(dir.join("089_text.tif"), b"hello").unwrap();
    let whole = tmp.path().join("whole");
    assert_exit(&count(&whole, &[&dir], &["-j", "2"]), 1);

    let part = tmp.path().join("part");
    let child = bin()
        .arg("count")
        .arg(&dir)
        .arg("-o")
        .arg(&part)
        .args(["-j", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once a few files are in the journal.
    let journal = part.join("journal.jsonl");
    let t = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal).map_or(0, |s| s.lines().count());
        if lines >= 4 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "run never got going"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let o = child.wait_with_output().unwrap();
    assert_exit(&o, 130);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--resume"), "{err}");
    // No half-written file: no temporaries, every table parses, every row
    // whole, run.json says partial.
    for e in std::fs::read_dir(&part).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left behind: {name}");
    }
    let partial = fields(&part);
    let all = fields(&whole);
    assert!(
        !partial.is_empty() && partial.len() < all.len(),
        "{} of {}",
        partial.len(),
        all.len()
    );
    for (k, v) in &partial {
        assert_eq!(&all[k], v, "{k:?}");
    }
    let rj = run_json(&part);
    assert_eq!(rj["partial"], true);
    assert!(rj["remaining_files"].as_u64().unwrap() > 0);
    csv::Reader::from_path(part.join("follicles.csv"))
        .unwrap()
        .records()
        .for_each(|r| assert_eq!(r.unwrap().len(), 13));

    // A temporary a killed run might leave is cleared by the next run.
    std::fs::write(part.join(".fields.csv.4242.tmp"), "half a tab").unwrap();

    // Resume: the same tables as the uninterrupted run, byte for byte.
    let o = count(&part, &[&dir], &["--resume", "-j", "2"]);
    assert_exit(&o, 1);
    for name in ["fields.csv", "follicles.csv"] {
        assert_eq!(
            std::fs::read(part.join(name)).unwrap(),
            std::fs::read(whole.join(name)).unwrap(),
            "{name}"
        );
    }
    let rj = run_json(&part);
    assert_eq!(rj["partial"], false);
    assert!(rj["resumed_files"].as_u64().unwrap() >= 3);
    assert_eq!(
        rj["summary"]["fields"],
        run_json(&whole)["summary"]["fields"]
    );
    assert!(!journal.exists());
    assert!(!part.join(".fields.csv.4242.tmp").exists());
}

#[test]
fn resume_refuses_other_parameters() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // A journal as an interrupted default run leaves it, with no files done.
    let header = follicount::report::journal::Header::new(
        &follicount::params::Params::default(),
        false,
        false,
        None,
    );
    let mut line = serde_json::to_string(&header).unwrap();
    line.push('\n');
    std::fs::write(out.join("journal.jsonl"), &line).unwrap();
    let input = fixtures().join("rgb8_lzw.tif");
    let o = count(
        &out,
        &[&input],
        &["--resume", "--min-sox9", "4", "--overlay"],
    );
    assert_exit(&o, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("min_sox9_nuclei 3 → 4") && err.contains("--overlay off → on"),
        "{err}"
    );
    // With the same settings it resumes (here: does everything) and cleans up.
    let o = count(&out, &[&input], &["--resume"]);
    assert_exit(&o, 0);
    assert!(!out.join("journal.jsonl").exists());
    let rows = fields(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows.values().next().unwrap().0, "8");
}

#[test]
fn a_renamed_ome_tiff_still_reads_a_multi_file_one_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let src = std::fs::read(fixtures().join("ome_two_series.ome.tif")).unwrap();
    // Renamed by a technician: the XML still says ome_two_series.ome.tif.
    std::fs::write(tmp.path().join("day3 mouse2.ome.tif"), &src).unwrap();
    // The second series' planes said to live in another file (same length
    // name, so every offset stays valid).
    let from = b"FileName=\"ome_two_series.ome.tif\"";
    let to = b"FileName=\"ome_two_series.ome.tiX\"";
    let hits: Vec<usize> = src
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| w == from)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 2);
    let mut multi = src.clone();
    multi[hits[1]..hits[1] + to.len()].copy_from_slice(to);
    std::fs::write(tmp.path().join("multi.ome.tif"), &multi).unwrap();
    let out = tmp.path().join("out");
    assert_exit(&count(&out, &[tmp.path()], &[]), 1);
    let rows = fields(&out);
    assert_eq!(rows[&("day3 mouse2.ome.tif".to_string(), 0)].0, "4");
    assert_eq!(rows[&("day3 mouse2.ome.tif".to_string(), 1)].0, "4");
    let err = &rows[&("multi.ome.tif".to_string(), 0)].1;
    assert!(
        err.contains("multi-file OME dataset") && err.contains("ome_two_series.ome.tiX"),
        "{err}"
    );
}
