// Following the `progress` events of long jobs from a component.

import { onProgress, type Progress } from './api';

/**
 * Calls `cb` with every `progress` event while the calling component lives; call it while the
 * component initialises. The listener is removed when the component goes, also when that
 * happens before the listener was registered.
 */
export function followProgress(cb: (p: Progress) => void): void {
  $effect(() => {
    let un: (() => void) | undefined;
    let gone = false;
    onProgress(cb)
      .then((u) => { if (gone) u(); else un = u; })
      .catch(() => {});
    return () => {
      gone = true;
      un?.();
    };
  });
}
