/**
 * A bare HTTP/1.1 client over a TCP connection, for requests `fetch` will not send as
 * written (its own Host header wins) and for slow or unfinished requests.
 */

/** A raw HTTP answer. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** What to send. */
export interface RawRequest {
  method?: string;
  path?: string;
  /** Sent as given, Host included; `connection: close` is added. */
  headers?: Record<string, string>;
  body?: string;
}

/** Parses "HTTP/1.1 200 OK\r\nheaders\r\n\r\nbody" (a chunked body is left as it is). */
export function parseResponse(text: string): RawResponse {
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = new Headers();
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return {
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: end < 0 ? "" : text.slice(end + 4),
  };
}

/** Sends one request on a new connection to `host:port` and reads until it closes. */
export async function rawRequest(address: string, request: RawRequest): Promise<RawResponse> {
  const i = address.lastIndexOf(":");
  const conn = await Deno.connect({
    hostname: address.slice(0, i),
    port: Number(address.slice(i + 1)),
  });
  try {
    const body = new TextEncoder().encode(request.body ?? "");
    const headers: Record<string, string> = { ...request.headers, connection: "close" };
    if (request.body !== undefined) headers["content-length"] = String(body.length);
    const head = `${request.method ?? "GET"} ${request.path ?? "/"} HTTP/1.1\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
    const out = new Uint8Array([...new TextEncoder().encode(head), ...body]);
    for (let sent = 0; sent < out.length;) sent += await conn.write(out.subarray(sent));
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(16 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return parseResponse(new TextDecoder().decode(all));
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the server.
    }
  }
}
