"""Build the offline HTML template for `dvc plots show` (called by `make setup`).

DVC's own page loads vega, vega-lite and vega-embed from a CDN: blank on a machine without internet.
This one inlines the same versions (read from dvc_render, so they follow a DVC upgrade) from their npm
packages, and points the checkout's DVC at it (.dvc/config.local, plots.html_template).
Idempotent: a template of the right versions is left alone. Needs npm (Debian's package `npm`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".cache" / "plots" / "offline.html"
BUILDS = {"vega": "build/vega.min.js", "vega-lite": "build/vega-lite.min.js", "vega-embed": "build/vega-embed.min.js"}


def dvc_versions() -> dict[str, str]:
    from dvc_render.vega import VegaRenderer

    found = dict(re.findall(r"npm/(vega(?:-lite|-embed)?)@([0-9.]+)", VegaRenderer.SCRIPTS))
    if set(found) != set(BUILDS):
        raise SystemExit(f"plots_template: cannot read the vega versions from dvc_render ({found})")
    return found


def npm_scripts(versions: dict[str, str], work: Path) -> dict[str, str]:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("plots_template: npm is missing; install it with `apt-get install -y --no-install-recommends npm`")
    specs = [f"{name}@{version}" for name, version in versions.items()]
    subprocess.run([npm, "pack", "--silent", *specs], cwd=work, check=True, stdout=subprocess.DEVNULL)
    scripts = {}
    for name, version in versions.items():
        with tarfile.open(work / f"{name}-{version}.tgz") as tar:
            scripts[name] = tar.extractfile(f"package/{BUILDS[name]}").read().decode()
    return scripts


def template(versions: dict[str, str], scripts: dict[str, str]) -> str:
    safe = {name: text.replace("</script", "<\\/script") for name, text in scripts.items()}
    inline = "\n".join(f"<script>/* {name} {versions[name]} (npm) */\n{safe[name]}\n</script>" for name in BUILDS)
    stamp = " ".join(f"{n}@{v}" for n, v in versions.items())
    return (f"<!DOCTYPE html>\n<!-- offline template for dvc plots show: {stamp} -->\n<html>\n<head>\n"
            f"<meta charset=utf-8>\n{{refresh_tag}}\n<title>DVC Plot</title>\n{inline}\n"
            "<style>table { border-spacing: 15px; }</style>\n</head>\n<body>\n{plot_divs}\n</body>\n</html>\n")


def main() -> int:
    versions = dvc_versions()
    stamp = " ".join(f"{n}@{v}" for n, v in versions.items())
    if not (OUT.is_file() and stamp in OUT.read_text(errors="replace")[:300]):
        with tempfile.TemporaryDirectory() as tmp:
            text = template(versions, npm_scripts(versions, Path(tmp)))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.with_suffix(".tmp").write_text(text)
        OUT.with_suffix(".tmp").replace(OUT)
        print(f"[plots_template] wrote {OUT} ({len(text) // 1024} KB: {stamp})")
    else:
        print(f"[plots_template] {OUT.relative_to(ROOT)} is up to date ({stamp})")
    # relative to .dvc/, as DVC reads it; config.local is the checkout's own (not committed)
    subprocess.run([sys.executable, "-m", "dvc", "config", "--local", "plots.html_template",
                    "../.cache/plots/offline.html"], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
