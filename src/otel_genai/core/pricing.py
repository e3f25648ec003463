"""The price of one call in USD, from the ``genai-prices`` tables or the user's own prices.

Why this shape: importing ``genai_prices`` takes 0.2-0.5 s and one ``calc_price`` 60-200 µs, far over our
per-call budget. So the library is imported once, on a background thread, when the first priceable call
starts (never at ``import otel_genai`` or ``init()``), and each (provider, model, service tier) is looked
up once; its resolved unit prices become a ``Quote`` that prices later calls with the library's own
arithmetic (the same Decimal operations in the same order, so the result is bit-identical to
``calc_price``) in a few microseconds. A call that finishes while the import is still running is handed
to that thread and completed (span ended with its real end time) once the prices are there. A loop of
calls that never waits on I/O can starve that thread of the GIL for seconds (thousands of calls held,
then ended in one burst that overflows the span queue): once calls have waited ``_HELP_AFTER_S`` or
``_HELP_BACKLOG`` of them are held, the calling thread loads the table and completes them itself, once.

A model the table does not know gets no price (never 0); Ollama and other local servers are unpriced
unless the user gives a price (``OTEL_GENAI_PRICES_FILE`` or ``init(prices=...)``).
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from .invocation import Invocation

_log = logging.getLogger("otel_genai")

# gen_ai.provider.name -> genai-prices provider id. Providers missing here (ollama, unknown hosts) are
# priced only from the user's prices.
PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "aws.bedrock": "aws",
    "anthropic": "anthropic",
    "deepseek": "deepseek",
    "groq": "groq",
    "x_ai": "x-ai",
    "mistral_ai": "mistral",
    "perplexity": "perplexity",
    "moonshot_ai": "moonshotai",
    "cohere": "cohere",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
}

# The token counts an Invocation carries, as genai-prices usage keys, with the library's unit dimensions
# (genai_prices/data_units.py): the dimensions decide which count is part of which.
USAGE_FIELDS: dict[str, str] = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "output_reasoning_tokens": "reasoning_tokens",
}
_USER_UNITS: dict[str, tuple[str, int, dict[str, str]]] = {  # price key -> (usage key, per, dimensions)
    "input_mtok": ("input_tokens", 1_000_000, {"family": "tokens", "direction": "input"}),
    "output_mtok": ("output_tokens", 1_000_000, {"family": "tokens", "direction": "output"}),
    "cache_read_mtok": (
        "cache_read_tokens",
        1_000_000,
        {"family": "tokens", "direction": "input", "token_type": "cache_read"},
    ),
    "cache_write_mtok": (
        "cache_write_tokens",
        1_000_000,
        {"family": "tokens", "direction": "input", "token_type": "cache_write"},
    ),
    "requests_kcount": ("requests", 1_000, {"family": "requests"}),
}
PRICE_KEYS = tuple(_USER_UNITS)

PENDING: Any = object()  # the price table is still loading: complete the call later
_DAY_S = 86_400


# --- user prices (validated at init(), without genai-prices) ------------------------------------------


UserPrices = Mapping[tuple[str | None, str], Mapping[str, float]]


def parse_user_prices(
    value: Any, source: str, warn: Callable[[str], None]
) -> dict[tuple[str | None, str], dict[str, float]]:
    """``{model: {price_key: USD, ..., "provider"?: name}}`` -> {(provider, model): prices}; bad entries
    are dropped with one warning each that names them."""
    result: dict[tuple[str | None, str], dict[str, float]] = {}
    if isinstance(value, Mapping) and isinstance(value.get("models"), Mapping):
        value = value["models"]  # the file may nest the table under "models"
    if not isinstance(value, Mapping):
        warn(f"{source}: expected a table of models, got {type(value).__name__}")
        return result
    for model, entry in value.items():
        where = f"{source}: model {model!r}"
        if not isinstance(model, str) or not model.strip() or not isinstance(entry, Mapping):
            warn(f"{where}: expected a model name and a table of prices")
            continue
        provider = entry.get("provider")
        if provider is not None and not isinstance(provider, str):
            warn(f"{where}: provider must be a string")
            continue
        prices: dict[str, float] = {}
        bad = False
        for key, price in entry.items():
            if key == "provider":
                continue
            number = price if isinstance(price, (int, float)) and not isinstance(price, bool) else None
            if key not in _USER_UNITS or number is None or not math.isfinite(number) or number < 0:
                warn(f"{where}: {key}={price!r} is invalid (price keys: {', '.join(PRICE_KEYS)}; USD >= 0)")
                bad = True
                break
            prices[key] = float(number)
        if bad:
            continue
        if not prices:
            warn(f"{where}: no prices given")
            continue
        result[(provider.strip() if provider else None, model.strip().lower())] = prices
    return result


def load_prices_file(
    path: str, warn: Callable[[str], None]
) -> dict[tuple[str | None, str], dict[str, float]]:
    """A TOML (``.toml``) or JSON file of user prices; unreadable files give one warning and no prices."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        if path.lower().endswith(".toml"):
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        warn(f"OTEL_GENAI_PRICES_FILE={path!r} could not be read ({type(exc).__name__}: {exc})")
        return {}
    return parse_user_prices(data, f"OTEL_GENAI_PRICES_FILE={path!r}", warn)


