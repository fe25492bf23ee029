// Another local user's attempts on a run's rendezvous store, for private_store.test.ts, which
// runs this as uid 65534 where it can: `node store_attacker.js <mode> <port> [holdMs] [pid]`.
// It knows the store's protocol (the project is open source) but not the secret; it prints one
// JSON line with what came back.
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";

const [mode = "read", portArg = "0", holdArg = "1500", pidArg = "0"] = process.argv.slice(2);
const port = Number(portArg), holdMs = Number(holdArg);

/** A frame of the store's protocol: u32 length, then the payload. */
function frame(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
}
const str = (s: string) => { const b = Buffer.from(s); const h = Buffer.alloc(4); h.writeUInt32LE(b.length); return Buffer.concat([h, b]); };
const u8 = (v: number) => Buffer.from([v]);
const i64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); return b; };

interface Outcome { bytes: string; closedAfterMs: number | null; error?: string }

/** Sends `data`, then collects what comes back until the server closes or `holdMs` passes. */
function probe(data: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const t0 = Date.now();
    let closed: number | null = null, error: string | undefined;
    s.on("connect", () => s.write(data));
    s.on("data", (d) => chunks.push(d));
    s.on("error", (e) => { error = e.message; });
    s.on("close", () => { closed = Date.now() - t0; finish(); });
    const timer = setTimeout(finish, holdMs);
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ bytes: Buffer.concat(chunks).toString("latin1"), closedAfterMs: closed, ...(error ? { error } : {}) });
    }
  });
}

const GET = 3, SET = 2, HELLO = 1, GETNOW = 10;
let out: unknown;
switch (mode) {
  case "read":  // ask for a key without saying who it is
    out = await probe(Buffer.concat([frame(u8(GET), i64(100), str("source")), frame(u8(GETNOW), Buffer.from([1, 0, 0, 0]), str("source"))]));
    break;
  case "wrong":  // guess a secret, then try to write the collective bookkeeping (a forged mismatch)
    out = await probe(Buffer.concat([frame(u8(HELLO), str("torchlight-store/1"), str("0".repeat(48))), frame(u8(SET), str("tl_seq/1/1/0"), str("barrier() @ forged"))]));
    break;
  case "big":  // 18 bytes announcing a 1 GiB request, the socket held open
    out = await probe(Buffer.concat([Buffer.from([0, 0, 0, 0x40]), u8(SET), str("k"), Buffer.from([0, 0, 0, 0x40, 0, 0, 0, 0, 0])]));
    break;
  case "flood": {  // many connections, each stalled mid-frame
    const socks: Socket[] = [];
    let closed = 0;
    for (let i = 0; i < 200; i++) {
      const s = connect(port, "127.0.0.1");
      s.on("connect", () => s.write(Buffer.from([10, 0])));
      s.on("error", () => undefined);
      s.on("close", () => { closed++; });
      socks.push(s);
    }
    await new Promise((r) => setTimeout(r, holdMs));
    out = { opened: socks.length, closedByServer: closed };
    for (const s of socks) s.destroy();
    break;
  }
  case "environ": {  // the workers' environment holds the secret: can another user read it?
    try { out = { read: readFileSync(`/proc/${pidArg}/environ`, "latin1").includes("TORCHLIGHT_STORE_SECRET") }; } catch (e) { out = { error: (e as NodeJS.ErrnoException).code }; }
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
console.log(JSON.stringify({ uid: process.getuid?.(), ...(out as object) }));
