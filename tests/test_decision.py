"""What to ship per target (pipeline/report/decision.py): the pick under constraints, ties, nothing fitting,
the reduction targets, the report's first section, and compare naming a changed pick."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import PROFILES
from pipeline.compare.metrics import pick_changes, variants_of
from pipeline.params import ParamsError, parse_params
from pipeline.report import markdown, model
from pipeline.report.target_context import ReportContext
from pipeline.report.decision import decide, pareto_front
from pipeline.report.ship import ship_section
from pipeline.targets.kinds import TARGET_KINDS

KINDS = {"host": TARGET_KINDS["host"], "cortex-a53": TARGET_KINDS["qemu"], "cortex-a76": TARGET_KINDS["qemu"]}


def decide_on(m: dict, target: str, limits: dict) -> dict:
    """decide() with the target kind's cost, as the report stage calls it."""
    ctx = ReportContext(m, KINDS, 1.0, 20.0)
    return decide(m, target, limits, KINDS[target].report.COST_LABEL, lambda v: ctx.cost_us(v, target))

LIMITS = {"max_latency_ms": 1.0, "max_size_kb": 100.0, "max_accuracy_loss": 0.02, "raw_audio": True,
          "reduction": {"min_size_reduction": 0.5, "min_cost_ratio": 2.0, "baseline": None}}


def variant(model_name, fmt, level, acc, size_kb, cost_us, target="cortex-a53"):
    t = {"status": "ok", "estimated_device_latency_us": cost_us, "instructions_per_inference": int(cost_us * 960)}
    return {"model": model_name, "format": fmt, "quantization": level, "status": "ok", "accuracy": acc,
            "size_bytes": int(size_kb * 1024), "host": {"status": "ok", "latency_p50_us": cost_us / 10},
            target: t}


def metrics(**extra):
    m = {"keras_e2e.tflite.fp32": variant("keras_e2e", "tflite", "fp32", 0.90, 120, 900),
         "keras_e2e.tflite.int8": variant("keras_e2e", "tflite", "int8", 0.89, 40, 300),
         "keras_e2e.tflite.fp16": variant("keras_e2e", "tflite", "fp16", 0.90, 70, 1200),
         "keras.tflite.fp32": variant("keras", "tflite", "fp32", 0.91, 110, 500),  # not raw audio
         "svc_e2e.onnx.fp32": variant("svc_e2e", "onnx", "fp32", 0.88, 80, 200),
         "logreg.tflite.fp32": {"model": "logreg", "format": "tflite", "quantization": "fp32",
                                "status": "not_applicable", "reason": "no converter"}}
    m.update(extra)
    return m


def test_the_pick_is_the_most_accurate_that_meets_every_constraint():
    d = decide_on(metrics(), "cortex-a53", LIMITS)
    # fp32 and fp16 break size or latency; keras.tflite.fp32 takes features, not audio
    assert d["pick"] == "keras_e2e.tflite.int8" and d["best_fp32_accuracy"] == 0.91
    assert d["margins"] == {"latency_ms": 0.7, "size_kb": 60.0, "accuracy": pytest.approx(0.0)}
    assert "estimate" in d["cost"] and d["candidates"] == 5
    assert d["reduction"]["met"] and d["reduction"]["by"] == "keras_e2e.tflite.int8"
    assert d["reduction"]["size_reduction"] == pytest.approx(1 - 40 / 120, abs=1e-3)


def test_ties_go_to_the_cheaper_then_the_smaller():
    m = metrics(**{"keras_e2e.onnx.int8": variant("keras_e2e", "onnx", "int8", 0.89, 30, 300),
                   "keras_e2e.onnx.fp32": variant("keras_e2e", "onnx", "fp32", 0.90, 130, 950)})
    assert decide_on(m, "cortex-a53", LIMITS)["pick"] == "keras_e2e.onnx.int8"  # same accuracy and cost: smaller
    m["keras_e2e.onnx.int8"]["cortex-a53"]["estimated_device_latency_us"] = 250
    assert decide_on(m, "cortex-a53", LIMITS)["pick"] == "keras_e2e.onnx.int8"  # cheaper wins before size


