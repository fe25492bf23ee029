/**
 * @module torchlight/vision/download: fetching a dataset's files, as torchvision's
 * `download_and_extract_archive`: each file from the mirrors in order, its MD5 checked
 * against the dataset's table, written atomically (a temporary file renamed into place, so
 * an interrupted download leaves nothing half-written), archives extracted into a temporary
 * folder renamed into place. It says what it does on stdout.
 *
 * The datasets' constructors are synchronous, as torchvision's: with `download: true` they
 * run this module in a child process and wait for it. `downloadResources` is the async form.
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { once } from "node:events";

/** One file of a dataset, with torchvision's MD5 of it. */
export interface Resource {
  file: string;
  md5: string;
  /** For an archive: the folder it unpacks to (extracted next to the archive). */
  folder?: string;
}

/** What to fetch, from where, into which folder. */
export interface DownloadPlan {
  kind: string;
  mirrors: string[];
  resources: Resource[];
  /** The folder the files go to. */
  dest: string;
}

/** Seconds without a byte before a mirror is given up (and the next one tried). */
const IDLE_TIMEOUT_MS = 60_000;

const mb = (n: number) => (n / 2 ** 20).toFixed(1);

/** Fetches `url` into `path` through a temporary file; resolves to the file's MD5. */
async function fetchTo(url: string, path: string, log: (s: string) => void): Promise<string> {
  const ac = new AbortController();
  let idle = setTimeout(() => ac.abort(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)), IDLE_TIMEOUT_MS);
  const tmp = `${path}.${process.pid}.part`;
  const out = createWriteStream(tmp);
  try {
    const res = await fetch(url, { signal: ac.signal, redirect: "follow" });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    const total = Number(res.headers.get("content-length")) || 0;
    const md5 = createHash("md5");
    let got = 0, shown = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      clearTimeout(idle);
      idle = setTimeout(() => ac.abort(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)), IDLE_TIMEOUT_MS);
      md5.update(chunk);
      got += chunk.length;
      if (!out.write(chunk)) await once(out, "drain");
      if (total > 8 * 2 ** 20 && got - shown >= total / 10) { shown = got; log(`  ${mb(got)} / ${mb(total)} MB`); }
    }
    if (total && got !== total) throw new Error(`the connection closed after ${got} of ${total} bytes`);
    out.end();
    await once(out, "close");
    renameSync(tmp, path);
    return md5.digest("hex");
  } catch (e) {
    out.destroy();
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    clearTimeout(idle);
  }
}

/** Unpacks a .tar.gz into `dest` through a temporary folder renamed into place. */
async function extract(archive: string, dest: string, folder: string, log: (s: string) => void): Promise<void> {
  const tar = await import("tar");
  const tmp = join(dest, `.${folder}.${process.pid}.extract`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    log(`Extracting ${archive} to ${join(dest, folder)}`);
    await tar.x({ file: archive, cwd: tmp, strict: true });
    if (!existsSync(join(tmp, folder))) throw new Error(`${archive} does not hold the folder ${folder}`);
    rmSync(join(dest, folder), { recursive: true, force: true });
    renameSync(join(tmp, folder), join(dest, folder));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Downloads every resource missing from `plan.dest` (trying the mirrors in order, checking
 * MD5s) and extracts archives. Rejects with one message naming each mirror's failure.
 */
export async function downloadResources(plan: DownloadPlan, log: (s: string) => void = console.log): Promise<void> {
  if (plan.mirrors.length === 0) throw new Error(`${plan.kind}: no mirror to download from; give mirrors: ["https://..."] or TORCHLIGHT_DATASET_MIRRORS`);
  mkdirSync(plan.dest, { recursive: true });
  for (const r of plan.resources) {
    const path = join(plan.dest, r.file);
    if (r.folder ? existsSync(join(plan.dest, r.folder)) : existsSync(path)) continue;
    if (!existsSync(path)) {
      const failures: string[] = [];
      for (const mirror of plan.mirrors) {
        const url = mirror.endsWith("/") ? mirror + r.file : `${mirror}/${r.file}`;
        log(`Downloading ${url} to ${path}`);
        try {
          const md5 = await fetchTo(url, path, log);
          if (md5 !== r.md5) {
            rmSync(path, { force: true });
            throw new Error(`checksum mismatch: MD5 ${md5}, expected ${r.md5} (a damaged or different file; removed)`);
          }
          break;
        } catch (e) {
          const why = (e as Error).cause instanceof Error ? `${(e as Error).message}: ${((e as Error).cause as Error).message}` : (e as Error).message;
          failures.push(`${url}: ${why}`);
          log(`Failed to download (trying next):\n${why}`);
        }
      }
      if (!existsSync(path)) {
        throw new Error(`${plan.kind}: could not download ${r.file} from any mirror:\n  ${failures.join("\n  ")}\n` +
          `Fetch it yourself into ${plan.dest}, or point to a mirror you can reach: { mirrors: ["https://host/path/"] } or TORCHLIGHT_DATASET_MIRRORS=url,url`);
      }
    }
    if (r.folder) await extract(path, plan.dest, r.folder, log);
  }
}

// The child process of a constructor's synchronous download: node download.js '<plan JSON>'.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  downloadResources(JSON.parse(process.argv[2]!) as DownloadPlan).catch((e: Error) => {
    process.stderr.write(e.message);
    process.exitCode = 1;
  });
}
