"""The mcu kind's report hooks and sections: TFLite Micro's verdict per TFLite file, the Cortex-M table (exact
counts of the C firmware; estimates for TFLite variants, labelled), and one "what fits" line per variant.

An estimate is MACs (from the flatbuffer) x cycles per MAC, the cycles per MAC measured on the same core from
the exact count of the scikit-learn mlp's classifier (its count minus the front's): a MAC workload in float C,
not TFLite Micro's kernels, so it is a scale, not a measurement. The method is checked on the other models
that have exact counts (front + MACs x cycles per MAC against their count), and its error is reported.
"""

from __future__ import annotations

from pipeline.report.model import Column, Section, Table, _fixed, _pct, _text
from pipeline.variants import REFERENCE_LEVEL, variant_id

CALIBRATION_ESTIMATOR = "mlp"  # the estimator type whose work is MACs: its exact count gives cycles per MAC
COST_LABEL = ("estimated device latency: exact instruction count x CPI / clock of the firmware, or MACs x the "
              "core's measured cycles per MAC for a TFLite file (an estimate)")
ESTIMATE = True


def entry(bench: dict, scored: dict) -> dict:
    return bench  # the firmware's entry as measured (or the TFLite file's MACs)


def cost_us(e: dict) -> float | None:
    if e.get("status") == "estimate" and not e.get("loads_on_tflm"):
        return None  # TFLite Micro does not run the file: no cost to weigh
    return e.get("estimated_device_latency_us")


def judge(e: dict) -> dict:
    """What the variant breaks on the part (flash, RAM: KB over), what it stores there (the firmware's flash;
    a TFLite file: the model alone), and the caveat of a MAC-based estimate."""
    caveat = ("its latency is estimated from its MACs at float C's cycles per MAC on this core (no Cortex-M build "
              "of TFLite Micro or CMSIS-NN runs here)") if e.get("status") == "estimate" else None
    return {"breaks": dict(e.get("over_part", {})), "caveat": caveat, "size_bytes": e["flash_bytes"]}

ANCHORS = ("Published anchors (other kernels, real boards): MLPerf Tiny v1.1 keyword spotting (DS-CNN) 72.7 ms on a "
           "Cortex-M4 board (NUCLEO-L4R5ZI) and 16.4 ms on a Cortex-M7 (NUCLEO-H7A3ZI); ST's analyzer quotes about "
           "9 cycles per MAC on a Cortex-M4.")
TFLM_NOTE = ("TensorFlow Lite for Microcontrollers' own interpreter (PyPI tflite-micro: its reference kernels, on "
             "this host): whether the file loads, the tensor arena its recording allocator reports (the run that "
             "checks agreement uses exactly that arena), and top-1 agreement with LiteRT's reference kernels on "
             "the whole test split.")
MCU_NOTE = ("Bare-metal firmware on QEMU system boards (qemu-system-arm), built with Debian's arm-none-eabi-gcc "
            "-O2 and picolibc. Exact: the scikit-learn model as C from its generator, with the summary-statistics "
            "front and the scaler in C, instructions counted inside the inference call (identical run to run); "
            "flash = text + rodata + data image of the whole firmware (harness and picolibc included), RAM = data "
            "+ bss + the stack's high-water mark + the heap picolibc's stdio took; accuracy: the firmware's own on the whole test split; agreement: top-1 against the host model's decision rule (its most probable class, as every artefact of the model answers) on the same clips. "
            "Latency = instructions x cpi / clock, nominal figures from params.yaml: an estimate, not device time. "
            "TFLite variants have no firmware here: their row is an estimate, MACs (convolutions and dense layers, "
            "plus one per element of the arithmetic and reductions between them) x the cycles per MAC that float "
            "C takes on that core (below), the same for every level (int8 kernels such as CMSIS-NN's take fewer "
            "cycles per MAC: not measured here), with the model's size as flash (TFLite Micro's own code not "
            "included) and TFLite Micro's arena as RAM.")

TFLM_COLUMNS = (_text("Variant", "variant"), _text("Loads on TFLite Micro", "loads"),
                Column("Arena (KB)", "arena_kb", _fixed(",.1f")),
                Column("Agreement with LiteRT reference kernels", "reference_agreement", _pct),
                _text("Why not", "reason"))
MCU_COLUMNS = (_text("Variant", "variant"), _text("Target", "target"), _text("Method", "method"),
               Column("Instructions / inference", "instructions_per_inference", _fixed(",d")),
               Column("MACs", "macs", _fixed(",d")),
               _text("Latency (ms)", "latency"), Column("Flash (KB; estimate: the model alone)", "flash_kb", _fixed(",.1f")),
               Column("RAM (KB; estimate: TFLM's arena)", "ram_kb", _fixed(",.1f")),
               Column("Firmware accuracy", "firmware_accuracy", _pct),
               Column("Host agreement", "host_agreement", _pct),
               _text("Fits the board", "fits"))