def test_nothing_fits_says_what_every_candidate_breaks_and_by_how_much():
    tight = {**LIMITS, "max_latency_ms": 0.1}
    d = decide_on(metrics(), "cortex-a53", tight)
    assert d["pick"] is None and d["broken_by_every_candidate"] == ["max_latency_ms"]
    closest = d["closest"][0]
    # one broken constraint beats two (svc_e2e also falls below the accuracy floor)
    assert closest["variant"] == "keras_e2e.tflite.int8" and closest["breaks"] == {"max_latency_ms": 0.2}
    md = markdown.render(model.build([], [], 1, lead=ship_section(ReportContext(metrics(), KINDS, 1.0, 20.0,
                                                                                 {"cortex-a53": d}))))
    assert "nothing fits" in md and "keras_e2e.tflite.int8 breaks max_latency_ms by 0.2" in md


def test_a_target_with_no_measurement_has_no_pick_and_says_why():
    d = decide_on(metrics(), "cortex-a76", LIMITS)
    assert d["pick"] is None and "no variant was measured on cortex-a76" in d["why"]


def test_reduction_not_met_names_the_closest_and_the_shortfall():
    d = decide_on(metrics(), "cortex-a53", {**LIMITS, "reduction": {"min_size_reduction": 0.9, "min_cost_ratio": 5.0,
                                                                       "baseline": None}})
    r = d["reduction"]
    assert not r["met"] and r["closest"] == "keras_e2e.tflite.int8"
    assert r["cost_short_by"] == pytest.approx(2.0) and r["size_short_by"] == pytest.approx(0.9 - (1 - 40 / 120), abs=1e-3)


def test_pareto_front():
    rows = [{"variant": "a", "accuracy": 0.9, "cost_us": 10, "size_bytes": 10},
            {"variant": "b", "accuracy": 0.8, "cost_us": 20, "size_bytes": 20},  # dominated by a
            {"variant": "c", "accuracy": 0.95, "cost_us": 30, "size_bytes": 5}]
    assert pareto_front(rows) == ["a", "c"]


def test_the_report_leads_with_what_to_ship():
    d = {"cortex-a53": decide_on(metrics(), "cortex-a53", LIMITS)}
    md = markdown.render(model.build([], [], 1, lead=ship_section(ReportContext(metrics(), KINDS, 1.0, 20.0, d))))
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[:2] == ["# Deployment report", "## What to ship"]
    assert "keras_e2e.tflite.int8" in md and "(estimate)" in md and "met by keras_e2e.tflite.int8" in md


def test_compare_names_a_changed_pick_and_never_takes_ship_for_a_variant():
    base = {**metrics(), "ship": {"cortex-a53": {"pick": "keras_e2e.tflite.int8"}, "host": {"pick": "a"}}}
    head = {**metrics(), "ship": {"cortex-a53": {"pick": "svc_e2e.onnx.fp32"}, "host": {"pick": "a"}}}
    assert pick_changes(base, head) == [("cortex-a53", "keras_e2e.tflite.int8", "svc_e2e.onnx.fp32")]
    assert "ship" not in variants_of(head)


GOOD = yaml.safe_load((PROFILES / "tiny.yaml").read_text())


@pytest.mark.parametrize("change,expected", [
    (lambda r: r["ship"].pop("cortex-a53"), ["ship", "missing ['cortex-a53']"]),
    (lambda r: r["ship"].update({"cortex-a99": r["ship"]["host"]}), ["ship", "['cortex-a99'] not in targets"]),
    (lambda r: r["ship"]["host"].update({"max_latency_ms": -1}), ["ship.host.max_latency_ms", "greater than 0"]),
    (lambda r: r["ship"]["host"].update({"max_accuracy_loss": 5}), ["ship.host.max_accuracy_loss", "less than or equal"]),
    (lambda r: r["ship"]["cortex-a53"]["reduction"].update({"min_cost_ratio": 0.5}),
     ["ship.cortex-a53.reduction.min_cost_ratio", "greater than or equal to 1"]),
    (lambda r: r["ship"]["host"].update({"max_latncy_ms": 1}), ["ship.host.max_latncy_ms", "unknown key"]),
])
def test_ship_params_are_validated(change, expected):
    raw = copy.deepcopy(GOOD)
    change(raw)
    with pytest.raises(ParamsError) as err:
        parse_params(raw)
    for text in expected:
        assert text in str(err.value), str(err.value)


