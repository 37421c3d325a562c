#!/usr/bin/env python3
"""Folds `perf script` output into stacks, prints the top frames and writes a flamegraph SVG.

Usage (see docs/BENCHMARKS.md, "Where the time goes"):

    perf record -F 999 -g --call-graph dwarf -p <server pid> -o perf.data -- sleep 8
    perf script -i perf.data > perf.txt
    python3 scripts/flamegraph.py perf.txt --svg flame.svg --folded flame.folded --top 25

Only the Python standard library is used. Frames are function names (offsets and library
paths dropped, Rust hashes `::h0123...` stripped); a stack is read root first.
"""

import argparse
import collections
import html
import re
import sys

HASH = re.compile(r"::h[0-9a-f]{16}$")


def frame_name(line):
    """The symbol of one `perf script` stack line: `addr symbol+off (dso)`."""
    parts = line.strip().split(None, 1)
    if len(parts) < 2:
        return None
    symbol = parts[1]
    dso = ""
    if symbol.endswith(")") and " (" in symbol:
        symbol, dso = symbol.rsplit(" (", 1)
    symbol = re.sub(r"\+0x[0-9a-f]+$", "", symbol)
    if symbol == "[unknown]":
        symbol = "[unknown " + dso.rstrip(")").rsplit("/", 1)[-1] + "]"
    return HASH.sub("", symbol)


def fold(lines):
    """Counts of `root;...;leaf` stacks."""
    stacks = collections.Counter()
    frames = []
    in_stack = False
    for line in lines:
        if not line.strip():
            if frames:
                stacks[";".join(reversed(frames))] += 1
            frames, in_stack = [], False
            continue
        if line[0] not in " \t":
            in_stack = True
            continue
        if in_stack:
            name = frame_name(line)
            if name:
                frames.append(name)
    if frames:
        stacks[";".join(reversed(frames))] += 1
    return stacks


def top(stacks, n):
    """Inclusive and self shares of the `n` heaviest frames."""
    total = sum(stacks.values()) or 1
    inclusive = collections.Counter()
    own = collections.Counter()
    for stack, count in stacks.items():
        names = stack.split(";")
        for name in set(names):
            inclusive[name] += count
        own[names[-1]] += count
    rows = []
    for name, count in inclusive.most_common(n):
        rows.append((100.0 * count / total, 100.0 * own[name] / total, name))
    return total, rows


def svg(stacks, out, width=1600, height_per=16):
    """A flamegraph: one rectangle per frame, width proportional to its samples."""
    root = {"name": "all", "count": 0, "children": {}}
    for stack, count in stacks.items():
        node = root
        node["count"] += count
        for name in stack.split(";"):
            node = node["children"].setdefault(name, {"name": name, "count": 0, "children": {}})
            node["count"] += count
    total = root["count"] or 1
    rects = []
    depth_max = [0]

    def walk(node, x, depth):
        w = width * node["count"] / total
        if w < 0.3:
            return
        depth_max[0] = max(depth_max[0], depth)
        rects.append((x, depth, w, node["name"], node["count"]))
        child_x = x
        for child in sorted(node["children"].values(), key=lambda c: c["name"]):
            walk(child, child_x, depth + 1)
            child_x += width * child["count"] / total

    walk(root, 0.0, 0)
    height = (depth_max[0] + 2) * height_per
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
    ]
    for x, depth, w, name, count in rects:
        y = height - (depth + 1) * height_per
        hue = 20 + (sum(name.encode()) % 40)
        label = html.escape(name)
        share = 100.0 * count / total
        parts.append(
            f'<g><title>{label} ({count} samples, {share:.2f}%)</title>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{height_per - 1}" '
            f'fill="hsl({hue},90%,60%)"/>'
        )
        chars = int(w / 7)
        if chars >= 4:
            text = name if len(name) <= chars else name[: chars - 2] + ".."
            parts.append(f'<text x="{x + 2:.1f}" y="{y + 11}">{html.escape(text)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    out.write("\n".join(parts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="`perf script` output ('-' for stdin)")
    parser.add_argument("--svg", help="write a flamegraph SVG here")
    parser.add_argument("--folded", help="write the folded stacks here")
    parser.add_argument("--top", type=int, default=25, help="frames in the printed table")
    args = parser.parse_args()
    source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8", errors="replace")
    with source:
        stacks = fold(source)
    if args.folded:
        with open(args.folded, "w", encoding="utf-8") as out:
            for stack, count in sorted(stacks.items()):
                out.write(f"{stack} {count}\n")
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as out:
            svg(stacks, out)
    total, rows = top(stacks, args.top)
    print(f"{total} samples")
    print("| inclusive % | self % | frame |")
    print("|---:|---:|---|")
    for inclusive, own, name in rows:
        print(f"| {inclusive:.1f} | {own:.1f} | `{name[:110]}` |")


if __name__ == "__main__":
    main()
