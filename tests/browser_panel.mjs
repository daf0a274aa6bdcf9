// Drives two real Chromium pages through the chat panel, for tests/test_browser.py.
//
// The instructor's page is loaded through Envoy (same origin as grpc-web);
// the participant's page straight from the panel's file server, so its
// grpc-web calls to Envoy are cross-origin and go through CORS preflights.
// Prints one JSON object: {ok, steps: [...], observed: {...}} or {ok: false, step, error}.
//
// Environment: PANEL_DIR (for playwright-core), CHROMIUM, ENVOY_URL, PANEL_FILES_URL,
// SESSION, INSTRUCTOR_TOKEN, PARTICIPANT_TOKEN, ARTIFACTS, WAIT_MS.
import { createRequire } from "node:module";
import { join } from "node:path";

const env = process.env;
const require = createRequire(join(env.PANEL_DIR, "package.json"));
const { chromium } = require("playwright-core");
const WAIT = Number(env.WAIT_MS || 15000);

const result = { ok: false, steps: [], observed: {}, console: [] };
let step = "launch";
let browser;
const pages = {};

function feedItem(page, text) {
  return page.locator("#feed li", { hasText: text });
}

async function joinSession(page, url, token) {
  await page.goto(url);
  await page.fill("[data-testid=token]", token);
  await page.fill("[data-testid=session]", env.SESSION);
  await page.click("[data-testid=join]");
  await page.locator("[data-testid=status]", { hasText: "live" }).waitFor({ timeout: WAIT });
}

async function send(page, text) {
  await page.fill("[data-testid=text]", text);
  await page.click("[data-testid=send]");
}

async function see(page, text) {
  await feedItem(page, text).first().waitFor({ timeout: WAIT });
}

async function run(name, body) {
  step = name;
  await body();
  result.steps.push(name);
}

