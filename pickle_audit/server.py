"""`pickle-audit server`: the linter as a language server, for editors.

Each open Python document is linted as `pickle-audit lint FILE` would lint it,
against the whole project on disk (the same root discovery, configuration,
facts cache and index), with the editor's unsaved text standing in for the
file. Diagnostics are published on open, change and save, and cleared on
close. A chain step becomes related information, so the editor can jump along
the route by which the value reaches a worker.

Requires the `server` extra (pygls).
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from pickle_audit import __version__
from pickle_audit.config import ConfigError, find_project_root, load_config
from pickle_audit.findings import ChainStep, Finding, LintResult
from pickle_audit.lint.run import lint_paths

SOURCE = "pickle-audit"
_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}


def make_server() -> LanguageServer:
    """A server with its handlers; each call builds a fresh one (no shared state)."""
    server = LanguageServer(SOURCE, __version__)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )

    return server


def publish(ls: LanguageServer, uri: str) -> None:
    """Lint one document and publish its diagnostics; a problem with the project's
    configuration is shown to the user instead, and never ends the server."""
    path_text = to_fs_path(uri)
    if path_text is None or not path_text.endswith(".py"):
        return  # an untitled buffer or another language: not ours
    document = ls.workspace.get_text_document(uri)
    try:
        result = lint_document(Path(path_text), document.source)
    except ConfigError as error:
        ls.window_show_message(
            types.ShowMessageParams(types.MessageType.Error, f"pickle-audit: {error}")
        )
        return
    except OSError as error:
        ls.window_log_message(
            types.LogMessageParams(types.MessageType.Warning, f"pickle-audit: {error}")
        )
        return
    for warning in result.warnings:  # a cache that cannot be written: linted all the same
        ls.window_log_message(
            types.LogMessageParams(types.MessageType.Warning, f"pickle-audit: {warning}")
        )
    lines = document.source.splitlines()
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=uri,
            version=document.version,
            diagnostics=[to_diagnostic(finding, lines) for finding in result.findings],
        )
    )


def lint_document(path: Path, text: str) -> LintResult:
    """What `pickle-audit lint PATH` gives when PATH holds `text`."""
    root = find_project_root([path])
    return lint_paths([path], load_config(root), root, jobs=1, unsaved={path: text})


def to_diagnostic(finding: Finding, lines: list[str]) -> types.Diagnostic:
    """LSP positions are 0-based; the range runs from the finding to the end of its line."""
    line = finding.line - 1
    end = len(lines[line]) if 0 <= line < len(lines) else finding.column
    start = types.Position(line=max(line, 0), character=max(finding.column - 1, 0))
    message = finding.message + (f"\nfix: {finding.fix}" if finding.fix else "")
    return types.Diagnostic(
        range=types.Range(start=start, end=types.Position(line=start.line, character=end)),
        message=message,
        severity=_SEVERITY[finding.severity],
        code=finding.rule,
        source=SOURCE,
        related_information=[_related(step) for step in finding.chain] or None,
    )


def _related(step: ChainStep) -> types.DiagnosticRelatedInformation:
    position = types.Position(line=max(step.line - 1, 0), character=max(step.column - 1, 0))
    return types.DiagnosticRelatedInformation(
        location=types.Location(
            uri=from_fs_path(str(Path(step.path).resolve())),
            range=types.Range(start=position, end=position),
        ),
        message=step.text,
    )


def serve() -> None:
    """Speak LSP over stdin/stdout until the client says exit."""
    make_server().start_io()
