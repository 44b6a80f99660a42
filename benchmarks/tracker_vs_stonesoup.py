"""cuas's tracker against Stone Soup's standard GNN tracker on identical detections.

N drones in 3-D on piecewise straight legs and coordinated turns, Pd 0.9, Poisson clutter
5 per scan, 1 s scans. Prints, per N, milliseconds per scan (median and p99), detections
per second, mean GOSPA (c = 50 m, p = 1) after a 10-scan warm-up, and the ratios.
Stone Soup is slow at large N: ``--stonesoup-scans`` caps its scans (the ratio then
compares per-scan costs; its GOSPA is over the scans it ran, and ours is shown over the same
scans beside it).

    python benchmarks/tracker_vs_stonesoup.py                # N = 10, 100, 1000
    python benchmarks/tracker_vs_stonesoup.py --n 100 --scans 50
"""

from __future__ import annotations

import argparse
import platform

import numpy as np

from cuas.score.stonesoup_ref import run_cuas, run_stonesoup
from cuas.sim.targets import SceneConfig, make_scene

WARMUP_SCANS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument(
        "--stonesoup-scans",
        type=int,
        nargs="+",
        default=[200, 200, 15],
        help="scans Stone Soup runs, per N (it takes minutes at N = 1000)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    caps = dict(zip(args.n, args.stonesoup_scans + [args.scans] * len(args.n), strict=False))

    import numba
    import stonesoup

    print(
        f"python {platform.python_version()}, numba {numba.__version__}, "
        f"stonesoup {stonesoup.__version__}, {platform.processor() or platform.machine()}"
    )
    for model in ("imm", "ncv"):  # load the compiled kernels before timing
        run_cuas(make_scene(SceneConfig(n_targets=5, n_scans=5)), model)
    header = (
        f"{'N':>5} {'tracker':>10} {'scans':>5} {'ms/scan med':>11} {'p99':>8} "
        f"{'det/s':>9} {'GOSPA':>8}"
    )
    print(header)
    for n in args.n:
        scene = make_scene(SceneConfig(n_targets=n, n_scans=args.scans, seed=args.seed))
        ours = run_cuas(scene, "imm")
        ours_ncv = run_cuas(scene, "ncv")
        ss_scans = min(caps[n], args.scans)
        theirs = run_stonesoup(scene, max_scans=ss_scans)
        g_ours = ours.gospa_per_scan(scene)
        g_theirs = theirs.gospa_per_scan(scene)
        rows = (
            (ours, g_ours, args.scans),
            (ours_ncv, ours_ncv.gospa_per_scan(scene), args.scans),
            (theirs, g_theirs, ss_scans),
        )
        for res, g, scans in rows:
            ms = np.array(res.scan_ms)
            print(
                f"{n:>5} {res.name:>10} {scans:>5} {np.median(ms):>11.3f} "
                f"{np.percentile(ms, 99):>8.2f} {res.detections_per_s:>9.0f} "
                f"{g[WARMUP_SCANS:].mean():>8.2f}"
            )
        same = g_ours[WARMUP_SCANS:ss_scans].mean()
        speed = ours.detections_per_s / theirs.detections_per_s
        print(
            f"{n:>5} {'ratio':>10}  speed x{speed:.0f} (imm); GOSPA over the same {ss_scans} "
            f"scans: cuas-imm {same:.2f} vs stonesoup {g_theirs[WARMUP_SCANS:].mean():.2f}"
        )


if __name__ == "__main__":
    main()
