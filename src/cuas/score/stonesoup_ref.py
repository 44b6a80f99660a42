"""Run cuas's tracker and Stone Soup's standard GNN tracker on the same scene, and score both.

Stone Soup (Dstl's tracking framework) is the field's reference implementation; it is a
test and benchmark dependency only, never needed at run time, so it is imported here
lazily. Both trackers get identical detections, the same nearly-constant-velocity model
and noise, a chi-square gate of the same probability, 3-point initiation and deletion
after the same time without update. Output of both is scored with the same GOSPA.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from cuas.score.gospa import gospa
from cuas.sim.targets import Scene
from cuas.tracking import Tracker, TrackerConfig

ACCEL_STD_MPS2 = 3.0
GATE_PROBABILITY = 0.9997
DELETE_AFTER_S = 5.0
GOSPA_C_M = 50.0


@dataclass
class RunResult:
    name: str
    estimates: list[NDArray] = field(default_factory=list)  # per scan, (m,3) positions
    scan_ms: list[float] = field(default_factory=list)

    @property
    def detections_per_s(self) -> float:
        return self._detections / (sum(self.scan_ms) / 1000.0)

    _detections: int = 0

    def gospa_per_scan(self, scene: Scene) -> NDArray:
        return np.array(
            [
                gospa(est, scene.truth_enu_m[k], GOSPA_C_M).distance
                for k, est in enumerate(self.estimates)
            ]
        )


def run_cuas(
    scene: Scene, motion_model: str = "imm", association: Literal["gnn", "jpda"] = "gnn"
) -> RunResult:
    """cuas's tracker on the scene; JPDA is told the scene's true pd and clutter density."""
    sc = scene.config
    volume_m3 = (2.0 * sc.area_half_width_m) ** 2 * sc.ceiling_m
    cfg = TrackerConfig(
        motion_model=motion_model,
        association=association,
        jpda_pd=sc.pd,
        jpda_clutter_density=max(sc.clutter_per_scan, 1e-3) / volume_m3,  # must be > 0
        accel_std_mps2=ACCEL_STD_MPS2,
        gate_probability=GATE_PROBABILITY,
        confirm_hits=3,
        confirm_window=3,
        coast_after_s=DELETE_AFTER_S,
        delete_after_s=DELETE_AFTER_S,
        tentative_delete_after_s=DELETE_AFTER_S,
    )
    tracker = Tracker(cfg)
    out = RunResult(f"cuas-{motion_model}" + ("-jpda" if association == "jpda" else ""))
    R1 = scene.measurement_cov_m2
    for scan in scene.scans:
        k = len(scan.z_enu_m)
        R = np.broadcast_to(R1, (k, 3, 3))
        t0 = time.perf_counter()
        tracker.process_scan(scan.t_s, "radar", scan.z_enu_m, R, [None] * k)
        tracker.advance(scan.t_s)
        _, status, x = tracker.estimates(scan.t_s)
        out.scan_ms.append((time.perf_counter() - t0) * 1000.0)
        out._detections += k
        out.estimates.append(x[(status == "confirmed") | (status == "coasting"), :3])
    return out


def run_stonesoup(scene: Scene, max_scans: int | None = None) -> RunResult:
    """Stone Soup 1.x MultiTargetTracker with GNNWith2DAssignment, as in its tutorials."""
    from datetime import datetime, timedelta

    from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
    from stonesoup.deleter.time import UpdateTimeDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import (
        CombinedLinearGaussianTransitionModel,
        ConstantVelocity,
    )
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetTracker
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    q = ACCEL_STD_MPS2**2
    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(q)] * 3)
    measurement = LinearGaussian(
        ndim_state=6, mapping=(0, 2, 4), noise_covar=scene.measurement_cov_m2
    )
    predictor = KalmanPredictor(transition)
    updater = KalmanUpdater(measurement)
    gate = float(np.sqrt(chi2.ppf(GATE_PROBABILITY, 3)))
    hypothesiser = DistanceHypothesiser(predictor, updater, Mahalanobis(), missed_distance=gate)
    associator = GNNWith2DAssignment(hypothesiser)
    deleter = UpdateTimeDeleter(timedelta(seconds=DELETE_AFTER_S))
    prior = GaussianState(np.zeros((6, 1)), np.diag([0.0, 25.0**2] * 3))
    initiator = MultiMeasurementInitiator(
        prior, deleter, associator, updater, measurement, min_points=3
    )
    epoch = datetime(2026, 1, 1)
    scans = scene.scans[:max_scans] if max_scans else scene.scans

    class _Feed:
        """Times each tracker step: the clock starts when the tracker asks for the scan."""

        def __init__(self) -> None:
            self.t_start = 0.0

        def __iter__(self):
            for scan in scans:
                when = epoch + timedelta(seconds=scan.t_s)
                dets = {
                    Detection(z.reshape(3, 1), timestamp=when, measurement_model=measurement)
                    for z in scan.z_enu_m
                }
                self.t_start = time.perf_counter()
                yield when, dets

    feed = _Feed()
    tracker = MultiTargetTracker(initiator, deleter, feed, associator, updater)
    out = RunResult("stonesoup")
    for k, (_, tracks) in enumerate(tracker):
        out.scan_ms.append((time.perf_counter() - feed.t_start) * 1000.0)
        out._detections += len(scans[k].z_enu_m)
        pos = [np.ravel(t.state_vector)[[0, 2, 4]] for t in tracks]
        out.estimates.append(np.array(pos, dtype=float).reshape(-1, 3))
    return out
