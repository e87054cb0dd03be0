"""The one shape every benchmark reports in, so `make bench` can print them all as one table.

Each benchmark module (`bench/<name>.py`) exposes `measure(...) -> list[Row]` and a `main()` that
prints its own rows with `print_table`, so it also runs alone as `python -m bench.<name>`.
"""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    benchmark: str
    metric: str
    value: float
    unit: str = ""
    target: str = ""

    def rendered_value(self) -> str:
        if abs(self.value) >= 100 or float(self.value).is_integer():
            return f"{self.value:,.0f}"
        return f"{self.value:.2f}"


def print_table(rows: Iterable[Row]) -> None:
    rows = list(rows)
    header = ("benchmark", "metric", "value", "unit", "target")
    cells = [header, *[(r.benchmark, r.metric, r.rendered_value(), r.unit, r.target) for r in rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    for index, line in enumerate(cells):
        print(
            "  ".join(
                cell.rjust(w) if i == 2 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if index == 0:
            print("  ".join("-" * w for w in widths))
