// The state of one chat panel: what the live feed says (messages by conversation,
// people, hands, mutes, pins, policy, polls, questions), kept as the events arrive, and the
// views it drives. Actions are in actions.ts; this file only follows the feed.

import {
  PublicChat,
  Role,
  type ChatMessage,
  type ChatPolicy,
  type Event,
  type Mute,
  type Participant,
  type Poll,
  type RaisedHand,
  type SessionSnapshot,
} from "./gen/sessionchat/v1/chat_pb";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { clockTime, report, roleName } from "./dom";
import { Connection, type FeedListener, type TokenProvider } from "./connection";
import { Feed, type Shown } from "./feed";
import { Composer } from "./composer";
import { Sidebar } from "./sidebar";
import { PollsView } from "./polls";
import { QuestionsView } from "./questions";
import { Actions } from "./actions";
import { Notices } from "./notices";


export interface PanelOptions {
  endpoint: string;
  sessionId: string;
  token: string;
  tokenProvider?: TokenProvider;
}

export class ChatPanel implements FeedListener {
  readonly connection: Connection;
  readonly feed: Feed;
  readonly composer: Composer;
  readonly sidebar: Sidebar;
  readonly polls: PollsView;
  readonly questions: QuestionsView;
  readonly actions: Actions;
  me: Participant | undefined;
  reactions: string[] = ["👍"];
  messages = new Map<string, Shown>();
  conversations = new Map<string, Shown[]>([["", []]]); // "" is the class chat; otherwise the other party's id
  active = "";
  unread = new Map<string, number>();
  online = new Map<string, Participant>();
  names = new Map<string, string>();
  hands = new Map<string, RaisedHand>();
  mutes = new Map<string, Mute>();
  pins = new Map<string, ChatMessage>();
  pollList = new Map<string, Poll>();
  myVotes = new Map<string, string[]>();
  // Named polls, seen by instructors: who chose what, from VoteCast events (live tallies carry counts only).
  voters = new Map<string, Map<string, string[]>>();
  policy: ChatPolicy | undefined;
  readonly notices: Notices;
  private lastUnread = -1;

  constructor(
    readonly root: ShadowRoot,
    readonly host: HTMLElement,
    readonly options: PanelOptions,
  ) {
    this.connection = new Connection(options.endpoint, options.sessionId, options.token, options.tokenProvider, this);
    this.actions = new Actions(this);
    this.notices = new Notices(this.$("typing"), this.$("announcer"), () => this.me?.userId ?? "");
    this.feed = new Feed(this.$("feed") as HTMLOListElement, this.actions);
    this.composer = new Composer(root, this.actions);
    this.sidebar = new Sidebar(this);
    this.polls = new PollsView(this);
    this.questions = new QuestionsView(this);
    document.addEventListener("visibilitychange", () => this.countUnread());
    // The host page may hide the chat (a collapsed side panel): unread counts until it is shown again.
    new IntersectionObserver(() => this.countUnread()).observe(host);
  }

  $<T extends HTMLElement = HTMLElement>(id: string): T {
    return this.root.getElementById(id) as T;
  }

  get sessionId(): string {
    return this.options.sessionId;
  }

  get instructor(): boolean {
    return this.me?.role === Role.INSTRUCTOR;
  }

  start(): void {
    this.connection.start();
  }

  stop(): void {
    this.connection.stop();
    this.composer.stopTyping();
  }

