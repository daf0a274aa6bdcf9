// The panel's markup and styles, inside the <session-chat> element's shadow root:
// nothing here leaks into the host page and the host's styles do not leak in.

const STYLES = `
:host([hidden]) { display: none; }
:host { display: block; container-type: inline-size; font: 15px/1.4 system-ui, sans-serif; color: #1d2330; --accent: #23395d; --muted: #4a5568; --line: #d5dbe6; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
button, input, select, textarea { font: inherit; }
button { padding: .3rem .7rem; border: 1px solid var(--accent); background: #fff; color: var(--accent); border-radius: 4px; cursor: pointer; min-height: 2rem; }
button.primary { background: var(--accent); color: #fff; }
button.small { padding: .1rem .45rem; font-size: .85rem; min-height: 1.8rem; }
button.danger { border-color: #9b2c2c; color: #9b2c2c; }
button[aria-pressed=true], button[aria-selected=true] { background: #dde6f5; }
button:disabled { border-color: #8a94a6; color: #4a5568; background: #eef1f6; cursor: not-allowed; }
:focus-visible { outline: 3px solid #1a56db; outline-offset: 1px; }
input, select, textarea { padding: .3rem .45rem; border: 1px solid #6b7a90; border-radius: 4px; background: #fff; color: inherit; min-width: 0; }
.bar { display: flex; flex-wrap: wrap; gap: .2rem .8rem; align-items: baseline; padding: .4rem .2rem; }
#you { font-weight: 600; }
#status { font-size: .85rem; color: var(--muted); }
#status.live { color: #22543d; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr) 17rem; gap: .8rem; }
/* The element's own width decides (a side panel on a wide page is narrow too). */
@container (max-width: 720px) { .layout { grid-template-columns: minmax(0, 1fr); } }
.conversation { min-width: 0; display: flex; flex-direction: column; gap: .3rem; }
.policy { font-size: .85rem; color: var(--muted); }
#tabs { display: flex; flex-wrap: wrap; gap: .3rem; }
#tabs .badge { background: #9b2c2c; color: #fff; border-radius: 8px; padding: 0 .35rem; margin-left: .3rem; font-size: .75rem; }
#pins { background: #fffbea; border: 1px solid #e6d28a; border-radius: 6px; padding: .3rem .5rem; font-size: .9rem; }
#pins h2 { font-size: .85rem; margin: 0 0 .2rem; }
#pins ul { list-style: none; margin: 0; padding: 0; }
#pins li { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; }
#feed { list-style: none; margin: 0; padding: .3rem; background: #fff; border: 1px solid var(--line); border-radius: 6px; height: var(--feed-height, 26rem); overflow-y: auto; overflow-x: hidden; }
#feed > li { padding: .3rem .4rem; border-bottom: 1px solid #eef1f6; overflow-wrap: anywhere; contain: content; }
#feed > li.mine { background: #f0f5ff; border-left: 3px solid #3b5b92; }
#feed > li.private { background: #fdf6e3; }
#feed > li.mentions-me { background: #fff3bf; border-left: 3px solid #8a6d00; }
#feed > li.deleted .text { color: var(--muted); font-style: italic; }
#feed > li.notice { color: var(--muted); font-size: .85rem; }
#feed > li.older { text-align: center; color: var(--muted); font-size: .85rem; }
.head { display: flex; flex-wrap: wrap; gap: .1rem .45rem; align-items: baseline; }
.sender { font-weight: 600; }
.tag { font-size: .72rem; background: #dde6f5; color: #1d2330; border-radius: 3px; padding: 0 .3rem; }
time { font-size: .78rem; color: var(--muted); }
.quote { display: block; border-left: 3px solid #8a94a6; padding-left: .4rem; margin: .1rem 0; font-size: .85rem; color: var(--muted); }
.mention { font-weight: 600; color: #22408a; }
.text { display: block; white-space: pre-wrap; }
.foot { display: flex; flex-wrap: wrap; gap: .3rem; align-items: center; margin-top: .15rem; }
.chip { padding: 0 .4rem; min-height: 1.7rem; border-color: #a0aec0; color: #1d2330; }
.tools-button { margin-left: auto; }
.menu { display: flex; flex-wrap: wrap; gap: .3rem; margin-top: .3rem; padding: .35rem; background: #f3f5f9; border: 1px solid var(--line); border-radius: 6px; }
.who { font-size: .85rem; color: #1d2330; flex-basis: 100%; }
.refusal { color: #9b2c2c; font-size: .85rem; }
#typing { min-height: 1.3rem; font-size: .85rem; color: var(--muted); font-style: italic; }
#composer { display: grid; gap: .25rem; position: relative; }
#composer .row { display: flex; gap: .4rem; }
#composer .row input { flex: 1; }
#replying { font-size: .85rem; background: #eef1f6; border-radius: 4px; padding: .2rem .4rem; display: flex; gap: .4rem; align-items: center; }
#replying span { flex: 1; overflow-wrap: anywhere; }
#composer-note { font-size: .85rem; color: #744210; min-height: 1.2rem; }
#mention-list { position: absolute; bottom: 100%; left: 0; list-style: none; margin: 0; padding: .2rem; background: #fff; border: 1px solid #6b7a90; border-radius: 4px; max-width: 100%; z-index: 2; }
#mention-list li { padding: .2rem .5rem; cursor: pointer; }
#mention-list li[aria-selected=true] { background: #dde6f5; }
aside { min-width: 0; }
aside section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .45rem .6rem; margin-bottom: .6rem; }
aside h2 { font-size: .95rem; margin: 0 0 .3rem; }
aside ul, aside ol { margin: 0; padding: 0 0 0 1.2rem; font-size: .9rem; }
aside li { padding: .1rem 0; }
aside li .actions { display: inline-flex; flex-wrap: wrap; gap: .25rem; margin-left: .3rem; }
aside form { display: grid; gap: .35rem; font-size: .9rem; }
aside label { display: block; }
aside label select, aside label input:not([type=checkbox]) { margin-left: .3rem; }
dialog label { display: block; }
.poll { border-top: 1px solid #eef1f6; padding: .3rem 0; }
.poll fieldset { border: 0; margin: 0; padding: 0; display: grid; gap: .15rem; }
.poll legend { font-weight: 600; padding: 0; }
.poll .result { font-size: .85rem; color: var(--muted); }
.poll .bar-outer { height: .4rem; background: #eef1f6; border-radius: 2px; }
.poll .bar-inner { height: .4rem; background: #3b5b92; border-radius: 2px; }
.question { border-top: 1px solid #eef1f6; padding: .3rem 0; display: grid; gap: .15rem; }
.question.pinned { background: #fff8e1; padding: .3rem; border-radius: 4px; }
.question .now { font-size: .8rem; font-weight: 600; color: #7a4f00; }
.question .text { margin: 0; overflow-wrap: anywhere; }
.question .answer { font-size: .9rem; overflow-wrap: anywhere; }
.question .result { font-size: .85rem; color: var(--muted); }
.answer-form, #question-form { display: grid; gap: .25rem; }
.answer-form textarea, #question-text { width: 100%; box-sizing: border-box; }
#error { color: #9b2c2c; font-size: .9rem; }
dialog { border: 1px solid #6b7a90; border-radius: 6px; max-width: min(24rem, 92vw); }
dialog form { display: grid; gap: .5rem; }
`;

