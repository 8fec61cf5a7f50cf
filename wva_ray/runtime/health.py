"""What /healthz (liveness) and /readyz (readiness) answer, as pure rules over the controller's own timestamps.
No I/O and no clock: every rule takes `now_s`, a `time.monotonic()` reading, as an input.

Liveness is cycle liveness. A leader is alive while its cycles keep finishing: one finished within
`intervals` cycle intervals (3 by default), with `startup_grace_s` more for the first cycle after its runtime
started. In Ray mode the runtime starts first (`ray.init`, which starts a local Ray on a node without a cluster,
then the actors): that phase has its own bound, `runtime_start_s`, and the first-cycle grace counts from its end.
On a starved node a Ray start can take minutes; counting it against the first cycle's grace restarted such a
controller in a loop, each restart starting Ray again from nothing.
A cycle that ran and failed (the API server refused the status write, say) counts as finished: the loop turns and
retries by itself, and restarting the process would not help. A leader that cannot reach its coordinator actor,
or whose coordinator stopped cycling, is not alive, and /healthz answers 503 with a one-line reason so that the
kubelet (or Ray Serve's replica health check) restarts it.
A standby runs no cycles and is alive while its loop runs.

Readiness is stricter and separate: a leader is ready once it has published within `READY_AFTER_INTERVALS`
intervals; a standby is ready (it can take over).

Why not every failing cycle: a liveness probe that fails when a dependency (the API server, Prometheus) is down
restarts a healthy controller in a loop during an outage, which makes the outage worse; those faults are held
decisions and conditions, not restarts.
"""

from __future__ import annotations

from dataclasses import dataclass

READY_AFTER_INTERVALS = 3.0
LIVENESS_INTERVALS = 3.0
LIVENESS_STARTUP_GRACE_S = 60.0
LIVENESS_RUNTIME_START_S = 300.0


@dataclass(frozen=True, slots=True)
class LivenessPolicy:
    """How long a leader may go without a finished cycle before /healthz fails."""

    intervals: float = LIVENESS_INTERVALS
    startup_grace_s: float = LIVENESS_STARTUP_GRACE_S
    runtime_start_s: float = LIVENESS_RUNTIME_START_S


@dataclass
class Health:
    """The controller's timestamps (monotonic seconds) that /healthz and /readyz are decided from."""

    interval_s: float
    leader_election: bool
    leader: bool = False
    last_publish_s: float | None = None  # a cycle finished and published
    last_cycle_s: float | None = None  # a cycle finished, published or failed
    lead_started_s: float | None = None  # when this instance last became leader, or its runtime last started
    runtime_starting_s: float | None = None  # the runtime (ray.init, the actors) has been starting since
    last_error: str | None = None  # why the last cycle (or the last call to the coordinator) failed
    loop_alive: bool = True
    policy: LivenessPolicy = LivenessPolicy()

    def became_leader(self, now_s: float) -> None:
        self.leader = True
        self.lead_started_s = now_s
        self.runtime_starting_s = None
        self.last_cycle_s = None
        self.last_publish_s = None

    def runtime_starting(self, now_s: float) -> None:
        """The runtime is being started (Ray mode): bounded by `runtime_start_s`, not by the first-cycle grace."""
        self.runtime_starting_s = now_s

    def runtime_started(self, now_s: float) -> None:
        """The runtime is up: the first cycle's grace counts from now."""
        self.runtime_starting_s = None
        self.lead_started_s = now_s

    def cycle_finished(self, now_s: float, published: bool, error: str | None = None) -> None:
        self.last_cycle_s = now_s
        if published:
            self.last_publish_s = now_s
        self.last_error = error

    def liveness(self, now_s: float) -> tuple[bool, str]:
        """(alive, one-line reason)."""
        if not self.loop_alive:
            return False, "the controller loop has stopped"
        if not self.leader:
            return True, "ok: standby, loop running"
        limit_s = self.policy.intervals * self.interval_s
        error = f"; last error: {self.last_error}" if self.last_error else ""
        if self.runtime_starting_s is not None:
            waited_s = now_s - self.runtime_starting_s
            allowed_s = self.policy.runtime_start_s
            if waited_s <= allowed_s:
                return True, f"ok: leader, starting the runtime ({waited_s:.0f} s of {allowed_s:.0f} s allowed)"
            return False, f"the runtime did not start in {waited_s:.0f} s (allowed {allowed_s:.0f} s){error}"
        if self.last_cycle_s is None:
            since = self.lead_started_s if self.lead_started_s is not None else now_s
            allowed_s = limit_s + self.policy.startup_grace_s
            waited_s = now_s - since
            if waited_s <= allowed_s:
                return True, f"ok: leader, first cycle pending ({waited_s:.0f} s of {allowed_s:.0f} s allowed)"
            return (
                False,
                f"no cycle finished in the {waited_s:.0f} s since leading with the runtime up "
                f"(allowed {allowed_s:.0f} s){error}",
            )
        age_s = now_s - self.last_cycle_s
        if age_s <= limit_s:
            return True, f"ok: leader, last cycle finished {age_s:.1f} s ago"
        return False, (
            f"no cycle finished for {age_s:.0f} s (allowed {limit_s:.0f} s = {self.policy.intervals:g} intervals "
            f"of {self.interval_s:g} s){error}"
        )

    def healthy(self, now_s: float) -> bool:
        return self.liveness(now_s)[0]

    def ready(self, now_s: float) -> bool:
        if not self.loop_alive:
            return False
        if not self.leader:
            return self.leader_election  # a standby is ready to take over
        if self.last_publish_s is None:
            return False
        return now_s - self.last_publish_s <= READY_AFTER_INTERVALS * self.interval_s
