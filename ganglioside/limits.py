"""Input limits: every one far above what a lab's table holds, far below what exhausts a machine.

Each limit is checked before the step it protects (a workbook's sizes before it is inflated, a
record's cells as it is read), and a table that breaks one is refused with a message naming the
file, the line and the column. README (Input) explains them for users.
"""

from __future__ import annotations

MAX_FILE_BYTES = 256 * 2**20
"""A peak table of 10^6 rows and 30 columns is about 200 MB as CSV (the app's upload limit)."""

MAX_XLSX_EXPANDED_BYTES = 256 * 2**20
"""Sum of the inflated parts of a workbook: 10^6 rows of 6 columns take about 200 MB of XML,
which openpyxl reads in about 25 s (a larger table is read faster as CSV)."""

MAX_XLSX_RATIO = 100
"""Inflated / compressed size of one workbook part. Sheets written by Excel, openpyxl or this
project's exporter compress 3-15 times (their row and cell numbers keep deflate from doing
better); zip bombs 1,000 times. Checked on parts over
``XLSX_RATIO_CHECKED_FROM`` only, since a small part may compress any amount."""

XLSX_RATIO_CHECKED_FROM = 2**20

MAX_XLSX_PARTS = 10_000
"""Files in the workbook's zip package (a workbook has a dozen, one per sheet more)."""

MAX_ROWS = 2_000_000
"""Data rows; twice the largest table the benchmark runs (10^6 rows)."""

MAX_COLUMNS = 16_384
"""Columns of the header and cells of one record: Excel's own limit (column XFD)."""

MAX_CELLS = 20_000_000
"""Cells of the table (rows x header columns): 10^6 peaks with 20 columns, or 2,000 rows with
the 10,000 columns of a wide export."""

MAX_CELL_CHARACTERS = 32_767
"""Characters of one cell: the most an Excel cell holds. A Name may have 256 (spec 2.4)."""

MAX_RT_MINUTES = 1_440.0
"""Retention time in minutes: 24 hours, far beyond any LC gradient. A larger RT is a row
problem; when most RTs are larger, the column does not hold minutes (seconds, peak areas or
swapped headers) and the table is refused."""

MAX_VOLUME = 1e15
"""Peak area or volume: detectors report up to about 1e11; sums of 10^6 such peaks stay finite."""

MAX_ABS_LOG_P = 100.0
"""|Log P|: gangliosides lie between about -15 and 25; a computed Log P of any molecule within
+-100."""

IMPLAUSIBLE_COLUMN_SHARE = 0.5
"""A numeric input column whose values are out of range for more than this share of its numbers
is refused as a whole (the column holds something else), not reported row by row."""

MAX_CARBONS = 200
"""Carbons of a lipid tail (both chains together); natural ceramides have 30-60."""

MAX_DOUBLE_BONDS = 50
"""Double bonds of a lipid tail; natural ceramides have 0-6."""

MAX_OXYGENS = 20
"""Oxygens of a lipid tail (;O<x>); ceramides have 1-4."""

MAX_MODIFIER_COUNT = 100
"""Count written before a modifier (``+2OAc``); a glycan carries at most a few dozen units."""
