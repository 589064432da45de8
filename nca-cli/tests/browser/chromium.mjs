// What the browser tests share: Debian's Chromium launched headless without the network
// chatter this machine refuses, and a way to fail with one line.
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