def test_compare_report_names_the_changed_pick():
    from pipeline.compare import compare_metrics, parse_gates, render_markdown
    from conftest import ROOT

    gates = parse_gates(yaml.safe_load((ROOT / "gates.yaml").read_text()))
    base = {**metrics(), "ship": {"cortex-a53": {"pick": "keras_e2e.tflite.int8"}}}
    head = {**metrics(), "ship": {"cortex-a53": {"pick": None}}}  # tighter constraints at head: nothing fits
    cmp = compare_metrics(base, head, gates)
    md = render_markdown(cmp, [("ship.cortex-a53.max_latency_ms", 1.0, 0.1)], "base", "head")
    assert "### What to ship: changed picks" in md
    assert "- **cortex-a53**: `keras_e2e.tflite.int8` → `nothing fits`" in md


def test_a_microcontroller_decides_against_its_part_and_says_when_the_pick_is_an_estimate():
    """Flash and RAM are judged against the device's part (devices:), and a pick whose latency comes from MACs
    says so; an SVC that runs on the emulated board but not in the part's flash is never the pick."""
    from pipeline.targets import mcu, mcu_report

    def m(model, fmt, acc, entry, tflm=None):
        return {"model": model, "format": fmt, "quantization": "fp32", "status": "ok", "accuracy": acc,
                "size_bytes": 40_000, "m4": entry, **({"tflm": tflm} if tflm else {})}

    exact = {"status": "ok", "method": "exact", "estimator": "mlp", "macs": 20_000, "front_instructions": 30_000,
             "instructions_per_inference": 110_000, "flash_bytes": 100_000, "ram_bytes": 7_000}
    metrics = {"mlp.onnx.fp32": m("mlp", "onnx", 0.88, exact),
               "svc.onnx.fp32": m("svc", "onnx", 0.91, {**exact, "estimator": "svc", "macs": 0,
                                                         "flash_bytes": 3_600_000}),
               "keras.tflite.fp32": m("keras", "tflite", 0.90, {"status": "estimate", "method": "estimate",
                                                                "macs": 5_000, "flash_bytes": 90_000},
                                      {"loads": True, "arena_bytes": 140_000})}
    device = mcu.Device(board="a part", clock_mhz=100, cpi=1.0, flash_kb=2048, ram_kb=640)
    mcu_report.complete(metrics, "m4", mcu.Target(core="cortex-m4", required=True), device)
    assert metrics["svc.onnx.fp32"]["m4"]["over_part"] == {"flash_kb": round(3_600_000 / 1024 - 2048, 3)}
    kinds = {"m4": TARGET_KINDS["mcu"]}
    ctx = ReportContext(metrics, kinds, 1.0, 20.0)
    limits = {**LIMITS, "max_latency_ms": 20.0, "max_size_kb": 4096, "raw_audio": False, "reduction": None}
    d = decide(metrics, "m4", limits, mcu_report.COST_LABEL, lambda v: ctx.cost_us(v, "m4"),
               lambda v: ctx.judge(v, "m4"))
    assert d["pick"] == "keras.tflite.fp32" and "estimated from its MACs" in d["why"]
    tight = decide(metrics, "m4", {**limits, "max_accuracy_loss": 0.0}, mcu_report.COST_LABEL,
                   lambda v: ctx.cost_us(v, "m4"), lambda v: ctx.judge(v, "m4"))
    assert tight["pick"] is None and {"variant": "svc.onnx.fp32", "breaks": {"flash_kb": 1467.625}} in tight["closest"]
    assert d["size_bytes"] == 90_000  # what the part stores: the model alone for a TFLite file, else the firmware


