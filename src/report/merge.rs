//! `follicount merge`: the output folders of a split run (`count --shard
//! I/N`, one per shard) into the outputs one run over all the inputs
//! writes. The tables are made from the shards' records by the same code
//! and in the same order as a single run's, so fields.csv, follicles.csv
//! and masks/candidates.csv are byte-identical to it; overlays and label
//! images are linked (or copied) across; run.json keeps each shard's
//! host, timing and memory.
//!
//! Before anything is written the shards are checked: all finished, all
//! of one run (same inputs, parameters, options and version), every shard
//! of the split present once, every input analysed exactly once.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::journal::{self, Header};
use crate::batch::shard::{Shard, ShardRecord};
use crate::error::RunError;
use crate::run::{in_table_order, BatchResult, FileResult, RunOptions};

/// Why shards cannot be merged; each message names the folder at fault
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No folders given.
    #[error("no shard folders given: name the output folders of `count --shard I/N`")]
    NoShards,
    /// A folder that is not a shard's output.
    #[error(
        "{0} is not a finished shard (no {shard}): give the output folders of \
         `follicount count --shard I/N`",
        shard = journal::SHARD
    )]
    NotAShard(PathBuf),
    /// A shard stopped before its end.
    #[error(
        "{0} is an interrupted shard (it has a journal, no {shard}): finish it with the \
         same command and --resume, then merge again",
        shard = journal::SHARD
    )]
    Interrupted(PathBuf),
    /// A shard's records cannot be read.
    #[error("{path}: {reason}; run that shard again with --force")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A shard of another run.
    #[error("{dir} is not a shard of the same run as {first}: {what}")]
    Foreign {
        /// The odd one out.
        dir: PathBuf,
        /// The first shard given, which the others are held to.
        first: PathBuf,
        /// What differs.
        what: String,
    },
    /// The same shard given twice.
    #[error("shard {shard} is given twice: {a} and {b}; keep one")]
    Duplicate {
        /// The shard.
        shard: Shard,
        /// One folder.
        a: PathBuf,
        /// The other.
        b: PathBuf,
    },
    /// Shards missing.
    #[error(
        "shard(s) {missing} of {count} missing: run them (`count --shard I/{count}` with \
         the same inputs and options) and merge all {count}"
    )]
    Missing {
        /// The missing shards, as `I/N, …`.
        missing: String,
        /// How many shards the run is split into.
        count: usize,
    },
    /// A shard's records do not hold the files it was given.
    #[error("{dir}: {what}; run that shard again with --force")]
    Incomplete {
        /// The shard.
        dir: PathBuf,
        /// Which file is missing or extra.
        what: String,
    },
    /// Writing the merged outputs failed.
    #[error(transparent)]
    Output(#[from] RunError),
}

/// One shard as the merged run.json records it.
#[derive(Clone, Debug, Serialize)]
pub struct ShardSummary {
    /// Its output folder, as given.
    pub dir: PathBuf,
    /// Which shard.
    pub shard: Shard,
    /// Files it analysed.
    pub files: usize,
    /// Fields analysed.
    pub fields: usize,
    /// Fields that failed.
    pub failed: usize,
    /// The rest is from its run.json (absent when unreadable). Host.
    pub host: Option<String>,
    /// SLURM job, array job and task id, node.
    pub slurm: Option<serde_json::Value>,
    /// Start (RFC 3339).
    pub started: Option<String>,
    /// End (RFC 3339).
    pub finished: Option<String>,
    /// Wall time, seconds.
    pub elapsed_s: Option<f64>,
    /// Worker threads.
    pub threads: Option<usize>,
    /// Peak resident memory, MiB.
    pub peak_rss_mib: Option<f64>,
}

/// A merged run: the whole run's result and its shards.
#[derive(Clone, Debug)]
pub struct Merged {
    /// Every field of every shard, in table order.
    pub result: BatchResult,
    /// The shards, by index.
    pub shards: Vec<ShardSummary>,
}

