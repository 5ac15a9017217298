/**
 * Freeze an object graph in place (plain objects and arrays; bigints and strings are immutable already) and return
 * it. An object that is already frozen is taken as frozen all the way down and not walked again, so shared frozen
 * constants cost nothing and a cycle ends. Used wherever untrusted input is copied once and later stages read the
 * frozen copy (STYLE: copy untrusted input before trusting it).
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
