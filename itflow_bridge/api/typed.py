"""``ITFlowAPI``: typed access to every module of ITFlow's JSON API.

    api = connect("https://itflow.example.com", api_key)
    for contact in api.contacts.read(client_id=3):      # every row, paged transparently
        print(contact.contact_name, contact.contact_email)
    ticket_id = api.tickets.create(client_id=3, ticket_subject="Disk full")
    api.tickets.resolve(ticket_id)

How ITFlow really behaves, and what the client does about it:

* reads page with ``limit``/``offset`` (``limit=-1`` is an HTTP 500, so never
  that); an empty page is a ``"False"`` answer, not an empty list;
* read endpoints ignore ``client_id``: the client filters on its side, as it
  checks id filters ITFlow might not apply;
* writes read a JSON body (``$_POST = json_decode(php://input)``) and act on
  the record only when ``client_id`` names its client, so ``update(id)``
  without one looks the client up first;
* ``clients/update.php`` fails with an SQL error (HTTP 500) unless the body
  has ``client_is_lead``: the client sends the current value when you do not;
* a refused write is ``"Auth success but insert query failed ..."``: raised as
  ``ITFlowWriteRefused`` naming the keys sent, never their values;
* ``assets/delete.php`` answers every delete as refused, done or not (it reports
  the rows of a last query that finds nothing): the client asks whether the
  asset is gone.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union, overload

from ..core.config import ITFlowSettings
from ..core.errors import ITFlowNotFound, ITFlowWriteRefused
from ..itflow.http import ITFlowHTTP
from ..itflow.v1_reader import ITFLOW_PAGE, PAGE_SIZE, V1Reader, is_success, read_all
from . import registry
from .registry import CREATE, FORBIDDEN, READ, REQUIRED, TIME, APIUsageError, Module
from .values import Row, typed

PAGING = ("limit", "offset")
DECRYPT_KEY = "api_key_decrypt_password"  # credentials: a secret ITFlow reads only from the body


def connect(url: str, api_key: str, **settings: Any) -> "ITFlowAPI":
    """An ``ITFlowAPI`` on its own HTTP session (``settings``: ``ITFlowSettings`` fields, e.g. read_timeout)."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise APIUsageError("use the base address of the ITFlow site, e.g. https://itflow.example.com")
    return ITFlowAPI(ITFlowHTTP(ITFlowSettings(url=base, api_key=api_key, **settings)), owns_http=True)


class ITFlowAPI:
    """Every JSON API module as an attribute (``api.contacts``) or item (``api["contacts"]``)."""

    def __init__(self, http: ITFlowHTTP, *, page_size: Optional[int] = None, timeout: Optional[float] = None,
                 owns_http: bool = False):
        if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int)
                                      or page_size < 1):
            raise APIUsageError("page_size must be a whole number of at least 1")
        self.http = http
        self.reader = V1Reader(http)
        self.page_size = page_size
        self.timeout = timeout
        self._owns_http = owns_http

    @property
    def modules(self) -> List[str]:
        return sorted(registry.MODULES)

    def __getattr__(self, name: str) -> "ModuleAPI":
        if name.startswith("_"):
            raise AttributeError(name)
        return ModuleAPI(self, registry.module(name))

    def __getitem__(self, name: str) -> "ModuleAPI":
        return ModuleAPI(self, registry.module(name))

    def call(self, module: str, function: str, params: Optional[Mapping[str, Any]] = None, *,
             all_pages: bool = False) -> Any:
        """Run ``module/function`` with ``params`` as ITFlow names them (the command line's entry).

        Reads answer a list of rows (one page, or every row with ``all_pages``);
        ``create`` the new id; the other writes the count ITFlow reports.
        """
        spec = registry.function(module, function)
        params = dict(params or {})
        api = ModuleAPI(self, spec)
        if function in (READ, TIME):
            reader = getattr(api, function)
            if all_pages:
                if any(name in params for name in PAGING):
                    raise APIUsageError("give either limit/offset or all pages, not both")
                return list(reader(**params))
            for name in PAGING:
                if name in params:
                    params[name] = _count_from_text(params[name])
            params.setdefault("limit", ITFLOW_PAGE)
            return reader(**params)
        if function == CREATE:
            return api.create(**params)
        id_key = spec.id_key
        if id_key not in params:
            raise APIUsageError("%s/%s needs %s" % (spec.name, function, id_key))
        return getattr(api, function)(params.pop(id_key), **params)

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> "ITFlowAPI":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # --- HTTP, through the JSON API's one reader -----------------------------------------

    def _get(self, spec: Module, function: str, params: Mapping[str, Any],
             body: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
        return self.reader.read_page(spec.name, params, function=function, body=body, timeout=self.timeout)

    def _post(self, spec: Module, function: str, body: Mapping[str, Any]) -> Dict[str, Any]:
        return self.reader.post(spec.name, function, _jsonable(body), timeout=self.timeout)


def _jsonable(body: Mapping[str, Any]) -> Dict[str, Any]:
    out = {}
    for key, value in body.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, _dt.datetime):
            value = value.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(value, _dt.date):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = int(value)  # ITFlow's flags are 0/1
        out[key] = value
    return out


