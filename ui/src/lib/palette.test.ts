import { describe, expect, it } from 'vitest';
import { filterCommands, type Command } from './palette';

const noop = () => {};
const cmds: Command[] = [
  { id: 'users', label: 'Users', group: 'Go to', keywords: 'people accounts', run: noop },
  { id: 'audit', label: 'Audit log', group: 'Go to', keywords: 'history changes', run: noop },
  { id: 'new-user', label: 'New user', group: 'Actions', keywords: 'create add', run: noop },
  { id: 'tasks', label: 'Projects & Tasks', group: 'Go to', run: noop },
  { id: 'logout', label: 'Log out', group: 'Session', run: noop },
];

describe('filterCommands', () => {
  it('lists everything for an empty query, alphabetically', () => {
    expect(filterCommands(cmds, '').map((c) => c.id)).toEqual(['audit', 'logout', 'new-user', 'tasks', 'users']);
  });
  it('ranks label prefixes over keyword and substring matches', () => {
    expect(filterCommands(cmds, 'us').map((c) => c.id)).toEqual(['users', 'new-user']);
    expect(filterCommands(cmds, 'lo').map((c) => c.id)).toEqual(['logout', 'audit']);
  });
  it('needs every word to match and searches keywords', () => {
    expect(filterCommands(cmds, 'create user').map((c) => c.id)).toEqual(['new-user']);
    expect(filterCommands(cmds, 'history').map((c) => c.id)).toEqual(['audit']);
    expect(filterCommands(cmds, 'zzz')).toEqual([]);
  });
});