def test_a_variant_an_app_runtime_answers_wrongly_is_named_and_never_ships_there():
    """The app kind: a variant that loads in the app's runtime but agrees with Python below the floor is the
    failure apps fear most: the decision passes over it however accurate it is, and the report names it."""
    from pipeline.report.target_context import ReportContext
    from pipeline.targets import app_report
    from pipeline.targets.app import Target

    def m(model, acc, agreement):
        bench = {"status": "ok", "runtime": "tflite-c", "runtime_version": "2.9.0", "language": "C", "clips": 200,
                 "predictions": [0] * 200, "python_agreement": agreement,
                 "python_mismatches": round((1 - agreement) * 200), "max_probability_diff": 0.9 * (agreement < 1),
                 "latency_p50_us": 100.0, "latency_p99_us": 120.0, "load_us": 800.0}
        return {"model": model, "format": "tflite", "quantization": "fp32", "status": "ok", "accuracy": acc,
                "size_bytes": 30_000, "c": app_report.entry(bench, {"record": {"predictions": [0] * 200}})}

    metrics = {"best_e2e.tflite.fp32": m("best_e2e", 0.92, 0.21), "next_e2e.tflite.fp32": m("next_e2e", 0.91, 1.0)}
    ctx = ReportContext(metrics, {"c": TARGET_KINDS["app"]}, 1.0, 20.0)
    limits = {**LIMITS, "max_latency_ms": 20.0, "max_size_kb": 4096, "reduction": None}
    d = decide(metrics, "c", limits, app_report.COST_LABEL, lambda v: ctx.cost_us(v, "c"), lambda v: ctx.judge(v, "c"))
    assert d["pick"] == "next_e2e.tflite.fp32", d
    wrong = decide(metrics, "c", {**limits, "max_accuracy_loss": 0.0}, app_report.COST_LABEL,
                   lambda v: ctx.cost_us(v, "c"), lambda v: ctx.judge(v, "c"))
    assert {"variant": "best_e2e.tflite.fp32", "breaks": {"agreement_with_python": 0.785}} in wrong["closest"]
    section = app_report.sections(ctx, {"c": (Target(runtime="tflite-c", clips=None, required=True), None)})[1]
    md = markdown.render(model.Report((section,)))
    assert "**Loads but answers differently:** best_e2e.tflite.fp32" in md and "WRONG: 158 of 200 clips differ" in md


def test_the_paired_test_counts_discordant_clips_and_gives_the_interval():
    from pipeline.report.paired import mcnemar_exact_p, paired_loss

    assert mcnemar_exact_p(0, 0) == 1.0 and mcnemar_exact_p(5, 5) == 1.0
    assert mcnemar_exact_p(10, 0) == pytest.approx(2 / 1024)        # every disagreement one way
    assert mcnemar_exact_p(7, 2) == pytest.approx(2 * (1 + 9 + 36) / 512)
    base = [True] * 90 + [False] * 10
    worse = [True] * 80 + [False] * 20                               # 10 clips lost, none gained
    pair = paired_loss(base, worse)
    assert pair["discordant"] == [10, 0] and pair["loss"] == 0.1 and pair["clips"] == 100
    lo, hi = pair["loss_ci95"]
    assert 0.03 < lo < 0.1 < hi < 0.16
    same = paired_loss(base, base)
    assert same["loss"] == 0 and same["mcnemar_p"] == 1.0 and same["loss_ci95"][0] < 0 < same["loss_ci95"][1]
    with pytest.raises(ValueError, match="same clips"):
        paired_loss(base, worse[:50])


def test_a_loss_the_clips_cannot_resolve_does_not_reject_a_candidate():
    """The budget is 2 points. A variant 3 points below the baseline on 100 clips, with 3 clips lost and
    none gained, is within what the split resolves: it stays a candidate and the decision says why. The
    same variant measured on 2,000 clips (60 lost) breaks the budget."""
    from pipeline.report.paired import tests_over

    m = metrics()
    base_vid = max((v for v in m if m[v]["quantization"] == "fp32" and m[v]["status"] == "ok"),
                   key=lambda v: (m[v]["accuracy"], v))
    labels = [0] * 100
    answers = {base_vid: [0] * 100, "keras_e2e.tflite.int8": [1] * 3 + [0] * 97}  # the others: point estimates
    m["keras_e2e.tflite.int8"]["accuracy"] = m[base_vid]["accuracy"] - 0.03
    ctx = ReportContext(m, KINDS, 1.0, 20.0)
    cost = lambda v: ctx.cost_us(v, "cortex-a53")  # noqa: E731
    lenient = decide(m, "cortex-a53", LIMITS, "c", cost, paired=tests_over(answers, labels))
    strict = decide(m, "cortex-a53", LIMITS, "c", cost)  # point estimates only
    assert lenient["accuracy_baseline"] == base_vid
    int8_breaks = {c["variant"]: c["breaks"] for c in strict["closest"]}["keras_e2e.tflite.int8"]
    assert strict["pick"] is None and int8_breaks == {"max_accuracy_loss": pytest.approx(0.01)}
    assert lenient["pick"] == "keras_e2e.tflite.int8"
    assert lenient["paired_test"]["discordant"] == [3, 0] and lenient["paired_test"]["loss"] == 0.03
    assert "100 paired clips" in lenient["why"] and "not by more than 100 clips resolve" in lenient["why"]
    big = {base_vid: [0] * 2000, "keras_e2e.tflite.int8": [1] * 60 + [0] * 1940}
    resolved = decide(m, "cortex-a53", LIMITS, "c", cost, paired=tests_over(big, [0] * 2000))
    assert resolved["pick"] is None
    int8_breaks = {c["variant"]: c["breaks"] for c in resolved["closest"]}["keras_e2e.tflite.int8"]
    assert int8_breaks["max_accuracy_loss"] == pytest.approx(0.01, abs=1e-6)  # 60 of 2,000 clips: resolved