def _count_from_text(value: Any) -> Any:
    """A paging value typed on a command line (``"5"``) as the number; anything else as given, for the check."""
    if isinstance(value, str) and value.isascii() and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


class Page(List[Row]):
    """One page of rows; ``next_offset`` is where the next page starts when ITFlow's page was full
    (more rows may follow), None when it was the last."""

    def __init__(self, rows: Iterable[Row], next_offset: Optional[int]):
        super().__init__(rows)
        self.next_offset = next_offset


def _positive_id(value: Any, what: str) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        number = 0
    if number < 1 or isinstance(value, bool):
        raise APIUsageError("%s must be a positive whole number, not %r" % (what, value))
    return number


class ModuleAPI:
    """One ITFlow module; only the functions ITFlow has for it may be called."""

    def __init__(self, api: ITFlowAPI, spec: Module):
        self._api = api
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def functions(self) -> Tuple[str, ...]:
        return self.spec.functions

    def __repr__(self) -> str:
        return "<ITFlow %s: %s>" % (self.spec.name, ", ".join(self.spec.functions))

    def _require(self, function: str) -> None:
        registry.function(self.spec.name, function)

    # --- reads ------------------------------------------------------------------------

    @overload
    def read(self, *, client_id: Optional[int] = ..., limit: None = ..., offset: None = ...,
             **filters: Any) -> Iterator[Row]: ...

    @overload
    def read(self, *, client_id: Optional[int] = ..., limit: int, offset: Optional[int] = ...,
             **filters: Any) -> List[Row]: ...

    @overload
    def read(self, *, client_id: Optional[int] = ..., limit: Optional[int] = ..., offset: int,
             **filters: Any) -> List[Row]: ...

    @overload
    def read(self, *, client_id: Optional[int] = ..., limit: Optional[int] = ..., offset: Optional[int] = ...,
             **filters: Any) -> Union[Iterator[Row], List[Row]]: ...

    def read(self, *, client_id: Optional[int] = None, limit: Optional[int] = None,
             offset: Optional[int] = None, **filters: Any) -> Union[Iterator[Row], List[Row]]:
        """Rows as ``Row``: every row (an iterator, paged transparently) or, with
        ``limit``/``offset``, that one page (a list).  ``client_id`` and id filters
        are applied on our side too, since ITFlow ignores ``client_id`` on reads."""
        self._require(READ)
        return self._rows(READ, client_id, limit, offset, filters)

    @overload
    def time(self, *, limit: None = ..., offset: None = ..., **filters: Any) -> Iterator[Row]: ...

    @overload
    def time(self, *, limit: int, offset: Optional[int] = ..., **filters: Any) -> List[Row]: ...

    @overload
    def time(self, *, limit: Optional[int] = ..., offset: int, **filters: Any) -> List[Row]: ...

    @overload
    def time(self, *, limit: Optional[int] = ..., offset: Optional[int] = ...,
             **filters: Any) -> Union[Iterator[Row], List[Row]]: ...

    def time(self, *, limit: Optional[int] = None, offset: Optional[int] = None,
             **filters: Any) -> Union[Iterator[Row], List[Row]]:
        """technicians/time: time worked per ticket and technician (``year``, ``month``, ``technician_id``)."""
        self._require(TIME)
        month = filters.get("month")
        if month is not None and not (isinstance(month, int) and 1 <= month <= 12
                                      or str(month).isdigit() and 1 <= int(str(month)) <= 12):
            raise APIUsageError("month must be 1 to 12, not %r" % (month,))
        return self._rows(TIME, None, limit, offset, filters)

    def get(self, record_id: int, **filters: Any) -> Row:
        """The one row with this id; ``ITFlowNotFound`` when there is none."""
        self._require(READ)
        if not self.spec.has_id_lookup:
            raise APIUsageError("ITFlow's %s/read has no %s filter" % (self.spec.name, self.spec.id_key))
        record_id = _positive_id(record_id, self.spec.id_key)
        # limit=1 makes this one page (a list); mypy cannot tell which overload ``**filters`` selects.
        rows: List[Row] = self.read(limit=1, **{self.spec.id_key: record_id}, **filters)
        if not rows:
            raise ITFlowNotFound("ITFlow has no %s with %s %d" % (self.spec.name, self.spec.id_key, record_id))
        return rows[0]

    def _rows(self, function: str, client_id: Optional[int], limit: Optional[int], offset: Optional[int],
              filters: Dict[str, Any]) -> Union[Iterator[Row], List[Row]]:
        spec = self.spec
        body = {DECRYPT_KEY: filters.pop(DECRYPT_KEY)} if DECRYPT_KEY in filters else None
        unknown = sorted(set(filters) - set(spec.filters))
        if unknown:
            raise APIUsageError("ITFlow's %s/%s has no filter %s; its filters are: %s" % (
                spec.name, function, ", ".join(unknown),
                ", ".join(spec.filters + ("client_id", "limit", "offset")) if spec.client_column else
                ", ".join(spec.filters + ("limit", "offset"))))
        if spec.filter_required and not filters:
            raise APIUsageError("ITFlow's %s/read needs one of: %s" % (spec.name, ", ".join(spec.filters)))
        if client_id is not None:
            if spec.client_column is None:
                raise APIUsageError("ITFlow's %s are not tied to a client: no client_id filter" % spec.name)
            client_id = _positive_id(client_id, "client_id")
        checks = self._checks(client_id, filters)
        if limit is not None or offset is not None:
            limit = ITFLOW_PAGE if limit is None else limit
            offset = 0 if offset is None else offset
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise APIUsageError("limit must be a whole number of at least 1 (ITFlow answers 500 to -1)")
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
                raise APIUsageError("offset must be a whole number of at least 0")
            rows = self._api._get(spec, function, dict(filters, limit=limit, offset=offset), body)
            return Page((row for row in map(Row, rows) if _matches(row, checks)),
                        offset + limit if len(rows) >= limit else None)
        return self._all(function, filters, body, checks)

    def _all(self, function: str, filters: Dict[str, Any], body: Optional[Dict[str, Any]],
             checks: List[Tuple[str, int]]) -> Iterator[Row]:
        pages = read_all(lambda page: self._api._get(self.spec, function, page, body), self.spec.name, filters,
                         page_size=self._api.page_size)
        for row in map(Row, pages):
            if _matches(row, checks):
                yield row

    def _checks(self, client_id: Optional[int], filters: Mapping[str, Any]) -> List[Tuple[str, int]]:
        """(column, id) pairs every returned row must have: client_id and the id filters."""
        client_column = self.spec.client_column
        # No client column: ``_rows`` refuses client_id (and no row could have a None column anyway).
        checks = [(client_column, client_id)] if client_id is not None and client_column is not None else []
        for name, value in filters.items():
            column = self.spec.filter_columns.get(name, name)
            if column.endswith("_id") and name != "technician_id":
                checks.append((column, _positive_id(value, name)))
        return checks

    # --- writes -----------------------------------------------------------------------

    def create(self, client_id: Optional[int] = None, **fields: Any) -> int:
        """Create a record; answers ITFlow's new id."""
        self._require(CREATE)
        spec = self.spec
        self._check_fields(CREATE, fields)
        missing = [key for key in spec.create_required + spec.write_extra if _blank(fields.get(key))]
        if spec.create_client == REQUIRED and client_id is None:
            missing.insert(0, "client_id")
        if missing:
            raise APIUsageError("ITFlow needs %s to create %s" % (", ".join(missing), _singular(spec.name)))
        body = dict(fields)
        if spec.create_client == FORBIDDEN:
            if client_id is not None:
                raise APIUsageError("a new client has no client_id: leave it out")
        elif client_id is not None:
            body["client_id"] = _positive_id(client_id, "client_id") if client_id != 0 else 0
        return self._api.reader.create(spec.name, _jsonable(body), what=_singular(spec.name),
                                       timeout=self._api.timeout)

    def update(self, record_id: int, *, client_id: Optional[int] = None, **fields: Any) -> int:
        """Change fields of one record; answers the count ITFlow reports (1)."""
        return self._by_id("update", record_id, client_id, fields)

    def delete(self, record_id: int, *, client_id: Optional[int] = None, **extra: Any) -> int:
        return self._by_id("delete", record_id, client_id, extra)

    def archive(self, record_id: int, *, client_id: Optional[int] = None, **extra: Any) -> int:
        return self._by_id("archive", record_id, client_id, extra)

    def unarchive(self, record_id: int, *, client_id: Optional[int] = None, **extra: Any) -> int:
        return self._by_id("unarchive", record_id, client_id, extra)

    def resolve(self, record_id: int, *, client_id: Optional[int] = None, **extra: Any) -> int:
        return self._by_id("resolve", record_id, client_id, extra)

    def _by_id(self, function: str, record_id: Any, client_id: Optional[int], fields: Dict[str, Any]) -> int:
        self._require(function)
        spec = self.spec
        self._check_fields(function, fields)
        record_id = _positive_id(record_id, spec.id_key)
        missing = [key for key in spec.write_extra if _blank(fields.get(key))]
        if missing:
            raise APIUsageError("ITFlow needs %s to %s %s" % (", ".join(missing), function, _singular(spec.name)))
        if spec.name == "clients":  # the client is the record: client_id names it
            if client_id is not None and int(client_id) != record_id:
                raise APIUsageError("a client's own id is its client_id: give it once")
            body = dict(fields, client_id=record_id)
            if function == "update" and "client_is_lead" not in fields:
                body["client_is_lead"] = self._client_lead(record_id)
        else:
            if client_id is None:
                client_id = self._client_of(record_id, fields)
            body = dict(fields)
            body[spec.id_key] = record_id
            body["client_id"] = _positive_id(client_id, "client_id") if client_id != 0 else 0
        answer = self._api._post(spec, function, body)
        if not is_success(answer) and spec.name == "assets" and function == "delete":
            if not self.read(limit=1, **{spec.id_key: record_id}):
                return 1
        if not is_success(answer):
            raise ITFlowWriteRefused(
                "ITFlow refused the %s of %s %d: no such record for that client, or nothing changed (sent %s)"
                % (function, _singular(spec.name), record_id, _keys(body)), keys=sorted(body))
        count = typed("count", answer.get("count"))
        return count if isinstance(count, int) else 1

    def _check_fields(self, function: str, fields: Mapping[str, Any]) -> None:
        allowed = set(self.spec.write_extra)
        if function in (CREATE, "update"):
            allowed |= set(self.spec.fields)
        unknown = sorted(set(fields) - allowed)
        if unknown:
            valid = sorted(allowed)
            raise APIUsageError("ITFlow's %s/%s does not read %s; it reads: %s" % (
                self.spec.name, function, ", ".join(unknown),
                ", ".join(valid + ["client_id"]) if valid else "only the id and client_id"))

    def _client_of(self, record_id: int, fields: Mapping[str, Any]) -> int:
        """The client a record belongs to, read from ITFlow (writes must name it)."""
        spec = self.spec
        if not spec.has_id_lookup or READ not in spec.functions:
            raise APIUsageError("give client_id: ITFlow cannot look up %s by id" % spec.name)
        extra = {DECRYPT_KEY: fields[DECRYPT_KEY]} if DECRYPT_KEY in fields else {}
        row = self.get(record_id, **extra)
        owner = row.get(spec.client_column) if spec.client_column is not None else None
        return owner if isinstance(owner, int) else 0

    def _client_lead(self, client_id: int) -> int:
        for row in self._api.clients.read():
            if row.get("client_id") == client_id:
                lead = row.get("client_lead")
                return lead if isinstance(lead, int) else 0
        raise ITFlowNotFound("ITFlow has no client with client_id %d" % client_id)


def _matches(row: Row, checks: List[Tuple[str, int]]) -> bool:
    return all(column not in row or row[column] == wanted for column, wanted in checks)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _keys(body: Mapping[str, Any]) -> str:
    return ", ".join(sorted(body)) or "no fields"


def _singular(module: str) -> str:
    names = {"software": "software", "ticket_replies": "ticket reply", "invoice_items": "invoice item",
             "technicians": "technician"}
    return names.get(module, module[:-1] if module.endswith("s") else module)


__all__ = ["ITFlowAPI", "ModuleAPI", "connect", "PAGE_SIZE", "Row"]
