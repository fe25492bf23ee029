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
   * Runs `fn` with a local folder holding the checkpoint's files (Ray's `as_directory`
   * context manager). Local and shared storage give the folder itself: read, do not write.
   */
  async asDirectory<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
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
