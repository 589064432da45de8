// End-to-end test of a page `nca export --format html` writes with a goal model (model 0, two
// goals) and a model without goals (model 1), in headless Chromium with WebGL2 on SwiftShader:
// dumps the states the Rust test compares with nca's own steps towards each goal (at fire rate
// 1), and checks the goal menu: the goal model's goals, shown only for it; a goal chosen keeps the
// state; another model starts at goal 0. Usage: node goals.mjs FILE_URL DIR STEPS
//
// DIR receives goal-0.json and goal-1.json (STEPS steps from the seed towards goal 0, goal 1)
// and switch.json (STEPS/2 steps towards goal 0, then STEPS/2 towards goal 1, the goal switched
// mid-run), each {"steps", "channels", "grid", "goal", "state"}.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { failer, launch, openExportedPage } from "./chromium.mjs";

const [url, dir, stepsArg] = process.argv.slice(2);
const steps = Number(stepsArg);
if (!url || !dir || !(Number.isInteger(steps) && steps >= 2 && steps % 2 === 0)) {
  console.error("usage: node goals.mjs FILE_URL DIR STEPS (even)");
  process.exit(2);
}

const browser = await launch({ webgl: true });
const fail = failer(browser);

try {
  const { page, problems } = await openExportedPage(browser, fail, url);

  // The goal menu as the user sees it.
  const menu = () => page.evaluate(() => ({
    shown: !document.getElementById("goal-control").hidden,
    options: Array.from(document.getElementById("goal").options, (option) => option.text),
    value: document.getElementById("goal").value,
  }));
  const opened = await menu();
  console.log(`the goal menu: ${JSON.stringify(opened)}`);
  if (!opened.shown) await fail("the goal model's page hides the goal menu");
  if (opened.options.length !== 2 || opened.value !== "0") await fail(`the goal menu offers ${JSON.stringify(opened)}`);

  // From model 0's seed at fire rate 1: each [goal, count] of `legs` in turn, the goal switched
  // between them without a reset; the state written to DIR/`file`.
  const dumpState = async (file, legs) => {
    const dump = await page.evaluate((legs) => {
      nca.pause();
      nca.reset(0);
      nca.setFireRate(1);
      for (const [goal, count] of legs) {
        nca.setGoal(goal);
        nca.step(count);
      }
      const state = nca.state();
      return {
        steps: nca.stepCount(), channels: state.length / nca.grid ** 2, grid: nca.grid, goal: nca.goal(),
        state: Array.from(state),
      };
    }, legs);
    writeFileSync(join(dir, file), JSON.stringify(dump));
    console.log(`${file}: ${JSON.stringify(legs)} (goal, steps)`);
    return dump;
  };
  await dumpState("goal-1.json", [[1, steps]]);
  await dumpState("goal-0.json", [[0, steps]]);
  const switched = await dumpState("switch.json", [[0, steps / 2], [1, steps / 2]]);
  if (switched.steps !== steps) await fail(`switching the goal reset the run: ${switched.steps} steps`);

  // The menu switches the goal and keeps the state and the step count.
  const before = await page.evaluate(() => ({ steps: nca.stepCount(), state: Array.from(nca.state()) }));
  await page.selectOption("#goal", "0");
  const after = await page.evaluate(() => ({ steps: nca.stepCount(), state: Array.from(nca.state()), goal: nca.goal() }));
  if (after.goal !== 0) await fail(`the menu chose goal ${after.goal}, not 0`);
  if (after.steps !== before.steps || after.state.some((value, index) => value !== before.state[index])) {
    await fail("choosing a goal in the menu changed the state");
  }
  await page.selectOption("#goal", "1");
  // Reset keeps the goal chosen; another model hides the menu; back, the goal model starts at 0.
  await page.click("#reset");
  if ((await page.evaluate(() => nca.goal())) !== 1) await fail("reset forgot the goal chosen");
  await page.selectOption("#model", "1");
  if ((await menu()).shown) await fail("a model without goals shows the goal menu");
  await page.selectOption("#model", "0");
  const back = await menu();
  if (!back.shown || back.value !== "0" || (await page.evaluate(() => nca.goal())) !== 0) {
    await fail(`back on the goal model, the menu is ${JSON.stringify(back)}`);
  }

  if (problems.length > 0) await fail(problems.join("; "));
  console.log("PASS");
} catch (error) {
  await fail(String(error?.stack ?? error));
}
await browser.close();
