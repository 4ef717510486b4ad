"""Dataset preparation: raw math datasets -> verl's parquet schema (``python -m verl_dsdr.data --help``).

No verl import here: the files are plain parquet that verl's ``RLHFDataset`` reads.
"""

from verl_dsdr.data.answers import last_boxed, normalize_answer
from verl_dsdr.data.loading import DataError, load_rows
from verl_dsdr.data.prepare import ColumnChoice, PrepareReport, prepare_rows, resolve_columns
from verl_dsdr.data.schema import BOXED_INSTRUCTION, DAPO_INSTRUCTION, build_record, render_prompt, write_parquet
from verl_dsdr.data.sources import DATASETS, DatasetSpec, get_spec

__all__ = [
    "BOXED_INSTRUCTION",
    "DAPO_INSTRUCTION",
    "DATASETS",
    "ColumnChoice",
    "DataError",
    "DatasetSpec",
    "PrepareReport",
    "build_record",
    "get_spec",
    "last_boxed",
    "load_rows",
    "normalize_answer",
    "prepare_rows",
    "render_prompt",
    "resolve_columns",
    "write_parquet",
]
