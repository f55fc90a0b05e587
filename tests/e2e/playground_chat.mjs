// Drive the Microsoft 365 Agents Playground web UI like a person would, with playwright-core
// and Debian's Chromium (no browser download).
//
//   node tests/e2e/playground_chat.mjs <ui-url> <screenshot-dir> [steps-json]
//
// steps-json is a JSON array; each step sends one message in the Personal Chat and waits for
// the bot's reply:
//   { "send": "aide",
//     "expect": ["Carrefour — vos communautés de pratique"],  // texts a reply must show
//     "card": true,                 // optional: the texts must be in a rendered Adaptive Card
//     "screenshot": "help-fr.png",  // optional: the whole window, file name under <screenshot-dir>
//     "cardScreenshot": "help-card-fr.png",  // optional (with "card"): the matching card alone
//     "timeoutMs": 60000 }          // optional
// The bot's replies are read until one matches, so a reply that arrives later on its own (a
// proactive message from the outbox) is waited for like a direct answer.
// Without steps-json, DEFAULT_STEPS below are used.
//
// Prints one JSON line on stdout: {"ok": true, "steps": [{"send", "replies": [{"text",
// "cards": [{"text", "buttons": [...]}]}]}]}: what the user saw after each message. The caller
// asserts on it. Exits 1 with "playground_chat: ..." on stderr (and a screenshot, failure.png or
// $FAILURE_SCREENSHOT) on failure. Each step also reports "elapsedMs": sent → expected reply.
//
// DOM facts (Playground 0.2.x; classes are hashed, so only these are relied upon):
// - the conversation list is a role=tree of role=treeitem named "Personal Chat", "Group Chat"…
// - the message box is the contenteditable element with role=textbox;
// - every chat message has a child [aria-label="Message header"]; bot messages have
//   [aria-label="Message author"] in that header, the user's own messages do not;
// - Adaptive Cards render as .ac-adaptiveCard (the AdaptiveCards JS renderer), actions as
//   buttons whose accessible name is the action title.
// - Each page load makes the Playground send installationUpdate + conversationUpdate, so the bot
//   may post a welcome at any time early on: replies are only those after the user's message.

import fs from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

// The Playground always sends locale "en-US", so French must be chosen explicitly first.
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

const HEADER = '[aria-label="Message header"]';

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
  let steps = DEFAULT_STEPS;
  if (stepsJson) {
    try {
      steps = JSON.parse(stepsJson);
    } catch (error) {
      console.error(`playground_chat: steps are not valid JSON: ${error.message}`);
      process.exit(2);
    }
    if (!Array.isArray(steps) || steps.some((s) => typeof s?.send !== 'string')) {
      console.error('playground_chat: steps must be a JSON array of {"send": "...", ...}');
      process.exit(2);
    }
  }
  return { url, outDir, steps };
}

// Runs in the page: the chat messages in document order.
function readMessages(headerSelector) {
  return [...document.querySelectorAll(headerSelector)].map((header, index) => {
    const message = header.parentElement;
    const author = header.querySelector('[aria-label="Message author"]');
    return {
      index,
      fromBot: author !== null,
      author: author ? author.innerText.trim() : null,
      text: message.innerText.trim(),
      cards: [...message.querySelectorAll('.ac-adaptiveCard')].map((card) => ({
        text: card.innerText.trim(),
        buttons: [...card.querySelectorAll('button')]
          .map((b) => (b.getAttribute('aria-label') || b.innerText || '').trim())
          .filter(Boolean),
      })),
    };
  });
}

async function messages(page) {
  return page.evaluate(readMessages, HEADER);
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

// The rendered card of `reply` showing every expected text.
function cardLocator(page, reply, step) {
  const at = reply.cards.findIndex((card) => cardMatches(card, step));
  return page.locator(HEADER).nth(reply.index).locator('xpath=..').locator('.ac-adaptiveCard').nth(at);
}

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

async function runStep(page, step, index, outDir) {
  const timeoutMs = step.timeoutMs ?? 60_000;
  const label = `step ${index + 1} (send ${JSON.stringify(step.send)})`;
  const started = Date.now();
  const before = (await messages(page)).length;

  const box = page.locator('[role="textbox"][contenteditable="true"]');
  await box.click();
  await box.fill(step.send);
  await box.press('Enter');

  // The user's own bubble: the first message from us after what was on screen before.
  await waitFor(page, `${label}: the sent message to show`, 15_000, async () => {
    const all = await messages(page);
    const at = all.findIndex((m, i) => i >= before && !m.fromBot && m.text.includes(step.send));
    return { done: at >= 0, at, detail: `${all.length} messages` };
  });

  // Replies count from what was on screen before sending, not from the user's bubble: the
  // Playground sometimes draws a quick reply above the bubble that asked for it.
  const seen = await waitFor(page, `${label}: a bot reply showing ${JSON.stringify(step.expect ?? [])}${step.card ? ' in a card' : ''}`, timeoutMs, async () => {
    const replies = (await messages(page)).slice(before).filter((m) => m.fromBot);
    const match = replies.find((r) => replyMatches(r, step));
    return {
      done: match !== undefined,
      replies,
      match,
      detail: JSON.stringify(replies.map((r) => r.text.slice(0, 200))),
    };
  });

  const elapsedMs = Date.now() - started;
  const card = step.card ? cardLocator(page, seen.match, step) : null;
  if (card && (step.screenshot || step.cardScreenshot)) await settle(page, card);
  if (step.screenshot) {
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: path.join(outDir, step.screenshot) });
  }
  if (step.cardScreenshot) {
    if (!card) fail(`${label}: "cardScreenshot" needs "card": true`);
    await screenshotCard(page, card, path.join(outDir, step.cardScreenshot));
  }
  return { send: step.send, elapsedMs, replies: seen.replies };
}

async function main() {
  const { url, outDir, steps } = parseArgs(process.argv.slice(2));
  fs.mkdirSync(outDir, { recursive: true });
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

  // launch() gives a fresh temporary profile (user-data-dir) and deletes it on close.
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });

    const personal = page.getByRole('treeitem', { name: 'Personal Chat' });
    await personal.waitFor({ state: 'visible', timeout: 60_000 });
    await personal.click();
    await page
      .locator('[role="textbox"][contenteditable="true"]')
      .waitFor({ state: 'visible', timeout: 30_000 });

    const results = [];
    for (const [index, step] of steps.entries()) {
      results.push(await runStep(page, step, index, outDir));
    }
    process.stdout.write(`${JSON.stringify({ ok: true, steps: results })}\n`);
  } catch (error) {
    console.error(`playground_chat: ${error.isStepFailure ? '' : 'error: '}${error.message}`);
    if (page) {
      const shot = path.join(outDir, process.env.FAILURE_SCREENSHOT || 'failure.png');
      await page.screenshot({ path: shot }).catch(() => {});
      const seen = await messages(page).catch(() => []);
      console.error(`playground_chat: screenshot ${shot}; messages on screen:`);
      for (const m of seen) console.error(`  [${m.author ?? 'me'}] ${m.text.slice(0, 300).replace(/\n+/g, ' | ')}`);
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await main();
