// The SessionChat browser panel: joins a session with a token through Envoy's
// grpc-web bridge, follows the live feed (Subscribe; browsers cannot open bidi
// streams over grpc-web) and acts with the unary RPCs.
//
// Built into ../static/panel.js by `npm run build` (see build.mjs).

import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  Role,
  SessionChat,
  type ChatMessage,
  type Event,
  type Mute,
  type Participant,
  type RaisedHand,
  type SessionSnapshot,
} from "./gen/sessionchat/v1/chat_pb";

const TYPING_IDLE_MS = 4000;
const TYPING_EXPIRE_MS = 8000;
// Codes after which reconnecting cannot help: the user must fix the token or session.
const FATAL = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument, Code.NotFound]);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

interface Shown {
  message: ChatMessage;
  item: HTMLLIElement;
  reactions: Map<string, number>;
  mine: Set<string>;
}

class Panel {
  client!: Client<typeof SessionChat>;
  sessionId = "";
  me: Participant | undefined;
  lastSequence = 0n;
  losses = 0; // live streams that lost events on the way and were resumed
  abort: AbortController | undefined;
  messages = new Map<string, Shown>();
  online = new Map<string, Participant>();
  hands = new Map<string, RaisedHand>();
  mutes = new Map<string, Mute>();
  names = new Map<string, string>();
  typing = new Map<string, { name: string; timer: number }>();
  typingSent = false;
  typingTimer = 0;
  typingSupported = true;
  reactionChoices: string[] = ["👍"]; // replaced by the server's list (StreamStarted.reactions)

  get instructor(): boolean {
    return this.me?.role === Role.INSTRUCTOR;
  }

  // ------------------------------------------------------------ joining

  join(token: string, sessionId: string, endpoint: string): void {
    const auth: Interceptor = (next) => async (request) => {
      request.header.set("authorization", `Bearer ${token}`);
      return await next(request);
    };
    const transport = createGrpcWebTransport({ baseUrl: endpoint.replace(/\/+$/, ""), interceptors: [auth] });
    this.client = createClient(SessionChat, transport);
    this.sessionId = sessionId;
    this.lastSequence = 0n;
    this.abort = new AbortController();
    this.clearError();
    $("join").hidden = true;
    $("chat").hidden = false;
    void this.follow(this.abort.signal);
  }

  leave(): void {
    this.abort?.abort();
    this.abort = undefined;
    this.stopTyping();
    this.me = undefined;
    $("you").textContent = "";
    this.setStatus("not connected");
    $("chat").hidden = true;
    $("join").hidden = false;
  }

