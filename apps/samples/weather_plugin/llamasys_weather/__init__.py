"""`get_weather`: current conditions and a daily forecast from Open-Meteo (free, no API key).

An example llamasys tool plugin. Two HTTP calls: Open-Meteo's geocoding API turns the place name into
coordinates, then the forecast API gives the weather there. The model gets compact JSON:

    {"location": "Lisbon, Lisbon, Portugal", "timezone": "Europe/Lisbon",
     "current": {"time": "2026-11-26T14:00", "conditions": "Partly cloudy", "temperature": "17.2 °C", ...},
     "daily": [{"date": "2026-11-26", "conditions": "Slight rain", "min": "12.1 °C", "max": "17.9 °C", ...}]}

`WeatherTool(client=...)` takes an `httpx.AsyncClient` (tests give one on a MockTransport).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from llamasys.tools import Tool, ToolResult

GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1/search"
FORECAST_URL = "https://api.open-meteo.com/v1/forecast"

# WMO weather interpretation codes, as Open-Meteo documents them.
WMO_CODES = {
    0: "Clear sky",
    1: "Mainly clear",
    2: "Partly cloudy",
    3: "Overcast",
    45: "Fog",
    48: "Depositing rime fog",
    51: "Light drizzle",
    53: "Moderate drizzle",
    55: "Dense drizzle",
    56: "Light freezing drizzle",
    57: "Dense freezing drizzle",
    61: "Slight rain",
    63: "Moderate rain",
    65: "Heavy rain",
    66: "Light freezing rain",
    67: "Heavy freezing rain",
    71: "Slight snowfall",
    73: "Moderate snowfall",
    75: "Heavy snowfall",
    77: "Snow grains",
    80: "Slight rain showers",
    81: "Moderate rain showers",
    82: "Violent rain showers",
    85: "Slight snow showers",
    86: "Heavy snow showers",
    95: "Thunderstorm",
    96: "Thunderstorm with slight hail",
    99: "Thunderstorm with heavy hail",
}

CURRENT_FIELDS = (
    "temperature_2m",
    "apparent_temperature",
    "relative_humidity_2m",
    "precipitation",
    "weather_code",
    "wind_speed_10m",
)
DAILY_FIELDS = (
    "weather_code",
    "temperature_2m_min",
    "temperature_2m_max",
    "precipitation_sum",
    "precipitation_probability_max",
)
_COORDINATES = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class WeatherTool(Tool):
    """Weather for a place, now and for the next days."""

    name = "get_weather"
    description = (
        "Get the current weather and a daily forecast (up to 7 days) for a place: conditions, "
        "temperature, precipitation and wind."
    )
    timeout = 20.0

    class Arguments(BaseModel):
        location: str = Field(
            min_length=1,
            max_length=120,
            description='A city or place name ("Lisbon", "Springfield, Illinois") or "latitude,longitude".',
        )
        days: int = Field(1, ge=1, le=7, description="Number of forecast days, today included.")
        units: Literal["metric", "imperial"] = Field(
            "metric", description="metric (°C, km/h, mm) or imperial."
        )

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._owns_client = client is None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0, headers={"User-Agent": "llamasys-weather/0.1"})
        return self._client

    async def call(self, location: str, days: int = 1, units: str = "metric") -> ToolResult:
        try:
            place = await self._locate(location)
            if place is None:
                return ToolResult.failure(
                    f"No place called {location!r} was found. Try the city name alone, or add the country.",
                    kind="not_found",
                )
            forecast = await self._forecast(place, days, units)
        except httpx.TimeoutException:
            return ToolResult.failure("The weather service timed out; try again later.", kind="timeout")
        except httpx.HTTPStatusError as exc:
            return ToolResult.failure(
                f"The weather service answered HTTP {exc.response.status_code}; try again later.",
                kind="http_error",
            )
        except httpx.TransportError as exc:
            return ToolResult.failure(f"Could not reach the weather service ({exc}).", kind="network")
        except (ValueError, KeyError, TypeError) as exc:
            return ToolResult.failure(
                f"The weather service sent an unexpected answer ({exc}).", kind="bad_response"
            )
        return ToolResult(content=json.dumps(forecast, ensure_ascii=False), metadata={"place": place})

    async def _locate(self, location: str) -> dict[str, Any] | None:
        match = _COORDINATES.match(location)
        if match:
            lat, lon = float(match.group(1)), float(match.group(2))
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                return {"name": f"{lat:.4f},{lon:.4f}", "latitude": lat, "longitude": lon}
        response = await self._http().get(
            GEOCODING_URL, params={"name": location, "count": 1, "language": "en", "format": "json"}
        )
        response.raise_for_status()
        results = response.json().get("results") or []
        if not results:
            return None
        hit = results[0]
        parts = [hit.get("name"), hit.get("admin1"), hit.get("country")]
        label = ", ".join(dict.fromkeys(p for p in parts if p))
        return {"name": label, "latitude": float(hit["latitude"]), "longitude": float(hit["longitude"])}

    async def _forecast(self, place: dict[str, Any], days: int, units: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "latitude": place["latitude"],
            "longitude": place["longitude"],
            "current": ",".join(CURRENT_FIELDS),
            "daily": ",".join(DAILY_FIELDS),
            "timezone": "auto",
            "forecast_days": days,
        }
        if units == "imperial":
            params |= {
                "temperature_unit": "fahrenheit",
                "wind_speed_unit": "mph",
                "precipitation_unit": "inch",
            }
        response = await self._http().get(FORECAST_URL, params=params)
        response.raise_for_status()
        data = response.json()
        current, current_units = data.get("current") or {}, data.get("current_units") or {}

        def fmt(value: Any, unit: str | None) -> str | None:
            return None if value is None else f"{value} {unit}".strip() if unit else str(value)

        now = {
            "time": current.get("time"),
            "conditions": WMO_CODES.get(current.get("weather_code"), "Unknown"),
            "temperature": fmt(current.get("temperature_2m"), current_units.get("temperature_2m")),
            "feels_like": fmt(current.get("apparent_temperature"), current_units.get("apparent_temperature")),
            "humidity": fmt(current.get("relative_humidity_2m"), current_units.get("relative_humidity_2m")),
            "precipitation": fmt(current.get("precipitation"), current_units.get("precipitation")),
            "wind": fmt(current.get("wind_speed_10m"), current_units.get("wind_speed_10m")),
        }
        daily, daily_units = data.get("daily") or {}, data.get("daily_units") or {}
        forecast = []
        for i, date in enumerate(daily.get("time") or []):

            def at(key: str, i: int = i) -> Any:
                values = daily.get(key) or []
                return values[i] if i < len(values) else None

            forecast.append(
                {
                    "date": date,
                    "conditions": WMO_CODES.get(at("weather_code"), "Unknown"),
                    "min": fmt(at("temperature_2m_min"), daily_units.get("temperature_2m_min")),
                    "max": fmt(at("temperature_2m_max"), daily_units.get("temperature_2m_max")),
                    "precipitation": fmt(at("precipitation_sum"), daily_units.get("precipitation_sum")),
                    "precipitation_probability": fmt(
                        at("precipitation_probability_max"), daily_units.get("precipitation_probability_max")
                    ),
                }
            )
        return {
            "location": place["name"],
            "timezone": data.get("timezone"),
            "current": {k: v for k, v in now.items() if v is not None},
            "daily": [{k: v for k, v in day.items() if v is not None} for day in forecast],
        }

    async def close(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
