// The SessionChat browser panel: defines <session-chat> (element.ts) and, on the
// standalone page (static/index.html), a join form that adds one to the page.
//
// Built into ../static/panel.js by `npm run build` (see build.mjs).

import { defineSessionChat, SessionChatElement } from "./element";

defineSessionChat();

function standalone(): void {
  const form = document.getElementById("join") as HTMLFormElement | null;
  if (!form) return; // a host page that embeds the element
  const field = <T extends HTMLInputElement | HTMLTextAreaElement>(id: string) => document.getElementById(id) as T;
  const place = document.getElementById("place") as HTMLElement;
  const error = document.getElementById("join-error") as HTMLElement;
  const leave = document.getElementById("leave") as HTMLButtonElement;
  const params = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1)); // #token=… is never sent to a server
  field("session").value = params.get("session") ?? fragment.get("session") ?? "";
  field("endpoint").value = params.get("endpoint") ?? fragment.get("endpoint") ?? location.origin;
  field("token").value = fragment.get("token") ?? "";
  let chat: SessionChatElement | undefined;
  const close = () => {
    chat?.remove();
    chat = undefined;
    form.hidden = false;
    leave.hidden = true;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = field("token").value.trim().replace(/^Bearer\s+/i, "");
    const session = field("session").value.trim();
    if (!token || !session) return;
    error.textContent = "";
    chat = document.createElement("session-chat") as SessionChatElement;
    chat.setAttribute("endpoint", field("endpoint").value.trim() || location.origin);
    chat.setAttribute("session", session);
    chat.setAttribute("token", token);
    // A bad token or a wrong session: back to the form, with the reason.
    chat.addEventListener("joinfailed", (failure) => {
      close();
      error.textContent = `Cannot join: ${(failure as CustomEvent<{ message: string }>).detail.message}`;
      field("token").focus();
    });
    chat.addEventListener("unreadchange", (change) => {
      const count = (change as CustomEvent<{ count: number }>).detail.count;
      document.title = count > 0 ? `(${count}) SessionChat` : "SessionChat";
    });
    place.append(chat);
    form.hidden = true;
    leave.hidden = false;
  });
  leave.addEventListener("click", () => {
    close();
    field("token").focus();
  });
}

standalone();
