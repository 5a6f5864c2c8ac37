"""Emulated aarch64 target: instruction counts and outputs.

Needs `bash scripts/provision_arm.sh`; skipped when the target is not
provisioned (failed instead when CI is set). About 30 s of wall time.
"""

import json
import os
import platform

import numpy as np
import pytest

from pipeline.bench import region
from pipeline.errors import TargetUnavailable
from pipeline.targets import qemu_user as qemu

pytestmark = pytest.mark.arm

K = 10            # counted inferences per model
SMALL, BIG = 64, 128   # [1,n] x [n,n]: BIG has 4x the multiply-adds of SMALL

GUEST_SCRIPT = r'''
import json, sys
import numpy as np
from pipeline.bench import region

kind, k = sys.argv[1], int(sys.argv[2])
results = []
for spec in sys.argv[3:]:
    model_path, x_path = spec.split("::")
    x = np.load(x_path)
    if kind == "onnx":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}
        run = lambda: sess.run(None, feed)[0]
    else:
        from ai_edge_litert.interpreter import Interpreter
        it = Interpreter(model_path=model_path, num_threads=1)
        it.allocate_tensors()
        inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
        def run():
            it.set_tensor(inp, x)
            it.invoke()
            return it.get_tensor(out)
    y = run()                      # warm-up, not counted
    region.begin()
    for _ in range(k):
        y = run()
    region.end()
    results.append(np.asarray(y, dtype=np.float64).ravel().tolist())
print(json.dumps({"enabled": region.ENABLED, "outputs": results}))
'''


@pytest.fixture(scope="module")
def arm_target():
    try:
        qemu.check_available()
    except TargetUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _weights(n):
    return np.random.default_rng(n).standard_normal((n, n)).astype(np.float32)


def _input(n):
    return (np.arange(n, dtype=np.float32) / n - 0.5).reshape(1, n)


def _onnx_matmul(n, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], f"matmul{n}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        [numpy_helper.from_array(_weights(n), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10          # onnxruntime 1.31 loads IR <= 13
    onnx.save(model, str(path))


