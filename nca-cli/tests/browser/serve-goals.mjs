// `nca serve`'s goal menu in headless Chromium, served a goal model (model 0, goals 🦎 and 🦋)
// and a model without goals (model 1): the menu lists the goals and shows only for the goal
// model; a goal picked is taken (no refusal, the steps go on: no reset). Usage: node
// serve-goals.mjs URL
import { failer, launch } from "./chromium.mjs";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node serve-goals.mjs URL");
  process.exit(2);
}

const browser = await launch();
const fail = failer(browser);

try {
  const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
  await page.goto(url);
  const step = () => page.evaluate(() => Number(document.getElementById("grid").dataset.step ?? -1));
  // Polls `condition` until it holds; fails with `what` after 30 s.
  const waitFor = async (condition, what) => {
    const deadline = Date.now() + 30_000;
    while (!(await condition())) {
      if (Date.now() > deadline) await fail(what);
      await page.waitForTimeout(50);
    }
  };
  const goalControl = page.locator("#goal-control");
  const goals = () => page.locator("#goal option").allTextContents();

  await waitFor(async () => (await goals()).length === 2, "the goal menu was never filled");
  const names = await goals();
  if (names.join(" ") !== "🦎 🦋") await fail(`goals ${JSON.stringify(names)}`);
  if (!(await goalControl.isVisible())) await fail("the goal menu is hidden for a goal model");

  await waitFor(async () => (await step()) >= 5, "no frames");
  await page.locator("#goal").selectOption("1");
  const switchedAt = await step();
  await waitFor(async () => (await step()) >= switchedAt + 5, "the steps stopped after the goal changed");
  if (!((await step()) > switchedAt)) await fail("the goal reset the steps");
  const status = await page.locator("#status").textContent();
  if (status.includes("refused")) await fail(`the goal was refused: ${status}`);

  await page.locator("#model").selectOption("1");
  await waitFor(async () => !(await goalControl.isVisible()), "the goal menu stays for a model without goals");
  console.log(`goals ${names.join(", ")}; the menu hides for a model without goals`);
  console.log("PASS");
} catch (error) {
  await fail(String(error?.stack ?? error));
}
await browser.close();
