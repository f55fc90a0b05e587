// Drive the Microsoft 365 Agents Playground web UI like a person would, with playwright-core
// and Debian's Chromium (no browser download).
//
//   node tests/e2e/playground_chat.mjs <ui-url> <screenshot-dir> [steps-json]
//
// steps-json is a JSON array of steps, or {"bot": "Carrefour", "steps": [...]} (the bot's
// display name in the Playground's config: how its messages are told apart in a channel).
// Each step does one thing and waits for the bot's answer:
//   { "open": "CdeP Soins palliatifs" }   // pick a conversation: "Personal Chat", "Group Chat"
//                                        // or a channel by name (the first step, when it is not
//                                        // an "open", opens "Personal Chat")
//   { "send": "aide",                    // type a message: Enter in a chat; in a channel, a new
//     "mention": "Carrefour",            // post (button "Post"); "mention" first picks that name
//                                        // in the compose box's @mention menu (a channel's bot
//                                        // answers only when mentioned)
//     "inThread": ["Question à la…"] }   // in a channel, a reply in the newest thread showing
//                                        // every one of these texts (its reply box) instead
//   { "click": "Publier dans le canal",  // click a button by its title on the newest bot message
//     "in": ["Ordre du jour"],           // showing every text of "in" (default: any message)
//     "fill": { "Date": "2027-01-15",    // first fill that card's inputs, by label (or by
//               "Début": "13:00",        // placeholder): text, Input.Date (ISO date, picked in
//               "Formule": "Virtuelle",  // the calendar), Input.Time (HH:MM, picked in the list),
//               "Rappels": true },       // Input.ChoiceSet (a choice's title), Input.Toggle (bool)
//     "optional": true }                 // no such button on screen: the step is skipped
// and every "send" or "click" step — or "open", then for what the conversation shows — may have:
//     "expect": ["Carrefour — …"],       // texts one bot message, new or updated, must show
//     "card": true,                      // the texts must be in one rendered card
//     "alsoExpect": ["Ordre du jour publié."],  // and each of these in some bot message
//     "screenshot": "help-fr.png",       // the whole window, file name under <screenshot-dir>
//     "cardScreenshot": "help-card-fr.png",  // (with "card") the matching card alone
//     "label": "rsvp",                   // how the report names the step (default: the text
//                                        // sent, or "click:<title>")
//     "timeoutMs": 60000
// A bot message counts when it appeared or changed after the step began, so a card updated in
// place (a clicked card replaced) and a reply that arrives later on its own (a proactive message
// from the outbox) are waited for like a direct answer.
// Without steps-json, DEFAULT_STEPS below are used.
//
// Prints one JSON line on stdout: {"ok": true, "startupMs", "steps": [{"label",
// "send" | "click" | "open", "elapsedMs", "replies": [{"author", "text", "cards": [{"text",
// "buttons": [...]}]}]}]}: what
// the person saw after each step (bot messages new or changed), "skipped": true for an optional
// click whose button was not there. The caller asserts on it. Exits 1
// with "playground_chat: ..." on stderr (and a screenshot, failure.png or $FAILURE_SCREENSHOT) on
// failure.
//
// DOM facts (Playground 0.2.x; classes are hashed, so only these are relied upon):
// - the conversation list is role=tree of role=treeitem named "Personal Chat", "Group Chat",
//   "<team> - <channel>";
// - in a chat, the message box is the contenteditable role=textbox; every message has a child
//   [aria-label="Message header"], with [aria-label="Message author"] in bot messages only;
// - in a channel, each thread is a Fluent .fui-Card: .fui-CardHeader (the post's author avatar,
//   role=img named after the person), the post, its replies (each with an avatar and a
//   "Show more information" button), and a .fui-CardFooter with the reply box; the newest thread
//   is on top, under the "Start a new post" box and its "Post" button;
// - the @mention menu is role=menuitem entries named after the people and the bot;
// - Adaptive Cards render as .ac-adaptiveCard (the AdaptiveCards JS renderer with Fluent UI
//   inputs: <label class="ac-richTextBlock" for=…>, DatePicker with a "Calendar" dialog,
//   TimePicker and ChoiceSet as comboboxes with role=option entries), actions as buttons whose
//   accessible name is the action title; hero cards as [data-tid="hero-card"].
// - Each page load makes the Playground send installationUpdate + conversationUpdate, so the bot
//   may post a welcome at any time early on: replies are only those after the step began.

import fs from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

