"""The cost oracle the provider tests share: each span's price recomputed with genai-prices itself.

``check_cost(telemetry, provider_id, ref_of)`` asserts every span's ``gen_ai.usage.cost`` is exactly
``genai_prices.calc_price`` on the span's own token counts (and the savings and cost counters agree), and
returns how many spans were priced.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from conftest import Telemetry
from otel_genai import semconv as sc

genai_prices = pytest.importorskip("genai_prices")

USAGE_KEYS = {
    "input_tokens": sc.USAGE_INPUT_TOKENS,
    "output_tokens": sc.USAGE_OUTPUT_TOKENS,
    "cache_read_tokens": sc.USAGE_CACHE_READ_INPUT_TOKENS,
    "cache_write_tokens": sc.USAGE_CACHE_CREATION_INPUT_TOKENS,
    "output_reasoning_tokens": sc.USAGE_REASONING_OUTPUT_TOKENS,
}


def rate(price: Any, total_input: int) -> Decimal:
    """A per-million price; a tiered one at the tier the call's input tokens reach (threshold pricing)."""
    if isinstance(price, Decimal):
        return price
    return next(
        (t.price for t in sorted(price.tiers, key=lambda t: -t.start) if total_input > t.start), price.base
    )


def expected_cost(
    attributes: dict[str, Any], provider_id: str, refs: str | list[str]
) -> tuple[float, float | None] | None:
    """(cost, savings) from genai-prices itself for the first model it knows, or None if it knows none."""
    usage = {key: attributes[name] for key, name in USAGE_KEYS.items() if name in attributes}
    tier = attributes.get(sc.OPENAI_RESPONSE_SERVICE_TIER)
    for ref in [refs] if isinstance(refs, str) else refs:
        try:
            result = genai_prices.calc_price(
                genai_prices.Usage(**usage),
                ref,
                provider_id=provider_id,
                price_context={"service_tier": tier} if tier else None,
            )
            break
        except LookupError:
            continue
    else:
        return None
    savings = None
    read = usage.get("cache_read_tokens")
    if read is not None:
        prices, total_input = result.model_price, usage.get("input_tokens", 0)
        full = rate(prices.input_mtok, total_input)
        cached = rate(prices.cache_read_mtok, total_input) if prices.cache_read_mtok is not None else full
        savings = float(Decimal(read) * (full - cached) / 1_000_000)
    return float(result.total_price), savings


def check_cost(telemetry: Telemetry, provider_id: str, ref_of: Callable[[dict[str, Any]], Any]) -> int:
    """Every span's cost is genai-prices' price, and the cost counters add up the same; returns #priced."""
    priced = 0
    total = savings_total = 0.0
    for span in telemetry.spans():
        attributes = dict(span.attributes or {})
        if sc.USAGE_INPUT_TOKENS not in attributes and sc.USAGE_OUTPUT_TOKENS not in attributes:
            assert sc.USAGE_COST not in attributes
            continue
        expected = expected_cost(attributes, provider_id, ref_of(attributes))
        if expected is None:
            assert sc.USAGE_COST not in attributes, span.name  # unknown: no cost, never 0
            continue
        priced += 1
        assert attributes[sc.USAGE_COST] == expected[0], span.name  # exact, not approximately
        if expected[1] is None:
            assert sc.USAGE_CACHE_SAVINGS not in attributes
        else:
            assert attributes[sc.USAGE_CACHE_SAVINGS] == pytest.approx(expected[1], rel=1e-12, abs=1e-18)
            savings_total += expected[1]
        total += expected[0]
    metrics = telemetry.metrics(features=True)
    cost_points = metrics.get(sc.METRIC_COST, [])
    assert sum(p.value for p in cost_points) == pytest.approx(total, rel=1e-12)
    assert bool(cost_points) == bool(priced)
    for point in cost_points:
        assert {sc.OPERATION_NAME, sc.PROVIDER_NAME, sc.REQUEST_MODEL} <= set(point.attributes)
    if savings_total:
        savings = metrics[sc.METRIC_COST_SAVINGS]
        assert sum(p.value for p in savings) == pytest.approx(savings_total, rel=1e-12)
    return priced
