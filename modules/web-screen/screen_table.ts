/**
 * The screens of the web-screen module: each screen, the connections that bring it
 * media, which one it plays, and what its page last reported.
 */

/** The protocols a screen page plays. */
export const PROTOCOLS = ["webrtc", "hls", "mjpeg"] as const;
/** One of {@link PROTOCOLS}. */
export type Protocol = typeof PROTOCOLS[number];

/** What a screen page plays: a URL in a protocol, for a flow's connection. */
export interface ScreenSource {
  protocol: Protocol;
  url: string;
  flow_id: string;
  connection_id: string;
  /** When the flow was (re)started here: a page restarts its player when it changes. */
  started_at: number;
}

/** What a page is told to play (`GET /screens/<id>/source`). */
export interface SourceAnswer {
  id: string;
  name: string;
  source: ScreenSource | null;
  /** Grows at each ReestablishConnection of the source: the page restarts its player. */
  reload: number;
  /** The screen's `accept` list: the page refuses to play anything else. */
  accept: string[];
}

/** A screen entity. */
export interface Screen {
  id: string;
  name: string;
  /** Show the figures line at the bottom of the page. */
  showInfo: boolean;
  /** The protocols and codec families the page may play; empty for all. */
  accept: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** One connection to a screen, as the orchestrator set it up. */
export interface ScreenConnection {
  id: string;
  flowId: string;
  screenId: string;
  protocol: Protocol;
  /** Where the page fetches the media (the sender's address); empty until known. */
  url: string;
  running: boolean;
  startedAt: number;
  /** Bumped by ReestablishConnection: the page restarts its player when it changes. */
  reload: number;
}

/** The figures a page reports (numbers and short strings only; see screen.js). */
export type ScreenReport = Record<
  string,
  number | string | boolean | null | number[] | Record<string, unknown>
>;

/** A page's last report and when it came. */
export interface ReportEntry {
  report: ScreenReport;
  at: number;
}

/** A report older than this means no page is open (or it hangs). */
export const REPORT_STALE_MS = 5_000;

/** Screens, their connections and their pages' reports. */
export class ScreenTable {
  readonly screens = new Map<string, Screen>();
  readonly connections = new Map<string, ScreenConnection>();
  readonly reports = new Map<string, ReportEntry>();

  /** The screen, or undefined. */
  get(id: string): Screen | undefined {
    return this.screens.get(id);
  }

  /** The connection the screen's page should play: the latest started running one. */
  playing(screenId: string): ScreenConnection | undefined {
    let best: ScreenConnection | undefined;
    for (const c of this.connections.values()) {
      if (c.screenId !== screenId || !c.running || !c.url) continue;
      if (!best || c.startedAt > best.startedAt) best = c;
    }
    return best;
  }

  /** What the page is told: its source, reload count and accept list. */
  answer(screen: Screen): SourceAnswer {
    return {
      id: screen.id,
      name: screen.name,
      source: this.sourceOf(screen.id),
      reload: this.playing(screen.id)?.reload ?? 0,
      accept: screen.accept,
    };
  }

  /** What the screen's page should play: the latest started running connection. */
  sourceOf(screenId: string): ScreenSource | null {
    const best = this.playing(screenId);
    return best
      ? {
        protocol: best.protocol,
        url: best.url,
        flow_id: best.flowId,
        connection_id: best.id,
        started_at: best.startedAt,
      }
      : null;
  }

  /** Stores a page's report. */
  report(screenId: string, report: ScreenReport): void {
    this.reports.set(screenId, { report, at: Date.now() });
  }

  /** The page's last report when it is fresh, else undefined. */
  freshReport(screenId: string): ScreenReport | undefined {
    const entry = this.reports.get(screenId);
    return entry && Date.now() - entry.at <= REPORT_STALE_MS ? entry.report : undefined;
  }

  /** Forgets a screen and everything about it. */
  remove(screenId: string): void {
    this.screens.delete(screenId);
    this.reports.delete(screenId);
    for (const [id, c] of this.connections) {
      if (c.screenId === screenId) this.connections.delete(id);
    }
  }
}
