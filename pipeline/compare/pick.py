"""python -m pipeline pick [--json]: the best model per target over every experiment of this commit.

A search is a grid of DVC experiments (`dvc exp run --queue -S 'keras.stats_mlp.dropout=choice(0.1,0.2,0.3)'`,
`dvc queue start -j 2`); each experiment's report has already decided per target under `ship.<target>`
(constraints, the paired accuracy test, the reduction targets). This applies the same rule across them: of the
experiments whose decision ships something, the most accurate pick (ties: the cheaper, the smaller, the name),
with the Pareto front of accuracy, cost and size over the picks, why every other experiment lost, and the
command that keeps the winner. Accuracies of different experiments come from the same test clips only when
their data params agree: the table says when a difference is inside the winner's 95% interval.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from pipeline import catalog as cat
from pipeline.compare.diff import flatten_params
from pipeline.errors import UsageError
from pipeline.report.decision import METRICS_KEY, pareto_front

HEAD = "HEAD"  # the commit the experiments branch from: a candidate too


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def experiments() -> dict[str, str]:
    """name -> commit of HEAD and every DVC experiment based on it (refs/exps/<sha[:2]>/<sha[2:]>/<name>)."""
    head = _git("rev-parse", HEAD).strip()
    runs = {HEAD: head}
    for line in _git("for-each-ref", "--format=%(refname) %(objectname)", f"refs/exps/{head[:2]}/{head[2:]}/").split("\n"):
        if line.strip():
            ref, sha = line.split()
            runs[ref.rsplit("/", 1)[1]] = sha
    return runs


def _read(sha: str, path: str) -> dict | None:
    import yaml

    try:
        text = _git("show", f"{sha}:{path}")
    except subprocess.CalledProcessError:
        return None
    return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)


def changed_params(base: dict, other: dict) -> dict:
    old, new = flatten_params(base or {}), flatten_params(other or {})
    return {k: new.get(k) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def pick_across(runs: dict[str, dict], changes: dict[str, dict]) -> dict[str, dict]:
    """runs: name -> its reports/metrics.json; changes: name -> the params it changed. Per target: the winner,
    the Pareto front over the picks, and every experiment's row with its verdict."""
    targets = sorted({t for m in runs.values() for t in m.get(METRICS_KEY, {})})
    out = {}
    for target in targets:
        rows = []
        for name, m in runs.items():
            d = m.get(METRICS_KEY, {}).get(target)
            if d is None:
                rows.append({"experiment": name, "pick": None, "why": f"no decision for {target} (not a target there)"})
                continue
            row = {"experiment": name, "pick": d.get("pick"), "why": d.get("why"), "changed": changes.get(name, {})}
            if d.get("pick"):
                row.update(accuracy=d["accuracy"], cost_us=d["cost_us"], size_bytes=d["size_bytes"],
                           accuracy_ci95=m.get(d["pick"], {}).get("accuracy_ci95"), variant=f"{name}:{d['pick']}")
            rows.append(row)
        shipping = sorted((r for r in rows if r["pick"]),
                          key=lambda r: (-r["accuracy"], r["cost_us"], r["size_bytes"], r["experiment"]))
        winner = shipping[0] if shipping else None
        for r in rows:
            r["verdict"] = _verdict(r, winner)
        out[target] = {"winner": winner and {k: winner[k] for k in ("experiment", "pick", "accuracy", "cost_us",
                                                                      "size_bytes", "accuracy_ci95", "changed")},
                       "keep": winner and keep_command(winner["experiment"]),
                       "pareto_front": pareto_front(shipping), "rows": rows}
    return out


def _verdict(r: dict, winner: dict | None) -> str:
    if not r["pick"]:
        return f"ships nothing: {r['why']}"
    if r is winner:
        return "winner: the most accurate pick (ties: cheaper, smaller)"
    if r["accuracy"] == winner["accuracy"]:
        return "as accurate as the winner, but costlier or larger"
    lo, hi = winner.get("accuracy_ci95") or (None, None)
    noise = (" (inside the winner's 95% interval: these test clips cannot tell them apart)"
             if lo is not None and lo <= r["accuracy"] <= hi else "")
    return f"less accurate: {r['accuracy']:.1%} against {winner['accuracy']:.1%}{noise}"


def keep_command(name: str) -> str:
    if name == HEAD:
        return "nothing to do: the commit checked out holds it"
    return f"dvc exp apply {name}   # or: dvc exp branch {name} <new-branch>"


def render(result: dict[str, dict]) -> str:
    lines = []
    for target, r in result.items():
        w = r["winner"]
        lines += [f"## {target}", "",
                  (f"Winner: {w['experiment']} ships {w['pick']} ({w['accuracy']:.1%}, {w['cost_us']:,.1f} us, "
                   f"{w['size_bytes'] / 1024:,.1f} KB). Keep it: {r['keep']}" if w else
                   "No experiment ships anything here: see each one's reason."), "",
                  "| experiment | changed | pick | accuracy | cost (us) | size (KB) | Pareto | verdict |",
                  "|---|---|---|---:|---:|---:|---|---|"]
        for row in r["rows"]:
            changed = ", ".join(f"{k}={v}" for k, v in row.get("changed", {}).items()) or "–"
            num = (lambda k, f: format(row[k], f) if row.get(k) is not None else "–")
            lines.append(f"| {row['experiment']} | {changed} | {row['pick'] or '–'} | "
                         f"{num('accuracy', '.1%')} | {num('cost_us', ',.1f')} | "
                         f"{format(row['size_bytes'] / 1024, ',.1f') if row.get('size_bytes') else '–'} | "
                         f"{'yes' if row.get('variant') in r['pareto_front'] else ''} | {row['verdict']} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline pick", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="the whole result as JSON")
    args = parser.parse_args(argv)
    try:
        runs = experiments()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UsageError(f"pick reads the experiments of a git repository: {exc}") from None
    metrics = {name: _read(sha, cat.METRICS.template) for name, sha in runs.items()}
    missing = [name for name, m in metrics.items() if m is None]
    if len(missing) == len(metrics):
        raise UsageError(f"no commit or experiment holds {cat.METRICS.template}: run `make repro` (or queue "
                         "experiments with `dvc exp run --queue` and `dvc queue start`) first")
    params = {name: _read(sha, "params.yaml") for name, sha in runs.items()}
    changes = {name: changed_params(params[HEAD], params[name]) for name in runs if name != HEAD}
    result = pick_across({n: m for n, m in metrics.items() if m is not None}, changes)
    print(json.dumps(result, indent=1, sort_keys=True) if args.json else render(result))
    if missing:
        print(f"pick: no {cat.METRICS.template} in {missing} (failed or still running): left out", file=sys.stderr)
    return 0
