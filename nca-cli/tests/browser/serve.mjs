// End-to-end test of `nca serve` in headless Chromium: the pattern grows, a click erases a disc,
// the regenerating model heals it. Usage: node serve.mjs URL SCREENSHOT_DIR
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { failer, launch } from "./chromium.mjs";

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error("usage: node serve.mjs URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const browser = await launch();
const fail = failer(browser);

try {
  const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
  await page.goto(url);
  const canvas = page.locator("#grid");

  // Share of non-white pixels in the whole canvas, or in a square around the centre.
  const inked = (centre) => page.evaluate((centre) => {
    const canvas = document.getElementById("grid");
    const { width, height } = canvas;
    const side = centre ? Math.round(width * 0.06) : width;
    const left = Math.round((width - side) / 2);
    const top = Math.round((height - side) / 2);
    const data = canvas.getContext("2d").getImageData(left, top, side, side).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235) count += 1;
    }
    return count / (side * side);
  }, centre);
  const step = () => page.evaluate(() => Number(document.getElementById("grid").dataset.step ?? -1));
  // Polls `condition` until it holds; fails with `what` after `timeoutMs`.
  const waitFor = async (condition, what, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) await fail(`${what} (after ${timeoutMs} ms)`);
      await page.waitForTimeout(50);
    }
  };
  const waitForStep = (target, what) =>
    waitFor(async () => (await step()) >= target, `${what}: step ${target} never reached`, 300_000);
  const statusLine = () => page.locator("#status").textContent();

  await waitForStep(1, "first frame");
  if (await page.locator("#goal-control").isVisible()) await fail("the goal menu shows for a model without goals");
  const early = await inked(false);
  await page.locator("#speed").fill("3"); // 8 steps per frame
  await waitForStep(150, "growth");
  const grown = await inked(false);
  console.log(`non-white share: ${early.toFixed(4)} at the start, ${grown.toFixed(4)} after growing`);
  // The seed alone inks about 0.4% of the canvas, the grown 😀 about 4.5%.
  if (!(grown > 0.03)) await fail("the pattern did not grow");

  await page.locator("#play").click(); // pause, so the cut stays to be seen
  // Paused once the server says so (its status, every second) and no frame is still coming.
  await waitFor(async () => (await statusLine()).includes("paused"), "the page never paused");
  let settled = await step();
  let stillPolls = 0;
  await waitFor(async () => {
    const now = await step();
    stillPolls = now === settled ? stillPolls + 1 : 0;
    settled = now;
    return stillPolls >= 5;
  }, "the steps went on after the pause");
  const before = await inked(true);
  const box = await canvas.boundingBox();
  await canvas.click({ position: { x: box.width / 2, y: box.height / 2 } });
  let cut = before;
  await waitFor(async () => (cut = await inked(true)) < 0.1, "the click did not erase the centre");
  console.log(`centre non-white share: ${before.toFixed(3)} before the cut, ${cut.toFixed(3)} after`);
  if (!(before > 0.5 && cut < 0.1)) await fail("the click did not erase the centre");
  await page.screenshot({ path: join(outDir, "serve-cut.png") });

  const cutAt = await step();
  await page.locator("#play").click(); // play again
  await waitForStep(cutAt + 200, "healing");
  const healed = await inked(true);
  console.log(`centre non-white share after healing: ${healed.toFixed(3)}`);
  if (!(healed > 0.5)) await fail("the pattern did not heal");
  await page.screenshot({ path: join(outDir, "serve.png") });
  console.log("PASS");
} catch (error) {
  await fail(String(error?.stack ?? error));
}
await browser.close();
