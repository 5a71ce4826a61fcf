def test_ignored_flows_are_published_as_raw_keys_both_ways() -> None:
    from capinspect.flows.tcp import TcpReassembler as Reassembler
    from capinspect.model import Packet as Pkt

    reassembler = Reassembler()
    smb = Pkt(1, 1.0, None, None, (), "10.0.0.1", "10.0.0.2", 6, 40000, 445, b"\x00SMB", 1, 1, 0x18)
    assert reassembler.feed(smb) == []
    forward = (
        bytes([10, 0, 0, 1, 10, 0, 0, 2]) + (40000).to_bytes(2, "big") + (445).to_bytes(2, "big")
    )
    backward = (
        bytes([10, 0, 0, 2, 10, 0, 0, 1]) + (445).to_bytes(2, "big") + (40000).to_bytes(2, "big")
    )
    assert reassembler.ignored_raw == {forward, backward}
    syn = Pkt(2, 2.0, None, None, (), "10.0.0.1", "10.0.0.2", 6, 40000, 445, b"", 100, 0, 0x02)
    reassembler.feed(syn)  # the ports are reused by a new connection: judged afresh
    assert reassembler.ignored_raw == set()
