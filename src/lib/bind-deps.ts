// Turns functions that take their dependencies first, `fn(deps, ...args)`, into a service object of
// `fn(...args)`: how an area's service factory closes over its deps without restating signatures.
type Bound<D, F> = F extends (deps: D, ...args: infer A) => infer R ? (...args: A) => R : never;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function bindDeps<D, M extends Record<string, (deps: D, ...args: any[]) => unknown>>(
  deps: D,
  fns: M,
): { [K in keyof M]: Bound<D, M[K]> } {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fns)) out[name] = (...args: unknown[]) => fn(deps, ...args);
  return out as { [K in keyof M]: Bound<D, M[K]> };
}
