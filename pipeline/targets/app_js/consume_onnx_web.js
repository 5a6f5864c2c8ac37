// A bundle's .onnx run the way a web app runs it: onnxruntime-web (WebAssembly) in a page of headless Chromium,
// driven by playwright-core. The page gets the model, the clips, onnxruntime-web and onnx_consumer.js over
// http://localhost:9/ (served from disk by the driver, cross-origin isolated for fine timers); nothing leaves
// the machine.
//   node consume_onnx_web.js MODEL INPUT_SHAPE SAMPLE_RATE OUTPUT_NAME IN_SCALE IN_ZP OUT_SCALE OUT_ZP WARMUP THREADS FILE...
// (the arguments and the output: onnx_consumer.js)
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');
const { parseArgs } = require('./onnx_consumer.js');

const ORIGIN = 'http://localhost:9';  // a secure context (localhost), served by the route below: no socket
// the package's folder, found as `require` finds packages (its `exports` hide package.json and dist/)
const ORT_WEB = require.resolve.paths('onnxruntime-web').map((d) => path.join(d, 'onnxruntime-web'))
  .find((d) => fs.existsSync(path.join(d, 'package.json')));
const ORT_DIST = path.join(ORT_WEB, 'dist');
const PAGE = '<!DOCTYPE html><meta charset="utf-8"><script src="/ort/ort.wasm.min.js"></script>'
  + '<script src="/onnx_consumer.js"></script>';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
// the machine's closed network: no background connections, no first-run work
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'];
const launchOptions = (extra = []) => ({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                         args: [...FLAGS, ...extra] });

async function main() {
  const a = parseArgs(process.argv.slice(2));
  console.log(`version ${JSON.parse(fs.readFileSync(path.join(ORT_WEB, 'package.json'))).version}`);
  const served = { '/model.onnx': a.model, '/onnx_consumer.js': path.join(__dirname, 'onnx_consumer.js') };
  // each clip under its own name, so that the page's errors name the file
  const clips = a.files.map((f, i) => {
    const url = `/clips/${i}/${encodeURIComponent(path.basename(f))}`;
    served[url] = f;
    return url;
  });
  const browser = await chromium.launch(launchOptions());
  try {
    const page = await browser.newPage();
    await page.route(`${ORIGIN}/**`, (route) => {
      const p = new URL(route.request().url()).pathname;
      const file = p === '/' ? null : p.startsWith('/ort/') ? path.join(ORT_DIST, path.basename(p)) : served[p];
      const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
                        'Content-Type': TYPES[path.extname(p)] || 'application/octet-stream' };
      if (p === '/') return route.fulfill({ status: 200, headers: { ...headers, 'Content-Type': 'text/html' }, body: PAGE });
      if (!file || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
      return route.fulfill({ status: 200, headers, body: fs.readFileSync(file) });
    });
    await page.goto(`${ORIGIN}/`);
    const lines = await page.evaluate(async (args) => {
      ort.env.wasm.wasmPaths = '/ort/';
      ort.env.wasm.numThreads = args.threads;
      const fetchBytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
      return OnnxConsumer.consume(ort, await fetchBytes('/model.onnx'), args, fetchBytes, { executionProviders: ['wasm'] });
    }, { ...a, files: clips });
    for (const line of lines) console.log(line);
  } finally {
    await browser.close();
  }
}

module.exports = { launchOptions };
if (require.main === module) {
  main().catch((err) => {
    const said = (err.message || String(err)).split('\n')[0].replace(/^page\.evaluate: (Error: )?/, '');
    process.stderr.write(`consume_onnx_web: ${said}\n`);
    process.exit(1);
  });
}
