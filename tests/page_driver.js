// Drives the bundle page (pipeline/runtime/page.html) in headless Chromium, as a person would: pick a WAV, then
// record from a fake microphone fed from the same WAV (Chromium loops it), and keep a screenshot.
//   node page_driver.js URL WAV SCREENSHOT
// Prints JSON: for the file and for the microphone, the state, the labels shown (server, browser) and the status.
'use strict';
const { chromium } = require('playwright-core');
const { launchOptions } = require('../pipeline/targets/app_js/consume_onnx_web.js');  // Chromium and its flags

const FAKE_MIC = ['--autoplay-policy=no-user-gesture-required', '--use-fake-ui-for-media-stream',
                  '--use-fake-device-for-media-stream'];
const SETTLED = () => ['done', 'error'].includes(document.body.dataset.state);

async function main() {
  const [url, wav, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch(launchOptions([...FAKE_MIC, `--use-file-for-fake-audio-capture=${wav}`]));
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(url);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state), null, { timeout: 60000 });
    const read = () => page.evaluate(() => ({
      state: document.body.dataset.state, status: document.getElementById('status').textContent,
      server: document.getElementById('server-label').textContent,
      browser: document.getElementById('browser-label').textContent,
      browserTime: document.getElementById('browser-time').textContent,
      segments: document.querySelectorAll('#timeline tbody tr').length,
    }));
    await page.setInputFiles('#file', wav);
    await page.waitForFunction(SETTLED, null, { timeout: 60000 });
    const file = await read();
    await page.click('#record');
    await page.waitForFunction(
      () => document.getElementById('status').textContent.startsWith('microphone:')
        && ['done', 'error'].includes(document.body.dataset.state), null, { timeout: 60000 });
    const microphone = await read();
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ file, microphone, errors }));
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(`page_driver: ${err.stack || err}\n`);
  process.exit(1);
});
