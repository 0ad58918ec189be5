//! Output tables (fields.csv, follicles.csv), the run record (run.json),
//! the batch report (report.html) and QC overlays, each written to a
//! temporary name and renamed into place.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::RunError;
use crate::run::{BatchResult, RunOptions};

pub mod density;
pub mod html;
pub mod journal;
pub mod masks;
pub mod merge;
pub mod mosaic_overlay;
pub mod overlay;

/// Header of fields.csv, as in the design.
pub const FIELDS_HEADER: &str = "file,field,width,height,depth,pixel_size_um,follicles,follicles_per_mm2,status,error,tissue_area_mm2,follicles_per_tissue_mm2";
/// Header of follicles.csv, as in the design.
pub const FOLLICLES_HEADER: &str =
    "file,field,id,x,y,area_px,area_um2,mean_pcad,mean_sox9,mean_dapi,sox9_nuclei,z,volume_um3";

/// Header of masks/candidates.csv (with `--save-masks`): every
/// P-cadherin candidate, counted or not, by its label in
/// `<file>.candidates.tif`.
pub const CANDIDATES_HEADER: &str = "file,field,label,id,verdict,x,y,area_px,area_um2,contrast,sox9_nuclei,mean_pcad,mean_sox9,mean_dapi,z,volume_um3";

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

#[derive(Serialize)]
struct FieldRow<'a> {
    file: &'a str,
    field: usize,
    width: Option<usize>,
    height: Option<usize>,
    depth: Option<usize>,
    pixel_size_um: Option<f64>,
    follicles: Option<usize>,
    follicles_per_mm2: Option<f64>,
    status: &'a str,
    error: &'a str,
    tissue_area_mm2: Option<f64>,
    follicles_per_tissue_mm2: Option<f64>,
}

#[derive(Serialize)]
struct FollicleRow<'a> {
    file: &'a str,
    field: usize,
    id: u32,
    x: f64,
    y: f64,
    area_px: u64,
    area_um2: f64,
    mean_pcad: f64,
    mean_sox9: f64,
    mean_dapi: f64,
    sox9_nuclei: u32,
    z: Option<f64>,
    volume_um3: Option<f64>,
}

fn csv_bytes<T: Serialize>(rows: impl Iterator<Item = T>, header: &str) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut out = format!("{header}\n").into_bytes();
    for r in rows {
        // Serialising plain structs of numbers and strings into memory
        // cannot fail.
        let _ = w.serialize(r);
    }
    out.extend(w.into_inner().unwrap_or_default());
    out
}

/// fields.csv: one row per field, failed ones included.
fn fields_csv(result: &BatchResult) -> Vec<u8> {
    let rows = result.records.iter().map(|r| FieldRow {
        file: &r.file,
        field: r.field,
        width: r.width,
        height: r.height,
        depth: r.depth,
        pixel_size_um: r.pixel_size_um.map(|p| round(p, 6)),
        follicles: r.analysis.as_ref().map(|a| a.follicles.len()),
        follicles_per_mm2: r.analysis.as_ref().map(|a| round(a.follicles_per_mm2, 3)),
        status: if r.error.is_some() { "error" } else { "ok" },
        error: r.error.as_deref().unwrap_or(""),
        tissue_area_mm2: r.analysis.as_ref().map(|a| round(a.tissue_area_mm2, 4)),
        follicles_per_tissue_mm2: r
            .analysis
            .as_ref()
            .and_then(|a| a.follicles_per_tissue_mm2())
            .map(|d| round(d, 3)),
    });
    csv_bytes(rows, FIELDS_HEADER)
}

#[derive(Serialize)]
struct CandidateRow<'a> {
    file: &'a str,
    field: usize,
    label: u32,
    id: u32,
    verdict: &'static str,
    x: f64,
    y: f64,
    area_px: u64,
    area_um2: f64,
    contrast: Option<f64>,
    sox9_nuclei: u32,
    mean_pcad: f64,
    mean_sox9: f64,
    mean_dapi: f64,
    z: Option<f64>,
    volume_um3: Option<f64>,
}

