"""The header check of the CSV tables evplan reads (OD tables, population tables, places).

:func:`pandas.read_csv` renames a repeated column name (two ``origin_lon`` become
``origin_lon`` and ``origin_lon.1``) and reads the file without a word, so the table's
second column of that name is silently ignored. The readers call :func:`repeated_columns`
first and refuse such a file, naming it and the column. Here, at the bottom of the package
graph, so that ``networks``, ``sim`` and ``planner`` readers share it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["repeated_columns", "repeated_columns_message"]


def repeated_columns(path: str | Path, **read_kw: object) -> dict[str, list[int]]:
    """Column names the header row of a CSV file gives more than once.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    **read_kw
        Options the caller's own :func:`pandas.read_csv` uses (``sep``, ``encoding``), so
        the header is split as the table will be.

    Returns
    -------
    dict of str to list of int
        Repeated name -> its column positions, counted from 1 as a spreadsheet shows them;
        empty when no name repeats, and when the header cannot be read (the caller's full
        read reports that). Blank names (trailing commas) are not counted: pandas names
        them ``Unnamed: N`` and they are never read as a column of the table.
    """
    try:
        head = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, **read_kw)  # type: ignore[call-overload]  # read_kw: the caller's own read_csv options
    except (OSError, ValueError):  # missing, empty, not CSV, not UTF-8: the full read says so
        return {}
    if head.empty:
        return {}
    seen: dict[str, list[int]] = {}
    for k, name in enumerate(head.iloc[0].tolist(), start=1):
        text = str(name).strip()
        if text:
            seen.setdefault(str(name), []).append(k)
    return {name: cols for name, cols in seen.items() if len(cols) > 1}


def repeated_columns_message(repeated: dict[str, list[int]]) -> str:
    """``column 'origin_lon' appears 2 times (columns 1 and 5)`` for each repeated name,
    and the fix, for the readers' error messages."""
    parts = []
    for name, cols in repeated.items():
        where = ", ".join(map(str, cols[:-1])) + f" and {cols[-1]}"
        parts.append(f"column {name!r} appears {len(cols)} times (columns {where})")
    return (
        f"{'; '.join(parts)} in the header row; pandas would rename the repeats "
        "(name.1) and read only the first. Delete or rename the repeated column(s)"
    )
