"""The application layer: files, configurations, reports, figures, sweeps and the command line.

It sits on the core library (:mod:`mfflow`) and only uses its public names; nothing in the
core imports it. ``import mfflow`` does not load it (nor xarray, pydantic, matplotlib, typer,
rich, dask or zarr): :func:`mfflow.load_spec` and the other sweep names are loaded on first
use.
"""
