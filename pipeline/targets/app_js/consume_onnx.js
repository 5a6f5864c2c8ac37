// A bundle's .onnx run the way a Node.js app runs it, on onnxruntime-node: no Python anywhere.
//   node consume_onnx.js MODEL INPUT_SHAPE SAMPLE_RATE OUTPUT_NAME IN_SCALE IN_ZP OUT_SCALE OUT_ZP WARMUP THREADS FILE...
// (the arguments and the output: onnx_consumer.js)
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');
const { parseArgs, consume } = require('./onnx_consumer.js');

async function main() {
  const a = parseArgs(process.argv.slice(2));
  console.log(`version ${require('onnxruntime-node/package.json').version}`);
  const options = { intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
                    executionProviders: ['cpu'] };
  for (const line of await consume(ort, a.model, a, async (f) => fs.readFileSync(f), options)) console.log(line);
}

main().catch((err) => {
  process.stderr.write(`consume_onnx: ${err.message || err}\n`);
  process.exit(1);
});
