"""Rows of a Parquet file, with the optional pyarrow (`pip install 'macroinfra[parquet]'`).

Imported only when a Parquet file is read: pyarrow is large, and nothing else needs it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from macroinfra.errors import UsageError

if TYPE_CHECKING:
    from macroinfra.data.tables import LoadableTable

Columns = tuple[tuple[str, ...], dict[int, str]]  # the loader's columns, and the code columns

PARQUET_HINT = "install the Parquet extra: pip install 'macroinfra[parquet]' (adds pyarrow)"


def parquet_rows(
    stream: IO[bytes],
    info: LoadableTable,
    columns_of: Callable[[LoadableTable, list[str]], Columns],
    progress: Callable[[int, float], None] | None,
    started: float | None,
    progress_rows: int,
) -> tuple[Columns, Iterator[list[Any]]]:
    """The columns of a Parquet file, and its rows, batch by batch; `progress` every
    `progress_rows` rows and at the end."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            "--format parquet needs pyarrow, which is not installed", hint=PARQUET_HINT
        ) from None
    source: Any = stream if stream.seekable() else io.BytesIO(stream.read())
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as exc:
        raise UsageError(
            f"the file cannot be read as Parquet: {exc}", hint="give a Parquet file"
        ) from None
    columns = columns_of(info, list(parquet.schema_arrow.names))
    clock = started if started is not None else time.perf_counter()

    def rows() -> Iterator[list[Any]]:
        n = 0
        try:
            for batch in parquet.iter_batches():
                values = [column.to_pylist() for column in batch.columns]
                for row in zip(*values, strict=True):
                    n += 1
                    if progress is not None and n % progress_rows == 0:
                        progress(n, time.perf_counter() - clock)
                    yield list(row)
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"row {n + 1}: the file cannot be read as Parquet: {exc}") from None
        if progress is not None:
            progress(n, time.perf_counter() - clock)

    return columns, rows()
