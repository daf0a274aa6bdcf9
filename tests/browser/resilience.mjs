// A server restart mid-class: the test stops `chatsvc serve --web` (and its Envoy) and
// starts it again on the same addresses, and a third user writes while the pages are
// reconnecting. Every message must show exactly once on every page.
import { env, feedItem, joinSession, live, newPage, result, run, scenario, see, send, askHost, TOKENS, WAIT } from "./support.mjs";

const seen = result.observed;
const expected = ["before 1", "before 2", "while away 1", "while away 2", "while away 3", "after 1", "after 2"];
seen.expected = expected;

await scenario(async () => {
  const alice = await newPage("alice");
  const bob = await newPage("bob", { phone: true });
  await run("join", async () => {
    await joinSession(alice, `${env.ENVOY_URL}/`, TOKENS.alice);
    await joinSession(bob, `${env.ENVOY_URL}/`, TOKENS.bob);
  });
  await run("before the restart", async () => {
    await send(alice, "before 1");
    await send(bob, "before 2");
    for (const page of [alice, bob]) await see(page, "before 2");
  });
  await run("restart the server", async () => {
    await askHost("restart");
    for (const page of [alice, bob]) {
      await live(page);
      await see(page, "while away 3");
    }
  });
  await run("after the restart", async () => {
    await send(bob, "after 1");
    await send(alice, "after 2");
    for (const page of [alice, bob]) await see(page, "after 2");
    await see(alice, "after 1");
  });
  await run("each message once on each page", async () => {
    for (const [who, page] of Object.entries({ alice, bob })) {
      const counts = {};
      for (const text of expected) counts[text] = await feedItem(page, new RegExp(`^${text}$`)).count();
      seen[`${who}Counts`] = counts;
      seen[`${who}Doubles`] = await page.evaluate(() => {
        const ids = [...document.querySelector("session-chat").shadowRoot.querySelectorAll("#feed > li")].map((li) => li.dataset.messageId);
        return ids.length - new Set(ids).size;
      });
      seen[`${who}Statuses`] = await page.evaluate(() => window.hostEvents.filter(([name]) => name === "statuschange").map(([, d]) => d.status)
        .filter((status, index, all) => status !== all[index - 1]));
    }
  });
  await run("a rate-limit refusal counts down from the server's retry delay", async () => {
    for (let number = 1; number <= 6; number++) {
      await send(bob, `quick ${number}`);
      if (await bob.locator("[data-testid=composer-error]").isVisible()) break;
    }
    await bob.locator("[data-testid=composer-note]", { hasText: "Rate limit: you can write again in" }).waitFor({ timeout: WAIT });
    seen.rateNote = await bob.textContent("[data-testid=composer-note]");
    seen.rateRefusal = await bob.textContent("[data-testid=composer-error]");
    seen.rateSendDisabled = await bob.locator("[data-testid=send]").isDisabled();
  });
});