/// One shard folder, read.
struct ShardDir {
    dir: PathBuf,
    header: Header,
    /// The header's shard record (a shard's header always has one).
    split: ShardRecord,
    files: Vec<FileResult>,
    record: serde_json::Value,
}

fn read_shard(dir: &Path) -> Result<ShardDir, MergeError> {
    let path = dir.join(journal::SHARD);
    if !path.is_file() {
        return Err(if dir.join(journal::JOURNAL).is_file() {
            MergeError::Interrupted(dir.to_path_buf())
        } else {
            MergeError::NotAShard(dir.to_path_buf())
        });
    }
    let (header, files) = journal::read_file(&path).map_err(|reason| MergeError::Unreadable {
        path: path.clone(),
        reason,
    })?;
    let Some(split) = header.shard.clone() else {
        return Err(MergeError::NotAShard(dir.to_path_buf()));
    };
    let record = std::fs::read(dir.join("run.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    Ok(ShardDir {
        dir: dir.to_path_buf(),
        header,
        split,
        files,
        record,
    })
}

/// Checks that `shards` are every shard of one run, each once, each
/// complete; returns them by index.
fn check(mut shards: Vec<ShardDir>) -> Result<Vec<ShardDir>, MergeError> {
    let Some(first) = shards.first() else {
        return Err(MergeError::NoShards);
    };
    let (first_dir, first_header) = (first.dir.clone(), first.header.clone());
    let split = first.split.clone();
    for s in &shards {
        let foreign = |what: String| MergeError::Foreign {
            dir: s.dir.clone(),
            first: first_dir.clone(),
            what,
        };
        let differ = s.header.settings_differences(&first_header);
        if !differ.is_empty() {
            return Err(foreign(format!("other settings ({})", differ.join(", "))));
        }
        let own = &s.split;
        if own.shard.count != split.shard.count {
            return Err(foreign(format!(
                "it is shard {} of a split into {}, not {}",
                own.shard, own.shard.count, split.shard.count
            )));
        }
        if own.inputs_digest != split.inputs_digest || own.inputs_total != split.inputs_total {
            return Err(foreign(format!(
                "other input files ({} files, list digest {}…, against {} files, {}…)",
                own.inputs_total,
                &own.inputs_digest[..own.inputs_digest.len().min(12)],
                split.inputs_total,
                &split.inputs_digest[..split.inputs_digest.len().min(12)],
            )));
        }
        let mut want: Vec<&str> = own.files.iter().map(String::as_str).collect();
        let mut have: Vec<&str> = s.files.iter().map(|(f, _)| f.file.as_str()).collect();
        want.sort_unstable();
        have.sort_unstable();
        if let Some(f) = want.iter().find(|f| have.binary_search(f).is_err()) {
            return Err(MergeError::Incomplete {
                dir: s.dir.clone(),
                what: format!("its records lack {f}"),
            });
        }
        if let Some(f) = have.iter().find(|f| want.binary_search(f).is_err()) {
            return Err(MergeError::Incomplete {
                dir: s.dir.clone(),
                what: format!("its records hold {f}, which is not its input"),
            });
        }
    }
    let index = |s: &ShardDir| s.split.shard.index;
    shards.sort_by_key(index);
    for w in shards.windows(2) {
        if index(&w[0]) == index(&w[1]) {
            return Err(MergeError::Duplicate {
                shard: Shard {
                    index: index(&w[0]),
                    count: split.shard.count,
                },
                a: w[0].dir.clone(),
                b: w[1].dir.clone(),
            });
        }
    }
    let n = split.shard.count;
    let missing: Vec<String> = (1..=n)
        .filter(|i| !shards.iter().any(|s| index(s) == *i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            count: n,
        });
    }
    // Same digest and count, each shard holding its own files: the files
    // are the whole list, once each (shards of one split are disjoint).
    Ok(shards)
}

