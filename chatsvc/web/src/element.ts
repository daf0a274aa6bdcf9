// <session-chat endpoint="https://envoy.example" session="physics-101" token="…">:
// the chat panel as one element a class page adds. Its styles live in a shadow
// root. The host may set `tokenProvider` (a function returning a fresh token)
// for refresh before expiry, and listens to `unreadchange` ({count}),
// `handraised` ({userId, displayName, position}), `statuschange` ({status})
// and `joinfailed` ({message}).

import { ChatPanel } from "./chat";
import type { TokenProvider } from "./connection";
import { PANEL_HTML } from "./template";

export class SessionChatElement extends HTMLElement {
  static observedAttributes = ["endpoint", "session", "token"];
  tokenProvider: TokenProvider | undefined;
  private panel: ChatPanel | undefined;
  private pending = 0;

  get chat(): ChatPanel | undefined {
    return this.panel;
  }

  connectedCallback(): void {
    this.restart();
  }

  disconnectedCallback(): void {
    this.panel?.stop();
    this.panel = undefined;
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (before === after || !this.isConnected) return;
    // A new token for the same session keeps the stream and the screen; anything else starts over.
    if (name === "token" && this.panel && after) this.panel.connection.useToken(after);
    else this.restart();
  }

  private restart(): void {
    // Attributes set one after another in a script join once, not three times.
    cancelAnimationFrame(this.pending);
    this.pending = requestAnimationFrame(() => this.join());
  }

  private join(): void {
    this.panel?.stop();
    this.panel = undefined;
    const endpoint = this.getAttribute("endpoint") || location.origin;
    const sessionId = this.getAttribute("session") ?? "";
    const token = (this.getAttribute("token") ?? "").replace(/^Bearer\s+/i, "");
    if (!sessionId || (!token && !this.tokenProvider)) return;
    const root = this.shadowRoot ?? this.attachShadow({ mode: "open" });
    root.innerHTML = PANEL_HTML;
    this.panel = new ChatPanel(root, this, { endpoint, sessionId, token, tokenProvider: this.tokenProvider });
    if (token) this.panel.start();
    else void Promise.resolve(this.tokenProvider?.()).then((fresh) => {
      if (!fresh || !this.panel) return;
      this.panel.connection.useToken(fresh);
      this.panel.start();
    });
  }
}

export function defineSessionChat(): void {
  if (!customElements.get("session-chat")) customElements.define("session-chat", SessionChatElement);
}
