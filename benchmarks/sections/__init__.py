"""Benchmark sections, one module per backend or topic, discovered by ``run.py``.

A module may define:

- ``NAME``: the backend name (as in ``available_backends()``) it belongs to, or ``None`` for a topic
  section (conversion, …) that runs whatever is installed.
- ``def target(tmp: Path) -> str | None``: the URL the shared workload opens for this backend.
- ``async def run(ctx: Context) -> None``: extra measurements; append ``Row``s, ``Check``s and notes
  to ``ctx.report``.
"""
