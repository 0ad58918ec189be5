//! Connected-component labelling.

use image::{GrayImage, Luma};
use imageproc::region_labelling::{connected_components, Connectivity};

use crate::Labels;

/// Labels the 8-connected foreground components of a mask with 1..=n in
/// raster order of their first pixel; 0 is background. Returns the label
/// image and n.
pub fn label(mask: &GrayImage) -> (Labels, u32) {
    let labels = connected_components(mask, Connectivity::Eight, Luma([0u8]));
    let n = labels.as_raw().iter().copied().max().unwrap_or(0);
    (labels, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_drawn_mask() {
        let rows = [
            "##..#", //
            "#...#", //
            "..#..", // joins the pixel below-left diagonally
            ".#...", //
            "....#",
        ];
        let m = GrayImage::from_fn(5, 5, |x, y| {
            Luma([if rows[y as usize].as_bytes()[x as usize] == b'#' {
                255
            } else {
                0
            }])
        });
        let (l, n) = label(&m);
        let got: Vec<u32> = l.as_raw().clone();
        #[rustfmt::skip]
        let expect = vec![
            1, 1, 0, 0, 2,
            1, 0, 0, 0, 2,
            0, 0, 3, 0, 0,
            0, 3, 0, 0, 0,
            0, 0, 0, 0, 4,
        ];
        assert_eq!(got, expect);
        assert_eq!(n, 4);
    }

    #[test]
    fn empty_mask() {
        let (l, n) = label(&GrayImage::new(3, 2));
        assert_eq!(n, 0);
        assert!(l.as_raw().iter().all(|&v| v == 0));
    }
}
