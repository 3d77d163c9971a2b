import { describe, expect, it } from 'vitest';
import { isLocalHost, weakTlsWarning } from './tls';

describe('TLS warnings', () => {
  it('knows the hosts of this machine', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '/run/postgresql', '']) expect(isLocalHost(h)).toBe(true);
    for (const h of ['db.example.com', '10.0.0.5', '128.0.0.1']) expect(isLocalHost(h)).toBe(false);
  });

  it('warns for weak modes to other machines only', () => {
    for (const m of ['disable', 'allow', 'prefer']) expect(weakTlsWarning('db.example.com', m)).toContain(`sslmode=${m}`);
    expect(weakTlsWarning('db.example.com', 'verify-full')).toBeNull();
    expect(weakTlsWarning('db.example.com', 'require')).toBeNull();
    expect(weakTlsWarning('localhost', 'disable')).toBeNull();
  });
});
