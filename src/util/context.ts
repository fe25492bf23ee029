/**
 * @module torchlight/util/context: process-wide defaults one layer sets for another, passed
 * explicitly rather than through environment variables. The train worker runtime sets the run
 * folder as Lightning's default root directory (Ray moves a worker into its trial folder);
 * Lightning's Trainer reads it when `defaultRootDir` is not given.
 */
let rootDir: string | null = null;

/** Sets (or clears, with null) the default root directory of Trainers made from now on. */
export function setDefaultRootDir(path: string | null): void { rootDir = path; }
/** The default root directory set by the runtime, or null. */
export function defaultRootDir(): string | null { return rootDir; }
