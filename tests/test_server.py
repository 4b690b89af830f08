"""`pickle-audit server` in a real LSP session: a pygls client talks to the server
process over stdio, as an editor does, on a copy of the seed-bug project."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from lint_helpers import copy_fixture

pytest.importorskip("pygls", reason="the server extra (pygls) is not installed")

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

Session = Callable[["Editor"], Awaitable[None]]


class Editor:
    """A client that records what the server publishes, per document."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = LanguageClient("test-editor", "1")
        self.published: asyncio.Queue[types.PublishDiagnosticsParams] = asyncio.Queue()
        self.messages: asyncio.Queue[types.ShowMessageParams] = asyncio.Queue()
        self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(
            lambda params: self.published.put_nowait(params)
        )
        self.client.feature(types.WINDOW_SHOW_MESSAGE)(
            lambda params: self.messages.put_nowait(params)
        )

    def uri(self, name: str) -> str:
        return from_fs_path(str(self.root / name))

    def open(self, name: str, text: str | None = None) -> None:
        source = (self.root / name).read_text() if text is None else text
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(self.uri(name), "python", 1, source)
            )
        )

    def change(self, name: str, version: int, text: str) -> None:
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version, self.uri(name)),
                [types.TextDocumentContentChangeWholeDocument(text)],
            )
        )

    async def diagnostics(self, name: str) -> list[types.Diagnostic]:
        params = await asyncio.wait_for(self.published.get(), timeout=60)
        assert params.uri == self.uri(name)
        return list(params.diagnostics)


def run_session(root: Path, session: Session) -> int:
    """Start the server, initialize, run `session`, shut down; the server's exit code."""

    async def main() -> int:
        editor = Editor(root)
        await editor.client.start_io(sys.executable, "-m", "pickle_audit", "server", cwd=root)
        await editor.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(), root_uri=from_fs_path(str(root))
            )
        )
        editor.client.initialized(types.InitializedParams())
        await session(editor)
        await editor.client.shutdown_async(None)
        editor.client.exit(None)
        server = editor.client._server  # the process pygls started
        code = await asyncio.wait_for(server.wait(), timeout=30)
        await editor.client.stop()
        return code

    return asyncio.run(main())


@pytest.mark.timeout(180)
def test_diagnostics_follow_the_buffer_on_open_change_save_and_close(tmp_path: Path) -> None:
    project = copy_fixture("seedbug", tmp_path)
    core = project / "mbepar" / "core.py"
    fixed = core.read_text().replace(
        "self.nbodies_per_level.keys()", "list(self.nbodies_per_level)"
    )

    async def session(editor: Editor) -> None:
        editor.open("mbepar/core.py")
        [diagnostic] = await editor.diagnostics("mbepar/core.py")
        assert diagnostic.code == "PA102"
        assert diagnostic.source == "pickle-audit"
        assert diagnostic.severity == types.DiagnosticSeverity.Error
        assert diagnostic.range == types.Range(types.Position(10, 8), types.Position(10, 51))
        assert diagnostic.message == (
            "dict view stored on FragmentCore.levels cannot be pickled\n"
            "fix: store list(...) or tuple(...) instead of the view"
        )
        assert [
            (info.location.uri, info.location.range.start.line, info.message)
            for info in diagnostic.related_information
        ] == [
            (
                editor.uri("mbepar/parallel.py"),
                13,
                "FragmentCore reaches a worker via ParallelDriver.core",
            ),
            (editor.uri("mbepar/parallel.py"), 20, "<- pool.submit(self.run_fragment, ...)"),
        ]

        editor.change("mbepar/core.py", 2, fixed)  # unsaved: the file on disk still has the bug
        assert await editor.diagnostics("mbepar/core.py") == []

        core.write_text(fixed)
        editor.client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                types.TextDocumentIdentifier(editor.uri("mbepar/core.py"))
            )
        )
        assert await editor.diagnostics("mbepar/core.py") == []

        editor.open("mbepar/settings.py")  # the fix reached the index: settings still travel
        [lambda_default] = await editor.diagnostics("mbepar/settings.py")
        assert (lambda_default.code, lambda_default.range.start) == ("PA101", types.Position(9, 4))

        editor.client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                types.TextDocumentIdentifier(editor.uri("mbepar/settings.py"))
            )
        )
        assert await editor.diagnostics("mbepar/settings.py") == []

    assert run_session(project, session) == 0


@pytest.mark.timeout(180)
def test_a_configuration_error_is_shown_and_the_server_keeps_serving(tmp_path: Path) -> None:
    project = copy_fixture("seedbug", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('select = ["PA"]', 'select = ["PA9"]'))

    async def session(editor: Editor) -> None:
        editor.open("mbepar/core.py")
        shown = await asyncio.wait_for(editor.messages.get(), timeout=60)
        assert shown.type == types.MessageType.Error
        assert shown.message == (
            "pickle-audit: unknown rule id 'PA9' in 'select' in [tool.pickle-audit]"
            f" in {pyproject}; run `pickle-audit rule` to list the rules"
        )
        assert editor.published.empty()
        pyproject.write_text(pyproject.read_text().replace('"PA9"', '"PA1"'))
        editor.open("mbepar/settings.py")
        [diagnostic] = await editor.diagnostics("mbepar/settings.py")
        assert diagnostic.code == "PA101"

    assert run_session(project, session) == 0
