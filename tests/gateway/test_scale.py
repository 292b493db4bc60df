# SPDX-License-Identifier: Apache-2.0
# funkd warm scaling over time: an idle instance ends after com.funk.idle_timeout and not before
# (observed through GET /system/function and /metrics), and com.openfaas.scale.min instances are
# kept through idle timeouts, scale-function to 0 and a restart. With the argument "burst" (test
# gateway-scale-burst) only: scale.min kept when many instances go idle together.
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, Funkd, check, done, need_kvm, wait_for  # noqa: E402

need_kvm()
BURST_ONLY = sys.argv[1:] == ["burst"]
IDLE = 2.0  # com.funk.idle_timeout of the functions below, seconds


def replicas(gw, name):
    f = gw.status(name)
    return f["replicas"] if f else -1


def service_count(gw, name):
    """gateway_service_count of the function from /metrics (-1 when missing)."""
    key = 'gateway_service_count{function_name="%s.openfaas-fn"} ' % name
    for line in gw.req("GET", "/metrics")[2].decode().splitlines():
        if line.startswith(key):
            return int(float(line[len(key):]))
    return -1


def watch(gw, name, until, stop=None):
    """Polls the replica count until the monotonic time `until` (or until stop(count) is true);
    returns [(time the answer came, replicas)]."""
    seen = []
    while time.monotonic() < until:
        n = replicas(gw, name)
        seen.append((time.monotonic(), n))
        if stop and stop(n):
            break
        time.sleep(0.05)
    return seen


def call(gw, name, path="", body=b""):
    t0 = time.monotonic()
    st, _, b = gw.req("POST", "/function/" + name + path, body)
    return t0, time.monotonic(), st, b


def idle_and_min(gw):
    # --- scale to zero: not before idle_timeout, and soon after it ---
    gw.deploy("idle", ELF["gwtest"], labels={"com.funk.mode": "warm", "com.funk.idle_timeout": "%g" % IDLE,
                                              "com.openfaas.scale.max": "1"})
    check(replicas(gw, "idle") == 0 and service_count(gw, "idle") == 0, "warm function without scale.min starts at zero")
    # calls closer together than idle_timeout keep the one instance: its call count grows. The
    # instance went idle after the previous call was sent, and the next reached it before that
    # call's answer came back, so when answer(next) - send(previous) < IDLE it must still be up.
    prev_send = None
    counts, kept = [], []
    for i in range(3):
        t0, t1, st, b = call(gw, "idle", "/count")
        counts.append(b)
        if prev_send is not None and t1 - prev_send < IDLE:
            kept.append((i, counts[i - 1].isdigit() and b == b"%d" % (int(counts[i - 1]) + 1),
                         round(t1 - prev_send, 3)))
        prev_send = t0
        if i < 2:
            time.sleep(IDLE / 2)  # a gap shorter than the idle timeout on purpose (not a race)
    check(counts[0] == b"1" and all(ok for _, ok, _ in kept),
          "calls within idle_timeout of each other are served by the same instance", (counts, kept))
    # the last call was sent at prev_send: any zero seen in an answer that came before
    # prev_send + IDLE is premature; zero must come by prev_send + IDLE + 15 s
    seen = watch(gw, "idle", prev_send + IDLE + 15, stop=lambda n: n == 0)
    early = [(round(t - prev_send, 3), n) for t, n in seen if n == 0 and t < prev_send + IDLE]
    zero_at = next((t for t, n in seen if n == 0), None)
    check(not early, "no scale to zero before idle_timeout (%g s)" % IDLE, early)
    check(zero_at is not None, "idle instance scaled to zero within idle_timeout + 15 s",
          seen[-3:])
    if zero_at is not None:
        print("scaled to zero %.2f s after the last call was sent (idle_timeout %g s)" % (zero_at - prev_send, IDLE))
    check(wait_for(lambda: service_count(gw, "idle") == 0, 5), "gateway_service_count agrees (0)",
          service_count(gw, "idle"))
    t0, t1, st, b = call(gw, "idle", "/count")
    check(st == 200 and b == b"1", "the next call starts a fresh instance", (st, b))

    # --- scale.min: one instance kept at deploy, through idle timeouts and scale-function 0 ---
    gw.deploy("keep", ELF["gwtest"], labels={"com.funk.mode": "warm", "com.funk.idle_timeout": "%g" % IDLE,
                                              "com.openfaas.scale.min": "1", "com.openfaas.scale.max": "2"})
    check(wait_for(lambda: gw.status("keep")["availableReplicas"] == 1, 20) and replicas(gw, "keep") == 1,
          "scale.min 1: one instance is started at deploy, without a call", gw.status("keep"))
    # two calls at once: both instances busy (the second one started for the call); they go idle
    # 1.5 s apart (instances going idle together: gateway-scale-burst)
    tags = [("ms=%d&tag=k%d-%d" % (1500 * (i + 1), i, time.monotonic_ns())) for i in range(2)]
    res = []
    ts = [threading.Thread(target=lambda tg=tg: res.append(gw.req("POST", "/function/keep/hold?" + tg, b"")[0]))
          for tg in tags]
    [t.start() for t in ts]
    both = all(gw.wait_log("keep", "gwtest: holding " + tg, 20) for tg in tags)
    two = replicas(gw, "keep")
    [t.join() for t in ts]
    check(both and two == 2 and res == [200, 200], "two calls in flight at once: two instances (scale.max 2)",
          (both, two, res))
    t_idle = time.monotonic()
    # the extra instance ends after its idle timeout, one stays
    seen = watch(gw, "keep", t_idle + IDLE + 15, stop=lambda n: n <= 1)
    check(seen and seen[-1][1] == 1, "scale.min 1: idle instances scale down to one, not zero", seen[-3:])
    seen = watch(gw, "keep", time.monotonic() + 2 * IDLE + 0.5)  # more idle timeouts go by
    check(seen and all(n == 1 for _, n in seen), "scale.min 1: the last instance stays through idle timeouts",
          sorted({n for _, n in seen}))
    check(service_count(gw, "keep") == 1, "gateway_service_count agrees (1)", service_count(gw, "keep"))
    st, _, b = gw.req("POST", "/function/keep/count", b"")
    check(st == 200 and b == b"2", "the kept instance is one that served before (its second call)", (st, b))
    st, _, _ = gw.req("POST", "/system/scale-function/keep", {"replicas": 0})
    seen = watch(gw, "keep", time.monotonic() + IDLE + 0.5)
    check(st == 202 and seen and all(n == 1 for _, n in seen), "scale-function 0 keeps scale.min instances",
          (st, sorted({n for _, n in seen})))



