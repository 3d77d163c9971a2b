#!/usr/bin/env python3
"""Generate migrations/sqlite/*.sql from migrations/postgres/*.sql.

One schema, two dialects: the PostgreSQL files are the source of truth; this turns them into
SQLite DDL (UUID -> TEXT, JSONB -> JSON text, enums -> CHECK, arrays -> JSON text,
INET -> TEXT, VARCHAR(n) -> TEXT with a length CHECK, booleans -> 0/1). Run it after editing a
PostgreSQL migration: `python3 migrations/tools/pg2sqlite.py` (`--check` fails when a committed
SQLite file is out of date; `make test` runs it). A SQLite file whose first line starts with
`-- hand-written` is left alone: use that for migrations with no direct SQLite form.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
UUID_EXPR = ("(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
             "substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || "
             "substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))")
NOW_EXPR = "(strftime('%Y-%m-%d %H:%M:%f', 'now'))"
NOW_PLUS_MONTH = "(strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 month'))"


def enums_of(text):
    out = {}
    for name, values in re.findall(r'CREATE TYPE "(\w+)" AS ENUM \(([^)]*)\);', text):
        out[name] = [v.strip() for v in values.split(",")]
    return out


def convert_column(line, enums):
    m = re.match(r'(\s*)"(\w+)" (.*?)(,?)$', line)
    if not m:
        return line
    indent, col, rest, comma = m.groups()
    checks = []
    q = f'"{col}"'

    def sub_type(pattern, repl, s):
        return re.sub(pattern, repl, s, count=1)

    if re.match(r'UUID\b', rest):
        rest = sub_type(r'^UUID', 'TEXT', rest)
    elif m2 := re.match(r'VARCHAR\((\d+)\)', rest):
        rest = sub_type(r'^VARCHAR\(\d+\)', 'TEXT', rest)
        checks.append(f'length({q}) <= {m2.group(1)}')
    elif rest.startswith('TIMESTAMP(3)'):
        rest = sub_type(r'^TIMESTAMP\(3\)', 'TEXT', rest)
    elif rest.startswith('TEXT[]'):
        rest = sub_type(r'^TEXT\[\]', 'TEXT', rest).replace("DEFAULT '{}'", "DEFAULT '[]'")
        checks.append(f'json_valid({q}) AND json_type({q}) = \'array\'')
    elif rest.startswith('JSONB'):
        rest = sub_type(r'^JSONB', 'TEXT', rest)
        checks.append(f'json_valid({q})')
    elif rest.startswith('INET'):
        rest = sub_type(r'^INET', 'TEXT', rest)
    elif rest.startswith('BOOLEAN'):
        rest = sub_type(r'^BOOLEAN', 'INTEGER', rest).replace('DEFAULT false', 'DEFAULT 0').replace('DEFAULT true', 'DEFAULT 1')
        checks.append(f'{q} IN (0, 1)')
    elif m2 := re.match(r'"(\w+)"', rest):
        name = m2.group(1)
        if name in enums:
            rest = sub_type(r'^"\w+"', 'TEXT', rest)
            checks.append(f'{q} IN ({", ".join(enums[name])})')
    rest = rest.replace('PRIMARY KEY DEFAULT gen_random_uuid()', f'PRIMARY KEY NOT NULL DEFAULT {UUID_EXPR}')
    rest = rest.replace("DEFAULT (CURRENT_TIMESTAMP + INTERVAL '1 month')", f'DEFAULT {NOW_PLUS_MONTH}')
    rest = rest.replace('DEFAULT CURRENT_TIMESTAMP', f'DEFAULT {NOW_EXPR}')
    check = ''.join(f' CHECK ({c})' for c in checks)
    # CHECKs go before REFERENCES so they read next to the type.
    if ' REFERENCES ' in rest:
        head, tail = rest.split(' REFERENCES ', 1)
        rest = f'{head}{check} REFERENCES {tail}'
    else:
        rest = f'{rest}{check}'
    return f'{indent}{q} {rest}{comma}'


def convert(text, enums):
    out = []
    for line in text.splitlines():
        if line.startswith('CREATE TYPE ') or line.startswith('DROP TYPE '):
            continue
        if re.match(r'\s+"\w+" ', line):
            line = convert_column(line, enums)
        out.append(line)
    body = '\n'.join(out).strip('\n') + '\n'
    return re.sub(r'\n{3,}', '\n\n', body)


def main():
    pg = ROOT / 'postgres'
    enums = {}
    for f in sorted(pg.glob('*.up.sql')):
        enums.update(enums_of(f.read_text()))
    changed = False
    check = '--check' in sys.argv
    for f in sorted(pg.glob('*.sql')):
        target = ROOT / 'sqlite' / f.name
        if target.exists() and target.read_text().startswith('-- hand-written'):
            continue  # a dialect-specific file kept by hand (e.g. PL/pgSQL has no SQLite form)
        new = convert(f.read_text(), enums)
        if target.exists() and target.read_text() == new:
            continue
        changed = True
        if check:
            print(f'{target} is out of date', file=sys.stderr)
        else:
            target.write_text(new)
    if check and changed:
        sys.exit(1)


if __name__ == '__main__':
    main()
