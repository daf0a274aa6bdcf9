// The embed: static/embed.html, a class platform's page with <session-chat>.
// Alice (instructor) is on it with a short-lived token that the page's token
// callback replaces before it expires; Bob is on the standalone page.
import { env, feedItem, joinSession, live, newPage, result, run, scenario, see, send, shot, TOKENS, WAIT } from "./support.mjs";

const seen = result.observed;

await scenario(async () => {
  const alice = await newPage("alice");
  const bob = await newPage("bob", { phone: true });
  // The platform's token endpoint: the first token lives a few seconds, later ones longer.
  const handed = [TOKENS.alice_short, TOKENS.alice];
  seen.tokensHanded = 0;
  let refreshed;
  const secondToken = new Promise((resolve) => (refreshed = resolve));
  await alice.exposeFunction("platformToken", () => {
    seen.tokensHanded += 1;
    if (seen.tokensHanded === 2) refreshed();
    return handed[Math.min(seen.tokensHanded - 1, handed.length - 1)];
  });

  await run("the host page adds the chat with one element", async () => {
    await alice.goto(`${env.ENVOY_URL}/embed.html#session=${env.SESSION}`);
    await live(alice);
    await joinSession(bob, `${env.ENVOY_URL}/`, TOKENS.bob);
    await alice.locator("#online li", { hasText: "Bob" }).waitFor({ timeout: WAIT });
  });

  await run("styles do not leak in or out", async () => {
    seen.styles = await alice.evaluate(() => {
      const root = document.querySelector("session-chat").shadowRoot;
      const inside = getComputedStyle(root.querySelector("[data-testid=send]")).backgroundColor;
      const outside = getComputedStyle(document.querySelector("[data-testid=toggle-chat]")).backgroundColor;
      const hostItem = getComputedStyle(document.querySelector("#hands li")).color;
      const chatItem = getComputedStyle(root.querySelector("#online li")).color;
      return { inside, outside, hostItem, chatItem };
    });
  });

  await run("events to the host: hand raised, unread count", async () => {
    await bob.locator("[data-testid=hand]").tap();
    await alice.locator("[data-testid=host-hands] li", { hasText: "Bob raised a hand (number 1)" }).waitFor({ timeout: WAIT });
    await alice.click("[data-testid=toggle-chat]");
    await send(bob, "are you there?");
    await send(bob, "hello?");
    await alice.locator("[data-testid=unread]", { hasText: "2" }).waitFor({ timeout: WAIT });
    await shot(alice, "embed-hidden-chat-unread");
    await alice.click("[data-testid=toggle-chat]");
    await alice.locator("[data-testid=unread]", { hasText: "0" }).waitFor({ timeout: WAIT });
  });

  await run("the token is refreshed through the callback before it expires", async () => {
    await Promise.race([secondToken, alice.waitForTimeout(WAIT)]);
    await live(alice);
    seen.statusAfterRefresh = await alice.textContent("[data-testid=status]");
    // Past the first token's expiry: the stream and the calls use the new one.
    await alice.waitForTimeout(Math.max(0, Number(env.SHORT_TOKEN_EXPIRES_MS) - Date.now() + 500));
    await send(bob, "after the old token expired");
    await see(alice, "after the old token expired");
    await send(alice, "still here");
    await see(bob, "still here");
    seen.aliceError = await alice.locator("#error").textContent();
    seen.doubles = await alice.evaluate(() => {
      const ids = [...document.querySelector("session-chat").shadowRoot.querySelectorAll("#feed > li")].map((li) => li.dataset.messageId);
      return ids.length - new Set(ids).size;
    });
    await shot(alice, "embed-desktop");
  });
});
