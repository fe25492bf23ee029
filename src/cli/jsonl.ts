/**
 * @module torchlight/cli/jsonl: a run folder's JSON-lines files (metrics.jsonl,
 * telemetry.jsonl) read as they grow. Each poll reads and parses only the bytes appended since
 * the last, so following a long run costs what it adds, not what it holds. A line that is not
 * a row (corrupted) is skipped and named; a line still being written waits for its newline.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { basename } from "node:path";

export class JsonLinesFollower<T> {
  /** Every row read so far. */
  readonly rows: T[] = [];
  /** The lines that were not rows, each named with its number. */
  readonly problems: string[] = [];
  private offset = 0;
  private line = 0;

  /** `accept` says what a row is; `what` names one in problems ("a metrics row"). */
  constructor(readonly path: string, private readonly accept: (v: unknown) => v is T, private readonly what: string) {}

  /**
   * The rows appended since the last poll. `reset` when the file became shorter (replaced, or a
   * repair cut its last line): `rows` then start over from the file's beginning. With `final`,
   * a last line without its newline is read too (a one-shot read of a file no one writes).
   */
  poll(final = false): { added: T[]; reset: boolean } {
    let size: number;
    try { size = statSync(this.path).size; } catch { return { added: [], reset: false }; }
    let reset = false;
    if (size < this.offset) {
      this.offset = 0; this.line = 0; this.rows.length = 0; this.problems.length = 0;
      reset = true;
    }
    if (size === this.offset) return { added: [], reset };
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, "r");
    try { readSync(fd, buf, 0, buf.length, this.offset); } finally { closeSync(fd); }
    // whole lines only (a newline byte never occurs inside a UTF-8 sequence)
    const end = final ? buf.length : buf.lastIndexOf(0x0a) + 1;
    const lines = buf.subarray(0, end).toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    const halfWritten = final && buf[buf.length - 1] !== 0x0a;
    const added: T[] = [];
    lines.forEach((text, i) => {
      this.line++;
      if (!text.trim()) return;
      try {
        const v: unknown = JSON.parse(text);
        if (!this.accept(v)) throw new Error("not a row");
        added.push(v);
      } catch {
        const cut = halfWritten && i === lines.length - 1;
        this.problems.push(`${basename(this.path)} line ${this.line} is not ${this.what}${cut ? " (the last line, half-written: the run is writing it, or crashed mid-write)" : " (corrupted); it was skipped"}`);
      }
    });
    this.offset += end;
    for (const r of added) this.rows.push(r);
    return { added, reset };
  }
}

/** All the rows of a JSON-lines file now, with its problems. */
export function readJsonLines<T>(path: string, accept: (v: unknown) => v is T, what: string): { rows: T[]; problems: string[] } {
  const f = new JsonLinesFollower(path, accept, what);
  f.poll(true);
  return { rows: f.rows, problems: f.problems };
}
