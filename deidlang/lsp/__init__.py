"""The language server (`deidlang lsp`): what `deidlang check`, `explain` and `fmt` say, where rules are written.

Layer 7, beside the command line: it parses and compiles with the same parser and compiler, proves with
the same validators and formats with the same formatter; nothing here reads rule text another way.
`analysis` checks one document (unsaved buffers standing in for files on disk), `diagnostics`,
`hover`, `completion`, `navigation` and `fixes` answer the editor's questions from that analysis, and
`server` (the only module that needs pygls) wires them to the protocol.
"""
