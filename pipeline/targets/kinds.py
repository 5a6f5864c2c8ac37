"""Target kinds: one entry each. A kind is three modules named after its `module`:

- `<module>`: its params, light enough for `check`: `Target` (the schema of `targets.<kind>.<name>`: what
  the measurement uses) and `Device` (the schema of `devices.<name>`: nominal figures only the report reads,
  such as a clock; None when the kind takes none);
- `<module>_run`: `measure(name, target, spec, workdir) -> {variant id: entry}` (each entry with its
  status, each depending on its own job alone: cells are cached one by one), imported only when a benchmark
  stage of that kind runs; optionally `tool_versions() -> dict` (what else decides its figures: an emulator's
  version, a sysroot's stamp);
- `<module>_report`: the report's hooks: `COST_LABEL`, `entry(bench_entry, scored) -> metrics entry`,
  `complete(metrics, name, target, device)` (the estimates, from the device's nominal figures),
  `cost_us(entry)` (the decision's figure) and `sections(ctx, targets) -> [Section]`; optionally
  `judge(entry) -> ({constraint: excess}, caveat)`: what a variant breaks beyond `ship:` (a part's flash).

The stages and the report loop over this table and call those hooks; no module outside a kind's own
compares a kind or a target name. Adding a kind is one entry here and its modules; `python -m pipeline
wire` then writes its benchmark stage into dvc.yaml (pipeline/wiring.py).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

PACKAGE = "pipeline.targets"


@dataclass(frozen=True)
class TargetKind:
    name: str      # the group under `targets:` in params.yaml; its stage is benchmark_<name>
    module: str    # under pipeline.targets: the schema module; + "_run" the runner, + "_report" the report's hooks
    scores: bool = False  # its entries score the variants (accuracy, agreement): params hold exactly one such target
    data: tuple[str, ...] = ()  # files its runner reads besides Python modules (dependencies of its stage)
    timed: bool = False   # its figures include this machine's timings: its cached cells key on this CPU

    def _import(self, suffix: str = "") -> ModuleType:
        # Names are built here, not spelt: a stage that only validates params must not reach the runners.
        return importlib.import_module(f"{PACKAGE}.{self.module}{suffix}")

    @property
    def schema(self) -> ModuleType:
        return self._import()

    @property
    def runner(self) -> ModuleType:
        return self._import("_run")

    @property
    def report(self) -> ModuleType:
        return self._import("_report")

    def module_names(self) -> dict[str, str]:
        """The kind's modules by role (for the stages' code dependencies)."""
        return {role: f"{PACKAGE}.{self.module}{suffix}" for role, suffix in
                (("schema", ""), ("run", "_run"), ("report", "_report"))}


TARGET_KINDS: dict[str, TargetKind] = {k.name: k for k in (
    TargetKind("host", "host", scores=True, timed=True),  # this machine: wall time, the whole test split
    TargetKind("qemu", "qemu"),                # emulated aarch64 cores: exact instruction counts
    TargetKind("mcu", "mcu", data=("pipeline/targets/mcu_c",)),  # bare-metal Cortex-M firmware
    TargetKind("http", "http", timed=True),   # the remote alternative: a server on loopback under load
    # the runtimes apps bundle, each through its reference consumer: no Python between the file and the label
    TargetKind("app", "app", data=("pipeline/targets/app_js", "pipeline/targets/app_c"), timed=True),
)}
