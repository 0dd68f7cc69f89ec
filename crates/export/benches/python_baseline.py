"""The Python baseline for export_bench.rs: the same General-Ledger-like rows written with
the csv module, or with openpyxl in write-only mode (what ERPNext uses; lxml when it is
importable, as openpyxl picks it itself).

    python3 python_baseline.py csv 1000000
    python3 python_baseline.py openpyxl 100000

Prints one line of key=value figures: rows, secs, bytes, peak_kb (ru_maxrss).
"""

import csv
import datetime
import os
import resource
import sys
import tempfile
import time

ACCOUNTS = [
    "Debtors - ACME",
    "Creditors - ACME",
    "Sales - ACME",
    "Cost of Goods Sold - ACME",
    "Cash - ACME",
    "Bank Account - ACME",
    "VAT 20% - ACME",
    "Stock In Hand - ACME",
]
VOUCHER_TYPES = ["Sales Invoice", "Purchase Invoice", "Journal Entry", "Payment Entry"]
HEADER = [
    "Posting Date",
    "Account",
    "Party",
    "Voucher Type",
    "Voucher No",
    "Debit",
    "Credit",
    "Against",
    "Remarks",
    "Is Cancelled",
]
MASK = (1 << 64) - 1


def rows(n, dates_as_objects):
    """The rows of export_bench.rs's `Rows`, from the same xorshift64 sequence. A database
    driver hands Python a date object for a DATE column, so openpyxl gets one."""
    x = 0x9E3779B97F4A7C15
    for i in range(n):
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        r = x
        amount = (r % 10_000_000) / 100.0
        debit, credit = (amount, 0.0) if r & 1 == 0 else (0.0, amount)
        m = i % 50
        if m == 0:
            remarks = '=HYPERLINK("http://example.com","click")'
        elif m <= 5:
            remarks = 'Paid, with thanks "%d"' % (r % 1000)
        else:
            remarks = "Against ACC-SINV-2024-%06d" % (r % 100_000)
        y, mo, d = 2023 + (r >> 8) % 2, 1 + (r >> 12) % 12, 1 + (r >> 16) % 28
        date = datetime.date(y, mo, d) if dates_as_objects else "%d-%02d-%02d" % (y, mo, d)
        yield [
            date,
            ACCOUNTS[(r >> 20) % len(ACCOUNTS)],
            "CUST-%05d" % ((r >> 24) % 5000),
            VOUCHER_TYPES[(r >> 36) % len(VOUCHER_TYPES)],
            "ACC-JV-2024-%07d" % i,
            debit,
            credit,
            ACCOUNTS[(r >> 40) % len(ACCOUNTS)],
            remarks,
            1 if i % 100 == 99 else 0,
        ]


def write_csv(path, n):
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER)
        for row in rows(n, False):
            w.writerow(row)
    return ""


def write_openpyxl(path, n):
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

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
    for row in rows(n, True):
        ws.append(row)
    wb.save(path)
    return " lxml=%s" % ("yes" if openpyxl.LXML else "no")


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "csv"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    write = {"csv": write_csv, "openpyxl": write_openpyxl}[what]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "export." + ("csv" if what == "csv" else "xlsx"))
        start = time.perf_counter()
        extra = write(path, n)
        secs = time.perf_counter() - start
        size = os.path.getsize(path)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("format=%s rows=%d secs=%.3f bytes=%d peak_kb=%d%s" % (what, n, secs, size, peak_kb, extra))


if __name__ == "__main__":
    main()
