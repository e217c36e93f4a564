// Debian's Firefox ESR driven step by step, for tests that act as a person would (the extension's
// end-to-end test): one JSON command per line on stdin, one JSON answer per line on stdout.
//
// Usage: node firefox_driver.mjs JOB.json
// JOB.json: {"profile": DIR, "prefs": {...}}: the profile folder (its cert9.db already trusting the
// test's CAs) and preferences added to the test's quiet defaults.
// Commands ({"do": NAME, ...}; "tab" names a tab, opened on first use):
//   install {path} -> {id}          a temporary add-on, as about:debugging loads one (webExtension.install)
//   goto {tab, url}                 load, wait for "load"
//   open {tab, url, selector}       an extension page, until `selector` matches in it
//   reload {tab}, front {tab}, close {tab}
//   wait {tab, selector}            until it matches
//   click {tab, selector}, fill {tab, selector, value}
//   attr {tab, selector, name} -> {value}; text {tab, selector} -> {value}
//   eval {tab, js} -> {value}       js: the body of an async function, its return value JSON-able
//   shot {tab, selector, path}      a PNG of the element's box
//   quit
// Every answer is {"ok": true, ...} or {"ok": false, "error": ...}.
//
// puppeteer-core speaks WebDriver BiDi to the Firefox it is given: no geckodriver, and it never
// downloads a browser.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";
import { QUIET_PREFS } from "./firefox_prefs.mjs";

const FIREFOX = process.env.WINK_FIREFOX || "/usr/bin/firefox-esr";
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const TIMEOUT_MS = 30_000;
const OPEN_TRIES = 2;

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: FIREFOX,
  headless: true,
  userDataDir: job.profile,
  // Since Firefox 153 WebDriver may load extension pages (moz-extension://) only with this flag.
  args: ["--remote-allow-system-access"],
  extraPrefsFirefox: {
    ...QUIET_PREFS,
    ...job.prefs,
  },
});

const tabs = new Map();
async function tab(name) {
  if (!tabs.has(name)) {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 1200, deviceScaleFactor: 1 });
    tabs.set(name, page);
  }
  return tabs.get(name);
}

const commands = {
  install: async ({ path }) => ({ id: await browser.installExtension(path) }),
  goto: async ({ tab: name, url }) => {
    await (await tab(name)).goto(url, { waitUntil: "load", timeout: 90_000 });
  },
  // An extension page: Firefox switches the tab to the extension's process, and the load event of
  // that navigation never reaches puppeteer; so the new document is told apart from the old one by
  // a mark the old one carries, and waited for by a selector of the caller's.
  // A navigation to an extension just installed can be dropped while Firefox registers it: then the
  // old document stays, and the navigation is made again, up to OPEN_TRIES times in all.
  open: async ({ tab: name, url, selector }) => {
    const page = await tab(name);
    let failure;
    for (let attempt = 0; attempt < OPEN_TRIES; attempt++) {
      try {
        await page.evaluate(() => {
          document.documentElement.dataset.winkStale = "1";
        });
        page.goto(url, { timeout: 90_000 }).catch(() => {});
        await page.waitForSelector(`html:not([data-wink-stale]) ${selector}`, { timeout: TIMEOUT_MS });
        return;
      } catch (error) {
        failure = error;
      }
    }
    throw failure;
  },
  reload: async ({ tab: name }) => {
    await (await tab(name)).reload({ waitUntil: "load", timeout: 90_000 });
  },
  front: async ({ tab: name }) => {
    await (await tab(name)).bringToFront();
  },
  close: async ({ tab: name }) => {
    await (await tab(name)).close();
    tabs.delete(name);
  },
  wait: async ({ tab: name, selector }) => {
    await (await tab(name)).waitForSelector(selector, { timeout: TIMEOUT_MS });
  },
  click: async ({ tab: name, selector }) => {
    await (await tab(name)).click(selector);
  },
  fill: async ({ tab: name, selector, value }) => {
    const page = await tab(name);
    await page.$eval(selector, (input) => {
      input.value = "";
    });
    await page.type(selector, value);
  },
  attr: async ({ tab: name, selector, name: attribute }) => ({
    value: await (await tab(name)).$eval(selector, (element, key) => element.getAttribute(key), attribute),
  }),
  text: async ({ tab: name, selector }) => ({
    value: await (await tab(name)).$eval(selector, (element) => element.innerText),
  }),
  eval: async ({ tab: name, js }) => ({
    value: await (await tab(name)).evaluate(`(async () => { ${js} })()`),
  }),
  shot: async ({ tab: name, selector, path }) => {
    const page = await tab(name);
    const element = await page.waitForSelector(selector, { timeout: TIMEOUT_MS });
    await element.screenshot({ path, scrollIntoView: true });
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const command = JSON.parse(line);
  if (command.do === "quit") break;
  let answer;
  try {
    answer = { ok: true, ...((await commands[command.do](command)) ?? {}) };
  } catch (error) {
    answer = { ok: false, error: String(error?.stack ?? error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
await browser.close();
