"""The catalogue of well-known unpicklable values, verified entry by entry.

Every entry of pickle_audit/data/known_unpicklable.toml is built for real here
(when its package is installed) and pickled under each serializer the entry
says refuses it; and the linter flags each of its calls on an instance that
reaches a process pool, with the entry's label.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import csv
import ctypes
import importlib.util
import inspect
import io
import os
import pickle
import selectors
import ssl
import threading
import weakref
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import cloudpickle
import dill
import pytest
from lint_core_helpers import lint, write_files

from pickle_audit.lint.values import known_unpicklable

SERIALIZERS = {"pickle": pickle, "cloudpickle": cloudpickle, "dill": dill}


def _sqlalchemy_engine(folder: Path) -> object:
    import sqlalchemy

    return sqlalchemy.create_engine("sqlite://")


def _sqlalchemy_session(folder: Path) -> object:
    import sqlalchemy
    import sqlalchemy.orm

    return sqlalchemy.orm.Session(bind=sqlalchemy.create_engine("sqlite://"))


def _zmq_context(folder: Path) -> object:
    import zmq

    return zmq.Context()


def _hdf5_file(folder: Path) -> object:
    import h5py

    return h5py.File(folder / "data.h5", "w")


def _netcdf_dataset(folder: Path) -> object:
    import netCDF4

    return netCDF4.Dataset(folder / "data.nc", "w")


def _grpc_channel(folder: Path) -> object:
    import grpc

    return grpc.insecure_channel("localhost:1")


def _mongo_client(folder: Path) -> object:
    import pymongo

    return pymongo.MongoClient("mongodb://localhost:1", connect=False)


def _redis_client(folder: Path) -> object:
    import redis

    return redis.Redis()


def _aws_client(folder: Path) -> object:
    import boto3

    return boto3.client("s3", region_name="us-east-1")


def _boto3_session(folder: Path) -> object:
    import boto3.session

    return boto3.session.Session(region_name="us-east-1")


# one real instance per entry, by label; the package to import is the entry's own
BUILDERS: dict[str, Callable[[Path], object]] = {
    "SQLAlchemy engine": _sqlalchemy_engine,
    "SQLAlchemy session": _sqlalchemy_session,
    "ZeroMQ context": _zmq_context,
    "HDF5 file": _hdf5_file,
    "netCDF dataset": _netcdf_dataset,
    "gRPC channel": _grpc_channel,
    "MongoDB client": _mongo_client,
    "Redis client": _redis_client,
    "AWS client": _aws_client,
    "boto3 session": _boto3_session,
    "asyncio event loop": lambda folder: asyncio.new_event_loop(),
    "thread-local storage": lambda folder: threading.local(),
    "SSL context": lambda folder: ssl.create_default_context(),
    "open archive": lambda folder: zipfile.ZipFile(folder / "data.zip", "w"),
    "I/O selector": lambda folder: selectors.DefaultSelector(),
    "frame": lambda folder: inspect.currentframe(),
    "weak dictionary": lambda folder: weakref.WeakValueDictionary(),  # even empty
    "weak set": lambda folder: weakref.WeakSet(),
    "CSV reader or writer": lambda folder: csv.writer(io.StringIO()),
    "directory iterator": lambda folder: os.scandir(folder),
    "pipe to a shell command": lambda folder: os.popen("true"),
    "thread": lambda folder: threading.Thread(target=print),
    "future": lambda folder: concurrent.futures.Future(),
    "ctypes pointer": lambda folder: ctypes.pointer(ctypes.c_int(1)),
}
ENTRIES = {known.label: known for known in known_unpicklable()}


def test_every_entry_has_a_builder_and_the_fields_it_needs() -> None:
    assert sorted(ENTRIES) == sorted(BUILDERS)
    for known in ENTRIES.values():
        assert known.rule in ("PA105", "PA108")
        assert known.fails and known.fails <= set(SERIALIZERS), known.label
        assert known.calls and all("." in call for call in known.calls), known.label


@pytest.fixture
def built(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    known = ENTRIES[request.param]
    if importlib.util.find_spec(known.package) is None:
        pytest.skip(f"{known.package} is not installed, so {known.label!r} cannot be built")
    value = BUILDERS[known.label](tmp_path)
    yield value
    for closing in ("close", "dispose"):
        with contextlib.suppress(Exception):
            getattr(value, closing)()


@pytest.mark.parametrize("built", sorted(ENTRIES), indirect=True)
def test_each_serializer_the_entry_names_really_refuses_it(
    built: object, request: pytest.FixtureRequest
) -> None:
    known = ENTRIES[request.node.callspec.params["built"]]
    for name in sorted(known.fails):
        with pytest.raises(Exception):  # noqa: B017 - each library raises its own type
            SERIALIZERS[name].dumps(built)


def test_the_linter_flags_every_call_of_the_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [call for known in ENTRIES.values() for call in known.calls]
    imports = sorted({call.split(".")[0] for call in calls})
    lines = [f"        self.value_{i} = {call}()" for i, call in enumerate(calls)]
    root = write_files(
        tmp_path / "proj",
        {
            "holder.py": "\n".join(
                [
                    *(f"import {name}" for name in imports),
                    "from concurrent.futures import ProcessPoolExecutor",
                    "",
                    "",
                    "class Holder:",
                    "    def __init__(self):",
                    *lines,
                    "",
                    "",
                    "def task(holder):",
                    "    return holder",
                    "",
                    "",
                    "def main():",
                    "    with ProcessPoolExecutor() as pool:",
                    "        pool.submit(task, Holder())",
                    "",
                ]
            )
        },
    )
    monkeypatch.chdir(root)
    by_label = {call: known for known in ENTRIES.values() for call in known.calls}
    found = {(f.rule, f.line, f.message) for f in lint(root)}
    expected = {
        (
            by_label[call].rule,
            len(imports) + 6 + i,
            f"{by_label[call].label} ({call}) stored on Holder.value_{i} cannot be pickled",
        )
        for i, call in enumerate(calls)
    }
    assert found == expected
