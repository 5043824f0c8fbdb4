// @peculiar/x509 registers its algorithms with tsyringe, which refuses to load
// unless `Reflect.getMetadata` exists. The library's classes take no
// constructor arguments, so tsyringe only ever finds "no metadata": this
// supplies the four Reflect metadata functions it and TypeScript's decorator
// helpers call, backed by a WeakMap. Imported before the library, and a no-op
// when a full polyfill (the `reflect-metadata` package) is already loaded.

type Store = Map<unknown, unknown>;
const stores = new WeakMap<object, Map<PropertyKey | undefined, Store>>();

function ownStore(target: object, property: PropertyKey | undefined, create: boolean): Store | undefined {
  let byProperty = stores.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    stores.set(target, byProperty);
  }
  let store = byProperty.get(property);
  if (!store && create) {
    store = new Map();
    byProperty.set(property, store);
  }
  return store;
}

function defineMetadata(key: unknown, value: unknown, target: object, property?: PropertyKey): void {
  ownStore(target, property, true)!.set(key, value);
}

function getOwnMetadata(key: unknown, target: object, property?: PropertyKey): unknown {
  return ownStore(target, property, false)?.get(key);
}

/** Own metadata first, then up the prototype chain, as the proposal specifies. */
function getMetadata(key: unknown, target: object, property?: PropertyKey): unknown {
  for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
    const store = ownStore(t, property, false);
    if (store?.has(key)) return store.get(key);
  }
  return undefined;
}

/** The decorator form TypeScript's emitted `__metadata(key, value)` uses. */
function metadata(key: unknown, value: unknown) {
  return (target: object, property?: PropertyKey): void => defineMetadata(key, value, target, property);
}

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect['getMetadata'] !== 'function') Object.assign(reflect, { defineMetadata, getOwnMetadata, getMetadata, metadata });