def burst(gw):
    # --- scale.min after a burst: many instances going idle at about the same moment must not
    # all end (each one deciding "more instances than scale.min" from a count that still holds
    # the others already leaving) ---
    BURST = 8
    for rnd in range(2):
        name = "burst%d" % rnd
        gw.deploy(name, ELF["gwtest"], labels={"com.funk.mode": "warm", "com.funk.idle_timeout": "1",
                                                "com.openfaas.scale.min": "1", "com.openfaas.scale.max": str(BURST)})
        up = wait_for(lambda: gw.status(name)["availableReplicas"] == 1, 20)
        tags = ["b%d-%d-%d" % (rnd, i, time.monotonic_ns()) for i in range(BURST)]
        res = []
        ts = [threading.Thread(target=lambda tg=tg: res.append(gw.req("POST", "/function/%s/hold?ms=1500&tag=%s"
                                                                      % (name, tg), b"")[0])) for tg in tags]
        [t.start() for t in ts]
        all_in = all(gw.wait_log(name, "gwtest: holding ms=1500&tag=" + tg, 30) for tg in tags)
        peak = replicas(gw, name)
        [t.join() for t in ts]
        seen = watch(gw, name, time.monotonic() + 1 + 15, stop=lambda n: n <= 1)
        seen += watch(gw, name, time.monotonic() + 2.5)
        counts = sorted({n for _, n in seen})
        check(up and all_in and peak == BURST and res == [200] * BURST and seen[-1][1] == 1 and 0 not in counts,
              "scale.min 1 after %d instances go idle together: never below one (round %d)" % (BURST, rnd + 1),
              (up, all_in, peak, res, "replicas seen while scaling down: %s" % counts))
        gw.req("DELETE", "/system/functions", {"functionName": name})



def restart(gw):
    # --- a restart brings scale.min instances back without a call; scale.min 0 stays at zero ---
    gw.stop()
    gw.start()
    check(wait_for(lambda: gw.status("keep")["availableReplicas"] == 1, 20),
          "after a restart the scale.min instance is started again", gw.status("keep"))
    check(replicas(gw, "idle") == 0, "after a restart a scale.min 0 function is at zero", gw.status("idle"))


with Funkd() as gw:
    if BURST_ONLY:
        burst(gw)
    else:
        idle_and_min(gw)
        restart(gw)
done()
