// The ONNX consumer an app copies: decode the clip, quantize the input and dequantize the output with the sidecar's
// scale and zero point, run the bundle with onnxruntime's JavaScript API. The same file runs in Node.js
// (onnxruntime-node: consume_onnx.js) and in a browser page (onnxruntime-web: consume_onnx_web.js).
//
//   ... MODEL INPUT_SHAPE SAMPLE_RATE OUTPUT_NAME IN_SCALE IN_ZERO_POINT OUT_SCALE OUT_ZERO_POINT WARMUP THREADS FILE...
//
// INPUT_SHAPE (as 1,16000), SAMPLE_RATE, OUTPUT_NAME, the scales and zero points come from the bundle's sidecar (a
// scale of 0: the tensor is float). Each FILE is a 16-bit PCM mono WAV at SAMPLE_RATE (scaled by 1/32768 to [-1, 1],
// refused with the reason when it is not that, or shorter than its header says) for an end-to-end model,
// or raw little-endian float32 MFCCs (.f32) for a feature-input one. Output: `version V`, `load_us N`, then per
// FILE one line `latency_us p0 p1 ...`.
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.OnnxConsumer = factory();
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  function parseArgs(argv) {
    const [model, shape, rate, outputName, inScale, inZp, outScale, outZp, warmup, threads, ...files] = argv;
    if (!files.length) throw new Error('usage: MODEL INPUT_SHAPE SAMPLE_RATE OUTPUT_NAME IN_SCALE IN_ZP OUT_SCALE OUT_ZP WARMUP THREADS FILE...');
    return { model, shape: shape.split(',').map(Number), rate: Number(rate), outputName, inScale: Number(inScale), inZp: Number(inZp),
             outScale: Number(outScale), outZp: Number(outZp), warmup: Number(warmup), threads: Number(threads), files };
  }

  // Samples of a 16-bit PCM mono WAV as floats in [-1, 1]: the RIFF chunks walked, `fmt ` checked (and its rate,
  // when `rate` is given); zero-padded to n (undefined: every sample).
  function decodeWav(bytes, n, name, rate) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const tag = (at) => String.fromCharCode(...bytes.subarray(at, at + 4));
    if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error(`not a RIFF/WAVE file: ${name}`);
    let pcm16 = false;
    for (let at = 12; at + 8 <= bytes.length;) {
      const id = tag(at), size = v.getUint32(at + 4, true), body = at + 8;
      if (id === 'fmt ') {
        if (size < 16 || body + 16 > bytes.length) throw new Error(`short fmt chunk: ${name}`);
        pcm16 = v.getUint16(body, true) === 1 && v.getUint16(body + 2, true) === 1 && v.getUint16(body + 14, true) === 16;
        const got = v.getUint32(body + 4, true);
        if (rate && got !== rate) throw new Error(`${name} is sampled at ${got} Hz; the model takes ${rate} Hz (resample it first)`);
      } else if (id === 'data') {
        if (!pcm16) throw new Error(`not 16-bit PCM mono: ${name}`);
        if (body + size > bytes.length) {
          throw new Error(`truncated WAV: ${name} declares ${size} bytes of samples and holds ${bytes.length - body}`);
        }
        const x = new Float32Array(n === undefined ? Math.floor(size / 2) : n);
        for (let i = 0; i < Math.min(x.length, size / 2); i++) x[i] = v.getInt16(body + 2 * i, true) / 32768;
        return x;
      }
      at = body + size + (size & 1);
    }
    throw new Error(`no data chunk: ${name}`);
  }

  function readF32(bytes, n, name) {
    if (bytes.byteLength !== 4 * n) throw new Error(`wrong number of float32 values in ${name}: ${bytes.byteLength / 4}, expected ${n}`);
    // copied out: a Node.js Buffer may be a view into a larger shared pool
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  function inputTensor(ort, x, shape, scale, zeroPoint) {
    if (!(scale > 0)) return new ort.Tensor('float32', x, shape);
    const q = Int8Array.from(x, (v) => Math.max(-128, Math.min(127, Math.round(v / scale) + zeroPoint)));
    return new ort.Tensor('int8', q, shape);
  }

  // The whole run: load (timed), then one timed call per file after `warmup` untimed calls on the first.
  async function consume(ort, model, a, readFile, sessionOptions) {
    const n = a.shape.reduce((p, d) => p * d, 1);
    const t0 = performance.now();
    let session;
    try {
      session = await ort.InferenceSession.create(model, sessionOptions);
    } catch (err) {
      throw new Error(`the runtime cannot load ${a.model}: ${err.message || err}`);
    }
    const lines = [`load_us ${((performance.now() - t0) * 1e3).toFixed(1)}`];
    if (!session.outputNames.includes(a.outputName)) throw new Error(`no output named ${a.outputName}; outputs: ${session.outputNames}`);
    const input = session.inputNames[0];
    for (const [k, file] of a.files.entries()) {
      const bytes = await readFile(file);
      const x = file.endsWith('.wav') ? decodeWav(bytes, n, file, a.rate) : readF32(bytes, n, file);
      const feeds = { [input]: inputTensor(ort, x, a.shape, a.inScale, a.inZp) };
      for (let w = 0; w < (k === 0 ? a.warmup : 0); w++) await session.run(feeds, [a.outputName]);
      const start = performance.now();
      const out = (await session.run(feeds, [a.outputName]))[a.outputName];
      const us = (performance.now() - start) * 1e3;
      const p = Array.from(out.data, (v) => (a.outScale > 0 ? a.outScale * (Number(v) - a.outZp) : Number(v)));
      lines.push(`${us.toFixed(1)} ${p.map((v) => v.toPrecision(9)).join(' ')}`);
    }
    return lines;
  }

  return { parseArgs, decodeWav, readF32, inputTensor, consume };
});
