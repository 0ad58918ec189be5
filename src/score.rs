//! `follicount score`: compares a run's detections with manual annotations
//! (one row per follicle a person marked, or counts only) and reports
//! precision, recall, F1 and count errors — how a lab validates follicount
//! on its own images.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

/// (file, field) — the key of a field.
pub type Key = (String, usize);

/// A follicle centre: x = column, y = row (pixels), and for 3D the depth
/// (µm below the first slice).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// Column, pixels.
    pub x: f64,
    /// Row, pixels.
    pub y: f64,
    /// Depth, µm (absent in 2D).
    pub z_um: Option<f64>,
}

impl Point {
    /// Distance to `o` in µm with `px` µm per pixel: in 3D when both have
    /// a depth, else in the x–y plane.
    pub fn distance_um(&self, o: &Point, px: f64) -> f64 {
        let xy = (self.x - o.x).hypot(self.y - o.y) * px;
        match (self.z_um, o.z_um) {
            (Some(a), Some(b)) => xy.hypot(a - b),
            _ => xy,
        }
    }
}

/// Manual annotations.
#[derive(Clone, Debug, PartialEq)]
pub enum Truth {
    /// Follicle centres per field.
    Points(BTreeMap<Key, Vec<Point>>),
    /// Follicle counts per field.
    Counts(BTreeMap<Key, usize>),
}

impl Truth {
    /// The annotated file names, sorted, once each.
    pub fn files(&self) -> Vec<&str> {
        let mut f: Vec<&str> = match self {
            Truth::Points(p) => p.keys().map(|k| k.0.as_str()).collect(),
            Truth::Counts(c) => c.keys().map(|k| k.0.as_str()).collect(),
        };
        f.dedup();
        f
    }
}

fn parse<T: std::str::FromStr>(path: &Path, line: usize, col: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{}:{line}: {col} `{v}` is not valid", path.display()))
}

/// Reads a truth CSV: `file,x,y` (optionally `field`, and `z` in µm for
/// 3D centres) for points, or `file,follicles` (optionally `field`) for
/// counts.
pub fn read_truth(path: &Path) -> Result<Truth, String> {
    let (mut r, h) = crate::table::open(path)?;
    let col = |n: &str| h.iter().position(|c| c == n);
    let (file, field) = (col("file"), col("field"));
    let Some(file) = file else {
        return Err(format!("{}: needs a `file` column", path.display()));
    };
    let key = |rec: &csv::StringRecord, line: usize| -> Result<Key, String> {
        let f = match field.map(|c| rec.get(c).unwrap_or("")) {
            Some(v) if !v.is_empty() => parse(path, line, "field", v)?,
            _ => 0,
        };
        Ok((rec.get(file).unwrap_or("").to_string(), f))
    };
    match (col("x"), col("y"), col("follicles")) {
        (Some(xc), Some(yc), _) => {
            let zc = col("z");
            let mut pts: BTreeMap<Key, Vec<Point>> = BTreeMap::new();
            for (i, rec) in r.records().enumerate() {
                let line = i + 2;
                let rec = rec.map_err(|e| format!("{}:{line}: {e}", path.display()))?;
                let point = point(path, line, &rec, (xc, yc, zc))?;
                pts.entry(key(&rec, line)?).or_default().push(point);
            }
            Ok(Truth::Points(pts))
        }
        (_, _, Some(nc)) => {
            let mut counts = BTreeMap::new();
            for (i, rec) in r.records().enumerate() {
                let line = i + 2;
                let rec = rec.map_err(|e| format!("{}:{line}: {e}", path.display()))?;
                let n: usize = parse(path, line, "follicles", rec.get(nc).unwrap_or(""))?;
                *counts.entry(key(&rec, line)?).or_insert(0) += n;
            }
            Ok(Truth::Counts(counts))
        }
        _ => Err(format!(
            "{}: needs columns file,x,y or file,follicles",
            path.display()
        )),
    }
}

/// The point of a CSV record: columns x, y and, where present and not
/// empty, z.
fn point(
    path: &Path,
    line: usize,
    rec: &csv::StringRecord,
    (xc, yc, zc): (usize, usize, Option<usize>),
) -> Result<Point, String> {
    Ok(Point {
        x: parse(path, line, "x", rec.get(xc).unwrap_or(""))?,
        y: parse(path, line, "y", rec.get(yc).unwrap_or(""))?,
        z_um: zc
            .and_then(|c| rec.get(c))
            .filter(|v| !v.is_empty())
            .map(|v| parse(path, line, "z", v))
            .transpose()?,
    })
}

