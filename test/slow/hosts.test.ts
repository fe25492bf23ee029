// Hosts on one machine (scripts/hosts-local.sh): two network/UTS/mount namespaces with their
// own addresses, hostnames, /tmp and /etc/hosts, and one shared folder; torchlight's process
// groups across them. `npm run test:hosts` (root; skipped where namespaces cannot be made, so
// CI, which does not run it, is unaffected).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers.js";

const HOSTS = join(ROOT, "scripts", "hosts-local.sh");
const SHARED = process.env.TORCHLIGHT_HOSTS_SHARED ?? "/srv/torchlight-shared";
const canMake = process.getuid?.() === 0 && spawnSync("unshare", ["--net", "--uts", "--mount", "--fork", "true"]).status === 0;
const skip = canMake ? false : "needs root and Linux namespaces (unshare --net --uts --mount)";

const on = (host: string, cmd: string[]) => spawnSync("bash", [HOSTS, "run", host, ...cmd], { encoding: "utf8", timeout: 60_000 });

/** Runs one rank of test/distributed/worker.js's scenario on each host at once; returns their reports. */
function ranksOn(hosts: string[], scenario: string, env: Record<string, string>): Promise<{ ok: boolean; rank: number; error?: string }[]> {
  const worker = join(ROOT, "dist", "test", "distributed", "worker.js");
  return Promise.all(hosts.map((h, rank) => new Promise<{ ok: boolean; rank: number; error?: string }>((resolve, reject) => {
    const vars = Object.entries({ RANK: String(rank), WORLD_SIZE: String(hosts.length), TORCHLIGHT_NUM_THREADS: "1", TEST_TIMEOUT_MS: "20000", ...env }).map(([k, v]) => `${k}=${v}`);
    const p = spawn("bash", [HOSTS, "run", h, "env", ...vars, process.execPath, worker, scenario], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => { p.kill("SIGKILL"); reject(new Error(`rank ${rank} on ${h} did not finish: ${err}`)); }, 90_000);
    p.on("exit", () => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line) reject(new Error(`rank ${rank} on ${h} printed no report: ${err}`)); else resolve(JSON.parse(line));
    });
  })));
}

const SLURM = join(ROOT, "scripts", "slurm-local.sh");
const haveSlurm = spawnSync("sh", ["-c", "command -v slurmctld && command -v slurmd && command -v sbatch"]).status === 0;
let slurmStarted = false;
before(() => { if (canMake) assert.equal(spawnSync("bash", [HOSTS, "up", "2"], { encoding: "utf8" }).status, 0); });
after(() => {
  if (slurmStarted) spawnSync("bash", [SLURM, "stop"]);
  if (canMake) spawnSync("bash", [HOSTS, "down"]);
});

test("each host has its own hostname, address, /tmp and /etc/hosts; the shared folder is the same on both", { skip }, () => {
  const probe = (h: string) => on(h, ["sh", "-c", `hostname; ip -4 -o addr show eth0 | awk '{print $4}'; ls /tmp; getent hosts h1 h2 | awk '{print $1}'; echo ${h} > ${SHARED}/from-${h}; echo ${h} > /tmp/only-${h}`]).stdout.trim().split("\n");
  const a = probe("h1"), b = probe("h2");
  assert.deepEqual([a[0], a[1]], ["h1", "10.77.0.11/24"]);
  assert.deepEqual([b[0], b[1]], ["h2", "10.77.0.12/24"]);
  assert.ok(!b.includes("only-h1"), "h2 does not see h1's /tmp");
  assert.ok(!existsSync("/tmp/only-h1"), "the machine's /tmp is not a host's");
  assert.deepEqual(a.slice(-2), ["10.77.0.11", "10.77.0.12"], "/etc/hosts names both hosts by their own addresses (not 127.0.0.1)");
  assert.equal(readFileSync(join(SHARED, "from-h1"), "utf8").trim(), "h1");
  assert.equal(on("h2", ["cat", join(SHARED, "from-h1")]).stdout.trim(), "h1", "h2 reads what h1 wrote in the shared folder");
  rmSync(join(SHARED, "from-h1"), { force: true }); rmSync(join(SHARED, "from-h2"), { force: true });
});

