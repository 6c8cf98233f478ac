/**
 * Waits for something written beside a request (not before its answer) to show: polls until `ok`
 * holds, and throws after `boundMs` (a bound against a hang, not a speed assertion).
 */
export async function eventually(what: string, ok: () => boolean | Promise<boolean>, boundMs = 60_000): Promise<void> {
  const giveUp = Date.now() + boundMs;
  while (!(await ok())) {
    if (Date.now() > giveUp) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