# --- one model's resolved prices ----------------------------------------------------------------------


_MAX_SCALE = 30  # decimal digits: enough for any per-million price the tables hold


def _coefficient(price: Decimal, per: int, scale: int) -> int | None:
    """``price / per`` in units of 10**-scale USD, if that is an integer."""
    with localcontext() as ctx:
        ctx.prec = 80
        value = price.scaleb(scale) / per
    return int(value) if value == value.to_integral_value() else None


class Quote:
    """One model's unit prices, and genai-prices' arithmetic on them for an invocation's token counts.

    Prices are held as integers in units of 10**-scale USD per token, so a call's price is an exact
    integer sum whose one division rounds correctly to a float: the float of genai-prices' exact Decimal.
    """

    __slots__ = ("_input", "_read", "_requests", "_scale", "_steps", "_tiered", "exact", "expires", "model")

    def __init__(
        self, units: Sequence[tuple[str, Mapping[str, str], Any, int]], model: str, expires: float
    ) -> None:
        """``units``: (usage key, dimensions, price, per) in the order genai-prices iterates them."""
        self.model = model
        self.expires = expires
        self.exact: Callable[[Invocation], float | None] | None = None  # set when a model needs the library
        # A unit we never count (audio, images, searches, ...) is 0 and drops out; "requests" is always 1.
        counted = [(k, frozenset(d.items()), p, per) for k, d, p, per in units if k in USAGE_FIELDS]
        requests = [(p, per) for k, _, p, per in units if k == "requests"]
        priced = [(p, per) for _, _, p, per in counted] + requests
        decimals = [(d, per) for price, per in priced for d in _decimals(price)]
        self._scale = scale = next(
            (
                k
                for k in range(_MAX_SCALE + 1)
                if all(_coefficient(d, per, k) is not None for d, per in decimals)
            ),
            -1,
        )
        # genai_prices.decompose.compute_leaf_values: most specific unit first; each unit's count less the
        # leaf counts of the priced units inside it.
        counted.sort(key=lambda u: (-len(u[1]), u[0]))
        steps = []
        for position, (key, dims, price, per) in enumerate(counted):
            inside = tuple(j for j in range(position) if dims <= counted[j][1])
            steps.append((USAGE_FIELDS[key], inside, *_coefficients(price, per, max(scale, 0))))
        self._steps = tuple(steps)
        self._tiered = any(step[3] for step in steps)
        self._requests = sum(_coefficients(p, per, max(scale, 0))[0] for p, per in requests)
        by_field = {step[0]: step for step in steps}
        self._input = by_field.get("input_tokens")
        self._read = by_field.get("cache_read_tokens")
        if scale < 0:  # prices no integer scale can hold exactly: let the library do each call
            self.exact = _decimal_calc(units)

    def cost(self, inv: Invocation) -> tuple[float, float | None] | None:
        """(total USD, cache-read savings USD or None) for the call's usage; None when not computable."""
        if self.exact is not None:
            exact = self.exact(inv)
            return None if exact is None else (exact, self._savings(inv))
        total_input = self._total_input(inv) if self._tiered else 0
        if total_input is None:
            return None
        leaves: list[int] = []
        total = self._requests
        for field, inside, coefficient, tiers in self._steps:
            leaf = getattr(inv, field) or 0
            for j in inside:
                leaf -= leaves[j]
            if leaf < 0:
                return None  # genai-prices rejects this usage (a part exceeds its whole)
            leaves.append(leaf)
            if leaf:
                if tiers:
                    coefficient = _tier(coefficient, tiers, total_input)
                total += coefficient * leaf
        return total / 10**self._scale, self._savings(inv)

    def _total_input(self, inv: Invocation) -> int | None:
        if inv.input_tokens is not None:
            return inv.input_tokens
        return None if (inv.cache_read_tokens or inv.cache_write_tokens) else 0

    def _savings(self, inv: Invocation) -> float | None:
        """What the cache reads would have cost at the input price, less what they cost."""
        read = inv.cache_read_tokens
        if read is None or self._input is None:
            return None
        if not read or self._read is None or self._scale < 0:
            return 0.0
        total_input = self._total_input(inv) or 0
        full: int = _tier(self._input[2], self._input[3], total_input)
        cached: int = _tier(self._read[2], self._read[3], total_input)
        saved: float = (full - cached) * read / 10**self._scale
        return saved


