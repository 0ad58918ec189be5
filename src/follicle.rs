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
}

impl Verdict {
    /// Short code for tables and overlays.
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Follicle => "ok",
            Verdict::TooSmall => "small",
            Verdict::TooLarge => "large",
            Verdict::TooFewSox9 => "sox9",
        }
    }
}

/// Applies the rule to an object of `area` (µm², or px² when the pixel size
/// is unknown) holding `sox9_nuclei` Sox9+ nuclei. Size is checked first.
pub fn classify(area: f64, sox9_nuclei: u32, p: &Params) -> Verdict {
    if area < p.min_area_um2 {
        Verdict::TooSmall
    } else if area > p.max_area_um2 {
        Verdict::TooLarge
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
            ..Params::default()
        };
        assert_eq!(classify(100.0, 3, &p), Verdict::Follicle);
        assert_eq!(classify(1000.0, 9, &p), Verdict::Follicle);
        assert_eq!(classify(99.9, 9, &p), Verdict::TooSmall);
        assert_eq!(classify(1000.1, 9, &p), Verdict::TooLarge);
        assert_eq!(classify(500.0, 2, &p), Verdict::TooFewSox9);
    }
}
