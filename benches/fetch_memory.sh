#!/bin/sh
# Peak RSS of `kurator fetch` (release build, default settings) for two cold fetches
# served from loopback: one 10 MB feed with 20,000 items, and 2,000 feeds of 35 items.
# Needs python3 and GNU time (/usr/bin/time). See BENCHMARKS.md, "Peak memory of a fetch".
#
#   cargo build --release --locked && sh benches/fetch_memory.sh [RUNS]
set -eu
runs=${1:-3}
kurator=${KURATOR:-$(pwd)/target/release/kurator}
work=$(mktemp -d)
port=${KURATOR_BENCH_PORT:-18777}
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT

python3 - "$work" "$port" <<'PY'
import random, sys, os
work, port = sys.argv[1], sys.argv[2]
random.seed(7)
words = ("Stadtrat beschließt Haushalt Bürgerservice Digitalisierung Verwaltung Gemeinderat "
         "Bebauungsplan Kita Schule Straßenbau Förderung Klimaschutz Radweg Sitzung Ausschuss "
         "Landkreis Ortsbeirat Wahl Bürgermeisterin").split()
def sent(n): return " ".join(random.choice(words) for _ in range(n))
def head(title): return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                         f'<title>{title}</title><link>https://www.stadt.example/</link><description>Presse</description>\n')
# One feed just under the default max_bytes (10 MiB): 20,000 items of ~520 bytes.
parts = [head("Große Stadt")]
for i in range(20000):
    parts.append(f'<item><title>{sent(5)} {i}</title><link>https://www.stadt.example/presse/meldung-{i}.html</link><guid>m{i}</guid>'
                 f'<description><![CDATA[<p>{sent(11)} <a href="/p/{i}">mehr</a></p><p>{sent(7)}</p>]]></description>'
                 f'<category>{random.choice(words)}</category><pubDate>Mon, 13 Apr 2026 10:{i%60:02d}:00 +0200</pubDate></item>\n')
parts.append('</channel></rss>\n')
big = "".join(parts).encode()
open(f"{work}/big.xml", "wb").write(big)
topic = "[[topic]]\nslug = \"politik\"\nmatch = 'gemeinderat OR stadtrat'\n\n"
open(f"{work}/one.toml", "w").write(f'[storage]\npath = "{work}/one.db"\n\n{topic}'
                                    f'[[source]]\nid = "gross"\nurl = "http://127.0.0.1:{port}/big.xml"\n')
# 2,000 feeds of 35 items (~36 KB each); one host, so per-host limits are opened up.
os.mkdir(f"{work}/many")
config = [f'[storage]\npath = "{work}/many.db"\n\n[fetch]\nhost_delay = "0s"\nper_host = 8\n\n{topic}']
total = 0
for f in range(2000):
    parts = [head(f"Stadt {f}")]
    for i in range(35):
        parts.append(f'<item><title>{sent(6)} {i}</title><link>https://www.stadt{f}.example/presse/meldung-{i}.html?utm_source=rss</link><guid>s{f}-m{i}</guid>'
                     f'<description><![CDATA[<p>{sent(30)} <a href="/p/{i}">mehr</a></p><p>{sent(25)}</p>]]></description>'
                     f'<category>{random.choice(words)}</category><category>Politik</category><author>presse@stadt{f}.example (Pressestelle)</author>'
                     f'<pubDate>Mon, 13 Apr 2026 10:{i%60:02d}:00 +0200</pubDate></item>\n')
    parts.append('</channel></rss>\n')
    body = "".join(parts).encode()
    total += len(body)
    open(f"{work}/many/f{f}.xml", "wb").write(body)
    config.append(f'[[source]]\nid = "s{f}"\nurl = "http://127.0.0.1:{port}/many/f{f}.xml"\n')
open(f"{work}/many.toml", "w").write("\n".join(config))
print(f"one feed: {len(big):,} bytes, 20,000 items; 2,000 feeds: {total:,} bytes, 70,000 items", file=sys.stderr)
PY

(cd "$work" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
sleep 1
for run in $(seq "$runs"); do
    for case in one many; do
        rm -f "$work/$case.db"*
        /usr/bin/time -v "$kurator" -c "$work/$case.toml" fetch >"$work/out" 2>"$work/time"
        stored=$(grep -o 'new [0-9]*' "$work/out" | awk '{n += $2} END {print n}')
        rss=$(awk '/Maximum resident/ {print $NF}' "$work/time")
        wall=$(awk '/Elapsed/ {print $NF}' "$work/time")
        echo "run $run  $case: peak RSS $((rss / 1024)) MiB, $stored items stored, $wall"
    done
done
