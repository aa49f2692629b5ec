#!/usr/bin/env python3
"""Writes N bids as CSV for the SQL benchmarks: auction (10,000), bidder, price (DECIMAL(10, 2)),
channel, url, ts. Event time advances 1 ms per bid with up to 2 s of disorder, under the
queries' 3-second watermark delay, so no engine drops a row as late.

usage: gen_bids.py N OUT
"""
import random
import sys
from datetime import datetime, timedelta

def main(n, out):
    rng = random.Random(7)
    start = datetime(2024, 1, 1)
    channels = ["web", "app", "partner", "Mobile", "tv"]
    with open(out, "w") as f:
        for i in range(n):
            t = start + timedelta(milliseconds=max(0, i - rng.randint(0, 2000)))
            auction = 1000 + rng.randrange(10000)
            bidder = 1000 + rng.randrange(100000)
            price = rng.randint(100, 10000000)
            f.write(f"{auction},{bidder},{price // 100}.{price % 100:02d},{rng.choice(channels)},"
                    f"https://sluice.example/a/{auction},{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d}\n")

if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
