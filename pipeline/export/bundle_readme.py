"""The README of a deployment bundle: what an app developer feeds the artefact and what comes out."""

from __future__ import annotations

from pipeline.export.formats import FORMATS
from pipeline.variants import is_e2e


def _tensor(t: dict) -> str:
    q = (f" Quantized: real = scale × (q − zero_point) with scale {t['scale']!r}, zero_point {t['zero_point']}."
         if t.get("scale") else "")
    return f"`{t['name']}`: {t['dtype']} {t['shape']}. {t.get('layout', '')}.{q}"


def _trained_on(t: dict | None) -> str:
    if not t:
        return "Not recorded."
    tested = f"its test split holds {t['test_clips']} clips"
    if t["source"] == "synthetic":
        return (f"Synthetic audio from this project's generator ({t['generator']}, seed {t['seed']}, "
                f"{t['clips_per_class']} clips per class); {tested}. Accuracy on that data is not accuracy on "
                "recordings like your app's: measure it on your own before shipping.")
    return f"Recordings in `{t['folder']}` (manifest SHA-256 `{t['manifest_sha256']}`); {tested}."


def bundle_readme(meta: dict, outside_python: list[str] = ()) -> str:
    """outside_python: the lines of its section on the app runtimes' consumers (pipeline/targets/app.py)."""
    f = meta["features"]
    n_samples = round(f["sample_rate"] * f["clip_seconds"])
    e2e = is_e2e(meta["model"])
    lines = [
        f"# {meta['variant']}", "",
        f"{meta['model']} classifier, {meta['format'].upper()}, quantization `{meta['quantization']}`: "
        f"{meta['quantization_description']}.",
        f"Run it with {FORMATS[meta['format']].runs_with}. File: `{meta['file']}` ({meta['size_bytes']:,} bytes, "
        f"SHA-256 `{meta['sha256']}`).", "",
        "## Input", "", _tensor(meta["input"]), "",
    ]
    if e2e:
        lines += [f"Feed exactly {n_samples} mono float32 samples in [-1, 1] at {f['sample_rate']} Hz "
                  f"({f['clip_seconds']} s). Resample and crop/pad before calling; the MFCC front end is inside "
                  "the graph, so nothing else has to be computed in the app.", ""]
    else:
        lines += ["The input is the MFCC matrix of one clip, computed exactly like training (librosa):", "",
                  f"- {n_samples} mono float samples at {f['sample_rate']} Hz",
                  f"- STFT n_fft={f['n_fft']}, hop_length={f['hop_length']}, periodic Hann window, "
                  f"center=True with zero padding",
                  f"- power spectrogram (power 2) -> Slaney mel filter bank, n_mels={f['n_mels']}, "
                  f"fmin={f['fmin']}, fmax={f['fmax']}",
                  f"- 10·log10(max(S, 1e-10)), floor at (max − {f['top_db']}) dB per clip",
                  f"- DCT-II (orthonormal), first n_mfcc={f['n_mfcc']} coefficients -> ({f['n_mfcc']}, frames)",
                  "", f"Porting this is error-prone: prefer the `{meta['model']}_e2e` bundle, which takes raw audio.", ""]
    lines += ["## Output", "", _tensor(meta["output"]), "",
              "Class index -> label: " + ", ".join(f"{i} = {lab}" for i, lab in enumerate(meta["labels"])) + ".",
              "The predicted class is the argmax (it works directly on quantized outputs).", ""]
    if e2e:
        lines += [f"A second output `mfcc` returns the in-graph features for checking; apps can ignore it.", ""]
    if (u := meta.get("uncertainty")) and u["clips_below"]:
        lines += [f"Treat an answer whose top probability is below {u['uncertain_below']:g} as uncertain: this file "
                  f"was right on {u['accuracy_below']:.0%} of the {u['clips_below']} validation clips below it "
                  f"(of {u['validation_clips']}). `classify` and `serve` mark such windows.", ""]
    elif u:
        lines += [f"Its least confident validation clips were mostly right (of {u['validation_clips']}): "
                  "`classify` and `serve` mark no window as uncertain.", ""]
    lines += list(outside_python)
    lines += ["## Trained on", "", _trained_on(meta.get("training_data")), ""]
    lines += ["`" + meta["variant"] + ".json` beside this file holds the same facts for programs."]
    return "\n".join(lines) + "\n"
