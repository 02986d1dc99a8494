// State that survives a swap: snapshot() on the old version, restore() on the new one.
let count = 0;

export function increment() {
  count += 1;
  return count;
}

export function snapshot() {
  return { count };
}

export function restore(state) {
  count = state.count;
}

export function health() {
  return Number.isInteger(count);
}
