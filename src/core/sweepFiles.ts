/**
 * Which files are sweep configs: one home for the CLI, the extension's watchers and selectors,
 * and package.json's activation events, language associations and schema associations (a unit
 * test checks that package.json agrees with these constants). No `node:` imports: the webview may
 * use it too.
 */

/** The extensions after `.sweep.`, by the language the file is read as. */
export const SWEEP_EXTENSIONS = { yaml: ['yaml', 'yml'], json: ['json'] } as const;

/** Every extension after `.sweep.`. */
export const SWEEP_ALL_EXTENSIONS: readonly string[] = [...SWEEP_EXTENSIONS.yaml, ...SWEEP_EXTENSIONS.json];

/** File names that are sweep configs: `<name>.sweep.yaml`, `.sweep.yml`, `.sweep.json` (any case). */
export const SWEEP_FILE_RE = new RegExp(`\\.sweep\\.(${SWEEP_ALL_EXTENSIONS.join('|')})$`, 'i');

/** The glob of every sweep config in a workspace (file watchers, findFiles, document selectors). */
export const SWEEP_GLOB = `**/*.sweep.{${SWEEP_ALL_EXTENSIONS.join(',')}}`;

/** The glob of the YAML ones (the YAML language features). */
export const SWEEP_YAML_GLOB = `**/*.sweep.{${SWEEP_EXTENSIONS.yaml.join(',')}}`;

/** File-name patterns (no folder part) as package.json's filenamePatterns and fileMatch write them. */
export function sweepFilenamePatterns(kind: 'yaml' | 'json' | 'all' = 'all'): string[] {
  const exts = kind === 'all' ? SWEEP_ALL_EXTENSIONS : SWEEP_EXTENSIONS[kind];
  return exts.map((e) => `*.sweep.${e}`);
}

export function isSweepFile(fileName: string): boolean {
  return SWEEP_FILE_RE.test(fileName);
}

/** The file name without its `.sweep.<ext>` suffix (the sweep's default display name). */
export function sweepBaseName(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  return base.replace(SWEEP_FILE_RE, '');
}
