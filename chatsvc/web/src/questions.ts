// The Q&A queue: anyone asks (optionally anonymous to other participants), upvotes
// others' open questions, withdraws their own; instructors pin one as "now answering",
// answer (in writing or live) and dismiss. Open questions rank by upvotes, then age.

import { QuestionState, type Event, type Question } from "./gen/sessionchat/v1/chat_pb";
import { button, el, report } from "./dom";
import type { ChatPanel } from "./chat";

type Kind = Event["kind"];

export class QuestionsView {
  private list = new Map<string, Question>();
  private authors = new Map<string, string>(); // question id -> asker's name (instructors, and the asker)
  private refusals = new Map<string, string>();
  private answering = "";
  private focusAnswer = false;
  private drafts = new Map<string, string>(); // answers being written survive re-renders

  constructor(private readonly panel: ChatPanel) {
    panel.$("question-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.ask();
    });
  }

  private get client() {
    return this.panel.connection.client;
  }

  reset(questions: Question[]): void {
    this.list = new Map(questions.map((question) => [question.questionId, question]));
    this.authors.clear();
    this.render();
  }

  /** Follows the feed's Q&A events; false for any other event. */
  follow(kind: Kind): boolean {
    switch (kind.case) {
      case "questionAsked":
        this.list.set(kind.value.questionId, kind.value);
        break;
      case "questionAuthor":
        this.authors.set(kind.value.questionId, kind.value.askerName || kind.value.askerId);
        break;
      case "questionUpvotesChanged": {
        const question = this.list.get(kind.value.questionId);
        if (question) question.upvoteCount = kind.value.upvoteCount;
        break;
      }
      case "questionAnswered":
      case "questionDismissed":
      case "questionWithdrawn":
      case "questionPinned":
      case "questionUnpinned":
        if (kind.value.question) this.update(kind.value.question);
        break;
      default:
        return false;
    }
    this.render();
    return true;
  }

  /** A newer state of a question: what events leave out (my upvote, a hidden asker I know) is kept. */
  private update(question: Question): void {
    const known = this.list.get(question.questionId);
    if (known) {
      question.upvotedByMe = known.upvotedByMe;
      if (!question.askerId) [question.askerId, question.askerName] = [known.askerId, known.askerName];
    }
    if (question.pinned) for (const other of this.list.values()) other.pinned = false;
    this.list.set(question.questionId, question);
  }

  private async ask(): Promise<void> {
    const text = this.panel.$<HTMLTextAreaElement>("question-text");
    const anonymous = this.panel.$<HTMLInputElement>("question-anonymous");
    const done = await this.panel.actions.act(this.panel.$("questions-error"), () =>
      this.client.askQuestion({ sessionId: this.panel.sessionId, text: text.value, anonymous: anonymous.checked }));
    if (done) {
      if (done.value.question) this.list.set(done.value.question.questionId, done.value.question);
      this.panel.$<HTMLFormElement>("question-form").reset();
      this.render();
    }
  }

  private async run(question: Question, call: () => Promise<{ question?: Question }>): Promise<void> {
    const id = question.questionId;
    const done = await this.panel.actions.act((text) => {
      if ((this.refusals.get(id) ?? "") === text) return;
      if (text) this.refusals.set(id, text);
      else this.refusals.delete(id);
      this.render();
    }, call);
    const answer = done?.value.question;
    if (answer) {
      const upvoted = answer.upvotedByMe; // the answer to my own call knows; events for everyone do not
      this.update(answer);
      answer.upvotedByMe = upvoted;
      this.render();
    }
  }

  render(): void {
    const mine = this.panel.me?.userId ?? "";
    const shown = [...this.list.values()].filter((q) => q.state !== QuestionState.WITHDRAWN
      && (q.state !== QuestionState.DISMISSED || this.panel.instructor || q.askerId === mine));
    const open = shown.filter((q) => q.state === QuestionState.OPEN).sort((a, b) =>
      Number(b.pinned) - Number(a.pinned) || b.upvoteCount - a.upvoteCount || seconds(a) - seconds(b));
    const done = shown.filter((q) => q.state !== QuestionState.OPEN).sort((a, b) => seconds(b, true) - seconds(a, true));
    const container = this.panel.$("questions");
    container.replaceChildren(...[...open, ...done].map((question) => this.item(question)));
    if (shown.length === 0) container.append(el("p", "", "No questions yet."));
  }

  private item(question: Question): HTMLElement {
    const panel = this.panel;
    const request = { sessionId: panel.sessionId, questionId: question.questionId };
    const open = question.state === QuestionState.OPEN;
    const own = question.askerId !== "" && question.askerId === panel.me?.userId;
    const item = el("div", `question${question.pinned ? " pinned" : ""}`);
    item.dataset.testid = "question";
    item.dataset.questionId = question.questionId;
    if (question.pinned) item.append(el("div", "now", "Now answering"));
    item.append(el("p", "text", question.text));
    const known = this.authors.get(question.questionId);
    const name = known || question.askerName;
    const asker = question.anonymous ? (name ? `Anonymous — ${name}` : "Anonymous") : question.askerName;
    const byline = el("div", "result", `${own ? "You" : asker}${own && question.anonymous ? " (anonymous to others)" : ""}`);
    byline.dataset.testid = "question-asker";
    item.append(byline);
    if (question.state === QuestionState.ANSWERED) {
      const answer = el("div", "answer", question.answerText
        ? `Answer: ${question.answerText}${question.answeredLive ? " (also answered live)" : ""}`
        : "Answered live");
      answer.dataset.testid = "question-answer";
      item.append(answer);
    } else if (question.state === QuestionState.DISMISSED) {
      item.append(el("div", "result", "Dismissed by the instructor"));
    }
    const foot = el("div", "foot");
    const votes = `▲ ${question.upvoteCount}`;
    if (open && !own) {
      const upvote = button(votes, "upvote", () => void this.run(question, () => question.upvotedByMe
        ? this.client.retractQuestionUpvote(request) : this.client.upvoteQuestion(request)), "small chip");
      upvote.setAttribute("aria-pressed", String(question.upvotedByMe));
      upvote.setAttribute("aria-label", `Upvote, ${question.upvoteCount} so far${question.upvotedByMe ? ", including you" : ""}`);
      foot.append(upvote);
    } else {
      const count = el("span", "result", votes);
      count.dataset.testid = "upvotes";
      count.setAttribute("aria-label", `${question.upvoteCount} upvotes`);
      foot.append(count);
    }
    if (open && own) foot.append(button("Withdraw", "withdraw-question", () => void this.run(question, () => this.client.withdrawQuestion(request))));
    if (open && panel.instructor) {
      foot.append(question.pinned
        ? button("Unpin", "unpin-question", () => void this.run(question, () => this.client.unpinQuestion(request)))
        : button("Now answering", "pin-question", () => void this.run(question, () => this.client.pinQuestion(request))));
      foot.append(button("Answer", "answer-question", () => {
        this.answering = question.questionId;
        this.focusAnswer = true;
        this.render();
      }));
      foot.append(button("Dismiss", "dismiss-question", () => void this.run(question, () => this.client.dismissQuestion(request)), "small danger"));
    }
    item.append(foot);
    if (open && panel.instructor && this.answering === question.questionId) item.append(this.answerForm(question));
    const refusal = el("div", "refusal");
    refusal.setAttribute("role", "alert");
    refusal.dataset.testid = "question-error";
    report(refusal, this.refusals.get(question.questionId) ?? "");
    item.append(refusal);
    return item;
  }

  private answerForm(question: Question): HTMLElement {
    const form = el("form", "answer-form");
    const label = el("label", "", "Answer ");
    const text = el("textarea");
    text.rows = 2;
    text.dataset.testid = "answer-text";
    text.value = this.drafts.get(question.questionId) ?? "";
    text.addEventListener("input", () => this.drafts.set(question.questionId, text.value));
    label.append(text);
    const live = button("Answered live", "answered-live", () => void send(true));
    const submit = el("button", "small primary", "Post answer");
    submit.type = "submit";
    submit.dataset.testid = "post-answer";
    form.append(label, submit, live);
    const send = async (answeredLive: boolean) => {
      const request = { sessionId: this.panel.sessionId, questionId: question.questionId, answerText: text.value, answeredLive };
      await this.run(question, () => this.client.answerQuestion(request));
      if (!this.refusals.has(question.questionId)) {
        this.answering = "";
        this.drafts.delete(question.questionId);
      }
      this.render();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void send(false);
    });
    if (this.focusAnswer) {
      this.focusAnswer = false;
      queueMicrotask(() => text.focus());
    }
    return form;
  }
}

function seconds(question: Question, closed = false): number {
  const stamp = closed ? (question.closeTime ?? question.createTime) : question.createTime;
  return stamp ? Number(stamp.seconds) + stamp.nanos / 1e9 : 0;
}
