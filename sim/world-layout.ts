import type { SimGameId } from './games.ts';

/**
 * How the real game puts a file on disk, so backups meet the same hazards:
 * - replace:      write `<f>.tmp`, rename over `<f>` (most games)
 * - ark-unlink:   write `<f>.tmp`, unlink `<f>`, rename (ARK: the file is missing for a moment)
 * - valheim-old:  write `<f>.new`, rename `<f>` to `<f>.old`, rename `.new` to `<f>`
 * - inplace:      overwrite the file where it is (SQLite main db)
 * - append-wal:   append to a `-wal` journal, truncated every few saves (checkpoint)
 * - static:       written once when missing (configs, generated map)
 */
export type WriteMode = 'replace' | 'ark-unlink' | 'valheim-old' | 'inplace' | 'append-wal' | 'static';

export interface LayoutFile {
  path: string;
  /** Share of `saveBytes`. */
  weight: number;
  mode: WriteMode;
  /** First bytes of the file; the 8-byte world generation follows. */
  magic: string;
  /** Text files get this body instead of random bytes. */
  text?: string;
}

/** The game's own rolling backups, made from the current file just before a save (games.md: exclude them). */
export interface OwnBackup {
  from: string;
  to: (stamp: Stamp) => string;
  /** Keep only the newest N siblings in to()'s parent whose names match. */
  keep?: { n: number; match: RegExp; level: 'file' | 'dir' };
}

export interface Stamp { ark: string; palworld: string }

export interface WorldLayout {
  files: LayoutFile[];
  backups: OwnBackup[];
}

export interface LayoutVars { world: string; map: string; playerIds: string[] }

const SQLITE = 'SQLite format 3\0';
const GVAS = 'GVAS';

