import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { AgentConfigSchema } from '../agent/config.ts';
import { HubConfigSchema } from '../hub/config.ts';
import { GameProfileSchema } from '../games/profile.ts';

/**
 * `reconsync config schema [--out dir]`: JSON Schema for hub.yaml, agent.yaml and
 * game profiles, generated from the zod schemas the loaders validate with, so the
 * editor and `config check` can never disagree about a key.
 *
 * Use in an editor with the YAML language server (VS Code "YAML" extension):
 *   # yaml-language-server: $schema=./agent.schema.json
 */

export interface SchemaFile {
  file: string;
  title: string;
  schema: z.ZodType;
  description: string;
}

/** draft-07: the newest draft every YAML/JSON editor plugin reads in full. */
const TARGET = 'draft-07';

export const ConfigSchemas: readonly SchemaFile[] = [
  { file: 'hub.schema.json', title: 'ReconSync hub.yaml', schema: HubConfigSchema, description: 'Hub configuration. ${VAR} in a value is replaced from the environment.' },
  { file: 'agent.schema.json', title: 'ReconSync agent.yaml', schema: AgentConfigSchema, description: 'Agent configuration. ${VAR} in a value is replaced from the environment; relative paths resolve against the file.' },
  { file: 'game-profile.schema.json', title: 'ReconSync game profile (games/<id>.yaml)', schema: GameProfileSchema, description: 'One game\'s facts: query, admin channel, save paths, process names.' },
];

/** The JSON Schema of one config file, as a plain object. */
export function configJsonSchema(entry: SchemaFile): Record<string, unknown> {
  // io "input": what a person writes, so keys with defaults are optional.
  // unrepresentable "any": refinements (duplicate server ids) stay checked by `config check` only.
  const generated = z.toJSONSchema(entry.schema, { target: TARGET, io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, $id: entry.file, title: entry.title, description: entry.description, ...rest };
}

/** Writes every schema into outDir (created if missing); returns the absolute file paths. */
export async function writeConfigSchemas(outDir: string): Promise<string[]> {
  const dir = path.resolve(outDir);
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const entry of ConfigSchemas) {
    const file = path.join(dir, entry.file);
    await writeFile(file, `${JSON.stringify(configJsonSchema(entry), null, 2)}\n`);
    written.push(file);
  }
  return written;
}