try {
  browser = await chromium.launch({
    executablePath: env.CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const instructor = await (await browser.newContext({ viewport: { width: 1100, height: 720 } })).newPage();
  const participant = await (await browser.newContext({ viewport: { width: 1100, height: 720 } })).newPage();
  Object.assign(pages, { instructor, participant });
  for (const [who, page] of Object.entries(pages)) {
    page.on("console", (message) => result.console.push(`${who} ${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => result.console.push(`${who} pageerror: ${error.message}`));
  }

  await run("join", async () => {
    await joinSession(instructor, `${env.ENVOY_URL}/`, env.INSTRUCTOR_TOKEN);
    const crossOrigin = `${env.PANEL_FILES_URL}/?endpoint=${encodeURIComponent(env.ENVOY_URL)}`;
    await joinSession(participant, crossOrigin, env.PARTICIPANT_TOKEN);
    result.observed.instructorYou = await instructor.textContent("[data-testid=you]");
    result.observed.participantYou = await participant.textContent("[data-testid=you]");
    // Each sees the other online.
    await instructor.locator("#online li", { hasText: "Bob" }).waitFor({ timeout: WAIT });
    await participant.locator("#online li", { hasText: "Alice" }).waitFor({ timeout: WAIT });
  });

  await run("messages both ways", async () => {
    await send(instructor, "Welcome to class");
    await see(participant, "Welcome to class");
    await send(participant, "Hello from Bob");
    await see(instructor, "Hello from Bob");
    await see(participant, "Hello from Bob");
  });

  await run("typing indicator", async () => {
    await participant.fill("[data-testid=text]", "a question is com");
    await instructor.locator("[data-testid=typing]", { hasText: "Bob is typing" }).waitFor({ timeout: WAIT });
    result.observed.typing = await instructor.textContent("[data-testid=typing]");
    await participant.click("[data-testid=send]");
    await see(instructor, "a question is com");
    await instructor.locator("[data-testid=typing]", { hasText: /^$/ }).waitFor({ timeout: WAIT });
  });

  await run("reaction", async () => {
    // The server's four reactions are offered; 👍 from both, 🔥 from Bob.
    result.observed.reactionChoices = await feedItem(participant, "Welcome to class").locator("[data-testid=react]").allTextContents();
    await feedItem(participant, "Welcome to class").locator("[data-testid=react][data-emoji='👍']").click();
    await feedItem(participant, "Welcome to class").locator("[data-testid=react][data-emoji='🔥']").click();
    await feedItem(instructor, "Welcome to class").locator("[data-testid=react][data-emoji='👍']").click();
    await feedItem(participant, "Welcome to class").locator("[data-testid=reactions]", { hasText: "👍 2  🔥 1" }).waitFor({ timeout: WAIT });
    await feedItem(instructor, "Welcome to class").locator("[data-testid=reactions]", { hasText: "👍 2  🔥 1" }).waitFor({ timeout: WAIT });
    result.observed.reactions = await feedItem(instructor, "Welcome to class").locator("[data-testid=reactions]").textContent();
    result.observed.pressedByBob = await feedItem(participant, "Welcome to class").locator("[data-testid=react][aria-pressed=true]").allTextContents();
  });

  await run("raise hand", async () => {
    await participant.click("[data-testid=hand]");
    await instructor.locator("#hands li", { hasText: "Bob" }).waitFor({ timeout: WAIT });
    await participant.locator("[data-testid=hand]", { hasText: "Lower hand" }).waitFor({ timeout: WAIT });
    result.observed.handsSeenByInstructor = await instructor.locator("#hands li").allTextContents();
  });

  await run("role-specific buttons", async () => {
    result.observed.participantDeleteButtons = await participant.locator("[data-testid=delete]").count();
    result.observed.participantMuteButtons = await participant.locator("[data-testid=mute]").count();
    result.observed.instructorDeleteButtons = await instructor.locator("[data-testid=delete]").count();
    result.observed.instructorMuteOnOwnMessage = await feedItem(instructor, "Welcome to class").locator("[data-testid=mute]").count();
  });

  await run("screenshot", async () => {
    await instructor.screenshot({ path: join(env.ARTIFACTS, "panel-instructor.png"), fullPage: true });
    await participant.screenshot({ path: join(env.ARTIFACTS, "panel-participant.png"), fullPage: true });
  });

  await run("instructor lowers the hand", async () => {
    await instructor.locator("#hands li", { hasText: "Bob" }).locator("[data-testid=lower-hand]").click();
    await participant.locator("[data-testid=hand]", { hasText: "Raise hand" }).waitFor({ timeout: WAIT });
    await instructor.locator("#hands li").waitFor({ state: "detached", timeout: WAIT });
  });

  await run("delete", async () => {
    await feedItem(instructor, "Hello from Bob").locator("[data-testid=delete]").click();
    for (const page of [participant, instructor]) {
      await page.locator("#feed li.deleted", { hasText: "message deleted" }).waitFor({ timeout: WAIT });
    }
    result.observed.participantStillSeesDeletedText = await feedItem(participant, "Hello from Bob").count();
  });

  await run("mute", async () => {
    await feedItem(instructor, "a question is com").locator("[data-testid=mute]").click();
    await participant.locator("#mutes li", { hasText: "Bob" }).waitFor({ timeout: WAIT });
    await instructor.locator("#mutes li", { hasText: "Bob" }).waitFor({ timeout: WAIT });
    await send(participant, "can I still talk?");
    await participant.locator("[data-testid=error]", { hasText: "SendMessage" }).waitFor({ timeout: WAIT });
    result.observed.mutedSendError = await participant.textContent("[data-testid=error]");
    result.observed.instructorSawMutedMessage = await feedItem(instructor, "can I still talk?").count();
  });

  await run("unmute", async () => {
    await instructor.locator("#mutes li", { hasText: "Bob" }).locator("[data-testid=unmute]").click();
    await participant.locator("#mutes li").waitFor({ state: "detached", timeout: WAIT });
    await send(participant, "thanks, back again");
    await see(instructor, "thanks, back again");
  });

  await run("final screenshot", async () => {
    await instructor.screenshot({ path: join(env.ARTIFACTS, "panel-instructor-after-moderation.png"), fullPage: true });
  });
  result.ok = true;
} catch (error) {
  result.step = step;
  result.error = String(error && error.stack ? error.stack : error);
  for (const [who, page] of Object.entries(pages)) {
    await page.screenshot({ path: join(env.ARTIFACTS, `panel-failure-${who}.png`), fullPage: true }).catch(() => {});
    result.observed[`${who}Feed`] = await page.locator("#feed").innerText().catch(() => "");
    result.observed[`${who}Error`] = await page.locator("#error").innerText().catch(() => "");
  }
} finally {
  if (browser) await browser.close().catch(() => {});
}
process.stdout.write(JSON.stringify(result) + "\n");
