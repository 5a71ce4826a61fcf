"""TLS: handshake facts without keys, decryption with a server key or a key log."""
