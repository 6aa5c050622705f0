// Starts `deidlang lsp` for .deid files. Everything the editor shows comes from the server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("deidlang");
  const [command, ...args] = config.get("server.command", ["deidlang", "lsp"]);
  client = new LanguageClient(
    "deidlang",
    "deidlang",
    { command, args },
    {
      documentSelector: [{ scheme: "file", language: "deid" }, { scheme: "untitled", language: "deid" }],
      initializationOptions: { profile: config.get("profile", null) },
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
