"""Knowledge tables: facts about firmware, status codes and error codes, each with its source.

Checks read these tables; they never hard-code a version or a code. Source keys (S1…) refer to
the list in the project's protocol reference; "seed" is the troubleshooting article the
product was built from (Rui Silva, ucspotting, 2009).
"""
