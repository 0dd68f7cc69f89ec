#!/usr/bin/env python3
"""What SQLite alone costs to read 1,000,000 rows shaped like the log's, in CPU seconds:
one 32-byte blob per row (the least any verify reads), and ten text columns per row (what
the review-copy comparison reads). No hashing and no Rust: SQLite's own virtual machine,
through Python's sqlite3. BENCHMARKS.md ("Verify: the floor on this machine") uses it
beside `log_bench -- verify`'s hashing floor. Usage: python3 sqlite_read_floor.py"""
import os, random, sqlite3, tempfile, time

ROWS = 1_000_000
path = os.path.join(tempfile.mkdtemp(), "floor.db")
conn = sqlite3.connect(path)
texts = ", ".join(f"c{i} TEXT" for i in range(20))
conn.execute(f"CREATE TABLE t (seq INTEGER PRIMARY KEY, ts INTEGER, rc INTEGER, bc INTEGER, {texts}, leaf BLOB)")
rng = random.Random(7)
row = lambda i: (i, 1_700_000_000_000_000 + i, 10, 2000,
                 *["x" * rng.randint(5, 30) for _ in range(20)], rng.randbytes(32))
conn.executemany("INSERT INTO t VALUES (" + ",".join("?" * 25) + ")", (row(i) for i in range(1, ROWS + 1)))
conn.commit()
ten = "+".join(f"length(c{i})" for i in range(0, 20, 2))
for name, sql in [("one blob a row", "SELECT sum(length(leaf)) FROM t"),
                  ("ten text columns a row", f"SELECT sum({ten}) FROM t")]:
    runs = []
    for _ in range(3):
        started = time.process_time()
        conn.execute(sql).fetchone()
        runs.append(time.process_time() - started)
    print(f"{name}: {min(runs):.3f} s of CPU for {ROWS:,} rows ({min(runs) / ROWS * 1e9:.0f} ns a row)")
conn.close()
os.remove(path)
