// A big class: a session with 1,000 messages of history, then 100 messages a second
// for three seconds. Measures join -> live, scrolling back through the whole history,
// and frame gaps and long tasks while the burst arrives; the list stays windowed.
import { askHost, env, newPage, result, run, scenario, TOKENS, WAIT } from "./support.mjs";

const seen = result.observed;
const figures = result.figures;
const HISTORY = Number(env.HISTORY);
const BURST = Number(env.BURST);

await scenario(async () => {
  const bob = await newPage("bob");
  await run("join", async () => {
    await bob.goto(`${env.ENVOY_URL}/`);
    await bob.fill("[data-testid=token]", TOKENS.bob);
    await bob.fill("[data-testid=session]", env.SESSION);
    const started = Date.now();
    await bob.click("[data-testid=join]");
    await bob.locator("[data-testid=status]", { hasText: /^live$/ }).waitFor({ timeout: WAIT });
    await bob.locator("#feed > li").first().waitFor({ timeout: WAIT });
    figures.joinToLiveMs = Date.now() - started;
    seen.itemsAtJoin = await bob.locator("#feed > li").count();
  });

  await run("scroll back through the whole history", async () => {
    const outcome = await bob.evaluate(async (total) => {
      const element = document.querySelector("session-chat");
      const feed = element.shadowRoot.getElementById("feed");
      const started = performance.now();
      for (let step = 0; step < 2000; step++) {
        const all = element.chat.conversations.get("");
        if (all.length >= total && feed.firstElementChild?.dataset.messageId === all[0].message.messageId) {
          return { ms: performance.now() - started, items: feed.children.length, first: feed.firstElementChild.textContent, loaded: all.length };
        }
        feed.scrollTop = 0;
        feed.dispatchEvent(new Event("scroll"));
        await new Promise((resolve) => requestAnimationFrame(resolve));
      }
      return { ms: -1, items: feed.children.length, loaded: element.chat.conversations.get("").length };
    }, HISTORY);
    figures.historyRenderMs = Math.round(outcome.ms);
    seen.history = outcome;
  });

  await run(`${BURST} messages at 100 a second`, async () => {
    await bob.evaluate(() => {
      const feed = document.querySelector("session-chat").shadowRoot.getElementById("feed");
      feed.scrollTop = feed.scrollHeight;
      feed.dispatchEvent(new Event("scroll"));
    });
    // Back at the newest messages; then measure while the burst arrives.
    await bob.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await bob.evaluate(() => {
      window.gaps = [];
      window.longTasks = [];
      new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((entry) => entry.duration))).observe({ entryTypes: ["longtask"] });
      let last = performance.now();
      const tick = (now) => {
        window.gaps.push(now - last);
        last = now;
        if (!window.stopFrames) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await askHost("burst");
    await bob.locator("#feed > li", { hasText: `burst ${BURST}` }).waitFor({ timeout: WAIT });
    const measured = await bob.evaluate(() => {
      window.stopFrames = true;
      const gaps = window.gaps.slice(2).sort((a, b) => a - b);
      const at = (q) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))];
      const element = document.querySelector("session-chat");
      return {
        frames: gaps.length, p50: at(0.5), p95: at(0.95), max: gaps[gaps.length - 1],
        longTasks: window.longTasks.length, longestTask: Math.max(0, ...window.longTasks),
        items: element.shadowRoot.getElementById("feed").children.length, held: element.chat.conversations.get("").length,
      };
    });
    Object.assign(figures, { frameGapP50Ms: +measured.p50.toFixed(1), frameGapP95Ms: +measured.p95.toFixed(1), frameGapMaxMs: +measured.max.toFixed(1),
      longTasks: measured.longTasks, longestTaskMs: Math.round(measured.longestTask), frames: measured.frames });
    seen.afterBurst = { items: measured.items, held: measured.held };
  });
});