/// What a results folder says about one field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResultField {
    /// µm per pixel, when known.
    pub pixel_size_um: Option<f64>,
    /// Whether the field was analysed.
    pub ok: bool,
    /// Detected follicle centres.
    pub points: Vec<Point>,
}

/// Reads fields.csv and follicles.csv of a `count` output folder.
pub fn read_results(dir: &Path) -> Result<BTreeMap<Key, ResultField>, String> {
    let mut out: BTreeMap<Key, ResultField> = BTreeMap::new();
    let fpath = dir.join("fields.csv");
    let (mut r, h) = crate::table::open(&fpath)?;
    let col = |n: &str| h.iter().position(|c| c == n);
    let (Some(fc), Some(fi), Some(pc), Some(sc)) = (
        col("file"),
        col("field"),
        col("pixel_size_um"),
        col("status"),
    ) else {
        return Err(format!("{}: not a follicount fields.csv", fpath.display()));
    };
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("{}:{line}: {e}", fpath.display()))?;
        let field = parse(&fpath, line, "field", rec.get(fi).unwrap_or(""))?;
        let px = rec
            .get(pc)
            .filter(|v| !v.is_empty())
            .map(|v| parse::<f64>(&fpath, line, "pixel_size_um", v))
            .transpose()?;
        out.insert(
            (rec.get(fc).unwrap_or("").to_string(), field),
            ResultField {
                pixel_size_um: px,
                ok: rec.get(sc) == Some("ok"),
                points: Vec::new(),
            },
        );
    }
    let dpath = dir.join("follicles.csv");
    let (mut r, h) = crate::table::open(&dpath)?;
    let col = |n: &str| h.iter().position(|c| c == n);
    let zc = col("z");
    let (Some(fc), Some(fi), Some(xc), Some(yc)) = (col("file"), col("field"), col("x"), col("y"))
    else {
        return Err(format!(
            "{}: not a follicount follicles.csv",
            dpath.display()
        ));
    };
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("{}:{line}: {e}", dpath.display()))?;
        let key = (
            rec.get(fc).unwrap_or("").to_string(),
            parse(&dpath, line, "field", rec.get(fi).unwrap_or(""))?,
        );
        let point = point(&dpath, line, &rec, (xc, yc, zc))?;
        out.entry(key).or_default().points.push(point);
    }
    Ok(out)
}

/// One-to-one matching of detections to truth within `radius`: all pairs
/// closer than the radius, shortest first, each point used once. Returns the
/// number of matches (true positives).
pub fn match_points(detected: &[(f64, f64)], truth: &[(f64, f64)], radius: f64) -> usize {
    match_pairs(detected, truth, radius).len()
}

/// The pairs (detection, truth) of [`match_points`]' matching.
pub fn match_pairs(
    detected: &[(f64, f64)],
    truth: &[(f64, f64)],
    radius: f64,
) -> Vec<(usize, usize)> {
    match_pairs_by(detected.len(), truth.len(), radius, |i, j| {
        let (d, t) = (detected[i], truth[j]);
        (d.0 - t.0).hypot(d.1 - t.1)
    })
}

/// [`match_points`] of [`Point`]s, distances in µm with `px` µm per pixel
/// (in 3D where both points have a depth).
pub fn match_points_um(detected: &[Point], truth: &[Point], radius_um: f64, px: f64) -> usize {
    match_pairs_by(detected.len(), truth.len(), radius_um, |i, j| {
        detected[i].distance_um(&truth[j], px)
    })
    .len()
}

