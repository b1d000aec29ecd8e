/**
 * The HTTP ceiling: a raw `Deno.serve` answering every request with a small JSON body.
 * Prints the port it listens on (127.0.0.1, kernel-chosen unless PORT is set).
 */
const body = JSON.stringify({ hello: "world" });
Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: ({ port }) => console.log(`listening ${port}`),
}, () => new Response(body, { headers: { "content-type": "application/json" } }));
