"""capinspect.protocols.ntp: the NTP/SNTP header (RFC 5905, RFC 4330) and the tracker that pairs a
client's requests with the answers."""
