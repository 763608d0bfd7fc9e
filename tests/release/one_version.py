#!/usr/bin/env python3
"""One version: meson's project version is what the programs' --version, the
manual pages and the Debian package (debian/changelog, a native package)
say. (The Version property is XSD_VERSION too: tests/daemon/methods_test.)

Usage: one_version.py VERSION CHANGELOG XENSTORECTL XENSTORE-DBUSD MANDIR
"""
import os
import re
import subprocess
import sys

version, changelog, xenstorectl, daemon, mandir = sys.argv[1:6]
failures = []

with open(changelog) as f:
    first = f.readline()
m = re.match(r"xenstore-dbus \(([^)]+)\) ", first)
if not m:
    failures.append("%s: first line is not 'xenstore-dbus (VERSION) …': %r" % (changelog, first))
elif m.group(1) != version:
    failures.append("%s says %s, meson.build says %s: add a changelog entry (dch -v %s)"
                    % (changelog, m.group(1), version, version))

for program in (xenstorectl, daemon):
    out = subprocess.run([program, "--version"], capture_output=True, text=True).stdout
    want = "%s %s\n" % (os.path.basename(program), version)
    if out != want:
        failures.append("%s --version: %r, expected %r" % (program, out, want))

pages = [p for p in os.listdir(mandir) if re.search(r"\.[1-8]$", p)]
if not pages:
    failures.append("no manual pages in " + mandir)
for p in pages:
    with open(os.path.join(mandir, p)) as f:
        th = [l for l in f if l.startswith(".TH ")]
    if len(th) != 1 or '"xenstore-dbus %s"' % version not in th[0]:
        failures.append("%s: .TH does not say xenstore-dbus %s: %s" % (p, version, th))

for f in failures:
    print("FAIL:", f)
print("version %s: changelog, 2 programs, %d pages checked; %d failed" % (version, len(pages), len(failures)))
sys.exit(1 if failures else 0)
