import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { AgentConfigSchema } from '../agent/config.ts';
import { HubConfigSchema } from '../hub/config.ts';
import { GameProfileSchema } from '../games/profile.ts';

/**
 * `reconsync config schema hub|agent|profile` prints one JSON Schema to stdout;
 * `--out dir` writes all three there. They are generated from the zod schemas the
 * loaders validate with (descriptions included), so the editor and `config check`
 * can never disagree about a key.
 *
 * Use in an editor with the YAML language server (VS Code "YAML" extension):
 *   reconsync config schema agent > agent.schema.json
 *   # yaml-language-server: $schema=./agent.schema.json
 */

export const SchemaNames = ['hub', 'agent', 'profile'] as const;
export type SchemaName = (typeof SchemaNames)[number];

export interface SchemaFile {
  name: SchemaName;
  file: string;
  title: string;
  schema: z.ZodType;
  description: string;
}

/** draft-07: the newest draft every YAML/JSON editor plugin reads in full. */
const TARGET = 'draft-07';

export const ConfigSchemas: readonly SchemaFile[] = [
  { name: 'hub', file: 'hub.schema.json', title: 'ReconSync hub.yaml', schema: HubConfigSchema, description: 'Hub configuration. ${VAR} in a value is replaced from the environment.' },
  { name: 'agent', file: 'agent.schema.json', title: 'ReconSync agent.yaml', schema: AgentConfigSchema, description: 'Agent configuration. ${VAR} in a value is replaced from the environment; relative paths resolve against the file.' },
  { name: 'profile', file: 'game-profile.schema.json', title: 'ReconSync game profile (games/<id>.yaml)', schema: GameProfileSchema, description: 'One game\'s facts: query, admin channel, save paths, process names.' },
];

/** One schema as the text `config schema <name>` prints and `--out` writes. */
export function configSchemaText(entry: SchemaFile): string {
  return `${JSON.stringify(configJsonSchema(entry), null, 2)}\n`;
}

/** The JSON Schema of one config file, as a plain object. */
export function configJsonSchema(entry: SchemaFile): Record<string, unknown> {
  // io "input": what a person writes, so keys with defaults are optional.
  // unrepresentable "any": refinements (duplicate server ids) stay checked by `config check` only.
  const generated = z.toJSONSchema(entry.schema, { target: TARGET, io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, $id: entry.file, title: entry.title, description: entry.description, ...rest };
}

/** Writes the schemas (default: all) into outDir (created if missing); returns the absolute file paths. */
export async function writeConfigSchemas(outDir: string, entries: readonly SchemaFile[] = ConfigSchemas): Promise<string[]> {
  const dir = path.resolve(outDir);
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const entry of entries) {
    const file = path.join(dir, entry.file);
    await writeFile(file, configSchemaText(entry));
    written.push(file);
  }
  return written;
}