// The Playground always sends locale "en-US", so French is chosen explicitly first.
const DEFAULT_STEPS = [
  { send: 'langue fr', expect: [] },
  {
    send: 'aide',
    expect: ['Carrefour — vos communautés de pratique'],
    card: true,
    screenshot: 'help-fr.png',
  },
  { send: 'language en', expect: [] },
  {
    send: 'help',
    expect: ['Carrefour — your communities of practice'],
    card: true,
    screenshot: 'help-en.png',
  },
];

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const CHATS = new Set(['Personal Chat', 'Group Chat']);
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

function fail(message) {
  const error = new Error(message);
  error.isStepFailure = true;
  throw error;
}

function parseArgs(argv) {
  const [url, outDir, stepsJson] = argv;
  if (!url || !outDir) {
    console.error('usage: node playground_chat.mjs <ui-url> <screenshot-dir> [steps-json]');
    process.exit(2);
  }
  let plan = { bot: 'Carrefour', steps: DEFAULT_STEPS };
  if (stepsJson) {
    let parsed;
    try {
      parsed = JSON.parse(stepsJson);
    } catch (error) {
      console.error(`playground_chat: steps are not valid JSON: ${error.message}`);
      process.exit(2);
    }
    plan = Array.isArray(parsed) ? { ...plan, steps: parsed } : { ...plan, ...parsed };
  }
  const actions = (s) => ['open', 'send', 'click'].filter((key) => typeof s?.[key] === 'string');
  if (!Array.isArray(plan.steps) || plan.steps.some((s) => actions(s).length !== 1)) {
    console.error('playground_chat: each step needs exactly one of "open", "send", "click"');
    process.exit(2);
  }
  return { url, outDir, ...plan };
}

// -- reading the conversation ------------------------------------------------------------------

// Runs in the page: the messages of the open conversation, oldest first. Each has a `key` that
// stays the same while it is on screen (a thread's age and the message's place in it), so a
// message updated in place is recognised; its cards are tagged data-e2e-card="<key>/<n>" and
// the message's elements data-e2e-message="<key>" for the locators below.
function readMessages({ mode, bot }) {
  const topLevelCards = (roots) =>
    roots.flatMap((root) =>
      [...root.querySelectorAll('.ac-adaptiveCard, [data-tid="hero-card"]')].filter(
        (card) => !card.parentElement.closest('.ac-adaptiveCard, [data-tid="hero-card"]'),
      ),
    );
  const describe = (key, author, fromBot, roots) => {
    roots.forEach((root) => root.setAttribute('data-e2e-message', key));
    const cards = topLevelCards(roots).map((card, n) => {
      card.setAttribute('data-e2e-card', `${key}/${n}`);
      return {
        text: card.innerText.trim(),
        buttons: [...card.querySelectorAll('button')]
          .map((b) => (b.getAttribute('aria-label') || b.innerText || '').trim())
          .filter(Boolean),
      };
    });
    const text = roots.map((root) => root.innerText.trim()).filter(Boolean).join('\n');
    return { key, author, fromBot, text, cards };
  };

  if (mode === 'chat') {
    return [...document.querySelectorAll('[aria-label="Message header"]')].map((header, n) => {
      const author = header.querySelector('[aria-label="Message author"]');
      return describe(
        `c${n}`,
        author ? author.innerText.trim() : null,
        author !== null,
        [header.parentElement],
      );
    });
  }

  // A channel: threads newest first on screen, so they are read bottom-up.
  const threads = [...document.querySelectorAll('.fui-Card')].filter((card) =>
    card.querySelector('button[aria-label="Send Message"]'),
  );
  const found = [];
  threads.reverse().forEach((thread, age) => {
    const more = [...thread.querySelectorAll('button[aria-label="Show more information"]')];
    const header = thread.querySelector('.fui-CardHeader');
    const rootAuthor = header?.querySelector('.fui-Avatar')?.getAttribute('aria-label') ?? null;
    const rootParts = [...thread.children].filter(
      (child) =>
        !child.matches('.fui-CardHeader, .fui-CardFooter, [role="separator"]') &&
        !more.some((button) => child.contains(button)),
    );
    found.push(describe(`t${age}:0`, rootAuthor, rootAuthor === bot, rootParts));
    more
      .filter((button) => !header?.contains(button))
      .forEach((button, n) => {
        let row = button.parentElement;
        while (row && !row.querySelector('.fui-Avatar')) row = row.parentElement;
        const reply = row?.parentElement;
        if (!reply) return;
        const author = row.querySelector('.fui-Avatar').getAttribute('aria-label');
        found.push(describe(`t${age}:${n + 1}`, author, author === bot, [reply]));
      });
  });
  return found;
}

async function messages(page, session) {
  return page.evaluate(readMessages, { mode: session.mode, bot: session.bot });
}

