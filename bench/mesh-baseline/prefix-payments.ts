// The raw-prefix transform for the payments source: one file per source, because jiti (Mesh's TypeScript
// loader) hands a doubly wrapped module to one of several concurrent imports of the same file.
export { default } from './raw-prefix.ts';
