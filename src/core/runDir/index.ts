/**
 * The run-directory contract: its layout (every path), tolerant readers, the status derivation
 * and the experiment identity. Pure Node, no `vscode`: the runner, the CLI and the extension all
 * use this module, so they agree on what a run directory says.
 */
export * from './layout';
export * from './status';
export * from './reader';
export * from './identity';
