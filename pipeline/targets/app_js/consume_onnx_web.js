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
const VERSION = JSON.parse(fs.readFileSync(path.join(ORT_WEB, 'package.json'))).version;
const PAGE = '<!DOCTYPE html><meta charset="utf-8"><script src="/ort/ort.wasm.min.js"></script>'
  + '<script src="/onnx_consumer.js"></script>';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
// the machine's closed network: no background connections, no first-run work
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'];
const launchOptions = (extra = []) => ({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                         args: [...FLAGS, ...extra] });

// One bundle run in a fresh page of `browser` (so its load time includes onnxruntime-web's WebAssembly compile,
// as a page's first visit does): the output lines.
async function consumeInBrowser(browser, a) {
  // the clips travel as one body (a routed request costs milliseconds): each file's bytes at its range
  const bodies = a.files.map((f) => fs.readFileSync(f));
  const ranges = {};
  bodies.reduce((at, b, i) => { ranges[a.files[i]] = [at, b.length]; return at + b.length; }, 0);
  const served = { '/model.onnx': fs.readFileSync(a.model), '/clips.bin': Buffer.concat(bodies),
                   '/onnx_consumer.js': fs.readFileSync(path.join(__dirname, 'onnx_consumer.js')) };
  const page = await browser.newPage();
  try {
    await page.route(`${ORIGIN}/**`, (route) => {
      const p = new URL(route.request().url()).pathname;
      const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
                        'Content-Type': TYPES[path.extname(p)] || 'application/octet-stream' };
      if (p === '/') return route.fulfill({ status: 200, headers: { ...headers, 'Content-Type': 'text/html' }, body: PAGE });
      const body = p.startsWith('/ort/') ? fs.readFileSync(path.join(ORT_DIST, path.basename(p))) : served[p];
      return body ? route.fulfill({ status: 200, headers, body }) : route.fulfill({ status: 404, body: 'not found' });
    });
    await page.goto(`${ORIGIN}/`);
    const lines = await page.evaluate(async (args) => {
      ort.env.wasm.wasmPaths = '/ort/';
      ort.env.wasm.numThreads = args.threads;
      const fetchBytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
      const clips = await fetchBytes('/clips.bin');
      const readFile = async (f) => clips.subarray(args.ranges[f][0], args.ranges[f][0] + args.ranges[f][1]);
      return OnnxConsumer.consume(ort, await fetchBytes('/model.onnx'), args, readFile, { executionProviders: ['wasm'] });
    }, { ...a, ranges });
    return [`version ${VERSION}`, ...lines];
  } catch (err) {
    throw new Error((err.message || String(err)).split('\n')[0].replace(/^page\.evaluate: (Error: )?/, ''));
  } finally {
    await page.close();
  }
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const browser = await chromium.launch(launchOptions());
  try {
    for (const line of await consumeInBrowser(browser, a)) console.log(line);
  } finally {
    await browser.close();
  }
}

module.exports = { launchOptions, consumeInBrowser };
if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`consume_onnx_web: ${err.message || err}\n`);
    process.exit(1);
  });
}