  /** The live feed: Subscribe, and on a broken stream resume from the last sequence seen.
   *
   * Each response names the sequence the server sent before it (previousSequence;
   * the stream start counts as sent through its resumeFromSequence). A jump in
   * sequences is normal (others' private messages); a previousSequence other than
   * the last one this stream delivered means events were lost on the way: resume
   * at once from the last sequence held. */
  async follow(signal: AbortSignal): Promise<void> {
    let delay = 500;
    let lostLastTime = false; // the previous stream lost events, with nothing intact since
    while (!signal.aborted) {
      this.setStatus("connecting…");
      const stream = new AbortController();
      const stop = () => stream.abort();
      signal.addEventListener("abort", stop, { once: true });
      let position: bigint | undefined; // unknown until streamStarted
      let lost = false;
      try {
        const responses = this.client.subscribe(
          { sessionId: this.sessionId, lastSequence: this.lastSequence },
          { signal: stream.signal },
        );
        for await (const response of responses) {
          delay = 500;
          const starts = response.events[0]?.kind.case === "streamStarted";
          const previous = response.previousSequence;
          if (!starts && position !== undefined && previous !== 0n && previous !== position) {
            lost = true; // 0n: a server too old to say
            break;
          }
          if (position !== undefined) lostLastTime = false;
          for (const event of response.events) {
            if (event.kind.case === "streamStarted") position = event.kind.value.resumeFromSequence;
            else if (event.sequence > 0n) position = event.sequence;
            this.apply(event);
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        const failure = ConnectError.from(error);
        if (FATAL.has(failure.code)) {
          this.setStatus("disconnected");
          this.showError(`Cannot join: ${describe(failure)}`);
          return;
        }
        this.showError(`Live feed interrupted (${describe(failure)}); reconnecting…`);
      } finally {
        signal.removeEventListener("abort", stop);
        stream.abort();
      }
      if (signal.aborted) return;
      if (lost) {
        this.losses += 1;
        console.warn(`live feed lost events on the way; resuming from sequence ${this.lastSequence}`);
        if (!lostLastTime) {
          lostLastTime = true;
          continue; // at once: the server is fine, something on the way lost events
        }
      }
      this.setStatus("reconnecting…");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  }

  // ------------------------------------------------------------ events

  apply(event: Event): void {
    if (event.sequence > this.lastSequence) this.lastSequence = event.sequence;
    const kind = event.kind;
    switch (kind.case) {
      case "streamStarted": {
        this.me = kind.value.you;
        if (kind.value.reactions.length > 0) this.reactionChoices = [...kind.value.reactions];
        if (this.me) {
          this.names.set(this.me.userId, this.me.displayName);
          $("you").textContent = `${this.me.displayName} (${roleName(this.me.role)}) in ${this.sessionId}`;
        }
        if (kind.value.snapshot && !kind.value.recovered) this.reset(kind.value.snapshot);
        if (kind.value.resumeFromSequence > this.lastSequence) this.lastSequence = kind.value.resumeFromSequence;
        this.clearError();
        this.setStatus("live");
        break;
      }
      case "messagePosted":
      case "privateMessagePosted":
        this.showMessage(kind.value);
        break;
      case "messageDeleted": {
        const shown = this.messages.get(kind.value.messageId);
        if (shown) {
          shown.message.deleted = true;
          shown.message.text = "";
          this.renderMessage(shown);
        }
        break;
      }
      case "reactionAdded":
      case "reactionRemoved": {
        const { messageId, userId, emoji, count } = kind.value;
        const shown = this.messages.get(messageId);
        if (shown) {
          if (count > 0) shown.reactions.set(emoji, count);
          else shown.reactions.delete(emoji);
          if (userId === this.me?.userId) {
            if (kind.case === "reactionAdded") shown.mine.add(emoji);
            else shown.mine.delete(emoji);
          }
          this.renderMessage(shown);
        }
        break;
      }
      case "handRaised":
      case "handAcknowledged":
        if (kind.value.hand) this.hands.set(kind.value.hand.userId, kind.value.hand);
        this.renderHands();
        break;
      case "handLowered":
        this.hands.delete(kind.value.userId);
        this.renderHands();
        break;
      case "userMuted":
        if (kind.value.mute) this.mutes.set(kind.value.mute.userId, kind.value.mute);
        this.renderMutes();
        this.notice(`${this.nameOf(kind.value.mute?.userId ?? "")} was muted`);
        break;
      case "userUnmuted":
        this.mutes.delete(kind.value.userId);
        this.renderMutes();
        this.notice(`${this.nameOf(kind.value.userId)} may write again`);
        break;
      case "typingStarted":
      case "typingStopped": {
        const { userId, displayName, recipientId } = kind.value;
        if (userId === this.me?.userId || (recipientId && recipientId !== this.me?.userId)) break;
        const previous = this.typing.get(userId);
        if (previous) clearTimeout(previous.timer);
        this.typing.delete(userId);
        if (kind.case === "typingStarted") {
          const timer = window.setTimeout(() => {
            this.typing.delete(userId);
            this.renderTyping();
          }, TYPING_EXPIRE_MS);
          this.typing.set(userId, { name: displayName || this.nameOf(userId), timer });
        }
        this.renderTyping();
        break;
      }
      case "userJoined":
        if (kind.value.participant) {
          this.online.set(kind.value.participant.userId, kind.value.participant);
          this.names.set(kind.value.participant.userId, kind.value.participant.displayName);
        }
        this.renderOnline();
        break;
      case "userLeft":
        if (kind.value.participant) this.online.delete(kind.value.participant.userId);
        this.renderOnline();
        break;
      case "messagePinned":
        if (kind.value.message) this.showMessage(kind.value.message);
        break;
      case "error":
        this.showError(kind.value.message);
        break;
      default:
        break;
    }
  }

  reset(snapshot: SessionSnapshot): void {
    this.messages.clear();
    $("feed").replaceChildren();
    this.online = new Map(snapshot.online.map((person) => [person.userId, person]));
    for (const person of snapshot.online) this.names.set(person.userId, person.displayName);
    this.hands = new Map(snapshot.raisedHands.map((hand) => [hand.userId, hand]));
    this.mutes = new Map(snapshot.activeMutes.map((mute) => [mute.userId, mute]));
    if (snapshot.myMute && this.me) this.mutes.set(this.me.userId, snapshot.myMute);
    for (const message of snapshot.recentMessages) this.showMessage(message);
    this.renderOnline();
    this.renderHands();
    this.renderMutes();
  }

  // ------------------------------------------------------------ rendering

  showMessage(message: ChatMessage): void {
    this.names.set(message.senderId, message.senderName);
    let shown = this.messages.get(message.messageId);
    if (!shown) {
      const item = document.createElement("li");
      item.dataset.messageId = message.messageId;
      item.dataset.senderId = message.senderId;
      shown = { message, item, reactions: new Map(), mine: new Set() };
      this.messages.set(message.messageId, shown);
      const feed = $("feed");
      const stick = feed.scrollTop + feed.clientHeight >= feed.scrollHeight - 4;
      feed.append(item);
      if (stick) feed.scrollTop = feed.scrollHeight;
    }
    shown.message = message;
    shown.reactions = new Map(message.reactions.map((reaction) => [reaction.emoji, reaction.count]));
    shown.mine = new Set(message.reactions.filter((reaction) => reaction.reactedByMe).map((reaction) => reaction.emoji));
    this.renderMessage(shown);
  }

  renderMessage(shown: Shown): void {
    const { message, item } = shown;
    item.className = [message.recipientId ? "private" : "", message.deleted ? "deleted" : ""].join(" ").trim();
    const tools = el("span", "tools");
    if (!message.deleted) {
      for (const emoji of this.reactionChoices) {
        const react = button(emoji, "react", () => this.toggleReaction(message.messageId, emoji));
        react.title = `React with ${emoji}`;
        react.setAttribute("aria-pressed", String(shown.mine.has(emoji)));
        react.dataset.emoji = emoji;
        tools.append(react);
      }
      if (this.instructor) {
        tools.append(button("Delete", "delete", () => this.act("DeleteMessage", () =>
          this.client.deleteMessage({ sessionId: this.sessionId, messageId: message.messageId })), "danger"));
        if (message.senderId !== this.me?.userId && message.senderRole !== Role.INSTRUCTOR) {
          tools.append(button("Mute", "mute", () => this.act("MuteUser", () =>
            this.client.muteUser({ sessionId: this.sessionId, userId: message.senderId, durationMinutes: 10, reason: "muted from the panel" })), "danger"));
        }
      }
    }
    const time = message.createTime ? timestampDate(message.createTime).toLocaleTimeString() : "";
    const parts: Node[] = [el("span", "sender", message.senderName || message.senderId)];
    if (message.senderRole === Role.INSTRUCTOR) parts.push(el("span", "role", "instructor"));
    if (message.recipientId) parts.push(el("span", "role", `private with ${this.nameOf(message.recipientId === this.me?.userId ? message.senderId : message.recipientId)}`));
    parts.push(el("span", "text", message.deleted ? "message deleted" : message.text));
    const counts = [...shown.reactions].filter(([, count]) => count > 0).map(([emoji, count]) => `${emoji} ${count}`);
    const reactions = el("span", "reactions", counts.join("  "));
    reactions.dataset.testid = "reactions";
    parts.push(reactions, tools);
    item.title = time;
    item.replaceChildren(...parts);
  }

  notice(text: string): void {
    const item = el("li", "notice", text);
    $("feed").append(item);
  }

  renderOnline(): void {
    const people = [...this.online.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
    $("online").replaceChildren(...people.map((person) => {
      const item = el("li", "", `${person.displayName}${person.role === Role.INSTRUCTOR ? " (instructor)" : ""}`);
      item.dataset.userId = person.userId;
      return item;
    }));
  }

  renderHands(): void {
    const hands = [...this.hands.values()].sort((a, b) => a.position - b.position);
    $("hands").replaceChildren(...hands.map((hand) => {
      const item = el("li", "", `${hand.displayName || this.nameOf(hand.userId)}${hand.acknowledged ? " ✔" : ""}`);
      item.dataset.userId = hand.userId;
      if (this.instructor && hand.userId !== this.me?.userId) {
        item.append(button("Lower", "lower-hand", () => this.act("LowerHand", () =>
          this.client.lowerHand({ sessionId: this.sessionId, userId: hand.userId })), "small"));
      }
      return item;
    }));
    const raised = !!this.me && this.hands.has(this.me.userId);
    $("hand").textContent = raised ? "Lower hand" : "✋ Raise hand";
  }

  renderMutes(): void {
    $("mutes").replaceChildren(...[...this.mutes.values()].map((mute) => {
      const item = el("li", "", this.nameOf(mute.userId));
      item.dataset.userId = mute.userId;
      if (this.instructor) {
        item.append(button("Unmute", "unmute", () => this.act("UnmuteUser", () =>
          this.client.unmuteUser({ sessionId: this.sessionId, userId: mute.userId })), "small"));
      }
      return item;
    }));
    const mutedMe = !!this.me && this.mutes.has(this.me.userId);
    $("text").setAttribute("placeholder", mutedMe ? "You are muted" : "Write a message");
  }

  renderTyping(): void {
    const names = [...this.typing.values()].map((entry) => entry.name);
    $("typing").textContent = names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
  }

  nameOf(userId: string): string {
    return this.names.get(userId) || userId;
  }

  setStatus(text: string): void {
    $("status").textContent = text;
  }

  showError(text: string): void {
    $("error").textContent = text;
  }

  clearError(): void {
    $("error").textContent = "";
  }

  // ------------------------------------------------------------ actions

  async act(what: string, call: () => Promise<unknown>): Promise<boolean> {
    try {
      await call();
      this.clearError();
      return true;
    } catch (error) {
      this.showError(`${what}: ${describe(ConnectError.from(error))}`);
      return false;
    }
  }

  async send(): Promise<void> {
    const input = $<HTMLInputElement>("text");
    const text = input.value;
    if (!text.trim()) return;
    this.stopTyping();
    const clientMessageId = crypto.randomUUID();
    if (await this.act("SendMessage", () => this.client.sendMessage({ sessionId: this.sessionId, text, clientMessageId }))) {
      input.value = "";
    }
  }

  toggleReaction(messageId: string, emoji: string): void {
    const shown = this.messages.get(messageId);
    const request = { sessionId: this.sessionId, messageId, emoji };
    if (shown?.mine.has(emoji)) void this.act("RemoveReaction", () => this.client.removeReaction(request));
    else void this.act("AddReaction", () => this.client.addReaction(request));
  }

  toggleHand(): void {
    if (this.me && this.hands.has(this.me.userId)) {
      void this.act("LowerHand", () => this.client.lowerHand({ sessionId: this.sessionId }));
    } else {
      void this.act("RaiseHand", () => this.client.raiseHand({ sessionId: this.sessionId }));
    }
  }

  /** Typing: tell the others once when typing starts, and again after a pause or a send. */
  typed(): void {
    if (!this.typingSupported) return;
    const input = $<HTMLInputElement>("text");
    clearTimeout(this.typingTimer);
    if (!input.value) {
      this.stopTyping();
      return;
    }
    if (!this.typingSent) {
      this.typingSent = true;
      void this.setTyping(true);
    }
    this.typingTimer = window.setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    clearTimeout(this.typingTimer);
    if (this.typingSent) {
      this.typingSent = false;
      void this.setTyping(false);
    }
  }

  async setTyping(typing: boolean): Promise<void> {
    try {
      await this.client.setTyping({ sessionId: this.sessionId, typing });
    } catch (error) {
      const failure = ConnectError.from(error);
      // A server without typing support: stop asking rather than fail every keystroke.
      if (failure.code === Code.Unimplemented) this.typingSupported = false;
      this.showError(`SetTyping: ${describe(failure)}`);
    }
  }
}

function describe(error: ConnectError): string {
  return `${Code[error.code] ?? error.code}: ${error.rawMessage}`;
}

function roleName(role: Role): string {
  return role === Role.INSTRUCTOR ? "instructor" : role === Role.PARTICIPANT ? "participant" : "unknown role";
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function button(label: string, testid: string, onClick: () => void, className = "small"): HTMLButtonElement {
  const node = el("button", className, label);
  node.type = "button";
  node.dataset.testid = testid;
  node.addEventListener("click", onClick);
  return node;
}

function start(): void {
  const panel = new Panel();
  // Prefill from the address: ?session=...&endpoint=... (and #token=... , never sent to a server).
  const params = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  $<HTMLInputElement>("session").value = params.get("session") ?? fragment.get("session") ?? "";
  $<HTMLInputElement>("endpoint").value = params.get("endpoint") ?? fragment.get("endpoint") ?? location.origin;
  $<HTMLTextAreaElement>("token").value = fragment.get("token") ?? "";
  $("join").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $<HTMLTextAreaElement>("token").value.trim().replace(/^Bearer\s+/i, "");
    const session = $<HTMLInputElement>("session").value.trim();
    const endpoint = $<HTMLInputElement>("endpoint").value.trim() || location.origin;
    if (token && session) panel.join(token, session, endpoint);
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    void panel.send();
  });
  $("text").addEventListener("input", () => panel.typed());
  $("hand").addEventListener("click", () => panel.toggleHand());
  $("leave").addEventListener("click", () => panel.leave());
}

start();
