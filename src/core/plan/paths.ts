/**
 * Where a config's paths point: the workspace root relative paths resolve against, the run
 * directory, data files and a command trainer's working folder. Pure Node, no `vscode`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SweepConfig } from '../config/schema';

/**
 * The folder relative paths in a config resolve against, when the caller does not know the
 * workspace: the nearest ancestor of the config's folder that holds `.vscode` or `.git` (what
 * VS Code would open as the workspace), else the config's own folder. The CLI and the editor
 * therefore agree on the run directory in the usual layouts.
 */
export function findWorkspaceRoot(configPath: string): string {
  const start = path.dirname(path.resolve(configPath));
  let dir = start;
  for (let i = 0; i < 64; i++) {
    try {
      if (fs.existsSync(path.join(dir, '.vscode')) || fs.existsSync(path.join(dir, '.git'))) return dir;
    } catch {
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return start;
}

export function baseDir(configPath: string, workspaceRoot?: string): string {
  return workspaceRoot ? path.resolve(workspaceRoot) : findWorkspaceRoot(configPath);
}

/** A sweep name as a directory name: letters, digits, `.`, `_`, `-`; nothing else. */
export function sanitizeName(name: string): string {
  const s = String(name)
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 64);
  return s || 'sweep';
}

/** The run directory: `run.directory` when set, else `<workspace>/.flopsfit/<sanitised name>/`. */
export function resolveRunDir(config: SweepConfig, configPath: string, workspaceRoot?: string): string {
  const base = baseDir(configPath, workspaceRoot);
  if (config.run.directory) return path.resolve(base, config.run.directory);
  return path.join(base, '.flopsfit', sanitizeName(config.name));
}

/** Relative paths in the config (data.path, run.directory) resolve against the same root (a command's cwd: see commandCwd). */
export function resolveConfigPath(p: string, configPath: string, workspaceRoot?: string): string {
  return path.resolve(baseDir(configPath, workspaceRoot), p);
}

/**
 * The working folder of a command trainer (its `countParams` and `command` run there): `model.cwd`
 * resolved against the config file's folder, else that folder. So an example trainer next to its
 * config plans and runs from any current directory, and from a copy of the folder anywhere.
 */
export function commandCwd(model: { cwd?: string }, configPath: string): string {
  const dir = path.dirname(path.resolve(configPath));
  return model.cwd ? path.resolve(dir, model.cwd) : dir;
}


