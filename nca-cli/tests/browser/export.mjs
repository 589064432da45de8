// End-to-end test of the page `nca export --format html` writes, in headless Chromium with WebGL2
// on SwiftShader: dumps the state after fixed steps (for the Rust test to compare with nca's own
// rollout), then checks that the pattern grows, a click erases a disc and the regenerating model
// heals it. Usage: node export.mjs FILE_URL OUT_DIR [STEPS]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { failer, launch, openExportedPage } from "./chromium.mjs";

const [url, outDir, stepsArg = "48"] = process.argv.slice(2);
const steps = Number(stepsArg);
if (!url || !outDir || !(Number.isInteger(steps) && steps >= 0)) {
  console.error("usage: node export.mjs FILE_URL OUT_DIR [STEPS]");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const browser = await launch({ webgl: true });
const fail = failer(browser);

try {
  const { page, problems } = await openExportedPage(browser, fail, url);

  // The state after `count` steps at `fireRate` from the seed (or, with `fromSeed` false, from
  // where the last dump left off), written to OUT_DIR/`file`.
  const dumpState = async (file, fireRate, count, fromSeed = true) => {
    const started = Date.now();
    const dump = await page.evaluate(({ fireRate, count, fromSeed }) => {
      nca.pause();
      if (fromSeed) nca.reset(0);
      nca.setFireRate(fireRate);
      nca.step(count);
      const state = nca.state();
      return { steps: nca.stepCount(), channels: state.length / nca.grid ** 2, grid: nca.grid, state: Array.from(state) };
    }, { fireRate, count, fromSeed });
    writeFileSync(join(outDir, file), JSON.stringify(dump));
    console.log(`${file}: ${dump.steps} steps at fire rate ${fireRate} in ${Date.now() - started} ms`);
  };
  await dumpState("state.json", 1, steps);
  await dumpState("state-fire-0.5.json", 0.5, 96);
  // One step more: only the cells that fire (about half) change.
  await dumpState("state-fire-0.5-next.json", 0.5, 1, false);

  // Share of non-white pixels in the whole canvas, or in a square around the centre.
  const inked = (centre) => page.evaluate((centre) => {
    const canvas = document.getElementById("grid");
    const { width, height } = canvas;
    const side = centre ? Math.round(width * 0.06) : width;
    const left = Math.round((width - side) / 2);
    const top = Math.round((height - side) / 2);
    const copy = new OffscreenCanvas(width, height).getContext("2d");
    copy.drawImage(canvas, 0, 0); // the WebGL canvas keeps its drawing buffer
    const data = copy.getImageData(left, top, side, side).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235) count += 1;
    }
    return count / (side * side);
  }, centre);
  const stepCount = () => page.evaluate(() => Number(document.getElementById("grid").dataset.step ?? -1));
  const waitForStep = async (target, what) => {
    const deadline = Date.now() + 600_000; // SwiftShader runs a step in tens of milliseconds
    while ((await stepCount()) < target) {
      if (Date.now() > deadline) await fail(`${what}: step ${await stepCount()} never reached ${target}`);
      await page.waitForTimeout(100);
    }
  };

  const canvas = page.locator("#grid");
  await page.evaluate(() => { nca.reset(0); nca.play(); });
  await page.locator("#speed").fill("3"); // 8 steps per frame
  const started = Date.now();
  await waitForStep(150, "growth");
  const grown = await inked(false);
  const grownAt = await stepCount();
  console.log(`grew for ${grownAt} steps in ${Date.now() - started} ms; non-white share ${grown.toFixed(4)}`);
  // The seed alone inks 1 cell (0.02% of the canvas), the grown gecko about 10%.
  if (!(grown > 0.03)) await fail("the pattern did not grow");
  await page.screenshot({ path: join(outDir, "grown.png") });

  await page.evaluate(() => nca.pause()); // so the cut stays to be seen
  const before = await inked(true);
  const box = await canvas.boundingBox();
  await canvas.click({ position: { x: box.width / 2, y: box.height / 2 } });
  const cut = await inked(true);
  console.log(`centre non-white share: ${before.toFixed(3)} before the cut, ${cut.toFixed(3)} after`);
  if (!(before > 0.5 && cut < 0.1)) await fail("the click did not erase the centre");

  const cutAt = await stepCount();
  await page.evaluate(() => nca.play());
  await waitForStep(cutAt + 400, "healing");
  const healed = await inked(true);
  console.log(`centre non-white share after ${(await stepCount()) - cutAt} steps of healing: ${healed.toFixed(3)}`);
  if (!(healed > 0.5)) await fail("the pattern did not heal");
  await page.screenshot({ path: join(outDir, "healed.png") });

  if (problems.length > 0) await fail(problems.join("; "));
  console.log("PASS");
} catch (error) {
  await fail(String(error?.stack ?? error));
}
await browser.close();
