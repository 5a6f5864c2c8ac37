// A bundle's .onnx run the way a Node app runs it, on onnxruntime-node: no Python anywhere.
//
//   node consume_onnx.js MODEL INPUT_SHAPE OUTPUT_NAME IN_SCALE IN_ZERO_POINT OUT_SCALE OUT_ZERO_POINT WARMUP THREADS FILE...
//
// INPUT_SHAPE (as 1,16000), OUTPUT_NAME, the scales and zero points come from the bundle's sidecar (a scale of 0:
// the tensor is float). Each FILE is a 16-bit PCM mono WAV (decoded here, scaled by 1/32768 to [-1, 1]) for an
// end-to-end model, or raw little-endian float32 MFCCs (.f32) for a feature-input one; a quantized input is
// quantized here, a quantized output dequantized here. Prints `version V`, `load_us N`, then per FILE one line:
// `latency_us p0 p1 ...`.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function fail(message) {
  process.stderr.write(`consume_onnx: ${message}\n`);
  process.exit(1);
}

// Samples of a 16-bit PCM mono WAV as floats in [-1, 1]: the RIFF chunks walked, `fmt ` checked; zero-padded to n.
function readWav(path, n) {
  const b = fs.readFileSync(path);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') fail(`not a RIFF/WAVE file: ${path}`);
  let pcm16 = false;
  for (let at = 12; at + 8 <= b.length;) {
    const id = b.toString('ascii', at, at + 4), size = b.readUInt32LE(at + 4), body = at + 8;
    if (id === 'fmt ') {
      pcm16 = b.readUInt16LE(body) === 1 && b.readUInt16LE(body + 2) === 1 && b.readUInt16LE(body + 14) === 16;
    } else if (id === 'data') {
      if (!pcm16) fail(`not 16-bit PCM mono: ${path}`);
      const x = new Float32Array(n);
      for (let i = 0; i < Math.min(n, size / 2); i++) x[i] = b.readInt16LE(body + 2 * i) / 32768;
      return x;
    }
    at = body + size + (size & 1);
  }
  return fail(`no data chunk: ${path}`);
}

function readF32(path, n) {
  const b = fs.readFileSync(path);
  if (b.length !== 4 * n) fail(`wrong number of float32 values in ${path}: ${b.length / 4}, expected ${n}`);
  return new Float32Array(b.buffer, b.byteOffset, n).slice();
}

function inputTensor(x, shape, scale, zeroPoint) {
  if (!(scale > 0)) return new ort.Tensor('float32', x, shape);
  const q = Int8Array.from(x, (v) => Math.max(-128, Math.min(127, Math.round(v / scale) + zeroPoint)));
  return new ort.Tensor('int8', q, shape);
}

async function main() {
  const [model, shapeText, outputName, inScale, inZp, outScale, outZp, warmup, threads, ...files] = process.argv.slice(2);
  if (!files.length) fail('usage: MODEL INPUT_SHAPE OUTPUT_NAME IN_SCALE IN_ZP OUT_SCALE OUT_ZP WARMUP THREADS FILE...');
  const shape = shapeText.split(',').map(Number), n = shape.reduce((a, b) => a * b, 1);
  console.log(`version ${require('onnxruntime-node/package.json').version}`);
  const t0 = process.hrtime.bigint();
  let session;
  try {
    session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential', executionProviders: ['cpu'],
    });
  } catch (err) {
    fail(`the runtime cannot load ${model}: ${err.message}`);
  }
  console.log(`load_us ${(Number(process.hrtime.bigint() - t0) / 1e3).toFixed(1)}`);
  if (!session.outputNames.includes(outputName)) fail(`no output named ${outputName}; outputs: ${session.outputNames}`);
  const input = session.inputNames[0];
  for (const [k, file] of files.entries()) {
    const x = file.endsWith('.wav') ? readWav(file, n) : readF32(file, n);
    const feeds = { [input]: inputTensor(x, shape, Number(inScale), Number(inZp)) };
    for (let w = 0; w < (k === 0 ? Number(warmup) : 0); w++) await session.run(feeds, [outputName]);
    const start = process.hrtime.bigint();
    const out = (await session.run(feeds, [outputName]))[outputName];
    const us = Number(process.hrtime.bigint() - start) / 1e3;
    const s = Number(outScale), z = Number(outZp);
    const p = Array.from(out.data, (v) => (s > 0 ? s * (Number(v) - z) : Number(v)));
    console.log(`${us.toFixed(1)} ${p.map((v) => v.toPrecision(9)).join(' ')}`);
  }
}

main().catch((err) => fail(err.stack || String(err)));
