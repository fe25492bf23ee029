// Checkpoint.asDirectory in its three forms: the callback (Ray's `with ... as dir`), the
// handle with `await using` (TypeScript's explicit resource management), and try/finally with
// release() for plain JavaScript; misuse names the two forms.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checkpoint, CheckpointDirectory } from "../../src/train/index.js";

describe("Checkpoint.asDirectory", () => {
  const folder = mkdtempSync(join(tmpdir(), "torchlight-ckpt-"));
  writeFileSync(join(folder, "weights.bin"), "w");
  const ckpt = Checkpoint.fromDirectory(folder);

  it("with a callback: runs it with the folder and returns its result", async () => {
    assert.equal(await ckpt.asDirectory((dir) => readFileSync(join(dir, "weights.bin"), "utf8")), "w");
    assert.equal(await ckpt.asDirectory(async (dir) => dir), folder);
  });

  it("without a callback: a handle released by `await using` at the end of its block, the folder kept (local storage)", async () => {
    let seen: CheckpointDirectory | null = null;
    {
      await using dir = await ckpt.asDirectory();
      seen = dir;
      assert.equal(dir.path, folder);
      assert.equal(`${dir}`, folder);
      assert.equal(dir.isReleased, false);
    }
    assert.equal(seen!.isReleased, true, "released at the end of the block");
    assert.ok(existsSync(join(folder, "weights.bin")), "a local checkpoint's own folder is not deleted");
  });

  it("plain JavaScript: try/finally with release(); a cleanup runs once", async () => {
    let cleaned = 0;
    const dir = new CheckpointDirectory(folder, async () => { cleaned++; });
    try { assert.equal(dir.path, folder); } finally { await dir.release(); }
    await dir.release();
    assert.equal(cleaned, 1);
    await assert.rejects(ckpt.asDirectory("x" as never), /expected a callback \(dir\) => \.\.\. or no argument/);
  });
});
