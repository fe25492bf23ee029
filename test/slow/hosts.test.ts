// Hosts on one machine (scripts/hosts-local.sh): two network/UTS/mount namespaces with their
// own addresses, hostnames, /tmp and /etc/hosts, and one shared folder; torchlight's process
// groups across them. `npm run test:hosts` (root; skipped where namespaces cannot be made, so
// CI, which does not run it, is unaffected).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
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
  assert.match(text, /the workers run on 2 hosts, but host h2 does not see RunConfig\.storagePath \\"\/tmp\/tl-not-shared\\" as the driver\'s node does/);
  assert.match(text, /Set RunConfig\(\{ storagePath \}\) to a folder every host mounts/);
  assert.ok(!/\(rank \d+ pid=/.test(text), "no worker started (none printed a line)");
  assert.equal(on("h1", ["test", "-e", "/tmp/tl-not-shared/q"]).status, 1, "no run folder was made");
  rmSync(storage, { recursive: true, force: true });
});

/** Starts Slurm with a slurmd inside each host, unless it already runs so; false when another cluster answers. */
function slurmOnHosts(): boolean {
  const up = spawnSync("sinfo", ["-h", "-N", "-o", "%N %t"], { encoding: "utf8" });
  if (up.status === 0 && /\S/.test(up.stdout) && !/^h1 /m.test(up.stdout)) return false;
  if (up.status !== 0 || !/^h1 (idle|mix)/m.test(up.stdout) || !/^h2 (idle|mix)/m.test(up.stdout)) {
    const r = spawnSync("bash", [SLURM, "start"], { encoding: "utf8", env: { ...process.env, SLURM_LOCAL_HOSTS: "2" }, timeout: 300_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    slurmStarted = true;
  }
  return true;
}
const slurmSkip = skip || (haveSlurm ? false : "Slurm is not installed (npm run test:slurm installs it)");
/** `sbatch --wait` of the train fixture on both hosts, one rank each; the job's output. */
function sbatchFixture(storage: string, args: string[], timeout = 240_000): { status: number | null; text: string } {
  const out = join(storage, `job-${args[2]}.out`);
  spawnSync("mkdir", ["-p", storage]);
  const r = spawnSync("sbatch", ["--wait", "-N2", "--ntasks=2", "--ntasks-per-node=1", "--cpus-per-task=1", `--output=${out}`,
    `--wrap=exec ${process.execPath} ${join(ROOT, "dist", "test", "train", "fixture.js")} ${args.join(" ")}`], { encoding: "utf8", timeout, env: { ...process.env, TORCHLIGHT_STORAGE_SHARED: "" } });
  return { status: r.status, text: r.stderr + (existsSync(out) ? readFileSync(out, "utf8") : "") };
}
/** Every process of host `h` (its network namespace) but the one holding it: its daemons and workers die at once, as when a machine is lost. */
function killHost(h: string): number {
  const holder = readFileSync(`/run/torchlight-hosts/${h}.pid`, "utf8").trim();
  const ns = readlinkSync(`/proc/${holder}/ns/net`);
  let n = 0;
  for (const p of readdirSync("/proc").filter((x) => /^\d+$/.test(x) && x !== holder)) {
    try { if (readlinkSync(`/proc/${p}/ns/net`) === ns) { process.kill(Number(p), "SIGKILL"); n++; } } catch { /* gone */ }
  }
  return n;
}
const resultOf = (text: string) => JSON.parse(text.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7)) as { ok: boolean; message?: string; checkpoint: string; metrics: Record<string, unknown> };

test("Slurm across the hosts: kill -9 of the worker on h2 → the driver restarts the group → parameters bit-equal to an uninterrupted run", { skip: slurmSkip }, (t) => {
  if (!slurmOnHosts()) { t.skip("another Slurm cluster answers (scripts/slurm-local.sh stop first)"); return; }
  const storage = join(SHARED, `slurm-kill-${process.pid}`);
  const straight = sbatchFixture(storage, ["lightning", storage, "straight"]);
  assert.equal(straight.status, 0, straight.text.slice(-3000));
  const marker = join(storage, "kill-marker");
  const killed = sbatchFixture(storage, ["lightning-kill", storage, "killed", marker]);
  assert.equal(killed.status, 0, killed.text.slice(-3000));
  assert.ok(existsSync(marker), "rank 1 killed itself");
  assert.match(killed.text, /rank 1: SIGKILL: the worker's Slurm step \(srun pid \d+, on host h2\) was killed by SIGKILL during training/);
  assert.match(killed.text, /restarting the worker group \(failure 1 of 1\) from checkpoint_/);
  const a = resultOf(straight.text), b = resultOf(killed.text);
  assert.equal(b.ok, true, killed.text.slice(-2000));
  const cmp = spawnSync(process.env.TORCHLIGHT_PYTHON ?? "/usr/bin/python3", ["-c", "import sys, torch\na = torch.load(sys.argv[1])['state_dict']; b = torch.load(sys.argv[2])['state_dict']\nprint(sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a))",
    join(a.checkpoint, "checkpoint.ckpt"), join(b.checkpoint, "checkpoint.ckpt")], { encoding: "utf8" });
  assert.equal(cmp.stdout.trim(), "True", cmp.stderr);
  rmSync(storage, { recursive: true, force: true });
});

test("Slurm across the hosts: h2 lost mid-run (its processes and its slurmd killed): the run fails naming h2 and is not restarted, though maxFailures allows one", { skip: slurmSkip }, async (t) => {
  if (!slurmOnHosts()) { t.skip("another Slurm cluster answers (scripts/slurm-local.sh stop first)"); return; }
  const storage = join(SHARED, `slurm-lost-${process.pid}`);
  const marker = join(storage, "rank1-started");
  spawnSync("mkdir", ["-p", storage]);
  const out = join(storage, "job-lost.out");
  const job = spawn("sbatch", ["--wait", "-N2", "--ntasks=2", "--ntasks-per-node=1", "--cpus-per-task=1", `--output=${out}`,
    `--wrap=exec ${process.execPath} ${join(ROOT, "dist", "test", "train", "fixture.js")} long ${storage} lost ${marker}`], { stdio: "ignore", env: { ...process.env, TORCHLIGHT_STORAGE_SHARED: "" } });
  const ended = new Promise<number | null>((r) => job.on("exit", (c) => r(c)));
  try {
    for (let i = 0; i < 600 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(readFileSync(marker, "utf8"), "h2", "rank 1 runs on h2");
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(killHost("h2") > 0, "h2 had processes");
    const code = await Promise.race([ended, new Promise<string>((r) => setTimeout(() => r("timeout"), 180_000).unref())]);
    assert.notEqual(code, "timeout", "the job ended");
    const text = readFileSync(out, "utf8");
    const res = resultOf(text);
    assert.equal(res.ok, false, text.slice(-2000));
    assert.match(res.message!, /HostLost: host h2 is lost: a short step sent there did not run .* rank 1 ran there\. The allocation no longer gives 2 workers, so the group is not restarted/);
    const state = JSON.parse(readFileSync(join(storage, "lost", "run.json"), "utf8"));
    assert.deepEqual([state.status, state.attempts.length], ["failed", 1], "no restart");
  } finally {
    job.kill("SIGKILL");
    // h2's slurmd back (the next tests use both hosts)
    if (slurmStarted) spawnSync("bash", [SLURM, "start"], { env: { ...process.env, SLURM_LOCAL_HOSTS: "2" }, timeout: 300_000 });
    rmSync(storage, { recursive: true, force: true });
  }
});

// ---- torchlight launch across the hosts (item 3) and as Kubernetes pods (item 4) ------------

const CLI = join(ROOT, "dist", "src", "cli", "main.js");
const FIXTURE = join(ROOT, "dist", "test", "train", "fixture.js");
const LAUNCH_SECRET = "hosts-test-secret-0123456789";
let launchPort = 29660;

/** `torchlight launch` on each host at once (node rank = index); resolves each one's exit code and output. */
function launchOn(hosts: string[], args: (node: number) => string[], env: (node: number) => Record<string, string> = () => ({}), ms = 180_000): Promise<{ code: number | null; out: string; err: string }[]> {
  return Promise.all(hosts.map((h, node) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const vars = Object.entries({ TORCHLIGHT_NUM_THREADS: "1", ...env(node) }).map(([k, v]) => `${k}=${v}`);
    const p = spawn("bash", [HOSTS, "run", h, "env", ...vars, process.execPath, CLI, "launch", ...args(node)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => p.kill("SIGKILL"), ms);
    p.on("exit", (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  })));
}
const results = (out: string) => out.split("\n").filter((l) => l.includes("RESULT ")).map((l) => JSON.parse(l.slice(l.indexOf("RESULT ") + 7)) as { ok: boolean; path: string; checkpoint: string; metrics: Record<string, unknown> });
/** The flags of node `node` of 2, one worker each, static rendezvous on h1. */
const twoNodes = (node: number, port: number, extra: string[] = []) => ["--nnodes", "2", "--nproc-per-node", "1", "--node-rank", String(node), "--master-addr", "h1", "--master-port", String(port), ...extra];

test("torchlight launch as two Kubernetes pods (PET_* variables, the secret from a mounted file): a TorchTrainer script runs one rank per host, the run folder in the shared folder, the same Result on both", { skip }, async () => {
  const storage = join(SHARED, `launch-${process.pid}`);
  // each "pod" has the Secret mounted as a file in its own /tmp
  for (const h of ["h1", "h2"]) assert.equal(on(h, ["sh", "-c", `echo ${LAUNCH_SECRET} > /tmp/launch-secret`]).status, 0);
  const port = launchPort++;
  // the example manifest's container: its launch command and environment (the Secret's mount
  // path is a file of each host's private /tmp here; the manifest's script is the fixture)
  const job = parseAllDocuments(readFileSync(join(ROOT, "examples", "kubernetes", "pytorchjob.yaml"), "utf8"))[0]!.toJS() as
    { spec: { nprocPerNode: string; pytorchReplicaSpecs: Record<"Master" | "Worker", { replicas: number; template: { spec: { containers: { command: string[]; env: { name: string; value: string }[] }[] } } }> } };
  const container = job.spec.pytorchReplicaSpecs.Worker.template.spec.containers[0]!;
  assert.deepEqual(container.command.slice(0, 3), ["npx", "torchlight", "launch"]);
  const flags = container.command.slice(3);
  const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
  assert.ok(env.TORCHLIGHT_LAUNCH_SECRET_FILE, "the manifest mounts the run's secret");
  env.TORCHLIGHT_LAUNCH_SECRET_FILE = "/tmp/launch-secret";
  env.TORCHLIGHT_STORAGE_PATH = storage;
  const nodes = job.spec.pytorchReplicaSpecs.Master.replicas + job.spec.pytorchReplicaSpecs.Worker.replicas;
  assert.equal(nodes, 2);
  // what the training operator sets in each pod (PET_*, and the legacy RANK/WORLD_SIZE, which the launcher's own replace);
  // one worker per pod here (the manifest's nprocPerNode is for real machines)
  const pod = (node: number) => ({ ...env, PET_NNODES: String(nodes), PET_NPROC_PER_NODE: "1", PET_NODE_RANK: String(node), PET_MASTER_ADDR: "h1", PET_MASTER_PORT: String(port),
    MASTER_ADDR: "h1", MASTER_PORT: String(port), WORLD_SIZE: String(nodes), RANK: String(node) });
  const runs = await launchOn(["h1", "h2"], () => [...flags, FIXTURE, "probe", storage, "pods"], pod);
  for (const r of runs) assert.equal(r.code, 0, r.err.slice(-3000));
  // RunConfig's callbacks (the fixture's `seen`) run once, on rank 0
  const [a, b] = runs.map((r) => ({ ...results(r.out)[0]!, seen: undefined }));
  assert.deepEqual(a, b, "the same Result on both hosts");
  const rows = readFileSync(join(storage, "pods", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).metrics).sort((x, y) => x.rank - y.rank);
  assert.deepEqual(rows.map((m) => [m.rank, m.node, m.host, m.localWorld]), [[0, 0, "h1", 1], [1, 1, "h2", 1]]);
  rmSync(storage, { recursive: true, force: true });
});

test("torchlight launch across the hosts: kill -9 of the worker on h2 → the launcher restarts the group on both hosts → parameters bit-equal to an uninterrupted run", { skip }, async () => {
  const storage = join(SHARED, `launch-kill-${process.pid}`);
  const secret = { TORCHLIGHT_LAUNCH_SECRET: LAUNCH_SECRET };
  const straightPort = launchPort++, killPort = launchPort++;
  const straight = await launchOn(["h1", "h2"], (n) => [...twoNodes(n, straightPort), FIXTURE, "lightning", storage, "straight"], () => secret);
  for (const r of straight) assert.equal(r.code, 0, r.err.slice(-3000));
  const marker = join(storage, "kill-marker");
  const killed = await launchOn(["h1", "h2"], (n) => [...twoNodes(n, killPort, ["--max-restarts", "1"]), FIXTURE, "lightning-kill", storage, "killed", marker], () => secret);
  for (const r of killed) assert.equal(r.code, 0, r.err.slice(-3000));
  assert.ok(existsSync(marker), "rank 1 killed itself");
  for (const r of killed) assert.match(r.err, /rank 1 \(local rank 0 on node 1, host h2, pid \d+\) was killed by SIGKILL[\s\S]*restarting the worker group on every node \(restart 1 of 1\)/);
  const state = JSON.parse(readFileSync(join(storage, "killed", "run.json"), "utf8"));
  assert.deepEqual([state.status, state.attempts.length], ["finished", 2]);
  assert.equal(state.attempts[0].error.kind, "infrastructure", JSON.stringify(state.attempts[0].error));
  assert.match(JSON.stringify(state.attempts[0].error), /rank 1[^"]*: lost|"rank":1,"pid":null,"kind":"infrastructure","type":"lost"/);
  const a = results(straight[0]!.out)[0]!, b = results(killed[0]!.out)[0]!;
  assert.deepEqual(a.metrics.step, b.metrics.step);
  const cmp = spawnSync(process.env.TORCHLIGHT_PYTHON ?? "/usr/bin/python3", ["-c", "import sys, torch\na = torch.load(sys.argv[1])['state_dict']; b = torch.load(sys.argv[2])['state_dict']\nprint(sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a))",
    join(a.checkpoint, "checkpoint.ckpt"), join(b.checkpoint, "checkpoint.ckpt")], { encoding: "utf8" });
  assert.equal(cmp.stdout.trim(), "True", cmp.stderr);
  rmSync(storage, { recursive: true, force: true });
});

test("torchlight launch across the hosts: a plain Lightning DDP script (no TorchTrainer) trains as one group over both hosts", { skip }, async () => {
  const port = launchPort++;
  const runs = await launchOn(["h1", "h2"], (n) => [...twoNodes(n, port), join(ROOT, "dist", "test", "lightning", "ddp_fit.js"), "1", "2"], () => ({ TORCHLIGHT_LAUNCH_SECRET: LAUNCH_SECRET }));
  for (const r of runs) assert.equal(r.code, 0, r.err.slice(-3000));
  const line = runs[0]!.out.split("\n").find((l) => l.includes("{\"weights\""))!;
  const two = JSON.parse(line.slice(line.indexOf("{"))) as { weights: number[]; worldSize: number };
  assert.equal(two.worldSize, 2);
  const one = JSON.parse(spawnSync(process.execPath, [join(ROOT, "dist", "test", "lightning", "ddp_fit.js"), "1"], { encoding: "utf8", env: { ...process.env, TORCHLIGHT_NUM_THREADS: "1" } }).stdout) as { weights: number[] };
  two.weights.forEach((w, i) => assert.ok(Math.abs(w - one.weights[i]!) < 1e-5, `weight ${i}: ${w} (2 hosts × batch 8) vs ${one.weights[i]} (1 process × batch 16)`));
});

test("torchlight launch across the hosts: a storagePath only h1 sees is refused on every rank, naming h2, before training", { skip }, async () => {
  const port = launchPort++;
  const runs = await launchOn(["h1", "h2"], (n) => [...twoNodes(n, port), FIXTURE, "plain", "/tmp/tl-launch-not-shared", "q"], () => ({ TORCHLIGHT_LAUNCH_SECRET: LAUNCH_SECRET }));
  for (const r of runs) {
    assert.equal(r.code, 1, r.err.slice(-2000));
    assert.match(r.out, /"code":"TRAIN_STORAGE_NOT_SHARED".*the workers run on 2 hosts, but host h2 does not see RunConfig\.storagePath \\"\/tmp\/tl-launch-not-shared\\" as rank 0\'s host does/);
  }
  assert.equal(on("h1", ["test", "-e", "/tmp/tl-launch-not-shared/q"]).status, 1, "no run folder was made");
});
