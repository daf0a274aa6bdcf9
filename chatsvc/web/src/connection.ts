// The live feed: Subscribe through Envoy's grpc-web bridge (browsers cannot open
// bidi streams over grpc-web), resumed from the last sequence after any break,
// and the token refreshed through the host's callback before it expires.

import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { SessionChat, type Event } from "./gen/sessionchat/v1/chat_pb";
import { describe } from "./dom";

// Codes after which reconnecting cannot help: the user must fix the token or session.
const FATAL = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument, Code.NotFound]);
// The first retry after a break is quick (a restarted server listens again within a second or two).
const FIRST_RETRY_MS = 300;
const LONGEST_RETRY_MS = 5_000;
// Refresh this long before the token expires (or a third of its remaining life, when shorter).
const REFRESH_LEAD_MS = 60_000;

export type TokenProvider = () => Promise<string> | string;

export interface FeedListener {
  apply(event: Event): void;
  status(state: "connecting" | "live" | "reconnecting" | "disconnected"): void;
  interrupted(text: string): void;
  failed(text: string): void;
}

export class Connection {
  readonly client: Client<typeof SessionChat>;
  lastSequence = 0n;
  losses = 0; // live streams that lost events on the way and were resumed
  private token: string;
  private abort = new AbortController();
  private stream: AbortController | undefined;
  private refreshTimer = 0;

  constructor(
    endpoint: string,
    readonly sessionId: string,
    token: string,
    private readonly tokenProvider: TokenProvider | undefined,
    private readonly listener: FeedListener,
  ) {
    this.token = token;
    const auth: Interceptor = (next) => async (request) => {
      request.header.set("authorization", `Bearer ${this.token}`);
      return await next(request);
    };
    const transport = createGrpcWebTransport({ baseUrl: endpoint.replace(/\/+$/, ""), interceptors: [auth] });
    this.client = createClient(SessionChat, transport);
  }

  start(): void {
    void this.follow(this.abort.signal);
  }

  stop(): void {
    clearTimeout(this.refreshTimer);
    this.abort.abort();
  }

  /** Use a fresh token from now on: the live stream is reopened with it and resumes where it was. */
  useToken(token: string): void {
    this.token = token;
    this.stream?.abort();
  }

  /** Called on each stream start: schedule the token's refresh before it expires. */
  tokenExpires(expire: Date | undefined): void {
    clearTimeout(this.refreshTimer);
    if (!expire || !this.tokenProvider) return;
    const left = expire.getTime() - Date.now();
    const lead = Math.min(REFRESH_LEAD_MS, left / 3);
    this.refreshTimer = window.setTimeout(() => void this.refresh(), Math.max(0, left - lead));
  }

  private async refresh(): Promise<boolean> {
    if (!this.tokenProvider || this.abort.signal.aborted) return false;
    try {
      this.useToken(await this.tokenProvider());
      return true;
    } catch (error) {
      this.listener.interrupted(`Could not refresh the sign-in: ${String(error)}`);
      return false;
    }
  }

  /** Each response names the sequence the server sent before it (previousSequence; the stream
   * start counts as sent through its resumeFromSequence). A previousSequence other than the
   * last one this stream delivered means events were lost on the way: resume at once. */
  private async follow(signal: AbortSignal): Promise<void> {
    let delay = FIRST_RETRY_MS;
    let refreshedAfterRefusal = false;
    while (!signal.aborted) {
      this.listener.status(this.lastSequence === 0n ? "connecting" : "reconnecting");
      const stream = (this.stream = new AbortController());
      const stop = () => stream.abort();
      signal.addEventListener("abort", stop, { once: true });
      let position: bigint | undefined;
      let lost = false;
      let reopened = false;
      try {
        const responses = this.client.subscribe({ sessionId: this.sessionId, lastSequence: this.lastSequence }, { signal: stream.signal });
        for await (const response of responses) {
          delay = FIRST_RETRY_MS;
          const starts = response.events[0]?.kind.case === "streamStarted";
          const previous = response.previousSequence;
          if (!starts && position !== undefined && previous !== 0n && previous !== position) {
            lost = true;
            break;
          }
          for (const event of response.events) {
            if (event.kind.case === "streamStarted") {
              position = event.kind.value.resumeFromSequence;
              refreshedAfterRefusal = false;
              const expire = event.kind.value.tokenExpireTime;
              this.tokenExpires(expire ? timestampDate(expire) : undefined);
            } else if (event.sequence > 0n) position = event.sequence;
            if (event.sequence > this.lastSequence) this.lastSequence = event.sequence;
            this.listener.apply(event);
            if (event.kind.case === "streamStarted") {
              const resume = event.kind.value.resumeFromSequence;
              if (resume > this.lastSequence) this.lastSequence = resume;
              this.listener.status("live");
            }
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        if (stream.signal.aborted) reopened = true; // a new token: reopen at once
        else {
          const failure = ConnectError.from(error);
          if (failure.code === Code.Unauthenticated && !refreshedAfterRefusal && (await this.refresh())) {
            refreshedAfterRefusal = true;
            continue;
          }
          if (FATAL.has(failure.code)) {
            this.listener.status("disconnected");
            this.listener.failed(describe(failure));
            return;
          }
          this.listener.interrupted(`Live feed interrupted (${describe(failure)}); reconnecting…`);
        }
      } finally {
        signal.removeEventListener("abort", stop);
        stream.abort();
      }
      if (signal.aborted) return;
      if (reopened) continue;
      if (lost) {
        this.losses += 1;
        console.warn(`live feed lost events on the way; resuming from sequence ${this.lastSequence}`);
        continue;
      }
      this.listener.status("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, LONGEST_RETRY_MS);
    }
  }
}
