// A class in three pages: Alice the instructor (desktop, through Envoy), Bob a
// participant (desktop, the panel files' own origin: cross-origin grpc-web through
// CORS) and Carol a participant on a phone (390x844, touch). Every action is done
// by clicking and typing; its result is asserted on the other pages.
import { axe, env, feedItem, joinSession, newPage, overflow, result, run, scenario, see, send, shot, TOKENS, WAIT, waitText } from "./support.mjs";

const seen = result.observed;

await scenario(async () => {
  const alice = await newPage("alice");
  const bob = await newPage("bob");
  const carol = await newPage("carol", { phone: true });
  const everyone = { alice, bob, carol };

  await run("join", async () => {
    await joinSession(alice, `${env.ENVOY_URL}/`, TOKENS.alice);
    await joinSession(bob, `${env.PANEL_FILES_URL}/?endpoint=${encodeURIComponent(env.ENVOY_URL)}`, TOKENS.bob);
    await joinSession(carol, `${env.ENVOY_URL}/`, TOKENS.carol);
    for (const page of [alice, bob]) await page.locator("#online li", { hasText: "Carol" }).waitFor({ timeout: WAIT });
    seen.you = [await alice.textContent("[data-testid=you]"), await bob.textContent("[data-testid=you]")];
    seen.instructorHandButtonVisible = await alice.locator("[data-testid=hand]").isVisible();
  });

  await run("messages, own marked, times", async () => {
    await send(alice, "Welcome to class");
    await send(bob, "Hello from Bob");
    for (const page of [alice, carol]) await see(page, "Hello from Bob");
    await see(carol, "Welcome to class");
    seen.bobOwnMarked = await feedItem(bob, "Hello from Bob").getAttribute("class");
    seen.aliceSeesBobMarked = await feedItem(alice, "Hello from Bob").getAttribute("class");
    seen.time = await feedItem(carol, "Hello from Bob").locator("time").textContent();
  });

  await run("typing", async () => {
    await bob.fill("[data-testid=text]", "a question is com");
    await waitText(alice.locator("[data-testid=typing]"), "Bob is typing");
    await bob.fill("[data-testid=text]", "");
  });

  await run("reactions and who reacted (hover, long-press)", async () => {
    const welcome = feedItem(bob, "Welcome to class");
    await welcome.locator("[data-testid=tools]").click();
    seen.reactionChoices = await welcome.locator("[data-testid=react]").allTextContents();
    await welcome.locator("[data-testid=react][data-emoji='👍']").click();
    await welcome.locator("[data-testid=tools]").click();
    await welcome.locator("[data-testid=react][data-emoji='🔥']").click();
    // Carol, on the phone: a long press on the message opens its tools.
    const carolWelcome = feedItem(carol, "Welcome to class");
    await longPress(carol, carolWelcome.locator(".text"));
    await carolWelcome.locator("[data-testid=react][data-emoji='👍']").click();
    const chips = feedItem(alice, "Welcome to class").locator("[data-testid=reaction]");
    await waitText(chips, "👍 2");
    await waitText(chips, "🔥 1");
    seen.aliceChips = await chips.allTextContents();
    await chips.first().hover();
    await alice.waitForFunction(() => {
      const chip = [...document.querySelector("session-chat").shadowRoot.querySelectorAll("[data-testid=reaction]")].find((c) => c.title);
      return chip && chip.title.includes("Carol");
    }, null, { timeout: WAIT });
    seen.whoReactedHover = await feedItem(alice, "Welcome to class").locator("[data-testid=reaction]").first().getAttribute("title");
    await longPress(carol, carolWelcome.locator(".text"));
    await waitText(carolWelcome.locator("[data-testid=who]"), "Bob");
    seen.whoReactedLongPress = await carolWelcome.locator("[data-testid=who]").textContent();
    await shot(carol, "phone-390-message-tools");
    await carol.keyboard.press("Escape");
    seen.carolPressed = await carolWelcome.locator("[data-testid=reaction][aria-pressed=true]").allTextContents();
  });

  await run("reply with the quoted excerpt", async () => {
    await feedItem(carol, "Hello from Bob").locator("[data-testid=tools]").tap();
    await feedItem(carol, "Hello from Bob").locator("[data-testid=reply]").tap();
    await carol.locator("[data-testid=replying]").waitFor({ timeout: WAIT });
    await send(carol, "me too");
    await see(alice, "me too");
    seen.quote = await feedItem(alice, "me too").locator("[data-testid=quote]").textContent();
  });

  await run("mention with autocomplete", async () => {
    await alice.locator("[data-testid=text]").pressSequentially("@Ca");
    await waitText(alice.locator("[data-testid=mention-option]"), "Carol");
    await alice.keyboard.press("Enter");
    await alice.locator("[data-testid=text]").pressSequentially("please answer");
    seen.mentionInput = await alice.inputValue("[data-testid=text]");
    await alice.keyboard.press("Enter");
    await see(carol, "please answer");
    seen.carolMentioned = await feedItem(carol, "please answer").getAttribute("class");
    await see(bob, "please answer");
    seen.bobMentioned = await feedItem(bob, "please answer").getAttribute("class");
  });

  await run("private conversation in a tab", async () => {
    seen.carolMayMessage = await carol.locator("#online li [data-testid=message-privately]").count();
    await bob.locator("#online li", { hasText: "Alice" }).locator("[data-testid=message-privately]").click();
    await send(bob, "private question");
    const tab = alice.locator("[data-testid=tab]", { hasText: "Bob" });
    await tab.locator(".badge").waitFor({ timeout: WAIT });
    seen.privateBadge = await tab.textContent();
    await tab.click();
    await see(alice, "private question");
    await send(alice, "private answer");
    await see(bob, "private answer");
    await shot(alice, "desktop-instructor-private-tab");
    await alice.locator("[data-testid=tab]", { hasText: "Class" }).click();
    await bob.locator("[data-testid=tab]", { hasText: "Class" }).click();
    seen.carolSawPrivate = await feedItem(carol, "private").count() + await carol.locator("[data-testid=tab]", { hasText: "Private" }).count();
  });

  await run("hands: queue, acknowledge, lower", async () => {
    await bob.click("[data-testid=hand]");
    await alice.locator("#hands li", { hasText: "Bob" }).waitFor({ timeout: WAIT });
    await carol.locator("[data-testid=hand]").tap();
    await waitText(carol.locator("[data-testid=hand]"), "number 2");
    await alice.locator("#hands li", { hasText: "Carol" }).waitFor({ timeout: WAIT });
    seen.queue = await alice.locator("#hands li").evaluateAll((items) => items.map((item) => `${item.dataset.position} ${item.firstChild.textContent}`));
    await alice.locator("#hands li", { hasText: "Bob" }).locator("[data-testid=acknowledge-hand]").click();
    await waitText(bob.locator("#hands li"), "Bob — acknowledged");
    await alice.locator("#hands li", { hasText: "Carol" }).locator("[data-testid=lower-hand]").click();
    await waitText(carol.locator("[data-testid=hand]"), "Raise hand");
    await bob.click("[data-testid=hand]"); // Bob lowers his own (acknowledged) hand
    await alice.locator("#hands li", { hasText: "Bob" }).waitFor({ state: "detached", timeout: WAIT });
    seen.hostHandEvents = await alice.evaluate(() => window.hostEvents.filter(([name]) => name === "handraised").map(([, detail]) => detail.displayName));
  });

  await run("pins on top", async () => {
    await feedItem(alice, "Welcome to class").locator("[data-testid=tools]").click();
    await feedItem(alice, "Welcome to class").locator("[data-testid=pin]").click();
    await waitText(bob.locator("[data-testid=pins] li"), "Welcome to class");
    await waitText(feedItem(carol, "Welcome to class").locator(".tag"), "pinned");
    await shot(bob, "desktop-participant");
    await alice.locator("[data-testid=pins] [data-testid=unpin-top]").click();
    await bob.locator("[data-testid=pins]").waitFor({ state: "hidden", timeout: WAIT });
  });

  await run("policy: class chat closed, then slow mode", async () => {
    await alice.selectOption("[data-testid=policy-public]", "2");
    await alice.click("[data-testid=policy-apply]");
    await waitText(bob.locator("[data-testid=policy]"), "instructors only");
    await waitText(bob.locator("[data-testid=composer-note]"), "only instructors");
    seen.closedNote = await bob.textContent("[data-testid=composer-note]");
    seen.closedInputDisabled = await bob.locator("[data-testid=text]").isDisabled();
    await alice.selectOption("[data-testid=policy-public]", "1");
    await alice.fill("[data-testid=policy-slow]", "2");
    await alice.click("[data-testid=policy-apply]");
    await waitText(bob.locator("[data-testid=policy]"), "slow mode 2 s");
    await bob.locator("[data-testid=text]").waitFor({ state: "visible" });
    await send(bob, "slowly now");
    await waitText(bob.locator("[data-testid=composer-note]"), "Slow mode: you can write again in");
    seen.slowNote = await bob.textContent("[data-testid=composer-note]");
    seen.sendDisabledInSlowMode = await bob.locator("[data-testid=send]").isDisabled();
    await bob.locator("[data-testid=composer-note]").filter({ hasText: /^$/ }).waitFor({ timeout: WAIT });
    await alice.fill("[data-testid=policy-slow]", "0");
    await alice.click("[data-testid=policy-apply]");
    await bob.locator("[data-testid=policy]", { hasText: "slow mode" }).waitFor({ state: "detached", timeout: WAIT });
  });

  await run("mute with a duration and a reason; refusal near the action, cleared", async () => {
    await feedItem(alice, "Hello from Bob").locator("[data-testid=tools]").click();
    await feedItem(alice, "Hello from Bob").locator("[data-testid=mute]").click();
    await alice.selectOption("[data-testid=mute-minutes]", "30");
    await alice.fill("[data-testid=mute-reason]", "off topic");
    await alice.click("[data-testid=mute-confirm]");
    await waitText(bob.locator("[data-testid=composer-note]"), "You are muted until");
    seen.mutedNote = await bob.textContent("[data-testid=composer-note]");
    seen.aliceMutes = await alice.locator("#mutes li").allTextContents();
    // A muted user's reaction is refused: the reason shows on that message, not somewhere else.
    const welcome = feedItem(bob, "Welcome to class");
    await welcome.locator("[data-testid=tools]").click();
    await welcome.locator("[data-testid=react][data-emoji='👏']").click();
    await welcome.locator("[data-testid=message-error]").waitFor({ state: "visible", timeout: WAIT });
    seen.reactionRefusal = await welcome.locator("[data-testid=message-error]").textContent();
    await alice.locator("#mutes li", { hasText: "Bob" }).locator("[data-testid=unmute]").click();
    await bob.locator("[data-testid=composer-note]").filter({ hasText: /^$/ }).waitFor({ timeout: WAIT });
    await welcome.locator("[data-testid=tools]").click();
    await welcome.locator("[data-testid=react][data-emoji='👏']").click();
    await waitText(feedItem(alice, "Welcome to class").locator("[data-testid=reaction]"), "👏 1");
    // Bob's own answer can come after Alice sees the reaction: wait for it, the refusal must go then.
    await welcome.locator("[data-testid=message-error]").waitFor({ state: "hidden", timeout: WAIT });
    seen.refusalAfterSuccess = await welcome.locator("[data-testid=message-error]").isVisible();
  });

  await run("delete leaves a tombstone", async () => {
    await feedItem(alice, "me too").locator("[data-testid=tools]").click();
    await feedItem(alice, "me too").locator("[data-testid=delete]").click();
    for (const page of [bob, carol]) await page.locator("#feed > li.deleted", { hasText: "message deleted" }).waitFor({ timeout: WAIT });
    seen.deletedTextLeft = await feedItem(carol, "me too").count();
  });

  await run("polls: several choices anonymous, then named", async () => {
    await alice.click("#poll-create summary");
    await alice.fill("[data-testid=poll-question]", "Which topics next?");
    await alice.fill("[data-testid=poll-options]", "Optics\nWaves\nHeat");
    await alice.check("[data-testid=poll-multiple]");
    await alice.check("[data-testid=poll-anonymous]");
    await alice.click("[data-testid=poll-create]");
    const bobPoll = bob.locator("[data-testid=poll]", { hasText: "Which topics next?" });
    await bobPoll.waitFor({ timeout: WAIT });
    await bobPoll.getByLabel("Optics").check();
    await bobPoll.getByLabel("Heat").check();
    await bobPoll.locator("[data-testid=vote]").click();
    const carolPoll = carol.locator("[data-testid=poll]", { hasText: "Which topics next?" });
    await carolPoll.getByLabel("Heat").tap();
    await carolPoll.locator("[data-testid=vote]").tap();
    const alicePoll = alice.locator("[data-testid=poll]", { hasText: "Which topics next?" });
    await waitText(alicePoll, "2 voted");
    seen.anonymousResults = await alicePoll.locator("[data-testid=poll-result]").allTextContents();
    await alice.click("#poll-create summary");
    await alice.fill("[data-testid=poll-question]", "Ready for the quiz?");
    await alice.fill("[data-testid=poll-options]", "Yes\nNo");
    await alice.click("[data-testid=poll-create]");
    const named = bob.locator("[data-testid=poll]", { hasText: "Ready for the quiz?" });
    await named.getByLabel("Yes").check();
    await named.locator("[data-testid=vote]").click();
    const aliceNamed = alice.locator("[data-testid=poll]", { hasText: "Ready for the quiz?" });
    // The voter's name comes at once, the count with the next coalesced tally: wait for both.
    await waitText(aliceNamed.locator("[data-testid=poll-result]"), "1 vote (100%) — Bob");
    seen.namedResults = await aliceNamed.locator("[data-testid=poll-result]").allTextContents();
    await aliceNamed.locator("[data-testid=close-poll]").click();
    await waitText(named, "closed");
    seen.closedPollInputsDisabled = await named.getByLabel("No").isDisabled();
  });

  await run("Q&A: ask anonymously, upvote, pin as now answering, answer", async () => {
    await bob.fill("[data-testid=question-text]", "Is gravity a force?");
    await bob.check("[data-testid=question-anonymous]");
    await bob.click("[data-testid=ask]");
    const carolQuestion = carol.locator("[data-testid=question]", { hasText: "Is gravity a force?" });
    await carolQuestion.waitFor({ timeout: WAIT });
    seen.carolSeesAsker = await carolQuestion.locator("[data-testid=question-asker]").textContent();
    await carolQuestion.locator("[data-testid=upvote]").tap();
    const aliceQuestion = alice.locator("[data-testid=question]", { hasText: "Is gravity a force?" });
    await waitText(aliceQuestion.locator("[data-testid=upvote]"), "▲ 1");
    seen.aliceSeesAsker = await aliceQuestion.locator("[data-testid=question-asker]").textContent();
    // Carol's own answer can come after Alice sees the count: wait for her button to show it.
    await carolQuestion.locator("[data-testid=upvote][aria-pressed=true]").waitFor({ timeout: WAIT });
    seen.carolUpvotePressed = await carolQuestion.locator("[data-testid=upvote]").getAttribute("aria-pressed");
    await aliceQuestion.locator("[data-testid=pin-question]").click();
    await waitText(carolQuestion, "Now answering");
    await aliceQuestion.locator("[data-testid=answer-question]").click();
    await aliceQuestion.locator("[data-testid=answer-text]").fill("Not in general relativity: it is curvature.");
    await aliceQuestion.locator("[data-testid=post-answer]").click();
    const bobQuestion = bob.locator("[data-testid=question]", { hasText: "Is gravity a force?" });
    await waitText(bobQuestion.locator("[data-testid=question-answer]"), "curvature");
    seen.bobSeesAnswer = await bobQuestion.locator("[data-testid=question-answer]").textContent();
    seen.bobSeesOwn = await bobQuestion.locator("[data-testid=question-asker]").textContent();
    await carol.locator("[data-testid=question]", { hasText: "curvature" }).waitFor({ timeout: WAIT });
    seen.pinnedAfterAnswer = await carol.locator("[data-testid=question].pinned").count();
  });

  await run("export in three formats", async () => {
    seen.exports = {};
    for (const [value, name] of [["1", "json"], ["2", "csv"], ["3", "txt"]]) {
      await alice.selectOption("[data-testid=export-format]", value);
      const [download] = await Promise.all([alice.waitForEvent("download", { timeout: WAIT }), alice.click("[data-testid=export]")]);
      const chunks = [];
      for await (const chunk of await download.createReadStream()) chunks.push(chunk);
      const text = Buffer.concat(chunks).toString("utf8");
      seen.exports[name] = { file: download.suggestedFilename(), hasWelcome: text.includes("Welcome to class") };
    }
  });

  await run("keyboard only", async () => {
    await focusBy(bob, "Tab", (id, testid) => id === "text");
    await bob.keyboard.type("typed with keys");
    await bob.keyboard.press("Enter");
    await see(alice, "typed with keys");
    await focusBy(bob, "Shift+Tab", (id, testid) => testid === "tools");
    await bob.keyboard.press("Enter");
    await bob.keyboard.press("Enter"); // the first reaction (👍) has the focus
    await waitText(feedItem(alice, "typed with keys").locator("[data-testid=reaction]"), "👍 1");
    await focusBy(bob, "Tab", (id) => id === "hand");
    await bob.keyboard.press("Enter");
    await alice.locator("#hands li", { hasText: "Bob" }).waitFor({ timeout: WAIT });
  });

  await run("unread count for the host page", async () => {
    await alice.locator("#online li", { hasText: "Carol" }).locator("[data-testid=message-privately]").click();
    await send(bob, "while Alice is elsewhere");
    await alice.waitForFunction(() => window.hostEvents.some(([name, detail]) => name === "unreadchange" && detail.count > 0), null, { timeout: WAIT });
    seen.title = await alice.title();
    await alice.locator("[data-testid=tab]", { hasText: "Class" }).click();
    await alice.waitForFunction(() => window.hostEvents.at(-1)?.[0] === "unreadchange" && window.hostEvents.at(-1)[1].count === 0, null, { timeout: WAIT })
      .catch(() => {});
    seen.unreadEvents = await alice.evaluate(() => window.hostEvents.filter(([name]) => name === "unreadchange").map(([, d]) => d.count));
  });

  await run("widths 390 and 320, screenshots, axe", async () => {
    seen.overflow390 = await overflow(carol);
    await shot(carol, "phone-390");
    await carol.setViewportSize({ width: 320, height: 640 });
    seen.overflow320 = await overflow(carol);
    await shot(carol, "phone-320");
    await shot(alice, "desktop-instructor");
    seen.axe = {};
    for (const [who, page] of Object.entries(everyone)) seen.axe[who] = await axe(page);
    seen.announcer = await bob.textContent("[data-testid=announcer]");
  });
});

async function longPress(page, locator) {
  let box = null;
  for (let tries = 0; !box && tries < 20; tries++) {
    await locator.waitFor({ timeout: WAIT });
    box = await locator.boundingBox(); // null when a re-render replaced the item in between
  }
  const client = await page.context().newCDPSession(page);
  const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await client.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [point] });
  await page.waitForTimeout(650);
  await client.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await client.detach();
}

/** Press `key` until the focused element (inside the panel's shadow root) is the one wanted. */
async function focusBy(page, key, wanted) {
  for (let presses = 0; presses < 80; presses++) {
    const [id, testid] = await page.evaluate(() => {
      const host = document.querySelector("session-chat");
      const active = host?.shadowRoot?.activeElement;
      return [active?.id ?? "", active?.dataset?.testid ?? ""];
    });
    if (wanted(id, testid)) return;
    await page.keyboard.press(key);
  }
  throw new Error(`no focusable element found by pressing ${key}`);
}
