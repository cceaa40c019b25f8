"""Delivery: queued actions -> the destination's HTTP requests -> delivered, retried later,
or dead-lettered with the reason.

One ``Deliverer`` per connection runs ``claim -> prepare -> build_requests -> send ->
classify -> settle``; an item prepared at intake (``Action.wire``) is ``restore``d instead
of prepared again, unless the settings that shape it changed since. The protocol steps
are the destination plugin's pure functions; this module owns the I/O (an
``httpx.AsyncClient``), the rate limit, backoff and the retry window, and it is the only
place that turns outcomes into queue operations.

The queue's operations (claim, acknowledge, retry, release, dead-letter) run on the
deliverer's queue thread (``queue_hop``), one hop per claim and one per request settled
that writes or looks (a claim's deliveries are acknowledged together, with its last
request): a queue waiting for a lock held elsewhere (another process's transaction, the
group committer's) or for a round trip to Redis never holds up the event loop, which also
answers HTTP in ``serve``.

Order: the queue hands out a person's actions (one ``order_key``) oldest first and never
to two claims at once; requests of one claim are sent one after another; when one must be
retried, the rest of the claim is given back untouched, so a person's actions are never
overtaken by later ones (an identify always reaches the vendor before that input's events).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import httpx

from ..contracts.actions import Outcome
from ..contracts.destination import Destination, OutboundRequest, PreparedItem
from ..contracts.queue import Failure, Queue, QueueEntry
from ..contracts.ratelimit import RateLimiter
from .credentials_pause import CredentialsPause
from .delivery_acks import PendingAcks
from .delivery_build import build_isolated, prepared_items, rebuilt_without
from .delivery_failures import delivery_failure
from .delivery_holds import HOLD_REASON, Holds, held_back
from .delivery_settled import Settled, backoff
from .metrics import Metrics, observe_all
from .queue_hop import QueueHop
from .queue_writes import erased_among, ids_of, run_all, settle_then_look
from .redaction import Redactor
from .transport_errors import describe_transport_error

#: A claim's next request is sent only this far into its lease, and each request is given
#: up (a retry) past this much of it: every request is then settled within the lease, so
#: no other claim can take its items, or their person's newer ones, before it is. What the
#: claim delivered is acknowledged with its last request, so within the lease too, or
#: before a wait for the rate limiter (``delivery_acks``).
SEND_WITHIN_LEASE = 0.4
#: A look for erased entries holds this long: a request going later after its claim, or
#: after the last look at it (a settling hop's, at the next request), is looked at.
ERASED_LOOK_AFTER = 0.05
#: A claim takes whole requests' worth, at least this many entries (a claim costs about as
#: much for 100 as for 300), of at most ``CLAIM_REQUESTS``: 100-item requests go three.
CLAIM_AT_LEAST, CLAIM_REQUESTS = 250, 4


class Deliverer:
    """Delivers one connection's queue through its destination plugin."""

    def __init__(
        self,
        connection: str,
        destination: Destination,
        settings: Mapping[str, Any],
        queue: Queue,
        client: httpx.AsyncClient,
        *,
        limiter: RateLimiter,
        metrics: Metrics,
        retry_window_seconds: float = 24 * 3600,
        max_backoff_seconds: float = 300.0,
        lease_seconds: float = 30.0,
        claim_requests: int | None = None,
        credentials_hold_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection = connection
        self.destination = destination
        self.settings = settings
        self.queue = queue
        self.client = client
        self.limiter = limiter
        self.metrics = metrics
        self.retry_window = retry_window_seconds
        self.max_backoff = max_backoff_seconds
        self.lease_seconds = lease_seconds
        per_request = destination.capabilities.max_items_per_request
        at_least = min(CLAIM_REQUESTS, -(-CLAIM_AT_LEAST // per_request))  # rounded up
        self.claim_limit = per_request * (claim_requests or at_least)
        self.clock = clock
        secrets = [str(settings.get(k, "")) for k in destination.secret_settings]
        self.redact = Redactor(secrets)
        #: While the destination asked us to wait, nothing newer is sent either, so a
        #: person's later actions never overtake the ones being retried.
        self.paused_until = 0.0
        self.credentials = CredentialsPause(
            connection,
            metrics,
            hold_seconds=credentials_hold_seconds,
            max_backoff=max_backoff_seconds,
        )
        self._latency = metrics.latency.labels(connection)
        #: The queue's calls run there, never on the event loop (``queue_hop``).
        self.hop = QueueHop()
        self._delays = type(destination).send_delay is not Destination.send_delay

    def _delay_of(self, item: PreparedItem) -> float:
        return self.destination.send_delay(item, self.settings)

    async def step(self) -> Settled:
        """Claim one batch of ready items and settle every one of them."""
        done = Settled()
        claimed_at = self.clock()  # the lease starts with the claim
        if claimed_at < self.paused_until:
            return done
        entries = await self.hop(
            self.queue.claim, self.connection, self.claim_limit, self.lease_seconds
        )
        if not entries:
            return done
        done.claimed = len(entries)
        prepared, rejected = prepared_items(self.destination, self.settings, entries, self.redact)
        await self._bury(rejected, done)
        held: Holds = {}
        behind: Holds = {}
        if self._delays:  # held before the requests go, as late as they may go if need be
            latest = claimed_at + 2 * SEND_WITHIN_LEASE * self.lease_seconds
            prepared, held, behind = held_back(
                prepared, self._delay_of, alone_from=claimed_at, sent_from=latest
            )
        if held or behind:
            writes = [partial(self.queue.retry, i, at, HOLD_REASON) for at, i in held.items()]
            writes += [partial(self.queue.release, i, not_before=at) for at, i in behind.items()]
            erased = self._count_erased(sum(await self.hop(run_all, writes)), done)
            done.held = sum(map(len, held.values())) + sum(map(len, behind.values())) - erased
            self.metrics.count("held", self.connection, done.held)
        if prepared:
            await self._send_all(prepared, claimed_at, done)
        return done

    async def _send_all(
        self, prepared: list[PreparedItem], claimed_at: float, done: Settled
    ) -> None:
        """Build a claim's requests and send them one after another, settling each; what
        they delivered is acknowledged once (one transaction a claim): in the hop settling
        the last request or the one that pauses the claim, with the rest given back late in
        the lease, before a wait for the rate limiter, or as the claim ends otherwise."""
        built, unbuilt = build_isolated(self.destination, prepared, self.settings)
        await self._bury(unbuilt, done)
        pending = PendingAcks(self.queue, self.hop)  # delivered by this claim, not acknowledged yet
        try:
            await self._send_each(list(built), claimed_at, done, pending)
        finally:
            await pending.flush()

    async def _send_each(
        self,
        requests: list[OutboundRequest],
        claimed_at: float,
        done: Settled,
        pending: PendingAcks,
    ) -> None:
        i = 0
        # A request is looked at for erased entries unless its last look is within
        # ERASED_LOOK_AFTER: the claim's (``claimed_at``), or a settling hop's at the next
        # request once due (those before ``looked_end``, at ``looked_at``).
        looked_end, looked_at = 0, claimed_at

        def due(now: float) -> bool:  # request i's last look is older than ERASED_LOOK_AFTER
            return now - (looked_at if i < looked_end else claimed_at) > ERASED_LOOK_AFTER

        while i < len(requests):
            await pending.acquire(self.limiter)
            now = self.clock()
            while i < len(requests):  # a request left empty: the next is looked at
                if not due(now):
                    break  # looked at just now: with the claim, or in the last settle's hop
                requests[i : i + 1] = rebuilt = await self._without_erased(requests[i], done)
                if rebuilt:
                    break
            if i == len(requests):
                break
            if self.clock() - claimed_at > self.lease_seconds * SEND_WITHIN_LEASE:
                # Too late in the lease (the look above included) for another request to be
                # settled within it: give the rest back untouched (the next claim takes them,
                # in order) rather than risk another claim taking them, and the person's
                # newer ones, meanwhile.
                release = partial(self.queue.release, ids_of(requests[i:]))
                writes: list[Callable[[], int | None]] = [*pending.writes(), release]
                self._count_erased(sum(await self.hop(run_all, writes)), done)
                pending.written()
                break
            sent = requests[i]
            i += 1
            outcomes, response = await self._send(sent)
            done.requests += 1
            following = requests[i] if i < len(requests) else None
            answered = self.clock()  # the look at ``following`` comes after this
            stop_at, gone = await self._settle(
                sent, outcomes, response, done, following, pending, look=due(answered)
            )
            if stop_at is not None:
                self.paused_until = max(self.paused_until, stop_at)
                rest = ids_of(requests[i:])
                if rest:
                    release = partial(self.queue.release, rest, not_before=stop_at)
                    self._count_erased(await self.hop(release), done)
                break
            if following is not None and gone is not None:  # None: not looked at after all
                now_sent = (
                    await self._rebuilt_without(following, gone, done) if gone else [following]
                )
                requests[i : i + 1] = now_sent
                looked_end, looked_at = i + len(now_sent), answered

    async def _without_erased(self, sent: OutboundRequest, done: Settled) -> list[OutboundRequest]:
        """``sent`` rebuilt (as none, one or more requests) without the entries the queue
        deleted, their person erased since the claim (``Queue.drop_erased``), if any."""
        gone = await self.hop(erased_among, self.queue, ids_of([sent]))
        if not gone:
            return [sent]
        self._count_erased(len(gone), done)
        return await self._rebuilt_without(sent, gone, done)

    async def _rebuilt_without(
        self, sent: OutboundRequest, gone: set[Any], done: Settled
    ) -> list[OutboundRequest]:
        """``sent`` rebuilt without the entries ``gone`` (erased: counted already)."""
        rebuilt, unbuilt = rebuilt_without(self.destination, [sent], gone, self.settings)
        await self._bury(unbuilt, done)
        return rebuilt

    async def _bury(self, failed: list[tuple[QueueEntry, Failure]], done: Settled) -> None:
        """Dead-letter entries that cannot go (not prepared, or no request built for them)."""
        if failed:
            erased = self._count_erased(await self.hop(self.queue.dead_letter, failed), done)
            self._count_dead_letters(len(failed) - erased, done)

    async def _send(self, sent: OutboundRequest) -> tuple[list[Outcome], httpx.Response | None]:
        """Send and classify; a failure to reach the vendor or to read its answer (within
        ``SEND_WITHIN_LEASE`` of the lease, whatever the client's own timeouts) is a retry
        of every item, and so is an answer the destination cannot classify."""
        try:
            async with asyncio.timeout(self.lease_seconds * SEND_WITHIN_LEASE):
                response = await self.client.send(sent.request)
                await response.aread()
        except TimeoutError:
            return self._not_sent(sent, "no answer within the claim's lease")
        except httpx.TransportError as exc:
            return self._not_sent(sent, describe_transport_error(exc))
        except httpx.HTTPError as exc:  # e.g. an answer that cannot be decoded
            return self._not_sent(sent, f"the answer could not be read ({type(exc).__name__})")
        self.metrics.request(self.connection, str(response.status_code), sent.endpoint)
        try:
            outcomes = self.destination.classify(sent, response)
        except Exception as exc:  # a plugin bug must not stop the connection
            outcomes = []
            problem = type(exc).__name__
        else:
            problem = f"{len(outcomes)} outcomes for {len(sent.items)} items"
        if len(outcomes) != len(sent.items):
            reason = f"the destination could not classify the answer ({problem})"
            return [Outcome("retry", reason=reason) for _ in sent.items], response
        return outcomes, response

    def _not_sent(
        self, sent: OutboundRequest, reason: str
    ) -> tuple[list[Outcome], httpx.Response | None]:
        self.metrics.request(self.connection, "error", sent.endpoint)
        return [Outcome("retry", reason=reason) for _ in sent.items], None

    async def _settle(
        self,
        sent: OutboundRequest,
        outcomes: list[Outcome],
        response: httpx.Response | None,
        done: Settled,
        following: OutboundRequest | None,
        pending: PendingAcks,
        *,
        look: bool = True,
    ) -> tuple[float | None, set[Any] | None]:
        """Apply each item's outcome (the queue's writes in one hop to the queue thread:
        credentials' release, acknowledgement, retries, dead letters); return the retry time
        if any item must wait, and, looked for after the writes in that hop, the entries of
        ``following`` (the next request; no pause coming) erased since the claim (None: not
        looked at), when ``look`` says it is due or the hop writes anyway (else no hop).
        ``pending``: the claim's deliveries not acknowledged yet, which those of ``sent``
        join while the claim goes on (``following``, no pause); else all are acknowledged."""
        now = self.clock()
        redact = self.redact.with_credentials_of(sent.request)
        answer: dict[str, Any] = {}  # the vendor's answer, redacted once for every failure
        delivered: list[Any] = []
        waited: list[float] = []
        failed: list[tuple[QueueEntry, Failure]] = []
        retry_at: float | None = None
        retries: dict[tuple[float, str], list[Any]] = {}  # (when, why): the entries
        repaired: dict[str, int] = {}
        refused: list[PreparedItem] = []
        refused_reason = ""
        for item, outcome in zip(sent.items, outcomes, strict=True):
            entry: QueueEntry = item.key
            status = outcome.status
            if status == "delivered":  # first: by far the most common, once per item
                delivered.append(entry.id)
                if item.repairs:
                    for note in item.repairs:
                        repaired[note] = repaired.get(note, 0) + 1
                age = now - entry.enqueued_at
                waited.append(age if age > 0.0 else 0.0)  # max(0.0, age), without the call
            elif status == "credentials_refused":
                refused.append(item)
                refused_reason = outcome.reason
            elif status == "failed":
                failure = delivery_failure(outcome.reason, sent, item, response, redact, answer)
                failed.append((entry, failure))
            else:
                delay = backoff(entry.attempts, outcome.retry_after, self.max_backoff)
                if now + delay - entry.enqueued_at > self.retry_window:
                    why = f"retry window exceeded; last error: {outcome.reason}"
                    failure = delivery_failure(why, sent, item, response, redact, answer)
                    failed.append((entry, failure))
                    continue
                at = now + delay
                retries.setdefault((at, redact(outcome.reason)), []).append(entry.id)
                retry_at = at if retry_at is None else max(retry_at, at)
        writes: list[Callable[[], int | None]] = []
        if refused:
            again, released = self.credentials.refused_items(
                self.clock(),
                redact(refused_reason),
                sent,
                refused,
                failed,
                response,
                redact,
                answer,
            )
            retry_at = again if retry_at is None else max(retry_at, again)
            if released:
                writes.append(partial(self.queue.release, released, not_before=again))
        elif any(o.status in ("delivered", "failed") for o in outcomes):
            self.credentials.accepted()  # the vendor judged the items: the key works
        # What the claim delivered is acknowledged when it ends or pauses here, as the hop's
        # first write (a later one that fails leaves it done), and forgotten after the hop.
        pending.add(delivered)
        acks = pending.writes() if following is None or retry_at is not None else []
        writes[:0] = acks
        retried = len(writes)  # the retries' writes start here
        writes.extend(partial(self.queue.retry, ids, at, why) for (at, why), ids in retries.items())
        if failed:
            writes.append(partial(self.queue.dead_letter, failed))
        looks = retry_at is None and (look or bool(writes))
        ahead = ids_of([following]) if following is not None and looks else []
        erased: list[int] = []
        gone: set[Any] | None = None
        if writes or ahead:
            erased, gone = await self.hop(settle_then_look, self.queue, writes, ahead)
        if acks:  # only now: a hop that failed leaves them to the claim's flush
            pending.written()
        self._count_erased(sum(erased) + len(gone or ()), done)
        if delivered:
            done.delivered += len(delivered)
            self.metrics.count("delivered", self.connection, len(delivered))
            observe_all(self._latency, waited)
        if repaired:
            self.metrics.repair(self.connection, repaired)
        if retries:
            n = sum(map(len, retries.values())) - sum(erased[retried : retried + len(retries)])
            done.retried += n
            self.metrics.count("retried", self.connection, n)
        if failed:
            self._count_dead_letters(len(failed) - erased[-1], done)
        return retry_at, gone

    def _count_erased(self, erased: int | None, done: Settled) -> int:
        """Count the entries a queue write deleted, their person erased; how many (None,
        from a queue written before ``drop_person`` marked claimed entries: none)."""
        erased = erased or 0
        done.erased += erased
        self.metrics.count("erased", self.connection, erased)
        return erased

    def _count_dead_letters(self, n: int, done: Settled) -> None:
        done.dead_lettered += n
        self.metrics.count("dead_lettered", self.connection, n)
