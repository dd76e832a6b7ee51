"""The sample plugin `llamasys-weather` (apps/samples/weather_plugin) against a MockTransport that
answers like Open-Meteo's geocoding and forecast APIs."""

import importlib.util
import json
import sys
from pathlib import Path

import httpx
import pytest

# Loaded from its file so the sample's folder never lands on sys.path (where a pip build's egg-info
# would look like an installed distribution to entry-point discovery).
_SOURCE = Path(__file__).resolve().parents[2] / "apps/samples/weather_plugin/llamasys_weather/__init__.py"
_spec = importlib.util.spec_from_file_location("llamasys_weather_under_test", _SOURCE)
weather = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = weather  # pydantic resolves the postponed annotations through sys.modules
_spec.loader.exec_module(weather)
WeatherTool = weather.WeatherTool

GEOCODE = {
    "results": [
        {
            "id": 2267057,
            "name": "Lisbon",
            "latitude": 38.71667,
            "longitude": -9.13333,
            "elevation": 45.0,
            "country_code": "PT",
            "timezone": "Europe/Lisbon",
            "country": "Portugal",
            "admin1": "Lisbon",
        }
    ],
    "generationtime_ms": 0.9,
}

FORECAST = {
    "latitude": 38.71,
    "longitude": -9.13,
    "timezone": "Europe/Lisbon",
    "timezone_abbreviation": "WET",
    "current_units": {
        "time": "iso8601",
        "interval": "seconds",
        "temperature_2m": "°C",
        "apparent_temperature": "°C",
        "relative_humidity_2m": "%",
        "precipitation": "mm",
        "weather_code": "wmo code",
        "wind_speed_10m": "km/h",
    },
    "current": {
        "time": "2026-11-26T14:00",
        "interval": 900,
        "temperature_2m": 17.2,
        "apparent_temperature": 16.1,
        "relative_humidity_2m": 71,
        "precipitation": 0.0,
        "weather_code": 2,
        "wind_speed_10m": 14.4,
    },
    "daily_units": {
        "time": "iso8601",
        "weather_code": "wmo code",
        "temperature_2m_min": "°C",
        "temperature_2m_max": "°C",
        "precipitation_sum": "mm",
        "precipitation_probability_max": "%",
    },
    "daily": {
        "time": ["2026-11-26", "2026-11-27"],
        "weather_code": [61, 3],
        "temperature_2m_min": [12.1, 11.0],
        "temperature_2m_max": [17.9, 16.5],
        "precipitation_sum": [3.4, 0.0],
        "precipitation_probability_max": [80, 10],
    },
}


def _client(requests, geocode=GEOCODE, forecast=FORECAST):
    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.host == "geocoding-api.open-meteo.com":
            return httpx.Response(200, json=geocode)
        if request.url.host == "api.open-meteo.com":
            return httpx.Response(200, json=forecast)
        return httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_weather_for_a_city():
    requests = []
    async with _client(requests) as client:
        result = await WeatherTool(client).run(location="Lisbon", days=2)
    assert not result.error
    geo, forecast = requests
    assert geo.url.params["name"] == "Lisbon" and geo.url.params["count"] == "1"
    assert forecast.url.path == "/v1/forecast"
    assert forecast.url.params["latitude"] == "38.71667" and forecast.url.params["forecast_days"] == "2"
    assert "temperature_unit" not in forecast.url.params
    assert json.loads(result.content) == {
        "location": "Lisbon, Portugal",
        "timezone": "Europe/Lisbon",
        "current": {
            "time": "2026-11-26T14:00",
            "conditions": "Partly cloudy",
            "temperature": "17.2 °C",
            "feels_like": "16.1 °C",
            "humidity": "71 %",
            "precipitation": "0.0 mm",
            "wind": "14.4 km/h",
        },
        "daily": [
            {
                "date": "2026-11-26",
                "conditions": "Slight rain",
                "min": "12.1 °C",
                "max": "17.9 °C",
                "precipitation": "3.4 mm",
                "precipitation_probability": "80 %",
            },
            {
                "date": "2026-11-27",
                "conditions": "Overcast",
                "min": "11.0 °C",
                "max": "16.5 °C",
                "precipitation": "0.0 mm",
                "precipitation_probability": "10 %",
            },
        ],
    }


async def test_coordinates_skip_geocoding_and_imperial_units_are_requested():
    requests = []
    async with _client(requests) as client:
        result = await WeatherTool(client).run(location="40.71, -74.01", units="imperial")
    assert not result.error
    assert [r.url.host for r in requests] == ["api.open-meteo.com"]
    params = requests[0].url.params
    assert (params["latitude"], params["longitude"]) == ("40.71", "-74.01")
    assert params["temperature_unit"] == "fahrenheit" and params["wind_speed_unit"] == "mph"
    assert json.loads(result.content)["location"] == "40.7100,-74.0100"


async def test_unknown_place_and_service_errors():
    async with _client([], geocode={"generationtime_ms": 0.3}) as client:
        missing = await WeatherTool(client).run(location="Atlantis")
    assert missing.error and missing.metadata["kind"] == "not_found" and "Atlantis" in missing.content

    def down(request):
        return httpx.Response(502)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as client:
        failed = await WeatherTool(client).run(location="Lisbon")
    assert failed.error and "HTTP 502" in failed.content


@pytest.mark.parametrize("days", [0, 8])
async def test_days_out_of_range_is_a_validation_error(days):
    result = await WeatherTool().run(location="Lisbon", days=days)
    assert result.error and result.metadata["kind"] == "invalid_arguments"
