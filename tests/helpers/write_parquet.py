"""Writes Parquet files with pyarrow as the Hugging Face Hub stores them, for tests/data-formats.test.ts.

argv: ROWS.json OUT_PREFIX ROW_GROUP_SIZE. ROWS.json is a list of objects; writes OUT_PREFIX-snappy.parquet and
OUT_PREFIX-zstd.parquet (message-list columns become list<struct<role, content>>).
"""
import json, sys
import pyarrow as pa
import pyarrow.parquet as pq

rows = json.load(open(sys.argv[1]))
table = pa.Table.from_pylist(rows)
for codec in ("snappy", "zstd"):
    pq.write_table(table, f"{sys.argv[2]}-{codec}.parquet", compression=codec, row_group_size=int(sys.argv[3]))
print(table.schema)
