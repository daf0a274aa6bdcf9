// What the browser scenarios share: Chromium through playwright-core, pages that
// join through the standalone panel, waiting for what another page shows, axe-core,
// screenshots, and talking to the Python test (tests/test_browser.py) on stdin/stdout.
//
// Environment: PANEL_DIR (for playwright-core and axe-core), CHROMIUM, ENVOY_URL,
// PANEL_FILES_URL, SESSION, TOKENS (JSON: name -> token), ARTIFACTS, WAIT_MS.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { join } from "node:path";

export const env = process.env;
const require = createRequire(join(env.PANEL_DIR, "package.json"));
const { chromium } = require("playwright-core");
export const WAIT = Number(env.WAIT_MS || 15000);
export const TOKENS = JSON.parse(env.TOKENS || "{}");
const AXE = require.resolve("axe-core/axe.min.js");

export const result = { ok: false, steps: [], observed: {}, figures: {}, console: [], screenshots: [] };
let step = "launch";
let browser;
const pages = {};

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

/** Ask the Python test to do something (restart the server, send a burst) and wait until it has. */
export async function askHost(request) {
  process.stdout.write(`HOST ${request}\n`);
  const answer = await lines.next();
  if (answer.done || !String(answer.value).startsWith("DONE")) throw new Error(`the test did not do ${request}: ${answer.value}`);
  return String(answer.value).slice(5);
}

export async function launch() {
  browser = await chromium.launch({
    executablePath: env.CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  return browser;
}

/** A page in a context of its own; `phone` is 390x844 with touch, as a phone. */
export async function newPage(who, { width = 1200, height = 800, phone = false } = {}) {
  const options = phone
    ? { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 }
    : { viewport: { width, height } };
  const context = await browser.newContext({ ...options, acceptDownloads: true });
  const page = await context.newPage();
  page.on("console", (message) => result.console.push(`${who} ${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => result.console.push(`${who} pageerror: ${error.message}`));
  pages[who] = page;
  return page;
}

/** Join through the standalone page's form, as a person would, and wait for "live". */
export async function joinSession(page, url, token) {
  await page.goto(url);
  await page.fill("[data-testid=token]", token);
  await page.fill("[data-testid=session]", env.SESSION);
  await page.click("[data-testid=join]");
  await live(page);
  await page.evaluate(() => {
    window.hostEvents = [];
    for (const name of ["unreadchange", "handraised", "statuschange"]) {
      document.addEventListener(name, (event) => window.hostEvents.push([name, event.detail]));
    }
  });
}

export async function live(page) {
  await page.locator("[data-testid=status]", { hasText: /^live$/ }).waitFor({ timeout: WAIT });
}

/** The message whose own text (not a quote of it) contains `text`. */
export function feedItem(page, text) {
  return page.locator("#feed > li").filter({ has: page.locator(":scope > .text", { hasText: text }) });
}

/** Type and send; done when the composer is empty again (the server took the message). */
export async function send(page, text) {
  await page.fill("[data-testid=text]", text);
  await page.click("[data-testid=send]");
  await page.waitForFunction(() => {
    const root = document.querySelector("session-chat")?.shadowRoot;
    const error = root?.getElementById("composer-error");
    return root?.getElementById("text")?.value === "" || (error && !error.hidden);
  }, null, { timeout: WAIT });
}

export async function see(page, text) {
  await feedItem(page, text).first().waitFor({ timeout: WAIT });
}

export async function waitText(locator, text) {
  await locator.filter({ hasText: text }).first().waitFor({ timeout: WAIT });
}

/** axe-core in the page (it follows open shadow roots): serious or critical violations. */
export async function axe(page) {
  await page.addScriptTag({ path: AXE });
  return await page.evaluate(async () => {
    const report = await window.axe.run(document, { resultTypes: ["violations"] });
    return report.violations
      .filter((violation) => ["serious", "critical"].includes(violation.impact))
      .map((violation) => `${violation.id} (${violation.impact}): ${violation.nodes.slice(0, 3).map((node) => node.target.join(" ")).join(", ")}`);
  });
}

/** The page is no wider than its viewport (no horizontal scrolling). */
export async function overflow(page) {
  return await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

export async function shot(page, name) {
  const path = join(env.ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  result.screenshots.push(path);
}

export async function run(name, body) {
  step = name;
  const started = Date.now();
  await body();
  result.steps.push(`${name} (${Date.now() - started} ms)`);
}

/** Run a scenario and print one JSON line: {ok, steps, observed, figures, console} or {ok: false, step, error}. */
export async function scenario(body) {
  try {
    await launch();
    await body();
    result.ok = true;
  } catch (error) {
    result.step = step;
    result.error = String(error && error.stack ? error.stack : error);
    for (const [who, page] of Object.entries(pages)) {
      await page.screenshot({ path: join(env.ARTIFACTS, `failure-${who}.png`), fullPage: true }).catch(() => {});
      result.observed[`${who}Feed`] = (await page.locator("#feed").innerText({ timeout: 1000 }).catch(() => "")).slice(-1500);
      result.observed[`${who}Errors`] = (await page.locator("[role=alert]").allInnerTexts().catch(() => [])).filter(Boolean);
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}
