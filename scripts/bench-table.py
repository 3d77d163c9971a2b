#!/usr/bin/env python3
"""Prints target/bench/results.json (or the file given) as a Markdown table for BENCHMARKS.md."""
import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "target/bench/results.json"
rows = json.load(open(path))
print("| measure | ours | baseline | unit | ratio |")
print("|---|---:|---:|---|---:|")
for m in rows:
    print("| {} | {:.3f} | {:.3f} | {} | {:.3f} |".format(m["name"], m["ours"], m["baseline"], m["unit"], m["ratio"]))