CALIBRATION_COLUMNS = (_text("Target", "target"),
                       Column("Cycles per MAC (measured instructions x nominal cpi)", "cycles_per_mac", _fixed(",.2f")),
                       _text("Estimate vs exact on the other models", "errors"))


def _calibration(metrics: dict, target: str) -> dict | None:
    """The exact entry of the first model of the calibration estimator type on this target."""
    return next((m[target] for _, m in sorted(metrics.items()) if isinstance(m, dict)
                 and isinstance(m.get(target), dict) and m[target].get("status") == "ok"
                 and m[target].get("estimator") == CALIBRATION_ESTIMATOR and m[target].get("macs")), None)


def _cycles_per_mac(metrics: dict, target: str, cpi: float) -> float | None:
    e = _calibration(metrics, target)
    return None if e is None else (e["instructions_per_inference"] - e["front_instructions"]) * cpi / e["macs"]


def calibration(metrics: dict, name: str, device) -> dict:
    """The cycles per MAC measured on this core, and the method's error on the other exact models."""
    cpm = _cycles_per_mac(metrics, name, device.cpi)
    errors = {}
    for m in metrics.values():
        e = m.get(name) if isinstance(m, dict) else None
        if isinstance(e, dict) and e.get("status") == "ok" and cpm is not None \
                and e.get("estimator") != CALIBRATION_ESTIMATOR and e.get("macs"):
            estimate = e["front_instructions"] * device.cpi + e["macs"] * cpm
            errors[m["model"]] = round(estimate / (e["instructions_per_inference"] * device.cpi) - 1, 4)
    return {"cycles_per_mac": None if cpm is None else round(cpm, 3), "calibrated_on": CALIBRATION_ESTIMATOR,
            "estimate_error": errors}


def complete(metrics: dict, name: str, target, device) -> None:
    """Every entry's estimated latency on the device (exact firmware: instructions x cpi / clock; a TFLite file:
    MACs x the measured cycles per MAC, RAM from TFLite Micro's arena) and whether it fits the device's part."""
    cpm = _cycles_per_mac(metrics, name, device.cpi)
    for m in metrics.values():
        e = m.get(name) if isinstance(m, dict) else None
        if not isinstance(e, dict):
            continue
        if e.get("status") == "estimate":
            tflm = m.get("tflm") or {}
            cycles = None if cpm is None else round(e["macs"] * cpm)
            e.update(cycles_per_mac=None if cpm is None else round(cpm, 3), estimated_cycles=cycles,
                     estimated_device_latency_us=None if cycles is None else round(cycles / device.clock_mhz, 3),
                     ram_bytes=tflm.get("arena_bytes"), loads_on_tflm=tflm.get("loads"))
        elif e.get("status") == "ok":
            e["estimated_device_latency_us"] = round(e["instructions_per_inference"] * device.cpi / device.clock_mhz, 3)
        if e.get("status") in ("ok", "estimate") and e.get("ram_bytes") is not None:
            over = {"flash_kb": round(e["flash_bytes"] / 1024 - device.flash_kb, 3),
                    "ram_kb": round(e["ram_bytes"] / 1024 - device.ram_kb, 3)}
            e["over_part"] = {k: v for k, v in over.items() if v > 0}
            e["fits"] = not e["over_part"]


def _fits(e: dict, device) -> str:
    if e.get("fits") is None:
        return "–"
    said = ("yes" if e["fits"] else "no") + (" (estimate: the model and arena only)" if e["status"] == "estimate" else "")
    return said + f" ({device.board}: {device.flash_kb:,} KB flash, {device.ram_kb:,} KB RAM)"


def tflm_rows(metrics: dict) -> list[dict]:
    rows = []
    for vid, m in sorted(metrics.items()):
        t = m.get("tflm") if isinstance(m, dict) else None
        if t:
            rows.append({"variant": vid, "loads": "yes" if t["loads"] else "no",
                         "arena_kb": t["arena_bytes"] / 1024 if t["arena_bytes"] else None,
                         "reference_agreement": t["reference_agreement"], "reason": t["reason"] or ""})
    return rows


def mcu_rows(metrics: dict, targets: dict) -> list[dict]:
    rows = []
    for vid, m in sorted(metrics.items()):
        for target, (_, device) in targets.items():
            e = m.get(target) if isinstance(m, dict) else None
            if not isinstance(e, dict) or e.get("status") not in ("ok", "estimate"):
                continue
            exact = e["status"] == "ok"
            if not exact and not e.get("loads_on_tflm"):
                continue  # said in the TFLite Micro table and the what-fits lines
            lat = e.get("estimated_device_latency_us")
            rows.append({"variant": vid, "target": target,
                         "method": f"exact ({e['generator']})" if exact else "estimate (MACs x float cycles/MAC)",
                         "instructions_per_inference": e.get("instructions_per_inference"), "macs": e.get("macs"),
                         "latency": "–" if lat is None else f"{lat / 1e3:,.3f} (estimate)",
                         "flash_kb": e["flash_bytes"] / 1024,
                         "ram_kb": None if e.get("ram_bytes") is None else e["ram_bytes"] / 1024,
                         "firmware_accuracy": e.get("firmware_accuracy"), "host_agreement": e.get("host_agreement"),
                         "fits": _fits(e, device)})
    return rows


