/**
 * Pagination of the list RPCs as AIP-158 describes it: `page_size` (0 for the default,
 * coerced down to the maximum, negative refused) and an opaque `page_token` from the
 * previous page's `next_page_token`.
 *
 * A token holds the key of the last item returned, not an offset, so an item created or
 * deleted between two pages neither repeats nor hides another one. It also holds which list
 * and which filters it was made for: a token sent to another list, or with other filters,
 * is INVALID_ARGUMENT naming `pageToken` (AIP-158: the other fields must stay the same).
 * Tokens are base64url text of a small JSON object; clients must treat them as opaque.
 */
import { badRequest } from "./error_details.ts";

/** Items per page when the request says 0. */
export const DEFAULT_PAGE_SIZE = 100;
/** The largest page; a larger `page_size` is coerced down to it. */
export const MAX_PAGE_SIZE = 1000;

/** The paging fields of a list request. */
export interface PageRequest {
  readonly pageSize: number;
  readonly pageToken: string;
}

/** How one list is paged. */
export interface PageOptions<T> {
  /** The list's name, kept in its tokens (e.g. "entities"). */
  readonly list: string;
  /** The request's other fields (filters): a token is good only with the same ones. */
  readonly filters: unknown;
  /** The key the list is ordered by (unique per item). */
  readonly key: (item: T) => string | number;
  /** Newest or largest first when true; ascending otherwise. */
  readonly descending?: boolean;
}

/** One page and the token of the next (empty on the last page). */
export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken: string;
}

interface TokenBody {
  /** The list. */
  l: string;
  /** A hash of the filters. */
  f: string;
  /** The key of the last item returned. */
  a: string | number;
}

/** FNV-1a (32 bits) of a text, as 8 hex digits: enough to tell filters apart. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

function encodeToken(body: TokenBody): string {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

function decodeToken(token: string): TokenBody | undefined {
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(token)) return undefined;
  try {
    const binary = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
    const body = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(binary, (c) => c.charCodeAt(0)),
      ),
    );
    if (
      typeof body?.l === "string" && typeof body.f === "string" &&
      (typeof body.a === "string" || typeof body.a === "number")
    ) return body as TokenBody;
  } catch {
    // Not base64 or not JSON: not one of ours.
  }
  return undefined;
}

/** The page size a request asks for, checked and coerced (AIP-158). */
export function pageSizeOf(req: PageRequest): number {
  if (!Number.isInteger(req.pageSize) || req.pageSize < 0) {
    throw badRequest([{
      field: "pageSize",
      description: `must be 0 (for ${DEFAULT_PAGE_SIZE}) or more, got ${req.pageSize}`,
    }]);
  }
  return req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
}

/**
 * The page of `items` that `req` asks for, with the token of the next one. `items` may
 * come in any order: they are sorted by `options.key` here.
 */
export function paginate<T>(
  items: readonly T[],
  req: PageRequest,
  options: PageOptions<T>,
): Page<T> {
  const size = pageSizeOf(req);
  const filters = fnv1a(
    JSON.stringify(options.filters ?? null, (_, v) => typeof v === "bigint" ? v.toString() : v),
  );
  const sign = options.descending ? -1 : 1;
  const compare = (a: string | number, b: string | number): number =>
    sign * (a < b ? -1 : a > b ? 1 : 0);
  const sorted = [...items].sort((x, y) => compare(options.key(x), options.key(y)));
  let from = 0;
  if (req.pageToken !== "") {
    const token = decodeToken(req.pageToken);
    if (!token || token.l !== options.list) {
      throw badRequest([{
        field: "pageToken",
        description: `not a page token of this list (${options.list}): send the ` +
          "nextPageToken of its previous page, or none for the first page",
      }]);
    }
    if (token.f !== filters) {
      throw badRequest([{
        field: "pageToken",
        description: "the token was made for other filters: send the same fields as on " +
          "the first page, or start again without pageToken",
      }]);
    }
    const after = token.a;
    if (sorted.length > 0 && typeof after !== typeof options.key(sorted[0])) {
      throw badRequest([{
        field: "pageToken",
        description: `not a page token of this list (${options.list})`,
      }]);
    }
    from = sorted.findIndex((item) => compare(options.key(item), after) > 0);
    if (from < 0) from = sorted.length;
  }
  const page = sorted.slice(from, from + size);
  const more = from + size < sorted.length;
  const nextPageToken = more
    ? encodeToken({ l: options.list, f: filters, a: options.key(page[page.length - 1]) })
    : "";
  return { items: page, nextPageToken };
}
