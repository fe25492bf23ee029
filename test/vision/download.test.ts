// Dataset downloads against a local HTTP server on 127.0.0.1 (in a worker thread, so it keeps
// serving while a constructor waits synchronously for its download process): mirrors in
// order, MD5s checked, nothing half-written, archives extracted, the Debian package offline.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { gzipSync } from "node:zlib";
import * as tar from "tar";
import { CIFAR10, DatasetNotFoundError, FashionMNIST, MNIST, downloadResources } from "../../src/vision/index.js";

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
function idx(dims: number[], fill: (i: number) => number): Buffer {
  const n = dims.reduce((a, b) => a * b, 1);
  const b = Buffer.alloc(4 + 4 * dims.length + n);
  b[2] = 0x08; b[3] = dims.length;
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  for (let i = 0; i < n; i++) b[4 + 4 * dims.length + i] = fill(i) & 0xff;
  return b;
}

// Routes: /good/F serves F; /corrupt/F the same length of other bytes; /cut/F half of F, then
// the socket is destroyed (Content-Length says the whole); anything else 404.
const SERVER = `
const { createServer } = require("node:http");
const { readFileSync, existsSync } = require("node:fs");
const { join } = require("node:path");
const { parentPort, workerData } = require("node:worker_threads");
const server = createServer((req, res) => {
  const [, route, file] = req.url.split("/");
  const path = join(workerData.dir, file || "");
  if (!file || !existsSync(path)) { res.writeHead(404); res.end("not found"); return; }
  const body = readFileSync(path);
  if (route === "good") { res.writeHead(200, { "content-length": body.length }); res.end(body); }
  else if (route === "corrupt") { res.writeHead(200, { "content-length": body.length }); res.end(Buffer.alloc(body.length, 7)); }
  else if (route === "cut") { res.writeHead(200, { "content-length": body.length }); res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.destroy(), 50)); }
  else { res.writeHead(404); res.end(); }
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port));
parentPort.on("message", () => server.close(() => process.exit(0)));`;

