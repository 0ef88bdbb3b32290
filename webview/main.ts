// Results panel (browser side). Placeholder until the results-webview issue lands.
export {};
