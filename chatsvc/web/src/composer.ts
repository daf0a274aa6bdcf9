// The composer: writing to the conversation on screen, replies, @mention
// autocomplete from the online list, typing notices, and why it is disabled
// (muted, class chat closed, slow mode or rate-limit wait counted down).

import type { Participant } from "./gen/sessionchat/v1/chat_pb";
import { el, report } from "./dom";

const TYPING_IDLE_MS = 4000;

export interface ComposerHost {
  online(): Participant[];
  myId(): string;
  send(text: string, replyTo: string): Promise<boolean>; // false: refused (the host shows why, and any wait)
  setTyping(typing: boolean): void;
}

export class Composer {
  private readonly input: HTMLInputElement;
  private readonly send: HTMLButtonElement;
  private readonly note: HTMLElement;
  private readonly error: HTMLElement;
  private readonly replying: HTMLElement;
  private readonly suggestions: HTMLUListElement;
  private replyTo = "";
  private blockedBecause = "";
  private waitUntil = 0;
  private countdown = 0;
  private typingSent = false;
  private typingTimer = 0;
  private choices: Participant[] = [];
  private chosen = -1;

  constructor(
    private readonly root: ShadowRoot,
    private readonly host: ComposerHost,
  ) {
    const $ = <T extends HTMLElement>(id: string) => root.getElementById(id) as T;
    this.input = $("text");
    this.send = root.querySelector("[data-testid=send]") as HTMLButtonElement;
    this.note = $("composer-note");
    this.error = $("composer-error");
    this.replying = $("replying");
    this.suggestions = $("mention-list");
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.suggestions.hidden || this.chosen < 0) void this.submit();
    });
    this.input.addEventListener("input", () => this.typed());
    this.input.addEventListener("keydown", (event) => this.key(event));
    this.input.addEventListener("blur", () => setTimeout(() => this.closeSuggestions(), 150));
    (this.replying.querySelector("button") as HTMLButtonElement).addEventListener("click", () => this.cancelReply());
  }

  focus(): void {
    this.input.focus();
  }

  /** Reply to a message: a chip above the input quotes it until sent or cancelled. */
  startReply(messageId: string, label: string): void {
    this.replyTo = messageId;
    (this.replying.querySelector("span") as HTMLElement).textContent = `Replying to ${label}`;
    this.replying.hidden = false;
    this.input.focus();
  }

  cancelReply(): void {
    this.replyTo = "";
    this.replying.hidden = true;
  }

  /** Why this user cannot write here now ("" when they can); shown under the input. */
  block(reason: string): void {
    this.blockedBecause = reason;
    this.refresh();
  }

  /** Wait before the next message (slow mode or a rate limit), counted down from the server's delay. */
  wait(ms: number, what: string): void {
    this.waitUntil = Date.now() + ms;
    clearInterval(this.countdown);
    const tick = () => {
      const left = Math.ceil((this.waitUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(this.countdown);
        this.waitUntil = 0;
        report(this.error, "");
      }
      this.refresh(left > 0 ? `${what}: you can write again in ${left} s.` : "");
    };
    this.countdown = window.setInterval(tick, 250);
    tick();
  }

  private refresh(waiting = ""): void {
    const reason = this.blockedBecause || waiting;
    this.note.textContent = reason;
    this.input.disabled = !!this.blockedBecause;
    this.send.disabled = !!reason;
    this.input.placeholder = this.blockedBecause ? "You cannot write here now" : "Write a message";
  }

  private async submit(): Promise<void> {
    const text = this.input.value;
    if (!text.trim() || this.send.disabled) return;
    this.stopTyping();
    const outcome = await this.host.send(text, this.replyTo);
    if (outcome) {
      if (this.input.value === text) this.input.value = ""; // not what was typed since
      this.cancelReply();
      report(this.error, "");
    }
  }

  showRefusal(text: string): void {
    report(this.error, text);
  }

  // ------------------------------------------------------------ typing

  private typed(): void {
    this.suggest();
    clearTimeout(this.typingTimer);
    if (!this.input.value) {
      this.stopTyping();
      return;
    }
    if (!this.typingSent) {
      this.typingSent = true;
      this.host.setTyping(true);
    }
    this.typingTimer = window.setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    clearTimeout(this.typingTimer);
    if (this.typingSent) {
      this.typingSent = false;
      this.host.setTyping(false);
    }
  }

  // ------------------------------------------------------------ @mentions

  private mentionAtCaret(): { start: number; query: string } | undefined {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const match = /(^|\s)@([\p{L}\p{N}_.-]*)$/u.exec(this.input.value.slice(0, caret));
    if (!match) return undefined;
    return { start: caret - match[2].length - 1, query: match[2].toLowerCase() };
  }

  private suggest(): void {
    const mention = this.mentionAtCaret();
    const me = this.host.myId();
    this.choices = mention
      ? this.host.online().filter((person) => person.userId !== me && person.displayName.toLowerCase().startsWith(mention.query)).slice(0, 6)
      : [];
    if (this.choices.length === 0) return this.closeSuggestions();
    this.chosen = 0;
    this.suggestions.replaceChildren(...this.choices.map((person, index) => {
      const option = el("li", "", person.displayName);
      option.id = `mention-${index}`;
      option.setAttribute("role", "option");
      option.dataset.testid = "mention-option";
      option.addEventListener("mousedown", (event) => {
        event.preventDefault();
        this.pick(index);
      });
      return option;
    }));
    this.suggestions.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.highlight();
  }

  private highlight(): void {
    [...this.suggestions.children].forEach((option, index) => option.setAttribute("aria-selected", String(index === this.chosen)));
    this.input.setAttribute("aria-activedescendant", this.chosen >= 0 ? `mention-${this.chosen}` : "");
  }

  private closeSuggestions(): void {
    this.suggestions.hidden = true;
    this.choices = [];
    this.chosen = -1;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  private pick(index: number): void {
    const mention = this.mentionAtCaret();
    const person = this.choices[index];
    if (!mention || !person) return;
    const caret = this.input.selectionStart ?? this.input.value.length;
    const value = this.input.value;
    const inserted = `@${person.displayName} `;
    this.input.value = value.slice(0, mention.start) + inserted + value.slice(caret);
    const at = mention.start + inserted.length;
    this.input.setSelectionRange(at, at);
    this.closeSuggestions();
  }

  private key(event: KeyboardEvent): void {
    if (this.suggestions.hidden) {
      if (event.key === "Escape" && this.replyTo) this.cancelReply();
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.chosen = (this.chosen + step + this.choices.length) % this.choices.length;
      this.highlight();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      this.pick(this.chosen);
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.closeSuggestions();
    }
  }
}
