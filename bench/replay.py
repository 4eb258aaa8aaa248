"""Replay benchmark: every story of `replay_scenarios.py` inside a large synthetic platform.

Targets (issue 5), with 2 reviewers at 5 minutes a case and a 1,000-report troll campaign
running alongside the genuine reports:
- every reported harmful item removed within 1 h of its report;
- every CSAM item the engine finds itself removed within 1 h of being posted;
- every authority order within its deadline; evidence preserved before any owner deletion;
- no action on an innocent target; no report left without a decision or a logged reason;
- 1 million events replayed in under 2 minutes;
- (issue 18) extorters stopped < 1 h after their first threat, successor servers < 1 h after
  their first sign, returning accounts >= 0.9 caught, groomers stopped before a picture
  request is answered (`veilleur.sim.followthrough`, milestones written by the stories).

    python bench/replay.py --events 1000000 [--db] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.replay_scenarios import MILESTONES, write_suite

from veilleur.detect.base import DetectorSettings
from veilleur.enforce.evidence import EvidenceKey
from veilleur.sim.replay import run_replay


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="background events")
    ap.add_argument("--reviewers", type=int, default=2)
    ap.add_argument("--review-seconds", type=float, default=300)
    ap.add_argument("--db", action="store_true",
                    help="also keep the events and the casework in a SQLite database (as "
                    "`replay --db` does)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-learned", action="store_true",
                    help="switch the learned tier (text.learned) off, to measure its cost")
    ap.add_argument("--keep", type=Path, help="write the suite and RESULT.json here")
    ap.add_argument("--no-follow-through", action="store_true",
                    help="leave out the unseen scene conversations and the regrouping "
                    "networks (the suite as measured before them)")
    args = ap.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="veilleur-replay-"))
    t = time.perf_counter()
    events, oracle, bank = write_suite(folder, background_events=args.events,
                                       follow_through=not args.no_follow_through)
    print(f"suite written in {time.perf_counter() - t:.1f} s: {events}", flush=True)

    database = url = key = None
    if args.db:  # the casework, the events and the detectors' memory, as `replay --db`
        from veilleur.store.db import connect

        url = f"sqlite:///{folder / 'replay.db'}"
        database, key = connect(url), EvidenceKey.generate()

    result = run_replay(events, oracle, reviewers=args.reviewers,
                        review_seconds=args.review_seconds, bank_paths=[bank],
                        baseline=not args.no_baseline,
                        db=database, db_url=url, evidence_key=key,
                        milestones_path=None if args.no_follow_through else folder / MILESTONES,
                        settings=DetectorSettings(learned=not args.no_learned))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (folder / "RESULT.json").write_text(json.dumps(result.document, ensure_ascii=False))
    m = result.document["metrics"]
    print(f"replayed {result.events:,} events in {result.seconds:.1f} s "
          f"({result.events / result.seconds:,.0f} events/s), peak memory {peak:,.0f} MB"
          f"{' (with the SQLite store)' if args.db else ''}")
    for name in ("engine", "baseline_fifo"):
        if name not in m:
            continue
        s = m[name]
        ttr = s["time_to_removal_s"]
        print(f"{name}: harmful {s['harmful_items']} {s['outcomes']}; time to removal median "
              f"{ttr['median']} s, p90 {ttr['p90']} s, max {ttr['max']} s; reported removed "
              f"<= 1 h {s['removed_within_1h_of_report']}/{s['reported_harmful']}; engine-found"
              f" CSAM <= 1 h {s['engine_detected_csam_removed_within_1h']}/"
              f"{s['engine_detected_csam']}; legal {s['legal_deadlines_met']}/"
              f"{s['legal_orders']['total']}; evidence before owner deletion "
              f"{s['evidence_preserved_before_deletion']}/{s['owner_deletions_after_flag']}; "
              f"innocent actions {s['actions_on_innocent_targets']}; reports pending "
              f"{s['reports']['pending_at_end']}/{s['reports']['total']}; cases {s['cases']}")
        for kind, f in s.get("follow_through", {}).items():
            extra = (f"; before the picture request was answered {f['before_answer']}/"
                     f"{f['with_answer']}" if "with_answer" in f else "")
            print(f"  {kind}: stopped <= 1 h of the first sign {f['within_1h']}/{f['n']}, "
                  f"never {f['never']}, median {f['seconds']['median']} s, p90 "
                  f"{f['seconds']['p90']} s{extra}")
    if problems := list(result.problems):
        print(f"{len(problems)} input problem(s), first: {problems[0]}")
    print(f"files in {folder}")


if __name__ == "__main__":
    main()
