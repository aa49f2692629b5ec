#!/usr/bin/env python3
"""Writes the SQL tests' input tables (deterministic): bids.csv, a Nexmark-like bid stream;
bids.json, the same bids in Flink's json format; products.debezium.json, a changelog of
products in the debezium-json format; late_bids.csv, bids some of which come late.

Columns: auction BIGINT, bidder BIGINT, price DECIMAL(10, 2), channel STRING, url STRING,
ts TIMESTAMP(3). Times advance by 0-900 ms per row and rows arrive up to 2 s out of order
(less than the tables' 3-second watermark delay, so no row is late on any engine).
"""
import json
import random
import sys
from datetime import datetime, timedelta

def main(out_dir):
    rng = random.Random(20261204)
    start = datetime(2024, 1, 1, 0, 0, 0)
    channels = ["web", "app", "partner, inc", "Mobile", "tv \"live\"", ""]
    rows = []
    objects = []
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
        time_text = f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d}"
        objects.append({"auction": auction, "bidder": bidder,
                        # Prices as numbers, or as text now and then (Flink reads both).
                        "price": None if price_text == "null" else (price_text if i % 5 == 0 else float(price_text)),
                        "channel": rng_channel_plain(channel), "url": url, "ts": time_text})
        rows.append((shown, f"{auction},{bidder},{price_text},{channel},{url},{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d}"))
    with open(f"{out_dir}/bids.csv", "w") as f:
        for _, line in rows:
            f.write(line + "\n")
    with open(f"{out_dir}/bids.json", "w") as f:
        for obj in objects:
            f.write(json.dumps(obj, separators=(",", ":")) + "\n")
    write_changes(f"{out_dir}/products.debezium.json")
    write_late_bids(f"{out_dir}/late_bids.csv")


def rng_channel_plain(channel):
    """The channel's text without the CSV quoting."""
    if channel.startswith('"'):
        return channel[1:-1].replace('""', '"')
    return channel


def write_changes(path):
    """Inserts, updates and deletes of 40 products, as Debezium (through Flink) writes them."""
    rng = random.Random(20261205)
    products = {}
    lines = []
    for step in range(400):
        pid = rng.randint(1, 40)
        old = products.get(pid)
        new = {"id": pid, "name": f"product {pid}" + ("" if step % 7 else " \"new\""),
               "price": round(rng.uniform(0.5, 50.0), 2), "stock": rng.randint(0, 20)}
        if old is None:
            op, before, after = ("r" if step < 20 else "c"), None, new
        elif rng.random() < 0.2:
            op, before, after = "d", old, None
        else:
            op, before, after = "u", old, new
        if after is None:
            del products[pid]
        else:
            products[pid] = after
        lines.append(json.dumps({"before": before, "after": after, "op": op,
                                 "ts_ms": 1704067200000 + step}, separators=(",", ":")))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

def write_late_bids(path):
    """Bids of which about one in eight comes 4-8 s after its time: past the tables' 3-second
    watermark delay, so whether it counts depends on where the watermarks fall among the rows
    (Flink's WatermarkAssigner emits one after every row that moves it more than 200 ms)."""
    rng = random.Random(20261206)
    start = datetime(2024, 1, 1, 0, 0, 0)
    t = 0
    with open(path, "w") as f:
        for i in range(600):
            t += rng.randint(0, 600)
            shown = max(0, t - rng.randint(4000, 8000)) if rng.random() < 0.125 else t
            ts = start + timedelta(milliseconds=shown)
            auction = 1000 + rng.randint(0, 5)
            bidder = 2000 + rng.randint(0, 50)
            price = rng.randint(1, 10000)
            f.write(f"{auction},{bidder},{price // 100}.{price % 100:02d},web,"
                    f"https://sluice.example/a/{auction},"
                    f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d}\n")


if __name__ == "__main__":
    main(sys.argv[1])