  emit(name: string, detail: unknown): void {
    this.host.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  nameOf(userId: string): string {
    return this.names.get(userId) || userId;
  }

  // ------------------------------------------------------------ FeedListener

  status(state: "connecting" | "live" | "reconnecting" | "disconnected"): void {
    const text = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", disconnected: "disconnected" }[state];
    const node = this.$("status");
    node.textContent = text;
    node.className = state;
    this.emit("statuschange", { status: state });
  }

  interrupted(text: string): void {
    report(this.$("error"), text);
  }

  failed(text: string): void {
    report(this.$("error"), `Cannot join: ${text}`);
    this.emit("joinfailed", { message: text });
  }

  apply(event: Event): void {
    const kind = event.kind;
    switch (kind.case) {
      case "streamStarted": {
        this.me = kind.value.you;
        if (kind.value.reactions.length > 0) this.reactions = [...kind.value.reactions];
        if (this.me) {
          this.names.set(this.me.userId, this.me.displayName);
          this.$("you").textContent = `${this.me.displayName} (${roleName(this.me.role)}) in ${this.sessionId}`;
        }
        if (kind.value.snapshot && !kind.value.recovered) this.reset(kind.value.snapshot);
        report(this.$("error"), "");
        break;
      }
      case "messagePosted":
      case "privateMessagePosted":
        this.add(kind.value, true);
        break;
      case "mentioned":
        if (kind.value.message) this.add(kind.value.message, false);
        break;
      case "messageDeleted": {
        const shown = this.messages.get(kind.value.messageId);
        if (shown) {
          shown.message.deleted = true;
          shown.message.text = "";
          shown.counts.clear();
          this.changed(shown);
        }
        this.pins.delete(kind.value.messageId);
        this.sidebar.renderPins();
        break;
      }
      case "reactionAdded":
      case "reactionRemoved": {
        const { messageId, userId, emoji, count } = kind.value;
        const shown = this.messages.get(messageId);
        if (!shown) break;
        if (count > 0) shown.counts.set(emoji, count);
        else shown.counts.delete(emoji);
        if (userId === this.me?.userId) {
          if (kind.case === "reactionAdded") shown.mine.add(emoji);
          else shown.mine.delete(emoji);
        }
        this.actions.forgetReactions(messageId);
        this.changed(shown);
        break;
      }
      case "handRaised":
      case "handAcknowledged":
        if (kind.value.hand) {
          this.hands.set(kind.value.hand.userId, kind.value.hand);
          if (kind.case === "handRaised") {
            const { userId, displayName, position } = kind.value.hand;
            this.emit("handraised", { userId, displayName, position });
            this.notices.announce(`${displayName} raised a hand`);
          }
        }
        this.sidebar.renderHands();
        break;
      case "handLowered":
        this.hands.delete(kind.value.userId);
        this.sidebar.renderHands();
        break;
      case "userMuted":
        if (kind.value.mute) this.mutes.set(kind.value.mute.userId, kind.value.mute);
        this.sidebar.renderMutes();
        this.blockComposer();
        break;
      case "userUnmuted":
        this.mutes.delete(kind.value.userId);
        this.sidebar.renderMutes();
        this.blockComposer();
        break;
      case "typingStarted":
      case "typingStopped":
        this.notices.typed(kind.case === "typingStarted", kind.value.userId, kind.value.displayName || this.nameOf(kind.value.userId), kind.value.recipientId);
        break;
      case "userJoined":
        if (kind.value.participant) {
          this.online.set(kind.value.participant.userId, kind.value.participant);
          this.names.set(kind.value.participant.userId, kind.value.participant.displayName);
        }
        this.sidebar.renderOnline();
        break;
      case "userLeft":
        if (kind.value.participant) this.online.delete(kind.value.participant.userId);
        this.sidebar.renderOnline();
        break;
      case "chatPolicyChanged":
        this.policy = kind.value.policy;
        this.sidebar.renderPolicy();
        this.blockComposer();
        break;
      case "messagePinned":
        if (kind.value.message) {
          this.pins.set(kind.value.message.messageId, kind.value.message);
          this.setPinned(kind.value.message.messageId, true);
        }
        this.sidebar.renderPins();
        break;
      case "messageUnpinned":
        this.pins.delete(kind.value.messageId);
        this.setPinned(kind.value.messageId, false);
        this.sidebar.renderPins();
        break;
      case "pollCreated":
      case "pollReopened":
      case "pollClosed":
        if (kind.value.poll) this.pollList.set(kind.value.poll.pollId, kind.value.poll);
        this.polls.render();
        break;
      case "pollDeleted":
        this.pollList.delete(kind.value.pollId);
        this.polls.render();
        break;
      case "pollResultsChanged": {
        const poll = this.pollList.get(kind.value.pollId);
        if (poll) poll.results = kind.value;
        this.polls.render();
        break;
      }
      case "voteCast":
        if (kind.value.userId === this.me?.userId) this.myVotes.set(kind.value.pollId, [...kind.value.optionIds]);
        else {
          const votes = this.voters.get(kind.value.pollId) ?? new Map<string, string[]>();
          votes.set(kind.value.userId, [...kind.value.optionIds]);
          this.voters.set(kind.value.pollId, votes);
        }
        this.polls.render();
        break;
      default:
        this.questions.follow(kind);
        break;
    }
  }

  private reset(snapshot: SessionSnapshot): void {
    this.messages.clear();
    this.conversations = new Map([["", []]]);
    this.online = new Map(snapshot.online.map((person) => [person.userId, person]));
    for (const person of snapshot.online) this.names.set(person.userId, person.displayName);
    this.hands = new Map(snapshot.raisedHands.map((hand) => [hand.userId, hand]));
    this.mutes = new Map(snapshot.activeMutes.map((mute) => [mute.userId, mute]));
    if (snapshot.myMute && this.me) this.mutes.set(this.me.userId, snapshot.myMute);
    this.pins = new Map(snapshot.pinnedMessages.map((message) => [message.messageId, message]));
    this.policy = snapshot.policy;
    this.pollList = new Map(snapshot.polls.map((poll) => [poll.pollId, poll]));
    this.voters.clear();
    for (const poll of snapshot.polls) this.myVotes.set(poll.pollId, [...poll.myOptionIds]);
    for (const message of snapshot.recentMessages) this.add(message, false);
    this.actions.historyFrom(snapshot.recentMessages.length);
    if (!this.conversations.has(this.active)) this.active = "";
    this.feed.show(this.conversation(this.active));
    this.sidebar.renderAll();
    this.polls.render();
    this.questions.reset(snapshot.questions);
    this.blockComposer();
  }

  // ------------------------------------------------------------ messages

  conversationOf(message: ChatMessage): string {
    if (!message.recipientId) return "";
    return message.senderId === this.me?.userId ? message.recipientId : message.senderId;
  }

  conversation(key: string): Shown[] {
    let items = this.conversations.get(key);
    if (!items) {
      items = [];
      this.conversations.set(key, items);
      this.sidebar?.renderTabs();
    }
    return items;
  }

  /** A message from the feed or from history; `live` ones count as unread and are announced. */
  add(message: ChatMessage, live: boolean): Shown {
    this.names.set(message.senderId, message.senderName);
    const known = this.messages.get(message.messageId);
    if (known) {
      known.message = message;
      this.changed(known);
      return known;
    }
    const shown: Shown = {
      message,
      counts: new Map(message.reactions.filter((r) => r.count > 0).map((r) => [r.emoji, r.count])),
      mine: new Set(message.reactions.filter((r) => r.reactedByMe).map((r) => r.emoji)),
    };
    this.messages.set(message.messageId, shown);
    const key = this.conversationOf(message);
    const items = this.conversation(key);
    const last = items[items.length - 1];
    if (!last || last.message.sequence < message.sequence) {
      items.push(shown);
      if (key === this.active) this.feed.touch();
    } else {
      const at = items.findIndex((item) => item.message.sequence > message.sequence);
      items.splice(at < 0 ? items.length : at, 0, shown);
      if (key === this.active && live) this.feed.show(items);
    }
    if (live && message.senderId !== this.me?.userId) {
      if (key !== this.active || !this.reading()) this.unread.set(key, (this.unread.get(key) ?? 0) + 1);
      this.notices.announce(`${message.senderName}${message.recipientId ? " (privately)" : ""}: ${message.text}`);
      this.countUnread();
    }
    return shown;
  }

  changed(shown: Shown): void {
    if (this.conversationOf(shown.message) === this.active) this.feed.touch(shown.message.messageId);
  }

  private setPinned(messageId: string, pinned: boolean): void {
    const shown = this.messages.get(messageId);
    if (!shown) return;
    shown.message.pinned = pinned;
    this.changed(shown);
  }

  /** Show a conversation: the class chat ("") or the private one with a user. */
  open(key: string): void {
    this.active = key;
    this.composer.cancelReply();
    this.feed.show(this.conversation(key));
    this.sidebar.renderTabs();
    this.blockComposer();
    this.seen();
  }

  /** The reader can see the newest messages: the page is shown, the element too, scrolled to the end. */
  reading(): boolean {
    return !document.hidden && this.host.getClientRects().length > 0 && this.feed.atBottom();
  }

  seen(): void {
    if (!this.reading()) return;
    this.unread.delete(this.active);
    this.countUnread();
  }

  countUnread(): void {
    if (this.reading()) this.unread.delete(this.active);
    const total = [...this.unread.values()].reduce((sum, count) => sum + count, 0);
    if (total === this.lastUnread) return;
    this.lastUnread = total;
    this.sidebar.renderTabs();
    this.emit("unreadchange", { count: total });
  }

  /** Why this user cannot write in the conversation on screen, if they cannot. */
  blockComposer(): void {
    const me = this.me;
    let reason = "";
    const mute = me ? this.mutes.get(me.userId) : undefined;
    if (mute) {
      const until = mute.endTime ? ` until ${clockTime(mute.endTime)}` : "";
      reason = `You are muted${until}${mute.reason ? `: ${mute.reason}` : ""}.`;
    } else if (me && !this.instructor && this.policy) {
      if (this.active === "" && this.policy.publicChat === PublicChat.INSTRUCTORS_ONLY) {
        reason = "The class chat is closed: only instructors can write now.";
      } else if (this.active !== "" && !this.policy.privateChatEnabled) {
        reason = "Private messages are turned off by the instructor.";
      }
    }
    this.composer.block(reason);
    if (mute?.endTime) {
      const left = timestampDate(mute.endTime).getTime() - Date.now();
      if (left > 0 && left < 2 ** 31) setTimeout(() => this.blockComposer(), left + 500);
    }
  }
}
