"""The read-only REST API (Esplora's paths and shapes) and the web explorer.

Served over the `ExplorerSource` protocol (`timecoin.explorer.source`), never
over the node itself. docs/rest.md documents every path.
"""
