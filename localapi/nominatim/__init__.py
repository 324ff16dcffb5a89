"""A local Nominatim (OpenStreetMap geocoding) server for tests and the playground.

It answers ``/reverse`` and ``/search`` in Nominatim's JSON shapes from a handful of APPROXIMATE Kota
Jambi sample streets, records every request (time, User-Agent) so tests can check the client keeps to
Nominatim's usage policy, and injects faults (delay, HTTP errors, empty answers, bad JSON, 429s).

Usage::

    async with NominatimServer() as nominatim:
        geocoder = Geocoder(GeocoderSettings.from_url(nominatim.base_url, user_agent="SiKesal-test/1"))
        address = await geocoder.reverse(-1.596, 103.612)
        nominatim.fail_next(1, status=500)
"""

from .data import STREETS, Street
from .server import Faults, NominatimError, NominatimServer, RequestRecord

__all__ = ["STREETS", "Faults", "NominatimError", "NominatimServer", "RequestRecord", "Street"]
