import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Metafile } from 'esbuild';

/**
 * THIRD-PARTY-NOTICES.txt: name, version, license and license text of every
 * npm package whose code ended up in the bundle (MIT and friends require the
 * notice to travel with the code). Packages come from the esbuild metafiles.
 */
export async function thirdPartyNotices(rootDir: string, metafiles: Metafile[]): Promise<string> {
  const pkgDirs = new Set<string>();
  for (const meta of metafiles) {
    for (const input of Object.keys(meta.inputs)) {
      // Innermost node_modules/<name> or node_modules/@scope/<name>.
      const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replace(/\\/g, '/'));
      if (m?.[1]) pkgDirs.add(path.resolve(rootDir, m[1]));
    }
  }
  const sections: string[] = [];
  for (const dir of [...pkgDirs].sort()) {
    let pkg: { name?: string; version?: string; license?: string };
    try {
      pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as typeof pkg;
    } catch {
      continue;
    }
    const licenseFile = (await readdir(dir)).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = licenseFile ? (await readFile(path.join(dir, licenseFile), 'utf8')).trim() : `(no license file; package.json says ${pkg.license ?? 'nothing'})`;
    sections.push(`${pkg.name ?? path.basename(dir)}@${pkg.version ?? '?'} (${pkg.license ?? 'unknown'})\n\n${text}`);
  }
  return `ReconSync agent bundle: third-party software included in reconsync.js and its side files.\n\n${sections.join(`\n\n${'-'.repeat(72)}\n\n`)}\n`;
}