export const PANEL_HTML = `
<style>${STYLES}</style>
<div class="bar"><span id="you" data-testid="you"></span><span id="status" data-testid="status" role="status">not connected</span></div>
<div id="error" role="alert" data-testid="error" hidden></div>
<div id="announcer" class="visually-hidden" aria-live="polite" data-testid="announcer"></div>
<div class="layout">
  <section class="conversation" aria-label="Chat">
    <div id="policy" class="policy" data-testid="policy"></div>
    <div id="tabs" role="tablist" aria-label="Conversations" data-testid="tabs"></div>
    <section id="pins" aria-labelledby="pins-title" data-testid="pins" hidden><h2 id="pins-title">📌 Pinned</h2><ul id="pin-list"></ul><div class="refusal" id="pins-error" role="alert" hidden></div></section>
    <ol id="feed" data-testid="feed" tabindex="0" aria-label="Messages"></ol>
    <div id="typing" data-testid="typing"></div>
    <form id="composer" data-testid="composer">
      <div id="replying" data-testid="replying" hidden><span></span><button type="button" class="small" data-testid="cancel-reply" aria-label="Cancel reply">✕</button></div>
      <ul id="mention-list" role="listbox" aria-label="People to mention" data-testid="mention-list" hidden></ul>
      <div class="row">
        <label for="text" class="visually-hidden">Message</label>
        <input id="text" data-testid="text" autocomplete="off" placeholder="Write a message" maxlength="2000"
          role="combobox" aria-autocomplete="list" aria-controls="mention-list" aria-expanded="false" aria-describedby="composer-note">
        <button class="primary" type="submit" data-testid="send">Send</button>
      </div>
      <div id="composer-note" data-testid="composer-note"></div>
      <div id="composer-error" class="refusal" role="alert" data-testid="composer-error" hidden></div>
    </form>
  </section>
  <aside aria-label="Class">
    <section aria-labelledby="hands-title">
      <h2 id="hands-title">Raised hands</h2>
      <button id="hand" type="button" data-testid="hand">✋ Raise hand</button>
      <p id="no-hands" class="policy">No hands raised.</p>
      <ol id="hands" data-testid="hands"></ol>
      <div id="hands-error" class="refusal" role="alert" data-testid="hands-error" hidden></div>
    </section>
    <section aria-labelledby="online-title"><h2 id="online-title">Online</h2><ul id="online" data-testid="online"></ul></section>
    <section aria-labelledby="polls-title" data-testid="polls-section">
      <h2 id="polls-title">Polls</h2>
      <div id="polls" data-testid="polls"></div>
      <details id="poll-create" hidden><summary>New poll</summary>
        <form id="poll-form" data-testid="poll-form">
          <label>Question <input id="poll-question" data-testid="poll-question" required maxlength="300"></label>
          <label>Options, one per line <textarea id="poll-options" data-testid="poll-options" rows="3" required></textarea></label>
          <label><input type="checkbox" id="poll-multiple" data-testid="poll-multiple"> Several choices</label>
          <label><input type="checkbox" id="poll-anonymous" data-testid="poll-anonymous"> Anonymous</label>
          <label><input type="checkbox" id="poll-hidden" data-testid="poll-hidden"> Results hidden until closed</label>
          <button type="submit" class="primary" data-testid="poll-create">Start poll</button>
        </form>
      </details>
      <div id="polls-error" class="refusal" role="alert" data-testid="polls-error" hidden></div>
    </section>
    <section aria-labelledby="questions-title" data-testid="questions-section">
      <h2 id="questions-title">Questions</h2>
      <div id="questions" data-testid="questions"></div>
      <form id="question-form" data-testid="question-form">
        <label for="question-text">Ask a question</label>
        <textarea id="question-text" data-testid="question-text" rows="2" required maxlength="2000"></textarea>
        <label><input type="checkbox" id="question-anonymous" data-testid="question-anonymous"> Anonymous to other participants</label>
        <button type="submit" class="primary" data-testid="ask">Ask</button>
      </form>
      <div id="questions-error" class="refusal" role="alert" data-testid="questions-error" hidden></div>
    </section>
    <section id="mutes-section" aria-labelledby="mutes-title"><h2 id="mutes-title">Muted</h2><ul id="mutes" data-testid="mutes"></ul>
      <div id="mutes-error" class="refusal" role="alert" hidden></div></section>
    <section id="settings" aria-labelledby="settings-title" hidden>
      <h2 id="settings-title">Chat settings</h2>
      <form id="policy-form" data-testid="policy-form">
        <label>Class chat <select id="policy-public" data-testid="policy-public">
          <option value="1">everyone writes</option><option value="2">instructors only</option></select></label>
        <label><input type="checkbox" id="policy-private" data-testid="policy-private"> Private messages to instructors</label>
        <label>Slow mode (seconds, 0 = off) <input id="policy-slow" data-testid="policy-slow" type="number" min="0" max="3600" size="5"></label>
        <button type="submit" data-testid="policy-apply">Apply</button>
      </form>
      <div id="policy-error" class="refusal" role="alert" data-testid="policy-error" hidden></div>
      <form id="export-form" data-testid="export-form">
        <label>Export <select id="export-format" data-testid="export-format">
          <option value="1">JSON</option><option value="2">CSV</option><option value="3">Text</option></select></label>
        <label><input type="checkbox" id="export-private" data-testid="export-private"> Include my private messages</label>
        <button type="submit" data-testid="export">Download</button>
      </form>
      <div id="export-error" class="refusal" role="alert" data-testid="export-error" hidden></div>
    </section>
  </aside>
</div>
<dialog id="mute-dialog" data-testid="mute-dialog" aria-labelledby="mute-title">
  <form id="mute-form" method="dialog">
    <h2 id="mute-title">Mute</h2>
    <label>For <select id="mute-minutes" data-testid="mute-minutes">
      <option value="5">5 minutes</option><option value="10" selected>10 minutes</option><option value="30">30 minutes</option>
      <option value="60">1 hour</option><option value="0">until unmuted</option></select></label>
    <label>Reason <input id="mute-reason" data-testid="mute-reason" maxlength="200"></label>
    <div id="mute-error" class="refusal" role="alert" data-testid="mute-error" hidden></div>
    <div class="row"><button type="submit" class="danger" value="mute" data-testid="mute-confirm">Mute</button>
    <button type="button" id="mute-cancel" data-testid="mute-cancel">Cancel</button></div>
  </form>
</dialog>
`;
