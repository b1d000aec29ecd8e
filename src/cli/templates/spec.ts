/** What `new module` writes a module from: its name, language and kind. */

/** The kinds of module `new module` writes. */
export type ModuleKind = "sink" | "source" | "converter";

/** The languages `new module` writes. */
export type ModuleLang = "ts" | "python";

/** Everything a template needs. */
export interface ModuleSpec {
  /** The module name (the manifest's `name`). */
  name: string;
  lang: ModuleLang;
  kind: ModuleKind;
  /** The one entity type the module provides: the name with `_` for `-` and `.`. */
  entityType: string;
  version: string;
  description: string;
}

/** The spec of a module called `name`. */
export function moduleSpec(name: string, lang: ModuleLang, kind: ModuleKind): ModuleSpec {
  return {
    name,
    lang,
    kind,
    entityType: name.replace(/[-.]/g, "_"),
    version: "0.1.0",
    description: `A ${kind} module in ${lang === "ts" ? "TypeScript" : "Python"}`,
  };
}
