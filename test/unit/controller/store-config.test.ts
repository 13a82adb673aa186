// The controller config selects its store: the SQLite file (`database`, the default) or
// `store: {type: postgresql, url, poolSize}`; mistakes name the field.
import { describe, expect, it } from 'vitest';
import { DEFAULT_DATABASE, parseControllerConfig, storeConfig } from '../../../src/controller/config.js';

describe('controller store config', () => {
  it('defaults to the SQLite file; `database` names another; `store` selects PostgreSQL with a default pool', () => {
    expect(storeConfig(parseControllerConfig({}))).toEqual({ type: 'sqlite', path: DEFAULT_DATABASE });
    expect(storeConfig(parseControllerConfig({ database: '/srv/c.db' }))).toEqual({ type: 'sqlite', path: '/srv/c.db' });
    expect(storeConfig(parseControllerConfig({ store: { type: 'postgresql', url: 'postgresql://plumb@db1/plumb' } }))).toEqual({ type: 'postgresql', url: 'postgresql://plumb@db1/plumb', poolSize: 16 });
  });

  it('refuses both at once, a URL of another kind, a bad pool size and an unknown type, naming the field', () => {
    expect(() => parseControllerConfig({ database: '/a.db', store: { type: 'sqlite', path: '/b.db' } })).toThrow('config.store: give either database (a SQLite file) or store, not both');
    expect(() => parseControllerConfig({ store: { type: 'postgresql', url: 'mysql://db1/plumb' } })).toThrow('config.store.url: a postgresql:// URL');
    expect(() => parseControllerConfig({ store: { type: 'postgresql', url: 'postgresql://db1/plumb', poolSize: 0 } })).toThrow(/^config\.store\.poolSize: /);
    expect(() => parseControllerConfig({ store: { type: 'mysql', url: 'x' } })).toThrow(/^config\.store\.type: /);
  });
});
