// The measurement's driver for onnxruntime-web (pipeline/targets/app_run.py), not part of a bundle: many bundles
// in one headless Chromium, each through its own copy of consume_onnx_web.js in a fresh page (a new browser
// context: nothing cached between bundles), so that the browser starts once per level rather than per bundle.
//   node run_bundles_web.js JOBS.json    (JOBS.json: [{"id", "consumer", "args"}], args as consume_onnx_web.js takes)
// Output: one JSON line per job, {"id", "lines"} (consume_onnx_web.js's output) or {"id", "error"}.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');
const { launchOptions } = require('./consume_onnx_web.js');

async function main() {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2]));
  const browser = await chromium.launch(launchOptions());
  try {
    for (const job of jobs) {
      const consumer = require(path.resolve(job.consumer));
      const { parseArgs } = require(path.join(path.dirname(path.resolve(job.consumer)), 'onnx_consumer.js'));
      try {
        const lines = await consumer.consumeInBrowser(browser, parseArgs(job.args));
        console.log(JSON.stringify({ id: job.id, lines }));
      } catch (err) {
        console.log(JSON.stringify({ id: job.id, error: err.message || String(err) }));
      }
    }
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(`run_bundles_web: ${err.message || err}\n`);
  process.exit(1);
});
