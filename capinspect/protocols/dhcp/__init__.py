"""capinspect.protocols.dhcp."""
