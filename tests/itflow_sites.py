"""One ITFlow to test against, the fake or real, behind the same small interface.

``Site`` has what a test of the API client or the command line needs: ``url``,
``api_key``, ``rows(table)`` (what the database holds, every value a string or
None, as mysqli returns it) and ``insert(table, rows)`` to seed more rows.
Both kinds start from the contract dataset (``real_itflow/dataset.py``).

* fake: a ``FaultyITFlow`` per test; ``site.fake`` is it.
* real: real ITFlow 26.08 (v1) or April 2022 (legacy) of the real-ITFlow tier,
  on a database of its own that is reset before each test (``site.real``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence

import fake_writes
from faulty_itflow import FaultyITFlow
from real_itflow.dataset import contract_dataset
from real_itflow.harness import KEY_PASSWORD, RealITFlow, ScratchSite


@dataclass
class Site:
    kind: str  # fake | real
    generation: str  # legacy | v1
    url: str
    api_key: str
    fake: Optional[FaultyITFlow] = None
    real: Optional[ScratchSite] = None

    @property
    def name(self) -> str:
        return "%s-%s" % (self.kind, self.generation)

    def rows(self, table: str) -> List[Dict[str, Optional[str]]]:
        if self.real is not None:
            return self.real.rows(table)
        return [{key: None if value is None else str(value) for key, value in row.items()}
                for row in self.fake.data.get(table) or []]

    def insert(self, table: str, rows: Sequence[dict]) -> None:
        if self.real is not None:
            self.real.insert(table, rows)
        else:
            self.fake.data.setdefault(table, []).extend(dict(row) for row in rows)


@contextmanager
def fake_sites(generations: Sequence[str]) -> Iterator[Dict[str, Site]]:
    """One fake ITFlow serving ``generations``, as a Site per generation."""
    with FaultyITFlow(contract_dataset(), generations=tuple(generations), decrypt_password=KEY_PASSWORD,
                      writes=fake_writes) as fake:
        yield {generation: Site("fake", generation, fake.url, fake.api_key, fake=fake) for generation in generations}


def real_site(real: RealITFlow, generation: str) -> Site:
    """The generation's real ITFlow, reset to the contract dataset."""
    scratch = real.scratch(generation)
    scratch.reset()
    return Site("real", generation, scratch.url, scratch.keys.good, real=scratch)
