"""The pull-request workflow can run: it sets up on the platform the README supports (a Debian 12
container, Debian's Python 3.11) and runs the same scripts as CI and the tests (.ci/run and
scripts/ci_compare.sh), with nothing installed by a step the project's own set-up does not run."""

from __future__ import annotations

import yaml

from conftest import ROOT

WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "pr.yml").read_text())


def steps(job: str) -> list[dict]:
    return WORKFLOW["jobs"][job]["steps"]


def commands(job: str) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def test_every_job_runs_in_a_debian_12_container():
    for name, job in WORKFLOW["jobs"].items():
        image = job["container"] if isinstance(job["container"], str) else job["container"]["image"]
        assert image in ("debian:12", "debian:bookworm"), name
        assert "python3.11" in commands(name) and "python3.11-venv" in commands(name), name
        assert not any("setup-python" in s.get("uses", "") for s in steps(name)), f"{name}: the container's Python"


def test_jobs_run_the_scripts_ci_and_the_tests_run():
    assert "bash .ci/run" in commands("test")
    assert "bash scripts/ci_compare.sh params.ci.yaml" in commands("compare")
    assert "bash scripts/check_reproducible.sh HEAD" in commands("reproducible")
    for script in (".ci/run", "scripts/ci_compare.sh", "scripts/check_reproducible.sh", "params.ci.yaml"):
        assert (ROOT / script).is_file(), script
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_compare_job_sees_the_base_branch():
    checkout = next(s for s in steps("compare") if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