fn summary(s: &ShardDir) -> ShardSummary {
    let r = &s.record;
    let text = |k: &str| r[k].as_str().map(str::to_string);
    let fields: usize = s.files.iter().map(|(_, f)| f.len()).sum();
    let failed = s
        .files
        .iter()
        .flat_map(|(_, f)| f)
        .filter(|f| f.error.is_some())
        .count();
    ShardSummary {
        dir: s.dir.clone(),
        shard: s.split.shard,
        files: s.files.len(),
        fields,
        failed,
        host: text("host"),
        slurm: (!r["slurm"].is_null()).then(|| r["slurm"].clone()),
        started: text("started"),
        finished: text("finished"),
        elapsed_s: r["elapsed_s"].as_f64(),
        threads: r["threads"].as_u64().map(|t| t as usize),
        peak_rss_mib: r["peak_rss_mib"].as_f64(),
    }
}

/// Hard-links `from` to `to` (same file system), else copies it.
fn link_or_copy(from: &Path, to: &Path) -> Result<(), RunError> {
    let err = |source| RunError::Output {
        path: to.to_path_buf(),
        source,
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let _ = std::fs::remove_file(to);
    std::fs::hard_link(from, to)
        .or_else(|_| std::fs::copy(from, to).map(|_| ()))
        .map_err(err)
}

/// Merges the shard folders `dirs` into `out` (created if missing):
/// fields.csv, follicles.csv, run.json (with `shards`), report.html, and
/// the shards' overlays/ and masks/. With `replace`, an earlier run's
/// outputs in `out` are removed first — once the shards have passed
/// every check, so a refused merge leaves `out` as it was.
pub fn merge(dirs: &[PathBuf], out: &Path, replace: bool) -> Result<Merged, MergeError> {
    let shards = check(
        dirs.iter()
            .map(|d| read_shard(d))
            .collect::<Result<_, _>>()?,
    )?;
    if replace {
        super::clear_outputs(out)?;
    }
    let header = shards[0].header.clone();
    let summaries: Vec<ShardSummary> = shards.iter().map(summary).collect();
    std::fs::create_dir_all(out).map_err(|source| RunError::Output {
        path: out.to_path_buf(),
        source,
    })?;
    for s in &shards {
        for r in s.files.iter().flat_map(|(_, f)| f) {
            for name in r.overlay.iter().chain(&r.density_map).chain(&r.masks) {
                let from = s.dir.join(name);
                if from.is_file() {
                    link_or_copy(&from, &out.join(name))?;
                }
            }
        }
    }
    let time = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
    };
    let started = summaries.iter().filter_map(|s| time(&s.started)).min();
    let finished = summaries.iter().filter_map(|s| time(&s.finished)).max();
    let stamp = |t: Option<std::time::SystemTime>| {
        t.map_or(String::new(), |t| {
            humantime::format_rfc3339_millis(t).to_string()
        })
    };
    let elapsed_s = match (started, finished) {
        (Some(a), Some(b)) => b.duration_since(a).map_or(0.0, |d| d.as_secs_f64()),
        _ => 0.0,
    };
    let resumed_files = shards
        .iter()
        .map(|s| s.record["resumed_files"].as_u64().unwrap_or(0) as usize)
        .sum();
    let (files, records) = in_table_order(shards.into_iter().flat_map(|s| s.files).collect());
    let result = BatchResult {
        records,
        files,
        started: stamp(started),
        finished: stamp(finished),
        elapsed_s,
        threads: summaries.iter().filter_map(|s| s.threads).sum(),
        interrupted: false,
        remaining_files: 0,
        resumed_files,
        peak_rss_mib: summaries
            .iter()
            .filter_map(|s| s.peak_rss_mib)
            .reduce(f64::max),
    };
    let opts = RunOptions {
        params: header.parameters.clone(),
        masks_dir: header.masks.then(|| out.to_path_buf()),
        overlay_dir: header.overlay.then(|| out.join("overlays")),
        ..RunOptions::default()
    };
    let mut record = super::run_json(&result, &opts, "merge");
    record["shards"] = serde_json::to_value(&summaries).unwrap_or_default();
    record["shard_seconds_total"] =
        serde_json::json!(summaries.iter().filter_map(|s| s.elapsed_s).sum::<f64>());
    super::write_tables(out, &result, &opts, &record)?;
    Ok(Merged {
        result,
        shards: summaries,
    })
}
