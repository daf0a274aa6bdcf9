// What a person does in the panel, as calls to the server: each refusal is shown
// next to the control that caused it and cleared by the next success there.

import { Code, ConnectError } from "@connectrpc/connect";
import { ExportFormat, PublicChat, type Participant } from "./gen/sessionchat/v1/chat_pb";
import { describe, report, retryDelayMs } from "./dom";
import type { ChatPanel } from "./chat";
import type { MessageHost, Shown } from "./feed";
import type { ComposerHost } from "./composer";

const HISTORY_PAGE = 200;
const EXPORT_TYPES: Record<number, [string, string]> = {
  [ExportFormat.JSON]: ["json", "application/json"],
  [ExportFormat.CSV]: ["csv", "text/csv"],
  [ExportFormat.TEXT]: ["txt", "text/plain"],
};

export class Actions implements MessageHost, ComposerHost {
  private historyToken = "";
  private historyDone = false;
  private reactionNames = new Map<string, Promise<string>>();
  private muting = "";

  constructor(private readonly panel: ChatPanel) {}

  private get client() {
    return this.panel.connection.client;
  }

  private get session() {
    return this.panel.sessionId;
  }

  /** Run `call`; show a refusal in `slot` (or through `refused`), clear it on success. */
  async act<T>(slot: HTMLElement | ((text: string) => void), call: () => Promise<T>): Promise<{ value: T } | undefined> {
    const show = typeof slot === "function" ? slot : (text: string) => report(slot, text);
    try {
      const value = await call();
      show("");
      return { value };
    } catch (error) {
      show(describe(error));
      return undefined;
    }
  }

  // ------------------------------------------------------------ MessageHost

  myId(): string {
    return this.panel.me?.userId ?? "";
  }

  instructor(): boolean {
    return this.panel.instructor;
  }

  reactionChoices(): string[] {
    return this.panel.reactions;
  }

  nameOf(userId: string): string {
    return this.panel.nameOf(userId);
  }

  private onMessage(shown: Shown) {
    return (text: string) => {
      if ((shown.error ?? "") === text) return;
      shown.error = text || undefined;
      this.panel.changed(shown);
    };
  }

  toggleReaction(shown: Shown, emoji: string): void {
    const request = { sessionId: this.session, messageId: shown.message.messageId, emoji };
    const mine = shown.mine.has(emoji);
    void this.act<unknown>(this.onMessage(shown), () => (mine ? this.client.removeReaction(request) : this.client.addReaction(request)));
  }

  forgetReactions(messageId: string): void {
    this.reactionNames.delete(messageId);
  }

  whoReacted(shown: Shown): Promise<string> {
    const id = shown.message.messageId;
    let names = this.reactionNames.get(id);
    if (!names) {
      names = this.client.listReactions({ sessionId: this.session, messageId: id }).then(
        (response) => {
          const byEmoji = new Map<string, string[]>();
          for (const reaction of response.reactions) {
            byEmoji.set(reaction.emoji, [...(byEmoji.get(reaction.emoji) ?? []), reaction.displayName || reaction.userId]);
          }
          return [...byEmoji].map(([emoji, people]) => `${emoji} ${people.join(", ")}`).join(" · ") || "No reactions";
        },
        (error) => `Who reacted is not available: ${describe(error)}`,
      );
      this.reactionNames.set(id, names);
    }
    return names;
  }

  reply(shown: Shown): void {
    const key = this.panel.conversationOf(shown.message);
    if (key !== this.panel.active) this.panel.open(key);
    const excerpt = shown.message.text.length > 60 ? `${shown.message.text.slice(0, 60)}…` : shown.message.text;
    this.panel.composer.startReply(shown.message.messageId, `${shown.message.senderName}: ${excerpt}`);
  }

  pin(shown: Shown): void {
    const request = { sessionId: this.session, messageId: shown.message.messageId };
    const pinned = shown.message.pinned;
    void this.act<unknown>(this.onMessage(shown), () => (pinned ? this.client.unpinMessage(request) : this.client.pinMessage(request)));
  }

  unpin(messageId: string): void {
    void this.act(this.panel.$("pins-error"), () => this.client.unpinMessage({ sessionId: this.session, messageId }));
  }

  remove(shown: Shown): void {
    void this.act(this.onMessage(shown), () => this.client.deleteMessage({ sessionId: this.session, messageId: shown.message.messageId }));
  }

  /** Open the mute dialog for a user: a duration and a reason, then MuteUser. */
  mute(userId: string): void {
    this.muting = userId;
    const dialog = this.panel.$<HTMLDialogElement>("mute-dialog");
    this.panel.$("mute-title").textContent = `Mute ${this.panel.nameOf(userId)}`;
    this.panel.$<HTMLInputElement>("mute-reason").value = "";
    report(this.panel.$("mute-error"), "");
    dialog.showModal();
  }