def _tflite_fully_connected(n, path):
    """A one-op TFLite model (y = x @ W.T) written with the flatbuffers schema
    shipped in ai_edge_litert: no TensorFlow needed."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    def buffer(arr=None):
        b = s.BufferT()
        if arr is not None:
            b.data = np.frombuffer(arr.tobytes(), np.uint8)
        return b

    def tensor(name, shape, buf):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), s.TensorType.FLOAT32, buf
        return t

    sg = s.SubGraphT()
    sg.tensors = [tensor("x", [1, n], 1), tensor("w", [n, n], 2), tensor("y", [1, n], 3)]
    sg.inputs, sg.outputs = [0], [2]
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, -1], [2]
    op.builtinOptionsType = s.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = s.FullyConnectedOptionsT()
    sg.operators = [op]
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [sg]
    model.buffers = [buffer(), buffer(), buffer(_weights(n).T.copy()), buffer()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())


def _host_outputs(kind, specs):
    outs = []
    for model_path, x_path in specs:
        x = np.load(x_path)
        if kind == "onnx":
            import onnxruntime as ort
            so = ort.SessionOptions()
            so.intra_op_num_threads = so.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
            y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        else:
            from ai_edge_litert.interpreter import Interpreter
            it = Interpreter(model_path=str(model_path), num_threads=1)
            it.allocate_tensors()
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            y = it.get_tensor(it.get_output_details()[0]["index"])
        outs.append(np.asarray(y, np.float64).ravel())
    return outs


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("qemu_target")
    (d / "guest.py").write_text(GUEST_SCRIPT)
    for n in (SMALL, BIG):
        np.save(d / f"x{n}.npy", _input(n))
        _onnx_matmul(n, d / f"matmul{n}.onnx")
    return d


def _specs(workdir, kind, sizes=(SMALL, BIG)):
    ext = "onnx" if kind == "onnx" else "tflite"
    name = "matmul" if kind == "onnx" else "fc"
    return [(workdir / f"{name}{n}.{ext}", workdir / f"x{n}.npy") for n in sizes]


def _run_guest(workdir, cpu, kind, specs, host_cpu=None):
    argv = [str(workdir / "guest.py"), kind, str(K)] + [f"{m}::{x}" for m, x in specs]
    proc, counts = qemu.run_python(cpu, argv, timeout=300, host_cpu=host_cpu)
    return json.loads(proc.stdout.strip().splitlines()[-1]), counts


def _check_counts_and_outputs(workdir, kind):
    specs = _specs(workdir, kind)
    runs = [_run_guest(workdir, "cortex-a53", kind, specs) for _ in range(2)]
    for out, counts in runs:
        assert out["enabled"] is True
        assert counts["regions"] == 2 and counts["unbalanced"] == 0
        assert counts["threads"] == 1, "guest must stay single-threaded for stable counts"
        small, big = counts["per_region"]
        assert isinstance(small, int) and small > 0
        assert counts["instructions"] == small + big
        # 3 * SMALL^2 more multiply-adds per inference in BIG: the counter must see them
        per_mac = (big - small) / (K * 3 * SMALL * SMALL)
        assert big > 1.05 * small
        assert 0.05 < per_mac < 4, per_mac
    (out1, c1), (out2, c2) = runs
    assert c1["per_region"] == c2["per_region"], "instruction counts are not deterministic"
    assert out1["outputs"] == out2["outputs"]
    for guest, host in zip(out1["outputs"], _host_outputs(kind, specs)):
        np.testing.assert_allclose(np.array(guest), host, rtol=1e-5, atol=1e-5)
    print(f"{kind} cortex-a53 per-region instructions: run1={c1['per_region']} run2={c2['per_region']}")
    return c1


def test_region_is_noop_on_host():
    if platform.machine() != "aarch64":
        assert region.ENABLED is False
    region.begin()
    region.end()
    with region.region():
        pass


def test_check_available_names_missing_parts(monkeypatch, tmp_path):
    monkeypatch.setattr(qemu, "GUEST_PYTHON", tmp_path / "nope" / "python3.11")
    monkeypatch.setattr(qemu, "PLUGIN", tmp_path / "nope.so")
    with pytest.raises(TargetUnavailable) as exc:
        qemu.check_available()
    msg = str(exc.value)
    assert "sysroot" in msg and "plugin" in msg and "provision_arm.sh" in msg


def test_unknown_cpu_rejected(tmp_path):
    with pytest.raises(ValueError):
        qemu.command("cortex-a9", ["x.py"], tmp_path)


def test_onnxruntime_counts(arm_target, workdir):
    _check_counts_and_outputs(workdir, "onnx")


def test_litert_counts(arm_target, workdir):
    for n in (SMALL, BIG):
        _tflite_fully_connected(n, workdir / f"fc{n}.tflite")
    _check_counts_and_outputs(workdir, "tflite")


@pytest.mark.parametrize("cpu", [c for c in qemu.CPUS if c != "cortex-a53"])
def test_other_cores_run(arm_target, workdir, cpu):
    out, counts = _run_guest(workdir, cpu, "onnx", _specs(workdir, "onnx", (SMALL,)))
    assert counts["regions"] == 1 and counts["instructions"] > 0
    host = _host_outputs("onnx", _specs(workdir, "onnx", (SMALL,)))[0]
    np.testing.assert_allclose(np.array(out["outputs"][0]), host, rtol=1e-5, atol=1e-5)
    print(f"onnx {cpu} instructions: {counts['instructions']}")


def test_guest_failure_reports_stderr(arm_target, tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import sys\nprint('boom-marker', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(qemu.GuestError) as exc:
        qemu.run_python("cortex-a53", [str(script)], count=False)
    assert "boom-marker" in str(exc.value) and "exited with 3" in str(exc.value)


def test_count_false_returns_none(arm_target, tmp_path):
    proc, counts = qemu.run_python("cortex-a53", ["-c", "import platform; print(platform.machine())"],
                                   count=False)
    assert counts is None and proc.stdout.strip() == "aarch64"


def test_harness_count_does_not_depend_on_where_the_checkout_lives(arm_target, workdir, tmp_path):
    """The same artefact and inputs, read from a short and from a long path: the same integer.
    (Before the guest workspace, a longer checkout path moved counts by up to 0.6%.)"""
    from types import SimpleNamespace

    from pipeline.targets.qemu_run import run_variant

    target = SimpleNamespace(cpu="cortex-a53", agreement_clips=2)
    settings = {"threads": 1, "warmup": 1, "runs": 3, "count_inputs": 2, "load_repeats": 1}
    counts = []
    for folder in (tmp_path / "a", tmp_path / ("a-much-longer-folder-name" * 4) / "nested"):
        folder.mkdir(parents=True)
        _onnx_matmul(SMALL, folder / "m.onnx")
        np.save(folder / "x.npy", np.stack([_input(SMALL)] * 4))
        job = {"id": "matmul.onnx.fp32", "runtime": "onnxruntime", "artefact": str(folder / "m.onnx"),
               "inputs": str(folder / "x.npy"), "input": {"name": "x", "shape": [1, SMALL], "dtype": "float32"}}
        record = run_variant(target, settings, job)
        assert record["predictions"] == [int(np.argmax(_input(SMALL) @ _weights(SMALL)))] * 2
        counts.append(record["instructions_per_inference"])
    assert counts[0] == counts[1] > 0, counts


def test_guest_wall_clock_is_frozen_and_monotonic_clock_runs(arm_target):
    """onnxruntime keeps wall-clock telemetry inside Run; the guest's CLOCK_REALTIME stands still
    (native/guest_shim.S) so that it never fires in a counted call. Timing uses the monotonic
    clock, which must still run."""
    code = "import time; a = time.time(); m = time.monotonic(); time.sleep(0.05); print(a, time.time(), time.monotonic() - m)"
    proc, _ = qemu.run_python("cortex-a53", ["-c", code], count=False)
    first, second, elapsed = map(float, proc.stdout.split())
    assert first == second == 1700000000.0
    assert elapsed >= 0.05
    assert "LD_PRELOAD" not in proc.stderr and "cannot be preloaded" not in proc.stderr


GETCPU_PROBE = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
cpu, node = ctypes.c_uint(7), ctypes.c_uint(7)
raw = libc.syscall(ctypes.c_long(168), ctypes.byref(cpu), ctypes.byref(node), None)    # __NR_getcpu
bad = libc.syscall(ctypes.c_long(4000))                                  # no such syscall
errno = ctypes.get_errno()
print(libc.sched_getcpu(), raw, cpu.value, node.value, libc.syscall(ctypes.c_long(172)) == os.getpid(), bad, errno)
"""


