// Who is typing, and what screen readers hear (a polite live region, at most one
// announcement a second so a busy class does not drown the reader).

const TYPING_EXPIRE_MS = 8000;
const ANNOUNCE_EVERY_MS = 1000;

export class Notices {
  private typing = new Map<string, { name: string; timer: number }>();
  private announced = 0;
  private announceTimer = 0;

  constructor(
    private readonly typingLine: HTMLElement,
    private readonly announcer: HTMLElement,
    private readonly myId: () => string,
  ) {}

  typed(started: boolean, userId: string, name: string, recipientId: string): void {
    const me = this.myId();
    if (userId === me || (recipientId && recipientId !== me)) return;
    const previous = this.typing.get(userId);
    if (previous) clearTimeout(previous.timer);
    this.typing.delete(userId);
    if (started) {
      const timer = window.setTimeout(() => this.typed(false, userId, name, recipientId), TYPING_EXPIRE_MS);
      this.typing.set(userId, { name, timer });
    }
    const names = [...this.typing.values()].map((entry) => entry.name);
    this.typingLine.textContent = names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
  }

  /** The first message in words, then how many more arrived within the second. */
  announce(text: string): void {
    this.announced += 1;
    if (this.announceTimer) return;
    this.announcer.textContent = text;
    this.announced = 0;
    this.announceTimer = window.setTimeout(() => {
      this.announceTimer = 0;
      if (this.announced > 0) this.announcer.textContent = `${this.announced} new message${this.announced === 1 ? "" : "s"}`;
      this.announced = 0;
    }, ANNOUNCE_EVERY_MS);
  }
}