def _decimals(price: Any) -> list[Decimal]:
    """Every rate in a flat or tiered (genai_prices.types.TieredPrices) price."""
    if isinstance(price, Decimal):
        return [price]
    return [price.base, *(tier.price for tier in price.tiers)]


def _tier(base: int, tiers: tuple[tuple[int, int], ...], total_input: int) -> int:
    """Threshold pricing: the rate of the highest tier the input passes applies to every token."""
    for start, coefficient in tiers:
        if total_input > start:
            return coefficient
    return base


def _coefficients(price: Any, per: int, scale: int) -> tuple[int, tuple[tuple[int, int], ...]]:
    """(base coefficient, ((tier start, coefficient), ... highest first)) of a flat or tiered price."""
    if isinstance(price, Decimal):
        return _coefficient(price, per, scale) or 0, ()
    tiers = tuple((t.start, _coefficient(t.price, per, scale) or 0) for t in price.tiers)
    return _coefficient(price.base, per, scale) or 0, tuple(sorted(tiers, reverse=True))


def _decimal_calc(
    units: Sequence[tuple[str, Mapping[str, str], Any, int]],
) -> Callable[[Invocation], float | None]:
    """genai-prices' own ModelPrice arithmetic, for prices the integer path cannot hold."""

    def calc(inv: Invocation) -> float | None:
        from genai_prices import Usage, types

        prices = types.ModelPrice(**{_price_key(k): p for k, _, p, _ in units})
        usage = {k: getattr(inv, f) for k, f in USAGE_FIELDS.items() if getattr(inv, f) is not None}
        try:
            return float(prices.calc_price(Usage(**usage))["total_price"])
        except ValueError:
            return None

    return calc


def _price_key(usage_key: str) -> str:
    from genai_prices.units import _get_registry

    return _get_registry().units[usage_key].price_key


def _user_quote(prices: Mapping[str, float], model: str) -> Quote:
    units = [
        (_USER_UNITS[key][0], _USER_UNITS[key][2], Decimal(repr(price)), _USER_UNITS[key][1])
        for key, price in prices.items()
    ]
    return Quote(units, model, math.inf)


# --- the library, loaded once per process on a background thread --------------------------------------

# The import needs ~0.2 s of CPU; held calls older than this mean the loader thread is being starved.
_HELP_AFTER_S = 1.0
_HELP_BACKLOG = 512  # and at most this many calls (each holds its span) wait for it


