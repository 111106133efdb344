"""Endpoint MAC: how an endpoint turns its application packets into frames on air.

Models:
- FSK and LoRa: unslotted ALOHA (Abramson 1970): a frame goes out when the packet is generated (or
  when the previous one is done: packets queue in order). Optional listen-before-talk: the radio
  listens for ``lbt_sense_s`` and the channel counts as busy when any transmission on it is heard at
  or above ``lbt_threshold_dbm``; a busy channel backs off U(0, backoff_max_s) and retries up to
  ``lbt_max_attempts`` times, then gives the attempt up as ``channel_busy``. Optional acknowledged
  uplinks: when a copy reached the network server, the bridge that decoded the frame with the
  strongest signal and has its backhaul up answers with an ACK frame ``ack_delay_s`` after the
  uplink ends, on the same channel; a missing ACK leads to a backoff and a retransmission, up to
  ``max_retries`` times. The channel is drawn uniformly per packet, and again for each retry.
- BLE: legacy advertising (Bluetooth Core Spec v5.3 Vol 6 Part B 4.4.2): each application packet
  is sent in ``adv_events`` advertising events, ``advInterval + advDelay`` apart (advDelay uniform
  in 0..10 ms), each event one PDU on channels 37, 38 and 39 in turn; bridges hear a PDU when their
  scanner is on that channel for the whole PDU.
- Payloads larger than the link MTU are dropped as ``over_mtu`` or split into MTU-sized fragments,
  each sent as its own frame (delivered when all fragments arrived).

Energy: the radio is in TX while sending, RX during LBT and ACK windows, IDLE between the PDUs of
one BLE event, and SLEEP otherwise. One MCU wake-up is charged per frame (BLE: per event; with
LBT, per channel assessment, the frame that follows a clear one sharing its wake-up) and per ACK
receive window.

- Link mask: an endpoint with several links picks one per packet (``Network.choose_link``): the
  first reachable link in its policy's order (BLE and LoRa: some bridge can decode it; FSK: in
  beacon sync), else the last one. The chosen link is recorded per packet.

FSK frames wait for beacon sync (``mesh.fsksync``); receive windows and downlinks are
``mesh.downlink``'s.

- BLE connections (:func:`_connect_transfer`): a packet larger than one advertisement goes
  over a connection after the endpoint's advertising; a bridge holding a BLE downlink connects
  after the advertising event it heard (:func:`_ble_downlink`).
- One radio, one thing at a time: an endpoint holds its radio for a whole packet (LBT, frames,
  retries, ACK windows); downlink windows and keep-alives that would fall inside are skipped or
  deferred (``Network.busy``).

Leaves out: LBT during the sense window itself (the channel is assessed at the end of the
window); a BLE downlink connection starts after the advertising event, not T_IFS after the PDU
the bridge heard.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from mesh.forwarding import best_decoder
from mesh.ledger import IDLE, RX, SLEEP, TX
from mesh.records import (
    BACKHAUL_DOWN,
    CHANNEL_BUSY,
    CONNECTION_LOST,
    DELIVERED,
    LINK_CODE,
    NO_SYNC,
    NODE_FAILED,
    OVER_MTU,
)
from radios.ble import ADV_DELAY_MAX_S, CONNECT_IND_PAYLOAD_BYTES, T_IFS_S, BleParams
from radios.ble import airtime_s as ble_airtime_s

if TYPE_CHECKING:
    from mesh.links import ClassPhy
    from mesh.medium import Transmission
    from mesh.simulation import Network

Process = Generator[Any, Any, None]


def fragment_sizes(payload_bytes: int, mtu_bytes: int, oversize: str) -> list[int] | None:
    """Sizes of the frames carrying one packet, or None when it must be rejected."""
    if payload_bytes <= mtu_bytes:
        return [payload_bytes]
    if oversize == "reject" or mtu_bytes <= 0:
        return None  # ("connect" is the BLE caller's; other links fragment)
    full, rest = divmod(payload_bytes, mtu_bytes)
    return [mtu_bytes] * full + ([rest] if rest else [])


def endpoint_process(
    net: Network,
    node: int,
    phys: list[ClassPhy],
    times_s: list[float],
    first_packet: int,
    channel_u: list[float],
) -> Process:
    """All packets of one endpoint, one after the other. ``phys``: the links it can send on,
    in order of preference (one, or a link mask ordered by its policy)."""
    env = net.env
    records = net.records
    plans: list[tuple[ClassPhy, list[int] | None, list[float], Any]] = []
    for phy in phys:
        cfg = phy.config
        if phy.link == "ble" and cfg.oversize == "connect" and cfg.payload_bytes > phy.mtu_bytes:
            plans.append((phy, [cfg.payload_bytes], [0.0], _connect_transfer))
            continue
        frames = fragment_sizes(cfg.payload_bytes, phy.mtu_bytes, cfg.oversize)
        airtimes = [phy.airtime_s(size) for size in frames] if frames is not None else []
        send = _advertise if phy.link == "ble" else _send_aloha
        plans.append((phy, frames, airtimes, send))
    choose = len(phys) > 1
    phy, frames, airtimes, send = plans[0]
    busy = net.busy
    for k, t_gen in enumerate(times_s):
        packet = first_packet + k
        if env.now < t_gen:
            yield env.timeout(t_gen - env.now)
        if net.failed is not None and net.failed[node]:  # a failed endpoint sends nothing more
            for later in range(packet, first_packet + len(times_s)):
                records.drop(later, NODE_FAILED)
            break
        if choose:
            phy, frames, airtimes, send = plans[net.choose_link(node, phys)]
            records.link[packet] = LINK_CODE[phy.link]
        if frames is None:
            records.drop(packet, OVER_MTU)
            continue
        while busy[node]:  # a downlink window or a keep-alive has the radio: wait for it
            yield net.radio_free(node)
        busy[node] = True
        first_channel = int(channel_u[k] * phy.channels)
        if len(frames) > 1:
            records.fragments[packet] = len(frames)
            for fragment, airtime_s in enumerate(airtimes):
                yield from send(
                    net, node, phy, packet, fragment, frames[fragment], airtime_s, first_channel
                )
            net.server.forget(packet)
        else:
            yield from send(net, node, phy, packet, 0, frames[0], airtimes[0], first_channel)
        if phy.link == "ble" and net.downlinks is not None and node in net.downlinks.ble_held:
            yield from _ble_downlink(net, node, phy)
        net.release_radio(node)
    # the fates of this endpoint's packets are settled after the run (PacketRecords.settle)
    net.finished_packets[first_packet : first_packet + len(times_s)] = True


def _send_aloha(
    net: Network,
    node: int,
    phy: ClassPhy,
    packet: int,
    fragment: int,
    size_bytes: int,
    airtime_s: float,
    first_channel: int,
) -> Process:
    env, ledger, medium, records = net.env, net.ledger, net.medium, net.records
    cfg = phy.config
    mac_rng = net.mac_rng
    routing = net.routing
    # contention_flood: the originator resends until it overhears a rebroadcast (implicit ACK)
    implicit = routing is not None and routing.implicit_ack and not cfg.acked
    implicit = implicit and not (net.medium.movers and net.medium.movers.is_mobile(node))
    attempts = 1 + (cfg.max_retries if cfg.acked else 0)
    if implicit:
        assert routing is not None
        attempts = 1 + routing.cfg.originator_retries
    channel = first_channel
    sync = net.fsk_sync if phy.link == "fsk" else None
    for attempt in range(attempts):
        if attempt > 0:
            channel = int(mac_rng.integers(phy.channels))
        if sync is not None:  # FSK is synchronous: no frame without beacon sync
            synced_s = sync.synced_from_s(node, env.now)
            if synced_s == math.inf:
                records.note_attempt(packet, NO_SYNC)
                return
            if synced_s > env.now:  # wait for resync, then a random slot of the next window
                # period (every endpoint resyncs on the same network-wide beacon: without the
                # spread they would all transmit at once)
                spread_s = mac_rng.uniform(0.0, cfg.fsk_link.rx_window_interval_s)
                yield env.timeout(synced_s - env.now + spread_s)
        if cfg.lbt:
            clear = False
            for lbt_try in range(cfg.lbt_max_attempts):
                ledger.wake(node)  # this wake-up also serves the frame sent right after
                ledger.switch(node, RX + phy.state_offset, env.now)
                yield env.timeout(cfg.lbt_sense_s)
                ledger.switch(node, SLEEP, env.now)
                if not net.channel_busy(node, phy.link, channel, cfg.lbt_threshold_dbm):
                    clear = True
                    break
                if lbt_try + 1 < cfg.lbt_max_attempts:
                    yield env.timeout(mac_rng.uniform(0.0, cfg.backoff_max_s))
            if not clear:
                records.note_attempt(packet, CHANNEL_BUSY)
                continue
        else:
            ledger.wake(node)
        ledger.switch(node, TX + phy.state_offset, env.now)
        tx = medium.start(
            node, phy.link, channel, phy.variant, phy.sensitivity_dbm, env.now, airtime_s, packet
        )
        records.transmissions[packet] += 1
        yield env.timeout(airtime_s)
        medium.end(tx)
        ledger.switch(node, SLEEP, env.now)
        fate = net.forwarder.on_uplink(tx, fragment, env.now, size_bytes)
        if fate != DELIVERED:
            records.note_attempt(packet, fate)
        records.frame_done(packet, env.now - airtime_s, env.now, net.server.complete[packet])
        if phy.listens:
            net.uplink_heard(node, phy, tx, fate == DELIVERED)
        if implicit:
            assert routing is not None
            if (yield from routing.await_ack(node, phy, packet, fragment, airtime_s)):
                return
            continue
        if not cfg.acked:
            return
        # the ACK confirms delivery to the network server, like a LoRaWAN RX1 downlink: it is
        # sent only when a copy got through, by the strongest decoder whose backhaul is up
        bridge = net.best_decoder(tx) if fate == DELIVERED else -1
        yield env.timeout(cfg.ack_delay_s)
        acked = yield from _receive_ack(net, node, phy, bridge, channel)
        if acked:
            return
        if attempt + 1 < attempts:
            yield env.timeout(mac_rng.uniform(0.0, cfg.backoff_max_s))


def _receive_ack(
    net: Network, node: int, phy: ClassPhy, bridge: int, channel: int
) -> Generator[Any, Any, bool]:
    """Open a receive window for the ACK that ``bridge`` (or -1: nobody) sends now."""
    env, ledger, medium = net.env, net.ledger, net.medium
    cfg = phy.config
    ledger.wake(node)  # the endpoint slept since its uplink
    ledger.switch(node, RX + phy.state_offset, env.now)
    if bridge < 0 or medium.transmitting(phy.link, bridge):
        yield env.timeout(cfg.ack_window_s)
        ledger.switch(node, SLEEP, env.now)
        return False
    net.ack_frames += 1
    return (yield from bridge_frame(net, node, phy, bridge, channel, cfg.ack_payload_bytes))


def bridge_frame(
    net: Network, node: int, phy: ClassPhy, bridge: int, channel: int, payload_bytes: int
) -> Generator[Any, Any, bool]:
    """``bridge`` sends ``node`` (already in RX) one frame of ``payload_bytes`` on ``channel``
    now, through the medium; the endpoint sleeps after it. Did the endpoint decode it?"""
    env, ledger, medium = net.env, net.ledger, net.medium
    medium.set_listening(phy.link, node, True)
    airtime_s = phy.airtime_s(payload_bytes)
    ledger.switch(bridge, TX, env.now)
    frame = medium.start(
        bridge, phy.link, channel, phy.variant, phy.sensitivity_dbm, env.now, airtime_s, -1
    )
    yield env.timeout(airtime_s)
    medium.end(frame)
    ledger.switch(bridge, RX, env.now)
    medium.stop_listening(phy.link, node)
    ledger.switch(node, SLEEP, env.now)
    return frame.decoded_by(node)


def _advertise(
    net: Network,
    node: int,
    phy: ClassPhy,
    packet: int,
    fragment: int,
    size_bytes: int,
    airtime_s: float,
    first_channel: int,
) -> Process:
    """One fragment as ``adv_events`` legacy advertising events on channels 37, 38, 39; every
    PDU a bridge decodes is forwarded."""
    env, records = net.env, net.records

    def forward(tx: Transmission) -> bool:
        fate = net.forwarder.on_uplink(tx, fragment, env.now, size_bytes)
        if fate != DELIVERED:
            records.note_attempt(packet, fate)
        elif phy.listens:
            net.uplink_heard(node, phy, tx, True)
        records.frame_done(packet, env.now - airtime_s, env.now, net.server.complete[packet])
        return False  # the endpoint sends every event whatever it hears

    yield from _advertising(net, node, phy, packet, airtime_s, forward)


def _advertising(
    net: Network,
    node: int,
    phy: ClassPhy,
    packet: int,
    airtime_s: float,
    on_pdu: Callable[[Transmission], bool],
) -> Generator[Any, Any, bool]:
    """Up to ``adv_events`` advertising events, each one PDU of ``airtime_s`` on channels 37,
    38 and 39 in turn, ``advInterval + advDelay`` apart (fast, then slow). ``on_pdu(tx)`` sees
    every PDU once it ended; True stops the advertising there (radio left on, for a
    connection). Returns whether it stopped early."""
    env, ledger, medium, records = net.env, net.ledger, net.medium, net.records
    ble = phy.config.ble
    off = phy.state_offset
    gap_s = ble.adv_pdu_gap_s
    event_s = 3 * airtime_s + 2 * gap_s
    start_s = env.now
    for event in range(ble.adv_events):
        ledger.wake(node)
        for channel in range(3):
            ledger.switch(node, TX + off, env.now)
            tx = medium.start(
                node, "ble", channel, 0, phy.sensitivity_dbm, env.now, airtime_s, packet
            )
            records.transmissions[packet] += 1
            yield env.timeout(airtime_s)
            medium.end(tx)
            if net.downlinks is not None and node in net.downlinks.ble_held:
                net.downlinks.ble_heard_by(node, tx, net.is_bridge)
            if on_pdu(tx):
                return True
            if channel < 2:
                ledger.switch(node, IDLE + off, env.now)
                yield env.timeout(gap_s)
        ledger.switch(node, SLEEP, env.now)
        if event + 1 < ble.adv_events:
            delay_s = net.mac_rng.uniform(0.0, ADV_DELAY_MAX_S)
            interval_s = ble.adv_interval_at_s(env.now - event_s - start_s)
            yield env.timeout(max(0.0, interval_s + delay_s - event_s))
    return False


def _connect_transfer(
    net: Network,
    node: int,
    phy: ClassPhy,
    packet: int,
    fragment: int,
    size_bytes: int,
    airtime_s: float,
    first_channel: int,
) -> Process:
    """A packet larger than one advertisement, sent over a BLE connection.

    The endpoint advertises (connectable, no application data) as in :func:`_advertise`; the
    strongest bridge that decodes one of its PDUs answers with CONNECT_IND ``T_IFS`` later. The
    first connection event follows 1.25 ms after it (transmitWindowDelay, window offset 0), then
    one every ``conn_interval_s``: the bridge (central) sends an empty PDU, the endpoint answers
    ``T_IFS`` later with the next ``data_length_bytes`` of the packet. A PDU is lost with
    ``conn_event_loss_probability`` and resent in the next event; a connection with no successful
    event for ``supervision_timeout_s`` is lost (the packet with it). When the bridge holds the
    whole packet it forwards it; one more event carries the acknowledgement and LL_TERMINATE.

    Source: Bluetooth Core Spec v5.3 Vol 6 Part B 4.5 (connection events, supervision timeout),
    2.3.3.1 (CONNECT_IND), 2.4 (data PDUs, Data Length Extension); Sidewalk: 247-byte data
    length, 20-75 ms interval, 4 s supervision timeout. Data channels are not simulated on the
    medium (37 hopping channels; their collisions are left out), nor is the bridge's scanner
    pausing during its connection events.
    """
    env, records = net.env, net.records
    ble = phy.config.ble
    found: list[int] = []

    heard: list[Transmission] = []

    def connect(tx: Transmission) -> bool:
        bridge = net.best_decoder(tx)  # the strongest decoder that can reach the server
        if bridge >= 0:
            found.append(bridge)
            heard.append(tx)
            return True
        if best_decoder(tx, net.is_bridge) >= 0:
            records.note_attempt(packet, BACKHAUL_DOWN)
        else:
            records.note_attempt(packet, net.forwarder.missed_reason(tx))
        return False

    # connectable advertising PDUs without application data
    if not (yield from _advertising(net, node, phy, packet, phy.airtime_s(0), connect)):
        return
    bridge = found[0]
    yield from _connection_setup(net, node, phy)
    sizes = [ble.data_length_bytes] * (size_bytes // ble.data_length_bytes)
    if size_bytes % ble.data_length_bytes:
        sizes.append(size_bytes % ble.data_length_bytes)
    empty_s = ble.data_pdu_airtime_s(0)
    transfer_start_s = env.now
    last_ok_s = env.now
    sent = 0
    while True:
        # the central's PDU (ack of the previous one), then data, or LL_TERMINATE once all is
        # acknowledged
        done = sent == len(sizes)
        pdu_s = empty_s if done else ble.data_pdu_airtime_s(sizes[sent])
        anchor_s = yield from _connection_event(net, node, phy, empty_s, pdu_s)
        if done:
            return
        records.transmissions[packet] += 1
        if _event_lost(net, ble):
            if env.now - last_ok_s >= ble.supervision_timeout_s:
                records.note_attempt(packet, CONNECTION_LOST)
                return
        else:
            sent += 1
            last_ok_s = env.now
            if sent == len(sizes):  # the bridge holds the whole packet: it forwards it
                fate = net.forwarder.forward_copy(
                    bridge, node, packet, fragment, env.now, size_bytes
                )
                if fate != DELIVERED:
                    records.note_attempt(packet, fate)
                elif phy.listens:  # downlinks follow the advertisement it connected on
                    net.uplink_heard(node, phy, heard[0], True)
                records.frame_done(packet, transfer_start_s, env.now, net.server.complete[packet])
        yield env.timeout(max(0.0, anchor_s + ble.conn_interval_s - env.now))


#: transmitWindowDelay between CONNECT_IND and the first connection event (Core Spec Vol 6 Part
#: B 4.5.3, legacy advertising), with transmitWindowOffset 0 (ASSUMPTION).
CONNECT_DELAY_S = 0.00125


def _connect_ind_s(ble: BleParams) -> float:
    """Airtime of the CONNECT_IND PDU (on the advertising channel)."""
    return ble_airtime_s(CONNECT_IND_PAYLOAD_BYTES, ble.phy)


def _connection_setup(net: Network, node: int, phy: ClassPhy) -> Process:
    """The endpoint receives CONNECT_IND ``T_IFS`` after the advertising PDU the bridge heard,
    and sleeps until the first connection event."""
    env, ledger = net.env, net.ledger
    ledger.switch(node, RX + phy.state_offset, env.now)
    yield env.timeout(T_IFS_S + _connect_ind_s(phy.config.ble))
    ledger.switch(node, SLEEP, env.now)
    yield env.timeout(CONNECT_DELAY_S)


def _connection_event(
    net: Network, node: int, phy: ClassPhy, rx_s: float, tx_s: float
) -> Generator[Any, Any, float]:
    """One connection event: the central's PDU (``rx_s`` on air), ``T_IFS``, the endpoint's
    PDU (``tx_s``); returns the event's anchor point."""
    env, ledger = net.env, net.ledger
    off = phy.state_offset
    anchor_s = env.now
    ledger.wake(node)
    ledger.switch(node, RX + off, env.now)
    yield env.timeout(rx_s)
    ledger.switch(node, IDLE + off, env.now)
    yield env.timeout(T_IFS_S)
    ledger.switch(node, TX + off, env.now)
    yield env.timeout(tx_s)
    ledger.switch(node, SLEEP, env.now)
    return anchor_s


