/**
 * Commands from the orchestrator to a module, sent down its Connect stream: each gets an
 * id, and the module answers with a CommandResult carrying it. Every instance of a
 * replicated module with an open stream gets the command; the first failure (or else the
 * first result) is the answer.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Command, CommandResult, CommandSchema } from "@callassistant/protocol";
import { CommandResultSchema } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import type { Channel, ChannelTable } from "./module_channels.ts";

/** A command as `sendCommand` takes it (without its id). */
export type CommandInit = Omit<MessageInitShape<typeof CommandSchema>, "commandId">;

/** Sends commands on the modules' streams and matches their results. */
export class CommandSender {
  #nextCommand = 1;

  readonly #registry: ModuleRegistry;
  readonly #channels: ChannelTable;

  constructor(
    registry: ModuleRegistry,
    channels: ChannelTable,
  ) {
    this.#registry = registry;
    this.#channels = channels;
  }

  /**
   * Sends a command to every open instance of `module` and waits for the results.
   * UNAVAILABLE without a stream, DEADLINE_EXCEEDED without an answer in time.
   */
  async send(module: string, command: CommandInit, timeoutMs: number): Promise<CommandResult> {
    const record = this.#registry.get(module);
    const instances = record ? [record, ...record.replicas] : [];
    const open = instances.flatMap((r) => this.#channels.open(r) ?? []);
    if (open.length === 0) {
      throw new RpcError(
        Code.UNAVAILABLE,
        `module "${module}" has no open event stream (EventService.Connect) to send commands on`,
      );
    }
    const results = await Promise.all(open.map((ch) => this.#sendOn(ch, command, timeoutMs)));
    return results.find((r) => !r.ok) ?? results[0];
  }

  /** Hands a result that came up the stream to the command waiting for it. */
  resolve(ch: Channel, result: CommandResult): void {
    const pending = ch.commands.get(result.commandId);
    if (pending) {
      ch.commands.delete(result.commandId);
      pending.resolve(result);
    }
  }

  /** Fails every command waiting on a channel whose stream closed. */
  rejectAll(ch: Channel, reason: string): void {
    for (const [, c] of ch.commands) {
      c.reject(new RpcError(Code.UNAVAILABLE, `the event channel closed: ${reason}`));
    }
    ch.commands.clear();
  }

  /** Sends `command` on one channel's stream; resolves with the module's result. */
  #sendOn(ch: Channel, command: CommandInit, timeoutMs: number): Promise<CommandResult> {
    const commandId = `cmd-${this.#nextCommand++}`;
    const full: Command = { ...command, commandId } as Command;
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        ch.commands.delete(commandId);
        reject(
          new RpcError(
            Code.DEADLINE_EXCEEDED,
            `module "${ch.module}" did not answer command ${commandId} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      ch.commands.set(commandId, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(create(CommandResultSchema, r));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      ch.stream!.out.push({ payload: { case: "command", value: full } });
    });
  }
}
