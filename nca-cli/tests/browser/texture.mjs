// End-to-end test of a page `nca export --format html` writes with a growing model (model 0)
// and a texture model (model 1), in headless Chromium with WebGL2 on SwiftShader: dumps the
// states the Rust test compares with nca's own steps (at fire rate 1), and checks what the page
// shows and lets the user do with a texture. Usage: node texture.mjs FILE_URL DIR STEPS
//
// DIR holds start.json and edge.json (texture states, C x H x W numbers, channel-major) and
// receives: gecko.json (model 0, STEPS steps from its seed), seed.json (model 1's seed),
// from-seed.json (STEPS steps from it), texture.json (STEPS steps from start.json),
// edge-next.json (one step from edge.json) and erased.json (start.json, then a click in the
// middle), each {"steps", "channels", "grid", "state"}.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { failer, launch, openExportedPage } from "./chromium.mjs";

const [url, dir, stepsArg] = process.argv.slice(2);
const steps = Number(stepsArg);
if (!url || !dir || !(Number.isInteger(steps) && steps >= 0)) {
  console.error("usage: node texture.mjs FILE_URL DIR STEPS");
  process.exit(2);
}
const input = (file) => JSON.parse(readFileSync(join(dir, file), "utf8"));

const browser = await launch({ webgl: true });
const fail = failer(browser);

try {
  const { page, problems } = await openExportedPage(browser, fail, url);

  // Runs `count` steps at fire rate 1 on model `model` from its seed, or from `start` (a state),
  // and writes the state to DIR/`file`; returns what it wrote.
  const dumpState = async (file, { model, count, start = null }) => {
    const dump = await page.evaluate(({ model, count, start }) => {
      nca.pause();
      nca.reset(model);
      nca.setFireRate(1);
      if (start) nca.setState(start);
      nca.step(count);
      const state = nca.state();
      return { steps: nca.stepCount(), channels: state.length / nca.grid ** 2, grid: nca.grid, state: Array.from(state) };
    }, { model, count, start });
    writeFileSync(join(dir, file), JSON.stringify(dump));
    console.log(`${file}: model ${model}, ${count} steps`);
    return dump;
  };
  const plantHintShown = () => page.evaluate(() => !document.getElementById("plant-hint").hidden);
  const state = () => page.evaluate(() => Array.from(nca.state()));

  await dumpState("gecko.json", { model: 0, count: steps });
  if (!(await plantHintShown())) await fail("the growing model's page does not offer to plant a seed");
  await dumpState("seed.json", { model: 1, count: 0 });
  if (await plantHintShown()) await fail("the texture's page offers to plant a seed it has not");
  await dumpState("from-seed.json", { model: 1, count: steps });
  await dumpState("texture.json", { model: 1, count: steps, start: input("start.json") });
  await dumpState("edge-next.json", { model: 1, count: 1, start: input("edge.json") });

  // A click erases a disc to zeros, the texture's seed; shown as colour + 0.5, mid-grey.
  const started = await dumpState("erased.json", { model: 1, count: 0, start: input("start.json") });
  const canvas = page.locator("#grid");
  const box = await canvas.boundingBox();
  await canvas.click({ position: { x: box.width / 2, y: box.height / 2 } });
  const erased = await state();
  writeFileSync(join(dir, "erased.json"), JSON.stringify({ ...started, state: erased }));
  const centre = await page.evaluate(() => {
    const canvas = document.getElementById("grid");
    const copy = new OffscreenCanvas(canvas.width, canvas.height).getContext("2d");
    copy.drawImage(canvas, 0, 0); // the WebGL canvas keeps its drawing buffer
    return Array.from(copy.getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data.slice(0, 3));
  });
  console.log(`the erased centre shows as ${centre}`);
  if (!centre.every((value) => Math.abs(value - 127.5) <= 1.5)) await fail(`the erased centre shows as ${centre}, not mid-grey`);
  // A double-click plants nothing in a texture (its clicks erase the same disc again).
  await canvas.dblclick({ position: { x: box.width / 2, y: box.height / 2 } });
  const after = await state();
  if (after.some((value, index) => value !== erased[index])) await fail("a double-click changed the texture");

  // The texture runs on its own at its own fire rate, as a user sees it.
  await page.evaluate(() => { nca.reset(1); nca.play(); });
  await page.waitForFunction(() => nca.stepCount() >= 30, null, { timeout: 300_000 });
  const values = await state();
  if (!values.every(Number.isFinite)) await fail("the texture's state is not finite");
  if (!values.some((value) => value !== 0)) await fail("the texture never left its seed");
  await page.screenshot({ path: join(dir, "texture.png") });

  if (problems.length > 0) await fail(problems.join("; "));
  console.log("PASS");
} catch (error) {
  await fail(String(error?.stack ?? error));
}
await browser.close();