export function worldLayout(game: SimGameId, v: LayoutVars): WorldLayout {
  const ids = v.playerIds.length > 0 ? v.playerIds : ['76561198000000001'];
  switch (game) {
    case 'valheim':
      return {
        files: [
          { path: `${v.world}.db`, weight: 95, mode: 'valheim-old', magic: 'VHDB' },
          { path: `${v.world}.fwl`, weight: 1, mode: 'valheim-old', magic: 'FWL\0' },
        ],
        backups: [],
      };
    case 'enshrouded':
      return {
        files: [
          { path: v.world, weight: 85, mode: 'replace', magic: 'ENSH' },
          { path: `${v.world}-index`, weight: 5, mode: 'replace', magic: 'ENIX' },
          { path: `${v.world}_info`, weight: 1, mode: 'replace', magic: 'ENIN' },
        ],
        backups: [{ from: v.world, to: () => `${v.world}-1` }],
      };
    case 'rust': {
      const sav = 'proceduralmap.3000.1337.261.sav';
      return {
        files: [
          { path: sav, weight: 60, mode: 'replace', magic: 'SAVR' },
          { path: 'proceduralmap.3000.1337.261.map', weight: 20, mode: 'static', magic: 'MAPR' },
          { path: 'player.blueprints.5.db', weight: 8, mode: 'inplace', magic: SQLITE },
          { path: 'player.blueprints.5.db-wal', weight: 3, mode: 'append-wal', magic: '7\x7f\x06\x82' },
          { path: 'sv.files.0.db', weight: 8, mode: 'inplace', magic: SQLITE },
          { path: 'cfg/serverauto.cfg', weight: 0, mode: 'static', magic: '', text: 'server.pve "False"\nserver.radiation "True"\n' },
          { path: 'cfg/users.cfg', weight: 0, mode: 'static', magic: '', text: 'ownerid 76561198000000001 "admin" "sim"\n' },
        ],
        backups: [{ from: sav, to: () => `${sav}.1` }],
      };
    }
    case 'ark':
    case 'asa': {
      const ark = `${v.map}.ark`;
      const tribe = '1234567890.arktribe';
      const magic = game === 'asa' ? SQLITE : 'ARKS';
      return {
        files: [
          { path: ark, weight: 85, mode: game === 'ark' ? 'ark-unlink' : 'replace', magic },
          ...ids.slice(0, 4).map((id) => ({ path: `${id}.arkprofile`, weight: 2, mode: 'ark-unlink' as const, magic: 'ARKP' })),
          { path: tribe, weight: 1, mode: 'ark-unlink', magic: 'ARKT' },
        ],
        backups: [
          { from: ark, to: () => `${v.map}_AntiCorruptionBackup.bak` },
          {
            from: ark,
            to: (s) => `${v.map}_${s.ark}.ark`,
            keep: { n: 2, match: new RegExp(`^${escape(v.map)}_\\d{2}\\.\\d{2}\\.\\d{4}_.*\\.ark$`), level: 'file' },
          },
          ...ids.slice(0, 4).map((id) => ({ from: `${id}.arkprofile`, to: () => `${id}.profilebak` })),
          { from: tribe, to: () => '1234567890.tribebak' },
        ],
      };
    }
    case '7dtd':
      return {
        files: [
          { path: 'main.ttw', weight: 10, mode: 'replace', magic: 'ttw\0' },
          { path: 'Region/r.0.0.7rg', weight: 40, mode: 'replace', magic: '7rg\0' },
          { path: 'Region/r.-1.0.7rg', weight: 40, mode: 'replace', magic: '7rg\0' },
          ...ids.slice(0, 4).map((id) => ({ path: `Player/${id}.ttp`, weight: 2, mode: 'replace' as const, magic: 'ttp\0' })),
          { path: 'players.xml', weight: 0, mode: 'replace', magic: '', text: '<?xml version="1.0" encoding="UTF-8"?>\n<persistentplayerdata />\n' },
        ],
        backups: [
          { from: 'main.ttw', to: () => 'main.ttw.bak' },
          ...ids.slice(0, 4).map((id) => ({ from: `Player/${id}.ttp`, to: () => `Player/${id}.ttp.bak` })),
        ],
      };
    case 'palworld':
      return {
        files: [
          { path: 'Level.sav', weight: 85, mode: 'replace', magic: GVAS },
          { path: 'LevelMeta.sav', weight: 1, mode: 'replace', magic: GVAS },
          ...ids.slice(0, 4).map((id) => ({ path: `Players/${palGuid(id)}.sav`, weight: 3, mode: 'replace' as const, magic: GVAS })),
        ],
        backups: [{
          from: 'Level.sav',
          to: (s) => `backup/world/${s.palworld}/Level.sav`,
          keep: { n: 2, match: /^\d{4}\.\d{2}\.\d{2}-/, level: 'dir' },
        }],
      };
    case 'pzomboid':
      return {
        files: [
          { path: 'map_t.bin', weight: 2, mode: 'replace', magic: 'PZMT' },
          { path: 'map_meta.bin', weight: 5, mode: 'replace', magic: 'PZMM' },
          { path: 'map/0/0.bin', weight: 35, mode: 'replace', magic: 'PZCK' },
          { path: 'map/0/1.bin', weight: 35, mode: 'replace', magic: 'PZCK' },
          { path: 'players.db', weight: 12, mode: 'inplace', magic: SQLITE },
          { path: 'vehicles.db', weight: 10, mode: 'inplace', magic: SQLITE },
        ],
        backups: [],
      };
    case 'minecraft':
      return {
        files: [
          { path: 'level.dat', weight: 2, mode: 'replace', magic: '\x1f\x8b\x08\0' },
          { path: 'region/r.0.0.mca', weight: 45, mode: 'inplace', magic: 'MCA\0' },
          { path: 'region/r.-1.0.mca', weight: 45, mode: 'inplace', magic: 'MCA\0' },
          ...ids.slice(0, 4).map((id) => ({ path: `playerdata/${mcUuid(id)}.dat`, weight: 1, mode: 'replace' as const, magic: '\x1f\x8b\x08\0' })),
          { path: 'session.lock', weight: 0, mode: 'static', magic: '', text: '\u2603' },
        ],
        backups: [{ from: 'level.dat', to: () => 'level.dat_old' }],
      };
    case 'satisfactory':
      return {
        files: [{ path: `${v.world}.sav`, weight: 100, mode: 'replace', magic: 'SFSV' }],
        backups: [{ from: `${v.world}.sav`, to: () => `${v.world}_autosave_0.sav` }],
      };
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function palGuid(id: string): string {
  return id.slice(-8).padStart(32, '0').toUpperCase();
}

function mcUuid(id: string): string {
  const h = id.slice(-12).padStart(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
