//! Reading the CSV tables people give follicount (manual annotations,
//! expected counts): comma-separated, or semicolon-separated as a European
//! Excel saves "CSV", fields trimmed.

use std::path::Path;

/// A reader for the table at `path` and its header row; the separator is
/// `;` when the header has semicolons and no comma, else `,`.
pub fn open(path: &Path) -> Result<(csv::Reader<std::fs::File>, csv::StringRecord), String> {
    let text_head = std::fs::read(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_iter()
        .take_while(|&b| b != b'\n')
        .collect::<Vec<u8>>();
    let semicolons = text_head.contains(&b';') && !text_head.contains(&b',');
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .delimiter(if semicolons { b';' } else { b',' })
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let h = r
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    Ok((r, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_and_semicolons() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("comma.csv", "file,follicles\na.tif,3\n"),
            ("semi.csv", "file;follicles\na.tif;3\n"),
            ("semi_decimal.csv", "file;x;y\na.tif;1,5;2\n"),
        ] {
            let p = tmp.path().join(name);
            std::fs::write(&p, text).unwrap();
            let (mut r, h) = open(&p).unwrap();
            assert_eq!(h.get(0), Some("file"), "{name}");
            let rec = r.records().next().unwrap().unwrap();
            assert_eq!(rec.get(0), Some("a.tif"), "{name}");
            assert_eq!(rec.len(), h.len(), "{name}");
        }
    }
}
