#!/usr/bin/env python3
"""Turns raw pages of Tweets.csv (16,000-character pages of the file, written verbatim to
DIR/tweets_<offset>.csv) into rows appended to triage/data/airline.tsv:

    python3 triage/data/pages_to_tsv.py triage/data/airline.tsv DIR


A page starts and ends mid-record. A record starts at a line that begins with a tweet id
(`5.70306E+17,`) followed by a label; the chunk before the first such line is dropped, and the
last record is kept only if its text field is complete (a field follows it on the page).
Text: CSV unquoting, newlines and tabs become one space. Records whose (label, reason, text)
already are in the TSV are dropped (pages of the first engineer were not recorded); equal
records within the new pages are separate tweets ("@JetBlue thanks!") and are kept, and equal
texts land in the same split, so nothing leaks between splits."""
import csv, io, re, sys, glob, os

TSV = sys.argv[1]
PAGES = sorted(glob.glob(os.path.join(sys.argv[2], 'tweets_*.csv')), key=lambda p: int(re.findall(r'\d+', os.path.basename(p))[0]))
START = re.compile(r'(?m)^\d(?:\.\d+)?E\+\d+,(?:negative|neutral|positive),')

existing = []
with open(TSV, encoding='utf-8') as f:
    lines = f.read().split('\n')
header, body = lines[0], [l for l in lines[1:] if l.strip()]
seen = set()
for l in body:
    i, s, r, t = l.split('\t', 3)
    seen.add((s, r, t))
next_id = len(body) + 1

def clean(t):
    return re.sub(r'\r\n|\n|\r|\t', ' ', t)

new, dropped_dup, dropped_cut, per_page = [], 0, 0, {}
for p in PAGES:
    text = open(p, encoding='utf-8').read()
    starts = [m.start() for m in START.finditer(text)]
    kept = 0
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(text)
        chunk = text[s:e]
        last = k + 1 == len(starts)
        try:
            fields = next(csv.reader(io.StringIO(chunk)))
        except Exception:
            fields = []
        # csv.reader reads one record (quoted newlines included); a complete text has a field after it.
        if len(fields) < 12 or (not last and len(fields) != 15):
            if not last:
                print(f'{p}: record at {s} has {len(fields)} fields: {chunk[:80]!r}', file=sys.stderr)
            dropped_cut += 1
            continue
        label, reason, tw = fields[1], fields[3], clean(fields[10])
        key = (label, reason, tw)
        if key in seen:
            dropped_dup += 1
            continue
        new.append(key)
        kept += 1
    per_page[os.path.basename(p)] = kept
with open(TSV, 'a', encoding='utf-8') as f:
    for (s, r, t) in new:
        f.write(f'{next_id}\t{s}\t{r}\t{t}\n')
        next_id += 1
print(f'pages {len(PAGES)}, new rows {len(new)}, dropped as already present {dropped_dup}, cut at a page edge {dropped_cut}')
for k, v in per_page.items():
    print(k, v)
