// Screenshots of animated images as Debian's Firefox ESR paints them, for tests/browser.
//
// Usage: node firefox_shots.mjs JOB.json
// JOB.json: {"cases": [{"name", "url", "width", "height", "moments_ms": [...], "out_dir"}]}
// For each case: a page sized to the image (device scale factor 1), loaded; once the image has
// loaded, one screenshot of the image's box at each moment (ms after load), written as
// OUT_DIR/NAME-K.png. Prints one JSON line per screenshot: {"name", "index", "at_ms", "path"}.
//
// puppeteer-core speaks WebDriver BiDi to the Firefox it is given: no geckodriver, and it never
// downloads a browser.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { QUIET_PREFS } from "./firefox_prefs.mjs";

const FIREFOX = process.env.WINK_FIREFOX || "/usr/bin/firefox-esr";
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: FIREFOX,
  headless: true,
  extraPrefsFirefox: {
    ...QUIET_PREFS,
    // Loopback straight to the test's origin.
    "network.proxy.type": 0,
  },
});

try {
  for (const testCase of job.cases) {
    const page = await browser.newPage();
    try {
      await page.setViewport({ width: testCase.width, height: testCase.height, deviceScaleFactor: 1 });
      await page.goto(testCase.url, { waitUntil: "load", timeout: 60_000 });
      await page.waitForFunction(
        () => {
          const image = document.getElementById("animation");
          return image && image.complete && image.naturalWidth > 0;
        },
        { timeout: 30_000 },
      );
      const loaded = Date.now();
      for (const [index, moment] of testCase.moments_ms.entries()) {
        const wait = loaded + moment - Date.now();
        if (wait > 0) await sleep(wait);
        const at = Date.now() - loaded;
        const path = join(testCase.out_dir, `${testCase.name}-${index}.png`);
        await page.screenshot({
          path,
          clip: { x: 0, y: 0, width: testCase.width, height: testCase.height },
        });
        console.log(JSON.stringify({ name: testCase.name, index, at_ms: at, path }));
      }
    } finally {
      await page.close();
    }
  }
} finally {
  await browser.close();
}