class _Library:
    """genai-prices' bundled snapshot, and the one thread that imports it and completes deferred calls."""

    def __init__(self) -> None:
        self.loaded = False  # imported, or found missing
        self.snapshot: Any = None
        self.caller_loads = 0  # times a calling thread had to load the table and complete held calls
        self._load_lock = threading.Lock()
        self._since = 0.0  # monotonic time the oldest held call was queued
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._waiting: deque[Callable[[], None]] = deque()
        self._thread: threading.Thread | None = None
        self._exit_registered = False
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        """A forked child has no worker thread and must not inherit a lock held at the fork."""
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._waiting = deque()  # the parent completes its own deferred calls
        self._thread = None

    def load(self) -> None:
        """Import now (also called by tests and benchmarks to measure the warm path)."""
        if self.loaded:
            return
        with self._load_lock:  # a second thread waits here, handing the GIL to the one importing
            if self.loaded:
                return
            try:
                from genai_prices import data_snapshot

                self.snapshot = data_snapshot.get_snapshot()
            except Exception:
                _log.debug("otel-genai: genai-prices is not available; calls are not priced", exc_info=True)
            self.loaded = True

    def submit(self, task: Callable[[], None] | None) -> None:
        with self._lock:
            if not self._exit_registered:  # after init()'s exit flush, so that it runs before it
                self._exit_registered = True
                atexit.register(drain_all)
            if task is not None:
                if not self._waiting:
                    self._since = time.monotonic()
                self._waiting.append(task)
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._work, name="otel-genai-prices", daemon=True)
                self._thread.start()
            starved = task is not None and (
                len(self._waiting) >= _HELP_BACKLOG or time.monotonic() - self._since >= _HELP_AFTER_S
            )
        if starved:
            self.caller_loads += 1
            _log.debug("otel-genai: price table loader starved; loading it on the calling thread")
            self.load()
            self._complete_waiting()

    def _work(self) -> None:
        self.load()
        self._complete_waiting()

    def _complete_waiting(self) -> None:
        """Run held calls until none is left (the loader thread, or a caller helping it)."""
        while True:
            with self._lock:
                if not self._waiting:
                    if self._thread is threading.current_thread():
                        self._thread = None  # under the lock: a task submitted now starts a new thread
                        self._idle.notify_all()
                    return
                task = self._waiting.popleft()
            try:
                task()
            except Exception:
                _log.debug("otel-genai: completing a deferred call failed", exc_info=True)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every deferred call is complete; True if none is left."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._thread is not None and self._thread.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True


LIBRARY = _Library()


def drain_all(timeout_s: float = 5.0) -> bool:
    """Complete the calls still waiting for the price table (``force_flush()`` and interpreter exit)."""
    return LIBRARY.drain(timeout_s)


# --- the table ----------------------------------------------------------------------------------------


