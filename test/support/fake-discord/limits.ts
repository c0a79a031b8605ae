/**
 * Discord's documented limits (discord.md), checked independently of the bot's
 * own helpers so a bot bug cannot hide behind a shared mistake. Each check
 * returns human-readable violations; an empty list means the payload is legal.
 */
export const Limits = {
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
  actionRows: 5,
  componentsPerRow: 5,
  buttonLabel: 80,
  choices: 25,
  choiceName: 100,
  choiceValue: 100,
  commandName: 32,
  commandDescription: 100,
  commandOptions: 25,
  commandsPerScope: 100,
  ackMs: 3000,
} as const;

export type Json = Record<string, unknown>;

export function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Characters counted against the 6000 total, the way Discord counts them. */
export function embedChars(embed: Json): number {
  let n = str(embed.title).length + str(embed.description).length;
  if (isObj(embed.footer)) n += str(embed.footer.text).length;
  if (isObj(embed.author)) n += str(embed.author.name).length;
  for (const f of arr(embed.fields)) if (isObj(f)) n += str(f.name).length + str(f.value).length;
  return n;
}

export function checkEmbeds(embeds: unknown[]): string[] {
  const v: string[] = [];
  if (embeds.length > Limits.embedsPerMessage) v.push(`${embeds.length} embeds in one message (max ${Limits.embedsPerMessage})`);
  let total = 0;
  embeds.forEach((e, i) => {
    if (!isObj(e)) return v.push(`embed ${i} is not an object`);
    total += embedChars(e);
    if (str(e.title).length > Limits.embedTitle) v.push(`embed ${i} title ${str(e.title).length} chars (max ${Limits.embedTitle})`);
    if (str(e.description).length > Limits.embedDescription) v.push(`embed ${i} description ${str(e.description).length} chars (max ${Limits.embedDescription})`);
    const fields = arr(e.fields);
    if (fields.length > Limits.embedFields) v.push(`embed ${i} has ${fields.length} fields (max ${Limits.embedFields})`);
    fields.forEach((f, j) => {
      if (!isObj(f)) return v.push(`embed ${i} field ${j} is not an object`);
      const name = str(f.name), value = str(f.value);
      if (name.length === 0 || name.length > Limits.fieldName) v.push(`embed ${i} field ${j} name ${name.length} chars (1..${Limits.fieldName})`);
      if (value.length === 0 || value.length > Limits.fieldValue) v.push(`embed ${i} field ${j} value ${value.length} chars (1..${Limits.fieldValue})`);
    });
    if (isObj(e.footer) && str(e.footer.text).length > Limits.footer) v.push(`embed ${i} footer ${str(e.footer.text).length} chars (max ${Limits.footer})`);
    if (isObj(e.author) && str(e.author.name).length > Limits.author) v.push(`embed ${i} author ${str(e.author.name).length} chars (max ${Limits.author})`);
  });
  if (total > Limits.embedTotal) v.push(`embeds total ${total} chars (max ${Limits.embedTotal})`);
  return v;
}

export function checkComponents(rows: unknown[]): string[] {
  const v: string[] = [];
  if (rows.length > Limits.actionRows) v.push(`${rows.length} action rows (max ${Limits.actionRows})`);
  rows.forEach((row, i) => {
    if (!isObj(row) || row.type !== 1) return v.push(`component ${i} is not an action row`);
    const comps = arr(row.components);
    if (comps.length === 0 || comps.length > Limits.componentsPerRow) v.push(`action row ${i} has ${comps.length} components (1..${Limits.componentsPerRow})`);
    comps.forEach((c, j) => {
      if (!isObj(c)) return v.push(`row ${i} component ${j} is not an object`);
      const isLink = c.style === 5;
      const id = str(c.custom_id);
      if (!isLink && (id.length < 1 || id.length > Limits.customId)) v.push(`row ${i} component ${j} custom_id ${id.length} chars (1..${Limits.customId})`);
      if (str(c.label).length > Limits.buttonLabel) v.push(`row ${i} component ${j} label ${str(c.label).length} chars (max ${Limits.buttonLabel})`);
    });
  });
  const ids = rows.flatMap((r) => (isObj(r) ? arr(r.components) : [])).map((c) => (isObj(c) ? str(c.custom_id) : '')).filter(Boolean);
  if (new Set(ids).size !== ids.length) v.push('duplicate custom_id in one message');
  return v;
}

