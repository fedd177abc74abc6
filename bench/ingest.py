"""FHIR ingest bench: one ~20 MB transaction Bundle posted to one gunicorn worker; resources/s and its peak RSS.

Run from the repo root:
  .venv/bin/python bench/ingest.py [--bundle-mb 19.5] [--patients 40] [--port 8801]
Everything runs against 127.0.0.1 in a throwaway PostgreSQL database, torn down afterwards. The worker (one, one
thread, so the request is its only work) is warmed with a small bundle first; its VmHWM (peak resident set) from
/proc/<pid>/status is read before and after the big bundle. The same bundle is then sent again (every resource
unchanged: skipped). PASS when the first send reaches --target resources/s and the peak stays under --max-mb.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import _load as L
import redis
import reports as R
import rush

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
HOSPITAL = R.HOSPITALS[0]
MAX_BUNDLE_MB = 20.0  # the endpoint's limit (integration.fhir_routes.MAX_BUNDLE_BYTES)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle-mb", type=float, default=19.5, help=f"bundle size in MiB (1..{MAX_BUNDLE_MB})")
    p.add_argument("--patients", type=int, default=40, help="people the bundle's reports are about (1..1000)")
    p.add_argument("--port", type=int, default=8801)
    p.add_argument("--target", type=float, default=2000.0, help="resources/s of the first send to PASS")
    p.add_argument("--max-mb", type=float, default=300.0, help="worker peak RSS (MB) to PASS")
    p.add_argument("--timeout", type=float, default=600.0, help="global deadline, seconds")
    p.add_argument("--redis-url", default=f"redis://{HOST}:6379/9")
    p.add_argument("--json", metavar="PATH", help="also write the result JSON here")
    args = p.parse_args()
    if not 1 <= args.bundle_mb <= MAX_BUNDLE_MB or not 1 <= args.patients <= 1000:
        p.error("--bundle-mb or --patients out of range")
    return args


def big_bundle(mb: float, patients: int) -> tuple[bytes, int]:
    """A transaction Bundle of about `mb` MiB: Patients, then lab reports (8 Observations each) spread over them."""
    rng, ids, limit = random.Random(3), L.resident_ids(patients, seed=11), int(mb * 1024 * 1024)
    entries = []
    for k, id_number in enumerate(ids):
        entries.append({"fullUrl": f"urn:uuid:patient-{k}", "request": {"method": "PUT", "url": f"Patient/p{k}"},
                        "resource": {"resourceType": "Patient", "id": f"p{k}", "identifier": [
                            {"system": R.ID_SYSTEM, "value": id_number}], "name": [{"text": f"张{k}"}]}})
    size, n = len(json.dumps(entries, ensure_ascii=False).encode()), 0
    while True:
        report = R.bundle("-", HOSPITAL, n, 1, rng)["entry"][1:]  # the report's 8 Observations and itself
        for entry in report:
            entry["resource"]["subject"]["reference"] = f"urn:uuid:patient-{n % patients}"
            resource = entry["resource"]
            entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
            entries.append(entry)
            size += len(json.dumps(entry, ensure_ascii=False).encode()) + 1
        n += 1
        if size >= limit - 20_000:
            break
    body = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}, ensure_ascii=False).encode()
    return body, len(entries)


def post(url: str, body: bytes, key: str, timeout: float) -> tuple[int, dict, float]:
    """POST the bundle; (status, answer, seconds)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/fhir+json", "Authorization": f"Bearer {key}"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    return status, json.loads(text or b"{}"), time.perf_counter() - t0


def peak_mb(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return tuple(round(int(fields[name].split()[0]) / 1024, 1) for name in ("VmHWM", "VmRSS"))


def worker_pid(master: int) -> int:
    """The gunicorn master's one worker."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def run(args, deadline: L.Deadline) -> dict:
    """Provision, start one worker, warm it, post the big bundle twice, tear everything down."""
    redis.Redis.from_url(args.redis_url).flushdb()
    base = f"http://{HOST}:{args.port}"
    body, resources = big_bundle(args.bundle_mb, args.patients)
    with L.throwaway_db("patient_api_ingest") as db, tempfile.TemporaryFile("w+") as log:
        env, proc = rush.child_env(db, args.redis_url), None
        try:
            keys = R.provision(env, deadline)
            if not L.port_is_free(args.port):
                raise RuntimeError(f"port {args.port} is already in use")
            proc = L.start_group([str(R.VENV_BIN / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "1",
                                  "-b", f"{HOST}:{args.port}", "--timeout", "600", "--graceful-timeout", "5",
                                  "wsgi:app"], env, str(ROOT), log)
            L.wait_http_ok(f"{base}/healthz", proc, deadline.left(60))
            pid, url = worker_pid(proc.pid), f"{base}/api/v1/integration/fhir"
            warm = json.dumps(R.bundle(L.resident_ids(1, seed=5)[0], HOSPITAL, 100_000, 5, random.Random(2)),
                              ensure_ascii=False).encode()
            status, answer, _ = post(url, warm, keys[HOSPITAL], deadline.left(120))
            if status != 200:
                raise RuntimeError(f"warm-up bundle answered {status}: {answer}")
            before = peak_mb(pid)
            sends = []
            for _ in range(2):
                status, answer, seconds = post(url, body, keys[HOSPITAL], deadline.left())
                sends.append({"status": status, "seconds": round(seconds, 2),
                              "resources_per_s": round(resources / seconds, 1),
                              "counts": {k: answer.get(k) for k in ("created", "updated", "skipped", "ignored")}
                              if status == 200 else answer})
            after = peak_mb(pid)
        except BaseException:
            log.seek(0)
            print("---- gunicorn log (tail) ----\n" + log.read()[-4000:], file=sys.stderr)
            raise
        finally:
            signal.alarm(0)
            if proc is not None:
                L.stop_group(proc)
            redis.Redis.from_url(args.redis_url).flushdb()
    first = sends[0]
    passed = (all(s["status"] == 200 for s in sends) and first["resources_per_s"] >= args.target
              and after[0] < args.max_mb and sends[1]["counts"]["created"] == sends[1]["counts"]["updated"] == 0)
    return {"bundle_mb": round(len(body) / 1024 / 1024, 2), "resources": resources, "first": first,
            "resend": sends[1], "worker_mb_before": {"peak": before[0], "rss": before[1]},
            "worker_mb_after": {"peak": after[0], "rss": after[1]}, "target": args.target, "max_mb": args.max_mb,
            "pass": passed}


def report(r: dict) -> None:
    """Human-readable summary."""
    print(f"bundle: {r['bundle_mb']} MiB, {r['resources']} resources")
    for name in ("first", "resend"):
        s = r[name]
        print(f"{name:7s} {s['status']} in {s['seconds']} s = {s['resources_per_s']} resources/s  {s['counts']}")
    print(f"worker peak RSS: {r['worker_mb_before']['peak']} MB before, {r['worker_mb_after']['peak']} MB after "
          f"(RSS now {r['worker_mb_after']['rss']} MB); target ≥ {r['target']} resources/s, peak < {r['max_mb']} MB "
          f"→ {'PASS' if r['pass'] else 'FAIL'}")


def main() -> int:
    """Entry point; exit 0 on PASS, 1 on FAIL, 2 if the bench itself could not run."""
    return L.bench_main(parse_args(), run, report)


if __name__ == "__main__":
    sys.exit(main())