  async confirmMute(): Promise<void> {
    const minutes = Number(this.panel.$<HTMLSelectElement>("mute-minutes").value);
    const reason = this.panel.$<HTMLInputElement>("mute-reason").value.trim();
    const done = await this.act(this.panel.$("mute-error"), () =>
      this.client.muteUser({ sessionId: this.session, userId: this.muting, durationMinutes: minutes, reason }));
    if (done) this.panel.$<HTMLDialogElement>("mute-dialog").close();
  }

  unmute(userId: string): void {
    void this.act(this.panel.$("mutes-error"), () => this.client.unmuteUser({ sessionId: this.session, userId }));
  }

  /** Older history (ListMessages, newest first, paged) when the reader scrolls to the top. */
  historyFrom(recent: number): void {
    this.historyToken = "";
    this.historyDone = recent === 0;
  }

  async loadOlder(): Promise<number> {
    let added = 0;
    const key = this.panel.active;
    while (added === 0 && !this.historyDone) {
      const outcome = await this.act(this.panel.$("error"), () =>
        this.client.listMessages({ sessionId: this.session, pageSize: HISTORY_PAGE, pageToken: this.historyToken }));
      if (!outcome) return added;
      const response = outcome.value;
      this.historyToken = response.nextPageToken;
      this.historyDone = !response.nextPageToken;
      for (const message of response.messages) {
        if (this.panel.messages.has(message.messageId)) continue;
        this.panel.add(message, false);
        if (this.panel.conversationOf(message) === key) added += 1;
      }
    }
    return added;
  }

  seenNewest(): void {
    this.panel.seen();
  }

  // ------------------------------------------------------------ ComposerHost

  online(): Participant[] {
    return [...this.panel.online.values()];
  }

  async send(text: string, replyTo: string): Promise<boolean> {
    const recipientId = this.panel.active;
    try {
      await this.client.sendMessage({ sessionId: this.session, text, recipientId, replyToMessageId: replyTo, clientMessageId: crypto.randomUUID() });
      const slow = this.panel.policy?.slowModeSeconds ?? 0;
      if (slow > 0 && !recipientId && !this.panel.instructor) this.panel.composer.wait(slow * 1000, "Slow mode");
      return true;
    } catch (error) {
      this.panel.composer.showRefusal(describe(error));
      const wait = retryDelayMs(error);
      if (wait > 0) this.panel.composer.wait(wait, (this.panel.policy?.slowModeSeconds ?? 0) > 0 ? "Slow mode" : "Rate limit");
      return false;
    }
  }

  setTyping(typing: boolean): void {
    this.client.setTyping({ sessionId: this.session, typing, recipientId: this.panel.active }).catch((error) => {
      if (ConnectError.from(error).code !== Code.Unimplemented) console.warn(`SetTyping: ${describe(error)}`);
    });
  }

  // ------------------------------------------------------------ hands, policy, export

  toggleHand(): void {
    const me = this.panel.me;
    const raised = !!me && this.panel.hands.has(me.userId);
    void this.act<unknown>(this.panel.$("hands-error"), () =>
      raised ? this.client.lowerHand({ sessionId: this.session }) : this.client.raiseHand({ sessionId: this.session }));
  }

  acknowledgeHand(userId: string): void {
    void this.act(this.panel.$("hands-error"), () => this.client.acknowledgeHand({ sessionId: this.session, userId }));
  }

  lowerHand(userId: string): void {
    void this.act(this.panel.$("hands-error"), () => this.client.lowerHand({ sessionId: this.session, userId }));
  }

  applyPolicy(): void {
    const publicChat = Number(this.panel.$<HTMLSelectElement>("policy-public").value) as PublicChat;
    const privateChatEnabled = this.panel.$<HTMLInputElement>("policy-private").checked;
    const slowModeSeconds = Number(this.panel.$<HTMLInputElement>("policy-slow").value || 0);
    void this.act(this.panel.$("policy-error"), () =>
      this.client.updateChatPolicy({ sessionId: this.session, policy: { publicChat, privateChatEnabled, slowModeSeconds } }));
  }

  /** ExportChat streams the file in chunks: gathered into one download. */
  async exportChat(): Promise<void> {
    const format = Number(this.panel.$<HTMLSelectElement>("export-format").value) as ExportFormat;
    const includePrivate = this.panel.$<HTMLInputElement>("export-private").checked;
    const [extension, fallbackType] = EXPORT_TYPES[format];
    await this.act(this.panel.$("export-error"), async () => {
      const chunks: BlobPart[] = [];
      let type = fallbackType;
      for await (const chunk of this.client.exportChat({ sessionId: this.session, format, includePrivate })) {
        chunks.push(new Uint8Array(chunk.data));
        if (chunk.contentType) type = chunk.contentType;
      }
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob(chunks, { type }));
      link.download = `${this.session}-chat.${extension}`;
      this.panel.root.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    });
  }
}
