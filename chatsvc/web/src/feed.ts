// The message list of the conversation on screen, windowed: at most a few hundred
// items are in the document, new ones are added once per animation frame, older
// ones are added back (or loaded from the server) when the reader scrolls up.

import { Role, type ChatMessage } from "./gen/sessionchat/v1/chat_pb";
import { button, clockTime, el, isoTime } from "./dom";

// Items kept in the document while following the newest messages.
const WINDOW = 150;
// Items added at a time when scrolling up.
const PAGE = 100;

export interface Shown {
  message: ChatMessage;
  counts: Map<string, number>; // emoji -> count
  mine: Set<string>; // emoji I reacted with
  error?: string; // a refusal of an action on this message
}

export interface MessageHost {
  myId(): string;
  instructor(): boolean;
  reactionChoices(): string[];
  nameOf(userId: string): string;
  toggleReaction(shown: Shown, emoji: string): void;
  whoReacted(shown: Shown): Promise<string>;
  reply(shown: Shown): void;
  pin(shown: Shown): void;
  remove(shown: Shown): void;
  mute(userId: string): void;
  loadOlder(): Promise<number>; // how many older messages were added to the front
  seenNewest(): void;
}

export class Feed {
  private items: Shown[] = [];
  private start = 0;
  private end = 0;
  private rendered = new Map<string, HTMLLIElement>();
  private changed = new Set<string>();
  private frame = 0;
  private loading = false;
  private openMenu: { id: string; menu: HTMLElement } | undefined;
  private pressTimer = 0;

  constructor(
    private readonly list: HTMLOListElement,
    private readonly host: MessageHost,
  ) {
    list.addEventListener("scroll", () => this.scrolled(), { passive: true });
  }