/// masks/candidates.csv: one row per candidate, in label order.
fn candidates_csv(result: &BatchResult) -> Vec<u8> {
    let rows = result.records.iter().flat_map(|r| {
        let mut objects: Vec<_> = r
            .analysis
            .iter()
            .flat_map(|a| a.follicles.iter().chain(&a.rejected))
            .collect();
        objects.sort_by_key(|o| o.label);
        objects.into_iter().map(|o| CandidateRow {
            file: &r.file,
            field: r.field,
            label: o.label,
            id: o.id,
            verdict: o.verdict.code(),
            x: round(o.x, 2),
            y: round(o.y, 2),
            area_px: o.area_px,
            area_um2: round(o.area_um2, 2),
            contrast: o.contrast.map(|c| round(c, 2)),
            sox9_nuclei: o.sox9_nuclei,
            mean_pcad: round(o.mean_pcad, 2),
            mean_sox9: round(o.mean_sox9, 2),
            mean_dapi: round(o.mean_dapi, 2),
            z: o.z_um.map(|z| round(z, 2)),
            volume_um3: o.volume_um3.map(|v| round(v, 1)),
        })
    });
    csv_bytes(rows, CANDIDATES_HEADER)
}

/// follicles.csv: one row per counted follicle.
fn follicles_csv(result: &BatchResult) -> Vec<u8> {
    let rows = result.records.iter().flat_map(|r| {
        r.analysis
            .iter()
            .flat_map(|a| a.follicles.iter())
            .map(|f| FollicleRow {
                file: &r.file,
                field: r.field,
                id: f.id,
                x: round(f.x, 2),
                y: round(f.y, 2),
                area_px: f.area_px,
                area_um2: round(f.area_um2, 2),
                mean_pcad: round(f.mean_pcad, 2),
                mean_sox9: round(f.mean_sox9, 2),
                mean_dapi: round(f.mean_dapi, 2),
                sox9_nuclei: f.sox9_nuclei,
                z: f.z_um.map(|z| round(z, 2)),
                volume_um3: f.volume_um3.map(|v| round(v, 1)),
            })
    });
    csv_bytes(rows, FOLLICLES_HEADER)
}

/// run.json: tool version, parameters, inputs, timings and failures.
pub fn run_json(result: &BatchResult, opts: &RunOptions, command: &str) -> serde_json::Value {
    let fields: Vec<serde_json::Value> = result
        .records
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.file,
                "field": r.field,
                "status": if r.error.is_some() { "error" } else { "ok" },
                "follicles": r.analysis.as_ref().map(|a| a.follicles.len()),
                "rejected_objects": r.analysis.as_ref().map(|a| a.rejected.len()),
                "sox9_nuclei": r.analysis.as_ref().map(|a| a.sox9_nuclei),
                "thresholds": r.analysis.as_ref().map(|a| serde_json::json!({
                    "pcad": a.thresholds[0], "sox9": a.thresholds[1], "dapi": a.thresholds[2],
                })),
                "channels": r.channels,
                "channel_source": r.channel_source,
                "pixel_size_um": r.pixel_size_um.map(|p| round(p, 6)),
                "z_step_um": r.z_step_um.map(|p| round(p, 6)),
                "mode": r.mode.as_ref().map(|m| if m.three_d { "3d" } else { "2d" }),
                "mode_reason": r.mode.as_ref().map(|m| m.reason.as_str()),
                "seconds": round(r.seconds, 4),
                "overlay": r.overlay,
                "density_map": r.density_map,
                "tissue_area_mm2": r.analysis.as_ref().map(|a| round(a.tissue_area_mm2, 4)),
                "masks": r.masks,
                "error": r.error,
            })
        })
        .collect();
    let failures: Vec<serde_json::Value> = result
        .failures()
        .map(|r| serde_json::json!({"file": r.file, "field": r.field, "error": r.error}))
        .collect();
    let started = humantime::parse_rfc3339_weak(&result.started)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64());
    serde_json::json!({
        "tool": "follicount",
        "version": crate::VERSION,
        "command": command,
        "started_unix_s": round(started, 3),
        "elapsed_s": round(result.elapsed_s, 4),
        "threads": result.threads,
        "partial": result.interrupted,
        "remaining_files": result.remaining_files,
        "resumed_files": result.resumed_files,
        "peak_rss_mib": result.peak_rss_mib.map(|m| round(m, 1)),
        "host": host_name(),
        "slurm": slurm_job(),
        "shard": opts.shard.as_ref().map(|s| serde_json::json!({
            "index": s.shard.index,
            "count": s.shard.count,
            "inputs_total": s.inputs_total,
            "inputs_digest": s.inputs_digest,
        })),
        "parameters": opts.params,
        "effective_background_radius_um": opts.params.effective_background_radius_um(),
        "started": result.started,
        "finished": result.finished,
        "inputs": result.files,
        "summary": {
            "files": result.files.len(),
            "fields": result.records.len(),
            "failed": failures.len(),
            "follicles": result.records.iter().map(|r| r.follicle_count()).sum::<usize>(),
        },
        "fields": fields,
        "failures": failures,
    })
}

