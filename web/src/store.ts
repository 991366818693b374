// A tiny observable store and the hook that renders from it (no state library needed).
import { useEffect, useState } from "preact/hooks";

export interface Store<T> {
  get(): T;
  set(next: Partial<T> | ((current: T) => Partial<T>)): void;
  subscribe(listener: (value: T) => void): () => void;
}

export function createStore<T extends object>(initial: T): Store<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  return {
    get: () => value,
    set(next) {
      const patch = typeof next === "function" ? next(value) : next;
      value = { ...value, ...patch };
      for (const listener of [...listeners]) listener(value);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useStore<T extends object>(store: Store<T>): T {
  const [value, setValue] = useState(store.get());
  useEffect(() => {
    setValue(store.get());
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

/** Re-renders every `ms` (countdowns); aligned to whole seconds so timers tick together. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    let timer = 0;
    const tick = () => {
      setNow(Date.now());
      timer = window.setTimeout(tick, ms - (Date.now() % ms) + 5);
    };
    timer = window.setTimeout(tick, ms - (Date.now() % ms) + 5);
    return () => clearTimeout(timer);
  }, [ms]);
  return now;
}