def test_guest_sees_core_0_whichever_host_cpu_runs_it(arm_target):
    """QEMU answers getcpu with the host core and MLAS picks kernels by it; the guest shim answers 0
    through sched_getcpu() and syscall(__NR_getcpu), and passes every other syscall through with
    glibc's error convention (-1, errno)."""
    for host_cpu in qemu.board_cpus():
        proc, _ = qemu.run_python("cortex-a53", ["-c", GETCPU_PROBE], count=False, host_cpu=host_cpu)
        assert proc.stdout.split() == ["0", "0", "0", "0", "True", "-1", "38"], (host_cpu, proc.stdout)   # ENOSYS


def test_int8_count_does_not_depend_on_the_host_cpu(arm_target, workdir):
    """The variants of a stage run side by side, one emulator per host CPU: the count of an integer
    GEMM (MLAS asks getcpu() which core's kernels to use on every call) must not depend on which
    host CPU ran it. The fixed board (every core alike) and the shim's getcpu() both see to it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    cpus = qemu.board_cpus()
    if len(cpus) < 2:
        msg = f"needs two host CPUs of the board to compare, this process may use {cpus}"
        if os.environ.get("CI"):   # CI has two cores: the side-by-side path must be proved there
            pytest.fail(msg)
        pytest.skip(msg)
    model = workdir / f"matmul{BIG}.dynamic_int8.onnx"
    quantize_dynamic(str(workdir / f"matmul{BIG}.onnx"), str(model), weight_type=QuantType.QInt8)
    specs = [(model, workdir / f"x{BIG}.npy")]
    counts = [_run_guest(workdir, "cortex-a53", "onnx", specs, host_cpu=c)[1]["per_region"] for c in cpus[:2]]
    assert counts[0] == counts[1] and counts[0][0] > 0, counts


def test_unknown_host_cpu_rejected(arm_target):
    with pytest.raises(ValueError, match="not one of the board CPUs"):
        qemu.run_python("cortex-a53", ["-c", "pass"], count=False, host_cpu=qemu.BOARD_CORES)


def test_the_guest_cache_names_no_host_path():
    """Bytecode in the emulation cache names its sources by guest paths only: a host path there (the
    checkout's, of any length) moved every count with where the checkout lives."""
    root = str(qemu.ARM_CACHE.resolve()).encode()
    compiled = list(qemu.ARM_CACHE.rglob("*.pyc"))
    assert compiled and not [p for p in compiled if root in p.read_bytes()]


def test_the_guest_gets_every_project_module_its_harness_imports():
    """The guest imports the harness from a copy of GUEST_MODULES: a module the harness reaches and the list
    lacks fails every emulated cell (ModuleNotFoundError in the guest)."""
    from pipeline.wiring import import_closure

    needed = import_closure(["pipeline.bench.harness"], exempt={})
    assert needed <= set(qemu.GUEST_MODULES), sorted(needed - set(qemu.GUEST_MODULES))