/// This machine's name (empty when the system will not tell).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The SLURM job this process runs in (`null` outside SLURM): job id,
/// array job and task id, node.
fn slurm_job() -> serde_json::Value {
    let var = |k: &str| std::env::var(k).ok();
    let Some(job) = var("SLURM_JOB_ID") else {
        return serde_json::Value::Null;
    };
    serde_json::json!({
        "job_id": job,
        "array_job_id": var("SLURM_ARRAY_JOB_ID"),
        "array_task_id": var("SLURM_ARRAY_TASK_ID"),
        "node": var("SLURMD_NODENAME"),
    })
}

/// Writes `bytes` to `path` through a temporary file in the same folder and
/// a rename, so readers never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let err = |source| RunError::Output {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// The files a `count` run writes into its output folder (besides
/// `overlays/`).
const OUTPUT_FILES: [&str; 6] = [
    "fields.csv",
    "follicles.csv",
    "report.html",
    "run.json",
    journal::JOURNAL,
    journal::SHARD,
];

/// Which of a run's outputs `dir` already holds.
pub fn existing_outputs(dir: &Path) -> Vec<&'static str> {
    let mut found: Vec<&str> = OUTPUT_FILES
        .into_iter()
        .filter(|f| dir.join(f).exists())
        .collect();
    if dir.join("overlays").exists() {
        found.push("overlays/");
    }
    if dir.join("masks").exists() {
        found.push("masks/");
    }
    found
}

/// Removes temporaries a killed run left behind in `dir` (`.fields.csv.<pid>.tmp`
/// and the like, for the files [`write_atomic`] writes there); returns how
/// many.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = OUTPUT_FILES
            .iter()
            .any(|f| name.starts_with(&format!(".{f}.")) && name.ends_with(".tmp"));
        if ours && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Removes a previous run's outputs from `dir` (`--force`); nothing else
/// in the folder is touched.
pub fn clear_outputs(dir: &Path) -> Result<(), RunError> {
    let err = |path: std::path::PathBuf| move |source| RunError::Output { path, source };
    for f in OUTPUT_FILES {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(err(p.clone()))?;
        }
    }
    for sub in ["overlays", "masks"] {
        let o = dir.join(sub);
        if o.exists() {
            std::fs::remove_dir_all(&o).map_err(err(o.clone()))?;
        }
    }
    Ok(())
}

/// The most thumbnails a report carries inside it (25–130 kB each: noisy
/// overlays compress poorly); a larger run's report links to its
/// overlays instead.
pub const MAX_THUMBNAILS: usize = 2000;

/// The report's thumbnails: each saved overlay (name as in the records,
/// relative to `dir`) as a `data:` URI, made in parallel; none beyond
/// [`MAX_THUMBNAILS`].
fn thumbnails(dir: &Path, result: &BatchResult) -> std::collections::HashMap<String, String> {
    use rayon::prelude::*;
    let names: Vec<&String> = result
        .records
        .iter()
        .filter_map(|r| r.overlay.as_ref())
        .collect();
    if names.len() > MAX_THUMBNAILS {
        return Default::default();
    }
    names
        .par_iter()
        .filter_map(|&name| {
            let uri = overlay::thumbnail_data_uri(&dir.join(name)).ok()?;
            Some((name.clone(), uri))
        })
        .collect()
}

/// Writes fields.csv, follicles.csv, report.html and run.json into `dir`
/// (created if missing), and masks/candidates.csv when the run saves
/// masks.
pub fn write_outputs(
    dir: &Path,
    result: &BatchResult,
    opts: &RunOptions,
    command: &str,
) -> Result<(), RunError> {
    write_tables(dir, result, opts, &run_json(result, opts, command))
}

/// [`write_outputs`] with the run record given.
fn write_tables(
    dir: &Path,
    result: &BatchResult,
    opts: &RunOptions,
    record: &serde_json::Value,
) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|source| RunError::Output {
        path: dir.to_path_buf(),
        source,
    })?;
    write_atomic(&dir.join("fields.csv"), &fields_csv(result))?;
    write_atomic(&dir.join("follicles.csv"), &follicles_csv(result))?;
    if opts.masks_dir.is_some() {
        let masks = dir.join("masks");
        std::fs::create_dir_all(&masks).map_err(|source| RunError::Output {
            path: masks.clone(),
            source,
        })?;
        write_atomic(&masks.join("candidates.csv"), &candidates_csv(result))?;
    }
    write_atomic(
        &dir.join("report.html"),
        html::report_html(result, &thumbnails(dir, result)).as_bytes(),
    )?;
    let json = serde_json::to_vec_pretty(record).unwrap_or_default();
    write_atomic(&dir.join("run.json"), &json)
}
