#!/usr/bin/env python3
"""Writes data/wordfreq-de/frequencies.txt: the German word frequencies of
wordfreq (https://github.com/rspeer/wordfreq, data CC BY-SA 4.0) that dedup
uses as background statistics (src/dedup/background.rs).

    pip download wordfreq==3.1.1 msgpack --no-deps -d /tmp/wf
    (cd /tmp/wf && unzip -o -q wordfreq-3.1.1-py3-none-any.whl && pip install --target py msgpack-*.whl)
    PYTHONPATH=/tmp/wf/py python3 tools/wordfreq_de.py /tmp/wf/wordfreq/data/large_de.msgpack.gz

Each line is a frequency bucket in centibels (a word at bucket `b` occurs
10^(-b/100) times per word of running text) followed by its words; only
words at least as common as once in a million words (bucket 600) are kept.
"""

import gzip
import sys

import msgpack

RAREST_BUCKET = 600

HEADER = """\
# German word frequencies: wordfreq 3.1.1, large_de (https://github.com/rspeer/wordfreq),
# by Robyn Speer and contributors, from Wikipedia, OpenSubtitles, NewsCrawl, Google Books Ngrams,
# the Leeds Internet Corpus, Reddit and Twitter; see wordfreq's README for each source's terms.
# The data is licensed CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); so is this
# file, which keeps only the words that occur at least once per million words. Written by
# tools/wordfreq_de.py. Each line: a bucket in centibels (10^(-bucket/100) per word), a tab,
# and the words of that bucket separated by spaces.
"""


def main(path):
    buckets = msgpack.load(gzip.open(path), raw=False)
    assert buckets[0].get("format") == "cB", buckets[0]
    out = [HEADER]
    for bucket, words in enumerate(buckets[1 : RAREST_BUCKET + 1], start=1):
        words = [w for w in words if " " not in w and "\t" not in w]
        if words:
            out.append(f"{bucket}\t{' '.join(words)}\n")
    with open("data/wordfreq-de/frequencies.txt", "w", encoding="utf-8") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
