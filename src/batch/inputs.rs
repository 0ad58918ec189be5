//! Finding the inputs: files and folders walked for TIFFs, each named
//! for the tables and stamped (size, modification time) so that a file
//! changed during the run is caught.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::RunError;

/// One input file and the name it gets in the tables.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Input {
    /// The `file` column: the path relative to the folder given on the
    /// command line, or the path as given for a file argument, with `/`.
    pub name: String,
    /// Where to read it.
    pub path: PathBuf,
    /// Size and modification time when the batch found it; a file that
    /// differs when it is read, or after, changed during the run.
    #[serde(skip)]
    pub stamp: Option<Stamp>,
}

impl Input {
    /// An input stamped now.
    pub fn new(name: String, path: PathBuf) -> Input {
        let stamp = Stamp::of(&path);
        Input { name, path, stamp }
    }

    /// Its size in bytes when the batch found it (0 when unreadable).
    pub fn bytes(&self) -> u64 {
        self.stamp.map_or(0, |s| s.len)
    }

    /// An input of `bytes` bytes that is not on disk (tests).
    #[cfg(test)]
    pub(crate) fn sized(name: String, bytes: u64) -> Input {
        Input {
            path: PathBuf::from(&name),
            name,
            stamp: Some(Stamp {
                len: bytes,
                modified: None,
            }),
        }
    }
}

/// What a file looks like from outside: its size and modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    /// The file's stamp, or `None` when it cannot be read. A folder (an
    /// OME-Zarr image) is stamped with its files' total size and the
    /// latest modification time among them and its folders.
    pub fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        if !m.is_dir() {
            return Some(Stamp {
                len: m.len(),
                modified: m.modified().ok(),
            });
        }
        let mut stamp = Stamp {
            len: 0,
            modified: m.modified().ok(),
        };
        for e in walkdir::WalkDir::new(path).follow_links(true) {
            let m = e.ok()?.metadata().ok()?;
            if m.is_file() {
                stamp.len += m.len();
            }
            stamp.modified = stamp.modified.max(m.modified().ok());
        }
        Some(stamp)
    }

    /// How `now` differs from `self`, in words.
    pub(crate) fn change(&self, now: Option<Stamp>) -> Option<String> {
        match now {
            None => Some("it vanished or became unreadable".into()),
            Some(n) if n.len != self.len => Some(format!(
                "its size went from {} to {} bytes",
                self.len, n.len
            )),
            Some(n) if n.modified != self.modified => Some("its modification time changed".into()),
            Some(_) => None,
        }
    }
}

/// Whether a file name looks like a TIFF (.tif, .tiff, .ome.tif, any case).
pub fn is_tiff_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"))
}

fn slash_path(p: &Path) -> String {
    // Components joined by `/`; a root is already a `/` of its own
    // (`/data/a.tif`, not `//data/a.tif`).
    let mut out = String::new();
    for c in p.components() {
        let part = c.as_os_str().to_string_lossy();
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(&part);
    }
    out
}

/// Whether a folder name is a Zarr store (`.zarr`, `.ome.zarr`, any case).
fn is_zarr_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("zarr"))
}

/// Microscope formats follicount does not read, and what they come from.
const VENDOR: &[(&str, &str)] = &[
    ("czi", "Zeiss"),
    ("lif", "Leica"),
    ("lof", "Leica"),
    ("nd2", "Nikon"),
    ("oir", "Olympus"),
    ("oib", "Olympus"),
    ("vsi", "Olympus"),
    ("ims", "Imaris"),
    ("lsm", "Zeiss LSM"),
];

/// Why no input was found, in one line that says what to do: inputs
/// holding microscope files are named with the export to make.
pub fn nothing_found(paths: &[PathBuf]) -> String {
    let mut found: std::collections::BTreeMap<String, usize> = Default::default();
    for root in paths {
        for e in walkdir::WalkDir::new(root)
            .follow_links(true)
            .into_iter()
            .flatten()
        {
            let ext = e
                .path()
                .extension()
                .and_then(|x| x.to_str())
                .map(str::to_ascii_lowercase);
            if let Some(ext) = ext.filter(|x| VENDOR.iter().any(|(v, _)| v == x)) {
                *found.entry(ext).or_default() += 1;
            }
        }
    }
    if found.is_empty() {
        return "no .tif/.tiff files or .zarr folders found in the inputs".into();
    }
    let list: Vec<String> = found
        .iter()
        .map(|(ext, n)| {
            let maker = VENDOR.iter().find(|(v, _)| v == ext).map_or("", |(_, m)| m);
            format!("{n} .{ext} ({maker})")
        })
        .collect();
    format!(
        "no .tif/.tiff files in the inputs, but {}: follicount reads TIFF and OME-Zarr; \
         export them to OME-TIFF (Fiji: File > Save As > OME-TIFF, or Bio-Formats' bfconvert in.czi \
         out.ome.tif) and run on those",
        list.join(", ")
    )
}

