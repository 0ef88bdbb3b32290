/**
 * "FlopsFit: New Sweep": asks for the data source (synthetic, a text file in the workspace, a uint16
 * token file) and a name, writes a commented `<name>.sweep.yaml` and opens it. Every prompt can be
 * answered through the command's argument instead (tests, keybindings):
 *   { name, source, dataPath, vocabSize, folder, overwrite }
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log } from '../log';
import { registerCommand } from '../command';
import type { SweepStore } from '../sweeps';
import { sweepTemplate, validateSweepName, type TemplateSource } from './sweepTemplate';

export interface NewSweepOptions {
  name?: string;
  source?: TemplateSource['source'];
  /** data file (absolute or workspace-relative) for source text / uint16 */
  dataPath?: string;
  vocabSize?: number;
  /** folder to write the config in (absolute); default: the (picked) workspace folder */
  folder?: string;
  /** replace an existing file of the same name without asking */
  overwrite?: boolean;
}

const EXCLUDE = '**/{node_modules,.git,.flopsfit,dist,out}/**';

async function pickFolder(): Promise<string | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0) {
    void vscode.window.showErrorMessage('FlopsFit: open a folder first; a sweep config lives in a workspace.');
    return undefined;
  }
  if (folders.length === 1) return folders[0]!.uri.fsPath;
  const f = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Workspace folder for the new sweep' });
  return f?.uri.fsPath;
}

async function pickDataFile(kind: 'text' | 'uint16', root: string): Promise<string | undefined> {
  const glob = kind === 'text' ? '**/*.{txt,text,md}' : '**/*.{bin,u16,uint16,tok,tokens}';
  const files = await vscode.workspace.findFiles(glob, EXCLUDE, 500);
  const browse = { label: '$(folder-opened) Browse…', file: undefined as string | undefined };
  const items = [
    ...files
      .map((u) => u.fsPath)
      .sort()
      .map((f) => {
        let size = '';
        try {
          size = `${(fs.statSync(f).size / 1024).toFixed(0)} KB`;
        } catch {
          /* gone */
        }
        return { label: path.relative(root, f) || path.basename(f), description: size, file: f as string | undefined };
      }),
    browse,
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'FlopsFit: New Sweep — data file',
    placeHolder: kind === 'text' ? 'A text file (tokenised as bytes)' : 'A file of little-endian uint16 token ids',
  });
  if (!pick) return undefined;
  if (pick.file) return pick.file;
  const chosen = await vscode.window.showOpenDialog({
    canSelectMany: false,
    defaultUri: vscode.Uri.file(root),
    openLabel: 'Use as training data',
  });
  return chosen?.[0]?.fsPath;
}

function relData(file: string, folder: string): string {
  const rel = path.relative(folder, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

export async function newSweep(store: SweepStore, opts: NewSweepOptions = {}): Promise<vscode.Uri | undefined> {
  const folder = opts.folder ?? (await pickFolder());
  if (!folder) return undefined;

  let source = opts.source;
  if (!source) {
    const pick = await vscode.window.showQuickPick(
      [
        { label: '$(symbol-misc) Synthetic', description: 'built-in Markov-chain language, no file needed', source: 'synthetic' as const },
        { label: '$(file-text) Text file', description: 'a text file in the workspace, byte-level tokens', source: 'text' as const },
        { label: '$(file-binary) Token file (uint16)', description: 'pre-tokenised little-endian uint16 ids', source: 'uint16' as const },
      ],
      { title: 'FlopsFit: New Sweep — data source', placeHolder: 'Where does the training data come from?' },
    );
    if (!pick) return undefined;
    source = pick.source;
  }

  let data: TemplateSource;
  if (source === 'synthetic') data = { source };
  else {
    const file = opts.dataPath
      ? path.isAbsolute(opts.dataPath)
        ? opts.dataPath
        : path.join(folder, opts.dataPath)
      : await pickDataFile(source, folder);
    if (!file) return undefined;
    if (source === 'text') data = { source, path: relData(file, folder) };
    else {
      let vocab = opts.vocabSize;
      if (vocab === undefined) {
        const v = await vscode.window.showInputBox({
          title: 'FlopsFit: New Sweep — vocabulary size',
          prompt: 'Vocabulary size of the tokeniser (every token id is below it)',
          value: '50257',
          validateInput: (s) => (/^\d+$/.test(s.trim()) && +s >= 2 && +s <= 65536 ? undefined : 'An integer from 2 to 65536'),
        });
        if (v === undefined) return undefined;
        vocab = Number(v.trim());
      }
      data = { source, path: relData(file, folder), vocabSize: vocab };
    }
  }

  let name = opts.name;
  if (name === undefined) {
    let base = data.source === 'synthetic' ? 'synthetic' : path.basename(data.path).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]+/g, '-');
    if (!/^[A-Za-z0-9]/.test(base)) base = `sweep-${base}`;
    let suggestion = base;
    for (let i = 2; fs.existsSync(path.join(folder, `${suggestion}.sweep.yaml`)); i++) suggestion = `${base}-${i}`;
    name = await vscode.window.showInputBox({
      title: 'FlopsFit: New Sweep — name',
      prompt: 'Name of the sweep (also its file name and run directory)',
      value: suggestion,
      validateInput: (s) =>
        validateSweepName(s) ?? (fs.existsSync(path.join(folder, `${s}.sweep.yaml`)) ? `${s}.sweep.yaml already exists` : undefined),
    });
    if (name === undefined) return undefined;
  }
  const problem = validateSweepName(name);
  if (problem) throw new Error(problem);

  const file = path.join(folder, `${name}.sweep.yaml`);
  if (fs.existsSync(file) && !opts.overwrite) {
    const pick = await vscode.window.showWarningMessage(`${name}.sweep.yaml already exists.`, { modal: true }, 'Replace');
    if (pick !== 'Replace') return undefined;
  }
  const uri = vscode.Uri.file(file);
  await vscode.workspace.fs.writeFile(uri, Buffer.from(sweepTemplate({ name, data }), 'utf8'));
  log().info(`new sweep: ${file} (${data.source})`);
  store.getOrAdd(uri);
  await vscode.window.showTextDocument(uri, { preview: false });
  return uri;
}

/** Registers "FlopsFit: New Sweep" (its argument, when given, answers the prompts). */
export function registerNewSweep(context: vscode.ExtensionContext, store: SweepStore): void {
  registerCommand(context, 'flopsfit.newSweep', (arg) => newSweep(store, (arg ?? undefined) as NewSweepOptions | undefined));
}