/** A create or edit body. `merged` is the message as it would look afterwards (for the emptiness rule). */
export function checkMessageBody(body: Json, merged?: { content: string; embeds: unknown[]; components: unknown[] }): string[] {
  const v: string[] = [];
  if (body.content !== undefined && body.content !== null) {
    if (typeof body.content !== 'string') v.push('content is not a string');
    else if (body.content.length > Limits.content) v.push(`content ${body.content.length} chars (max ${Limits.content})`);
  }
  if (body.embeds !== undefined && body.embeds !== null) v.push(...checkEmbeds(arr(body.embeds)));
  if (body.components !== undefined && body.components !== null) v.push(...checkComponents(arr(body.components)));
  const m = merged ?? { content: str(body.content), embeds: arr(body.embeds), components: arr(body.components) };
  if (m.content.length === 0 && m.embeds.length === 0 && m.components.length === 0) v.push('empty message (no content, embeds or components)');
  return v;
}

export function checkChoices(choices: unknown[]): string[] {
  const v: string[] = [];
  if (choices.length > Limits.choices) v.push(`${choices.length} autocomplete choices (max ${Limits.choices})`);
  choices.forEach((c, i) => {
    if (!isObj(c)) return v.push(`choice ${i} is not an object`);
    const name = str(c.name);
    if (name.length < 1 || name.length > Limits.choiceName) v.push(`choice ${i} name ${name.length} chars (1..${Limits.choiceName})`);
    if (typeof c.value === 'string' && c.value.length > Limits.choiceValue) v.push(`choice ${i} value ${c.value.length} chars (max ${Limits.choiceValue})`);
  });
  return v;
}

const NAME_RE = /^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u;

function checkOptions(where: string, options: unknown[], depth: number): string[] {
  const v: string[] = [];
  if (options.length > Limits.commandOptions) v.push(`${where}: ${options.length} options (max ${Limits.commandOptions})`);
  let seenOptional = false;
  const names = new Set<string>();
  for (const o of options) {
    if (!isObj(o)) { v.push(`${where}: option is not an object`); continue; }
    const name = str(o.name), at = `${where} ${name}`;
    if (!NAME_RE.test(name)) v.push(`${at}: option name must be 1-${Limits.commandName} lowercase chars`);
    if (names.has(name)) v.push(`${at}: duplicate option name`);
    names.add(name);
    const desc = str(o.description);
    if (desc.length < 1 || desc.length > Limits.commandDescription) v.push(`${at}: description ${desc.length} chars (1..${Limits.commandDescription})`);
    const sub = o.type === 1 || o.type === 2;
    if (sub) {
      if (depth >= 2 || (o.type === 2 && depth >= 1)) v.push(`${at}: subcommand nested too deep`);
      v.push(...checkOptions(at, arr(o.options), depth + 1));
    } else {
      if (o.required === true && seenOptional) v.push(`${at}: required option after an optional one`);
      if (o.required !== true) seenOptional = true;
      if (o.autocomplete === true && arr(o.choices).length > 0) v.push(`${at}: autocomplete and choices together`);
      v.push(...checkChoices(arr(o.choices)).map((s) => `${at}: ${s}`));
    }
  }
  return v;
}

export function checkCommands(commands: unknown[]): string[] {
  const v: string[] = [];
  if (commands.length > Limits.commandsPerScope) v.push(`${commands.length} commands (max ${Limits.commandsPerScope})`);
  const names = new Set<string>();
  for (const c of commands) {
    if (!isObj(c)) { v.push('command is not an object'); continue; }
    const name = str(c.name);
    if (!NAME_RE.test(name)) v.push(`/${name}: name must be 1-${Limits.commandName} lowercase chars`);
    if (names.has(name)) v.push(`/${name}: duplicate command name`);
    names.add(name);
    const desc = str(c.description);
    if ((c.type ?? 1) === 1 && (desc.length < 1 || desc.length > Limits.commandDescription)) v.push(`/${name}: description ${desc.length} chars (1..${Limits.commandDescription})`);
    v.push(...checkOptions(`/${name}`, arr(c.options), 0));
  }
  return v;
}
