"""Knowledge tables: facts about firmware, status codes and error codes, each with its source.

Checks read these tables; they never hard-code a version or a code. Sources are cited by title
(``sources.py`` holds the titles): "the article" is Rui Silva, "Troubleshooting OCS 2007 R2
Device Update Service for Communicator Phone Edition" (2009), which the product is built from.
"""