/// Whether a file or folder name is hidden: a dot-file (`.DS_Store`,
/// macOS's `._Image001.tif` AppleDouble companions, `.snapshot/`).
fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// The label each folder input's files are named under when several
/// folders are given: the folder's own name, or as many of its last path
/// components as make the labels of distinct folders differ.
fn folder_labels(folders: &[&Path]) -> Vec<String> {
    let parts: Vec<Vec<String>> = folders
        .iter()
        .map(|f| {
            let full = std::fs::canonicalize(f).unwrap_or_else(|_| f.to_path_buf());
            full.components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let label = |p: &Vec<String>, k: usize| p[p.len().saturating_sub(k)..].join("/");
    let deepest = parts.iter().map(Vec::len).max().unwrap_or(1).max(1);
    for k in 1..=deepest {
        let labels: Vec<String> = parts.iter().map(|p| label(p, k)).collect();
        // Each label names one folder (a folder given twice is one).
        let mut owner = std::collections::HashMap::new();
        if labels
            .iter()
            .zip(&parts)
            .all(|(l, p)| *owner.entry(l).or_insert(p) == p)
        {
            return labels
                .into_iter()
                .map(|l| if l.is_empty() { "input".into() } else { l })
                .collect();
        }
    }
    parts.iter().map(|p| format!("/{}", p.join("/"))).collect()
}

/// Expands files and folders (walked recursively, following links, loops
/// and hidden entries skipped) into a sorted, duplicate-free list of TIFF
/// and OME-Zarr inputs (a `.zarr` folder is one input, not walked into).
/// A file given by name is analysed even if hidden. Names are
/// relative to the folder given; with several folders, each one's files
/// are prefixed with the folder's name (`day1/Image001.tif`,
/// `day2/Image001.tif`), so that `file` is unique across the run.
/// TIFF-named entries that cannot be looked at are kept (they become
/// error rows); other unreadable directory entries are returned as
/// warnings.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<(Vec<Input>, Vec<String>), RunError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut folders: Vec<&Path> = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| RunError::Input {
            path: root.clone(),
            reason: e.to_string(),
        })?;
        if !meta.is_file() && !is_zarr_name(root) {
            folders.push(root);
        }
    }
    let labels = folder_labels(&folders);
    // One folder (however often given) keeps names relative to it.
    let distinct: std::collections::HashSet<&String> = labels.iter().collect();
    let prefix = |root: &Path| -> String {
        if distinct.len() < 2 {
            return String::new();
        }
        folders
            .iter()
            .position(|f| *f == root)
            .map_or(String::new(), |k| format!("{}/", labels[k]))
    };
    for root in paths {
        // A file, or an OME-Zarr folder, given by name is one input.
        if std::fs::metadata(root).is_ok_and(|m| m.is_file()) || is_zarr_name(root) {
            out.push(Input::new(slash_path(root), root.clone()));
            continue;
        }
        let pre = prefix(root);
        let walk = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
        let mut walk = walk.into_iter();
        while let Some(entry) = walk.next() {
            // An OME-Zarr image is one input: a folder of chunks, not
            // walked into.
            if let Ok(e) = &entry {
                if e.depth() > 0 && e.file_type().is_dir() && is_zarr_name(e.path()) {
                    let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                    out.push(Input::new(
                        format!("{pre}{}", slash_path(rel)),
                        e.path().to_path_buf(),
                    ));
                    walk.skip_current_dir();
                    continue;
                }
            }
            match entry {
                // A TIFF-named entry that cannot even be looked at (a
                // dangling or looping link, no permission) is still an
                // input: it gets an error row naming the OS's reason.
                Err(e)
                    if e.loop_ancestor().is_none()
                        && e.depth() > 0
                        && e.path().is_some_and(is_tiff_name) =>
                {
                    let path = e.path().unwrap_or(root).to_path_buf();
                    let rel = path.strip_prefix(root).unwrap_or(&path);
                    out.push(Input::new(
                        format!("{pre}{}", slash_path(rel)),
                        path.clone(),
                    ));
                }
                Err(e) => warnings.push(format!("skipping {e}")),
                Ok(e) if e.file_type().is_file() && is_tiff_name(e.path()) => {
                    let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                    out.push(Input::new(
                        format!("{pre}{}", slash_path(rel)),
                        e.path().to_path_buf(),
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    // The same file reached twice (a folder and a file in it, a folder
    // given twice, a link to a file also present) is analysed once, under
    // the name it was first reached by.
    let mut seen = std::collections::HashSet::new();
    out.retain(|i| seen.insert(std::fs::canonicalize(&i.path).unwrap_or_else(|_| i.path.clone())));
    // Two different files under one name (a file argument `d1/a.tif` and
    // a folder `/elsewhere/d1` holding another `a.tif`): the later ones
    // are named by their full path instead.
    let mut names = std::collections::HashSet::new();
    for i in &mut out {
        if !names.insert(i.name.clone()) {
            let full = std::fs::canonicalize(&i.path).unwrap_or_else(|_| i.path.clone());
            i.name = slash_path(&full);
            names.insert(i.name.clone());
        }
    }
    out.sort();
    Ok((out, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_use_single_slashes() {
        assert_eq!(
            slash_path(Path::new("/data/day1/a.tif")),
            "/data/day1/a.tif"
        );
        assert_eq!(slash_path(Path::new("day1/sub/a.tif")), "day1/sub/a.tif");
        assert_eq!(slash_path(Path::new("a.tif")), "a.tif");
        assert_eq!(slash_path(Path::new("./a.tif")), "./a.tif");
    }
}
