#!/usr/bin/env python3
"""Writes WordCount input: lines of ten words, each drawn uniformly from a vocabulary of 10,000
distinct lowercase words of 3 to 10 letters, until the file holds MB megabytes (10^6 bytes).
The seed fixes vocabulary and text, so both engines of a benchmark read the same bytes.

usage: benches/gen_words.py OUT [MB=100] [SEED=1]
"""
import random
import string
import sys


def vocabulary(rng, size=10_000):
    words = set()
    while len(words) < size:
        words.add("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 10))))
    return sorted(words)


def main():
    out = sys.argv[1]
    megabytes = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    words = vocabulary(rng)
    target = megabytes * 1_000_000
    written = 0
    with open(out, "w") as file:
        while written < target:
            block = "".join(" ".join(rng.choices(words, k=10)) + "\n" for _ in range(1_000))
            file.write(block)
            written += len(block)
    print(f"{out}: {written} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
