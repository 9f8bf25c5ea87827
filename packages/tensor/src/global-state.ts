/**
 * Process-wide settings live on globalThis under a Symbol.for key, so two copies of @normkit/tensor in
 * one program (or a plugin and an app bundling their own) share them: the backend choice and the
 * thread count. Returns the object stored under `name`, creating it with `initial()` the first time.
 */
export function globalState<T extends object>(name: string, initial: () => T): T {
  const key = Symbol.for(name);
  const holder = globalThis as unknown as Record<symbol, T | undefined>;
  let current = holder[key];
  if (current === undefined) {
    current = initial();
    holder[key] = current;
  }
  return current;
}