class PriceTable:
    """One recorder's quotes by (provider, model, tier, batch), and the user's prices."""

    def __init__(self, user_prices: UserPrices | None = None, library: bool = True) -> None:
        self._user = {k: _user_quote(v, k[1]) for k, v in (user_prices or {}).items()}
        self._library = library
        self._quotes: dict[tuple[Any, ...], Quote | None] = {}
        self._warned: set[tuple[Any, ...]] = set()

    @property
    def loaded(self) -> bool:
        return LIBRARY.loaded

    def priceable(self, provider: str) -> bool:
        return self._library and provider in PROVIDER_IDS

    def warm(self) -> None:
        """Start importing genai-prices in the background (the first priceable call has started)."""
        if not LIBRARY.loaded:
            LIBRARY.submit(None)

    def quote(self, inv: Invocation) -> Quote | None:
        """The call's quote, None when unpriced, ``PENDING`` while the library is still loading."""
        key = (
            inv.provider,
            inv.pricing_model,
            inv.response_model,
            inv.request_model,
            inv.service_tier,
            inv.batch,
        )
        found = self._quotes.get(key, PENDING)
        if found is not PENDING and (found is None or found.expires > time.time()):
            return found  # type: ignore[no-any-return]
        user = self._user_quote_for(inv)
        if user is not None or not self.priceable(inv.provider):
            self._quotes[key] = user
            return user
        if not LIBRARY.loaded:
            return PENDING  # type: ignore[no-any-return]
        quote = self._quotes[key] = self._resolve(inv, key)
        return quote

    def later(self, inv: Invocation, complete: Callable[[Quote | None], None]) -> None:
        """Run ``complete(quote)`` on the background thread once the library has loaded."""

        def run() -> None:
            found = self.quote(inv)
            complete(None if found is PENDING else found)

        LIBRARY.submit(run)

    def _user_quote_for(self, inv: Invocation) -> Quote | None:
        if not self._user:
            return None
        for model in (inv.pricing_model, inv.response_model, inv.request_model):
            if model:
                lowered = model.lower()
                found = self._user.get((inv.provider, lowered)) or self._user.get((None, lowered))
                if found is not None:
                    return found
        return None

    def _resolve(self, inv: Invocation, key: tuple[Any, ...]) -> Quote | None:
        snapshot = LIBRARY.snapshot
        if snapshot is None:
            return None
        provider_id = PROVIDER_IDS[inv.provider]
        refs = dict.fromkeys(m for m in (inv.pricing_model, inv.response_model, inv.request_model) if m)
        context: dict[str, str] = {}
        if inv.service_tier:
            context["service_tier"] = inv.service_tier
        if inv.batch:
            context["processing"] = "batch"
        for ref in refs:
            try:
                return library_quote(snapshot, ref, provider_id, context or None)
            except LookupError:
                continue
            except Exception:
                _log.debug("otel-genai: pricing %s failed", ref, exc_info=True)
                break
        if key not in self._warned:
            self._warned.add(key)
            _log.debug("otel-genai: no price for model %s of %s", list(refs), inv.provider)
        return None


def library_quote(snapshot: Any, ref: str, provider_id: str, context: Mapping[str, str] | None) -> Quote:
    """Resolve ``ref`` once in the genai-prices snapshot (raises LookupError when unknown)."""
    from datetime import datetime, timezone

    from genai_prices import types
    from genai_prices.units import _get_registry

    provider, model = snapshot.find_provider_model(ref, None, provider_id, None)
    now = datetime.now(tz=timezone.utc)
    # ModelInfo.calc_price ignores the request context for a model borrowed from a fallback provider
    own = context and any(model is m for m in provider.models)
    model_price = model.get_prices(now, context if own else None)
    registry = _get_registry()
    resolved = types._collect_resolved_model_prices(model_price, registry)
    units = [(unit.usage_key, unit.dimensions, price, unit.per) for unit, price in resolved]
    tomorrow = (int(time.time()) // _DAY_S + 1) * _DAY_S  # prices can change by date: resolve again daily
    quote = Quote(units, model.id, tomorrow)
    # Prices that change with the time of day (off-peak rates) cannot be cached: ask the library each call.
    conditional = model.prices if isinstance(model.prices, list) else []
    variants = model.price_variants or []
    if any(isinstance(c.constraint, types.TimeOfDateConstraint) for c in [*conditional, *variants]):
        quote.exact = _library_calc(model, provider, context)
    return quote


def _library_calc(
    model: Any, provider: Any, context: Mapping[str, str] | None
) -> Callable[[Invocation], float | None]:
    from genai_prices import Usage

    def calc(inv: Invocation) -> float | None:
        usage = {k: getattr(inv, f) for k, f in USAGE_FIELDS.items() if getattr(inv, f) is not None}
        try:
            return float(model.calc_price(Usage(**usage), provider, price_context=context).total_price)
        except ValueError:
            return None

    return calc


def table(user_prices: UserPrices | None, library: bool) -> PriceTable:
    return PriceTable(user_prices, library)


__all__ = [
    "LIBRARY",
    "PENDING",
    "PRICE_KEYS",
    "PROVIDER_IDS",
    "USAGE_FIELDS",
    "PriceTable",
    "Quote",
    "UserPrices",
    "drain_all",
    "library_quote",
    "load_prices_file",
    "parse_user_prices",
    "table",
]
