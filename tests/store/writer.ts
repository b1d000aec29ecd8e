/**
 * A child process for the durability test: writes documents and revisions to the store
 * in `Deno.args[0]` as fast as it can and prints "ack <n>" after each write returned,
 * until it is killed.
 */
import { Store } from "../../src/store/store.ts";

const store = Store.open(Deno.args[0]);
const docs = store.collection<{ n: number }>("docs");
const log = store.revisions<{ n: number }>("config");
const out = Deno.stdout;
const encoder = new TextEncoder();
for (let n = 1;; n++) {
  docs.put(`doc-${n}`, { n });
  log.append("module", { n }, { expectedRevision: n - 1 });
  out.writeSync(encoder.encode(`ack ${n}\n`));
}