def fit_lines(metrics: dict, targets: dict) -> list[tuple[str]]:
    """One line per variant that a Cortex-M target saw: where it runs, or why it does not."""
    lines = []
    for vid, m in sorted(metrics.items()):
        if not isinstance(m, dict) or m.get("status") != "ok":
            continue
        entries = {t: m.get(t) for t in targets if isinstance(m.get(t), dict)}
        if not entries or all(e["status"] in ("not_applicable", "skipped") for e in entries.values()):
            continue
        ok = {t: e for t, e in entries.items() if e["status"] == "ok"}
        if ok:
            parts = [f"{t} {e['instructions_per_inference']:,} instructions ({e['estimated_device_latency_us'] / 1e3:,.2f}"
                     f" ms estimated), {e['flash_bytes'] / 1024:,.0f} KB flash, {e['ram_bytes'] / 1024:,.1f} KB RAM"
                     for t, e in ok.items()]
            failed = [f"not on {t}: {e['reason']}" for t, e in entries.items() if e["status"] == "failed"]
            lines.append((f"{vid}: runs as C ({next(iter(ok.values()))['generator']}): " + "; ".join(parts + failed)
                          + ".",))
        elif any(e["status"] == "failed" for e in entries.values()):
            lines.append((f"{vid}: no firmware: {next(e for e in entries.values() if e['status'] == 'failed')['reason']}",))
        else:
            tflm = m.get("tflm") or {}
            if tflm.get("loads"):
                est = "; ".join(f"{t} ~{e['estimated_device_latency_us'] / 1e3:,.1f} ms" for t, e in entries.items()
                                if e.get("estimated_device_latency_us") is not None)
                lines.append((f"{vid}: loads on TFLite Micro with a {tflm['arena_bytes'] / 1024:,.1f} KB arena and "
                              f"{m['size_bytes'] / 1024:,.1f} KB of model; estimate only, at float C's cycles per MAC "
                              f"({est or 'no calibration'}): no Cortex-M build of TFLite Micro or CMSIS-NN is "
                              "installable here.",))
            else:
                lines.append((f"{vid}: does not run on TFLite Micro: {tflm.get('reason') or 'not checked'}.",))
    return lines


FRONT_NOTE = ("End-to-end artefacts on TFLite Micro: the tflite format's front computes the spectrum with RFFT2D, "
              "which TFLite Micro does not register, so none of those loads. The tflm format is the same model with "
              "the DFT as two FULLY_CONNECTED layers (the cosine and sine matrices: 2 x n_fft x (n_fft/2 + 1) float32 "
              "weights), "
              "every other op unchanged: each of its files is in this table with TFLite Micro's verdict, its parity "
              "with librosa is in the end-to-end parity table, and its costs are measured like every variant's.")


def sections(ctx, targets: dict) -> list[Section]:
    if not targets:
        return []
    metrics = ctx.metrics
    cal = [{"target": t, "cycles_per_mac": c["cycles_per_mac"],
            "errors": ", ".join(f"{model} {err:+.1%}" for model, err in c["estimate_error"].items()) or "–"}
           for t, (_, device) in targets.items() for c in (calibration(metrics, t, device),)]
    skipped = sorted({f"{t}: {e['reason']}" for m in metrics.values() if isinstance(m, dict)
                      for t in targets if isinstance(m.get(t), dict) and m[t]["status"] == "skipped"})
    return [
        Section("Microcontrollers (Cortex-M)", badge="emulated", notes=((MCU_NOTE,), (ANCHORS,)),
                table=Table(tuple(mcu_rows(metrics, targets)), MCU_COLUMNS),
                remarks=(*((f"Skipped {s}",) for s in skipped), *fit_lines(metrics, targets))),
        Section("TFLite Micro", level=3, notes=((TFLM_NOTE,), (FRONT_NOTE,)),
                table=Table(tuple(tflm_rows(metrics)), TFLM_COLUMNS)),
        Section("How good the Cortex-M estimate is", level=3,
                notes=((f"Cycles per MAC: the {CALIBRATION_ESTIMATOR}'s exact count minus the front's, x cpi, / its MACs, "
                        "per core. Checked on the other exact models: front + MACs x cycles per MAC against their "
                        "exact count (a random forest does no MACs and is not checked). m2cgen's C computes in "
                        "double precision, which a Cortex-M4's single-precision FPU runs in software: a cost the "
                        "MAC count cannot see.",),),
                table=Table(tuple(cal), CALIBRATION_COLUMNS)),
    ]
