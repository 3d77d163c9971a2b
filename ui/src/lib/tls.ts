/** TLS modes that may send the password in clear text or reach an impostor. */
const WEAK = ['disable', 'allow', 'prefer'];

/** True for a host on this machine (loopback, localhost, a unix-socket directory). */
export function isLocalHost(host: string): boolean {
  const h = host.trim().replace(/^\[|\]$/g, '').toLowerCase();
  return h === '' || h.startsWith('/') || h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * The warning the window shows for a profile whose SSL mode lets a connection to another
 * machine go without verified TLS (the core's `tls::weak_tls_warning`), or null.
 */
export function weakTlsWarning(host: string, sslmode: string): string | null {
  if (isLocalHost(host) || !WEAK.includes(sslmode)) return null;
  return `sslmode=${sslmode} to ${host}: the connection may be unencrypted or reach an impostor, and the database password crosses the network unprotected. Use verify-full.`;
}