test("every collective across the two hosts: the private store (rank 0 hosts it on its address) with GLOO_SOCKET_IFNAME=eth0, Gloo's default device (the hostname's address), and a plain TCPStore", { skip }, async () => {
  for (const env of [
    { MASTER_ADDR: "h1", MASTER_PORT: "29710", GLOO_SOCKET_IFNAME: "eth0", TORCHLIGHT_STORE_SECRET: "across-hosts-".padEnd(40, "s") },
    { MASTER_ADDR: "h1", MASTER_PORT: "29711", TORCHLIGHT_STORE_SECRET: "across-hosts-".padEnd(40, "t") },
    { MASTER_ADDR: "10.77.0.11", MASTER_PORT: "29712" },
  ]) {
    const reports = await ranksOn(["h1", "h2"], "collectives", env);
    for (const r of reports) assert.ok(r.ok, `${JSON.stringify(env)} rank ${r.rank}: ${r.error}`);
  }
});

test("a port bound to loopback on one host cannot be reached from the other (a local run's store and Gloo stay on their host)", { skip }, () => {
  const server = spawn("bash", [HOSTS, "run", "h1", process.execPath, "-e", "require('net').createServer((s) => s.end('hi')).listen(29720, '127.0.0.1'); setTimeout(() => process.exit(0), 8000)"], { stdio: "ignore" });
  try {
    spawnSync("sleep", ["1"]);
    const probe = (h: string, addr: string) => on(h, [process.execPath, "-e", `const s = require('net').connect(29720, '${addr}'); s.on('data', (d) => { console.log(String(d)); process.exit(0); }); s.on('error', (e) => { console.log(e.code); process.exit(0); }); setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 3000)`]).stdout.trim();
    assert.equal(probe("h1", "127.0.0.1"), "hi");
    assert.match(probe("h2", "10.77.0.11"), /ECONNREFUSED/);
    assert.match(probe("h2", "127.0.0.1"), /ECONNREFUSED/, "h2's loopback is its own");
  } finally { server.kill("SIGKILL"); }
});

test("a TorchTrainer job through Slurm across the two hosts (a slurmd inside each): one rank on each host, the run folder in the shared folder", { skip: skip || (haveSlurm ? false : "Slurm is not installed (npm run test:slurm installs it)") }, (t) => {
  const up = spawnSync("sinfo", ["-h", "-N", "-o", "%N %t"], { encoding: "utf8" });
  if (up.status === 0 && /\S/.test(up.stdout) && !/^h1 /m.test(up.stdout)) { t.skip("another Slurm cluster answers (scripts/slurm-local.sh stop first)"); return; }
  if (up.status !== 0 || !/^h1 (idle|mix)/m.test(up.stdout)) {
    const r = spawnSync("bash", [SLURM, "start"], { encoding: "utf8", env: { ...process.env, SLURM_LOCAL_HOSTS: "2" }, timeout: 300_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    slurmStarted = true;
  }
  const storage = join(SHARED, `runs-${process.pid}`);
  const out = join(storage, "job.out");
  spawnSync("mkdir", ["-p", storage]);
  // the shared folder is a plain folder of this machine (statfs calls it local): the nonce check finds it shared
  const job = (dir: string, name: string) => spawnSync("sbatch", ["--wait", "-N2", "--ntasks=2", "--ntasks-per-node=1", "--cpus-per-task=1", `--output=${out}`,
    `--wrap=exec ${process.execPath} ${join(ROOT, "dist", "test", "train", "fixture.js")} probe ${dir} ${name}`], { encoding: "utf8", timeout: 240_000, env: { ...process.env, TORCHLIGHT_STORAGE_SHARED: "" } });
  const r = job(storage, "p");
  assert.equal(r.status, 0, r.stderr + (existsSync(out) ? readFileSync(out, "utf8").slice(-2000) : ""));
  const rows = readFileSync(join(storage, "p", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).metrics).sort((a, b) => a.rank - b.rank);
  assert.deepEqual(rows.map((m) => [m.rank, m.node, m.slurmNode]), [[0, 0, "h1"], [1, 1, "h2"]]);
  // a folder of h1's own /tmp: h2 does not see it; refused before any training worker starts, naming h2
  job("/tmp/tl-not-shared", "q");
  const text = readFileSync(out, "utf8");
  assert.match(text, /"code":"TRAIN_STORAGE_NOT_SHARED"/);
  assert.match(text, /node h2 does not see RunConfig\.storagePath \\"\/tmp\/tl-not-shared\\"/);
  assert.match(text, /Set RunConfig\(\{ storagePath \}\) to a folder every node mounts/);
  assert.ok(!/\(rank \d+ pid=/.test(text), "no worker started (none printed a line)");
  assert.equal(on("h1", ["test", "-e", "/tmp/tl-not-shared/q"]).status, 1, "no run folder was made");
  rmSync(storage, { recursive: true, force: true });
});