describe("dataset downloads", () => {
  const served = mkdtempSync(join(tmpdir(), "torchlight-dl-served-"));
  const work = mkdtempSync(join(tmpdir(), "torchlight-dl-root-"));
  let worker: Worker, base = "", dead = "";
  const saved = { fm: FashionMNIST.resources, fmMirrors: FashionMNIST.mirrors, mnist: MNIST.resources, cifar: CIFAR10.resources };
  const files: Record<string, Buffer> = {};
  let root = 0;
  const freshRoot = () => join(work, `r${root++}`);

  before(async () => {
    // A FashionMNIST-shaped dataset: 6 training and 4 test images of 28×28.
    files["train-images-idx3-ubyte.gz"] = gzipSync(idx([6, 28, 28], (i) => i));
    files["train-labels-idx1-ubyte.gz"] = gzipSync(idx([6], (i) => i % 10));
    files["t10k-images-idx3-ubyte.gz"] = gzipSync(idx([4, 28, 28], (i) => 3 * i));
    files["t10k-labels-idx1-ubyte.gz"] = gzipSync(idx([4], (i) => 9 - i));
    for (const [f, b] of Object.entries(files)) writeFileSync(join(served, f), b);
    FashionMNIST.resources = Object.entries(files).map(([file, b]) => ({ file, md5: md5(b) }));
    MNIST.resources = FashionMNIST.resources;
    // A CIFAR-10 binary archive: 2 records per batch file.
    const tree = join(served, "tree", "cifar-10-batches-bin");
    mkdirSync(tree, { recursive: true });
    const rec = (label: number) => Buffer.concat([Buffer.from([label]), Buffer.alloc(3072, label * 20)]);
    for (const f of ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]) writeFileSync(join(tree, `${f}.bin`), Buffer.concat([rec(1), rec(2)]));
    await tar.c({ gzip: true, file: join(served, "cifar-10-binary.tar.gz"), cwd: join(served, "tree") }, ["cifar-10-batches-bin"]);
    const { readFileSync } = await import("node:fs");
    CIFAR10.resources = [{ file: "cifar-10-binary.tar.gz", md5: md5(readFileSync(join(served, "cifar-10-binary.tar.gz"))), folder: "cifar-10-batches-bin" }];

    worker = new Worker(SERVER, { eval: true, workerData: { dir: served } });
    const port = await new Promise<number>((r) => worker.once("message", r));
    base = `http://127.0.0.1:${port}`;
    // A mirror that is down: a port that was just closed.
    const { createServer } = await import("node:net");
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    dead = `http://127.0.0.1:${(s.address() as { port: number }).port}/`;
    await new Promise((r) => s.close(r));
  });
  after(async () => {
    Object.assign(FashionMNIST, { resources: saved.fm, mirrors: saved.fmMirrors });
    MNIST.resources = saved.mnist; CIFAR10.resources = saved.cifar;
    worker.postMessage("close");
    await new Promise((r) => worker.once("exit", r));
    rmSync(served, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it("the first mirror down: the next one serves, MD5s checked, the dataset loads (torchvision's raw/ layout)", () => {
    const r = freshRoot();
    const train = new FashionMNIST({ root: r, download: true, mirrors: [dead, `${base}/good/`] });
    assert.equal(train.length, 6);
    assert.equal((new FashionMNIST({ root: r, train: false }).getItem(2)[1]), 7);
    assert.deepEqual(readdirSync(join(r, "FashionMNIST", "raw")).sort(), Object.keys(files).sort(), "the four files, nothing else");
  });

  it("a corrupt file is refused by its checksum and removed; a later good mirror is used", async () => {
    const r = freshRoot();
    assert.throws(() => new FashionMNIST({ root: r, download: true, mirrors: [`${base}/corrupt/`] }),
      (e: Error) => e instanceof DatasetNotFoundError && /checksum mismatch: MD5 [0-9a-f]{32}, expected/.test(e.message) && /TORCHLIGHT_DATASET_MIRRORS/.test(e.message));
    assert.deepEqual(readdirSync(join(r, "FashionMNIST", "raw")), [], "nothing left behind");
    const lines: string[] = [];
    await downloadResources({ kind: "FashionMNIST", mirrors: [`${base}/corrupt/`, `${base}/good/`], resources: [...FashionMNIST.resources], dest: join(r, "FashionMNIST", "raw") }, (s) => lines.push(s));
    assert.equal(new FashionMNIST({ root: r }).length, 6);
    assert.ok(lines.some((l) => l.startsWith(`Downloading ${base}/corrupt/train-images-idx3-ubyte.gz`)), lines.join("\n"));
    assert.ok(lines.some((l) => /Failed to download \(trying next\):\nchecksum mismatch/.test(l)), lines.join("\n"));
  });

  it("an interrupted download leaves nothing half-written", () => {
    const r = freshRoot();
    assert.throws(() => new MNIST({ root: r, download: true, mirrors: [`${base}/cut/`] }),
      (e: Error) => e instanceof DatasetNotFoundError && /could not download train-images-idx3-ubyte.gz from any mirror/.test(e.message) && /cut\/train-images/.test(e.message));
    assert.deepEqual(readdirSync(join(r, "MNIST", "raw")), [], "no partial file, no temporary file");
  });

  it("TORCHLIGHT_DATASET_MIRRORS replaces the class's mirrors; FashionMNIST.mirrors is assignable as in Python", () => {
    process.env.TORCHLIGHT_DATASET_MIRRORS = `${dead},${base}/good/`;
    try {
      assert.equal(new MNIST({ root: freshRoot(), download: true, train: false }).length, 4);
    } finally {
      delete process.env.TORCHLIGHT_DATASET_MIRRORS;
    }
    FashionMNIST.mirrors = [`${base}/good/`];
    assert.equal(new FashionMNIST({ root: freshRoot(), download: true }).length, 6);
    FashionMNIST.mirrors = saved.fmMirrors;
    assert.throws(() => new FashionMNIST({ root: freshRoot(), download: true, mirrors: "http://x" as unknown as string[] }), /mirrors must be an array of base URLs/);
  });

  it("CIFAR10: the archive is fetched, checked and extracted into place", () => {
    const r = freshRoot();
    const test = new CIFAR10({ root: r, download: true, train: false, mirrors: [`${base}/good/`] });
    assert.equal(test.length, 2);
    assert.equal(test.getItem(1)[1], 2);
    assert.deepEqual(readdirSync(r).sort(), ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"], "no temporary folder left");
    assert.equal(new CIFAR10({ root: r }).length, 10, "the training batches came too");
  });

  it("without download, a missing dataset names the files and the download option", () => {
    assert.throws(() => new MNIST({ root: freshRoot() }), (e: Error) => e instanceof DatasetNotFoundError && /train-images-idx3-ubyte.gz/.test(e.message) && /download: true/.test(e.message));
  });

  it("Debian's FashionMNIST package works offline with download: true (nothing is fetched)", { skip: existsSync("/usr/share/datasets/fashion-mnist") ? false : "dataset-fashion-mnist not installed" }, () => {
    const ds = new FashionMNIST({ download: true, train: false, mirrors: [dead] });
    assert.equal(ds.length, 10000);
  });
});
