#!/usr/bin/env python3
"""The manual pages: lint-clean, and complete against the programs.

Lint: groff -ww (every warning) and man-db's own run with warnings, as
lintian runs it; both must be silent. Completeness is judged against what
the programs themselves accept, asked at test time: every verb of
`xenstorectl --help` and every option of `xenstorectl help VERB` must have
an entry in xenstorectl(1) (a verb's options under that verb), every option
of `xenstore-dbusd --help` one in xenstore-dbusd(8), and every key the
configuration parser knows (it names them when it refuses an unknown one)
one in xenstore-dbusd.conf(5), whose example must be the installed one.

Usage: man_pages.py MANDIR XENSTORECTL XENSTORE-DBUSD EXAMPLE-CONFIG
"""
import json
import os
import re
import subprocess
import sys
import tempfile

mandir, xenstorectl, daemon, example = sys.argv[1:5]
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def page(name):
    return os.path.join(mandir, name)


def text(name):
    """The page as plain text, wide, with no hyphenation."""
    r = run(["groff", "-man", "-Tascii", "-rLL=300n", "-rHY=0", "-P", "-cbou", page(name)])
    check(r.returncode == 0, "%s: groff failed: %s" % (name, r.stderr))
    return r.stdout.splitlines()


def section(lines, title):
    """The lines of the section TITLE (up to the next heading)."""
    out, inside = [], False
    for line in lines:
        if line and not line[0].isspace():
            inside = line.strip() == title
            continue
        if inside:
            out.append(line)
    check(out, "no section %s" % title)
    return out


def indent(line):
    return len(line) - len(line.lstrip())


def entries(lines, name_pattern):
    """{name: block} for each line that starts an entry (matches
    name_pattern at the shallowest indentation that has any), with the lines
    below it up to the next line as shallow."""
    starts = [(i, indent(l)) for i, l in enumerate(lines) if l.strip() and re.match(name_pattern, l.strip())]
    if not starts:
        return {}
    top = min(d for _, d in starts)
    out = {}
    heads = [i for i, d in starts if d == top]
    for i in heads:
        block = []
        for l in lines[i + 1:]:
            if l.strip() and indent(l) <= top:
                break
            block.append(l)
        out.setdefault(lines[i].split()[0], block)
    return out


def help_options(help_text, heading):
    """Long options (and short keys) listed under HEADING in a --help."""
    lines = help_text.splitlines()
    if heading not in lines:
        return []
    out = []
    for l in lines[lines.index(heading) + 1:]:
        if not l.strip():
            break
        m = re.match(r"\s+(?:-(\w), )?--([\w-]+)", l)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def documents(block, key, name):
    want = ("-%s, --%s" % (key, name)) if key else ("--" + name)
    return any(l.strip().startswith(want) and (len(l.strip()) == len(want) or l.strip()[len(want)] == " ")
               for l in block)


# --- lint -------------------------------------------------------------------
pages = sorted(f for f in os.listdir(mandir) if re.search(r"\.[1-8]$", f))
check(set(pages) >= {"xenstorectl.1", "xenstore-dbusd.8", "xenstore-dbusd.conf.5",
                     "org.xenproject.XenStore1.5"}, "pages missing: %s" % pages)
env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
for p in pages:
    r = run(["groff", "-ww", "-z", "-man", page(p)])
    check(r.returncode == 0 and not r.stderr, "%s: groff -ww -z: %s" % (p, r.stderr))
    r = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page(p)], env=env)
    check(r.returncode == 0 and not r.stderr, "%s: man --warnings: %s" % (p, r.stderr))
    with open(page(p), "rb") as f:
        check(f.read().isascii(), "%s: not ASCII" % p)

# --- xenstorectl(1) -----------------------------------------------------------
program_help = run([xenstorectl, "--help"]).stdout
lines = program_help.splitlines()
verbs = []
for l in lines[lines.index("Verbs:") + 1:]:
    if not l.strip():
        break
    verbs.append(l.split()[0])
check(len(verbs) >= 10, "xenstorectl --help lists only %s" % verbs)
ctl = text("xenstorectl.1")
ctl_verbs = entries(section(ctl, "VERBS"), r"[a-z][a-z-]*( |$)")
for v in verbs:
    check(v in ctl_verbs, "xenstorectl(1): verb %s is not documented" % v)
    for key, name in help_options(run([xenstorectl, "help", v]).stdout, "Options:"):
        check(documents(ctl_verbs.get(v, []), key, name),
              "xenstorectl(1): option --%s of %s is not documented under it" % (name, v))
for key, name in help_options(program_help, "Options (before or after the verb):"):
    check(documents(section(ctl, "OPTIONS"), key, name),
          "xenstorectl(1): common option --%s is not documented" % name)
check(any(l.strip() == "75" or l.strip() == "77" for l in section(ctl, "EXIT STATUS")),
      "xenstorectl(1): exit statuses missing")

# --- xenstore-dbusd(8) --------------------------------------------------------
daemon_options = [name for _, name in
                  [(None, m.group(1)) for m in re.finditer(r"^\s+--([\w-]+)", run([daemon, "--help"]).stdout, re.M)]]
check("config" in daemon_options and "version" in daemon_options,
      "xenstore-dbusd --help lists only %s" % daemon_options)
options = section(text("xenstore-dbusd.8"), "OPTIONS")
for name in daemon_options:
    check(documents(options, None, name), "xenstore-dbusd(8): option --%s is not documented" % name)

# --- xenstore-dbusd.conf(5) ---------------------------------------------------
def known_keys(config):
    """The keys the parser accepts where `config` puts the unknown key
    "not-a-key", from its refusal: "…: unknown key (expected a, b or c)"."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(config, f)
        f.flush()
        r = run([daemon, "--config", f.name, "--bus", "unix:path=/nonexistent"])
    m = re.search(r"unknown key \(expected ([^)]*)\)", r.stderr)
    check(m, "the daemon did not name the keys it expects: %s" % r.stderr)
    return re.split(r", | or ", m.group(1)) if m else []


keys = known_keys({"not-a-key": 1})
keys += known_keys({"access": [{"not-a-key": 1}]})
keys += known_keys({"access": [], "limits": {"not-a-key": 1}})
check(len(keys) >= 10, "too few configuration keys found: %s" % keys)
conf = text("xenstore-dbusd.conf.5")
described = section(conf, "KEYS")
for k in keys:
    check(any(re.search(r"(^|, )%s \(" % re.escape(k), l.strip()) for l in described),
          "xenstore-dbusd.conf(5): key %s is not documented" % k)
shown = "\n".join(section(conf, "EXAMPLE"))
try:
    shown_json = json.loads(shown[shown.index("{"):shown.rindex("}") + 1])
except ValueError as e:
    shown_json = None
    check(False, "xenstore-dbusd.conf(5): the example is not JSON: %s" % e)
with open(example) as f:
    check(shown_json == json.load(f), "xenstore-dbusd.conf(5): the example differs from " + example)

for f in failures:
    print("FAIL:", f)
print("%d pages, %d verbs, %d daemon options, %d configuration keys checked; %d failed"
      % (len(pages), len(verbs), len(daemon_options), len(keys), len(failures)))
sys.exit(1 if failures else 0)
