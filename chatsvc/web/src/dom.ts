// Small DOM and error helpers the panel's views share.

import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Role } from "./gen/sessionchat/v1/chat_pb";

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

export function button(label: string, testid: string, onClick: (event: MouseEvent) => void, className = "small"): HTMLButtonElement {
  const node = el("button", className, label);
  node.type = "button";
  node.dataset.testid = testid;
  node.addEventListener("click", onClick);
  return node;
}

/** A refusal as a person reads it: the server's sentence, without the code's name when it says enough. */
export function describe(error: unknown): string {
  const failure = ConnectError.from(error);
  const text = failure.rawMessage || Code[failure.code] || String(failure.code);
  switch (failure.code) {
    case Code.Unavailable:
      return `The chat server cannot be reached (${text}).`;
    case Code.Unauthenticated:
      return `Your sign-in was refused: ${text}`;
    default:
      return sentence(text);
  }
}

function sentence(text: string): string {
  const first = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

const RETRY_INFO = "google.rpc.RetryInfo";

/** The server's retry delay (google.rpc.RetryInfo in grpc-status-details-bin), in milliseconds; 0 when none. */
export function retryDelayMs(error: unknown): number {
  const failure = ConnectError.from(error);
  for (const detail of failure.details) {
    if (!("desc" in detail) && "type" in detail && detail.type === RETRY_INFO) return durationMs(detail.value);
  }
  return 0;
}

/** RetryInfo { Duration retry_delay = 1 }, Duration { int64 seconds = 1; int32 nanos = 2 }. */
function durationMs(bytes: Uint8Array): number {
  const outer = new BinaryReader(bytes);
  while (outer.pos < outer.len) {
    const [field, wire] = outer.tag();
    if (field !== 1) {
      outer.skip(wire);
      continue;
    }
    const inner = new BinaryReader(outer.bytes());
    let ms = 0;
    while (inner.pos < inner.len) {
      const [number, kind] = inner.tag();
      if (number === 1) ms += Number(inner.int64()) * 1000;
      else if (number === 2) ms += inner.int32() / 1e6;
      else inner.skip(kind);
    }
    return Math.ceil(ms);
  }
  return 0;
}

export function roleName(role: Role): string {
  return role === Role.INSTRUCTOR ? "instructor" : role === Role.PARTICIPANT ? "participant" : "unknown role";
}

export function clockTime(stamp: Timestamp | undefined): string {
  return stamp ? timestampDate(stamp).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

export function isoTime(stamp: Timestamp | undefined): string {
  return stamp ? timestampDate(stamp).toISOString() : "";
}

/** Shows `text` in `slot` as a refusal near the action (cleared with an empty text). */
export function report(slot: HTMLElement, text: string): void {
  slot.textContent = text;
  slot.hidden = !text;
}
