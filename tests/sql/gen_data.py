#!/usr/bin/env python3
"""Writes the SQL tests' input tables (deterministic): bids.csv, a Nexmark-like bid stream.

Columns: auction BIGINT, bidder BIGINT, price DECIMAL(10, 2), channel STRING, url STRING,
ts TIMESTAMP(3). Times advance by 0-900 ms per row and rows arrive up to 2 s out of order
(less than the tables' 3-second watermark delay, so no row is late on any engine).
"""
import random
import sys
from datetime import datetime, timedelta

def main(out_dir):
    rng = random.Random(20261204)
    start = datetime(2024, 1, 1, 0, 0, 0)
    channels = ["web", "app", "partner, inc", "Mobile", "tv \"live\"", ""]
    rows = []
    t = 0
    for i in range(3000):
        t += rng.randint(0, 900)
        shown = max(0, t - rng.randint(0, 2000))
        ts = start + timedelta(milliseconds=shown)
        auction = 1000 + rng.randint(0, 40)
        bidder = 2000 + rng.randint(0, 500)
        price = rng.randint(1, 100000)
        price_text = f"{price // 100}.{price % 100:02d}"
        if i % 97 == 0:
            price_text = "null"  # NULL, by the tables' csv.null-literal
        channel = rng.choice(channels)
        if '"' in channel or "," in channel:
            channel = '"' + channel.replace('"', '""') + '"'
        url = f"https://sluice.example/a/{auction}?b={bidder}"
        rows.append((shown, f"{auction},{bidder},{price_text},{channel},{url},{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d}"))
    with open(f"{out_dir}/bids.csv", "w") as f:
        for _, line in rows:
            f.write(line + "\n")

if __name__ == "__main__":
    main(sys.argv[1])
