#!/usr/bin/env python3
"""Prints the PromQL queries of a Grafana dashboard as a Prometheus recording-rule file, so
that `promtool check rules` parses every panel query (CI: .ci/run).

Usage: scripts/dashboard_as_rules.py docs/observability/grafana-dashboard.json > rules.yml
Grafana's `$__rate_interval` becomes `5m`, which is valid PromQL.
"""
import json
import sys


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    lines = ["groups:", "  - name: dashboard-queries", "    rules:"]
    count = 0
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "5m")
            count += 1
            lines.append(f"      - record: dashboard:panel{panel['id']}:{target['refId']}")
            lines.append(f"        expr: {json.dumps(expr)}")
    if count == 0:
        sys.exit(f"{path}: no panel queries")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
