//! The counting rule: what makes a P-cadherin object a regenerated follicle.

use serde::{Deserialize, Serialize};

use crate::params::Params;

/// The rule's verdict on one P-cadherin object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Counted as a follicle.
    Follicle,
    /// Area below `min_area_um2`.
    TooSmall,
    /// Area above `max_area_um2`.
    TooLarge,
    /// Fewer than `min_sox9_nuclei` Sox9+ nuclei.
    TooFewSox9,
    /// P-cadherin barely above its surroundings (contrast below
    /// `min_contrast`): haze, not a follicle.
    Faint,
}

impl Verdict {
    /// Short code for tables and overlays.
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Follicle => "ok",
            Verdict::TooSmall => "small",
            Verdict::TooLarge => "large",
            Verdict::TooFewSox9 => "sox9",
            Verdict::Faint => "faint",
        }
    }
}

/// What the rule looks at in one P-cadherin object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evidence {
    /// Area, µm² (px² when the pixel size is unknown).
    pub area: f64,
    /// Sox9+ nuclei inside it.
    pub sox9_nuclei: u32,
    /// Its P-cadherin ÷ its surroundings' (`None`: no surroundings to
    /// compare with, e.g. it fills the field).
    pub contrast: Option<f64>,
}

/// Applies the rule to one object. Size is checked first, then its
/// contrast, then its Sox9+ nuclei.
pub fn classify(e: Evidence, p: &Params) -> Verdict {
    let Evidence {
        area,
        sox9_nuclei,
        contrast,
    } = e;
    if area < p.min_area_um2 {
        Verdict::TooSmall
    } else if area > p.max_area_um2 {
        Verdict::TooLarge
    } else if contrast.is_some_and(|c| c < p.min_contrast) {
        Verdict::Faint
    } else if sox9_nuclei < p.min_sox9_nuclei {
        Verdict::TooFewSox9
    } else {
        Verdict::Follicle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_edges() {
        let p = Params {
            min_area_um2: 100.0,
            max_area_um2: 1000.0,
            min_sox9_nuclei: 3,
            min_contrast: 3.0,
            ..Params::default()
        };
        let e = |area, sox9_nuclei, contrast| Evidence {
            area,
            sox9_nuclei,
            contrast,
        };
        assert_eq!(classify(e(100.0, 3, Some(3.0)), &p), Verdict::Follicle);
        assert_eq!(classify(e(1000.0, 9, None), &p), Verdict::Follicle);
        assert_eq!(classify(e(99.9, 9, Some(1.0)), &p), Verdict::TooSmall);
        assert_eq!(classify(e(1000.1, 9, None), &p), Verdict::TooLarge);
        assert_eq!(classify(e(500.0, 9, Some(2.99)), &p), Verdict::Faint);
        assert_eq!(classify(e(500.0, 2, Some(2.99)), &p), Verdict::Faint);
        assert_eq!(classify(e(500.0, 2, Some(30.0)), &p), Verdict::TooFewSox9);
    }
}
