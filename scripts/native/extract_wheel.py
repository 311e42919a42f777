"""Extracts selected members of a wheel (a zip) without installing it: exact file names,
or every file under a prefix ending in '/'. Used by install.mjs; Python is already
required to run pip, so no unzip tool is needed."""
import sys
import zipfile

wheel, out, *wanted = sys.argv[1:]
files = [w for w in wanted if not w.endswith('/')]
prefixes = tuple(w for w in wanted if w.endswith('/'))
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m in files or (prefixes and m.startswith(prefixes) and not m.endswith('/'))]
    missing = [f for f in files if f not in members]
    if missing:
        sys.exit(f"not in {wheel}: {', '.join(missing)}")
    for m in members:
        z.extract(m, out)
print(f"extracted {len(members)} files")
