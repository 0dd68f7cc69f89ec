"""The Python baseline for export_bench.rs: the same General Ledger query on the same SQLite
file, read with the sqlite3 module and written with the csv module, or with openpyxl in
write-only mode (what ERPNext uses; lxml when it is importable, as openpyxl picks it
itself), or only read.

    python3 python_baseline.py read 1000000 DB
    python3 python_baseline.py csv 1000000 DB
    python3 python_baseline.py openpyxl 100000 DB

N is how many rows to take from the query (the query itself is never limited, so a
smaller N still sorts every row first). Prints one line of key=value figures: rows, secs,
first_row_secs, bytes, peak_kb (ru_maxrss).
"""

import csv
import datetime
import itertools
import os
import resource
import sqlite3
import sys
import tempfile
import time

QUERY = (
    "SELECT posting_date, account, party, voucher_type, voucher_no, debit, credit, against, "
    "remarks, is_cancelled FROM tab_gl_entry ORDER BY posting_date, name"
)
# The General Ledger report's column labels.
HEADER = [
    "Posting Date",
    "Account",
    "Party",
    "Voucher Type",
    "Voucher No",
    "Debit",
    "Credit",
    "Against Account",
    "Remarks",
    "Is Cancelled",
]


def query(db, n):
    """The rows, and the time when the first one was ready (sqlite3 steps the statement
    once in execute(), so that is when SQLite has sorted)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    cur = con.execute(QUERY)
    return con, itertools.islice(cur, n), time.perf_counter()


def read(db, _path, n):
    con, rows, first = query(db, n)
    count = 0
    for _ in rows:
        count += 1
    con.close()
    return count, first, ""


def write_csv(db, path, n):
    con, rows, first = query(db, n)
    count = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER)
        for row in rows:
            w.writerow(row)
            count += 1
    con.close()
    return count, first, ""


def write_openpyxl(db, path, n):
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    con, rows, first = query(db, n)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("General Ledger")
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for label in HEADER:
        cell = WriteOnlyCell(ws, value=label)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    count = 0
    # ERPNext's database driver hands over a date object for a date column, so openpyxl
    # writes a date cell, as the Rust export does; SQLite keeps ISO text.
    fromisoformat = datetime.date.fromisoformat
    for row in rows:
        row = list(row)
        row[0] = fromisoformat(row[0])
        ws.append(row)
        count += 1
    wb.save(path)
    con.close()
    return count, first, " lxml=%s" % ("yes" if openpyxl.LXML else "no")


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "csv"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    db = sys.argv[3]
    run = {"read": read, "csv": write_csv, "openpyxl": write_openpyxl}[what]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "export." + ("xlsx" if what == "openpyxl" else "csv"))
        start = time.perf_counter()
        rows, first, extra = run(db, path, n)
        secs = time.perf_counter() - start
        size = os.path.getsize(path) if os.path.exists(path) else 0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        "format=%s rows=%d secs=%.3f first_row_secs=%.3f bytes=%d peak_kb=%d%s"
        % (what, rows, secs, first - start, size, peak_kb, extra)
    )


if __name__ == "__main__":
    main()
