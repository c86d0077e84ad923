"""Pictures and pages for spec review meetings (see docs/diagrams.md).

- ``dot``: Graphviz diagrams per machine and an overview, with coverage, trace and diff overlays;
- ``mermaid``: ``stateDiagram-v2`` Markdown for wikis and pull requests;
- ``render``: DOT to SVG/PNG, and writing a folder of diagrams; ``stale``: freshness check;
- ``overlay``: reading the harness's coverage JSON and failure traces;
- ``report``: the one-file HTML review report; ``diff``: the semantic spec diff;
- ``commands``: the ``diagram``, ``report`` and ``diff`` commands of the ``authspec`` CLI.
"""
