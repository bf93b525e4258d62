"""The well-kept libraries issue 13 names, measured against what the project uses.

For an analysed demo table of ``--rows`` rows (default 10^5), in one process, each best of
``--repeat`` runs:

* reading a workbook: openpyxl's read-only mode (the reader) and python-calamine;
* writing the rows table as a workbook: the hand-written SpreadsheetML writer (``export``) and
  XlsxWriter in constant-memory mode with strings never turned into formulas, URLs or numbers;
* CSV: the hand-written Arrow writer (``export``) and pyarrow's CSV writer (without the formula
  guard, booleans or CRLF: a lower bound of what it would cost);
* JSON: the hand-written Arrow writer (``export``) and orjson on ``DataFrame.to_dict``.

    python bench/libraries.py --rows 100000
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganglioside import analyze, export  # noqa: E402
from ganglioside.demo import make_demo_table  # noqa: E402


def best(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def read_openpyxl(data: bytes) -> int:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sheet = workbook.worksheets[0]
    sheet.reset_dimensions()
    return sum(1 for _ in sheet.iter_rows(values_only=True))


def read_calamine(data: bytes) -> int:
    from python_calamine import CalamineWorkbook

    return len(CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python())


def write_xlsxwriter(rows: pd.DataFrame) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False})
    sheet = workbook.add_worksheet("Compounds")
    sheet.write_row(0, 0, [str(column) for column in rows.columns])
    columns = [rows[column].to_numpy(dtype=object, na_value=None) for column in rows.columns]
    for number in range(len(rows)):
        for position, column in enumerate(columns):
            value = column[number]
            if value is None or (isinstance(value, float) and not np.isfinite(value)):
                continue
            if isinstance(value, str):
                sheet.write_string(number + 1, position, value)
            elif isinstance(value, (bool, np.bool_)):
                sheet.write_boolean(number + 1, position, bool(value))
            else:
                sheet.write_number(number + 1, position, float(value))
    workbook.close()
    return buffer.getvalue()


def write_pyarrow_csv(rows: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    text = {column: "string" for column in rows.columns if rows[column].dtype == object}
    table = pa.Table.from_pandas(rows.astype(text), preserve_index=False)
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink)
    return sink.getvalue()


def write_orjson(rows: pd.DataFrame) -> bytes:
    import orjson

    return orjson.dumps(rows.to_dict("records"), default=lambda value: None,
                        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    table = make_demo_table(args.rows, seed=0)
    workbook = io.BytesIO()
    table.to_excel(workbook, index=False)
    result = analyze(table)
    rows = result.rows
    print(f"{args.rows:,} rows; rows table {rows.shape[1]} columns; best of {args.repeat}")
    comparisons = [
        ("read .xlsx", "openpyxl read-only", lambda: read_openpyxl(workbook.getvalue()),
         "python-calamine", lambda: read_calamine(workbook.getvalue())),
        ("write .xlsx (rows sheet; export: whole workbook)", "export.to_xlsx",
         lambda: export.to_xlsx(result), "XlsxWriter constant_memory",
         lambda: write_xlsxwriter(rows)),
        ("write CSV", "export.to_csv", lambda: export.to_csv(result),
         "pyarrow.csv (no guard)", lambda: write_pyarrow_csv(rows)),
        ("write JSON (rows; export: whole result)", "export.to_json",
         lambda: export.to_json(result), "orjson + to_dict", lambda: write_orjson(rows)),
    ]
    print(f"{'task':<50} {'project':<24} {'s':>6}   {'library':<28} {'s':>6}")
    for task, ours, our_work, theirs, their_work in comparisons:
        print(f"{task:<50} {ours:<24} {best(our_work, args.repeat):6.2f}   {theirs:<28} "
              f"{best(their_work, args.repeat):6.2f}", flush=True)


if __name__ == "__main__":
    main()