/// The one-to-one matching of `nd` detections and `nt` truth points by
/// `dist(detection, truth)`: pairs within `radius`, shortest first.
fn match_pairs_by(
    nd: usize,
    nt: usize,
    radius: f64,
    dist: impl Fn(usize, usize) -> f64,
) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..nd {
        for j in 0..nt {
            let d = dist(i, j);
            if d <= radius {
                pairs.push((d, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut used_d, mut used_t) = (vec![false; nd], vec![false; nt]);
    let mut matched = Vec::new();
    for (_, i, j) in pairs {
        if !used_d[i] && !used_t[j] {
            used_d[i] = true;
            used_t[j] = true;
            matched.push((i, j));
        }
    }
    matched
}

/// Scores of one field.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FieldScore {
    /// File.
    pub file: String,
    /// Field.
    pub field: usize,
    /// Annotated follicles.
    pub truth: usize,
    /// Detected follicles (0 when the field failed or is missing).
    pub detected: usize,
    /// Matched pairs (point truth only).
    pub matched: Option<usize>,
    /// Precision, recall, F1 (point truth only; 1 when both are empty).
    pub precision: Option<f64>,
    /// Recall.
    pub recall: Option<f64>,
    /// F1.
    pub f1: Option<f64>,
    /// |detected − truth|.
    pub abs_count_error: usize,
    /// |detected − truth| / truth (absent when truth is 0).
    pub rel_count_error: Option<f64>,
    /// Whether the field is missing from the results or failed there.
    pub missing: bool,
}

/// Scores of a whole comparison.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Per field, in file/field order.
    pub fields: Vec<FieldScore>,
    /// Matching radius used, µm (pixels where the pixel size is unknown).
    pub radius_um: f64,
    /// Summed matches, false positives, false negatives (point truth only).
    pub matched: Option<usize>,
    /// False positives.
    pub false_positives: Option<usize>,
    /// False negatives.
    pub false_negatives: Option<usize>,
    /// Overall precision from the summed counts.
    pub precision: Option<f64>,
    /// Overall recall.
    pub recall: Option<f64>,
    /// Overall F1.
    pub f1: Option<f64>,
    /// Mean over fields of |detected − truth|.
    pub mean_abs_count_error: f64,
    /// Mean over fields with truth > 0 of |detected − truth| / truth.
    pub mean_rel_count_error: Option<f64>,
}

fn prf(tp: usize, det: usize, truth: usize) -> (f64, f64, f64) {
    let p = if det == 0 {
        1.0
    } else {
        tp as f64 / det as f64
    };
    let r = if truth == 0 {
        1.0
    } else {
        tp as f64 / truth as f64
    };
    let f = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    (p, r, f)
}

/// Scores results against truth. Fields without annotations are ignored;
/// annotated fields missing from the results count as detecting nothing.
pub fn score(results: &BTreeMap<Key, ResultField>, truth: &Truth, radius_um: f64) -> Summary {
    let empty = ResultField::default();
    let keys: Vec<&Key> = match truth {
        Truth::Points(p) => p.keys().collect(),
        Truth::Counts(c) => c.keys().collect(),
    };
    let mut fields = Vec::new();
    let (mut tp_sum, mut det_sum, mut truth_sum) = (0, 0, 0);
    for key in keys {
        let res = results.get(key).filter(|r| r.ok);
        let r = res.unwrap_or(&empty);
        let detected = r.points.len();
        let (n_truth, matched) = match truth {
            Truth::Points(p) => {
                let t = &p[key];
                let px = r.pixel_size_um.unwrap_or(1.0);
                (t.len(), Some(match_points_um(&r.points, t, radius_um, px)))
            }
            Truth::Counts(c) => (c[key], None),
        };
        let scores = matched.map(|m| prf(m, detected, n_truth));
        if let Some(m) = matched {
            tp_sum += m;
        }
        det_sum += detected;
        truth_sum += n_truth;
        let abs = detected.abs_diff(n_truth);
        fields.push(FieldScore {
            file: key.0.clone(),
            field: key.1,
            truth: n_truth,
            detected,
            matched,
            precision: scores.map(|s| s.0),
            recall: scores.map(|s| s.1),
            f1: scores.map(|s| s.2),
            abs_count_error: abs,
            rel_count_error: (n_truth > 0).then(|| abs as f64 / n_truth as f64),
            missing: res.is_none(),
        });
    }
    let points = matches!(truth, Truth::Points(_));
    let overall = points.then(|| prf(tp_sum, det_sum, truth_sum));
    // Nothing detected where something was annotated: precision has no
    // value (not a perfect 1).
    let undefined = det_sum == 0 && truth_sum > 0;
    let rel: Vec<f64> = fields.iter().filter_map(|f| f.rel_count_error).collect();
    Summary {
        radius_um,
        matched: points.then_some(tp_sum),
        false_positives: points.then_some(det_sum - tp_sum),
        false_negatives: points.then_some(truth_sum - tp_sum),
        precision: overall.map(|s| s.0).filter(|_| !undefined),
        recall: overall.map(|s| s.1),
        f1: overall.map(|s| s.2),
        mean_abs_count_error: fields.iter().map(|f| f.abs_count_error as f64).sum::<f64>()
            / fields.len().max(1) as f64,
        mean_rel_count_error: (!rel.is_empty()).then(|| rel.iter().sum::<f64>() / rel.len() as f64),
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2D points.
    fn pts(v: &[(f64, f64)]) -> Vec<Point> {
        v.iter().map(|&(x, y)| Point { x, y, z_um: None }).collect()
    }

    /// Nothing detected where follicles were marked: recall 0 and no
    /// precision, never a perfect one.
    #[test]
    fn nothing_detected_has_no_precision() {
        let truth = Truth::Points([(("a.tif".to_string(), 0), pts(&[(1.0, 1.0)]))].into());
        let s = score(&BTreeMap::new(), &truth, 15.0);
        assert_eq!((s.precision, s.recall), (None, Some(0.0)));
        assert!(s.fields[0].missing);
    }

    #[test]
    fn matching_is_one_to_one_and_nearest_first() {
        let det = [(0.0, 0.0), (1.0, 0.0), (50.0, 50.0)];
        let truth = [(0.5, 0.0), (100.0, 100.0)];
        assert_eq!(match_points(&det, &truth, 5.0), 1);
        // Two truths near one detection: only one match.
        assert_eq!(
            match_points(&[(0.0, 0.0)], &[(1.0, 0.0), (0.0, 1.0)], 5.0),
            1
        );
        // The closer pair wins, freeing the other detection for the other truth.
        let det = [(0.0, 0.0), (4.0, 0.0)];
        let truth = [(3.0, 0.0), (-3.0, 0.0)];
        assert_eq!(match_points(&det, &truth, 4.0), 2);
        assert_eq!(match_points(&[], &truth, 4.0), 0);
    }

    #[test]
    fn summary_by_hand() {
        let key = |f: &str| (f.to_string(), 0usize);
        let mut results = BTreeMap::new();
        results.insert(
            key("a"),
            ResultField {
                pixel_size_um: Some(0.5),
                ok: true,
                points: pts(&[(10.0, 10.0), (40.0, 40.0)]),
            },
        );
        results.insert(
            key("b"),
            ResultField {
                pixel_size_um: None,
                ok: true,
                points: pts(&[(5.0, 5.0)]),
            },
        );
        let mut truth = BTreeMap::new();
        // a: one match (radius 4 µm = 8 px at 0.5 µm/px), one FP, one FN.
        truth.insert(key("a"), pts(&[(16.0, 10.0), (80.0, 80.0)]));
        // b: 1 of 1; c: missing from the results.
        truth.insert(key("b"), pts(&[(6.0, 5.0)]));
        truth.insert(key("c"), pts(&[(1.0, 1.0), (2.0, 2.0)]));
        let s = score(&results, &Truth::Points(truth), 4.0);
        assert_eq!(
            (s.matched, s.false_positives, s.false_negatives),
            (Some(2), Some(1), Some(3))
        );
        assert!((s.precision.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.recall.unwrap() - 2.0 / 5.0).abs() < 1e-12);
        assert!((s.f1.unwrap() - 0.5).abs() < 1e-12);
        assert!((s.mean_abs_count_error - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.mean_rel_count_error.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!(s.fields[2].missing);
        let mut counts = BTreeMap::new();
        counts.insert(key("a"), 4);
        let s = score(&results, &Truth::Counts(counts), 4.0);
        assert_eq!(s.f1, None);
        assert_eq!(s.fields[0].rel_count_error, Some(0.5));
    }

    #[test]
    fn points_with_depths_match_in_3d() {
        let p = |x, y, z| Point { x, y, z_um: z };
        // 10 px at 0.5 µm/px = 5 µm apart in x–y; 20 µm apart in z.
        let (a, b) = (p(0.0, 0.0, Some(10.0)), p(10.0, 0.0, Some(30.0)));
        assert!((a.distance_um(&b, 0.5) - 425f64.sqrt()).abs() < 1e-12);
        assert_eq!(match_points_um(&[a], &[b], 15.0, 0.5), 0);
        // Without a depth on either side, the x–y distance alone.
        let c = p(10.0, 0.0, None);
        assert_eq!(match_points_um(&[a], &[c], 15.0, 0.5), 1);
        // Two follicles one over the other: each matches its own.
        let det = [p(0.0, 0.0, Some(12.0)), p(1.0, 0.0, Some(50.0))];
        let truth = [p(0.0, 1.0, Some(48.0)), p(0.0, 0.0, Some(10.0))];
        assert_eq!(match_points_um(&det, &truth, 15.0, 0.6), 2);
    }
}
