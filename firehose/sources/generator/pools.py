"""Name pools: first and last names, usernames, words, streets and locations drawn from Faker once
per locale (Faker is slow per call), for the graph and the change stream to recombine."""

from __future__ import annotations

import re
import unicodedata

from faker import Faker
from faker.providers.geo import Provider as GeoProvider

# Locale -> share of users. CJK, Cyrillic, Devanagari and Arabic names exercise normalization.
LOCALES = {
    "en_US": 0.28, "pt_BR": 0.10, "es_ES": 0.09, "fr_FR": 0.08, "de_DE": 0.08, "ja_JP": 0.07,
    "zh_CN": 0.07, "ko_KR": 0.05, "ru_RU": 0.05, "it_IT": 0.04, "pl_PL": 0.03, "tr_TR": 0.02,
    "hi_IN": 0.02, "ar_AA": 0.02,
}
FAMILY_FIRST = {"ja_JP", "zh_CN", "ko_KR"}
EMOJI = ["✨", "🌸", "🌊", "🔥", "☕", "🎨", "📸", "🌍", "💫", "🦋", "🐾", "🌙"]
POPULAR_TAGS = [
    "travel", "food", "InstaGood", "PhotoOfTheDay", "café", "Sunset", "love", "fitness", "été",
    "Straße", "naturaleza", "東京", "夏", "旅行", "맛집", "путешествие", "Café_Paris", "São_Paulo",
    "fotografía", "München", "coffee", "art", "beach", "nofilter",
]
PLACE_KINDS = ["Central Park", "Old Town", "Museum", "Beach", "Station", "Market", "Cathedral",
               "Stadium", "Harbour", "Botanical Garden", "Café", "Bridge", "Castle", "Plaza"]
_LOCALE_WORDS = ["en_US", "fr_FR", "de_DE", "es_ES", "it_IT", "pl_PL", "ja_JP", "zh_CN", "ru_RU"]
_NOT_USERNAME = re.compile(r"[^a-z0-9._]+")


def ascii_name(text: str) -> str:
    """Lower-case ASCII letters and digits of a (transliterable) name: "Grégoire" -> "gregoire"."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in folded if c.isascii() and c.isalnum())


class Pools:
    """Names, usernames, words and locations drawn from Faker once, then recombined."""

    def __init__(self, seed: int, size: int) -> None:
        self.first: dict[str, list[str]] = {}
        self.last: dict[str, list[str]] = {}
        self.handles: dict[str, list[str]] = {}
        self.streets: dict[str, list[str]] = {}
        words: list[str] = []
        for n, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed * 1000 + n)
            self.first[locale] = [fake.first_name() for _ in range(size)]
            self.last[locale] = [fake.last_name() for _ in range(size)]
            self.handles[locale] = [h for h in (_NOT_USERNAME.sub("", fake.user_name()) for _ in range(size)) if h]
            self.streets[locale] = [fake.street_name() for _ in range(max(10, size // 10))]
            if locale in _LOCALE_WORDS:
                words += fake.get_words_list()
        self.words = [w for w in dict.fromkeys(words) if re.fullmatch(r"[^\W_]+", w)]
        self.locations = [(float(lat), float(lng), city, cc) for lat, lng, city, cc, _ in GeoProvider.land_coords]

