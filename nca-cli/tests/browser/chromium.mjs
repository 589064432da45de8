// What the browser tests share: Debian's Chromium launched headless without the network
// chatter this machine refuses, a way to fail with one line, and an exported page opened.
import { chromium } from "playwright-core";

const QUIET = ["--headless", "--no-sandbox", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
// SwiftShader (a CPU rasteriser) gives WebGL2 with float render targets without a GPU.
const WEBGL = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--allow-file-access-from-files"];

// Launches Chromium; with `webgl`, with a software GPU for WebGL2, otherwise without a GPU.
export async function launch({ webgl = false } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [...QUIET, ...(webgl ? WEBGL : ["--disable-gpu"])],
  });
}

// A function that prints `FAIL: message`, closes `browser` and exits with status 1.
export function failer(browser) {
  return async (message) => {
    console.error(`FAIL: ${message}`);
    await browser.close();
    process.exit(1);
  };
}

// Opens an exported page (`nca export --format html`) at `url` in `browser` and waits until it
// is ready, failing through `fail` if it reports an error. Returns the page and the list its
// page errors and console errors are collected in (check it at the end).
export async function openExportedPage(browser, fail, url) {
  const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => window.nca?.ready || window.nca?.error, null, { timeout: 120_000 });
  const error = await page.evaluate(() => window.nca.error);
  if (error) await fail(`the page reports: ${error}`);
  return { page, problems };
}
