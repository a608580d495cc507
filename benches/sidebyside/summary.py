"""Summarises benches/sidebyside.sh's RESULT lines as a markdown table.

    python summary.py RESULTS_FILE

Per case (model, batch, workers, concurrency; and the batch delays each server ran with):
the best rps over the rounds for each server, ferroserve's over TorchServe's; the lowest
p99 over the rounds for each, and ferroserve's over TorchServe's (below 1: ferroserve's
tail is shorter); for the MLP, ferroserve's best rps as a % of nginx's best at the same
concurrency (the machine's HTTP ceiling on loopback); for ResNet-18, each server's best
rps as a % of the raw forward's items/s at the same batch size. A `!` marks a case where
some run had non-2xx answers or socket errors.
"""

import sys
from collections import defaultdict


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            if not line.startswith("RESULT "):
                continue
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            rows.append(fields)
    return rows


def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main(path):
    rows = parse(path)
    servers = defaultdict(list)  # (case, batch, workers, conc) -> rows, per server
    nginx = defaultdict(list)  # conc -> rps
    raw = {}  # (case, batch) -> items/s
    for r in rows:
        if r["server"] == "nginx":
            nginx[int(r["conc"])].append(float(r["rps"]))
        elif r["server"] == "raw":
            key = (r["case"], int(r["batch"]))
            raw[key] = max(raw.get(key, 0.0), float(r["items_s"]))
        else:
            key = (r["case"], int(r["batch"]), int(r["workers"]), int(r["conc"]))
            servers[(r["server"],) + key].append(r)

    cases = sorted({k[1:] for k in servers}, key=lambda k: (k[0] != "mlp", k[0], k[1], k[2], k[3]))
    print("| case | batch | workers | conc | delay ms ts/fs | TorchServe rps | ferroserve rps | fs/ts rps "
          "| TorchServe p99 ms | ferroserve p99 ms | fs/ts p99 | fs % of nginx | ts % of raw | fs % of raw |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def best(server, key):
        runs = servers.get((server,) + key, [])
        if not runs:
            return None, None, ""
        rps = max(float(r["rps"]) for r in runs)
        p99 = min(float(r["p99_ms"]) for r in runs)
        bad = any(int(r.get("non2xx", 0)) or int(r.get("socket_errors", 0)) for r in runs)
        return rps, p99, "!" if bad else ""

    def delays(server, key):
        found = sorted({r.get("delay_ms", "?") for r in servers.get((server,) + key, [])})
        return ",".join(found) if found else "-"

    for key in cases:
        case, batch, workers, conc = key
        ts_rps, ts_p99, ts_bad = best("torchserve", key)
        fs_rps, fs_p99, fs_bad = best("ferroserve", key)
        # The HTTP ceiling bounds the MLP, whose forward is microseconds; ResNet-18's is raw.
        ceiling = max(nginx[conc]) if nginx.get(conc) and case != "resnet18" else None
        nginx_pct = ratio(fs_rps, ceiling)
        raw_items = raw.get((case, batch)) if case == "resnet18" else None
        ts_raw = ratio(ts_rps, raw_items)
        fs_raw = ratio(fs_rps, raw_items)
        print(f"| {case} | {batch} | {workers} | {conc} | {delays('torchserve', key)}/{delays('ferroserve', key)} "
              f"| {fmt(ts_rps)}{ts_bad} | {fmt(fs_rps)}{fs_bad} | {fmt(ratio(fs_rps, ts_rps), '.2f')} "
              f"| {fmt(ts_p99, '.2f')} | {fmt(fs_p99, '.2f')} | {fmt(ratio(fs_p99, ts_p99), '.2f')} "
              f"| {fmt(None if nginx_pct is None else 100 * nginx_pct, '.1f')} "
              f"| {fmt(None if ts_raw is None else 100 * ts_raw, '.0f')} "
              f"| {fmt(None if fs_raw is None else 100 * fs_raw, '.0f')} |")
    print()
    if nginx:
        print("nginx ceiling (best rps): " + ", ".join(f"c{c} {max(v):.0f}" for c, v in sorted(nginx.items())))
    if raw:
        print("raw forward (items/s): " + ", ".join(f"{c} batch {b} {v:.1f}" for (c, b), v in sorted(raw.items())))


if __name__ == "__main__":
    main(sys.argv[1])
