/**
 * @module torchlight/train/checkpoint: `Checkpoint`, as Ray Train's: a folder of files (a
 * Lightning `checkpoint.ckpt`, anything else) with a small JSON metadata file. Workers hand
 * one to `report()`, which persists it to the run folder; `Result.checkpoint` and
 * `getCheckpoint()` return the persisted ones.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TrainError } from "./errors.js";

/** The metadata file inside a checkpoint folder. */
export const METADATA_FILE = ".metadata.json";

export class Checkpoint {
  /** The folder's absolute path. */
  readonly path: string;
  constructor(path: string) {
    this.path = resolve(path);
  }

  /** A checkpoint of the files in `path` (an existing folder). */
  static fromDirectory(path: string): Checkpoint {
    if (typeof path !== "string" || !existsSync(path) || !statSync(path).isDirectory()) {
      throw new TrainError("TRAIN_CHECKPOINT", `Checkpoint.fromDirectory: expected an existing folder, got ${JSON.stringify(path)}; write the checkpoint's files into a folder first`);
    }
    return new Checkpoint(path);
  }

  /**
   * A local folder holding the checkpoint's files, as Ray's `as_directory` context manager.
   * With a callback, runs it with the folder and returns what it returns; without, returns a
   * handle to release when done: `await using dir = await ckpt.asDirectory()` (TypeScript ≥
   * 5.2), or `try { ... } finally { await dir.release() }` in plain JavaScript. Local and shared
   * storage give the folder itself: read it, do not write.
   * @example
   * const model = await ckpt.asDirectory((dir) => Classifier.loadFromCheckpoint(`${dir}/checkpoint.ckpt`));
   */
  asDirectory(): Promise<CheckpointDirectory>;
  asDirectory<T>(fn: (dir: string) => T | Promise<T>): Promise<T>;
  async asDirectory<T>(fn?: (dir: string) => T | Promise<T>): Promise<T | CheckpointDirectory> {
    if (fn === undefined) return new CheckpointDirectory(this.path);
    if (typeof fn !== "function") {
      throw new TrainError("TRAIN_CHECKPOINT", `Checkpoint.asDirectory: expected a callback (dir) => ... or no argument (then \`await using dir = await ckpt.asDirectory()\`), got ${fn === null ? "null" : typeof fn}`);
    }
    return await fn(this.path);
  }

  /** Copies the files to `path` (default: a new temporary folder) and returns that folder. */
  async toDirectory(path?: string): Promise<string> {
    const dest = path ? resolve(path) : mkdtempSync(join(tmpdir(), "torchlight-checkpoint-"));
    await cp(this.path, dest, { recursive: true, force: true });
    return dest;
  }

  /** The metadata set with setMetadata/updateMetadata ({} when none). */
  getMetadata(): Record<string, unknown> {
    const f = join(this.path, METADATA_FILE);
    if (!existsSync(f)) return {};
    try { return JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown>; } catch (e) {
      throw new TrainError("TRAIN_CHECKPOINT", `Checkpoint: ${f} is not valid JSON (${(e as Error).message}); rewrite it with setMetadata`);
    }
  }
  /** Replaces the metadata (JSON-serialisable values). */
  setMetadata(metadata: Record<string, unknown>): void {
    let text: string;
    try { text = JSON.stringify(metadata, null, 1); } catch (e) { throw new TrainError("TRAIN_CHECKPOINT", `Checkpoint.setMetadata: the metadata must be JSON-serialisable (${(e as Error).message})`); }
    const f = join(this.path, METADATA_FILE);
    writeFileSync(`${f}.tmp`, text);
    renameSync(`${f}.tmp`, f);
  }
  /** Merges `metadata` into the existing metadata. */
  updateMetadata(metadata: Record<string, unknown>): void { this.setMetadata({ ...this.getMetadata(), ...metadata }); }

  toString(): string { return `Checkpoint(filesystem=local, path=${this.path})`; }
  toJSON(): object { return { path: this.path }; }
  /** @internal a synchronous copy (tests, tools). */
  copyToSync(dest: string): void { cpSync(this.path, dest, { recursive: true }); }
}

/**
 * A checkpoint's files as a local folder, from `Checkpoint.asDirectory()`; `path` is the
 * folder. Release it when done (`await using`, or `release()`): for local and shared storage
 * the folder is the checkpoint itself and nothing is deleted; a copy made from remote storage
 * would be removed.
 */
export class CheckpointDirectory {
  private released = false;
  constructor(readonly path: string, private readonly cleanup: (() => Promise<void>) | null = null) {}
  /** Whether release() ran. */
  get isReleased(): boolean { return this.released; }
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.cleanup?.();
  }
  async [Symbol.asyncDispose](): Promise<void> { await this.release(); }
  toString(): string { return this.path; }
}
