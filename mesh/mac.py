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

Leaves out: BLE connections, LBT during the sense window itself (the channel is assessed at the
end of the window).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from mesh.ledger import IDLE, RX, SLEEP, TX
from mesh.records import CHANNEL_BUSY, DELIVERED, LINK_CODE, NO_SYNC, OVER_MTU
from radios.ble import ADV_DELAY_MAX_S

if TYPE_CHECKING:
    from mesh.links import ClassPhy
    from mesh.simulation import Network

Process = Generator[Any, Any, None]


def fragment_sizes(payload_bytes: int, mtu_bytes: int, oversize: str) -> list[int] | None:
    """Sizes of the frames carrying one packet, or None when it must be rejected."""
    if payload_bytes <= mtu_bytes:
        return [payload_bytes]
    if oversize == "reject" or mtu_bytes <= 0:
        return None
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
    plans = []
    for phy in phys:
        cfg = phy.config
        frames = fragment_sizes(cfg.payload_bytes, phy.mtu_bytes, cfg.oversize)
        airtimes = [phy.airtime_s(size) for size in frames] if frames is not None else []
        send = _advertise if phy.link == "ble" else _send_aloha
        plans.append((phy, frames, airtimes, send))
    choose = len(phys) > 1
    phy, frames, airtimes, send = plans[0]
    for k, t_gen in enumerate(times_s):
        packet = first_packet + k
        if env.now < t_gen:
            yield env.timeout(t_gen - env.now)
        if choose:
            phy, frames, airtimes, send = plans[net.choose_link(node, phys)]
            records.link[packet] = LINK_CODE[phy.link]
        if frames is None:
            records.drop(packet, OVER_MTU)
            continue
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
    attempts = 1 + (cfg.max_retries if cfg.acked else 0)
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
            if synced_s > env.now:
                yield env.timeout(synced_s - env.now)
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
    medium.set_listening(phy.link, node, True)
    airtime_s = phy.airtime_s(cfg.ack_payload_bytes)
    ledger.switch(bridge, TX, env.now)
    ack = medium.start(
        bridge, phy.link, channel, phy.variant, phy.sensitivity_dbm, env.now, airtime_s, -1
    )
    net.ack_frames += 1
    yield env.timeout(airtime_s)
    medium.end(ack)
    ledger.switch(bridge, RX, env.now)
    medium.set_listening(phy.link, node, False)
    ledger.switch(node, SLEEP, env.now)
    return ack.decoded_by(node)


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
    """One fragment as ``adv_events`` legacy advertising events on channels 37, 38, 39."""
    env, ledger, medium, records = net.env, net.ledger, net.medium, net.records
    ble = phy.config.ble
    gap_s = ble.adv_pdu_gap_s
    event_s = 3 * airtime_s + 2 * gap_s
    for event in range(ble.adv_events):
        ledger.wake(node)
        for channel in range(3):
            ledger.switch(node, TX + phy.state_offset, env.now)
            tx = medium.start(
                node, "ble", channel, 0, phy.sensitivity_dbm, env.now, airtime_s, packet
            )
            records.transmissions[packet] += 1
            yield env.timeout(airtime_s)
            medium.end(tx)
            fate = net.forwarder.on_uplink(tx, fragment, env.now, size_bytes)
            if fate != DELIVERED:
                records.note_attempt(packet, fate)
            records.frame_done(packet, env.now - airtime_s, env.now, net.server.complete[packet])
            if channel < 2:
                ledger.switch(node, IDLE + phy.state_offset, env.now)
                yield env.timeout(gap_s)
        ledger.switch(node, SLEEP, env.now)
        if event + 1 < ble.adv_events:
            delay_s = net.mac_rng.uniform(0.0, ADV_DELAY_MAX_S)
            yield env.timeout(max(0.0, ble.adv_interval_s + delay_s - event_s))
