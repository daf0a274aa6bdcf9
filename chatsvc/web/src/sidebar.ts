// Everything around the message list: conversation tabs, the policy line,
// pins, the hand queue, who is online, mutes, and the instructors' settings.

import { PublicChat, Role } from "./gen/sessionchat/v1/chat_pb";
import { button, clockTime, el } from "./dom";
import type { ChatPanel } from "./chat";

export class Sidebar {
  constructor(private readonly panel: ChatPanel) {
    const $ = (id: string) => panel.$(id);
    const actions = panel.actions;
    $("hand").addEventListener("click", () => actions.toggleHand());
    $("policy-form").addEventListener("submit", (event) => {
      event.preventDefault();
      actions.applyPolicy();
    });
    $("export-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void actions.exportChat();
    });
    $("mute-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void actions.confirmMute();
    });
    $("mute-cancel").addEventListener("click", () => panel.$<HTMLDialogElement>("mute-dialog").close());
  }

  renderAll(): void {
    const instructor = this.panel.instructor;
    this.panel.$("settings").hidden = !instructor;
    this.panel.$("poll-create").hidden = !instructor;
    this.panel.$("hand").hidden = instructor; // instructors acknowledge hands; they do not raise them
    this.renderTabs();
    this.renderPolicy();
    this.renderPins();
    this.renderHands();
    this.renderOnline();
    this.renderMutes();
  }

  renderTabs(): void {
    const panel = this.panel;
    const keys = [...panel.conversations.keys()];
    const tabs = panel.$("tabs");
    tabs.hidden = keys.length < 2;
    tabs.replaceChildren(...keys.map((key) => {
      const label = key === "" ? "Class" : `Private: ${panel.nameOf(key)}`;
      const tab = button(label, "tab", () => panel.open(key));
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-selected", String(key === panel.active));
      tab.dataset.conversation = key;
      const unread = panel.unread.get(key) ?? 0;
      if (unread > 0 && key !== panel.active) {
        const badge = el("span", "badge", String(unread));
        badge.setAttribute("aria-label", `${unread} unread`);
        tab.append(badge);
      }
      return tab;
    }));
  }

  renderPolicy(): void {
    const policy = this.panel.policy;
    if (!policy) return;
    const parts = [
      policy.publicChat === PublicChat.INSTRUCTORS_ONLY ? "Class chat: instructors only" : "Class chat: everyone",
      policy.privateChatEnabled ? "private messages on" : "private messages off",
    ];
    if (policy.slowModeSeconds > 0) parts.push(`slow mode ${policy.slowModeSeconds} s`);
    this.panel.$("policy").textContent = parts.join(" · ");
    this.panel.$<HTMLSelectElement>("policy-public").value = String(policy.publicChat === PublicChat.INSTRUCTORS_ONLY ? 2 : 1);
    this.panel.$<HTMLInputElement>("policy-private").checked = policy.privateChatEnabled;
    this.panel.$<HTMLInputElement>("policy-slow").value = String(policy.slowModeSeconds);
  }

  renderPins(): void {
    const panel = this.panel;
    const pins = [...panel.pins.values()].filter((message) => !message.deleted);
    panel.$("pins").hidden = pins.length === 0;
    panel.$("pin-list").replaceChildren(...pins.map((message) => {
      const item = el("li");
      item.dataset.messageId = message.messageId;
      item.append(el("span", "sender", message.senderName), el("span", "", message.text));
      if (panel.instructor) item.append(button("Unpin", "unpin-top", () => panel.actions.unpin(message.messageId)));
      return item;
    }));
  }

  renderHands(): void {
    const panel = this.panel;
    const hands = [...panel.hands.values()].sort((a, b) => a.position - b.position);
    panel.$("hands").hidden = hands.length === 0;
    panel.$("no-hands").hidden = hands.length > 0;
    panel.$("hands").replaceChildren(...hands.map((hand) => {
      const name = hand.displayName || panel.nameOf(hand.userId);
      const item = el("li", "", `${name}${hand.acknowledged ? " — acknowledged" : ""}`);
      item.dataset.userId = hand.userId;
      item.dataset.position = String(hand.position);
      if (panel.instructor) {
        const actions = el("span", "actions");
        if (!hand.acknowledged) {
          const ack = button("Acknowledge", "acknowledge-hand", () => panel.actions.acknowledgeHand(hand.userId));
          ack.setAttribute("aria-label", `Acknowledge ${name}'s hand`);
          actions.append(ack);
        }
        const lower = button("Lower", "lower-hand", () => panel.actions.lowerHand(hand.userId));
        lower.setAttribute("aria-label", `Lower ${name}'s hand`);
        actions.append(lower);
        item.append(actions);
      }
      return item;
    }));
    const me = panel.me;
    const mine = me ? panel.hands.get(me.userId) : undefined;
    panel.$("hand").textContent = mine ? `Lower hand (you are number ${mine.position})` : "✋ Raise hand";
  }

  renderOnline(): void {
    const panel = this.panel;
    const me = panel.me;
    const people = [...panel.online.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
    panel.$("online").replaceChildren(...people.map((person) => {
      const notes = [person.role === Role.INSTRUCTOR ? "instructor" : "", person.userId === me?.userId ? "you" : ""].filter(Boolean);
      const item = el("li", "", `${person.displayName}${notes.length ? ` (${notes.join(", ")})` : ""}`);
      item.dataset.userId = person.userId;
      // Participants write privately to instructors; instructors to anyone.
      const may = me && person.userId !== me.userId && (panel.instructor || person.role === Role.INSTRUCTOR);
      if (may) {
        const write = button("Message", "message-privately", () => panel.open(person.userId));
        write.setAttribute("aria-label", `Message ${person.displayName} privately`);
        const actions = el("span", "actions");
        actions.append(write);
        item.append(actions);
      }
      return item;
    }));
  }

  renderMutes(): void {
    const panel = this.panel;
    panel.$("mutes").replaceChildren(...[...panel.mutes.values()].map((mute) => {
      const until = mute.endTime ? `until ${clockTime(mute.endTime)}` : "until unmuted";
      const item = el("li", "", `${panel.nameOf(mute.userId)} ${until}${mute.reason ? ` — ${mute.reason}` : ""}`);
      item.dataset.userId = mute.userId;
      if (panel.instructor) {
        const unmute = button("Unmute", "unmute", () => panel.actions.unmute(mute.userId));
        unmute.setAttribute("aria-label", `Unmute ${panel.nameOf(mute.userId)}`);
        item.append(" ", unmute);
      }
      return item;
    }));
    panel.$("mutes-section").hidden = panel.mutes.size === 0;
  }
}