async function waitFor(page, what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last.done) return last;
    if (Date.now() > deadline) {
      fail(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${last.detail}`);
    }
    await page.waitForTimeout(250);
  }
}

function cardMatches(card, step) {
  return (step.expect ?? []).every((text) => card.text.includes(text));
}

function replyMatches(reply, step) {
  if (step.card) return reply.cards.some((card) => cardMatches(card, step));
  return (step.expect ?? []).every((text) => reply.text.includes(text));
}

// Bot messages that appeared, or whose text changed, since `before` (key → text).
function freshReplies(all, before) {
  return all.filter((m) => m.fromBot && before.get(m.key) !== m.text);
}

// -- screenshots --------------------------------------------------------------------------------

// Runs in the page: how many pixels of the element its scrolling ancestors and the window hide.
function hiddenPixels(element) {
  const own = element.getBoundingClientRect();
  let top = Math.max(own.top, 0);
  let bottom = Math.min(own.bottom, window.innerHeight);
  for (let node = element.parentElement; node; node = node.parentElement) {
    if (getComputedStyle(node).overflowY === 'visible') continue;
    const clip = node.getBoundingClientRect();
    top = Math.max(top, clip.top);
    bottom = Math.min(bottom, clip.bottom);
  }
  return Math.max(0, own.height - Math.max(0, bottom - top));
}

// The whole card, even when it is taller than the chat pane: the window grows for the shot.
async function screenshotCard(page, card, file) {
  const original = page.viewportSize();
  try {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await card.scrollIntoViewIfNeeded();
      const hidden = await card.evaluate(hiddenPixels);
      if (hidden < 1) break;
      const current = page.viewportSize();
      await page.setViewportSize({ width: current.width, height: current.height + Math.ceil(hidden) + 40 });
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve())));
    }
    await card.scrollIntoViewIfNeeded();
    await card.screenshot({ path: file });
  } finally {
    await page.setViewportSize(original);
  }
}

// Fonts, images and layout settle after a card is in the DOM; screenshots are for people.
async function settle(page, card) {
  await card.scrollIntoViewIfNeeded();
  await card.locator('button').first().waitFor({ state: 'visible', timeout: 10_000 }).catch(() => {});
  await page.evaluate(() => document.fonts.ready);
}

// -- acting ---------------------------------------------------------------------------------

async function open(page, session, name) {
  const item = CHATS.has(name)
    ? page.getByRole('treeitem', { name, exact: true })
    : page.getByRole('treeitem').filter({ has: page.getByText(name, { exact: true }) }).first();
  await item.waitFor({ state: 'visible', timeout: 60_000 });
  await item.click();
  session.mode = CHATS.has(name) ? 'chat' : 'channel';
  await composeBox(page, session).waitFor({ state: 'visible', timeout: 30_000 });
}

function composeBox(page, session) {
  if (session.mode === 'chat') return page.locator('[role="textbox"][contenteditable="true"]').first();
  return postForm(page).getByRole('textbox');
}

function postForm(page) {
  return page.getByRole('group').filter({ has: page.getByRole('button', { name: 'Post', exact: true }) });
}

// The newest channel thread showing every text of `texts` (its reply box, its send button).
function threadShowing(page, texts) {
  let threads = page.locator('.fui-Card').filter({ has: page.locator('button[aria-label="Send Message"]') });
  for (const text of texts) threads = threads.filter({ hasText: text });
  return threads.first();
}

async function type(page, session, step) {
  const thread = step.inThread ? threadShowing(page, step.inThread) : null;
  if (thread && session.mode !== 'channel') fail('"inThread" needs a channel open');
  const box = thread ? thread.locator('.fui-CardFooter').getByRole('textbox') : composeBox(page, session);
  await box.click();
  if (step.mention) {
    // The menu opens on "@" and narrows as the name is typed, like a person would use it.
    await box.pressSequentially(`@${step.mention.slice(0, 3)}`);
    // Its accessible name repeats the avatar's label ("Carrefour Carrefour"): match the text.
    const entry = page.getByRole('menuitem').filter({ hasText: exactly(step.mention) });
    await entry.waitFor({ state: 'visible', timeout: 10_000 });
    await entry.click();
    await box.pressSequentially(` ${step.send}`);
  } else if (session.mode === 'chat') {
    await box.fill(step.send);
  } else {
    await box.pressSequentially(step.send);
  }
  if (session.mode === 'chat') await box.press('Enter');
  else if (thread) await thread.locator('button[aria-label="Send Message"]').click();
  else await postForm(page).getByRole('button', { name: 'Post', exact: true }).click();
}

// The newest bot message showing every text of `step.in` with a button titled `step.click`;
// its element carries data-e2e-message, so the locator is that message's button.
async function clickTarget(page, session, step) {
  const within = step.in ?? [];
  const all = await messages(page, session);
  const target = all
    .filter((m) => m.fromBot && within.every((text) => m.text.includes(text)))
    .filter((m) => m.cards.some((card) => card.buttons.includes(step.click)))
    .at(-1);
  if (!target) return null;
  const at = target.cards.findIndex((card) => card.buttons.includes(step.click));
  return page.locator(`[data-e2e-card="${target.key}/${at}"]`);
}

// The input an Adaptive Card labels `name` (or, unlabelled, shows `name` as its placeholder).
async function cardInput(card, name) {
  const labels = card.locator('label.ac-richTextBlock');
  const count = await labels.count();
  for (let n = 0; n < count; n += 1) {
    const label = labels.nth(n);
    const text = (await label.innerText()).replace(/\s*\*\s*$/, '').trim();
    if (text === name) return card.locator(`[id="${await label.getAttribute('for')}"]`);
  }
  const byPlaceholder = card.getByPlaceholder(name, { exact: true });
  if ((await byPlaceholder.count()) > 0) return byPlaceholder.first();
  fail(`no input labelled ${JSON.stringify(name)} on the card`);
}

function exactly(text) {
  return new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
}

function twelveHour(value) {
  const [hours, minutes] = value.split(':').map(Number);
  return `${hours % 12 || 12}:${String(minutes).padStart(2, '0')} ${hours < 12 ? 'AM' : 'PM'}`;
}

// Input.Date: the calendar, month by month, then the day (en-US names: the browser's locale).
async function pickDate(page, input, iso) {
  const [year, month, day] = iso.split('-').map(Number);
  await input.click();
  const calendar = page.getByRole('dialog', { name: 'Calendar' });
  await calendar.waitFor({ state: 'visible', timeout: 10_000 });
  const wanted = `${MONTHS[month - 1]} ${year}`;
  for (let turn = 0; turn < 36; turn += 1) {
    const shown = (await calendar.locator('button[aria-live], button span[aria-live]').first().innerText()).trim();
    if (shown === wanted) break;
    const [shownMonth, shownYear] = shown.split(' ');
    const later = year * 12 + month > Number(shownYear) * 12 + MONTHS.indexOf(shownMonth) + 1;
    await calendar.locator(`button[title^="${later ? 'Next month' : 'Previous month'}"]`).click();
  }
  await calendar.getByRole('button', { name: `${day}, ${MONTHS[month - 1]}, ${year}`, exact: true }).click();
  await calendar.waitFor({ state: 'hidden', timeout: 10_000 });
}

// A combobox (Input.ChoiceSet compact, Input.Time): open its list and pick the option.
async function pickOption(page, input, title) {
  await input.click();
  const option = page.getByRole('option', { name: title, exact: true });
  await option.first().waitFor({ state: 'visible', timeout: 10_000 });
  await option.first().click();
}

async function fill(page, card, values) {
  for (const [name, value] of Object.entries(values)) {
    const input = await cardInput(card, name);
    const kind = await input.evaluate((el) => {
      if (el.closest('.fui-DatePicker')) return 'date';
      if (el.closest('.fui-TimePicker')) return 'time';
      if (el.getAttribute('role') === 'combobox') return 'choice';
      if (el.matches('input[type="checkbox"]')) return 'toggle';
      if (el.querySelector('input[type="radio"], input[type="checkbox"]')) return 'choices';
      return 'text';
    });
    if (kind === 'date') await pickDate(page, input, String(value));
    else if (kind === 'time') await pickOption(page, input, twelveHour(String(value)));
    else if (kind === 'choice') await pickOption(page, input, String(value));
    else if (kind === 'toggle') await input.setChecked(Boolean(value));
    else if (kind === 'choices') {
      for (const title of [value].flat()) await input.getByLabel(String(title), { exact: true }).check();
    } else await input.fill(String(value));
  }
}

async function runStep(page, session, step, index, outDir) {
  if (step.open) {
    await open(page, session, step.open);
    // With "expect", what the conversation shows already counts (e.g. a proactive card posted
    // while this person was elsewhere): waited for, reported and shot like a reply.
    if (!step.expect) return null;
  }
  const timeoutMs = step.timeoutMs ?? 60_000;
  const action = step.open ? 'open' : step.send !== undefined ? 'send' : 'click';
  const name = step.label ?? (action === 'click' ? `click:${step.click}` : `${action === 'open' ? 'open:' : ''}${step[action]}`);
  const label = `step ${index + 1} (${action} ${JSON.stringify(step[action])})`;
  const started = Date.now();
  const before = step.open ? new Map() : new Map((await messages(page, session)).map((m) => [m.key, m.text]));

  if (step.open) {
    // Opened above: nothing to send or click.
  } else if (step.send !== undefined) {
    await type(page, session, step);
    // The person's own message first: then the replies are the bot's answer to it.
    await waitFor(page, `${label}: the sent message to show`, 15_000, async () => {
      const all = await messages(page, session);
      const mine = all.find((m) => !m.fromBot && !before.has(m.key) && m.text.includes(step.send));
      return { done: mine !== undefined, detail: `${all.length} messages` };
    });
  } else if (step.optional && !(await clickTarget(page, session, step))) {
    // A button only some versions show (checked once: the previous step waited for its card).
    return { label: name, click: step.click, skipped: true, elapsedMs: 0, replies: [] };
  } else {
    const found = await waitFor(page, `${label}: a card with that button${step.in ? ` showing ${JSON.stringify(step.in)}` : ''}`, 15_000, async () => {
      const card = await clickTarget(page, session, step);
      // The buttons on screen say why none matched (often a non-breaking space in a title).
      const buttons = (await messages(page, session)).flatMap((m) => m.cards.flatMap((c) => c.buttons));
      return { done: card !== null, card, detail: `buttons ${JSON.stringify(buttons)}` };
    });
    if (step.fill) await fill(page, found.card, step.fill);
    // Inputs committed: a card re-reads its inputs when the button is clicked.
    await found.card.getByRole('button', { name: step.click, exact: true }).first().click();
  }

  const seen = await waitFor(page, `${label}: a bot message showing ${JSON.stringify(step.expect ?? [])}${step.card ? ' in a card' : ''}`, timeoutMs, async () => {
    const replies = freshReplies(await messages(page, session), before);
    const match = replies.find((r) => replyMatches(r, step));
    const also = (step.alsoExpect ?? []).every((text) => replies.some((r) => r.text.includes(text)));
    return {
      done: match !== undefined && also,
      replies,
      match,
      detail: JSON.stringify(replies.map((r) => r.text.slice(0, 200))),
    };
  });

  const elapsedMs = Date.now() - started;
  let card = null;
  if (step.card) {
    const at = seen.match.cards.findIndex((c) => cardMatches(c, step));
    card = page.locator(`[data-e2e-card="${seen.match.key}/${at}"]`);
  }
  if (card && (step.screenshot || step.cardScreenshot)) await settle(page, card);
  if (step.screenshot) {
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: path.join(outDir, step.screenshot) });
  }
  if (step.cardScreenshot) {
    if (!card) fail(`${label}: "cardScreenshot" needs "card": true`);
    await screenshotCard(page, card, path.join(outDir, step.cardScreenshot));
  }
  const replies = seen.replies.map(({ author, text, cards }) => ({ author, text, cards }));
  const what = { [action]: step[action] };
  return { label: name, ...what, elapsedMs, replies };
}

async function main() {
  const { url, outDir, bot, steps } = parseArgs(process.argv.slice(2));
  fs.mkdirSync(outDir, { recursive: true });
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

  // launch() gives a fresh temporary profile (user-data-dir) and deletes it on close.
  const launched = Date.now();
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  let page;
  const session = { mode: 'chat', bot };
  try {
    // A client in Quebec: the date picker's "today" and the times it lists are local ones.
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      locale: 'en-US',
      timezoneId: 'America/Montreal',
    });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    if (!steps[0]?.open) await open(page, session, 'Personal Chat');
    const startupMs = Date.now() - launched;

    const results = [];
    for (const [index, step] of steps.entries()) {
      const result = await runStep(page, session, step, index, outDir);
      if (result) results.push(result);
    }
    process.stdout.write(`${JSON.stringify({ ok: true, startupMs, steps: results })}\n`);
  } catch (error) {
    console.error(`playground_chat: ${error.isStepFailure ? '' : 'error: '}${error.message}`);
    if (page) {
      const shot = path.join(outDir, process.env.FAILURE_SCREENSHOT || 'failure.png');
      await page.screenshot({ path: shot }).catch(() => {});
      const seen = await messages(page, session).catch(() => []);
      console.error(`playground_chat: screenshot ${shot}; messages on screen:`);
      for (const m of seen) console.error(`  [${m.author ?? 'me'}] ${m.text.slice(0, 300).replace(/\n+/g, ' | ')}`);
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await main();
