"""Absurd retention times (issue 13, item 1) never crash an analysis or exhaust its memory.

An RT of 1e9 or 1e18 min, or RT and Volume columns swapped so that RT holds peak areas, are stopped
at the input (a located row problem, or a refusal that names the swap). Behind that limit, each
step of the 2.x algorithms must still stay linear in rows whatever the values: the second test
lifts the input limits so the values reach every rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganglioside import AnalysisParams, InputError, analyze
from ganglioside import validation

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "testwork_user.csv"
VERSIONS = ["2.0", "2.1"]


def absurd_tables() -> dict[str, pd.DataFrame]:
    sample = pd.read_csv(SAMPLE)
    swapped = sample.copy()
    swapped[["RT", "Volume"]] = sample[["Volume", "RT"]].to_numpy()
    tables = {"RT and Volume swapped": swapped}
    for label, values in {"one RT of 1e9 min": [1e9], "one RT of 1e18 min": [1e18],
                          "RTs from 1e-9 to 1e18 min": [1e18, 1e-9, 5e17]}.items():
        table = sample.copy()
        table.loc[[5, 100, 200][:len(values)], "RT"] = values
        tables[label] = table
    return tables


@pytest.mark.parametrize("label", list(absurd_tables()))
def test_absurd_retention_times_are_stopped_at_the_input(label):
    table = absurd_tables()[label]
    if label == "RT and Volume swapped":
        with pytest.raises(InputError, match="swapped"):
            analyze(table)
        return
    result = analyze(table)
    absurd = table["RT"].gt(validation.MAX_RT_MINUTES).to_numpy()
    rows = result.rows
    assert rows["status"].eq("invalid").to_numpy()[absurd].all()
    assert rows["input_problems"][absurd].str.contains(r"line \d+, RT: .* is above").all()
    assert not rows["status"].eq("invalid").to_numpy()[~absurd].any()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("label", list(absurd_tables()))
def test_absurd_retention_times_give_a_verdict_for_every_row(version, label, monkeypatch):
    for limit in ("MAX_RT_MINUTES", "MAX_VOLUME"):
        monkeypatch.setattr(validation, limit, np.inf)
    table = absurd_tables()[label]
    result = analyze(table, AnalysisParams(algorithm_version=version))
    assert len(result.rows) == len(table)
    assert result.rows["status"].notna().all()
    assert result.rows["status"].ne("invalid").all()  # the values reached the rules
    confidence = result.rows["confidence"].to_numpy(float)
    assert np.all(np.isnan(confidence) | ((confidence >= 0) & (confidence <= 1)))