def test_reduction_against_a_named_baseline_counts_only_shippable_variants_and_places_the_pick():
    """Against the unoptimized model on the same core: a feature-input variant cannot meet it for a target that
    ships raw audio, however small; the pick's own reduction is stated; a baseline not measured says so."""
    named = {**LIMITS, "reduction": {"min_size_reduction": 0.6, "min_cost_ratio": 2.5,
                                     "baseline": "keras_e2e.tflite.fp32"}}
    m = metrics(**{"keras.tflite.int8": variant("keras", "tflite", "int8", 0.91, 10, 50)})  # tiny, not raw audio
    d = decide_on(m, "cortex-a53", named)
    r = d["reduction"]
    assert d["pick"] == "keras_e2e.tflite.int8" and r["baseline"] == "keras_e2e.tflite.fp32"
    assert r["met"] and r["by"] == "keras_e2e.tflite.int8"          # 1 - 40/120 = 67% smaller, 900/300 = 3x
    assert r["size_reduction"] == pytest.approx(0.6667, abs=1e-4) and r["cost_ratio"] == 3.0
    assert r["pick"] == {"variant": "keras_e2e.tflite.int8", "size_reduction": pytest.approx(0.6667, abs=1e-4),
                         "cost_ratio": 3.0, "met": True}
    assert "keras.tflite.int8" not in (r["by"], *r.get("also", ()))  # takes features: not shippable here
    missing = decide_on(m, "cortex-a53", {**named, "reduction": {**named["reduction"], "baseline": "nope.tflite.fp32"}})
    assert not missing["reduction"]["met"] and "nope.tflite.fp32 has no cost" in missing["reduction"]["why"]


def test_the_reduction_targets_constrain_the_pick():
    """A more accurate variant that misses the reduction is not shipped where the targets are set; with targets
    nothing reaches, nothing is shipped and the closest candidates say by how much they miss."""
    named = {**LIMITS, "max_accuracy_loss": 0.05,
             "reduction": {"min_size_reduction": 0.6, "min_cost_ratio": 2.5, "baseline": "keras_e2e.tflite.fp32"}}
    m = metrics(**{"small_e2e.tflite.int8": variant("small_e2e", "tflite", "int8", 0.88, 20, 150)})
    assert decide_on(m, "cortex-a53", {**named, "reduction": None})["pick"] == "keras_e2e.tflite.int8"  # 0.89
    d = decide_on(m, "cortex-a53", named)
    assert d["pick"] == "keras_e2e.tflite.int8" and d["reduction"]["pick"]["met"]  # 67% smaller, 3x: meets both
    tighter = {**named, "reduction": {**named["reduction"], "min_cost_ratio": 4.0}}
    d = decide_on(m, "cortex-a53", tighter)
    assert d["pick"] == "small_e2e.tflite.int8" and d["reduction"]["by"] == "small_e2e.tflite.int8"  # 6x, 83%
    d = decide_on(m, "cortex-a53", {**named, "reduction": {**named["reduction"], "min_cost_ratio": 9.0}})
    assert d["pick"] is None and d["reduction"]["closest"] == "small_e2e.tflite.int8"
    closest = {c["variant"]: c["breaks"] for c in d["closest"]}
    assert closest["small_e2e.tflite.int8"] == {"min_cost_ratio": 3.0}
