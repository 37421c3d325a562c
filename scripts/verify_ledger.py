#!/usr/bin/env python3
"""Verify EscrowGrid's ledger hash chains from the API (docs/LEDGER.md), stdlib only.
Usage: ESCROWGRID_API_KEY=<root key> verify_ledger.py http://host:port
Prints OK or the first broken event; exit status 0 when OK, 1 otherwise."""
import hashlib, json, os, sys, urllib.request
from decimal import Decimal

def num(d):  # canonical number: 0, or [-]digits e exponent, no leading/trailing zeros
    sign, digits, exp = d.as_tuple()
    ds = "".join(map(str, digits)).lstrip("0"); t = ds.rstrip("0")
    return "0" if not t else ("-" if sign else "") + t + "e" + str(exp + len(ds) - len(t))

def canon(v):
    if isinstance(v, dict): return "{" + ",".join(canon(k) + ":" + canon(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, list): return "[" + ",".join(map(canon, v)) + "]"
    if isinstance(v, Decimal): return num(v)
    return json.dumps(v, ensure_ascii=False)  # strings, true, false, null

def event_hash(e, prev):
    fields = ["escrowgrid-ledger-v1", prev or "", e["id"], e["kind"], e["positionId"], e["institutionId"],
              e["at"], e.get("previousState") or "", e["newState"], canon(e["payload"])]
    return hashlib.sha256(b"".join(len(b).to_bytes(4, "big") + b for b in (f.encode() for f in fields))).hexdigest()

request = urllib.request.Request(sys.argv[1].rstrip("/") + "/ledger-events", headers={"x-api-key": os.environ["ESCROWGRID_API_KEY"]})
events = json.loads(urllib.request.urlopen(request).read(), parse_float=Decimal, parse_int=Decimal)
heads = {}  # position id -> hash of its latest event
for e in events:
    if e.get("hash") is None: continue  # written before hashing started
    if event_hash(e, e.get("previousHash")) != e["hash"]: sys.exit(f"BROKEN {e['id']}: edited (hash mismatch)")
    if e.get("previousHash") != heads.get(e["positionId"]): sys.exit(f"BROKEN {e['id']}: chain broken (deleted, inserted or reordered)")
    heads[e["positionId"]] = e["hash"]
print(f"OK {len(events)} events, {len(heads)} chains")