def _event_lost(net: Network, ble: BleParams) -> bool:
    """Was this connection event's PDU lost (``conn_event_loss_probability``)?"""
    p_loss = ble.conn_event_loss_probability
    return bool(p_loss) and net.mac_rng.random() < p_loss


def _ble_downlink(net: Network, node: int, phy: ClassPhy) -> Process:
    """A bridge holding a downlink for ``node`` heard one of its advertising PDUs: it connects
    (CONNECT_IND) and sends the downlink in the first connection event; the endpoint
    acknowledges it in the next one and terminates. Lost events are retried until the
    supervision timeout. Timing as in :func:`_connect_transfer`."""
    dl = net.downlinks
    assert dl is not None
    held = dl.ble_held[node]
    if not held.heard:
        return  # the holding bridge heard none of this packet's PDUs: wait for the next one
    env = net.env
    ble = phy.config.ble
    yield from _connection_setup(net, node, phy)
    data_s = ble.data_pdu_airtime_s(held.payload_bytes)
    empty_s = ble.data_pdu_airtime_s(0)
    last_ok_s = env.now
    delivered = False
    while True:
        # the bridge's PDU (the downlink, then the ack); the endpoint's ack, then LL_TERMINATE
        anchor_s = yield from _connection_event(
            net, node, phy, empty_s if delivered else data_s, empty_s
        )
        if delivered:
            break
        held.tries += 1
        if _event_lost(net, ble):
            if env.now - last_ok_s >= ble.supervision_timeout_s:
                break
        else:
            delivered = True
            held.delivered_s = env.now
        yield env.timeout(max(0.0, anchor_s + ble.conn_interval_s - env.now))
    dl.ble_done(node)
