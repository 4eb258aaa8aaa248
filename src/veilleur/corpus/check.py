"""`python -m veilleur.corpus.check FILE...`: is a family file usable, and what does it yield."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from veilleur.corpus.families import FamilyError, expand, load_file


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m veilleur.corpus.check FILE.toml [--show N]", file=sys.stderr)
        return 2
    show = 0
    if "--show" in argv:
        i = argv.index("--show")
        show = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    status = 0
    for name in argv:
        try:
            families = load_file(Path(name))
        except FamilyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        kinds = Counter((f.lang, f.label) for f in families)
        print(f"{name}: {len(families)} families; "
              + ", ".join(f"{lang}/{label} {n}" for (lang, label), n in sorted(kinds.items())))
        for family in families:
            if show:
                print(f"  [{family.key}] {family.label} {family.lang} "
                      f"({family.variants():,} variants)")
                for text in expand(family, show):
                    print("    " + text.replace("\n", " / "))
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
