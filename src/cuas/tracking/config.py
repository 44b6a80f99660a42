"""The tracker's settings, defined once: the library's argument and the deployment's [tracker].

A module of its own, free of Numba and SciPy, so loading a deployment config (``cuas check``,
``cuas replay`` start-up) does not load the tracker's kernels.
"""

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrackerConfig(BaseModel):
    """The tracker's settings: the one definition, checked on construction.

    The deployment config's ``[tracker]`` section is this model plus the engine's own keys
    (:class:`cuas.config.TrackerSection`), so ``cuas check`` rejects what the tracker would,
    naming the key; the tracking package stays a library that needs no deployment config.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    accel_std_mps2: float = Field(3.0, gt=0, description="NCV process noise, and the IMM turns'")
    gate_probability: float = Field(
        0.9997, gt=0, lt=1, description="chi-square gate, dof = measurement dimension"
    )
    confirm_hits: int = Field(3, ge=1, description="M of ...")
    confirm_window: int = Field(
        5, ge=1, le=62, description="... N opportunities (a bit mask: at most 62)"
    )
    coast_after_s: float = Field(3.0, gt=0, description="confirmed -> coasting without update")
    delete_after_s: float = Field(12.0, gt=0, description="coasting -> deleted")
    tentative_delete_after_s: float = Field(4.0, gt=0)
    init_velocity_std_mps: float = Field(25.0, gt=0, description="of a new track's velocity")
    late_tolerance_s: float = Field(
        0.5, ge=0, description="scans older than the tracker clock by more than this are late"
    )
    motion_model: Literal["imm", "ncv"] = Field(
        "imm", description="imm: constant velocity + coordinated turns left/right; ncv"
    )
    imm_cv_accel_std_mps2: float = Field(1.0, gt=0, description="the IMM's quiet CV mode")
    # Apart from accel_std_mps2 (NCV's) so each model can be tuned on its own; larger values
    # also absorb a drone braking to a hover, at some cost in clean turns (benchmarks/RESULTS.md)
    imm_turn_accel_std_mps2: float = Field(
        3.0, gt=0, description="process noise of the IMM's turn modes"
    )
    imm_turn_rate_rad_s: float = Field(0.2, gt=0, description="the IMM's turn modes")
    imm_sojourn_s: float = Field(5.0, gt=0, description="expected time spent in one mode")
    bearing_window_s: float = Field(2.0, gt=0, description="how long a bearing waits to cross")
    crossing_min_angle_deg: float = Field(
        10.0, gt=0, lt=90, description="sharper bearing crossings are not used"
    )
    crossing_max_range_m: float = Field(15_000.0, gt=0)
    crossing_height_m: float = Field(
        50.0, description="ENU up prior of crossings without elevation ..."
    )
    crossing_height_std_m: float = Field(100.0, gt=0, description="... and its std")
    quality_std_m: float = Field(
        20.0, gt=0, description="position std at which the quality score halves"
    )
    association: Literal["gnn", "jpda"] = Field(
        "gnn", description="of established tracks to positions: jpda for dense clutter"
    )
    jpda_pd: float = Field(0.9, gt=0, le=1, description="JPDA's probability of detection")
    jpda_clutter_density: float = Field(
        1e-9, gt=0, description="JPDA's false positions per m^3 per scan (1 per km^3)"
    )

    @model_validator(mode="after")
    def _hits_within_window(self) -> Self:
        if self.confirm_hits > self.confirm_window:
            raise ValueError(
                f"confirm_hits ({self.confirm_hits}) must not exceed confirm_window "
                f"({self.confirm_window}): M of N needs M <= N"
            )
        return self
