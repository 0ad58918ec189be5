#!/usr/bin/env python3
"""The scikit-image reference pipeline follicount is benchmarked against.

Same steps as follicount's default pipeline, written the way a lab would
with scikit-image: read with tifffile, z max-projection, Gaussian, flat-field
by the large-scale DAPI profile, white top-hat of P-cadherin and Sox9,
thresholds (Li for P-cadherin, Otsu otherwise), opening and hole filling,
labelling, distance-transform watershed of follicles and nuclei, Sox9+
nucleus counting and the follicle rule. Fields run in a process pool.

    python3 scripts/skimage_peer.py DIR --jobs N
"""
import argparse
import glob
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage import filters, measure, morphology, segmentation, feature


def load(path):
    with tifffile.TiffFile(path) as tif:
        data = tif.asarray().astype(np.float32)
        axes = tif.series[0].axes
    # ImageJ hyperstacks: CYX or ZCYX.
    if axes.startswith("Z"):
        data = data.max(axis=0)
    return data  # C, Y, X


def split(mask, min_sep):
    dist = ndi.distance_transform_edt(mask)
    labels0 = measure.label(mask, connectivity=2)
    peaks = feature.peak_local_max(dist, min_distance=max(1, int(min_sep)), labels=labels0, exclude_border=False)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-dist, markers, mask=mask)


def analyse(path):
    px = 1.0
    pcad, sox9, dapi = load(path)[:3]
    pcad = filters.gaussian(pcad, 2.0 / px, preserve_range=True)
    sox9 = filters.gaussian(sox9, 0.5 / px, preserve_range=True)
    dapi = filters.gaussian(dapi, 0.5 / px, preserve_range=True)
    profile = filters.gaussian(dapi, 50.0 / px, preserve_range=True)
    profile = np.maximum(profile / profile.max(), 0.2)
    pcad, sox9, dapi = pcad / profile, sox9 / profile, dapi / profile
    r = int(round(34.5 / px))
    footprint = np.ones((2 * r + 1, 2 * r + 1), dtype=bool)
    pcad = pcad - ndi.grey_opening(pcad, footprint=footprint)
    sox9 = sox9 - ndi.grey_opening(sox9, footprint=footprint)
    pmask = pcad >= filters.threshold_li(pcad)
    pmask = ndi.binary_fill_holes(morphology.binary_opening(pmask, morphology.disk(1)))
    follicles = split(pmask, 12.0 / px)
    t_sox9 = filters.threshold_otsu(sox9)
    dmask = dapi >= filters.threshold_otsu(dapi)
    nuclei = split(dmask, 4.0 / px)
    count = 0
    sox9_pos = np.zeros(follicles.max() + 1, dtype=np.int64)
    for n in measure.regionprops(nuclei, intensity_image=sox9):
        if n.area >= 8 and n.mean_intensity >= t_sox9:
            y, x = (int(round(c)) for c in n.centroid)
            host = follicles[y, x]
            if host:
                sox9_pos[host] += 1
    for f in measure.regionprops(follicles):
        if 400 <= f.area <= 15000 and sox9_pos[f.label] >= 3:
            count += 1
    return os.path.basename(path), count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dir, "**", "*.tif"), recursive=True))
    t = time.perf_counter()
    with Pool(a.jobs) as pool:
        results = pool.map(analyse, files)
    dt = time.perf_counter() - t
    total = sum(c for _, c in results)
    print(f"skimage: {len(files)} fields, {total} follicles, {dt:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
