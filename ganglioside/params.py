"""Analysis parameters (spec 12): defaults, allowed ranges and one-line help, in one place.

The CLI flags, the dashboard's "Advanced settings" and validation are all generated from
``PARAMETER_SPECS`` so they can never disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ParameterError

SAMPLE_TYPES = ("porcine", "human", "bovine", "mouse", "other")
ALGORITHM_VERSIONS = ("2.1", "2.0", "1.0")
"""Supported algorithms, newest (the default) first; 1.0 reproduces the spec exactly and 2.0
its own results."""


@dataclass(frozen=True)
class ParameterSpec:
    """Range and help of one numeric or boolean parameter."""

    name: str
    kind: type
    minimum: float | None
    maximum: float | None
    help: str
    unit: str = ""


PARAMETER_SPECS: tuple[ParameterSpec, ...] = (  # grouped by the rule they tune
    ParameterSpec("r2_threshold", float, 0.5, 0.999,
                  "Minimum cross-validated R² for a Rule 1 model to be accepted."),
    ParameterSpec("outlier_threshold", float, 1.0, 5.0,
                  "Rule 1 flags a peak as outlier when |z| is at least this."),
    ParameterSpec("min_anchors", int, 2, 20,
                  "Fewest anchors a head group needs for its own Rule 1 model."),
    ParameterSpec("rt_sd_floor", float, 0.0, 1.0,
                  "Lower bound of the Rule 1 scale s, so a near-perfect fit does not flag "
                  "everything.",
                  "min"),
    ParameterSpec("oac_shift_min", float, 0.0, 2.0,
                  "Rule 4: smallest RT increase an extra O-acetyl group may cause.", "min"),
    ParameterSpec("oac_shift_max", float, 0.1, 5.0,
                  "Rule 4: largest RT increase an extra O-acetyl group may cause.", "min"),
    ParameterSpec("rt_tolerance", float, 0.01, 0.5,
                  "Rule 5: largest RT difference between an in-source fragment and its parent.",
                  "min"),
    ParameterSpec("apply_fragment_status", bool, None, None,
                  "Give Rule 5 in-source fragments the final status 'fragment'."),
)


@dataclass(frozen=True)
class AnalysisParams:
    """Every user parameter of spec 12, with its default."""

    r2_threshold: float = 0.70
    outlier_threshold: float = 2.5
    rt_tolerance: float = 0.1
    min_anchors: int = 3
    rt_sd_floor: float = 0.05
    oac_shift_min: float = 0.0
    oac_shift_max: float = 1.5
    apply_fragment_status: bool = True
    sample_type: str = "other"
    algorithm_version: str = "2.1"

    def validate(self) -> "AnalysisParams":
        """Raise ParameterError naming the parameter, its value and its range; else return self."""
        for spec in PARAMETER_SPECS:
            value = getattr(self, spec.name)
            if spec.kind is bool:
                if not isinstance(value, bool):
                    raise ParameterError(f"{spec.name} = {value!r} must be true or false")
                continue
            if spec.kind is int and (isinstance(value, bool) or int(value) != value):
                raise ParameterError(f"{spec.name} = {value!r} must be an integer "
                                     f"in {spec.minimum:g} – {spec.maximum:g}")
            if not (spec.minimum <= value <= spec.maximum):
                raise ParameterError(f"{spec.name} = {value!r} is outside its range "
                                     f"{spec.minimum:g} – {spec.maximum:g}")
        if not self.oac_shift_max > self.oac_shift_min:
            raise ParameterError(f"oac_shift_max = {self.oac_shift_max!r} must be greater than "
                                 f"oac_shift_min = {self.oac_shift_min!r}")
        if self.sample_type not in SAMPLE_TYPES:
            raise ParameterError(f"sample_type = {self.sample_type!r} is not one of "
                                 + ", ".join(SAMPLE_TYPES))
        if self.algorithm_version not in ALGORITHM_VERSIONS:
            raise ParameterError(f"algorithm_version = {self.algorithm_version!r} is not one of "
                                 + ", ".join(ALGORITHM_VERSIONS))
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every parameter (for JSON, the store and the UI)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "AnalysisParams":
        """Build from a dict, ignoring unknown keys (older stored runs stay readable)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
