// Issue 11: every Steam game's profile names its dedicated-server app (games.md "SteamCMD").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadGameProfiles } from '../../games/loader.ts';
import { gameIds } from '../../games/profile.ts';

const expected: Record<string, number | undefined> = {
  valheim: 896660, rust: 258550, ark: 376030, asa: 2430930, '7dtd': 294420,
  palworld: 2394010, enshrouded: 2278520, satisfactory: 1690800, pzomboid: 380870, minecraft: undefined,
};

test('the nine Steam games carry their dedicated-server app id; minecraft has none', () => {
  const profiles = loadGameProfiles();
  for (const id of gameIds) {
    const profile = profiles.get(id);
    assert.ok(profile, `profile ${id} loads`);
    assert.equal(profile.steam?.appId, expected[id], `${id}: steam.appId`);
  }
});
