/**
 * The naming and privacy check: clean on this repository, and finding a second file of a
 * name and each form of a TypeScript `private` member.
 */
import assert from "node:assert/strict";
import {
  checkConventions,
  duplicateNames,
  privateKeywordLines,
} from "../../scripts/check_conventions.ts";
import { ROOT } from "../helpers/test_orchestrator.ts";

Deno.test("conventions check: this repository has unique file names and no `private` member", async () => {
  assert.deepEqual(await checkConventions(ROOT), []);
});

Deno.test("conventions check: a name taken twice is found; entry points and stubs are not", () => {
  const found = duplicateNames([
    "src/a/helpers.ts",
    "tests/b/helpers.ts",
    "src/a/mod.ts",
    "src/b/mod.ts",
    "modules/x/main.py",
    "modules/y/main.py",
    "packages/protocol/gen/callassistant/v1/entity_pb.ts",
    "packages/sdk-python/callassistant/v1/entity_pb.ts",
    "src/only.ts",
  ]);
  assert.deepEqual([...found], [["helpers.ts", ["src/a/helpers.ts", "tests/b/helpers.ts"]]]);
});

Deno.test("conventions check: every form of a `private` member, not comments or a private constructor", () => {
  const text = [
    "class A {", //                                      1
    "  private x = 1;", //                               2
    "  private static y = 2;", //                        3
    "  static private z = 3;", //                        4
    "  constructor(private readonly a: number,", //      5
    "    readonly b: number, private c: string) {}", //  6
    "  #ok = 1;", //                                     7
    "  private constructor() {}", //                     8
    "  // private x: a comment", //                      9
    "   * private: a doc comment line", //              10
    '  key = "private key";', //                        11
    "}",
  ].join("\n");
  assert.deepEqual(privateKeywordLines(text), [2, 3, 4, 5, 6]);
});
