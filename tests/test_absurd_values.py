"""Absurd retention times (issue 13, item 1) never crash an analysis or exhaust its memory.

An RT of 1e9 or 1e18 min, or RT and Volume columns swapped so that RT holds peak areas, reach
every step of the 2.x algorithms; each must stay linear in rows whatever the values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganglioside import AnalysisParams, analyze

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


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("label", list(absurd_tables()))
def test_absurd_retention_times_give_a_verdict_for_every_row(version, label):
    table = absurd_tables()[label]
    result = analyze(table, AnalysisParams(algorithm_version=version))
    assert len(result.rows) == len(table)
    assert result.rows["status"].notna().all()
    confidence = result.rows["confidence"].to_numpy(float)
    assert np.all(np.isnan(confidence) | ((confidence >= 0) & (confidence <= 1)))