  /** Show a conversation (its messages oldest first, the array the panel keeps up to date). */
  show(items: Shown[]): void {
    this.items = items;
    this.end = items.length;
    this.start = Math.max(0, this.end - WINDOW);
    this.renderAll();
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** The array shown grew or an item in it changed: update the document in the next frame. */
  touch(messageId?: string): void {
    if (messageId) this.changed.add(messageId);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  atBottom(): boolean {
    return this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 8;
  }

  count(): number {
    return this.rendered.size;
  }

  private flush(): void {
    this.frame = 0;
    const stick = this.atBottom();
    for (const id of this.changed) {
      const old = this.rendered.get(id);
      const shown = this.items.find((item) => item.message.messageId === id);
      if (old && shown) old.replaceWith(this.item(shown));
    }
    this.changed.clear();
    if (stick && this.items.length - this.end > WINDOW) {
      // Far behind (back from reading old history, or a hidden page): draw the newest window afresh.
      this.show(this.items);
      this.host.seenNewest();
      return;
    }
    if (this.end < this.items.length && (stick || this.end - this.start < WINDOW * 2)) {
      const fragment = document.createDocumentFragment();
      for (let index = this.end; index < this.items.length; index++) fragment.append(this.item(this.items[index]));
      this.list.append(fragment);
      this.end = this.items.length;
    }
    if (stick) {
      while (this.end - this.start > WINDOW) this.drop(this.items[this.start++]);
      this.list.scrollTop = this.list.scrollHeight;
      this.host.seenNewest();
    }
  }

  private drop(shown: Shown): void {
    const id = shown.message.messageId;
    this.rendered.get(id)?.remove();
    this.rendered.delete(id);
  }

  private renderAll(): void {
    this.rendered.clear();
    // An open message menu stays open: item() opens it again on the message's new element (a
    // late message drawn in its place redraws the window, and must not shut the reader's menu).
    const fragment = document.createDocumentFragment();
    for (let index = this.start; index < this.end; index++) fragment.append(this.item(this.items[index]));
    this.list.replaceChildren(fragment);
  }

  private async scrolled(): Promise<void> {
    if (this.atBottom() && this.end < this.items.length) this.touch();
    if (this.atBottom()) this.host.seenNewest();
    if (this.list.scrollTop > 40 || this.loading) return;
    this.loading = true;
    try {
      if (this.start === 0) {
        const added = await this.host.loadOlder();
        this.start += added;
        this.end += added;
      }
      if (this.start === 0) return;
      const from = Math.max(0, this.start - PAGE);
      const before = this.list.scrollHeight;
      const fragment = document.createDocumentFragment();
      for (let index = from; index < this.start; index++) fragment.append(this.item(this.items[index]));
      this.list.prepend(fragment);
      this.start = from;
      this.list.scrollTop += this.list.scrollHeight - before; // keep what the reader was looking at in place
      while (this.end - this.start > WINDOW * 3) this.drop(this.items[--this.end]);
    } finally {
      this.loading = false;
    }
  }

  // ------------------------------------------------------------ one message

  item(shown: Shown): HTMLLIElement {
    const { message } = shown;
    const me = this.host.myId();
    const item = el("li");
    item.dataset.messageId = message.messageId;
    item.dataset.senderId = message.senderId;
    item.classList.toggle("mine", message.senderId === me);
    item.classList.toggle("private", !!message.recipientId);
    item.classList.toggle("deleted", message.deleted);
    const mentionsMe = !message.deleted && message.mentionedUserIds.includes(me);
    item.classList.toggle("mentions-me", mentionsMe);

    const head = el("div", "head");
    head.append(el("span", "sender", message.senderName || message.senderId));
    if (message.senderRole === Role.INSTRUCTOR) head.append(el("span", "tag", "instructor"));
    if (message.senderId === me) head.append(el("span", "tag", "you"));
    if (mentionsMe) head.append(el("span", "tag", "mentions you"));
    if (message.pinned) head.append(el("span", "tag", "pinned"));
    const time = el("time", "", clockTime(message.createTime));
    time.dateTime = isoTime(message.createTime);
    head.append(time);
    item.append(head);

    if (message.replyTo && !message.deleted) {
      const quote = el("span", "quote", `↪ ${this.host.nameOf(message.replyTo.senderId)}: ${message.replyTo.excerpt}`);
      quote.dataset.testid = "quote";
      item.append(quote);
    }
    const text = el("span", "text");
    if (message.deleted) text.textContent = "message deleted";
    else text.append(...withMentions(message.text));
    item.append(text);

    const foot = el("div", "foot");
    const reactions = el("span", "reactions");
    reactions.dataset.testid = "reactions";
    for (const emoji of this.ordered(shown)) {
      const count = shown.counts.get(emoji) ?? 0;
      const chip = button(`${emoji} ${count}`, "reaction", () => this.host.toggleReaction(shown, emoji), "small chip");
      chip.dataset.emoji = emoji;
      chip.setAttribute("aria-pressed", String(shown.mine.has(emoji)));
      chip.setAttribute("aria-label", `${emoji} ${count}${shown.mine.has(emoji) ? ", including you" : ""}`);
      const explain = async () => {
        if (!chip.title) chip.title = await this.host.whoReacted(shown);
      };
      chip.addEventListener("mouseenter", () => void explain());
      chip.addEventListener("focus", () => void explain());
      reactions.append(chip);
    }
    foot.append(reactions);
    if (!message.deleted) {
      const opener = button("⋯", "tools", () => this.toggleMenu(shown, item, opener), "small tools-button");
      opener.setAttribute("aria-label", `Actions for the message from ${message.senderName || message.senderId}`);
      opener.setAttribute("aria-expanded", "false");
      foot.append(opener);
      this.longPress(item, shown, opener);
    }
    item.append(foot);
    const refusal = el("div", "refusal", shown.error ?? "");
    refusal.setAttribute("role", "alert");
    refusal.dataset.testid = "message-error";
    refusal.hidden = !shown.error;
    item.append(refusal);
    this.rendered.set(message.messageId, item);
    if (this.openMenu?.id === message.messageId) this.fillMenu(shown, item, tools(item));
    return item;
  }

  private ordered(shown: Shown): string[] {
    const choices = this.host.reactionChoices();
    const present = [...shown.counts.keys()].filter((emoji) => (shown.counts.get(emoji) ?? 0) > 0);
    return present.sort((a, b) => rank(choices, a) - rank(choices, b));
  }

  private longPress(item: HTMLLIElement, shown: Shown, tools: HTMLButtonElement): void {
    item.addEventListener("pointerdown", (event) => {
      if (event.pointerType !== "touch") return;
      clearTimeout(this.pressTimer);
      this.pressTimer = window.setTimeout(() => this.toggleMenu(shown, item, tools, true), 500);
    });
    for (const end of ["pointerup", "pointercancel", "pointermove"]) item.addEventListener(end, () => clearTimeout(this.pressTimer));
    item.addEventListener("contextmenu", (event) => event.preventDefault());
  }

  private toggleMenu(shown: Shown, item: HTMLLIElement, tools: HTMLButtonElement, open?: boolean): void {
    const isOpen = this.openMenu?.id === shown.message.messageId;
    this.closeMenu();
    if (isOpen && open !== true) return;
    this.fillMenu(shown, item, tools);
    (this.openMenu?.menu.querySelector("button") as HTMLButtonElement | null)?.focus();
  }

  private fillMenu(shown: Shown, item: HTMLLIElement, tools: HTMLButtonElement | null): void {
    const { message } = shown;
    const menu = el("div", "menu");
    menu.setAttribute("role", "group");
    menu.setAttribute("aria-label", "Message actions");
    menu.dataset.testid = "menu";
    const act = (action: () => void) => () => {
      this.closeMenu();
      action();
    };
    for (const emoji of this.host.reactionChoices()) {
      const react = button(emoji, "react", act(() => this.host.toggleReaction(shown, emoji)));
      react.dataset.emoji = emoji;
      react.setAttribute("aria-pressed", String(shown.mine.has(emoji)));
      react.setAttribute("aria-label", `React with ${emoji}`);
      menu.append(react);
    }
    menu.append(button("Reply", "reply", act(() => this.host.reply(shown))));
    if (this.host.instructor()) {
      menu.append(button(message.pinned ? "Unpin" : "Pin", message.pinned ? "unpin" : "pin", act(() => this.host.pin(shown))));
      menu.append(button("Delete", "delete", act(() => this.host.remove(shown)), "small danger"));
      if (message.senderRole !== Role.INSTRUCTOR) menu.append(button("Mute…", "mute", act(() => this.host.mute(message.senderId)), "small danger"));
    }
    if (shown.counts.size > 0) {
      const who = el("div", "who", "Loading who reacted…");
      who.dataset.testid = "who";
      menu.append(who);
      void this.host.whoReacted(shown).then((text) => (who.textContent = text));
    }
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        this.closeMenu();
        tools?.focus();
      }
    });
    item.append(menu);
    tools?.setAttribute("aria-expanded", "true");
    this.openMenu = { id: message.messageId, menu };
  }

  closeMenu(): void {
    if (!this.openMenu) return;
    const item = this.openMenu.menu.parentElement;
    this.openMenu.menu.remove();
    if (item) tools(item)?.setAttribute("aria-expanded", "false");
    this.openMenu = undefined;
  }
}

function tools(item: HTMLElement): HTMLButtonElement | null {
  return item.querySelector("[data-testid=tools]");
}

function rank(choices: string[], emoji: string): number {
  const index = choices.indexOf(emoji);
  return index < 0 ? choices.length : index;
}

/** The text with @mentions set off (the server decides who was mentioned; this only styles them). */
function withMentions(text: string): Node[] {
  const nodes: Node[] = [];
  let last = 0;
  for (const match of text.matchAll(/@[\p{L}\p{N}_.-]+/gu)) {
    const index = match.index ?? 0;
    if (index > last) nodes.push(document.createTextNode(text.slice(last, index)));
    nodes.push(el("span", "mention", match[0]));
    last = index + match[0].length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}
