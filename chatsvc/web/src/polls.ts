// Quick polls: instructors start, close, reopen and delete them; participants
// vote (and change or withdraw their vote while it is open); results live.

import { PollState, type Poll } from "./gen/sessionchat/v1/chat_pb";
import { button, el, report } from "./dom";
import type { ChatPanel } from "./chat";

export class PollsView {
  private choosing = new Map<string, Set<string>>(); // options ticked but not yet sent
  private refusals = new Map<string, string>();

  constructor(private readonly panel: ChatPanel) {
    panel.$("poll-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.create();
    });
  }

  private get client() {
    return this.panel.connection.client;
  }

  private async create(): Promise<void> {
    const $ = <T extends HTMLElement>(id: string) => this.panel.$<T>(id);
    const question = $<HTMLInputElement>("poll-question").value.trim();
    const options = $<HTMLTextAreaElement>("poll-options").value.split("\n").map((line) => line.trim()).filter(Boolean);
    const done = await this.panel.actions.act($("polls-error"), () => this.client.createPoll({
      sessionId: this.panel.sessionId,
      question,
      options,
      multipleChoice: $<HTMLInputElement>("poll-multiple").checked,
      anonymous: $<HTMLInputElement>("poll-anonymous").checked,
      resultsHiddenUntilClosed: $<HTMLInputElement>("poll-hidden").checked,
    }));
    if (done) {
      $<HTMLFormElement>("poll-form").reset();
      ($("poll-create") as HTMLDetailsElement).open = false;
    }
  }

  private async run<T>(pollId: string, call: () => Promise<T>): Promise<{ value: T } | undefined> {
    return await this.panel.actions.act((text) => {
      if ((this.refusals.get(pollId) ?? "") === text) return;
      if (text) this.refusals.set(pollId, text);
      else this.refusals.delete(pollId);
      this.render();
    }, call);
  }

  private async vote(poll: Poll, optionIds: string[]): Promise<void> {
    const response = await this.run(poll.pollId, () =>
      this.client.castVote({ sessionId: this.panel.sessionId, pollId: poll.pollId, optionIds }));
    if (response) {
      this.panel.myVotes.set(poll.pollId, [...response.value.optionIds]);
      this.choosing.delete(poll.pollId);
      this.render();
    }
  }

  render(): void {
    const polls = [...this.panel.pollList.values()];
    const container = this.panel.$("polls");
    container.replaceChildren(...polls.map((poll) => this.card(poll)));
    if (polls.length === 0) container.append(el("p", "", "No polls yet."));
  }

  private card(poll: Poll): HTMLElement {
    const panel = this.panel;
    const open = poll.state === PollState.OPEN;
    const mayVote = open && (!panel.instructor || poll.instructorsVote);
    const mine = new Set(panel.myVotes.get(poll.pollId) ?? []);
    const ticked = this.choosing.get(poll.pollId) ?? mine;
    const card = el("div", "poll");
    card.dataset.pollId = poll.pollId;
    card.dataset.testid = "poll";
    const fieldset = el("fieldset");
    const notes = [open ? "open" : "closed", poll.multipleChoice ? "several choices" : "one choice", poll.anonymous ? "anonymous" : "named"];
    fieldset.append(el("legend", "", `${poll.question} (${notes.join(", ")})`));
    const results = new Map((poll.results?.options ?? []).map((result) => [result.optionId, result]));
    for (const option of poll.options) {
      const label = el("label");
      const input = el("input");
      input.type = poll.multipleChoice ? "checkbox" : "radio";
      input.name = `poll-${poll.pollId}`;
      input.value = option.optionId;
      input.checked = ticked.has(option.optionId);
      input.disabled = !mayVote;
      input.addEventListener("change", () => {
        const now = new Set(poll.multipleChoice ? (this.choosing.get(poll.pollId) ?? ticked) : []);
        if (input.checked) now.add(option.optionId);
        else now.delete(option.optionId);
        this.choosing.set(poll.pollId, now);
      });
      label.append(input, ` ${option.text}`);
      fieldset.append(label);
      const result = results.get(option.optionId);
      if (result) {
        const named = new Set(result.voterIds);
        for (const [userId, chosen] of panel.voters.get(poll.pollId) ?? []) {
          if (chosen.includes(option.optionId)) named.add(userId);
          else named.delete(userId);
        }
        const voters = !poll.anonymous && named.size > 0 ? ` — ${[...named].map((id) => panel.nameOf(id)).join(", ")}` : "";
        const line = el("div", "result", `${result.voteCount} vote${result.voteCount === 1 ? "" : "s"} (${Math.round(result.percent)}%)${voters}`);
        line.dataset.testid = "poll-result";
        const outer = el("div", "bar-outer");
        const inner = el("div", "bar-inner");
        inner.style.width = `${Math.min(100, result.percent)}%`;
        outer.append(inner);
        outer.setAttribute("aria-hidden", "true");
        fieldset.append(line, outer);
      }
    }
    card.append(fieldset);
    if (!poll.results) card.append(el("div", "result", "Results are shown when the poll closes."));
    else card.append(el("div", "result", `${poll.results.voterCount} voted`));
    const actions = el("div", "foot");
    if (mayVote) {
      actions.append(button(mine.size > 0 ? "Change vote" : "Vote", "vote", () =>
        void this.vote(poll, [...(this.choosing.get(poll.pollId) ?? ticked)]), "small primary"));
      if (mine.size > 0) actions.append(button("Withdraw vote", "withdraw-vote", () => void this.vote(poll, [])));
    }
    if (panel.instructor) {
      const request = { sessionId: panel.sessionId, pollId: poll.pollId };
      actions.append(open
        ? button("Close", "close-poll", () => void this.run(poll.pollId, () => this.client.closePoll(request)))
        : button("Reopen", "reopen-poll", () => void this.run(poll.pollId, () => this.client.reopenPoll(request))));
      actions.append(button("Delete", "delete-poll", () => void this.run(poll.pollId, () => this.client.deletePoll(request)), "small danger"));
    }
    card.append(actions);
    const refusal = el("div", "refusal");
    refusal.setAttribute("role", "alert");
    refusal.dataset.testid = "poll-error";
    report(refusal, this.refusals.get(poll.pollId) ?? "");
    card.append(refusal);
    return card;
  }
}

