import type { APIEmbed } from 'discord.js';

/** Discord's limits (discord.md). Named, so no bare numbers elsewhere. */
export const DiscordLimits = {
  content: 2000,
  embedsPerMessage: 10,
  embedTotal: 6000,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  author: 256,
  customId: 100,
  choices: 25,
  choiceName: 100,
  choiceValue: 100,
  ackMs: 3000,
} as const;

const ELLIPSIS = '…';

/** Cuts `text` to `max` characters, marking the cut. Never returns an empty string when `fallback` is given. */
export function cut(text: string, max: number, fallback = ''): string {
  const t = text.length > max ? text.slice(0, Math.max(0, max - 1)) + ELLIPSIS : text;
  return t.length > 0 ? t : fallback.slice(0, max);
}

/** Characters an embed counts against the 6000 total. */
export function embedLength(e: APIEmbed): number {
  let n = (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0) + (e.author?.name.length ?? 0);
  for (const f of e.fields ?? []) n += f.name.length + f.value.length;
  return n;
}

/** Makes one embed legal on its own: every text cut to its limit, at most 25 fields, empty fields filled. */
export function clampEmbed(e: APIEmbed): APIEmbed {
  const out: APIEmbed = { ...e };
  if (e.title !== undefined) out.title = cut(e.title, DiscordLimits.embedTitle);
  if (e.description !== undefined) out.description = cut(e.description, DiscordLimits.embedDescription);
  if (e.footer) out.footer = { ...e.footer, text: cut(e.footer.text, DiscordLimits.footer) };
  if (e.author) out.author = { ...e.author, name: cut(e.author.name, DiscordLimits.author) };
  if (e.fields) {
    out.fields = e.fields.slice(0, DiscordLimits.embedFields).map((f) => ({
      ...f,
      name: cut(f.name, DiscordLimits.fieldName, '\u200b'),
      value: cut(f.value, DiscordLimits.fieldValue, '\u200b'),
    }));
  }
  // An embed alone must also fit the message total: shorten the description,
  // then drop fields from the end, then the footer, then shorten the title.
  const over = () => embedLength(out) - DiscordLimits.embedTotal;
  if (over() > 0 && out.description) {
    const keep = out.description.length - over();
    if (keep > 0) out.description = cut(out.description, keep);
    else delete out.description;
  }
  while (over() > 0 && out.fields?.length) out.fields = out.fields.slice(0, -1);
  if (over() > 0) delete out.footer;
  if (over() > 0 && out.title) out.title = cut(out.title, Math.max(1, out.title.length - over()));
  return out;
}

/**
 * Packs embeds into messages, each with at most 10 embeds and 6000 characters
 * (after clamping). Order is kept. Always returns at least one page.
 */
export function packEmbeds(embeds: APIEmbed[], budget: number = DiscordLimits.embedTotal): APIEmbed[][] {
  const pages: APIEmbed[][] = [[]];
  let used = 0;
  for (const raw of embeds) {
    const e = clampEmbed(raw);
    const len = embedLength(e);
    let page = pages[pages.length - 1]!;
    if (page.length > 0 && (page.length >= DiscordLimits.embedsPerMessage || used + len > budget)) {
      page = [];
      pages.push(page);
      used = 0;
    }
    page.push(e);
    used += len;
  }
  return pages;
}

/** Wraps text in a code block that fits `max` characters, neutralising fences inside it. */
export function codeBlock(text: string, max: number): string {
  // No two backticks may touch, or the output could close the block.
  const safe = text.replace(/`(?=`)/g, '`\u200b');
  const overhead = '```\n\n```'.length;
  const body = safe.length > max - overhead
    ? safe.slice(0, Math.max(0, max - overhead - 40)) + `\n${ELLIPSIS} (${safe.length - (max - overhead - 40)} more characters)`
    : safe;
  return '```\n' + (body.length ? body : ' ') + '\n```';
}
