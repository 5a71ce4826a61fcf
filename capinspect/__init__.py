"""capinspect: why does this Communicator / Lync Phone Edition phone not get its firmware?

Reads packet captures, reconstructs each phone's boot (DHCP, ucupdates-r2 DNS, ucdevice.upx
check-in, firmware downloads) and checks it against what a healthy Device Update deployment
answers. See docs/architecture.md for the pipeline.
"""

__version__ = "0.1.0"
